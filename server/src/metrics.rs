//! Prometheus metrics, rendered as text at `/metrics`. A handful of atomics
//! and fixed-bucket histograms: cheaper than a metrics framework for the
//! dozen series the server exports, and with no global registry.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// A label value with `\\`, `"` and line breaks escaped, as Prometheus wants.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

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
    /// Cluster: table leases this node claimed to load a table.
    pub lease_claims: AtomicU64,
    /// Cluster: orphaned tables (of a dead node, or handed off) this node took over.
    pub lease_adoptions: AtomicU64,
    /// Cluster: tables stopped because this node lost their lease (a fenced write, a lapsed registration).
    pub lease_fenced: AtomicU64,
    /// Cluster: tables handed to peers at shutdown.
    pub lease_handoffs: AtomicU64,
    /// Cluster: mirrors of tables other nodes own, held here for this node's clients.
    pub mirrors_live: AtomicI64,
    /// Cluster: times a mirror read the table's log from the store (a gap,
    /// a Redis reconnect, or its regular check).
    pub mirror_catchups: AtomicU64,
    /// Cluster: events a mirror applied that it had to read from the store.
    pub mirror_backfilled: AtomicU64,
    /// Cluster: milliseconds from an event's commit on its owner to its
    /// application on this node's mirror (last seen).
    pub mirror_lag_ms: AtomicU64,
    /// Cluster: commands forwarded to the owner, by outcome.
    pub forwarded_ok: AtomicU64,
    /// Cluster: forwarded commands the owner refused or that got no answer.
    pub forwarded_failed: AtomicU64,
    /// Cluster: time from forwarding a command to the owner's answer.
    pub forward_latency: Histogram,
    /// Cluster: commands other nodes forwarded to this node's tables.
    pub forwarded_served: AtomicU64,
    /// Cluster: 1 while this node's registration is valid (0 on a single node or while it is lost).
    pub node_member: AtomicI64,
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
    /// Calls, tokens, cost and latency by provider and model.
    llm_models: Mutex<BTreeMap<(String, String), ModelSeries>>,
    /// Time from a hand's last event to its durability.
    pub store_durable_wait: Histogram,
    /// Turn timeouts.
    pub timeouts: AtomicU64,
}

const LANES: [&str; 3] = ["live", "watched", "bulk"];

/// One model's LLM series.
#[derive(Debug, Default)]
struct ModelSeries {
    calls: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    cost_usd: f64,
    latency: Histogram,
}

/// One finished LLM call, as the metrics count it.
#[derive(Clone, Copy, Debug)]
pub struct LlmCall<'a> {
    /// Provider name.
    pub provider: &'a str,
    /// Model name.
    pub model: &'a str,
    /// Lane index ([`ai_players::Lane::index`]).
    pub lane: usize,
    /// Outcome name.
    pub outcome: &'static str,
    /// Time waiting for capacity.
    pub queue_wait: Duration,
    /// Time from the request to the end of the call.
    pub latency: Duration,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost, USD.
    pub cost_usd: f64,
}

impl Metrics {
    /// Counts a protocol error sent to a client.
    pub fn error(&self, code: &'static str) {
        *self.errors.lock().entry(code).or_default() += 1;
    }

    /// Counts one LLM call.
    pub fn llm_call(&self, call: &LlmCall<'_>) {
        let lane_name = LANES.get(call.lane).copied().unwrap_or("bulk");
        *self
            .llm_calls
            .lock()
            .entry((lane_name, call.outcome))
            .or_default() += 1;
        if let Some(h) = self.llm_queue_wait.get(call.lane) {
            h.observe(call.queue_wait);
        }
        let mut models = self.llm_models.lock();
        let series = models
            .entry((call.provider.to_owned(), call.model.to_owned()))
            .or_default();
        series.calls += 1;
        series.prompt_tokens += call.prompt_tokens;
        series.completion_tokens += call.completion_tokens;
        series.cost_usd += call.cost_usd;
        series.latency.observe(call.latency);
    }

