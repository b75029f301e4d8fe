//! OpenAI-style budgets: per model, a request bucket and a token bucket,
//! each with capacity = the per-window limit and refilled continuously.
//! A request is charged at arrival (1 request; prompt estimate + `max_tokens`
//! tokens) only if both buckets hold enough; a 429 costs nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::config::Limits;

/// Formats a duration like OpenAI's `x-ratelimit-reset-*` headers (Go's
/// duration syntax, rounded up to the millisecond): `0s`, `12ms`, `1s`,
/// `17.28s`, `1m30.5s`, `6m0s`, `1h0m0s`.
pub fn openai_duration(d: Duration) -> String {
    let ms = u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, frac) = (ms / 3_600_000, (ms / 60_000) % 60, (ms / 1000) % 60, ms % 1000);
    let secs = if frac == 0 {
        format!("{s}")
    } else {
        let frac = format!("{frac:03}");
        format!("{s}.{}", frac.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// One continuously refilled bucket.
#[derive(Clone, Debug)]
struct Bucket {
    capacity: f64,
    level: f64,
    per_sec: f64,
    updated: Instant,
}

impl Bucket {
    fn new(limit: u64, window: Duration, now: Instant) -> Bucket {
        let capacity = limit as f64;
        Bucket {
            capacity,
            level: capacity,
            per_sec: capacity / window.as_secs_f64(),
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.level = (self.level + elapsed * self.per_sec).min(self.capacity);
        self.updated = now;
    }

    /// Time until the bucket holds `amount`.
    fn wait_for(&self, amount: f64) -> Duration {
        let missing = amount - self.level;
        if missing <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(missing / self.per_sec)
        }
    }

    fn state(&self) -> Dimension {
        Dimension {
            limit: self.capacity as u64,
            remaining: self.level.max(0.0).floor() as u64,
            reset: self.wait_for(self.capacity),
        }
    }
}

/// One budget's state as its three headers tell it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Dimension {
    /// `x-ratelimit-limit-*`.
    pub limit: u64,
    /// `x-ratelimit-remaining-*`.
    pub remaining: u64,
    /// `x-ratelimit-reset-*`: until the bucket is full again.
    pub reset: Duration,
}

/// The state of a model's budgets after a request, for the headers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Headroom {
    pub requests: Option<Dimension>,
    pub tokens: Option<Dimension>,
}

/// Why a request did not fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Denial {
    /// No request left; one will be in `wait`.
    Requests { wait: Duration },
    /// Not enough tokens; `requested` will fit in `wait`.
    Tokens { wait: Duration, requested: u64 },
    /// The request needs more tokens than the bucket can ever hold.
    TooLarge { requested: u64 },
}

/// A 429: why, and the budgets' state for the headers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Refusal {
    pub denial: Denial,
    pub headroom: Headroom,
    pub omit_retry_after: f64,
}

/// One model's buckets.
#[derive(Clone, Debug)]
struct Budget {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    omit_retry_after: f64,
}

impl Budget {
    fn new(limits: &Limits, now: Instant) -> Budget {
        let window = Duration::from_millis(limits.window_ms.max(1));
        Budget {
            requests: limits.rpm.map(|l| Bucket::new(l, window, now)),
            tokens: limits.tpm.map(|l| Bucket::new(l, window, now)),
            omit_retry_after: limits.omit_retry_after,
        }
    }

    fn headroom(&self) -> Headroom {
        Headroom {
            requests: self.requests.as_ref().map(Bucket::state),
            tokens: self.tokens.as_ref().map(Bucket::state),
        }
    }

    fn try_charge(&mut self, tokens: u64, now: Instant) -> Result<Headroom, Refusal> {
        for bucket in [&mut self.requests, &mut self.tokens].into_iter().flatten() {
            bucket.refill(now);
        }
        let too_large = self.tokens.as_ref().is_some_and(|b| tokens as f64 > b.capacity);
        let denial = if too_large {
            Some(Denial::TooLarge { requested: tokens })
        } else if let Some(bucket) = self.requests.as_ref().filter(|b| b.level < 1.0) {
            Some(Denial::Requests {
                wait: bucket.wait_for(1.0),
            })
        } else {
            self.tokens
                .as_ref()
                .filter(|b| b.level < tokens as f64)
                .map(|bucket| Denial::Tokens {
                    wait: bucket.wait_for(tokens as f64),
                    requested: tokens,
                })
        };
        if let Some(denial) = denial {
            return Err(Refusal {
                denial,
                headroom: self.headroom(),
                omit_retry_after: self.omit_retry_after,
            });
        }
        if let Some(bucket) = &mut self.requests {
            bucket.level -= 1.0;
        }
        if let Some(bucket) = &mut self.tokens {
            bucket.level -= tokens as f64;
        }
        Ok(self.headroom())
    }

