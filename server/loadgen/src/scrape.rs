//! The server's own counters, read from its Prometheus `/metrics` at the
//! start and the end of the measured window: what the store committed
//! (events, batches, failures), the hands played and the tables' waits for
//! durability at the end of each hand.

use std::collections::BTreeMap;

use serde::Serialize;

/// One reading of `/metrics`: every sample by its series (name and labels as written).
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    /// Parses the Prometheus text format (comments skipped, malformed lines ignored).
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((series.to_owned(), value.parse().ok()?))
            })
            .collect();
        Scrape { samples }
    }

    /// Fetches `base/metrics`.
    pub async fn fetch(http: &reqwest::Client, base: &str) -> Option<Scrape> {
        let response = http.get(format!("{base}/metrics")).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        Some(Scrape::parse(&response.text().await.ok()?))
    }

    /// The sum of every series named `name` (whatever its labels).
    fn total(&self, name: &str) -> f64 {
        self.samples
            .iter()
            .filter(|(series, _)| {
                series
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('{'))
            })
            .map(|(_, v)| v)
            .sum()
    }

    /// A histogram's cumulative buckets `(upper edge, count)`, in order.
    fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let prefix = format!("{name}_bucket{{");
        let mut buckets: Vec<(f64, f64)> = self
            .samples
            .iter()
            .filter_map(|(series, count)| {
                let labels = series.strip_prefix(&prefix)?;
                let le = labels.split("le=\"").nth(1)?.split('"').next()?;
                let edge = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((edge, *count))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets
    }
}

/// The store and the tables over the measured window, from the server's counters.
#[derive(Debug, Serialize)]
pub struct StoreRates {
    /// Events the tables applied, per second.
    pub events_applied_per_sec: f64,
    /// Events the event writer committed, per second.
    pub events_committed_per_sec: f64,
    /// Group commits per second.
    pub batches_per_sec: f64,
    /// Events per group commit.
    pub events_per_batch: Option<f64>,
    /// Group commits that failed in the window.
    pub failed_batches: f64,
    /// Hands finished per second.
    pub hands_per_sec: f64,
    /// A hand's wait at its end until its events were durable: median, seconds
    /// (upper edge of the histogram bucket).
    pub durable_wait_p50_secs: Option<f64>,
    /// The same, 99th percentile.
    pub durable_wait_p99_secs: Option<f64>,
}

const DURABLE_WAIT: &str = "showdown_store_durable_wait_seconds";

impl StoreRates {
    /// Rates between two readings `secs` apart.
    pub fn between(start: &Scrape, end: &Scrape, secs: f64) -> StoreRates {
        let diff = |name: &str| (end.total(name) - start.total(name)).max(0.0);
        let rate = |name: &str| if secs > 0.0 { diff(name) / secs } else { 0.0 };
        let batches = diff("showdown_store_batches_total");
        let committed = diff("showdown_store_events_total");
        let before = start.buckets(DURABLE_WAIT);
        let window: Vec<(f64, f64)> = end
            .buckets(DURABLE_WAIT)
            .into_iter()
            .map(|(edge, count)| {
                let earlier = before.iter().find(|(e, _)| *e == edge).map_or(0.0, |(_, c)| *c);
                (edge, (count - earlier).max(0.0))
            })
            .collect();
        StoreRates {
            events_applied_per_sec: rate("showdown_events_total"),
            events_committed_per_sec: rate("showdown_store_events_total"),
            batches_per_sec: rate("showdown_store_batches_total"),
            events_per_batch: (batches > 0.0).then(|| committed / batches),
            failed_batches: diff("showdown_store_failed_batches_total"),
            hands_per_sec: rate("showdown_hands_total"),
            durable_wait_p50_secs: quantile(&window, 0.5),
            durable_wait_p99_secs: quantile(&window, 0.99),
        }
    }
}

/// The upper edge of the bucket holding quantile `q` of cumulative buckets.
fn quantile(cumulative: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = cumulative.last()?.1;
    if total <= 0.0 {
        return None;
    }
    cumulative
        .iter()
        .find(|(_, count)| *count >= q * total)
        .map(|(edge, _)| *edge)
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str = "# HELP showdown_events_total Events.\n\
        showdown_events_total 1000\n\
        showdown_hands_total 20\n\
        showdown_store_batches_total{backend=\"sqlite\"} 10\n\
        showdown_store_events_total{backend=\"sqlite\"} 900\n\
        showdown_store_failed_batches_total{backend=\"sqlite\"} 0\n\
        showdown_store_durable_wait_seconds_bucket{le=\"0.001\"} 5\n\
        showdown_store_durable_wait_seconds_bucket{le=\"0.01\"} 15\n\
        showdown_store_durable_wait_seconds_bucket{le=\"+Inf\"} 20\n";

    const END: &str = "showdown_events_total 21000\n\
        showdown_events_total_extra 7\n\
        showdown_hands_total 520\n\
        showdown_store_batches_total{backend=\"sqlite\"} 110\n\
        showdown_store_events_total{backend=\"sqlite\"} 20900\n\
        showdown_store_failed_batches_total{backend=\"sqlite\"} 1\n\
        showdown_store_durable_wait_seconds_bucket{le=\"0.001\"} 105\n\
        showdown_store_durable_wait_seconds_bucket{le=\"0.01\"} 510\n\
        showdown_store_durable_wait_seconds_bucket{le=\"+Inf\"} 520\n\
        not a sample line\n";

    #[test]
    fn rates_and_wait_quantiles_come_from_the_window_only() {
        let rates = StoreRates::between(&Scrape::parse(START), &Scrape::parse(END), 10.0);
        assert_eq!(rates.events_applied_per_sec, 2_000.0);
        assert_eq!(rates.events_committed_per_sec, 2_000.0);
        assert_eq!(rates.batches_per_sec, 10.0);
        assert_eq!(rates.events_per_batch, Some(200.0));
        assert_eq!(rates.failed_batches, 1.0);
        assert_eq!(rates.hands_per_sec, 50.0);
        // In the window: 100 hands waited ≤ 1 ms, 395 more ≤ 10 ms, 5 longer.
        assert_eq!(rates.durable_wait_p50_secs, Some(0.01));
        assert_eq!(rates.durable_wait_p99_secs, Some(0.01));
        let end = Scrape::parse(&END.replace("le=\"+Inf\"} 520", "le=\"+Inf\"} 560"));
        let rates = StoreRates::between(&Scrape::parse(START), &end, 10.0);
        assert_eq!(rates.durable_wait_p99_secs, Some(f64::INFINITY));
    }
}
