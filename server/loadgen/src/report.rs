//! The load generator's [`Report`] and its parts (latency, windows, rates,
//! delta sizes, the server's memory and CPU), read from the shared
//! counters, as JSON or as text for people.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::conn::Transport;
use crate::scrape;
use crate::stats::{BUCKET_US, Counters, Traffic, quantile};

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
    /// CPU in the window (percent of one core) of each `--also-pid`, in order.
    pub peers_cpu_percent: Vec<Option<f64>>,
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

pub(crate) fn latency(counters: &Counters) -> Latency {
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

pub(crate) fn rates(start: Traffic, end: Traffic, secs: f64) -> Rates {
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

pub(crate) fn delta(counters: &Counters) -> DeltaSize {
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
        if !self.peers_cpu_percent.is_empty() {
            let cpu: Vec<String> = self
                .peers_cpu_percent
                .iter()
                .map(|c| c.map_or("-".to_owned(), |c| format!("{c:.0}%")))
                .collect();
            out.push_str(&format!("other server pids: CPU {}\n", cpu.join(", ")));
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