    fn refund(&mut self, tokens: u64, now: Instant) -> Headroom {
        if let Some(bucket) = &mut self.requests {
            bucket.refill(now);
            bucket.level = (bucket.level + 1.0).min(bucket.capacity);
        }
        if let Some(bucket) = &mut self.tokens {
            bucket.refill(now);
            bucket.level = (bucket.level + tokens as f64).min(bucket.capacity);
        }
        self.headroom()
    }
}

/// The budgets of every configured model, plus one shared by unknown models
/// (so the map cannot grow with the names clients make up).
#[derive(Debug)]
pub(crate) struct Budgets {
    models: BTreeMap<String, Budget>,
    others: Budget,
}

impl Budgets {
    /// Fresh (full) buckets for `models`, with `overrides` taking precedence.
    pub fn new(models: &[String], limits: &Limits, overrides: &BTreeMap<String, Limits>) -> Budgets {
        let now = Instant::now();
        let models = models
            .iter()
            .map(|m| (m.clone(), Budget::new(overrides.get(m).unwrap_or(limits), now)))
            .collect();
        Budgets {
            models,
            others: Budget::new(limits, now),
        }
    }

    fn budget(&mut self, model: &str) -> &mut Budget {
        self.models.get_mut(model).unwrap_or(&mut self.others)
    }

    /// Charges one request and `tokens` tokens to `model`, or says why not.
    pub fn try_charge(&mut self, model: &str, tokens: u64) -> Result<Headroom, Refusal> {
        self.budget(model).try_charge(tokens, Instant::now())
    }

    /// Gives back what [`Budgets::try_charge`] took (for a simulated 429).
    pub fn refund(&mut self, model: &str, tokens: u64) -> Headroom {
        self.budget(model).refund(tokens, Instant::now())
    }

    /// The current state of `model`'s budgets, without charging anything.
    #[cfg(test)]
    pub fn headroom(&mut self, model: &str) -> Headroom {
        let now = Instant::now();
        let budget = self.budget(model);
        for bucket in [&mut budget.requests, &mut budget.tokens].into_iter().flatten() {
            bucket.refill(now);
        }
        budget.headroom()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_look_like_openai() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_micros(1), "1ms"),
            (Duration::from_millis(12), "12ms"),
            (Duration::from_millis(999), "999ms"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(17_280), "17.28s"),
            (Duration::from_millis(90_500), "1m30.5s"),
            (Duration::from_secs(360), "6m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_micros(1_000_001), "1.001s"),
        ];
        for (d, text) in cases {
            assert_eq!(openai_duration(d), text, "{d:?}");
        }
    }

    fn limits(rpm: Option<u64>, tpm: Option<u64>) -> Limits {
        Limits {
            rpm,
            tpm,
            window_ms: 60_000,
            omit_retry_after: 0.0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn requests_bucket_refills_continuously() {
        let mut budgets = Budgets::new(&["m".to_owned()], &limits(Some(6), None), &BTreeMap::new());
        for left in (0..6).rev() {
            let headroom = budgets.try_charge("m", 10).expect("fits");
            let requests = headroom.requests.expect("limited");
            assert_eq!((requests.limit, requests.remaining), (6, left));
            assert!(headroom.tokens.is_none());
        }
        let refusal = budgets.try_charge("m", 10).expect_err("empty");
        assert_eq!(
            refusal.denial,
            Denial::Requests {
                wait: Duration::from_secs(10)
            }
        );
        assert_eq!(
            refusal.headroom.requests.map(|r| r.reset),
            Some(Duration::from_secs(60))
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        let headroom = budgets.try_charge("m", 10).expect("refilled");
        assert_eq!(headroom.requests.map(|r| r.remaining), Some(0));
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(budgets.headroom("m").requests.map(|r| r.remaining), Some(6));
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_bucket_denies_without_charging() {
        let mut budgets = Budgets::new(
            &["m".to_owned()],
            &limits(Some(100), Some(1000)),
            &BTreeMap::new(),
        );
        budgets.try_charge("m", 600).expect("fits");
        let refusal = budgets.try_charge("m", 600).expect_err("too few tokens");
        assert!(matches!(refusal.denial, Denial::Tokens { requested: 600, .. }));
        // The refused request charged nothing: 99 requests and 400 tokens left.
        let headroom = budgets.headroom("m");
        assert_eq!(headroom.requests.map(|r| r.remaining), Some(99));
        assert_eq!(headroom.tokens.map(|r| r.remaining), Some(400));
        let refusal = budgets.try_charge("m", 1001).expect_err("larger than the bucket");
        assert_eq!(refusal.denial, Denial::TooLarge { requested: 1001 });
        assert_eq!(budgets.refund("m", 600).tokens.map(|r| r.remaining), Some(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_models_share_one_budget() {
        let mut budgets = Budgets::new(&["a".to_owned()], &limits(Some(1), None), &BTreeMap::new());
        budgets.try_charge("a", 0).expect("a has its own");
        budgets.try_charge("x", 0).expect("others share one");
        assert!(budgets.try_charge("y", 0).is_err());
    }
}