    /// The per-model LLM series and the executor's state (structured-output
    /// mode, downgrades, daily spend), in the Prometheus text format.
    pub fn render_llm(&self, executor: Option<&ai_players::executor::Executor>) -> String {
        let mut out = String::new();
        let models = self.llm_models.lock();
        let label = |(p, m): &(String, String)| format!("provider=\"{}\",model=\"{}\"", escape(p), escape(m));
        let _ = writeln!(
            out,
            "# HELP showdown_llm_model_calls_total LLM calls by provider and model.\n# TYPE showdown_llm_model_calls_total counter"
        );
        for (key, s) in models.iter() {
            let _ = writeln!(
                out,
                "showdown_llm_model_calls_total{{{}}} {}",
                label(key),
                s.calls
            );
        }
        let _ = writeln!(
            out,
            "# HELP showdown_llm_tokens_total LLM tokens by provider, model and kind (prompt or completion).\n# TYPE showdown_llm_tokens_total counter"
        );
        for (key, s) in models.iter() {
            let l = label(key);
            let _ = writeln!(
                out,
                "showdown_llm_tokens_total{{{l},kind=\"prompt\"}} {}",
                s.prompt_tokens
            );
            let _ = writeln!(
                out,
                "showdown_llm_tokens_total{{{l},kind=\"completion\"}} {}",
                s.completion_tokens
            );
        }
        let _ = writeln!(
            out,
            "# HELP showdown_llm_cost_usd_total LLM cost by provider and model, USD.\n# TYPE showdown_llm_cost_usd_total counter"
        );
        for (key, s) in models.iter() {
            let _ = writeln!(
                out,
                "showdown_llm_cost_usd_total{{{}}} {}",
                label(key),
                s.cost_usd
            );
        }
        let _ = writeln!(
            out,
            "# HELP showdown_llm_latency_seconds LLM call latency by provider and model.\n# TYPE showdown_llm_latency_seconds histogram"
        );
        for (key, s) in models.iter() {
            s.latency
                .render(&mut out, "showdown_llm_latency_seconds", &label(key));
        }
        drop(models);
        let Some(executor) = executor else {
            return out;
        };
        let _ = writeln!(
            out,
            "# HELP showdown_llm_structured_output The structured-output mode each model is asked with now (1 for the mode in use).\n# TYPE showdown_llm_structured_output gauge"
        );
        for key in executor.models() {
            if let Some(mode) = executor.structured_output(&key.0, &key.1) {
                let _ = writeln!(
                    out,
                    "showdown_llm_structured_output{{{},mode=\"{}\"}} 1",
                    label(&key),
                    mode.name()
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP showdown_llm_format_downgrades_total Times `auto` stepped a model down to a simpler structured-output mode.\n# TYPE showdown_llm_format_downgrades_total counter"
        );
        for key in executor.models() {
            let n = executor.format_downgrades(&key.0, &key.1);
            let _ = writeln!(out, "showdown_llm_format_downgrades_total{{{}}} {n}", label(&key));
        }
        let _ = writeln!(
            out,
            "# HELP showdown_llm_spent_today_usd LLM spending since 00:00 UTC, USD.\n# TYPE showdown_llm_spent_today_usd gauge\nshowdown_llm_spent_today_usd {}",
            executor.spent_today()
        );
        if let Some(budget) = executor.daily_budget_usd() {
            let _ = writeln!(
                out,
                "# HELP showdown_llm_daily_budget_usd The daily LLM budget, USD.\n# TYPE showdown_llm_daily_budget_usd gauge\nshowdown_llm_daily_budget_usd {budget}"
            );
        }
        out
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
            "showdown_lease_claims_total",
            "Cluster: table leases claimed to load a table.",
            load(&self.lease_claims),
        );
        counter(
            &mut out,
            "showdown_lease_adoptions_total",
            "Cluster: orphaned tables (a dead node's, or handed off) taken over.",
            load(&self.lease_adoptions),
        );
        counter(
            &mut out,
            "showdown_lease_fenced_total",
            "Cluster: tables stopped because this node lost their lease.",
            load(&self.lease_fenced),
        );
        counter(
            &mut out,
            "showdown_lease_handoffs_total",
            "Cluster: tables handed to peers at shutdown.",
            load(&self.lease_handoffs),
        );
        gauge(
            &mut out,
            "showdown_mirrors",
            "Cluster: mirrors of tables other nodes own, held for this node's clients.",
            self.mirrors_live.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "showdown_mirror_catchups_total",
            "Cluster: times a mirror read its table's log from the store.",
            load(&self.mirror_catchups),
        );
        counter(
            &mut out,
            "showdown_mirror_backfilled_events_total",
            "Cluster: events mirrors had to read from the store (missed on Redis).",
            load(&self.mirror_backfilled),
        );
        gauge(
            &mut out,
            "showdown_mirror_lag_ms",
            "Cluster: last time from an event's commit on its owner to its delivery by a mirror here.",
            i64::try_from(load(&self.mirror_lag_ms)).unwrap_or(i64::MAX),
        );
        let _ = writeln!(
            out,
            "# HELP showdown_forwarded_total Cluster: commands forwarded to the node that owns the table, by outcome.\n# TYPE showdown_forwarded_total counter\nshowdown_forwarded_total{{outcome=\"ok\"}} {}\nshowdown_forwarded_total{{outcome=\"failed\"}} {}",
            load(&self.forwarded_ok),
            load(&self.forwarded_failed),
        );
        counter(
            &mut out,
            "showdown_forwarded_served_total",
            "Cluster: commands other nodes forwarded to tables this node owns.",
            load(&self.forwarded_served),
        );
        gauge(
            &mut out,
            "showdown_node_member",
            "Cluster: 1 while this node's registration is valid.",
            self.node_member.load(Ordering::Relaxed),
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
            "# HELP showdown_forward_latency_seconds Cluster: from forwarding a command to the owner's answer.\n# TYPE showdown_forward_latency_seconds histogram"
        );
        self.forward_latency
            .render(&mut out, "showdown_forward_latency_seconds", "");
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
        let _ = writeln!(
            out,
            "# HELP showdown_store_tracked_tables Tables whose log position the event writer keeps (pruned when a table leaves memory or idles).\n# TYPE showdown_store_tracked_tables gauge\nshowdown_store_tracked_tables{{backend=\"{backend}\"}} {}",
            store.tracked_tables
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
        m.llm_call(&LlmCall {
            provider: "mock",
            model: "m\"1",
            lane: 0,
            outcome: "ok",
            queue_wait: Duration::from_millis(3),
            latency: Duration::from_millis(40),
            prompt_tokens: 100,
            completion_tokens: 7,
            cost_usd: 0.5,
        });
        let llm = m.render_llm(None);
        assert!(
            llm.contains(
                "showdown_llm_tokens_total{provider=\"mock\",model=\"m\\\"1\",kind=\"completion\"} 7"
            ),
            "{llm}"
        );
        assert!(
            llm.contains("showdown_llm_cost_usd_total{provider=\"mock\",model=\"m\\\"1\"} 0.5"),
            "{llm}"
        );
        assert!(
            llm.contains(
                "showdown_llm_latency_seconds_bucket{provider=\"mock\",model=\"m\\\"1\",le=\"0.05\"} 1"
            ),
            "{llm}"
        );
        let text = m.render(schema::WriterStats::default(), "sqlite");
        assert!(text.contains("showdown_events_total 3"));
        assert!(text.contains("showdown_protocol_errors_total{code=\"rate_limited\"} 1"));
        assert!(text.contains("showdown_llm_calls_total{lane=\"live\",outcome=\"ok\"} 1"));
        assert!(text.contains("showdown_llm_queue_wait_seconds_bucket{lane=\"live\",le=\"0.005\"} 1"));
        assert!(text.contains("showdown_llm_queue_wait_seconds_bucket{lane=\"live\",le=\"0.002\"} 0"));
    }
}
