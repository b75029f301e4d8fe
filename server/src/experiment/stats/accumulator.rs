//! [`StatsAccumulator`]: per-agent statistics by agent name, fed one hand
//! at a time, merged across tables and saved in checkpoints; and
//! [`AgentTallies`]: the same sums by agent index, for a run's writer.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use game_core::SeatIndex;
use game_core::event::Event;
use serde::{Deserialize, Serialize};

use super::error::StatsError;
use super::hand::{HandSummary, SeatHand};
use super::report::AgentResult;
use super::tally::{AgentTally, LevelTally, saturate_i64};

/// Per-agent statistics of an experiment, fed one finished hand at a time.
///
/// Memory is O(1) per agent, plus, when deals are tracked (the default), one
/// B-tree entry of about 50 bytes per (agent, deal id) pair for the
/// duplicate estimate: a million deals between four agents is about 200 MB. A run that
/// is not in duplicate mode should use [`StatsAccumulator::without_deals`].
/// Serialises (for checkpoints) to JSON with 128-bit integers, which
/// `serde_json` reads back exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsAccumulator {
    agents: BTreeMap<String, AgentTally>,
    /// Deal ids are ignored: no per-deal map, no duplicate estimate.
    ignore_deals: bool,
}

impl StatsAccumulator {
    /// An empty accumulator that tracks deals, for the duplicate estimate.
    pub fn new() -> StatsAccumulator {
        StatsAccumulator::default()
    }

    /// An empty accumulator that ignores deal ids: O(1) memory per agent and
    /// no duplicate estimate, for runs that do not replay deals.
    pub fn without_deals() -> StatsAccumulator {
        StatsAccumulator {
            agents: BTreeMap::new(),
            ignore_deals: true,
        }
    }

    /// Records one finished hand: `events` from its `HandStarted` to its
    /// `HandEnded`, `agents[seat]` the agent in each seat (`None`: empty),
    /// `deal` the id its duplicate rotations share (any unique id otherwise).
    /// Returns the hand's per-seat summary; on error nothing is recorded.
    pub fn record_hand(
        &mut self,
        big_blind: u64,
        agents: &[Option<String>],
        deal: u64,
        events: &[Event],
    ) -> Result<HandSummary, StatsError> {
        if big_blind == 0 {
            return Err(StatsError::ZeroBigBlind);
        }
        let summary = HandSummary::from_events(events)?;
        self.record_summary(
            big_blind,
            |seat| agents.get(seat).and_then(Option::as_deref),
            deal,
            &summary,
        )?;
        Ok(summary)
    }

    /// Records one hand already read by [`HandSummary::from_events`] (a
    /// runner reads it where the hand is played and hands the writer this
    /// small summary instead of the events): `agent(seat)` names the agent in
    /// each seat. Otherwise as [`StatsAccumulator::record_hand`].
    pub fn record_summary<'a>(
        &mut self,
        big_blind: u64,
        agent: impl Fn(SeatIndex) -> Option<&'a str>,
        deal: u64,
        summary: &HandSummary,
    ) -> Result<(), StatsError> {
        if big_blind == 0 {
            return Err(StatsError::ZeroBigBlind);
        }
        let agent = |seat: SeatIndex| agent(seat).ok_or(StatsError::NoAgent { seat });
        for hand in &summary.seats {
            agent(hand.seat)?;
        }
        let deal = (!self.ignore_deals).then_some(deal);
        for hand in &summary.seats {
            let name = agent(hand.seat)?;
            if let Some(tally) = self.agents.get_mut(name) {
                tally.record(big_blind, deal, hand);
            } else {
                let mut tally = AgentTally::default();
                tally.record(big_blind, deal, hand);
                self.agents.insert(name.to_owned(), tally);
            }
        }
        Ok(())
    }

    /// Adds everything `other` recorded, as if its hands had been recorded
    /// here. If either side ignores deals, the result does too.
    pub fn merge(&mut self, other: StatsAccumulator) {
        if other.ignore_deals && !self.ignore_deals {
            self.ignore_deals = true;
            self.agents.values_mut().for_each(AgentTally::forget_deals);
        }
        for (name, mut tally) in other.agents {
            if self.ignore_deals {
                tally.forget_deals();
            }
            match self.agents.entry(name) {
                Entry::Vacant(slot) => {
                    slot.insert(tally);
                }
                Entry::Occupied(mut slot) => slot.get_mut().merge(tally),
            }
        }
    }

    /// Whether deal ids are kept (for the duplicate estimate).
    pub fn tracks_deals(&self) -> bool {
        !self.ignore_deals
    }

    /// One line per agent, sorted by name.
    pub fn results(&self) -> Vec<AgentResult> {
        self.agents
            .iter()
            .map(|(name, tally)| tally.result(name, !self.ignore_deals))
            .collect()
    }

    /// The sum of every agent's net chips: 0 when every seat of every hand
    /// was recorded (chips only change hands), so a cheap consistency check.
    pub fn total_net(&self) -> i64 {
        saturate_i64(
            self.agents
                .values()
                .map(AgentTally::net_chips)
                .fold(0, i128::saturating_add),
        )
    }
}

