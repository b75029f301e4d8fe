//! Prometheus metrics, rendered as text at `/metrics`. A handful of atomics
//! and fixed-bucket histograms: cheaper than a metrics framework for the
//! dozen series the server exports, and with no global registry.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// Bucket bounds, in seconds, of the latency histograms.
const BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// A latency histogram with [`BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let total = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

/// Every series the server exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open client connections, by transport.
    pub connections_ws: AtomicI64,
    /// Open Socket.IO connections.
    pub connections_socketio: AtomicI64,
    /// Connections refused at the limit.
    pub connections_refused: AtomicU64,
    /// Live tables in memory.
    pub tables_live: AtomicI64,
    /// Tables loaded back from the store (restart or on demand).
    pub tables_loaded: AtomicU64,
    /// Tables evicted from memory when idle.
    pub tables_evicted: AtomicU64,
    /// Events published by all tables.
    pub events: AtomicU64,
    /// Hands completed.
    pub hands: AtomicU64,
    /// Subscribers that fell behind the broadcast buffer and were resynced with a snapshot.
    pub broadcast_lag_resyncs: AtomicU64,
    /// Frames sent to clients.
    pub frames_out: AtomicU64,
    /// Frames received from clients.
    pub frames_in: AtomicU64,
    /// Protocol errors sent, by code.
    errors: Mutex<BTreeMap<&'static str, u64>>,
    /// LLM calls by lane and outcome.
    llm_calls: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// LLM queue wait, by lane.
    llm_queue_wait: [Histogram; 3],
    /// AI decisions that fell back to a bot, by reason.
    fallbacks: Mutex<BTreeMap<&'static str, u64>>,
    /// Time from a hand's last event to its durability.
    pub store_durable_wait: Histogram,
    /// Turn timeouts.
    pub timeouts: AtomicU64,
}

const LANES: [&str; 3] = ["live", "watched", "bulk"];

impl Metrics {
    /// Counts a protocol error sent to a client.
    pub fn error(&self, code: &'static str) {
        *self.errors.lock().entry(code).or_default() += 1;
    }

    /// Counts one LLM call.
    pub fn llm_call(&self, lane: usize, outcome: &'static str, queue_wait: Duration) {
        let lane_name = LANES.get(lane).copied().unwrap_or("bulk");
        *self.llm_calls.lock().entry((lane_name, outcome)).or_default() += 1;
        if let Some(h) = self.llm_queue_wait.get(lane) {
            h.observe(queue_wait);
        }
    }

    /// Counts an AI fallback.
    pub fn fallback(&self, reason: &'static str) {
        *self.fallbacks.lock().entry(reason).or_default() += 1;
    }

