//! The time a simulated model takes: log-normal, like real response times
//! (a bulk near the median, a long right tail), fitted to a median and p99.

use std::time::Duration;

use game_core::sim::SplitMix64;

use super::config::Latency;

/// z-score of the 99th percentile of the standard normal distribution.
const Z_99: f64 = 2.326_347_874_040_841;

/// A draw is capped at ten times the p99 so one freak draw cannot stall a test.
const TAIL_CAP: f64 = 10.0;

/// A uniform number in (0, 1].
pub(crate) fn unit(rng: &mut SplitMix64) -> f64 {
    ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
}

/// A standard normal draw (Box-Muller).
fn standard_normal(rng: &mut SplitMix64) -> f64 {
    let (u1, u2) = (unit(rng), unit(rng));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Draws one delay: `median * exp(sigma * z)` with `sigma = ln(p99 / median) / z99`.
pub(crate) fn sample(latency: &Latency, rng: &mut SplitMix64) -> Duration {
    if latency.median_ms == 0 {
        return Duration::ZERO;
    }
    let median = latency.median_ms as f64;
    let p99 = (latency.p99_ms as f64).max(median);
    let sigma = (p99 / median).ln() / Z_99;
    let ms = (median * (sigma * standard_normal(rng)).exp()).min(p99 * TAIL_CAP);
    Duration::from_micros((ms * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_the_config() {
        let latency = Latency {
            median_ms: 1000,
            p99_ms: 3000,
        };
        let mut rng = SplitMix64::new(7);
        let mut draws: Vec<f64> = (0..20_000)
            .map(|_| sample(&latency, &mut rng).as_secs_f64())
            .collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[draws.len() / 2];
        let p99 = draws[draws.len() * 99 / 100];
        assert!((0.95..1.05).contains(&median), "median {median}");
        assert!((2.7..3.3).contains(&p99), "p99 {p99}");
    }

    #[test]
    fn fixed_and_zero_latency() {
        let mut rng = SplitMix64::new(1);
        let fixed = Latency {
            median_ms: 200,
            p99_ms: 0,
        };
        assert_eq!(sample(&fixed, &mut rng), Duration::from_millis(200));
        assert_eq!(sample(&Latency::default(), &mut rng), Duration::ZERO);
    }
}