/// Per-agent sums for a fixed list of agents addressed by index, so that a
/// run's writer adds every hand without looking names up in a map. The
/// sums move into a [`StatsAccumulator`] with [`AgentTallies::move_into`]
/// (exact integer sums: the same as recording every hand there) before the
/// accumulator is saved or read.
#[derive(Clone, Debug)]
pub struct AgentTallies {
    names: Vec<String>,
    tallies: Vec<AgentTally>,
    /// By agent: its sums at the big blind it last played, added to without
    /// a map lookup (a run's blinds do not change) and moved into
    /// `tallies` when the blind changes or the sums are moved out.
    recent: Vec<Option<(u64, LevelTally)>>,
    track_deals: bool,
}

impl AgentTallies {
    /// Empty sums for `names` (agent index = position), keeping per-deal
    /// sums when `track_deals` (see [`StatsAccumulator::tracks_deals`]).
    pub fn new(names: Vec<String>, track_deals: bool) -> AgentTallies {
        AgentTallies {
            tallies: vec![AgentTally::default(); names.len()],
            recent: vec![None; names.len()],
            names,
            track_deals,
        }
    }

    /// Adds one seat-hand of agent `agent`, as
    /// [`StatsAccumulator::record_summary`] would.
    ///
    /// # Panics
    /// If `agent` is not an index of the names given to [`AgentTallies::new`].
    #[inline]
    pub fn record(&mut self, agent: usize, big_blind: u64, deal: u64, hand: &SeatHand) {
        let deal = self.track_deals.then_some(deal);
        let tally = &mut self.tallies[agent];
        tally.counters.add_hand(hand);
        let recent = &mut self.recent[agent];
        match recent {
            Some((level_blind, level)) if *level_blind == big_blind => level.record(deal, hand),
            _ => {
                let mut level = LevelTally::default();
                level.record(deal, hand);
                if let Some((level_blind, level)) = recent.replace((big_blind, level)) {
                    tally.merge_level(level_blind, level);
                }
            }
        }
    }

    /// Moves every sum into `stats` and starts again from zero.
    pub fn move_into(&mut self, stats: &mut StatsAccumulator) {
        for (tally, recent) in self.tallies.iter_mut().zip(&mut self.recent) {
            if let Some((big_blind, level)) = recent.take() {
                tally.merge_level(big_blind, level);
            }
        }
        for (name, tally) in self.names.iter().zip(&mut self.tallies) {
            if tally.counters.hands == 0 {
                continue;
            }
            let mut tally = std::mem::take(tally);
            if stats.ignore_deals {
                tally.forget_deals();
            }
            match stats.agents.get_mut(name) {
                Some(mine) => mine.merge(tally),
                None => {
                    stats.agents.insert(name.clone(), tally);
                }
            }
        }
    }
}
