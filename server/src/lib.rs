//! `server`: Showdown's server and its `showdown` CLI.
//!
//! # Layout
//! - [`app`]: configuration, shared state ([`app::App`]), start-up and graceful shutdown.
//! - [`table`]: live tables as tokio tasks (engine, clock, AI turns, persistence), the registry.
//! - [`transport`]: the wire protocol, one session layer, WebSocket and Socket.IO.
//! - [`api`]: REST endpoints, metrics and health, errors as JSON.
//! - [`limits`]: capacity limits and the per-connection rate limiter.
//! - [`metrics`]: Prometheus series.
//! - [`auth`]: ids, bearer tokens and their hashes.
//! - [`experiment`]: bulk AI-vs-AI runs: spec, runner, statistics, results folder.
//! - [`cli`]: the command line.
//! - [`loadgen`]: the load generator behind the `loadgen` binary.

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod experiment;
pub mod limits;
pub mod loadgen;
pub mod metrics;
pub mod table;
pub mod transport;

pub use app::{App, Server, ServerConfig, Timing};
pub use limits::Limits;
