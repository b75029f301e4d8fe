//! One model's gate: its request and token budgets, its in-flight slots and
//! the priority queues of calls waiting for them.
//!
//! Calls wait in one bounded queue per lane; a driver task grants capacity
//! in strict lane order (`live`, then `watched`, then `bulk`) whenever some
//! frees up or a budget refills. `bulk` calls must leave a reserve of the
//! request budget, the token budget and the slots untouched, so a `live`
//! call that arrives while experiments saturate the provider starts at once.
//! The provider's own view (its `x-ratelimit-*` headers, `Retry-After`)
//! lowers the local budgets and pauses sending when it says so.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot};
use tokio::time::{Duration, Instant};

use super::headers::RateLimitInfo;
use crate::agent::Lane;

/// A continuously refilled budget (requests or tokens per minute).
#[derive(Debug)]
struct Bucket {
    capacity: f64,
    level: f64,
    per_sec: f64,
    updated: Instant,
}

impl Bucket {
    /// `per_minute` units a minute, bursting up to `burst_secs` worth.
    fn new(per_minute: f64, burst_secs: f64, now: Instant) -> Bucket {
        let per_sec = per_minute / 60.0;
        let capacity = (per_sec * burst_secs).max(1.0);
        Bucket {
            capacity,
            level: capacity,
            per_sec,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.updated).as_secs_f64();
        self.level = (self.level + dt * self.per_sec).min(self.capacity);
        self.updated = now;
    }

    /// When `need` units will be available (now if they are).
    fn ready_at(&self, need: f64, now: Instant) -> Instant {
        if self.level >= need {
            now
        } else {
            now + Duration::from_secs_f64(((need - self.level) / self.per_sec).min(3600.0))
        }
    }
}

/// A model's limits as the gate applies them.
#[derive(Clone, Debug)]
pub struct GateLimits {
    /// Requests per minute (0 = no limit).
    pub rpm: u32,
    /// Tokens per minute (0 = no limit).
    pub tpm: u64,
    /// Calls in flight.
    pub max_in_flight: usize,
    /// Share of every budget `bulk` may not use.
    pub live_reserve: f64,
    /// Most calls waiting in any one lane.
    pub max_queued: usize,
}

/// Seconds of budget the local buckets may spend at once. Real providers
/// smooth their per-minute limits over shorter windows, so a full minute's
/// burst would just earn 429s.
const BURST_SECS: f64 = 6.0;

struct Waiter {
    tokens: u64,
    tx: oneshot::Sender<Permit>,
}

struct State {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    in_flight: usize,
    paused_until: Option<Instant>,
    queues: [VecDeque<Waiter>; 3],
}

/// Why a call could not join the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueFull {
    /// The lane's queue is at its bound.
    Full,
}

/// One model's budgets and waiting calls. Cheap to share (`Arc`); the lock is
/// held for bookkeeping only, never across an `.await`.
pub struct Gate {
    state: Mutex<State>,
    limits: GateLimits,
    /// Shared with the driver, which must not keep the gate itself alive.
    wake: Arc<Notify>,
}

/// The right to make one call: an in-flight slot, returned on drop.
pub struct Permit {
    gate: Arc<Gate>,
    /// Tokens debited for this call, to be corrected by the reply's usage.
    pub reserved_tokens: u64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.state.lock().in_flight -= 1;
        self.gate.wake.notify_one();
    }
}

impl Gate {
    /// A gate with these limits; spawns its driver on the current runtime.
    /// The driver ends when the last `Arc<Gate>` is dropped.
    pub fn start(limits: GateLimits) -> Arc<Gate> {
        let now = Instant::now();
        let gate = Arc::new(Gate {
            state: Mutex::new(State {
                requests: (limits.rpm > 0).then(|| Bucket::new(f64::from(limits.rpm), BURST_SECS, now)),
                tokens: (limits.tpm > 0).then(|| Bucket::new(limits.tpm as f64, BURST_SECS, now)),
                in_flight: 0,
                paused_until: None,
                queues: Default::default(),
            }),
            limits,
            wake: Arc::new(Notify::new()),
        });
        tokio::spawn(drive(Arc::downgrade(&gate), Arc::clone(&gate.wake)));
        gate
    }

