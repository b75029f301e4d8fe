//! What a table is beyond its stakes: buy-in range, turn clock and time
//! bank, pace, and AI seats. Stored as JSON beside the table's config.

use serde::{Deserialize, Serialize};

use super::TableError;

/// How fast hands follow each other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// Pauses between hands so people can read the result; AI seats take a moment.
    #[default]
    Realtime,
    /// As fast as agents answer (AI tables), optionally throttled for watching.
    Auto,
}

/// An AI seat: which agent plays it and with how many chips.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiSeat {
    /// Seat number.
    pub seat: usize,
    /// Agent spec: `bot:NAME` or `llm:PROVIDER/MODEL?personality=...`.
    pub agent: String,
    /// Chips it plays with (topped up to this when it busts).
    pub stack: u64,
}

/// The server's part of a table definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableSettings {
    /// Smallest buy-in.
    pub min_buy_in: u64,
    /// Largest buy-in.
    pub max_buy_in: u64,
    /// Time to act, ms.
    pub turn_clock_ms: u64,
    /// Extra time each seat may use over all its turns, ms.
    pub time_bank_ms: u64,
    /// Pace.
    pub pace: Pace,
    /// Auto pace only: at most this many actions per second (for watching).
    #[serde(default)]
    pub actions_per_sec: Option<f64>,
    /// Seats played by agents.
    #[serde(default)]
    pub ai_seats: Vec<AiSeat>,
}

impl TableSettings {
    /// Defaults for a table with this big blind: 40-200 bb buy-ins, 20 s clock, 30 s bank.
    pub fn for_big_blind(big_blind: u64) -> TableSettings {
        TableSettings {
            min_buy_in: big_blind.saturating_mul(40),
            max_buy_in: big_blind.saturating_mul(200),
            turn_clock_ms: 20_000,
            time_bank_ms: 30_000,
            pace: Pace::Realtime,
            actions_per_sec: None,
            ai_seats: Vec::new(),
        }
    }

    /// Checks the settings against the table's size and stakes.
    pub fn validate(&self, config: &game_core::TableConfig) -> Result<(), TableError> {
        let bad = |m: String| Err(TableError::InvalidSettings(m));
        if let Err(e) = config.validate() {
            return bad(e.to_string());
        }
        if self.min_buy_in == 0 || self.min_buy_in > self.max_buy_in {
            return bad("min_buy_in must be at least 1 and at most max_buy_in".into());
        }
        if self.max_buy_in > game_core::rules::MAX_CHIPS / 16 {
            return bad(format!(
                "max_buy_in may be at most {}",
                game_core::rules::MAX_CHIPS / 16
            ));
        }
        if self.min_buy_in < config.big_blind {
            return bad("min_buy_in must be at least the big blind".into());
        }
        if !(1_000..=600_000).contains(&self.turn_clock_ms) {
            return bad("turn_clock_ms must be 1000 to 600000".into());
        }
        if self.time_bank_ms > 3_600_000 {
            return bad("time_bank_ms may be at most 3600000".into());
        }
        if let Some(aps) = self.actions_per_sec
            && !(aps > 0.0 && aps <= 1_000.0)
        {
            return bad("actions_per_sec must be above 0 and at most 1000".into());
        }
        let mut taken = vec![false; config.seats];
        for ai in &self.ai_seats {
            let Some(slot) = taken.get_mut(ai.seat) else {
                return bad(format!(
                    "AI seat {} does not exist (seats 0 to {})",
                    ai.seat,
                    config.seats - 1
                ));
            };
            if *slot {
                return bad(format!("seat {} has two AI players", ai.seat));
            }
            *slot = true;
            if ai.stack < config.big_blind || ai.stack > self.max_buy_in.max(config.big_blind) {
                return bad(format!(
                    "AI seat {} stack must be between the big blind and max_buy_in",
                    ai.seat
                ));
            }
        }
        Ok(())
    }
}
