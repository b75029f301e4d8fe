//! Plays an experiment: tables in parallel (tokio tasks, so bot-only runs
//! use every core and LLM seats wait without blocking), one hand a pure
//! function of (spec, deal, rotation) in `reset` mode, results written in
//! deal order so that the same spec gives the same files however the tables
//! interleave, and a checkpoint after every batch so a stopped run resumes
//! exactly where it was.

//!
//! # Layout
//! - `table`: how a seat decides ([`SeatAgent`]) and what one table plays
//!   with, hand by hand ([`TableRun`]).
//! - `dealer`: what a table keeps from one hand to the next ([`Dealer`]:
//!   engine tables, buffers, the [`seatings`]), and the row a hand becomes
//!   ([`HandRow`]).
//! - `checkpoint`: where a run stands ([`Checkpoint`], with its [`Curve`])
//!   and its [`Progress`].
//! - `sink`: what a run answers to: where its hands go ([`HandSink`]), what
//!   it spends ([`CostMeter`]) and why it stops ([`StopReason`],
//!   [`over_fallback_limit`]).
//! - `run_loop`: [`run`]: the tables in parallel and the writer that takes
//!   their hands in deal order, checkpoints and reports progress.

mod checkpoint;
mod dealer;
mod run_loop;
mod sink;
mod table;

pub use super::llm_stats::DecisionRecord;

pub use checkpoint::{Checkpoint, Curve, Progress};
pub use dealer::{Dealer, HandRow, Seatings, seatings};
pub use run_loop::{Plan, run};
pub use sink::{CostMeter, DEGRADED_AFTER, HandSink, NoCost, StopReason, over_fallback_limit};
pub use table::{SeatAgent, TableRun};
