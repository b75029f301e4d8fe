//! Per-agent statistics of LLM decisions: calls, fallbacks by reason,
//! tokens, and latency percentiles from a fixed log-scale histogram (so a
//! checkpoint stays small however many decisions a run makes).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One AI decision of an LLM seat, for statistics and the decisions file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Hand index in the run (from 0).
    pub hand: u64,
    /// Seat.
    pub seat: usize,
    /// Agent name.
    pub agent: String,
    /// `model` or `fallback`.
    pub source: String,
    /// The fallback's reason, if one acted.
    pub fallback_reason: Option<String>,
    /// The action played.
    pub action: game_core::Action,
    /// Time to decide, ms.
    pub latency_ms: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// The model's short reason.
    pub reason: Option<String>,
    /// The model that decided (`provider/model`), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Models of the agent's fallback chain that failed first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<ai_players::FailedStep>,
}

/// Histogram buckets: upper bounds grow by 25% from 1 ms; the last is open.
const BUCKETS: usize = 64;

fn bucket_of(ms: u64) -> usize {
    let mut bound = 1.0f64;
    for i in 0..BUCKETS - 1 {
        if (ms as f64) <= bound {
            return i;
        }
        bound *= 1.25;
    }
    BUCKETS - 1
}

fn bound_of(bucket: usize) -> u64 {
    (1.25f64.powi(bucket as i32)).ceil() as u64
}

/// What an LLM seat's decisions came to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmAgentStats {
    /// Decisions asked for.
    pub decisions: u64,
    /// Decisions the agent's own model made.
    pub model: u64,
    /// Decisions another model of its fallback chain made, by model.
    #[serde(default)]
    pub other_models: BTreeMap<String, u64>,
    /// Decisions a fallback bot made, by reason.
    pub fallbacks: BTreeMap<String, u64>,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    latency_hist: Vec<u64>,
}

impl LlmAgentStats {
    /// Counts one decision.
    pub fn record(&mut self, d: &DecisionRecord) {
        self.decisions += 1;
        match (&d.fallback_reason, d.steps.is_empty(), &d.model) {
            (Some(reason), _, _) => *self.fallbacks.entry(reason.clone()).or_default() += 1,
            (None, false, Some(model)) => *self.other_models.entry(model.clone()).or_default() += 1,
            _ => self.model += 1,
        }
        self.prompt_tokens += d.prompt_tokens;
        self.completion_tokens += d.completion_tokens;
        if self.latency_hist.len() != BUCKETS {
            self.latency_hist = vec![0; BUCKETS];
        }
        self.latency_hist[bucket_of(d.latency_ms)] += 1;
    }

    /// The latency at quantile `q` (0..1), ms: the bucket bound (within 25%).
    pub fn latency_ms(&self, q: f64) -> Option<u64> {
        let total: u64 = self.latency_hist.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, n) in self.latency_hist.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(bound_of(i));
            }
        }
        None
    }

    /// Decisions a bot made instead of a model.
    pub fn bot_fallbacks(&self) -> u64 {
        self.fallbacks.values().sum()
    }

    /// The share of decisions a bot made instead of a model (0 without decisions).
    pub fn fallback_share(&self) -> f64 {
        if self.decisions == 0 {
            0.0
        } else {
            self.bot_fallbacks() as f64 / self.decisions as f64
        }
    }

    /// The summary shown in results.
    pub fn summary(&self) -> serde_json::Value {
        let share = |n: u64| {
            if self.decisions == 0 {
                serde_json::Value::Null
            } else {
                serde_json::json!(n as f64 / self.decisions as f64)
            }
        };
        serde_json::json!({
            "decisions": self.decisions,
            "model_decisions": self.model,
            "model_share": share(self.model),
            "other_model_decisions": self.other_models,
            "fallback_decisions": self.bot_fallbacks(),
            "fallback_share": share(self.bot_fallbacks()),
            "fallbacks": self.fallbacks,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_ms_p50": self.latency_ms(0.5),
            "latency_ms_p99": self.latency_ms(0.99),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(latency_ms: u64, fallback: Option<&str>) -> DecisionRecord {
        DecisionRecord {
            hand: 0,
            seat: 0,
            agent: "a".into(),
            source: if fallback.is_some() { "fallback" } else { "model" }.into(),
            fallback_reason: fallback.map(str::to_owned),
            action: game_core::Action::Check,
            latency_ms,
            prompt_tokens: 100,
            completion_tokens: 10,
            reason: None,
            model: fallback.is_none().then(|| "mock/m".to_owned()),
            steps: Vec::new(),
        }
    }

    #[test]
    fn counts_and_percentiles() {
        let mut s = LlmAgentStats::default();
        for ms in 1..=100 {
            s.record(&decision(ms * 10, None));
        }
        s.record(&decision(5, Some("deadline")));
        assert_eq!((s.decisions, s.model), (101, 100));
        assert_eq!(s.fallbacks.get("deadline"), Some(&1));
        assert_eq!(s.prompt_tokens, 10_100);
        let p50 = s.latency_ms(0.5).expect("p50");
        assert!((400..=650).contains(&p50), "{p50}");
        let p99 = s.latency_ms(0.99).expect("p99");
        assert!((990..=1250).contains(&p99), "{p99}");
        assert_eq!(LlmAgentStats::default().latency_ms(0.5), None);
    }
}
