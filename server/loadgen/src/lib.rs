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

//! - `args`: the command line ([`Args`], [`Pace`]) and its bounds.
//! - `plan`: the run's fixed facts ([`Plan`]) and what each connection is
//!   ([`Role`]).
//! - `setup`: tables and players created through the REST API.
//! - `report`: the [`Report`] and its parts, as JSON or text.
//!
//! This file holds [`run`]: setup, the ramp, the measured window, the
//! report.

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod args;
mod plan;
mod report;
mod setup;

pub mod actor;
pub mod conn;
pub mod engineio;
pub mod procfs;
pub mod scrape;
pub mod stats;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::time::Instant;

use args::check_args;
pub use args::{Args, MAX_CONNECTIONS, MAX_DURATION_SECS, Pace};
pub use conn::Transport;
pub use plan::{Plan, Role};
use procfs::ProcSample;
pub use report::{DeltaSize, Latency, Rates, Report, ServerUsage, Window};
use report::{delta, latency, rates};
use setup::{BIG_BLIND, setup};
use stats::{BUCKET_US, Counters, quantile};

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
        targets: if args.connect.is_empty() {
            vec![args.target]
        } else {
            args.connect.clone()
        },
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
    let peers_ramped: Vec<Option<ProcSample>> = args.also_pid.iter().map(|p| ProcSample::read(*p)).collect();
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
    let peers_cpu_percent: Vec<Option<f64>> = args
        .also_pid
        .iter()
        .zip(&peers_ramped)
        .map(|(pid, start)| Some(ProcSample::read(*pid)?.cpu_percent_since(start.as_ref()?)))
        .collect();
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
        peers_cpu_percent,
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

/// A progress line on stderr.
pub fn progress(line: &str) {
    eprintln!("loadgen: {line}");
}
