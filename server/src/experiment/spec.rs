//! What an experiment is: seats (agent specs), hands, stakes, stacks, seed,
//! parallel tables, duplicate mode, lane, budgets and capture. Read from
//! TOML or JSON; validated before anything runs.

use serde::{Deserialize, Serialize};

use super::ExperimentError;
use ai_players::{AgentSpec, Lane, SeatKind};

/// How stacks evolve from hand to hand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stacks {
    /// Every hand starts with `starting_stack` for everyone (required by duplicate mode).
    #[default]
    Reset,
    /// Stacks carry from hand to hand at each table; a busted seat re-buys `starting_stack`.
    Carry,
}

/// Limits that stop a run cleanly when reached.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Stop once LLM calls cost this much (USD).
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
    /// Stop once LLM calls used this many tokens (prompt + completion).
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Stop after this much wall time, seconds.
    #[serde(default)]
    pub max_wall_secs: Option<u64>,
}

/// One seat of the experiment table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatSpec {
    /// Agent spec: `bot:NAME` or `llm:PROVIDER/MODEL?personality=...`.
    pub agent: String,
    /// Name in the results (defaults to the agent spec; must be unique to tell two copies apart).
    #[serde(default)]
    pub name: Option<String>,
}

/// An experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Name shown in listings.
    #[serde(default)]
    pub name: Option<String>,
    /// The seats, 2 to 10; in duplicate mode every agent plays every seat.
    pub seats: Vec<SeatSpec>,
    /// Hands to play (in duplicate mode, rounded up to whole deals of `seats.len()` hands).
    pub hands: u64,
    /// Small blind.
    pub small_blind: u64,
    /// Big blind.
    pub big_blind: u64,
    /// Ante.
    #[serde(default)]
    pub ante: u64,
    /// Chips each seat starts with (and re-buys in `carry` mode).
    pub starting_stack: u64,
    /// Reset or carry stacks.
    #[serde(default)]
    pub stacks: Stacks,
    /// Master seed: the same spec and seed with the same bots give the same hands and results.
    #[serde(default)]
    pub seed: u64,
    /// Tables played in parallel.
    #[serde(default = "one")]
    pub tables: usize,
    /// Replay each deal with the seats rotated so every agent plays every position with the same cards.
    #[serde(default)]
    pub duplicate: bool,
    /// LLM lane: `bulk` (default) or `watched`; `live` is reserved for tables with people.
    #[serde(default = "bulk")]
    pub lane: Lane,
    /// Budgets.
    #[serde(default)]
    pub budget: Budget,
    /// Keep prompts and raw replies of LLM decisions.
    #[serde(default)]
    pub capture: bool,
    /// Time an LLM seat has per decision before its fallback acts, ms.
    #[serde(default = "decision_ms")]
    pub decision_timeout_ms: u64,
    /// Write every hand's history (PHH) to the results.
    #[serde(default = "yes")]
    pub write_phh: bool,
    /// Most share (0 to 1) of an LLM seat's decisions its fallback bot may
    /// make: above it the run stops as `degraded` (after 20 decisions of
    /// that seat, or at the end), so bot play is never reported as the
    /// model's. Default 0.05.
    #[serde(default = "five_percent")]
    pub max_fallback_rate: f64,
}

fn one() -> usize {
    1
}
fn bulk() -> Lane {
    Lane::Bulk
}
fn decision_ms() -> u64 {
    20_000
}
fn yes() -> bool {
    true
}
fn five_percent() -> f64 {
    0.05
}

/// Most hands one experiment may ask for.
pub const MAX_HANDS: u64 = 1_000_000_000;
/// Most parallel tables.
pub const MAX_TABLES: usize = 1_024;

