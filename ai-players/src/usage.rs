//! Usage records: every LLM call leaves one (tokens, cost, latency, queue
//! wait, retries, outcome), optionally with the prompt and the raw reply.
//! They go to a bounded sink that the store drains.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::agent::{CallContext, Lane, TokenUsage};

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// A reply arrived (whether or not it parsed is the agent's business).
    Ok,
    /// Served from the response cache: no provider call, no cost.
    Cached,
    /// The deadline passed (queued too long, or the provider too slow).
    Deadline,
    /// The breaker was open: failed fast.
    CircuitOpen,
    /// The queue was full: failed fast.
    Overloaded,
    /// 5xx, timeouts or connection errors until the retries ran out.
    ProviderError,
    /// The provider refused the request (4xx other than 429).
    Rejected,
    /// The caller went away.
    Cancelled,
}

impl CallOutcome {
    /// Name in records and metrics.
    pub fn name(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Cached => "cached",
            CallOutcome::Deadline => "deadline",
            CallOutcome::CircuitOpen => "circuit_open",
            CallOutcome::Overloaded => "overloaded",
            CallOutcome::ProviderError => "provider_error",
            CallOutcome::Rejected => "rejected",
            CallOutcome::Cancelled => "cancelled",
        }
    }
}

/// The prompt and raw reply of a call, kept when capture is on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// The request's messages as JSON.
    pub prompt: String,
    /// The reply's content (or the error body), as received.
    pub reply: Option<String>,
}

/// One LLM call, as accounted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Milliseconds since the Unix epoch when the call was requested.
    pub at_ms: u64,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Lane it ran in.
    pub lane: Lane,
    /// Tokens used (as reported by the provider's `usage`).
    pub tokens: TokenUsage,
    /// Cost in USD from the configured prices.
    pub cost_usd: f64,
    /// From request to reply (or failure), milliseconds.
    pub latency_ms: u64,
    /// Time spent waiting for capacity, milliseconds.
    pub queue_wait_ms: u64,
    /// Attempts after the first.
    pub retries: u32,
    /// 429 answers received along the way.
    pub rate_limited: u32,
    /// How it ended.
    pub outcome: CallOutcome,
    /// The last HTTP status seen, if any.
    pub status: Option<u16>,
    /// Where the cost is booked.
    pub context: CallContext,
    /// Prompt and reply, when capture is on.
    pub capture: Option<Capture>,
}

impl UsageRecord {
    /// A call requested now and not (yet) answered: no tokens, no cost,
    /// outcome `cancelled` until the call's end says otherwise.
    pub fn cancelled(
        provider: String,
        model: String,
        lane: Lane,
        context: CallContext,
        capture: bool,
    ) -> UsageRecord {
        UsageRecord {
            at_ms: now_ms(),
            provider,
            model,
            lane,
            tokens: TokenUsage::default(),
            cost_usd: 0.0,
            latency_ms: 0,
            queue_wait_ms: 0,
            retries: 0,
            rate_limited: 0,
            outcome: CallOutcome::Cancelled,
            status: None,
            context,
            capture: capture.then(|| Capture {
                prompt: String::new(),
                reply: None,
            }),
        }
    }
}

/// Where usage records go: a bounded channel. When the store falls behind,
/// records are dropped and counted, never buffered without bound.
#[derive(Clone, Debug)]
pub struct UsageSink {
    tx: Option<mpsc::Sender<UsageRecord>>,
    dropped: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
}

impl UsageSink {
    /// A sink holding at most `capacity` undrained records, and its receiving end.
    pub fn bounded(capacity: usize) -> (UsageSink, mpsc::Receiver<UsageRecord>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            UsageSink {
                tx: Some(tx),
                dropped: Arc::default(),
                sent: Arc::default(),
            },
            rx,
        )
    }

    /// A sink that discards everything (tests, tools).
    pub fn discard() -> UsageSink {
        UsageSink {
            tx: None,
            dropped: Arc::default(),
            sent: Arc::default(),
        }
    }

    /// Sends a record without waiting; drops it (and counts) if the sink is full.
    pub fn record(&self, record: UsageRecord) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(record) {
            Ok(()) => {
                self.sent.fetch_add(1, Ordering::Release);
            }
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records put in the channel so far (by every clone of this sink): a
    /// reader that has taken this many knows it has seen every record
    /// sent before it asked.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }

    /// Records dropped because the sink was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> UsageRecord {
        UsageRecord::cancelled("p".into(), "m".into(), Lane::Bulk, CallContext::default(), false)
    }

    #[test]
    fn sent_counts_what_reached_the_channel_from_every_clone() {
        let (sink, mut rx) = UsageSink::bounded(2);
        let clone = sink.clone();
        sink.record(record());
        clone.record(record());
        // Full: dropped and counted as such, not as sent.
        sink.record(record());
        assert_eq!((sink.sent(), clone.sent(), sink.dropped()), (2, 2, 1));
        assert!(rx.try_recv().is_ok());
        clone.record(record());
        assert_eq!((sink.sent(), sink.dropped()), (3, 1));
        // A discarding sink sends nothing and drops nothing.
        let discard = UsageSink::discard();
        discard.record(record());
        assert_eq!((discard.sent(), discard.dropped()), (0, 0));
    }
}
