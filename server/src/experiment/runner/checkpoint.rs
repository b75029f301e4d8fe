//! Where a run stands ([`Checkpoint`], saved after every batch so a
//! stopped run resumes exactly), the winnings curve it carries
//! ([`Curve`]), and the [`Progress`] it reports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::experiment::llm_stats::LlmAgentStats;
use crate::experiment::stats::StatsAccumulator;

/// Where a run stands; saved after every batch.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every deal below this is played and written.
    pub next_deal: u64,
    /// Hands written.
    pub hands_done: u64,
    /// Statistics so far.
    pub stats: StatsAccumulator,
    /// Carried stacks per table, by agent index (`carry` mode).
    pub table_stacks: Vec<Vec<u64>>,
    /// Wall time spent in earlier sessions, ms.
    pub elapsed_ms: u64,
    /// LLM decisions per agent.
    pub llm: BTreeMap<String, LlmAgentStats>,
    /// LLM cost of earlier sessions, USD.
    pub cost_usd: f64,
    /// LLM tokens of earlier sessions.
    pub tokens: u64,
    /// Cumulative winnings per agent over hands, for charts.
    #[serde(default)]
    pub curve: Curve,
}

/// Most points a [`Curve`] keeps: when full, every other point is dropped
/// and the step between points doubles.
const CURVE_POINTS: usize = 1_024;

/// Cumulative net chips per agent, sampled every `step` hands (a bounded
/// number of points however long the run).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Agents, in order of first appearance.
    pub agents: Vec<String>,
    /// Hands between two points.
    pub step: u64,
    /// `(hands, net chips per agent)`, from `(0, zeros)`.
    pub points: Vec<(u64, Vec<i64>)>,
    /// Net chips per agent after the last recorded hand.
    running: Vec<i64>,
    /// Hands recorded.
    hands: u64,
}

impl Curve {
    /// The index of `agent` in `agents`, added (with no chips yet) if new:
    /// a caller looks a name up once and then uses
    /// [`Curve::record_indexed`].
    pub fn agent_index(&mut self, agent: &str) -> usize {
        match self.agents.iter().position(|a| a == agent) {
            Some(i) => i,
            None => {
                self.agents.push(agent.to_owned());
                self.running.push(0);
                self.agents.len() - 1
            }
        }
    }

    /// Adds one hand: `(agent index from Curve::agent_index, net chips)` per seat.
    pub fn record_indexed(&mut self, nets: impl IntoIterator<Item = (usize, i64)>) {
        self.start();
        for (i, net) in nets {
            self.running[i] += net;
        }
        self.end_hand();
    }

    fn start(&mut self) {
        if self.points.is_empty() {
            self.step = 1;
            self.points.push((0, Vec::new()));
        }
    }

    fn end_hand(&mut self) {
        self.hands += 1;
        if self.hands.is_multiple_of(self.step) {
            if self.points.len() >= CURVE_POINTS {
                let mut keep = 0;
                self.points.retain(|_| {
                    keep += 1;
                    keep % 2 == 1
                });
                self.step *= 2;
            }
            if self.hands.is_multiple_of(self.step) {
                self.points.push((self.hands, self.running.clone()));
            }
        }
    }

    /// The points, each padded to every agent, plus the last hand if it
    /// falls between two points.
    pub fn to_json(&self, big_blind: u64) -> serde_json::Value {
        let n = self.agents.len();
        let pad = |net: &[i64]| {
            let mut v = net.to_vec();
            v.resize(n, 0);
            v
        };
        let mut points: Vec<serde_json::Value> = self
            .points
            .iter()
            .map(|(hands, net)| serde_json::json!({"hands": hands, "net": pad(net)}))
            .collect();
        if self.points.last().is_some_and(|(h, _)| *h != self.hands) {
            points.push(serde_json::json!({"hands": self.hands, "net": pad(&self.running)}));
        }
        serde_json::json!({"agents": self.agents, "big_blind": big_blind, "points": points})
    }
}

/// Progress, for the CLI's bar and the API.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Progress {
    /// Hands done.
    pub hands_done: u64,
    /// Hands planned.
    pub hands_total: u64,
    /// Hands per second in this session.
    pub hands_per_sec: f64,
    /// Estimated seconds left.
    pub eta_secs: Option<f64>,
    /// LLM cost so far, USD.
    pub cost_usd: f64,
    /// LLM tokens so far.
    pub tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::{CURVE_POINTS, Curve};

    #[test]
    fn curve_keeps_exact_sums_at_bounded_points() {
        let mut curve = Curve::default();
        let hands = 5_000u64;
        for h in 1..=hands {
            let net = i64::try_from(h % 7).unwrap_or(0) - 3;
            let (a, b) = (curve.agent_index("a"), curve.agent_index("b"));
            curve.record_indexed([(a, net), (b, -net)]);
            if h == 10 {
                // A third agent joins late: earlier points have no entry for it.
                let c = curve.agent_index("c");
                curve.record_indexed([(c, 0)]);
            }
        }
        assert!(curve.points.len() <= CURVE_POINTS);
        assert!(curve.step.is_power_of_two() && curve.step > 1);
        let exact = |n: u64| -> i64 {
            // The hand recorded after hand 10 is agent c's alone.
            let played = if n > 10 { n - 1 } else { n };
            (1..=played).map(|h| i64::try_from(h % 7).unwrap_or(0) - 3).sum()
        };
        for (at, net) in &curve.points {
            assert_eq!(at % curve.step, 0);
            assert_eq!(net.first().copied().unwrap_or(0), exact(*at));
            assert_eq!(net.get(1).copied().unwrap_or(0), -exact(*at));
        }
        let json = curve.to_json(2);
        assert_eq!(json["agents"], serde_json::json!(["a", "b", "c"]));
        let points = json["points"].as_array().expect("points");
        let last = points.last().expect("a last point");
        assert_eq!(last["hands"], hands + 1);
        assert_eq!(last["net"][0], exact(hands + 1));
        assert!(
            points
                .iter()
                .all(|p| p["net"].as_array().map(Vec::len) == Some(3))
        );
    }
}
