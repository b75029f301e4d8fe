//! `loadgen`: the load generator for a Showdown server, behind the `loadgen`
//! binary (the server's limit tests use its connections too). It creates
//! tables and players through the REST API, opens player and spectator
//! connections at a given rate, plays like people do (a random think time
//! per action), measures event delivery latency, traffic and errors, and
//! reads a local server's memory and CPU from `/proc`. It targets loopback
//! addresses only unless told otherwise, and stops by itself.
//!
//! - [`conn`]: one connection over `/ws` or Socket.IO (engine.io by hand, [`engineio`]).
//! - [`actor`]: what a player, a spectator and the snapshot probe do.
//! - [`stats`]: shared counters and the latency histogram.
//! - [`procfs`]: RSS and CPU time of a process.
//! - [`scrape`]: the server's own counters from its `/metrics`.

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod actor;
pub mod conn;
pub mod engineio;
pub mod procfs;
pub mod scrape;
pub mod stats;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

pub use conn::Transport;
use procfs::ProcSample;
use stats::{BUCKET_US, Counters, Traffic, quantile};

/// Longest run, whatever `--duration-secs` says.
pub const MAX_DURATION_SECS: u64 = 3_600;

/// Connections opened by the load generator, at most.
pub const MAX_CONNECTIONS: usize = 50_000;

/// Pace of the tables the load generator creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Pace {
    /// Pauses between hands, AI seats take at least 0.6 s.
    Realtime,
    /// As fast as agents answer.
    Auto,
}

/// `loadgen` options.
#[derive(Debug, clap::Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator for a Showdown server: N tables, P players and S spectators per table, \
             over WebSocket or Socket.IO; reports latency, traffic, errors and the server's memory and CPU.",
    after_help = "Only loopback targets are allowed unless --allow-remote is given. \
                  The run stops by itself: setup has a deadline, the ramp may last at most an hour, \
                  the measured window at most --duration-secs (3600 at most)."
)]
pub struct Args {
    /// Server address, IP:PORT. Must be a loopback address unless --allow-remote is given.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub target: SocketAddr,
    /// Allow a --target that is not a loopback address (only for a server you run).
    #[arg(long)]
    pub allow_remote: bool,
    /// Transport of every connection.
    #[arg(long, value_enum, default_value_t = Transport::Ws)]
    pub transport: Transport,
    /// Tables to create.
    #[arg(long, default_value_t = 1)]
    pub tables: usize,
    /// Human-like players per table, each with its own token and connection; they sit in seats 0.. and act.
    #[arg(long, default_value_t = 1)]
    pub players: usize,
    /// Heuristic bot seats per table (played by the server: no connection), after the players' seats.
    #[arg(long, default_value_t = 1)]
    pub bots: usize,
    /// Agent of the bot seats.
    #[arg(long, default_value = "bot:calling-station")]
    pub bot_agent: String,
    /// Spectator connections per table.
    #[arg(long, default_value_t = 10)]
    pub spectators: usize,
    /// Connections opened per second during the ramp.
    #[arg(long, default_value_t = 500.0)]
    pub ramp_per_sec: f64,
    /// Seconds to measure after the ramp (1 to 3600); the whole run is bounded by setup + ramp + this.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=MAX_DURATION_SECS))]
    pub duration_secs: u64,
    /// Seconds between the end of the ramp and the start of the measurement (memory and queues settle).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=60))]
    pub settle_secs: u64,
    /// Shortest think time of a player before acting, ms.
    #[arg(long, default_value_t = 500)]
    pub think_min_ms: u64,
    /// Longest think time of a player before acting, ms.
    #[arg(long, default_value_t = 2_000)]
    pub think_max_ms: u64,
    /// Pace of the created tables.
    #[arg(long, value_enum, default_value_t = Pace::Realtime)]
    pub pace: Pace,
    /// Turn clock of the created tables, ms.
    #[arg(long, default_value_t = 20_000)]
    pub turn_clock_ms: u64,
    /// The server's admin key: creates tables without a player token, and skips the per-IP REST
    /// limit and the per-address connection limits (without it, one address may open 100
    /// connections at once, then 20 a second, and hold at most 1,000 by default).
    #[arg(long, env = "SHOWDOWN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// PID of the server when it runs on this machine: its RSS and CPU are read from /proc.
    #[arg(long)]
    pub pid: Option<u32>,
    /// One spectator of the first table re-joins after every action to measure a full snapshot
    /// (for the delta-size comparison); its own events are not counted as deltas.
    #[arg(long)]
    pub snapshot_probe: bool,
    /// Print the report as JSON (progress lines still go to stderr).
    #[arg(long)]
    pub json: bool,
}

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
    /// Server address.
    pub target: SocketAddr,
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