    /// Joins the lane's queue for a call needing `tokens`; the receiver
    /// yields a [`Permit`] when capacity is granted. Dropping the receiver
    /// leaves the queue (a granted permit is then returned at once).
    pub fn enqueue(&self, lane: Lane, tokens: u64) -> Result<oneshot::Receiver<Permit>, QueueFull> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.state.lock();
            let queue = &mut state.queues[lane.index()];
            if queue.len() >= self.limits.max_queued {
                // Callers that gave up (deadline, cancelled) still hold places.
                queue.retain(|w| !w.tx.is_closed());
                if queue.len() >= self.limits.max_queued {
                    return Err(QueueFull::Full);
                }
            }
            queue.push_back(Waiter { tokens, tx });
        }
        self.wake.notify_one();
        Ok(rx)
    }

    /// Calls waiting, per lane.
    pub fn queued(&self) -> [usize; 3] {
        let state = self.state.lock();
        [
            state.queues[0].len(),
            state.queues[1].len(),
            state.queues[2].len(),
        ]
    }

    /// Calls in flight.
    pub fn in_flight(&self) -> usize {
        self.state.lock().in_flight
    }

    /// Takes in what the provider said about its budgets. `rate_limited`
    /// means it answered 429 (or 503 for a local server): sending pauses
    /// until it says (or for `fallback_pause` if it did not say).
    pub fn observe(&self, info: &RateLimitInfo, rate_limited: bool, fallback_pause: Duration) {
        let now = Instant::now();
        let mut state = self.state.lock();
        if let (Some(bucket), Some(remaining)) = (state.requests.as_mut(), info.remaining_requests) {
            bucket.refill(now);
            bucket.level = bucket.level.min(remaining as f64);
        }
        if let (Some(bucket), Some(remaining)) = (state.tokens.as_mut(), info.remaining_tokens) {
            bucket.refill(now);
            bucket.level = bucket.level.min(remaining as f64);
        }
        let mut pause = info.next_request_in();
        if rate_limited {
            // Retry-After is exact; without it, wait until one request fits
            // again, or back off when the provider said nothing at all.
            let said = info.retry_after.or(pause).unwrap_or(fallback_pause);
            pause = Some(pause.map_or(said, |p| p.max(said)));
            if let Some(bucket) = state.requests.as_mut() {
                bucket.level = bucket.level.min(0.0);
            }
        }
        if let Some(pause) = pause {
            let until = now + pause;
            state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
        }
        drop(state);
        self.wake.notify_one();
    }

    /// Gives back tokens reserved for a call that used fewer (or takes more).
    pub fn correct_tokens(&self, reserved: u64, used: u64) {
        let mut state = self.state.lock();
        if let Some(bucket) = state.tokens.as_mut() {
            bucket.level = (bucket.level + reserved as f64 - used as f64).min(bucket.capacity);
        }
        drop(state);
        self.wake.notify_one();
    }

    /// Grants capacity to waiting calls in lane order; returns when capacity
    /// may next become available by time alone (a refill or a pause ending).
    fn pump(self: &Arc<Gate>) -> Option<Instant> {
        let now = Instant::now();
        let mut state = self.state.lock();
        if let Some(b) = state.requests.as_mut() {
            b.refill(now);
        }
        if let Some(b) = state.tokens.as_mut() {
            b.refill(now);
        }
        match state.paused_until {
            Some(until) if until > now => return Some(until),
            Some(_) => state.paused_until = None,
            None => {}
        }
        for lane in Lane::ALL {
            let reserve = if lane == Lane::Bulk {
                self.limits.live_reserve
            } else {
                0.0
            };
            loop {
                let queue = &mut state.queues[lane.index()];
                let Some(front) = queue.front() else { break };
                if front.tx.is_closed() {
                    queue.pop_front();
                    continue;
                }
                let tokens = front.tokens as f64;
                let slots_kept = (self.limits.max_in_flight as f64 * reserve).floor() as usize;
                if state.in_flight + slots_kept >= self.limits.max_in_flight {
                    return None; // a slot must free up first: its drop wakes the driver
                }
                let mut ready = now;
                if let Some(b) = &state.requests {
                    ready = ready.max(b.ready_at(1.0 + b.capacity * reserve, now));
                }
                if let Some(b) = &state.tokens {
                    // A call larger than the whole burst waits for a full bucket.
                    let need = (tokens + b.capacity * reserve).min(b.capacity);
                    ready = ready.max(b.ready_at(need, now));
                }
                if ready > now {
                    // Strict priority: lower lanes never overtake this call.
                    return Some(ready);
                }
                let Some(waiter) = state.queues[lane.index()].pop_front() else {
                    break;
                };
                if let Some(b) = state.requests.as_mut() {
                    b.level -= 1.0;
                }
                if let Some(b) = state.tokens.as_mut() {
                    b.level -= tokens;
                }
                state.in_flight += 1;
                let permit = Permit {
                    gate: Arc::clone(self),
                    reserved_tokens: waiter.tokens,
                };
                // If the caller left just now, the permit comes back through
                // its drop, which needs the lock: release it first.
                if let Err(permit) = waiter.tx.send(permit) {
                    drop(state);
                    drop(permit);
                    state = self.state.lock();
                }
            }
        }
        None
    }
}

