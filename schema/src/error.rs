//! `StoreError`: what failed in the store, typed so callers can explain it.

use std::sync::Arc;

/// The kinds of rows an operation can find missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// A registered player.
    Player,
    /// A table.
    Table,
    /// A finished hand of a table.
    Hand,
    /// An experiment.
    Experiment,
}

impl std::fmt::Display for RowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RowKind::Player => "player",
            RowKind::Table => "table",
            RowKind::Hand => "hand",
            RowKind::Experiment => "experiment",
        })
    }
}

/// Every way a store operation can fail. Cheap to clone (sources are shared),
/// so one failed group commit can be reported to every caller in the batch.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The database answered with an error or could not be reached.
    #[error("database error during {op}: {source}")]
    Database {
        /// The operation that failed (`append_events`, `load_table`, ...).
        op: &'static str,
        /// What the driver reported.
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// Applying the migrations at start-up failed.
    #[error("migrating the {backend} database failed: {source}")]
    Migration {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What the migrator reported.
        #[source]
        source: Arc<sqlx::migrate::MigrateError>,
    },
    /// Opening the database failed (bad path or URL, unreachable server).
    #[error("cannot open the {backend} database: {source}")]
    Connect {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What the driver reported.
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// A row the operation needs does not exist.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// What kind of row.
        kind: RowKind,
        /// Its id.
        id: String,
    },
    /// A row with this key already exists (an id, a token hash, an event seq).
    #[error("{what} {id:?} already exists")]
    Duplicate {
        /// The kind of thing.
        what: &'static str,
        /// Its key.
        id: String,
    },
    /// A row refers to something that does not exist (e.g. events for an unknown table).
    #[error("{what} refers to a missing row: {detail}")]
    MissingReference {
        /// The kind of row being written.
        what: &'static str,
        /// What the database said.
        detail: String,
    },
    /// A player's balance does not cover a buy-in.
    #[error("player {player:?} has {balance} chips, {needed} needed")]
    InsufficientBalance {
        /// The player.
        player: String,
        /// Their balance when the buy-in was refused.
        balance: u64,
        /// The chips the buy-in asked for.
        needed: u64,
    },
    /// A database URL names a backend this build does not know.
    #[error(
        "unsupported database URL scheme {scheme:?} (expected postgres://, postgresql://, sqlite: or a path)"
    )]
    UnsupportedUrl {
        /// The part before `://` (the rest of the URL may hold a password, so it is not kept).
        scheme: String,
    },
    /// An append would leave a hole in a table's log.
    #[error("table {table_id:?}: expected event seq {expected}, got {got}")]
    SequenceGap {
        /// The table.
        table_id: String,
        /// The next seq the log accepts.
        expected: u64,
        /// The seq that was sent.
        got: u64,
    },
    /// The write was fenced: the table's lease is no longer at `epoch` (another
    /// node claimed the table, or this node released it). Nothing was
    /// written; the writer must stop acting for the table and never ack.
    #[error("table {table_id:?} is no longer held at epoch {epoch}: another node owns it")]
    Fenced {
        /// The table.
        table_id: String,
        /// The epoch the writer held.
        epoch: u64,
    },
    /// A value could not be encoded for storage.
    #[error("cannot encode {what}: {detail}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// A stored value is not what this version of the code can read.
    #[error("corrupt {what} in the store: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it is unreadable.
        detail: String,
    },
    /// The event writer task is gone (shut down or panicked); nothing more is written.
    #[error("the event writer has stopped")]
    WriterClosed,
}

impl StoreError {
    /// Maps a driver error for `op`, recognising unique and foreign-key violations.
    pub(crate) fn db(op: &'static str, what: &'static str, id: &str, err: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &err {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    return StoreError::Duplicate {
                        what,
                        id: id.to_owned(),
                    };
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StoreError::MissingReference {
                        what,
                        detail: db.message().to_owned(),
                    };
                }
                _ => {}
            }
        }
        StoreError::Database {
            op,
            source: Arc::new(err),
        }
    }

    /// Maps a driver error for `op`, when no constraint can be the cause.
    pub(crate) fn op(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |err| StoreError::Database {
            op,
            source: Arc::new(err),
        }
    }
}
