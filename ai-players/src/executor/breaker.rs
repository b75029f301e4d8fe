//! A circuit breaker per provider: after repeated failures calls fail fast
//! (and agents fall back at once) instead of queueing for a dead endpoint;
//! after a cooldown one probe is let through, and its success closes it.

use parking_lot::Mutex;
use tokio::time::{Duration, Instant};

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Whether a call may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Normal operation.
    Allowed,
    /// The single probe after a cooldown.
    Probe,
    /// Open: fail fast.
    Rejected,
}

/// One provider's breaker. The lock is held for a few instructions, never
/// across an `.await`.
#[derive(Debug)]
pub struct CircuitBreaker {
    state: Mutex<State>,
    threshold: u32,
    cooldown: Duration,
}

impl CircuitBreaker {
    /// Opens after `threshold` consecutive failures, for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration) -> CircuitBreaker {
        CircuitBreaker {
            state: Mutex::new(State::Closed { failures: 0 }),
            threshold: threshold.max(1),
            cooldown,
        }
    }

    /// Asks to make a call now.
    pub fn admit(&self) -> Admission {
        let mut state = self.state.lock();
        match *state {
            State::Closed { .. } => Admission::Allowed,
            State::Open { until } if Instant::now() < until => Admission::Rejected,
            State::Open { .. } => {
                *state = State::HalfOpen { probing: true };
                Admission::Probe
            }
            State::HalfOpen { probing: true } => Admission::Rejected,
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                Admission::Probe
            }
        }
    }

    /// A call succeeded: the breaker closes.
    pub fn success(&self) {
        *self.state.lock() = State::Closed { failures: 0 };
    }

    /// A call failed in a way that counts (5xx, timeout, connection error).
    pub fn failure(&self) {
        let mut state = self.state.lock();
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            _ => State::Open {
                until: Instant::now() + self.cooldown,
            },
        };
    }

    /// A probe ended without a verdict (cancelled): let another probe try.
    pub fn probe_abandoned(&self) {
        let mut state = self.state.lock();
        if let State::HalfOpen { probing: true } = *state {
            *state = State::HalfOpen { probing: false };
        }
    }

    /// Whether calls currently fail fast.
    pub fn is_open(&self) -> bool {
        matches!(*self.state.lock(), State::Open { until } if Instant::now() < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_failures_and_a_successful_probe_closes_it() {
        let b = CircuitBreaker::new(3, Duration::from_secs(10));
        for _ in 0..2 {
            assert_eq!(b.admit(), Admission::Allowed);
            b.failure();
        }
        assert_eq!(b.admit(), Admission::Allowed);
        b.success(); // resets the count
        for _ in 0..3 {
            b.failure();
        }
        assert_eq!(b.admit(), Admission::Rejected);
        assert!(b.is_open());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(b.admit(), Admission::Probe);
        assert_eq!(b.admit(), Admission::Rejected, "one probe at a time");
        b.failure();
        assert_eq!(b.admit(), Admission::Rejected, "a failed probe reopens");
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(b.admit(), Admission::Probe);
        b.success();
        assert_eq!(b.admit(), Admission::Allowed);
    }
}
