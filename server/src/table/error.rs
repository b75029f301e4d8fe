//! What goes wrong at a table, in the table's own terms: [`TableError`]
//! (loading, creating and running tables, seats and actions) and
//! [`AgentError`] (an agent spec that names no agent this server can play).
//!
//! These carry what happened, never a wire code: `crate::error` decides the
//! code a client is told and the HTTP status. Their `Display` is the
//! message a client reads, except for the store's and the engine's errors
//! ([`TableError::Store`], [`TableError::ActionRefused`]), which
//! `crate::error` words itself.

use ai_players::bots::BOT_NAMES;
use game_core::RuleError;
use schema::StoreError;

/// Why a table could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// No table can have this id (empty, or too long).
    #[error("no such table")]
    NotFound,
    /// The table exists but was closed.
    #[error("table {id} is closed")]
    Closed {
        /// The table's id.
        id: String,
    },
    /// Another live node of the cluster owns the table.
    #[error("table {id} is served by {}; join it there", address.as_deref().map_or_else(|| "another node".to_owned(), |a| format!("the node at {a}")))]
    Elsewhere {
        /// The table's id.
        id: String,
        /// The owner's advertised address, if it registered one.
        address: Option<String>,
    },
    /// This node lost its cluster registration and has not joined again yet:
    /// it owns no table until it has.
    #[error("this node is rejoining its cluster; try again shortly")]
    Rejoining,
    /// The server is stopping: no table is loaded or created.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The server holds its maximum number of live tables.
    #[error("the server is at its limit of {max} live tables; try again later")]
    TooManyTables {
        /// The limit.
        max: usize,
    },
    /// The table's room holds its maximum number of spectators.
    #[error("this table has its maximum of {max} spectators")]
    SpectatorsFull {
        /// The limit.
        max: usize,
    },
    /// The settings do not fit the table's size and stakes (the text says how).
    #[error("{0}")]
    InvalidSettings(String),
    /// An AI seat's agent spec cannot be played.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The table has no such seat.
    #[error("seat {seat} does not exist (seats 0 to {last})")]
    NoSuchSeat {
        /// The seat asked for.
        seat: usize,
        /// The table's last seat.
        last: usize,
    },
    /// The player already sits at this table.
    #[error("you already sit at this table")]
    AlreadySeated,
    /// A buy-in outside the table's range.
    #[error("the buy-in must be between {min} and {max}")]
    InvalidBuyIn {
        /// The smallest buy-in.
        min: u64,
        /// The largest buy-in.
        max: u64,
    },
    /// The node that owns the table refused a command forwarded to it: its
    /// answer, as it would have told its own client.
    #[error("{message}")]
    Remote {
        /// The owner's error code.
        code: crate::protocol::ErrorCode,
        /// The owner's message.
        message: String,
    },
    /// A command forwarded to the table's owner got no answer in time: it
    /// may or may not have been done (the table's events tell).
    #[error(
        "the node that runs this table did not answer in time; the table's events show whether it was done"
    )]
    NoAnswer,
    /// Someone sits in that seat.
    #[error("seat {seat} is taken")]
    SeatTaken {
        /// The seat asked for.
        seat: usize,
    },
    /// The player does not sit at this table.
    #[error("you do not sit at this table")]
    NotSeated,
    /// The engine refused a seat change (sit, stand, sit out, sit in).
    #[error("{0}")]
    SeatRefused(RuleError),
    /// An action named a turn that is not the seat's current one.
    #[error("turn {turn} is over{}", current.map_or_else(|| "; it is not your turn".to_owned(), |c| format!("; your turn now is {c}")))]
    StaleTurn {
        /// The turn named.
        turn: u64,
        /// The seat's current turn, if it is to act.
        current: Option<u64>,
    },
    /// The engine refused a player's action.
    #[error("{0}")]
    ActionRefused(RuleError),
    /// The table stopped after taking a seat request and before answering.
    #[error("the table stopped; your buy-in is settled from its log when it loads again")]
    SeatNotSettled,
    /// A player sat down but the store could not make it durable.
    #[error("the store is unavailable; try again")]
    SeatNotStored,
    /// The store failed before an action was stored: the table reloaded
    /// from its log without it.
    #[error("the store failed before your action was saved; the table reloaded without it, act again")]
    ActionLost,
    /// The table's command queue stayed full for a whole second.
    #[error("the table is busy; try again")]
    Busy,
    /// The table's task has ended (it is being reloaded or evicted).
    #[error("the table is restarting; join again")]
    Restarting,
    /// This node lost the table's lease: another node serves it now.
    #[error("the table moved to another node; join again")]
    Moved,
    /// The table's task panicked; the next join reloads it from its log.
    #[error("the table stopped after an internal error; join again")]
    Crashed,
    /// The table's task ended before it answered.
    #[error("the table stopped; join again")]
    Stopped,
    /// The store failed or lacks a row the table needs.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored settings do not decode.
    #[error("the table's settings are unreadable")]
    SettingsUnreadable,
    /// The settings could not be encoded.
    #[error("cannot encode settings: {0}")]
    EncodeSettings(#[source] serde_json::Error),
    /// The stored config is not one the engine plays.
    #[error("the table's config is unplayable")]
    UnplayableConfig(#[source] RuleError),
    /// The stored event log misses an event.
    #[error("the table's event log is damaged")]
    LogGap {
        /// The first seq missing.
        at: u64,
    },
    /// The stored event log does not replay on the engine.
    #[error("the table's event log does not replay")]
    LogDoesNotReplay(#[source] Box<game_core::ReplayError>),
}

/// Why an agent spec gives no agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The spec does not parse.
    #[error(transparent)]
    Spec(#[from] ai_players::SpecError),
    /// The spec names a person, not an agent.
    #[error("agent spec {spec:?} must start with bot: or llm: (e.g. bot:tight-aggressive)")]
    NotAnAgent {
        /// The spec.
        spec: String,
    },
    /// No bot has this name.
    #[error("unknown bot {name:?}; known bots: {}", BOT_NAMES.join(", "))]
    UnknownBot {
        /// The name asked for.
        name: String,
    },
    /// An `llm:` spec on a server without an LLM configuration.
    #[error("this server has no LLM configuration (start it with --llm-config)")]
    NoLlmConfig,
    /// The model is not in the LLM configuration.
    #[error("model {provider}/{model} is not in the LLM configuration")]
    UnknownModel {
        /// The provider.
        provider: String,
        /// The model.
        model: String,
    },
    /// The bot LLM seats fall back to does not exist (a bug).
    #[error("fallback bot missing")]
    FallbackMissing,
}
