//! What the load generator's connections count, shared between them without
//! locks on the hot path: atomic counters and an atomic latency histogram.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

/// Width of one latency bucket, in microseconds.
pub const BUCKET_US: u64 = 100;

/// Buckets from 0 to 60 s; slower deliveries land in the last one (the
/// maximum is kept exactly).
pub const BUCKETS: usize = 600_000;

/// Event delivery latencies, in buckets of [`BUCKET_US`].
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
    max_us: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max_us: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// Records one delivery that took `us` microseconds.
    pub fn record(&self, us: u64) {
        let index = usize::try_from(us / BUCKET_US)
            .unwrap_or(usize::MAX)
            .min(BUCKETS - 1);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The counts per bucket, and the largest value recorded.
    pub fn snapshot(&self) -> (Vec<u64>, u64) {
        let counts = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        (counts, self.max_us.load(Ordering::Relaxed))
    }
}

/// The `q` quantile (0 < q ≤ 1) of a histogram given as counts per bucket of
/// `width`: the upper edge of the bucket that holds the `ceil(q × n)`-th
/// smallest value, so the true quantile is at most this. `None` when empty.
pub fn quantile(counts: &[u64], width: u64, q: f64) -> Option<u64> {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return None;
    }
    // `n` is far below 2^53: the product is exact enough.
    let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0;
    for (index, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some((index as u64 + 1) * width);
        }
    }
    None
}

/// Everything the connections count. Rates are computed from two reads of
/// these counters, at the start and the end of the measured window.
#[derive(Default)]
pub struct Counters {
    /// Connections open now (after the handshake).
    pub open: AtomicU64,
    /// Most connections open at once.
    pub peak: AtomicU64,
    /// Handshakes completed.
    pub handshakes: AtomicU64,
    /// Connections that could not be opened.
    pub connect_errors: AtomicU64,
    /// Connections the server closed while the run was going on.
    pub dropped: AtomicU64,
    /// Frames and bytes received (WebSocket payloads, engine.io framing included).
    pub frames_in: AtomicU64,
    /// See `frames_in`.
    pub bytes_in: AtomicU64,
    /// Frames and bytes sent.
    pub frames_out: AtomicU64,
    /// See `frames_out`.
    pub bytes_out: AtomicU64,
    /// `event` messages received by any connection.
    pub events: AtomicU64,
    /// `act` messages sent by players.
    pub actions_sent: AtomicU64,
    /// Wire bytes of the `event` frames spectators received (the delta stream).
    pub spectator_event_bytes: AtomicU64,
    /// Number of those frames.
    pub spectator_event_frames: AtomicU64,
    /// `action_taken` events among them.
    pub spectator_actions: AtomicU64,
    /// Wire bytes of the snapshot probe's full snapshots.
    pub snapshot_bytes: AtomicU64,
    /// Number of those snapshots.
    pub snapshots: AtomicU64,
    /// Snapshots that arrived after the first on a connection that did not ask
    /// for one: the client fell behind the room's buffer.
    pub resyncs: AtomicU64,
    /// Whether latencies are being recorded (the measured window).
    pub measuring: AtomicBool,
    /// Event delivery latencies in the measured window.
    pub latency: LatencyHistogram,
    /// `error` messages by code.
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Failed connection attempts by reason.
    pub connect_failures: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A connection finished its handshake.
    pub fn opened(&self) {
        self.handshakes.fetch_add(1, Ordering::Relaxed);
        let now = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// A connection ended.
    pub fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts an `error` message.
    pub fn error(&self, code: &str) {
        *self.errors.lock().entry(code.to_owned()).or_default() += 1;
    }

    /// Counts a failed connection attempt.
    pub fn connect_failed(&self, reason: String) {
        Counters::bump(&self.connect_errors);
        *self.connect_failures.lock().entry(reason).or_default() += 1;
    }

    /// The traffic counters now, for rates over a window.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            frames_in: self.frames_in.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            frames_out: self.frames_out.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            actions: self.actions_sent.load(Ordering::Relaxed),
        }
    }
}

/// A reading of the traffic counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Traffic {
    /// Frames received.
    pub frames_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Frames sent.
    pub frames_out: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// `event` messages received.
    pub events: u64,
    /// Actions sent.
    pub actions: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_bucket_upper_edges_by_rank() {
        // Values 1..=100 ms, one per 1 ms bucket.
        let counts = vec![1u64; 100];
        assert_eq!(quantile(&counts, 1, 0.5), Some(50));
        assert_eq!(quantile(&counts, 1, 0.99), Some(99));
        assert_eq!(quantile(&counts, 1, 1.0), Some(100));
        assert_eq!(quantile(&[], 1, 0.5), None);
        assert_eq!(quantile(&[0, 0], 1, 0.5), None);
        // One slow outlier among 1,000 does not move p99.
        let mut skewed = vec![0u64; 10];
        skewed[0] = 999;
        skewed[9] = 1;
        assert_eq!(quantile(&skewed, 100, 0.99), Some(100));
        assert_eq!(quantile(&skewed, 100, 1.0), Some(1000));
    }

    #[test]
    fn histogram_clamps_and_keeps_the_exact_maximum() {
        let histogram = LatencyHistogram::default();
        histogram.record(0);
        histogram.record(250);
        histogram.record(u64::MAX / 2);
        let (counts, max) = histogram.snapshot();
        assert_eq!(counts[0], 1);
        assert_eq!(counts[2], 1);
        assert_eq!(counts[BUCKETS - 1], 1);
        assert_eq!(max, u64::MAX / 2);
        assert_eq!(quantile(&counts, BUCKET_US, 0.5), Some(300));
    }
}
