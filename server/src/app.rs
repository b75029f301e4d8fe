//! The server's configuration and the shared state the edges (REST and
//! the transports) work with: [`App`]. Start-up and shutdown are in
//! [`crate::boot`].

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use schema::{AnyRepo, EventWriter};
use tokio::sync::watch;

use crate::experiment::service::Experiments;
use crate::limits::{Addresses, ConnectRefusal, Limits};
use crate::metrics::Metrics;
use crate::protocol::{ErrorCode, Failure};
use crate::table::agents::Agents;
use crate::table::registry::Tables;

pub use crate::table::Timing;

/// Everything `showdown serve` can be told.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// `sqlite://PATH`, a file path, or `postgres://...`.
    pub database_url: String,
    /// The LLM executor's TOML config, if LLM seats are wanted.
    pub llm_config: Option<PathBuf>,
    /// Key for admin endpoints (`Authorization: Bearer KEY` or `x-api-key`); none disables them.
    pub api_key: Option<String>,
    /// Capacity limits.
    pub limits: Limits,
    /// Grace periods and pauses.
    pub timing: Timing,
    /// Chips a newly registered player gets.
    pub starting_balance: u64,
    /// Cluster (Postgres): this node's name (default: the host name).
    pub node_id: Option<String>,
    /// Cluster: the URL peers and clients reach this node at (default: the bound address).
    pub advertise: Option<String>,
    /// Cluster: how long a registration lives without renewal.
    pub node_ttl: std::time::Duration,
    /// Cluster: Redis, for mirrors of other nodes' tables and forwarded commands.
    pub redis_url: Option<String>,
    /// Cluster: the prefix of every Redis channel (one per cluster).
    pub redis_prefix: String,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://showdown.db".to_owned(),
            llm_config: None,
            api_key: None,
            limits: Limits::default(),
            timing: Timing::default(),
            starting_balance: 10_000,
            node_id: None,
            advertise: None,
            node_ttl: std::time::Duration::from_secs(5),
            redis_url: None,
            redis_prefix: "showdown:".to_owned(),
        }
    }
}

/// Shared server state; cheap to clone.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

/// What [`App`] holds.
pub struct AppInner {
    /// The configuration it was started with.
    pub config: ServerConfig,
    /// The store.
    pub repo: AnyRepo,
    /// The group-committing event writer all tables share.
    pub writer: EventWriter,
    /// Live tables.
    pub tables: Tables,
    /// Agent factory (bots, and LLM seats when configured).
    pub agents: Agents,
    /// Prometheus series.
    pub metrics: Arc<Metrics>,
    /// Open client connections.
    pub connections: AtomicUsize,
    /// Open connections and connect rate per client address.
    pub addresses: Addresses,
    /// Experiments run by the server.
    pub experiments: Experiments,
    /// Turns true when shutdown begins.
    pub shutdown: watch::Sender<bool>,
}

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    /// The shared state, built by [`crate::boot::Server::start`].
    pub fn new(inner: AppInner) -> App {
        App(Arc::new(inner))
    }

    /// Resolves to a change when shutdown begins.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Whether request headers carry the admin API key.
    pub fn is_admin(&self, headers: &axum::http::HeaderMap) -> bool {
        crate::auth::is_admin(self.config.api_key.as_deref(), headers)
    }

    /// Takes a connection slot for a client at `peer` (its address, when
    /// known), or refuses with the documented error: `rate_limited` when the
    /// address connects too fast, `too_many_connections` when the address or
    /// the server holds its maximum. `exempt` (the admin key) skips the
    /// per-address limits, not the server's.
    pub fn connect(&self, peer: Option<std::net::IpAddr>, exempt: bool) -> Result<ConnectionSlot, Failure> {
        let limits = &self.config.limits;
        let ip = peer.filter(|_| !exempt);
        if let Some(ip) = ip
            && let Err(refusal) = self.addresses.admit(ip, limits)
        {
            self.metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            return Err(match refusal {
                ConnectRefusal::TooFast => Failure::new(
                    ErrorCode::RateLimited,
                    format!(
                        "this address opens connections faster than {} a second; slow down",
                        limits.connects_per_ip_per_sec
                    ),
                ),
                ConnectRefusal::AddressFull | ConnectRefusal::ServerFull => Failure::new(
                    ErrorCode::TooManyConnections,
                    format!(
                        "this address holds its maximum of {} connections; close one first",
                        limits.max_connections_per_ip
                    ),
                ),
            });
        }
        let max = limits.max_connections;
        let taken = self
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(ConnectionSlot {
                app: self.clone(),
                ip,
            }),
            Err(_) => {
                if let Some(ip) = ip {
                    self.addresses.release(ip);
                }
                self.metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
                Err(Failure::new(
                    ErrorCode::TooManyConnections,
                    format!("the server holds its maximum of {max} connections; try again later"),
                ))
            }
        }
    }
}

/// A held connection slot; released on drop.
pub struct ConnectionSlot {
    app: App,
    /// The address it counts against, unless exempt.
    ip: Option<std::net::IpAddr>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.app.connections.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
            self.app.addresses.release(ip);
        }
    }
}
