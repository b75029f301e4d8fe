//! A simulated OpenAI-compatible provider: every test of the LLM path runs
//! over real HTTP against it, and people can try LLM players without a key.
//!
//! It answers `POST /v1/chat/completions` with legal poker decisions read
//! from the request's JSON schema, lists its models at `GET /v1/models` and
//! says it is alive at `GET /health` (`GET /mock/stats` shows its counters).
//! Like a real provider it can be slow (log-normal latency), enforce RPM/TPM
//! budgets per model with OpenAI's `x-ratelimit-*` headers, behave like
//! Ollama (no headers, 503 when its queue is full), and misbehave on demand.
//!
//! # Layout
//! - [`config`]: `MockConfig` and its parts (limits, latency, faults, policy).
//! - `budget`: the token buckets behind the RPM/TPM budgets and their headers.
//! - `answer`: reading the turn's schema and choosing legal (or illegal) answers.
//! - `reply`: the bodies of 200 replies, faulty ones included.
//! - `wire`: request parsing and the one place errors become HTTP responses.
//! - `latency`: the log-normal delay.
//! - [`stats`]: counters, readable with `MockServer::stats`.
//! - `server`: the axum router, the request pipeline and `MockServer`.
//!
//! # Rate-limit headers
//! `x-ratelimit-limit-*` is the budget per window (a minute unless
//! `Limits::window_ms` says otherwise), `x-ratelimit-remaining-*` what is left
//! after this request (rounded down), and `x-ratelimit-reset-*` the time
//! until the bucket is full again ("resets to its initial state", as OpenAI
//! documents it), written like OpenAI (`0s`, `12ms`, `1s`, `1m30.5s`,
//! `6m0s`, see [`openai_duration`]). A 429 also carries `Retry-After`: whole
//! seconds (rounded up, at least 1) until this request would fit.

mod answer;
mod budget;
pub mod config;
mod latency;
mod reply;
mod server;
pub mod stats;
mod wire;

pub use budget::openai_duration;
pub use config::{ApiKey, Fault, FaultRates, FormatSupport, Latency, Limits, MockConfig, Mode, Policy};
pub use server::{MockError, MockLlm, MockServer};
pub use stats::MockStats;
pub use wire::estimate_tokens;