impl ExperimentSpec {
    /// Parses TOML or JSON (JSON if the text starts with `{`).
    pub fn parse(text: &str) -> Result<ExperimentSpec, ExperimentError> {
        let invalid =
            |e: &dyn std::fmt::Display| ExperimentError::InvalidSpec(format!("experiment spec: {e}"));
        let spec: ExperimentSpec = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| invalid(&e))?
        } else {
            toml::from_str(text).map_err(|e| invalid(&e))?
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the spec (agents are checked when built).
    pub fn validate(&self) -> Result<(), ExperimentError> {
        let bad = |m: String| Err(ExperimentError::InvalidSpec(m));
        let config = self.table_config();
        if let Err(e) = config.validate() {
            return bad(format!("experiment table: {e}"));
        }
        if self.hands == 0 || self.hands > MAX_HANDS {
            return bad(format!("hands must be 1 to {MAX_HANDS}"));
        }
        if self.tables == 0 || self.tables > MAX_TABLES {
            return bad(format!("tables must be 1 to {MAX_TABLES}"));
        }
        if self.starting_stack < self.big_blind || self.starting_stack > game_core::rules::MAX_CHIPS / 16 {
            return bad("starting_stack must be at least the big blind".into());
        }
        if self.duplicate && self.stacks == Stacks::Carry {
            return bad(
                "duplicate mode needs stacks = \"reset\" (each deal replays from equal stacks)".into(),
            );
        }
        if self.lane == Lane::Live {
            return bad("lane must be \"bulk\" or \"watched\"".into());
        }
        if !(0.0..=1.0).contains(&self.max_fallback_rate) {
            return bad("max_fallback_rate must be from 0 to 1".into());
        }
        if !(100..=600_000).contains(&self.decision_timeout_ms) {
            return bad("decision_timeout_ms must be 100 to 600000".into());
        }
        let names = self.agent_names();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return bad(format!(
                    "two seats are named {name:?}: give copies of one agent distinct `name`s"
                ));
            }
        }
        Ok(())
    }

    /// The table's stakes and size.
    pub fn table_config(&self) -> game_core::TableConfig {
        game_core::TableConfig {
            seats: self.seats.len(),
            small_blind: self.small_blind,
            big_blind: self.big_blind,
            ante: self.ante,
        }
    }

    /// The results name of each seat's agent.
    pub fn agent_names(&self) -> Vec<String> {
        self.seats
            .iter()
            .map(|s| s.name.clone().unwrap_or_else(|| s.agent.clone()))
            .collect()
    }

    /// Hands one deal is played (the seat count in duplicate mode, else 1).
    pub fn hands_per_deal(&self) -> u64 {
        if self.duplicate {
            self.seats.len() as u64
        } else {
            1
        }
    }

    /// Deals to play.
    pub fn deals(&self) -> u64 {
        self.hands.div_ceil(self.hands_per_deal())
    }

    /// Whether every seat is a bot (the fast path: no executor, no awaits).
    pub fn bots_only(&self) -> bool {
        self.seats
            .iter()
            .all(|s| AgentSpec::kind_of(&s.agent) == SeatKind::Bot)
    }
}

/// A 64-bit mix of several values (SplitMix64 finaliser), for per-deal and per-seat seeds.
pub fn mix(values: &[u64]) -> u64 {
    mix_more(0x9E37_79B9_7F4A_7C15, values)
}

/// [`mix`] continued from a mix of earlier values: `mix_more(mix(a), b)` is
/// `mix(a ++ b)`, so that seeds sharing a prefix (a deal's seats) mix it once.
pub fn mix_more(mixed: u64, values: &[u64]) -> u64 {
    let mut h = mixed;
    for &v in values {
        h ^= v;
        h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h = z ^ (z >> 31);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
        name = "tag vs station"
        hands = 1000
        small_blind = 5
        big_blind = 10
        starting_stack = 1000
        seed = 7
        tables = 4
        duplicate = true
        [budget]
        max_wall_secs = 60
        [[seats]]
        agent = "bot:tight-aggressive"
        [[seats]]
        agent = "bot:calling-station"
    "#;

    #[test]
    fn parses_toml_and_json_alike() {
        let spec = ExperimentSpec::parse(TOML).expect("valid");
        assert_eq!(spec.hands_per_deal(), 2);
        assert_eq!(spec.deals(), 500);
        assert!(spec.bots_only());
        let json = serde_json::to_string(&spec).expect("json");
        assert_eq!(ExperimentSpec::parse(&json).expect("valid json"), spec);
    }

    #[test]
    fn the_documented_example_is_valid() {
        let spec =
            ExperimentSpec::parse(include_str!("../../../docs/experiment.example.toml")).expect("valid");
        assert_eq!(spec.seats.len(), 3);
        assert!(spec.duplicate && spec.bots_only());
    }

    #[test]
    fn refuses_what_cannot_run() {
        let with = |from: &str, to: &str| ExperimentSpec::parse(&TOML.replace(from, to));
        assert!(with("hands = 1000", "hands = 0").is_err());
        assert!(with("tables = 4", "tables = 0").is_err());
        assert!(with("duplicate = true", "duplicate = true\nstacks = \"carry\"").is_err());
        assert!(
            with("big_blind = 10", "big_blind = 1").is_err(),
            "small blind above big blind"
        );
        assert!(
            with("bot:calling-station", "bot:tight-aggressive").is_err(),
            "same name twice"
        );
        assert!(with("seed = 7", "seed = 7\nbogus = 1").is_err(), "unknown fields");
        assert_ne!(mix(&[1, 2]), mix(&[2, 1]));
    }

    #[test]
    fn mixing_more_continues_a_mix() {
        assert_eq!(mix_more(mix(&[1, 2]), &[3, 4, 5]), mix(&[1, 2, 3, 4, 5]));
        assert_eq!(mix_more(mix(&[]), &[9]), mix(&[9]));
    }
}