/// Blinds of the created tables.
const SMALL_BLIND: u64 = 5;
const BIG_BLIND: u64 = 10;

/// REST requests in flight during setup.
const SETUP_CONCURRENCY: usize = 8;

/// The load generator's report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Transport used.
    pub transport: Transport,
    /// Server address.
    pub target: SocketAddr,
    /// Tables created.
    pub tables: usize,
    /// Players per table.
    pub players_per_table: usize,
    /// Bot seats per table.
    pub bots_per_table: usize,
    /// Spectators per table.
    pub spectators_per_table: usize,
    /// Connections planned.
    pub connections_planned: usize,
    /// Seconds to create tables and players.
    pub setup_secs: f64,
    /// Seconds from the first connection to the last handshake.
    pub ramp_secs: f64,
    /// Length of the measured window, seconds.
    pub measured_secs: f64,
    /// Connections open at the end of the window.
    pub connections_held: u64,
    /// Most connections open at once.
    pub connections_peak: u64,
    /// Connections that could not be opened.
    pub connect_errors: u64,
    /// Those, by reason.
    pub connect_failures: BTreeMap<String, u64>,
    /// Connections the server closed during the run.
    pub dropped: u64,
    /// Event delivery latency in the window (`at_ms` to receipt).
    pub latency_ms: Latency,
    /// The window in slices of about 10 s: latency over time.
    pub windows: Vec<Window>,
    /// Traffic rates in the window, as the clients saw them.
    pub rates: Rates,
    /// `error` messages by code (whole run).
    pub errors: BTreeMap<String, u64>,
    /// Snapshots received because a client fell behind (whole run).
    pub resyncs: u64,
    /// Delta stream size against full snapshots.
    pub delta: DeltaSize,
    /// The server's memory and CPU, with `--pid`.
    pub server: Option<ServerUsage>,
    /// This process's CPU in the window (percent of one core) and RSS at the end.
    pub loadgen_cpu_percent: Option<f64>,
    /// See `loadgen_cpu_percent`.
    pub loadgen_rss_kb: Option<u64>,
    /// The store and the tables in the window, from the server's `/metrics`.
    pub store: Option<scrape::StoreRates>,
}

/// Latency quantiles, ms (upper edges of 0.1 ms buckets; `at_ms` has 1 ms resolution).
#[derive(Debug, Serialize)]
pub struct Latency {
    /// Events measured.
    pub count: u64,
    /// Median.
    pub p50: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Slowest.
    pub max: Option<f64>,
}