/// The gate's driver: grants capacity whenever something changes or a
/// budget refills, until the gate is dropped.
async fn drive(gate: Weak<Gate>, wake: Arc<Notify>) {
    loop {
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let next = match gate.upgrade() {
            Some(strong) => strong.pump(),
            None => return,
        };
        // Without a time to wait for, re-check now and then so that a
        // dropped gate ends its driver.
        let at = next.unwrap_or_else(|| Instant::now() + Duration::from_secs(5));
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(at) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rpm: u32, slots: usize) -> GateLimits {
        GateLimits {
            rpm,
            tpm: 0,
            max_in_flight: slots,
            live_reserve: 0.25,
            max_queued: 1000,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn live_is_served_before_queued_bulk() {
        let gate = Gate::start(limits(0, 4));
        // Fill the bulk share of the slots (3 of 4: one is kept for live).
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(gate.enqueue(Lane::Bulk, 1).unwrap().await.unwrap());
        }
        let mut bulk: Vec<_> = (0..100).map(|_| gate.enqueue(Lane::Bulk, 1).unwrap()).collect();
        tokio::task::yield_now().await;
        assert_eq!(
            gate.queued()[Lane::Bulk.index()],
            100,
            "bulk may not take the reserved slot"
        );
        let live = gate.enqueue(Lane::Live, 1).unwrap();
        let permit = tokio::time::timeout(Duration::from_millis(10), live).await;
        assert!(
            matches!(permit, Ok(Ok(_))),
            "live takes the reserved slot at once"
        );
        drop(held.pop());
        tokio::task::yield_now().await;
        assert_eq!(
            gate.queued()[Lane::Bulk.index()],
            100,
            "bulk still leaves the reserve free"
        );
        drop(permit);
        let first = bulk.remove(0);
        assert!(
            tokio::time::timeout(Duration::from_millis(10), first)
                .await
                .is_ok()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn request_budget_paces_calls() {
        let gate = Gate::start(limits(60, 100)); // one a second, burst of 6
        let start = Instant::now();
        for _ in 0..12 {
            let permit = gate.enqueue(Lane::Live, 1).unwrap().await.unwrap();
            drop(permit);
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(5) && took <= Duration::from_secs(7),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn token_budget_paces_calls_and_unused_tokens_come_back() {
        // 6,000 tokens a minute: 100 a second, a burst of 600.
        let gate = Gate::start(GateLimits {
            rpm: 0,
            tpm: 6_000,
            ..limits(0, 100)
        });
        let start = Instant::now();
        for _ in 0..3 {
            drop(gate.enqueue(Lane::Live, 300).unwrap().await.unwrap());
        }
        // 900 tokens: the 600 burst, then 300 more at 100 a second.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(2900) && took <= Duration::from_millis(3100),
            "{took:?}"
        );
        // A call that reserved 300 but used 50 gives 250 back at once.
        let permit = gate.enqueue(Lane::Live, 300).unwrap().await.unwrap();
        gate.correct_tokens(permit.reserved_tokens, 50);
        drop(permit);
        let start = Instant::now();
        drop(gate.enqueue(Lane::Live, 250).unwrap().await.unwrap());
        assert!(
            start.elapsed() < Duration::from_millis(10),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_everyone() {
        let gate = Gate::start(limits(0, 10));
        let info = RateLimitInfo {
            retry_after: Some(Duration::from_secs(3)),
            ..RateLimitInfo::default()
        };
        gate.observe(&info, true, Duration::from_secs(1));
        let start = Instant::now();
        drop(gate.enqueue(Lane::Live, 1).unwrap().await.unwrap());
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn queues_are_bounded_and_leaving_frees_the_place() {
        let gate = Gate::start(GateLimits {
            max_queued: 2,
            ..limits(0, 1)
        });
        let held = gate.enqueue(Lane::Bulk, 1).unwrap();
        let _held = held.await;
        let a = gate.enqueue(Lane::Live, 1).unwrap();
        let _b = gate.enqueue(Lane::Live, 1).unwrap();
        assert!(gate.enqueue(Lane::Live, 1).is_err());
        drop(a);
        drop(_held);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(
            gate.in_flight(),
            1,
            "the abandoned call's place went to the next one"
        );
    }
}
