//! The running server: configuration, shared state ([`App`]), start-up
//! (open the store, restore live tables, bind) and graceful shutdown.

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use ai_players::config::LlmConfig;
use ai_players::executor::Executor;
use ai_players::usage::UsageSink;
use anyhow::Context as _;
use schema::{AnyRepo, DecisionRow, EventWriter, Repository, UsageRow, WriterConfig};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::limits::{Addresses, ConnectRefusal, Limits};
use crate::metrics::Metrics;
use crate::table::agents::Agents;
use crate::table::registry::Tables;
use crate::transport::protocol::{ErrorCode, Failure};

/// Clocks that are not per table.
#[derive(Clone, Debug)]
pub struct Timing {
    /// How long a disconnected player keeps the seat before being stood up.
    pub disconnect_grace: Duration,
    /// How long a table with no players and nobody watching stays in memory.
    pub idle_ttl: Duration,
    /// The pause between hands at realtime tables.
    pub between_hands: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            disconnect_grace: Duration::from_secs(120),
            idle_ttl: Duration::from_secs(300),
            between_hands: Duration::from_secs(3),
        }
    }
}

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
    pub metrics: Metrics,
    /// Open client connections.
    pub connections: AtomicUsize,
    /// Open connections and connect rate per client address.
    pub addresses: Addresses,
    /// Experiments run by the server.
    pub experiments: crate::experiment::service::Experiments,
    shutdown: watch::Sender<bool>,
    decisions: mpsc::Sender<DecisionRow>,
    /// The LLM executor's usage sink (for [`App::usage_settled`]).
    usage: UsageSink,
    /// Usage records taken from `usage` and counted into the experiments'
    /// meters.
    usage_counted: AtomicU64,
}

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    /// Waits (up to `within`) until every LLM usage record sent so far has
    /// been counted into the experiments' meters: an experiment's last
    /// decisions return before the drain has read their records.
    pub async fn usage_settled(&self, within: Duration) -> bool {
        let target = self.usage.sent();
        let deadline = tokio::time::Instant::now() + within;
        while self.usage_counted.load(Ordering::Acquire) < target {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Resolves to a change when shutdown begins.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Queues a captured AI decision for the store (dropped with a warning if the queue is full).
    pub fn record_decision(&self, row: DecisionRow) {
        if self.decisions.try_send(row).is_err() {
            warn!("decision queue full: a decision record was dropped");
        }
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

/// A started server.
pub struct Server {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    app: App,
    serve: JoinHandle<std::io::Result<()>>,
    /// Stops the HTTP listener; sent after sessions were told to close, so
    /// long-polling Socket.IO clients can still fetch their disconnect.
    http_stop: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
}

impl Server {
    /// Opens the store, restores the tables that were live, binds and serves.
    pub async fn start(config: ServerConfig) -> anyhow::Result<Server> {
        let repo = AnyRepo::open(&config.database_url)
            .await
            .with_context(|| format!("opening the database {}", redact(&config.database_url)))?;
        let (writer, _writer_task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
        let (sink, usage_rx) = UsageSink::bounded(10_000);
        let executor = match &config.llm_config {
            Some(path) => {
                let path_text = path.to_string_lossy();
                let llm = LlmConfig::from_file(&path_text)
                    .with_context(|| format!("reading the LLM config {path_text}"))?;
                Some(Executor::new(&llm, sink.clone()).context("starting the LLM executor")?)
            }
            None => None,
        };
        // The daily budget counts what was spent today before a restart.
        if let Some(executor) = &executor
            && executor.daily_budget_usd().is_some()
        {
            let today = schema::now_ms() / 86_400_000 * 86_400_000;
            match repo.usage_by_model(Some(today)).await {
                Ok(models) => executor.add_spent_today(models.iter().map(|m| m.cost_usd).sum()),
                Err(e) => warn!("cannot read today's LLM spending (the daily budget starts from 0): {e}"),
            }
        }
        let (decisions, decisions_rx) = mpsc::channel(10_000);
        let (shutdown, _) = watch::channel(false);
        let app = App(Arc::new(AppInner {
            config: config.clone(),
            repo: repo.clone(),
            writer,
            tables: Tables::default(),
            agents: Agents::new(executor),
            metrics: Metrics::default(),
            connections: AtomicUsize::new(0),
            addresses: Addresses::default(),
            experiments: Default::default(),
            shutdown,
            decisions,
            usage: sink,
            usage_counted: AtomicU64::new(0),
        }));
        let background = vec![
            tokio::spawn(drain_usage(app.clone(), usage_rx)),
            tokio::spawn(drain_decisions(app.clone(), decisions_rx)),
        ];
        // Every stored hand_ended must have its history (a store written by
        // an older version could lack some after a crash): rebuild them.
        if let Err(e) = crate::table::history::repair(&repo).await {
            warn!("hand history check failed (the server runs; it is tried again at the next start): {e}");
        }
        let restored = app
            .tables
            .restore_all(&app)
            .await
            .context("restoring live tables")?;
        if restored > 0 {
            info!(restored, "restored live tables from the event log");
        }
        let resumed = app
            .experiments
            .restore_all(&app)
            .await
            .context("resuming experiments")?;
        if resumed > 0 {
            info!(resumed, "resumed running experiments");
        }
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let addr = listener.local_addr()?;
        let router = crate::api::router(app.clone());
        let (http_stop, mut stop) = watch::channel(false);
        let serve = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
        });
        info!(%addr, backend = repo.backend(), "listening");
        Ok(Server {
            addr,
            app,
            serve,
            http_stop,
            background,
        })
    }

    /// The shared state (for in-process tests and tools).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Stops accepting, closes sessions with a reason, lets every table
    /// persist, and flushes the event writer.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        info!("shutting down");
        self.app.shutdown.send_replace(true);
        self.app.experiments.shutdown().await;
        self.app.tables.shutdown().await;
        self.app
            .writer
            .flush()
            .await
            .context("flushing the event writer")?;
        // New sessions and table loads are already refused; give polling
        // clients a moment to collect the close before the listener stops.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.http_stop.send_replace(true);
        if tokio::time::timeout(Duration::from_secs(5), self.serve)
            .await
            .is_err()
        {
            warn!("connections did not close within 5 s");
        }
        for task in self.background {
            task.abort();
        }
        info!("stopped");
        Ok(())
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Stores LLM usage records in batches and counts them in the metrics.
async fn drain_usage(app: App, mut rx: mpsc::Receiver<ai_players::usage::UsageRecord>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 500).await > 0 {
        let rows: Vec<UsageRow> = batch
            .drain(..)
            .map(|mut r| {
                app.experiments.record_usage(&r);
                app.usage_counted.fetch_add(1, Ordering::Release);
                // A captured exchange (agent spec `capture=true`, or an
                // experiment with `capture`) is kept with the decisions.
                if let Some(capture) = r.capture.take() {
                    app.record_decision(DecisionRow {
                        id: 0,
                        at_ms: r.at_ms,
                        table_id: r.context.table_id.clone(),
                        hand: r.context.hand,
                        seat: r.context.seat.unwrap_or(0),
                        experiment_id: r.context.experiment_id.clone(),
                        source: "llm_call".to_owned(),
                        prompt: Some(capture.prompt),
                        raw_reply: capture.reply,
                        parsed_action: None,
                        fallback_reason: (r.outcome.name() != "ok").then(|| r.outcome.name().to_owned()),
                        reason: None,
                        model: Some(format!("{}/{}", r.provider, r.model)),
                        steps: None,
                    });
                }
                app.metrics.llm_call(&crate::metrics::LlmCall {
                    provider: &r.provider,
                    model: &r.model,
                    lane: r.lane.index(),
                    outcome: r.outcome.name(),
                    queue_wait: Duration::from_millis(r.queue_wait_ms),
                    latency: Duration::from_millis(r.latency_ms),
                    prompt_tokens: r.tokens.prompt,
                    completion_tokens: r.tokens.completion,
                    cost_usd: r.cost_usd,
                });
                UsageRow {
                    at_ms: r.at_ms,
                    provider: r.provider,
                    model: r.model,
                    lane: r.lane.name().to_owned(),
                    prompt_tokens: r.tokens.prompt,
                    completion_tokens: r.tokens.completion,
                    cost_usd: r.cost_usd,
                    latency_ms: r.latency_ms,
                    queue_wait_ms: r.queue_wait_ms,
                    retries: r.retries,
                    rate_limited: r.rate_limited,
                    outcome: r.outcome.name().to_owned(),
                    http_status: r.status,
                    table_id: r.context.table_id,
                    hand: r.context.hand,
                    experiment_id: r.context.experiment_id,
                }
            })
            .collect();
        let stopping = || app.is_shutting_down();
        store_batch("LLM usage", rows.len(), stopping, || app.repo.record_usage(&rows)).await;
    }
}

/// Stores captured AI decisions in batches.
async fn drain_decisions(app: App, mut rx: mpsc::Receiver<DecisionRow>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 500).await > 0 {
        let stopping = || app.is_shutting_down();
        store_batch("AI decisions", batch.len(), stopping, || {
            app.repo.record_decisions(&batch)
        })
        .await;
        batch.clear();
    }
}

/// How long a usage or decision batch is retried through a store outage.
const STORE_RETRY: Duration = Duration::from_secs(30);

/// Stores one batch with `store`, retrying through a short store outage
/// (waits of 100 ms doubling to 5 s, for up to [`STORE_RETRY`]; no retries
/// once `stopping` says shutdown has begun), so that cost accounting stays
/// exact through a blip. Returns whether it was stored; a batch that could
/// not be is logged and dropped. New records wait in the channel meanwhile.
async fn store_batch<F, Fut>(what: &str, rows: usize, stopping: impl Fn() -> bool, mut store: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = schema::StoreResult<()>>,
{
    let deadline = tokio::time::Instant::now() + STORE_RETRY;
    let mut wait = Duration::from_millis(100);
    loop {
        match store().await {
            Ok(()) => return true,
            Err(e) if !stopping() && tokio::time::Instant::now() + wait < deadline => {
                warn!(
                    rows,
                    "cannot store {what} yet: {e}; retrying in {} ms",
                    wait.as_millis()
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                warn!(rows, "cannot store {what}: {e}; the batch is dropped");
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use schema::StoreError;

    use super::*;

    fn outage() -> StoreError {
        StoreError::WriterClosed
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_is_retried_through_a_short_outage() {
        let attempts = Cell::new(0);
        let stored = store_batch(
            "rows",
            3,
            || false,
            || {
                attempts.set(attempts.get() + 1);
                let result = if attempts.get() < 5 { Err(outage()) } else { Ok(()) };
                async move { result }
            },
        )
        .await;
        assert!(stored);
        assert_eq!(attempts.get(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_is_dropped_after_the_retry_window_or_at_shutdown() {
        let started = tokio::time::Instant::now();
        let attempts = Cell::new(0);
        let stored = store_batch(
            "rows",
            3,
            || false,
            || {
                attempts.set(attempts.get() + 1);
                async { Err(outage()) }
            },
        )
        .await;
        assert!(!stored);
        assert!(started.elapsed() <= STORE_RETRY, "{:?}", started.elapsed());
        assert!(attempts.get() > 5, "{} attempts", attempts.get());
        // Once shutdown has begun, one attempt only.
        attempts.set(0);
        let stored = store_batch(
            "rows",
            3,
            || true,
            || {
                attempts.set(attempts.get() + 1);
                async { Err(outage()) }
            },
        )
        .await;
        assert!(!stored);
        assert_eq!(attempts.get(), 1);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
