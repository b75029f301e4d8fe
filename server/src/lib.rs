//! `server`: Showdown's server and its `showdown` CLI.
//!
//! # Layout
//! - [`boot`]: start-up and graceful shutdown ([`boot::Server`]); wires everything below.
//! - [`app`]: configuration and the state the edges share ([`app::App`]).
//! - [`table`]: live tables as tokio tasks (engine, clock, AI turns, persistence), the registry,
//!   and in a cluster their leases, mirrors of other nodes' tables and forwarded commands.
//! - [`cluster`]: a cluster node's supervisor (registration, self-fencing, orphaned tables).
//! - [`bus`]: the cluster's Redis message bus (what may be lost).
//! - [`protocol`]: the wire protocol: client and server messages, error codes, close codes.
//! - [`transport`]: one session layer, WebSocket and Socket.IO.
//! - [`api`]: REST endpoints, metrics and health.
//! - [`error`]: errors at the edge: domain, store and rule errors as wire codes; codes as HTTP statuses.
//! - [`limits`]: capacity limits and the per-connection rate limiter.
//! - [`metrics`]: Prometheus series.
//! - [`auth`]: ids, bearer tokens and their hashes.
//! - [`experiment`]: bulk AI-vs-AI runs: spec, runner, statistics, results folder.
//! - [`cli`]: the command line.

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod app;
pub mod auth;
pub mod boot;
pub mod bus;
pub mod cli;
pub mod cluster;
pub mod error;
pub mod experiment;
pub mod limits;
pub mod metrics;
pub mod protocol;
pub mod table;
pub mod transport;

pub use app::{App, ServerConfig, Timing};
pub use boot::Server;
pub use limits::Limits;
