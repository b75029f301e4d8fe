//! What a table keeps from one hand to the next ([`Dealer`]: an engine
//! table per seating, the event buffer, the seats' generators, the
//! [`Seatings`]), how it deals a hand and turns it into the row the writer
//! takes ([`HandRow`]).

use std::sync::Arc;

use ai_players::AgentSpec;
use ai_players::bots::{Bot, bot};
use game_core::event::SeatList;
use game_core::sim::SplitMix64;
use game_core::{Command, Event, RuleError, Table};

use crate::experiment::ExperimentError;
use crate::experiment::llm_stats::DecisionRecord;
use crate::experiment::spec::{ExperimentSpec, Stacks, mix, mix_more};
use crate::experiment::stats::{HandSummary, HandTracker, StatsError};

/// A finished hand, as the writer needs it. The table that played it has
/// already read its results from the events (`summary`), so that the writer,
/// one task for all tables, only adds them up and writes them.
pub struct HandRow {
    /// The deal.
    pub deal: u64,
    /// Which rotation of the deal (0 outside duplicate mode).
    pub rotation: u64,
    /// Table that played it.
    pub table: usize,
    /// Which seating (see [`seatings`]): the agents moved this many seats,
    /// agent `(seat + seating) % n` at `seat`. An index rather than the
    /// shared names: a reference count taken by the table's thread and
    /// dropped by the writer's was a cache line bouncing between cores
    /// twice a hand.
    pub seating: usize,
    /// Every dealt-in seat's net chips and tracker counters, in seat order
    /// (kept up by a [`HandTracker`] as the hand was played).
    pub summary: HandSummary,
    /// The hand's events (HandStarted to HandEnded, with the server-only
    /// seed) when the spec writes PHH or has LLM seats; empty otherwise, as
    /// nothing else reads them.
    pub events: Vec<Event>,
    /// Stacks after the hand, by agent index, in `carry` mode (for its
    /// checkpoints); empty otherwise, as nothing else reads them.
    pub stacks_after: Vec<u64>,
    /// LLM decisions in the hand.
    pub decisions: Vec<DecisionRecord>,
}

/// What a table keeps from one hand to the next, so that a bot-only hand
/// allocates next to nothing: an engine [`Table`] per seating, reset for
/// each hand (reset mode makes every hand independent) with its players
/// kept, so that only stacks change; the event buffer, the seats'
/// generators, and the agent names of every seating.
pub struct Dealer {
    /// By shift (see [`TableRun::play_on`](super::TableRun::play_on)): a table with that seating, once used.
    pub(super) tables: Vec<Option<Table>>,
    config: game_core::TableConfig,
    pub(super) events: Vec<Event>,
    pub(super) rngs: Vec<SplitMix64>,
    pub(super) tracker: HandTracker,
    /// By shift (see [`TableRun::play_on`](super::TableRun::play_on)): the agent name per seat.
    pub(super) seatings: Seatings,
    /// Rows carry the events (PHH, or LLM seats).
    keep_events: bool,
    /// When every seat is a bot: this table's own instances, by agent index
    /// (nothing a decision reads is shared with another table's thread).
    pub(super) bots: Option<Box<[Arc<dyn Bot>]>>,
}

/// The agent name per seat for every shift of the agents (`[shift][seat]`
/// is agent `(seat + shift) % n`), shared by all tables of a run: the
/// writer recognises a row's seating by pointer and so knows each seat's
/// agent index without comparing names.
pub type Seatings = Arc<[Arc<[String]>]>;

/// Every seating of `spec`'s agents, by [`HandRow::seating`].
pub fn seatings(spec: &ExperimentSpec) -> Seatings {
    let names = spec.agent_names();
    let n = names.len();
    (0..n)
        .map(|shift| (0..n).map(|seat| names[(seat + shift) % n].clone()).collect())
        .collect()
}

impl Dealer {
    /// A dealer for tables of `spec`.
    pub fn new(spec: &ExperimentSpec) -> Result<Dealer, ExperimentError> {
        Dealer::with_seatings(spec, seatings(spec))
    }

    pub(super) fn with_seatings(
        spec: &ExperimentSpec,
        seatings: Seatings,
    ) -> Result<Dealer, ExperimentError> {
        let config = spec.table_config();
        config.validate().map_err(engine_error)?;
        Ok(Dealer {
            tables: vec![None; seatings.len()],
            config,
            events: Vec::with_capacity(128),
            rngs: Vec::with_capacity(spec.seats.len()),
            tracker: HandTracker::default(),
            seatings,
            keep_events: spec.write_phh || !spec.bots_only(),
            bots: spec
                .seats
                .iter()
                .map(|seat| seat.agent.parse::<AgentSpec>().ok()?.bot_name().and_then(bot))
                .collect::<Option<Box<[_]>>>(),
        })
    }
}

/// Whether anything was refused: the engine refusing a bot's own choice is a bug, reported.
pub(super) fn engine_error(e: RuleError) -> ExperimentError {
    ExperimentError::Engine(e)
}

/// The hand a [`Dealer`] is playing: set up by [`Dealer::begin`], told
/// every decision by [`Dealer::apply`], turned into a row by [`Dealer::end`].
pub(super) struct HandInPlay {
    deal: u64,
    rotation: u64,
    /// Which seating (and engine table) plays it.
    pub(super) shift: usize,
    /// Index of the hand in the run.
    pub(super) index: u64,
    /// Where the events of the last command start: the one that ends the
    /// hand is read for its pots and final stacks.
    pub(super) last: usize,
}

