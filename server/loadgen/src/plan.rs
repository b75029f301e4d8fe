//! The run's fixed facts, shared by every connection ([`Plan`]), and what
//! one connection is ([`Role`]).

use std::net::SocketAddr;

use crate::conn::Transport;

/// What one connection is.
#[derive(Clone, Debug)]
pub enum Role {
    /// A player with a token, sitting in `seat`.
    Player {
        /// Index of the table in [`Plan::tables`].
        table: usize,
        /// Its seat.
        seat: usize,
        /// Its bearer token.
        token: String,
    },
    /// A spectator.
    Spectator {
        /// Index of the table.
        table: usize,
    },
    /// The spectator that asks for a snapshot after every action.
    Probe {
        /// Index of the table.
        table: usize,
    },
}

impl Role {
    /// Index of the connection's table.
    pub fn table(&self) -> usize {
        match self {
            Role::Player { table, .. } | Role::Spectator { table } | Role::Probe { table } => *table,
        }
    }
}

/// The run's fixed facts, shared by every connection.
pub struct Plan {
    /// Where connections go (round-robin by connection index).
    pub targets: Vec<SocketAddr>,
    /// Transport.
    pub transport: Transport,
    /// Table ids.
    pub tables: Vec<String>,
    /// Big blind of every table.
    pub big_blind: u64,
    /// Think time range, ms.
    pub think_min_ms: u64,
    /// See `think_min_ms`.
    pub think_max_ms: u64,
    /// The admin key, sent with every connection's handshake: the server's
    /// per-address connection limits do not apply to it.
    pub api_key: Option<String>,
}
