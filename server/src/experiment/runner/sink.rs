//! What a run answers to: where its finished hands go ([`HandSink`]), what
//! it has spent ([`CostMeter`]), and why it stopped ([`StopReason`], with
//! the fallback limit that stops a degraded run).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::dealer::HandRow;
use crate::experiment::ExperimentError;
use crate::experiment::llm_stats::LlmAgentStats;

/// Receives finished hands in deal order: the results folder of a CLI run,
/// or the store for a server run.
pub trait HandSink: Send {
    /// One hand, in order.
    /// `agents` is the row's seating: the agent name per seat.
    fn hand(&mut self, index: u64, row: &HandRow, agents: &Arc<[String]>) -> Result<(), ExperimentError>;
    /// A batch is complete; make it durable with this checkpoint.
    fn checkpoint(
        &mut self,
        checkpoint: &Checkpoint,
    ) -> impl Future<Output = Result<(), ExperimentError>> + Send;
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Every hand was played.
    Done,
    /// Stopped on request (Ctrl-C, pause, cancel); resumable.
    Stopped,
    /// A budget was reached.
    Budget,
    /// LLM seats fell back to their bots more often than the spec allows.
    Degraded,
}

/// LLM decisions a seat makes before its fallback share can stop a run
/// (at the end of a run, any number counts).
pub const DEGRADED_AFTER: u64 = 20;

/// The LLM agents whose fallback bot made more than `max_rate` of their
/// decisions, once they made at least `min_decisions`.
pub fn over_fallback_limit(
    llm: &BTreeMap<String, LlmAgentStats>,
    max_rate: f64,
    min_decisions: u64,
) -> Vec<(&String, &LlmAgentStats)> {
    llm.iter()
        .filter(|(_, s)| s.decisions >= min_decisions.max(1) && s.fallback_share() > max_rate)
        .collect()
}

/// Costs so far, read between hands for budgets and progress.
pub trait CostMeter: Send + Sync {
    /// (USD, tokens) spent so far by this run.
    fn spent(&self) -> (f64, u64);
}

/// A meter for runs without LLM seats.
pub struct NoCost;

impl CostMeter for NoCost {
    fn spent(&self) -> (f64, u64) {
        (0.0, 0)
    }
}