impl HandInPlay {
    /// The agent index at `seat`: `(seat + shift) % n` without a division
    /// (`shift < n`).
    #[inline]
    pub(super) fn agent_at(&self, seat: usize, n: usize) -> usize {
        let agent = seat + self.shift;
        if agent >= n { agent - n } else { agent }
    }

    pub(super) fn stats_error(&self, source: StatsError) -> ExperimentError {
        ExperimentError::Stats {
            hand: self.index,
            source,
        }
    }
}

impl Dealer {
    /// Deals hand `(deal, rotation)` of `spec` on the table of its seating,
    /// `carried` being the stacks by agent index in `carry` mode.
    pub(super) fn begin(
        &mut self,
        spec: &ExperimentSpec,
        carried: &[u64],
        deal: u64,
        rotation: u64,
    ) -> Result<HandInPlay, ExperimentError> {
        let n = spec.seats.len();
        // Agents move one seat per rotation (duplicate) or per deal (otherwise),
        // so every agent plays every position.
        let shift = if spec.duplicate { rotation } else { deal % n as u64 } as usize;
        let hand = HandInPlay {
            deal,
            rotation,
            shift,
            index: deal * spec.hands_per_deal() + rotation,
            last: 0,
        };
        let mut stacks = SeatList::<u64>::new();
        for seat in 0..n {
            stacks.push(match spec.stacks {
                Stacks::Reset => spec.starting_stack,
                Stacks::Carry => match carried.get(hand.agent_at(seat, n)) {
                    Some(0) | None => spec.starting_stack,
                    Some(&s) => s,
                },
            });
        }
        // A table reset to a new one's state puts the button in the same seat
        // every hand: in duplicate mode each rotation sees the same cards at
        // the same seats.
        let table = match &mut self.tables[shift] {
            Some(table) => {
                table.reset_stacks(&stacks).map_err(engine_error)?;
                table
            }
            slot @ None => {
                let mut table = Table::new(self.config.clone()).map_err(engine_error)?;
                let players: Vec<(&str, u64)> = self.seatings[shift]
                    .iter()
                    .map(String::as_str)
                    .zip(stacks.iter().copied())
                    .collect();
                table.reset_seated(&players).map_err(engine_error)?;
                slot.insert(table)
            }
        };
        let seed = mix(&[spec.seed, deal]);
        self.events.clear();
        table
            .apply_into(Command::StartHand { seed }, &mut self.events)
            .map_err(engine_error)?;
        self.tracker
            .start(&self.events)
            .map_err(|e| hand.stats_error(e))?;
        // Each seat's generator is seeded with mix(seed, deal, rotation,
        // agent, 0xB07): the shared prefix is mixed once per hand.
        let rotation_mixed = mix_more(seed, &[rotation]);
        self.rngs.clear();
        self.rngs.extend(
            (0..n).map(|seat| {
                SplitMix64::new(mix_more(rotation_mixed, &[hand.agent_at(seat, n) as u64, 0xB07]))
            }),
        );
        Ok(hand)
    }

    /// The row of the finished `hand`, appended to `rows`; in `carry` mode
    /// the stacks after it replace `carried`.
    pub(super) fn end(
        &mut self,
        spec: &ExperimentSpec,
        hand: &HandInPlay,
        table_index: usize,
        carried: &mut Vec<u64>,
        decisions: Vec<DecisionRecord>,
        rows: &mut Vec<HandRow>,
    ) -> Result<(), ExperimentError> {
        let n = spec.seats.len();
        let mut stacks_after = Vec::new();
        if spec.stacks == Stacks::Carry {
            stacks_after = vec![0; n];
            for (seat, s) in table_of(&mut self.tables, hand)?.seats().iter().enumerate() {
                stacks_after[hand.agent_at(seat, n)] = s.as_ref().map_or(0, |s| s.stack);
            }
            carried.clear();
            carried.extend_from_slice(&stacks_after);
        }
        let events = if self.keep_events {
            let capacity = self.events.capacity();
            std::mem::replace(&mut self.events, Vec::with_capacity(capacity))
        } else {
            Vec::new()
        };
        let ended = if self.keep_events {
            &events[hand.last..]
        } else {
            &self.events[hand.last..]
        };
        // The summary is written where the row is (a push of the finished
        // row copied it twice).
        rows.push(HandRow {
            deal: hand.deal,
            rotation: hand.rotation,
            table: table_index,
            seating: hand.shift,
            summary: HandSummary::default(),
            events: Vec::new(),
            stacks_after,
            decisions,
        });
        let Some(row) = rows.last_mut() else {
            return Err(ExperimentError::Inconsistent("a hand gave no row".into()));
        };
        if let Err(e) = self.tracker.finish_into(ended, &mut row.summary) {
            rows.pop();
            return Err(hand.stats_error(e));
        }
        debug_assert_eq!(
            Ok(row.summary),
            HandSummary::from_events(if self.keep_events { &events } else { &self.events })
        );
        row.events = events;
        Ok(())
    }
}

/// The table `hand` is played on (of a dealer's `tables`).
pub(super) fn table_of<'a>(
    tables: &'a mut [Option<Table>],
    hand: &HandInPlay,
) -> Result<&'a mut Table, ExperimentError> {
    tables
        .get_mut(hand.shift)
        .and_then(Option::as_mut)
        .ok_or_else(|| ExperimentError::Inconsistent("a hand without a table".into()))
}
