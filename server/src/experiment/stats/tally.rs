//! The exact integer sums behind an agent's results (by big blind, and by
//! deal for the duplicate estimate), and the estimators read from them:
//! bb/100 with its 95% normal interval, and the duplicate-mode estimate.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde::{Deserialize, Serialize};

use super::hand::SeatHand;
use super::report::{AgentCounters, AgentResult, DuplicateEstimate};

/// The normal quantile of a two-sided 95% interval.
const Z95: f64 = 1.96;

/// An agent's net results on one deal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct DealNet {
    hands: u64,
    net: i64,
}

/// An agent's net results at one big blind. Results in big blinds are
/// computed from these exact sums.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct LevelTally {
    hands: u64,
    net: i128,
    net_squared: u128,
    /// Per deal id; empty when deals are not tracked.
    deals: BTreeMap<u64, DealNet>,
}

impl LevelTally {
    #[inline]
    pub(super) fn record(&mut self, deal: Option<u64>, hand: &SeatHand) {
        self.hands = self.hands.saturating_add(1);
        self.net = self.net.saturating_add(i128::from(hand.net));
        let magnitude = u128::from(hand.net.unsigned_abs());
        self.net_squared = self.net_squared.saturating_add(magnitude * magnitude);
        if let Some(deal) = deal {
            let net = self.deals.entry(deal).or_default();
            net.hands = net.hands.saturating_add(1);
            net.net = net.net.saturating_add(hand.net);
        }
    }

    fn merge(&mut self, other: LevelTally) {
        self.hands = self.hands.saturating_add(other.hands);
        self.net = self.net.saturating_add(other.net);
        self.net_squared = self.net_squared.saturating_add(other.net_squared);
        for (deal, net) in other.deals {
            let mine = self.deals.entry(deal).or_default();
            mine.hands = mine.hands.saturating_add(net.hands);
            mine.net = mine.net.saturating_add(net.net);
        }
    }
}

/// Everything known about one agent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AgentTally {
    pub(super) counters: AgentCounters,
    /// By big blind: a single entry in a fixed-blind experiment. A deal id is
    /// scoped to its big blind.
    levels: BTreeMap<u64, LevelTally>,
}

impl AgentTally {
    pub(super) fn record(&mut self, big_blind: u64, deal: Option<u64>, hand: &SeatHand) {
        self.counters.add_hand(hand);
        self.levels.entry(big_blind).or_default().record(deal, hand);
    }

    pub(super) fn merge(&mut self, other: AgentTally) {
        self.counters.merge(&other.counters);
        for (big_blind, level) in other.levels {
            self.merge_level(big_blind, level);
        }
    }

    pub(super) fn merge_level(&mut self, big_blind: u64, level: LevelTally) {
        match self.levels.entry(big_blind) {
            Entry::Vacant(slot) => {
                slot.insert(level);
            }
            Entry::Occupied(mut slot) => slot.get_mut().merge(level),
        }
    }

    pub(super) fn forget_deals(&mut self) {
        for level in self.levels.values_mut() {
            level.deals.clear();
        }
    }

    pub(super) fn net_chips(&self) -> i128 {
        self.levels
            .values()
            .map(|level| level.net)
            .fold(0, i128::saturating_add)
    }

    pub(super) fn result(&self, agent: &str, track_deals: bool) -> AgentResult {
        let c = self.counters;
        let (mut hands, mut sum, mut sum_squared) = (0u64, 0.0, 0.0);
        for (&big_blind, level) in &self.levels {
            let bb = big_blind as f64;
            hands = hands.saturating_add(level.hands);
            sum += level.net as f64 / bb;
            sum_squared += level.net_squared as f64 / (bb * bb);
        }
        AgentResult {
            agent: agent.to_owned(),
            hands: c.hands,
            net_chips: saturate_i64(self.net_chips()),
            bb_per_100: ratio(sum, hands as f64).map_or(0.0, |mean| 100.0 * mean),
            bb_per_100_ci95: ci95(hands, sum, sum_squared),
            duplicate: if track_deals { self.duplicate() } else { None },
            vpip: ratio(c.vpip as f64, c.hands as f64).unwrap_or(0.0),
            pfr: ratio(c.pfr as f64, c.hands as f64).unwrap_or(0.0),
            aggression_factor: ratio(c.postflop_bets_raises as f64, c.postflop_calls as f64),
            went_to_showdown: ratio(c.showdowns as f64, c.saw_flop as f64),
            won_at_showdown: ratio(c.showdowns_won as f64, c.showdowns as f64),
            counters: c,
        }
    }

    /// See [`DuplicateEstimate`]. Two passes over the stored deals (mean,
    /// then squared deviations) keep the variance accurate.
    fn duplicate(&self) -> Option<DuplicateEstimate> {
        let per_hand = || {
            self.levels.iter().flat_map(|(&big_blind, level)| {
                level
                    .deals
                    .values()
                    .filter(|deal| deal.hands > 0)
                    .map(move |deal| deal.net as f64 / (big_blind as f64 * deal.hands as f64))
            })
        };
        let repeated = self
            .levels
            .values()
            .any(|level| level.deals.values().any(|deal| deal.hands > 1));
        if !repeated {
            return None;
        }
        let deals = per_hand().count() as u64;
        let mean = per_hand().sum::<f64>() / deals as f64;
        let ci95 = (deals >= 2).then(|| {
            let squares: f64 = per_hand().map(|y| (y - mean) * (y - mean)).sum();
            let half = Z95 * (squares / (deals - 1) as f64 / deals as f64).sqrt();
            [100.0 * (mean - half), 100.0 * (mean + half)]
        });
        Some(DuplicateEstimate {
            deals,
            bb_per_100: 100.0 * mean,
            ci95,
        })
    }
}

/// `numerator / denominator`, or `None` when the denominator is 0.
fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// The 95% normal interval of the mean, times 100, from the count, sum and
/// sum of squares of the samples; `None` below two samples.
fn ci95(n: u64, sum: f64, sum_squared: f64) -> Option<[f64; 2]> {
    if n < 2 {
        return None;
    }
    let n = n as f64;
    let mean = sum / n;
    // Cancellation is harmless here: per-hand results have a spread far
    // larger than their mean. Rounding may still leave a tiny negative.
    let variance = ((sum_squared - sum * mean) / (n - 1.0)).max(0.0);
    let half = Z95 * (variance / n).sqrt();
    Some([100.0 * (mean - half), 100.0 * (mean + half)])
}

pub(super) fn saturate_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}
