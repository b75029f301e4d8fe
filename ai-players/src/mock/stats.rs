//! What the mock has done so far: lock-free counters, read as a
//! [`MockStats`] snapshot by tests, benchmarks and `GET /mock/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::config::Fault;

/// A snapshot of the counters. Each chat request ends in exactly one of
/// `ok`, `rate_limited`, `server_errors`, `overloaded`, `unauthorized`,
/// `bad_requests`, `timeouts`, `shutdown_aborts`, unless its client left first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MockStats {
    /// Chat requests received.
    pub received: u64,
    /// Answered 200 (faulty 200s included).
    pub ok: u64,
    /// Answered 429.
    pub rate_limited: u64,
    /// Answered 500.
    pub server_errors: u64,
    /// Answered 503 because too many were in flight, or by a forced overload.
    pub overloaded: u64,
    /// Answered 401.
    pub unauthorized: u64,
    /// Answered 400, 404 or 413.
    pub bad_requests: u64,
    /// Hanging requests that gave up by themselves (504).
    pub timeouts: u64,
    /// Requests ended by shutdown (503) while hanging or waiting.
    pub shutdown_aborts: u64,
    /// Requests that started hanging.
    pub hangs: u64,
    /// Faults injected, by kind (forced or drawn).
    pub faults: BTreeMap<Fault, u64>,
    /// Tokens charged to the TPM budgets (prompt estimate + `max_tokens`).
    pub tokens_charged: u64,
    /// Prompt tokens reported in `usage`.
    pub prompt_tokens: u64,
    /// Completion tokens reported in `usage`.
    pub completion_tokens: u64,
    /// Chat requests being handled now (queued, thinking or hanging).
    pub in_flight: u64,
    /// The most chat requests ever in flight at once.
    pub max_in_flight: u64,
}

/// The live counters behind [`MockStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub received: AtomicU64,
    pub ok: AtomicU64,
    pub rate_limited: AtomicU64,
    pub server_errors: AtomicU64,
    pub overloaded: AtomicU64,
    pub unauthorized: AtomicU64,
    pub bad_requests: AtomicU64,
    pub timeouts: AtomicU64,
    pub shutdown_aborts: AtomicU64,
    pub hangs: AtomicU64,
    pub faults: [AtomicU64; Fault::ALL.len()],
    pub tokens_charged: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// Counts a request as in flight until dropped (also when the client leaves
/// and the handler's future is dropped mid-way).
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a Counters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Counters {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Enters a request unless `limit` are already in flight.
    pub fn enter(&self, limit: Option<usize>) -> Option<InFlight<'_>> {
        let now = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        let guard = InFlight(self);
        if limit.is_some_and(|limit| now > limit as u64) {
            return None;
        }
        self.max_in_flight.fetch_max(now, Ordering::AcqRel);
        Some(guard)
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> MockStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MockStats {
            received: get(&self.received),
            ok: get(&self.ok),
            rate_limited: get(&self.rate_limited),
            server_errors: get(&self.server_errors),
            overloaded: get(&self.overloaded),
            unauthorized: get(&self.unauthorized),
            bad_requests: get(&self.bad_requests),
            timeouts: get(&self.timeouts),
            shutdown_aborts: get(&self.shutdown_aborts),
            hangs: get(&self.hangs),
            faults: Fault::ALL
                .iter()
                .map(|&f| (f, get(&self.faults[f.index()])))
                .filter(|&(_, n)| n > 0)
                .collect(),
            tokens_charged: get(&self.tokens_charged),
            prompt_tokens: get(&self.prompt_tokens),
            completion_tokens: get(&self.completion_tokens),
            in_flight: get(&self.in_flight),
            max_in_flight: get(&self.max_in_flight),
        }
    }
}

impl MockStats {
    /// How many times `fault` was injected.
    pub fn fault(&self, fault: Fault) -> u64 {
        self.faults.get(&fault).copied().unwrap_or(0)
    }
}