/// Latency in one slice of the measured window (bucket upper edges, ms).
#[derive(Debug, Serialize)]
pub struct Window {
    /// Seconds from the start of the window to the end of this slice.
    pub end_secs: f64,
    /// Events measured in the slice.
    pub events: u64,
    /// Median.
    pub p50: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Slowest (to its bucket's upper edge).
    pub max: Option<f64>,
    /// Server RSS at the end of the slice, KiB.
    pub server_rss_kb: Option<u64>,
}

/// Per-second rates.
#[derive(Debug, Serialize)]
pub struct Rates {
    /// Frames received per second (all connections).
    pub frames_in: f64,
    /// Bytes received per second.
    pub bytes_in: f64,
    /// Frames sent per second.
    pub frames_out: f64,
    /// Bytes sent per second.
    pub bytes_out: f64,
    /// `event` messages received per second.
    pub events: f64,
    /// Player actions per second.
    pub actions: f64,
}

/// Bytes on the wire per action, deltas against full views.
#[derive(Debug, Serialize)]
pub struct DeltaSize {
    /// `event` frames spectators received.
    pub spectator_event_frames: u64,
    /// Their bytes.
    pub spectator_event_bytes: u64,
    /// `action_taken` events among them.
    pub spectator_actions: u64,
    /// Event bytes per action (all events of a hand, divided by its actions).
    pub event_bytes_per_action: Option<f64>,
    /// Average event frame.
    pub event_bytes_per_frame: Option<f64>,
    /// Snapshots the probe took (one per action).
    pub snapshots: u64,
    /// Average snapshot frame.
    pub snapshot_bytes_avg: Option<f64>,
    /// One full view per action over the deltas of an action.
    pub full_view_over_delta: Option<f64>,
    /// One full view per event (each state change) over one delta per event.
    pub full_view_per_event_over_delta: Option<f64>,
}

/// Server memory and CPU.
#[derive(Debug, Serialize)]
pub struct ServerUsage {
    /// PID read.
    pub pid: u32,
    /// RSS before the load generator did anything, KiB.
    pub rss_start_kb: u64,
    /// After tables and players were created, KiB.
    pub rss_setup_kb: u64,
    /// After the ramp and the settle time, KiB.
    pub rss_ramped_kb: u64,
    /// At the end of the window, KiB.
    pub rss_end_kb: u64,
    /// Highest reading (every second), KiB.
    pub rss_peak_kb: u64,
    /// (ramped − setup) / connections held, bytes.
    pub bytes_per_connection: Option<f64>,
    /// (end − start) / tables, bytes: tables with their connections and play.
    pub bytes_per_table_all_in: Option<f64>,
    /// CPU in the window, percent of one core.
    pub cpu_percent: f64,
}

fn check_args(args: &Args) -> anyhow::Result<()> {
    if !args.target.ip().is_loopback() && !args.allow_remote {
        bail!(
            "{} is not a loopback address: pass --allow-remote to load a server you run elsewhere",
            args.target
        );
    }
    let seats = args.players + args.bots;
    if seats > 10 {
        bail!("players + bots must be at most 10 (a table has 2 to 10 seats)");
    }
    let connections = args.tables * (args.players + args.spectators);
    if connections > MAX_CONNECTIONS {
        bail!("{connections} connections: at most {MAX_CONNECTIONS}");
    }
    if args.tables == 0 {
        bail!("--tables must be at least 1");
    }
    if args.ramp_per_sec.is_nan() || args.ramp_per_sec <= 0.0 {
        bail!("--ramp-per-sec must be positive");
    }
    if connections as f64 / args.ramp_per_sec > MAX_DURATION_SECS as f64 {
        bail!("the ramp would take over {MAX_DURATION_SECS} s: raise --ramp-per-sec");
    }
    if args.think_min_ms > args.think_max_ms {
        bail!("--think-min-ms is above --think-max-ms");
    }
    Ok(())
}

/// Runs the load and returns its report. Bounded: setup and ramp have
/// deadlines of their own, the window is at most [`MAX_DURATION_SECS`].
pub async fn run(args: &Args) -> anyhow::Result<Report> {
    check_args(args)?;
    let counters = Arc::new(Counters::default());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("HTTP client")?;
    let base = format!("http://{}", args.target);
    let server_start = args.pid.and_then(ProcSample::read);
    if args.pid.is_some() && server_start.is_none() {
        bail!("cannot read /proc for --pid {:?}", args.pid);
    }

    // Setup: tables and players, with a deadline.
    let setup_started = Instant::now();
    let setup_budget = Duration::from_secs(120 + (args.tables * (1 + args.players)) as u64 / 20);
    let (tables, tokens) = tokio::time::timeout(setup_budget, setup(args, &http, &base))
        .await
        .context("setup took too long")??;
    let setup_secs = setup_started.elapsed().as_secs_f64();
    let server_setup = args.pid.and_then(ProcSample::read);
    progress(&format!(
        "setup: {} tables, {} players in {setup_secs:.1} s",
        tables.len(),
        tokens.len()
    ));

    let plan = Arc::new(Plan {
        target: args.target,
        transport: args.transport,
        tables,
        big_blind: BIG_BLIND,
        think_min_ms: args.think_min_ms,
        think_max_ms: args.think_max_ms,
        api_key: args.api_key.clone().filter(|k| !k.is_empty()),
    });
    let mut roles = Vec::new();
    let mut tokens = tokens.into_iter();
    for table in 0..args.tables {
        for seat in 0..args.players {
            let token = tokens.next().context("a token per player")?;
            roles.push(Role::Player { table, seat, token });
        }
        for spectator in 0..args.spectators {
            if args.snapshot_probe && table == 0 && spectator == 0 {
                roles.push(Role::Probe { table });
            } else {
                roles.push(Role::Spectator { table });
            }
        }
    }

    // Ramp.
    let planned = roles.len();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ramp_started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let gap = Duration::from_secs_f64(1.0 / args.ramp_per_sec);
    for (index, role) in roles.into_iter().enumerate() {
        tokio::time::sleep_until(ramp_started + gap.mul_f64(index as f64)).await;
        tasks.spawn(actor::run(
            plan.clone(),
            index,
            role,
            counters.clone(),
            stop_rx.clone(),
        ));
        if index % 1000 == 999 {
            progress(&format!(
                "ramp: {} started, {} open, {} failed",
                index + 1,
                counters.open.load(Ordering::Relaxed),
                counters.connect_errors.load(Ordering::Relaxed)
            ));
        }
    }
    // Every connection has either finished its handshake or failed, or 30 s passed.
    let handshakes_due = Instant::now() + Duration::from_secs(30);
    while (counters.handshakes.load(Ordering::Relaxed) + counters.connect_errors.load(Ordering::Relaxed))
        < planned as u64
        && Instant::now() < handshakes_due
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ramp_secs = ramp_started.elapsed().as_secs_f64();
    progress(&format!(
        "ramp done in {ramp_secs:.1} s: {} open, {} failed; settling {} s",
        counters.open.load(Ordering::Relaxed),
        counters.connect_errors.load(Ordering::Relaxed),
        args.settle_secs
    ));
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;

    // The measured window.
    let server_ramped = args.pid.and_then(ProcSample::read);
    let metrics_start = scrape::Scrape::fetch(&http, &base).await;
    let self_start = ProcSample::read(std::process::id());
    let held_after_ramp = counters.open.load(Ordering::Relaxed);
    let traffic_start = counters.traffic();
    let window_started = Instant::now();
    counters.measuring.store(true, Ordering::Relaxed);
    let duration = Duration::from_secs(args.duration_secs.min(MAX_DURATION_SECS));
    let mut peak_rss = [server_start, server_setup, server_ramped]
        .iter()
        .flatten()
        .map(|s| s.rss_kb)
        .max()
        .unwrap_or(0);
    let mut last_progress = Instant::now();
    let mut last_counts = vec![0; stats::BUCKETS];
    let mut windows = Vec::new();
    while window_started.elapsed() < duration {
        tokio::time::sleep(Duration::from_secs(1).min(duration.saturating_sub(window_started.elapsed())))
            .await;
        let rss = args.pid.and_then(ProcSample::read).map(|s| s.rss_kb);
        peak_rss = peak_rss.max(rss.unwrap_or(0));
        if last_progress.elapsed() >= Duration::from_secs(10) || window_started.elapsed() >= duration {
            last_progress = Instant::now();
            let (counts, _) = counters.latency.snapshot();
            let window: Vec<u64> = counts
                .iter()
                .zip(&last_counts)
                .map(|(now, before)| now - before)
                .collect();
            last_counts = counts;
            let ms = |q: f64| quantile(&window, BUCKET_US, q).map(|us| us as f64 / 1000.0);
            let stat = Window {
                end_secs: window_started.elapsed().as_secs_f64().round(),
                events: window.iter().sum(),
                p50: ms(0.5),
                p99: ms(0.99),
                max: ms(1.0),
                server_rss_kb: rss,
            };
            progress(&format!(
                "{:.0} s: {} open; last slice: {} events, p50 {:?} p99 {:?} max {:?} ms",
                stat.end_secs,
                counters.open.load(Ordering::Relaxed),
                stat.events,
                stat.p50,
                stat.p99,
                stat.max
            ));
            windows.push(stat);
        }
    }
    counters.measuring.store(false, Ordering::Relaxed);
    let measured_secs = window_started.elapsed().as_secs_f64();
    let traffic_end = counters.traffic();
    let held = counters.open.load(Ordering::Relaxed);
    let server_end = args.pid.and_then(ProcSample::read);
    let self_end = ProcSample::read(std::process::id());
    let metrics_end = scrape::Scrape::fetch(&http, &base).await;

    // Stop every connection, and wait a little for them to close.
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();

    let server = match (args.pid, server_start, server_setup, server_ramped, server_end) {
        (Some(pid), Some(start), Some(setup), Some(ramped), Some(end)) => Some(ServerUsage {
            pid,
            rss_start_kb: start.rss_kb,
            rss_setup_kb: setup.rss_kb,
            rss_ramped_kb: ramped.rss_kb,
            rss_end_kb: end.rss_kb,
            rss_peak_kb: peak_rss.max(end.rss_kb),
            bytes_per_connection: (held_after_ramp > 0)
                .then(|| (ramped.rss_kb as f64 - setup.rss_kb as f64) * 1024.0 / held_after_ramp as f64),
            bytes_per_table_all_in: Some(
                (end.rss_kb as f64 - start.rss_kb as f64) * 1024.0 / args.tables as f64,
            ),
            cpu_percent: end.cpu_percent_since(&ramped),
        }),
        _ => None,
    };
    Ok(Report {
        transport: args.transport,
        target: args.target,
        tables: args.tables,
        players_per_table: args.players,
        bots_per_table: args.bots,
        spectators_per_table: args.spectators,
        connections_planned: planned,
        setup_secs,
        ramp_secs,
        measured_secs,
        connections_held: held,
        connections_peak: counters.peak.load(Ordering::Relaxed),
        connect_errors: counters.connect_errors.load(Ordering::Relaxed),
        connect_failures: counters.connect_failures.lock().clone(),
        dropped: counters.dropped.load(Ordering::Relaxed),
        latency_ms: latency(&counters),
        windows,
        rates: rates(traffic_start, traffic_end, measured_secs),
        errors: counters.errors.lock().clone(),
        resyncs: counters.resyncs.load(Ordering::Relaxed),
        delta: delta(&counters),
        server,
        loadgen_cpu_percent: match (self_start, self_end) {
            (Some(start), Some(end)) => Some(end.cpu_percent_since(&start)),
            _ => None,
        },
        loadgen_rss_kb: self_end.map(|s| s.rss_kb),
        store: match (metrics_start, metrics_end) {
            (Some(start), Some(end)) => Some(scrape::StoreRates::between(&start, &end, measured_secs)),
            _ => None,
        },
    })
}

fn latency(counters: &Counters) -> Latency {
    let (counts, max_us) = counters.latency.snapshot();
    let ms = |us: u64| (us as f64 / 100.0).round() / 10.0;
    let count = counts.iter().sum();
    // A bucket's upper edge can pass the exact maximum.
    let q = |q: f64| quantile(&counts, BUCKET_US, q).map(|us| ms(us.min(max_us)));
    Latency {
        count,
        p50: q(0.50),
        p99: q(0.99),
        max: (count > 0).then(|| ms(max_us)),
    }
}

fn rates(start: Traffic, end: Traffic, secs: f64) -> Rates {
    let per_sec = |a: u64, b: u64| if secs > 0.0 { (b - a) as f64 / secs } else { 0.0 };
    Rates {
        frames_in: per_sec(start.frames_in, end.frames_in),
        bytes_in: per_sec(start.bytes_in, end.bytes_in),
        frames_out: per_sec(start.frames_out, end.frames_out),
        bytes_out: per_sec(start.bytes_out, end.bytes_out),
        events: per_sec(start.events, end.events),
        actions: per_sec(start.actions, end.actions),
    }
}

fn delta(counters: &Counters) -> DeltaSize {
    let bytes = counters.spectator_event_bytes.load(Ordering::Relaxed);
    let frames = counters.spectator_event_frames.load(Ordering::Relaxed);
    let actions = counters.spectator_actions.load(Ordering::Relaxed);
    let snapshots = counters.snapshots.load(Ordering::Relaxed);
    let snapshot_bytes = counters.snapshot_bytes.load(Ordering::Relaxed);
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    let per_action = ratio(bytes, actions);
    let per_frame = ratio(bytes, frames);
    let snapshot_avg = ratio(snapshot_bytes, snapshots);
    DeltaSize {
        spectator_event_frames: frames,
        spectator_event_bytes: bytes,
        spectator_actions: actions,
        event_bytes_per_action: per_action,
        event_bytes_per_frame: per_frame,
        snapshots,
        snapshot_bytes_avg: snapshot_avg,
        full_view_over_delta: match (snapshot_avg, per_action) {
            (Some(s), Some(d)) if d > 0.0 => Some(s / d),
            _ => None,
        },
        full_view_per_event_over_delta: match (snapshot_avg, per_frame) {
            (Some(s), Some(d)) if d > 0.0 => Some(s / d),
            _ => None,
        },
    }
}

/// Creates the tables and one player per seat; returns table ids and tokens
/// (table by table, seat by seat).
async fn setup(
    args: &Args,
    http: &reqwest::Client,
    base: &str,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let key = args.api_key.clone().filter(|k| !k.is_empty());
    let owner = match &key {
        Some(_) => None,
        None => Some(register(http, base, None, "loadgen owner").await?),
    };
    let seats = (args.players + args.bots).max(2);
    let ai_seats: Vec<Value> = (0..args.bots)
        .map(|b| json!({"seat": args.players + b, "agent": args.bot_agent}))
        .collect();
    let pace = match args.pace {
        Pace::Realtime => "realtime",
        Pace::Auto => "auto",
    };
    let body = json!({
        "seats": seats, "small_blind": SMALL_BLIND, "big_blind": BIG_BLIND, "pace": pace,
        "turn_clock_ms": args.turn_clock_ms, "ai_seats": ai_seats,
    });
    let tables = in_parallel(args.tables, |i| {
        let mut body = body.clone();
        body["name"] = format!("load {i}").into();
        let (http, base, key, owner) = (http.clone(), base.to_owned(), key.clone(), owner.clone());
        async move {
            let mut request = http.post(format!("{base}/api/tables")).json(&body);
            request = match (&key, &owner) {
                (Some(key), _) => request.header("x-api-key", key),
                (None, Some(token)) => request.bearer_auth(token),
                (None, None) => request,
            };
            let created = send_json(request).await?;
            created["id"].as_str().map(str::to_owned).context("table id")
        }
    })
    .await?;
    let tokens = in_parallel(args.tables * args.players, |i| {
        let (http, base, key) = (http.clone(), base.to_owned(), key.clone());
        async move { register(&http, &base, key.as_deref(), &format!("load {i}")).await }
    })
    .await?;
    Ok((tables, tokens))
}

async fn register(
    http: &reqwest::Client,
    base: &str,
    key: Option<&str>,
    name: &str,
) -> anyhow::Result<String> {
    let mut request = http
        .post(format!("{base}/api/players"))
        .json(&json!({"name": name}));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let player = send_json(request).await?;
    player["token"]
        .as_str()
        .map(str::to_owned)
        .context("player token")
}

/// Sends a request, waiting out 429s (without the admin key the per-IP
/// limit applies) up to 60 times.
async fn send_json(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    for _ in 0..60 {
        let attempt = request.try_clone().context("request body")?;
        let response = attempt.send().await.context("REST request")?;
        let status = response.status();
        if status.as_u16() == 429 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let body: Value = response.json().await.context("REST body")?;
        if !status.is_success() {
            bail!("REST {status}: {body}");
        }
        return Ok(body);
    }
    bail!("still rate limited after 60 s (pass --api-key)")
}

/// Runs `make(i)` for i in 0..n, [`SETUP_CONCURRENCY`] at a time, in order.
async fn in_parallel<F, Fut>(n: usize, make: F) -> anyhow::Result<Vec<String>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<String>> + Send + 'static,
{
    let mut out = vec![String::new(); n];
    let mut running = tokio::task::JoinSet::new();
    let mut next = 0;
    while next < n || !running.is_empty() {
        while next < n && running.len() < SETUP_CONCURRENCY {
            let fut = make(next);
            let i = next;
            running.spawn(async move { (i, fut.await) });
            next += 1;
        }
        if let Some(done) = running.join_next().await {
            let (i, result) = done.context("setup task")?;
            out[i] = result?;
        }
    }
    Ok(out)
}

/// A progress line on stderr.
pub fn progress(line: &str) {
    eprintln!("loadgen: {line}");
}

impl Report {
    /// The report for people.
    pub fn text(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        let mut out = format!(
            "transport {:?}, {} tables x ({} players + {} bots, {} spectators) = {} connections\n\
             setup {:.1} s, ramp {:.1} s, measured {:.1} s\n\
             connections held {} (peak {}), connect errors {} {:?}, dropped {}\n\
             event latency ms: n={} p50={} p99={} max={}\n\
             in: {:.0} frames/s {:.0} B/s; out: {:.0} frames/s {:.0} B/s; events {:.0}/s, actions {:.1}/s\n\
             errors {:?}, resyncs {}\n\
             delta: {} B/action ({} B/frame, {} actions seen), snapshot {} B avg ({} taken), full/delta per action {}, per event {}\n",
            self.transport,
            self.tables,
            self.players_per_table,
            self.bots_per_table,
            self.spectators_per_table,
            self.connections_planned,
            self.setup_secs,
            self.ramp_secs,
            self.measured_secs,
            self.connections_held,
            self.connections_peak,
            self.connect_errors,
            self.connect_failures,
            self.dropped,
            self.latency_ms.count,
            opt(self.latency_ms.p50),
            opt(self.latency_ms.p99),
            opt(self.latency_ms.max),
            self.rates.frames_in,
            self.rates.bytes_in,
            self.rates.frames_out,
            self.rates.bytes_out,
            self.rates.events,
            self.rates.actions,
            self.errors,
            self.resyncs,
            opt(self.delta.event_bytes_per_action),
            opt(self.delta.event_bytes_per_frame),
            self.delta.spectator_actions,
            opt(self.delta.snapshot_bytes_avg),
            self.delta.snapshots,
            opt(self.delta.full_view_over_delta),
            opt(self.delta.full_view_per_event_over_delta),
        );
        if let Some(s) = &self.server {
            out.push_str(&format!(
                "server pid {}: RSS KiB start {} setup {} ramped {} end {} peak {}; {} B/connection; \
                 {} B/table all in; CPU {:.0}%\n",
                s.pid,
                s.rss_start_kb,
                s.rss_setup_kb,
                s.rss_ramped_kb,
                s.rss_end_kb,
                s.rss_peak_kb,
                opt(s.bytes_per_connection),
                opt(s.bytes_per_table_all_in),
                s.cpu_percent
            ));
        }
        if let Some(s) = &self.store {
            let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1}", v * 1000.0));
            out.push_str(&format!(
                "store: {:.0} events/s committed ({:.0} applied), {:.1} batches/s of {} events, {} failed; \
                 {:.1} hands/s; durable wait at hand end p50 {} ms p99 {} ms\n",
                s.events_committed_per_sec,
                s.events_applied_per_sec,
                s.batches_per_sec,
                opt(s.events_per_batch),
                s.failed_batches,
                s.hands_per_sec,
                ms(s.durable_wait_p50_secs),
                ms(s.durable_wait_p99_secs),
            ));
        }
        out.push_str(&format!(
            "loadgen CPU {}%, RSS {} KiB\n",
            opt(self.loadgen_cpu_percent),
            self.loadgen_rss_kb.map_or("-".to_owned(), |k| k.to_string())
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn refuses_remote_targets_without_the_flag_and_caps_the_duration() {
        let parse = |line: &str| Args::try_parse_from(line.split_whitespace());
        let args = parse("loadgen").expect("defaults");
        assert_eq!(args.target, "127.0.0.1:8080".parse().expect("addr"));
        assert!(check_args(&args).is_ok());
        let remote = parse("loadgen --target 10.0.0.5:8080").expect("parses");
        assert!(check_args(&remote).is_err());
        let allowed = parse("loadgen --target 10.0.0.5:8080 --allow-remote").expect("parses");
        assert!(check_args(&allowed).is_ok());
        assert!(check_args(&parse("loadgen --target [::1]:80").expect("parses")).is_ok());
        assert!(parse("loadgen --duration-secs 3601").is_err());
        assert!(parse("loadgen --duration-secs 0").is_err());
        assert!(check_args(&parse("loadgen --players 8 --bots 3").expect("parses")).is_err());
        // Every phase is bounded: the ramp, the settling, the window.
        assert!(check_args(&parse("loadgen --spectators 10000 --ramp-per-sec 1").expect("parses")).is_err());
        assert!(parse("loadgen --settle-secs 61").is_err());
    }
}
