//! What goes wrong with an experiment, in the experiment's own terms
//! ([`ExperimentError`]): a spec that is not valid, agents that cannot be
//! built, a results folder or store that fails, a run whose bookkeeping
//! breaks.
//!
//! It carries what happened, never a wire code: `crate::error` decides the
//! code a client is told and the HTTP status. Its `Display` is the message
//! a client (or the CLI) reads, except for the store's errors
//! ([`ExperimentError::Store`]), which `crate::error` words itself.

use std::path::PathBuf;

use game_core::RuleError;
use game_core::phh::PhhError;
use schema::StoreError;

use super::stats::StatsError;
use crate::table::AgentError;

/// Why an experiment could not be created, resumed, run or saved.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The spec does not parse or is not valid (the text says why).
    #[error("{0}")]
    InvalidSpec(String),
    /// A seat's agent spec gives no agent.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// A `bot:` seat names no bot.
    #[error("unknown bot {name:?}")]
    UnknownBot {
        /// The name asked for.
        name: String,
    },
    /// A CLI run with LLM seats but no LLM configuration.
    #[error("this experiment has LLM seats: pass --llm-config FILE (see docs/llm.example.toml)")]
    NoLlmConfig,
    /// The LLM configuration is not usable.
    #[error("LLM config: {0}")]
    LlmConfig(#[source] ai_players::config::ConfigError),
    /// The LLM executor could not be built.
    #[error("LLM executor: {0}")]
    LlmExecutor(#[source] ai_players::executor::ExecutorError),
    /// The server is stopping: no run is started.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The experiment's status does not allow this (resume a finished one, ...).
    #[error("cannot {action} experiment {id} while it is {status}")]
    WrongState {
        /// What was asked (`pause`, `resume`, `cancel`).
        action: &'static str,
        /// The experiment.
        id: String,
        /// Its status.
        status: &'static str,
    },
    /// The store failed or lacks a row.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store refused a batch of results outright (not a passing outage).
    #[error("saving experiment results: {0}")]
    SaveRefused(#[source] StoreError),
    /// The store stayed unavailable for longer than a batch is retried.
    #[error("saving experiment results failed for {secs} s: {source}")]
    SaveTimedOut {
        /// How long saving was retried.
        secs: u64,
        /// The last store error.
        source: StoreError,
    },
    /// The stored spec no longer parses (the text says why).
    #[error("the stored spec is invalid: {0}")]
    StoredSpecInvalid(String),
    /// The stored checkpoint does not decode.
    #[error("the stored checkpoint is unreadable: {0}")]
    StoredCheckpointUnreadable(#[source] serde_json::Error),
    /// Encoding a spec, summary or decision failed.
    #[error("{0}")]
    Encode(#[source] serde_json::Error),
    /// Encoding a checkpoint for the store failed.
    #[error("checkpoint: {0}")]
    EncodeCheckpoint(#[source] serde_json::Error),
    /// A file of the results folder could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// The file or the step.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// A new run was asked for in a folder that holds one.
    #[error("{} already holds a run; resume it or choose another folder", .dir.display())]
    FolderHoldsRun {
        /// The folder.
        dir: PathBuf,
    },
    /// A folder to resume lacks a file of a run.
    #[error("{} is not a results folder ({name}: {source})", .dir.display())]
    NotResultsFolder {
        /// The folder.
        dir: PathBuf,
        /// The file that could not be read.
        name: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// A folder to resume has a `checkpoint.json` that does not decode.
    #[error("checkpoint.json: {0}")]
    CheckpointFile(#[source] serde_json::Error),
    /// A hand's history could not be written as PHH.
    #[error("PHH of hand {hand}: {source}")]
    Phh {
        /// The hand's index in the run.
        hand: u64,
        /// Why.
        source: PhhError,
    },
    /// The engine refused a move of a run's own making (a bug).
    #[error("the engine refused a move: {0}")]
    Engine(#[source] RuleError),
    /// A hand's events could not be counted into the statistics.
    #[error("statistics of hand {hand}: {source}")]
    Stats {
        /// The hand's index in the run.
        hand: u64,
        /// Why.
        source: StatsError,
    },
    /// The run's own bookkeeping broke (a bug; the text says where).
    #[error("{0}")]
    Inconsistent(String),
}

impl ExperimentError {
    /// An [`ExperimentError::Io`] about `what`.
    pub fn io(what: &str, source: std::io::Error) -> ExperimentError {
        ExperimentError::Io {
            what: what.to_owned(),
            source,
        }
    }
}
