//! `ai-players`: everything that plays poker without a person.
//!
//! # Layout
//! - [`agent`]: the `Agent` trait, `Turn` (what a seat sees), `Decision`.
//! - [`bots`]: heuristic bots by name (`random`, `calling-station`,
//!   `tight-aggressive`) and `BotAgent`, which makes any bot an `Agent`.
//! - [`llm`]: the LLM player (prompt, structured reply, repair, fallback).
//! - [`executor`]: the one bounded, rate-limited, prioritised path every LLM
//!   call takes (budgets, retries, circuit breaker, lanes, deadlines).
//! - [`config`]: the executor's TOML config (providers, models, prices).
//! - [`spec`]: `AgentSpec`, who plays a seat (`human`, `bot:NAME`,
//!   `llm:PROVIDER/MODEL?…`), parsed in this one place.
//! - [`usage`]: the record every call leaves (tokens, cost, latency, outcome)
//!   and the bounded sink they go to.
//! - `mock` (feature `mock`): a simulated OpenAI-compatible provider (the
//!   `mock-llm` binary).

#![warn(missing_docs)]

pub mod agent;
pub mod bots;
pub mod config;
pub mod executor;
pub mod llm;
#[cfg(feature = "mock")]
pub mod mock;
pub mod spec;
pub mod usage;

pub use agent::{
    Agent, BoxFuture, CallContext, Decision, DecisionSource, FailedStep, FallbackReason, Lane, TokenUsage,
    Turn,
};
pub use spec::{AgentSpec, LlmSpec, SeatKind, SpecError};
