//! Start-up and shutdown: open the store, build the tables and experiments
//! from their own dependencies, restore what was live, bind and serve; on
//! shutdown close sessions, let every table persist and flush the writer.
//! The top of the import graph: it wires everything below it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use ai_players::config::LlmConfig;
use ai_players::executor::Executor;
use ai_players::usage::UsageSink;
use anyhow::Context as _;
use schema::{AnyRepo, CommitHook, DecisionRow, EventWriter, Repository, UsageRow, WriterConfig};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::app::{App, AppInner, ServerConfig};
use crate::experiment::service::{ExperimentDeps, Experiments};
use crate::limits::Addresses;
use crate::metrics::Metrics;
use crate::table::agents::Agents;
use crate::table::ownership::{ClusterConfig, Ownership};
use crate::table::registry::Tables;
use crate::table::remote::Remote;
use crate::table::{TableDeps, TableLimits};

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
    /// This node's cluster membership (Postgres); it leaves the cluster at shutdown.
    ownership: Option<Arc<Ownership>>,
}

impl Server {
    /// Opens the store, restores the tables that were live, binds and serves.
    pub async fn start(config: ServerConfig) -> anyhow::Result<Server> {
        let repo = AnyRepo::open(&config.database_url)
            .await
            .with_context(|| format!("opening the database {}", redact(&config.database_url)))?;
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
        // Bound first: a cluster node advertises the address it really has.
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let addr = listener.local_addr()?;
        let ownership = match &repo {
            AnyRepo::Postgres(_) => {
                let name = config.node_id.clone().unwrap_or_else(host_name);
                let advertise = config
                    .advertise
                    .clone()
                    .unwrap_or_else(|| format!("http://{addr}"));
                let mut cluster = ClusterConfig::new(&name, &advertise);
                cluster.ttl = config.node_ttl;
                cluster.renew_every = config.node_ttl / 5;
                cluster.claim_every = (config.node_ttl / 10).max(Duration::from_millis(100));
                let ownership = Ownership::join(repo.clone(), cluster)
                    .await
                    .context("joining the cluster (registering this node in Postgres)")?;
                info!(node = %name, instance = %ownership.instance(), %advertise, "joined the cluster");
                Some(Arc::new(ownership))
            }
            // One process owns its store: no leases needed.
            AnyRepo::Sqlite(_) | AnyRepo::Memory(_) => None,
        };
        let metrics = Arc::new(Metrics::default());
        // Redis: mirrors of other nodes' tables, forwarded commands.
        let remote = match (&config.redis_url, &ownership) {
            (Some(url), Some(ownership)) => {
                let bus = crate::bus::Bus::start(url, &config.redis_prefix)
                    .with_context(|| format!("the Redis URL {}", redact(url)))?;
                let address = ownership.config().advertise.clone();
                Some(Remote::new(bus, address, metrics.clone()))
            }
            (Some(_), None) => {
                anyhow::bail!("--redis-url serves a cluster, which needs a Postgres --database-url")
            }
            (None, _) => None,
        };
        let mut writer_config = WriterConfig::default();
        if let Some(remote) = &remote {
            // Committed events go to the mirrors of their tables on other nodes.
            let remote = remote.clone();
            writer_config.on_commit = Some(CommitHook(Arc::new(move |events| {
                remote.publish_committed(events)
            })));
        }
        let (writer, _writer_task) = EventWriter::spawn(repo.clone(), writer_config);
        let (decisions, decisions_rx) = mpsc::channel(10_000);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let agents = Agents::new(executor);
        let tables = Tables::new(TableDeps {
            repo: repo.clone(),
            writer: writer.clone(),
            agents: agents.clone(),
            metrics: metrics.clone(),
            timing: config.timing.clone(),
            limits: TableLimits {
                max_tables: config.limits.max_tables,
                max_chat_chars: config.limits.max_chat_chars,
            },
            decisions: decisions.clone(),
            shutdown: shutdown_rx.clone(),
            ownership: ownership.clone(),
            remote: remote.clone(),
        });
        let experiments = Experiments::new(ExperimentDeps {
            repo: repo.clone(),
            agents: agents.clone(),
            shutdown: shutdown_rx,
            usage: sink,
        });
        let app = App::new(AppInner {
            config: config.clone(),
            repo: repo.clone(),
            writer,
            tables,
            agents,
            metrics,
            connections: AtomicUsize::new(0),
            addresses: Addresses::default(),
            experiments,
            shutdown,
        });
        let mut background = vec![
            tokio::spawn(drain_usage(app.clone(), decisions.clone(), usage_rx)),
            tokio::spawn(drain_decisions(app.clone(), decisions_rx)),
        ];
        // Every stored hand_ended must have its history (a store written by
        // an older version could lack some after a crash): rebuild them.
        if let Err(e) = crate::table::history::repair(&repo).await {
            warn!("hand history check failed (the server runs; it is tried again at the next start): {e}");
        }
        let restored = app.tables.restore_all().await.context("restoring live tables")?;
        if restored > 0 {
            info!(restored, "restored live tables from the event log");
        }
        let resumed = app
            .experiments
            .restore_all()
            .await
            .context("resuming experiments")?;
        if resumed > 0 {
            info!(resumed, "resumed running experiments");
        }
        if let Some(ownership) = &ownership {
            background.push(crate::cluster::spawn(
                ownership.clone(),
                app.tables.clone(),
                app.shutdown.subscribe(),
            ));
        }
        if let Some(remote) = &remote {
            // Commands other nodes forward to this node's tables.
            background.push(crate::cluster::served::spawn(remote.clone(), app.tables.clone()));
        }
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
            ownership,
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
        if let Some(ownership) = &self.ownership
            && let Err(e) = ownership.leave().await
        {
            warn!("cannot remove this node's registration (it lapses on its own): {e}");
        }
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

/// This machine's host name (a node's default name in a cluster).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "showdown".to_owned())
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
async fn drain_usage(
    app: App,
    decisions: mpsc::Sender<DecisionRow>,
    mut rx: mpsc::Receiver<ai_players::usage::UsageRecord>,
) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 500).await > 0 {
        let rows: Vec<UsageRow> = batch
            .drain(..)
            .map(|mut r| {
                app.experiments.record_usage(&r);
                // A captured exchange (agent spec `capture=true`, or an
                // experiment with `capture`) is kept with the decisions.
                if let Some(capture) = r.capture.take() {
                    let row = DecisionRow {
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
                    };
                    if decisions.try_send(row).is_err() {
                        warn!("decision queue full: a captured LLM exchange was dropped");
                    }
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
