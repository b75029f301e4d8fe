//! The `Agent` trait: what every player that is not a person implements, and
//! the `Decision` it returns.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use game_core::view::TableView;
use game_core::{Action, LegalActions, SeatIndex};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// How urgent a decision is. The LLM executor serves `Live` before
/// `Watched` before `Bulk`, and keeps capacity in reserve for `Live`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// A table with people at it.
    Live,
    /// An AI-only table that spectators are watching.
    Watched,
    /// Experiments and unwatched AI tables.
    Bulk,
}

impl Lane {
    /// Every lane, most urgent first.
    pub const ALL: [Lane; 3] = [Lane::Live, Lane::Watched, Lane::Bulk];

    /// Position in [`Lane::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The lane's name as written in configs, metrics and records.
    pub fn name(self) -> &'static str {
        match self {
            Lane::Live => "live",
            Lane::Watched => "watched",
            Lane::Bulk => "bulk",
        }
    }
}

/// Where a call's costs are booked: usage and decision records carry it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallContext {
    /// The table the decision is for.
    pub table_id: Option<String>,
    /// The hand number at that table.
    pub hand: Option<u64>,
    /// The experiment running the table, if any.
    pub experiment_id: Option<String>,
    /// The seat deciding.
    pub seat: Option<u64>,
}

/// One seat's turn: everything an agent may see, and until when it may think.
#[derive(Clone, Debug)]
pub struct Turn {
    /// The seat to act.
    pub seat: SeatIndex,
    /// The table as that seat sees it (its own hole cards, never others'),
    /// including `view.legal`, the actions it may take.
    pub view: TableView,
    /// When the turn clock runs out; an answer after this is useless.
    pub deadline: Instant,
    /// How urgent the decision is.
    pub lane: Lane,
    /// For accounting.
    pub context: CallContext,
}

impl Turn {
    /// The legal actions of the seat to act.
    pub fn legal(&self) -> &LegalActions {
        &self.view.legal
    }
}

/// Why a fallback bot acted instead of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// No valid answer before the turn's deadline.
    Deadline,
    /// The provider's circuit breaker is open.
    CircuitOpen,
    /// The executor is at capacity for this lane and could not queue the call.
    Overloaded,
    /// The provider kept failing (5xx, connection errors) until retries ran out.
    ProviderError,
    /// The provider refused the request (4xx other than 429: bad key, bad model).
    Rejected,
    /// The reply could not be parsed, even after the repair attempt.
    Unparsable,
    /// The reply named an illegal action, even after the repair attempt.
    Illegal,
    /// The reply was cut off (`finish_reason = length`).
    Truncated,
    /// The model refused to answer.
    Refusal,
    /// The table went away and the call was cancelled.
    Cancelled,
    /// Even a shortened prompt does not fit the model's context window.
    PromptTooLong,
    /// The executor's daily spending budget is used up.
    Budget,
}

impl FallbackReason {
    /// The reason's name in records and metrics.
    pub fn name(self) -> &'static str {
        match self {
            FallbackReason::Deadline => "deadline",
            FallbackReason::CircuitOpen => "circuit_open",
            FallbackReason::Overloaded => "overloaded",
            FallbackReason::ProviderError => "provider_error",
            FallbackReason::Rejected => "rejected",
            FallbackReason::Unparsable => "unparsable",
            FallbackReason::Illegal => "illegal",
            FallbackReason::Truncated => "truncated",
            FallbackReason::Refusal => "refusal",
            FallbackReason::Cancelled => "cancelled",
            FallbackReason::PromptTooLong => "prompt_too_long",
            FallbackReason::Budget => "budget",
        }
    }
}

/// Who made a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecisionSource {
    /// The language model answered (possibly after one repair).
    Model {
        /// Provider name from the config.
        provider: String,
        /// Model name.
        model: String,
        /// Whether the answer came from the repair attempt.
        repaired: bool,
    },
    /// A heuristic bot, by name.
    Bot {
        /// The bot's name (`random`, `calling-station`, `tight-aggressive`).
        name: String,
    },
    /// The model did not answer usably and a bot acted instead.
    Fallback {
        /// The bot that acted.
        bot: String,
        /// Why.
        reason: FallbackReason,
    },
}

/// A model that was asked and could not answer usably, before another
/// model (or the fallback bot) decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedStep {
    /// `provider/model`.
    pub model: String,
    /// Why it did not decide.
    pub reason: FallbackReason,
}

/// Tokens a model call used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Prompt (input) tokens.
    pub prompt: u64,
    /// Completion (output) tokens.
    pub completion: u64,
}

impl std::ops::AddAssign for TokenUsage {
    fn add_assign(&mut self, other: TokenUsage) {
        self.prompt += other.prompt;
        self.completion += other.completion;
    }
}

/// An agent's answer for one turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What the seat does; always legal for the turn it answers.
    pub action: Action,
    /// Who decided.
    pub source: DecisionSource,
    /// Time from the request to the answer.
    pub latency: Duration,
    /// Tokens spent (model calls only; summed over a repair).
    pub tokens: Option<TokenUsage>,
    /// The model's short reason, if it gave one.
    pub reason: Option<String>,
    /// Optional short table talk for the chat.
    pub table_talk: Option<String>,
    /// Models of the agent's fallback chain that were asked before the
    /// decision was made and failed, in order (empty when the first model
    /// answered, and for bots).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<FailedStep>,
}

impl Decision {
    /// Who decided, as records name it: `model`, `bot` or `fallback`.
    pub fn source_name(&self) -> &'static str {
        match self.source {
            DecisionSource::Model { .. } => "model",
            DecisionSource::Bot { .. } => "bot",
            DecisionSource::Fallback { .. } => "fallback",
        }
    }

    /// Why a bot acted instead of the model, if one did.
    pub fn fallback_reason(&self) -> Option<FallbackReason> {
        match self.source {
            DecisionSource::Fallback { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The model that decided (`provider/model`), when one did.
    pub fn model(&self) -> Option<String> {
        match &self.source {
            DecisionSource::Model { provider, model, .. } => Some(format!("{provider}/{model}")),
            _ => None,
        }
    }
}

/// A boxed future, so agents can be stored as `dyn Agent`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A player that is not a person. `decide` always answers with a legal
/// action (agents fall back to a bot rather than fail) and is cancel-safe:
/// dropping the future abandons the decision and leaks nothing.
pub trait Agent: Send + Sync {
    /// The agent's spec-like name, for logs and records.
    fn name(&self) -> &str;

    /// Decides the turn.
    fn decide<'a>(&'a self, turn: &'a Turn) -> BoxFuture<'a, Decision>;
}