    /// Renders every series in the Prometheus text format. `store` adds the
    /// event writer's counters.
    pub fn render(&self, store: schema::WriterStats, backend: &str) -> String {
        let mut out = String::with_capacity(4096);
        let gauge = |out: &mut String, name: &str, help: &str, value: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP showdown_connections Open client connections.\n# TYPE showdown_connections gauge"
        );
        let _ = writeln!(
            out,
            "showdown_connections{{transport=\"ws\"}} {}",
            self.connections_ws.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "showdown_connections{{transport=\"socketio\"}} {}",
            self.connections_socketio.load(Ordering::Relaxed)
        );
        counter(
            &mut out,
            "showdown_connections_refused_total",
            "Connections refused at the connection limit.",
            load(&self.connections_refused),
        );
        gauge(
            &mut out,
            "showdown_tables",
            "Live tables in memory.",
            self.tables_live.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "showdown_tables_loaded_total",
            "Tables restored from the event log.",
            load(&self.tables_loaded),
        );
        counter(
            &mut out,
            "showdown_tables_evicted_total",
            "Idle tables evicted from memory.",
            load(&self.tables_evicted),
        );
        counter(
            &mut out,
            "showdown_events_total",
            "Events published by tables.",
            load(&self.events),
        );
        counter(
            &mut out,
            "showdown_hands_total",
            "Hands completed.",
            load(&self.hands),
        );
        counter(
            &mut out,
            "showdown_broadcast_lag_resyncs_total",
            "Subscribers that fell behind and were resynced with a snapshot.",
            load(&self.broadcast_lag_resyncs),
        );
        counter(
            &mut out,
            "showdown_frames_out_total",
            "Frames sent to clients.",
            load(&self.frames_out),
        );
        counter(
            &mut out,
            "showdown_frames_in_total",
            "Frames received from clients.",
            load(&self.frames_in),
        );
        counter(
            &mut out,
            "showdown_turn_timeouts_total",
            "Turns decided by the clock.",
            load(&self.timeouts),
        );
        let _ = writeln!(
            out,
            "# HELP showdown_protocol_errors_total Errors sent to clients, by code.\n# TYPE showdown_protocol_errors_total counter"
        );
        for (code, n) in self.errors.lock().iter() {
            let _ = writeln!(out, "showdown_protocol_errors_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP showdown_llm_calls_total LLM calls by lane and outcome.\n# TYPE showdown_llm_calls_total counter"
        );
        for ((lane, outcome), n) in self.llm_calls.lock().iter() {
            let _ = writeln!(
                out,
                "showdown_llm_calls_total{{lane=\"{lane}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP showdown_ai_fallbacks_total AI decisions made by the fallback bot, by reason.\n# TYPE showdown_ai_fallbacks_total counter"
        );
        for (reason, n) in self.fallbacks.lock().iter() {
            let _ = writeln!(out, "showdown_ai_fallbacks_total{{reason=\"{reason}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP showdown_llm_queue_wait_seconds Time LLM calls waited for capacity, by lane.\n# TYPE showdown_llm_queue_wait_seconds histogram"
        );
        for (lane, h) in LANES.iter().zip(&self.llm_queue_wait) {
            h.render(
                &mut out,
                "showdown_llm_queue_wait_seconds",
                &format!("lane=\"{lane}\""),
            );
        }
        let _ = writeln!(
            out,
            "# HELP showdown_store_durable_wait_seconds Wait for a hand's events to be durable at its end.\n# TYPE showdown_store_durable_wait_seconds histogram"
        );
        self.store_durable_wait
            .render(&mut out, "showdown_store_durable_wait_seconds", "");
        let _ = writeln!(
            out,
            "# HELP showdown_store_batches_total Group commits of the event writer.\n# TYPE showdown_store_batches_total counter\nshowdown_store_batches_total{{backend=\"{backend}\"}} {}",
            store.batches
        );
        let _ = writeln!(
            out,
            "# HELP showdown_store_events_total Events committed by the event writer.\n# TYPE showdown_store_events_total counter\nshowdown_store_events_total{{backend=\"{backend}\"}} {}",
            store.events
        );
        let _ = writeln!(
            out,
            "# HELP showdown_store_failed_batches_total Group commits that failed.\n# TYPE showdown_store_failed_batches_total counter\nshowdown_store_failed_batches_total{{backend=\"{backend}\"}} {}",
            store.failed_batches
        );
        let avg = if store.batches == 0 {
            0.0
        } else {
            store.events as f64 / store.batches as f64
        };
        let _ = writeln!(
            out,
            "# HELP showdown_store_batch_size_avg Mean events per group commit.\n# TYPE showdown_store_batch_size_avg gauge\nshowdown_store_batch_size_avg{{backend=\"{backend}\"}} {avg}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.events.fetch_add(3, Ordering::Relaxed);
        m.error("rate_limited");
        m.llm_call(0, "ok", Duration::from_millis(3));
        let text = m.render(schema::WriterStats::default(), "sqlite");
        assert!(text.contains("showdown_events_total 3"));
        assert!(text.contains("showdown_protocol_errors_total{code=\"rate_limited\"} 1"));
        assert!(text.contains("showdown_llm_calls_total{lane=\"live\",outcome=\"ok\"} 1"));
        assert!(text.contains("showdown_llm_queue_wait_seconds_bucket{lane=\"live\",le=\"0.005\"} 1"));
        assert!(text.contains("showdown_llm_queue_wait_seconds_bucket{lane=\"live\",le=\"0.002\"} 0"));
    }
}
