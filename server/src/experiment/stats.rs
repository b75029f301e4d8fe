//! Per-agent statistics of an experiment: net chips, bb/100 with a 95%
//! confidence interval, the duplicate-mode estimate, and the tracker
//! counters (VPIP, PFR, aggression, showdowns).
//!
//! A [`StatsAccumulator`] is fed one finished hand at a time (its events from
//! `HandStarted` to `HandEnded`); parallel tables keep one each and
//! [`StatsAccumulator::merge`] them, and a checkpoint serialises it.
//!
//! # Definitions
//! Every number is per *seat-hand*: an agent sitting in two seats plays two
//! hands each deal.
//! - **Net chips**: final stack (`HandEnded`) minus starting stack
//!   (`HandStarted`, before antes and blinds), so antes and blinds count.
//! - **VPIP**: the seat called, bet or raised preflop. Posting blinds or antes
//!   and checking do not count.
//! - **PFR**: the seat bet or raised preflop (so PFR ⊆ VPIP).
//! - **Aggression factor**: postflop (bets + raises) / postflop calls, over all
//!   the agent's hands; `None` when it never called postflop.
//! - **Saw flop**: not folded when the flop was dealt (all-in players see it).
//! - **Showdown**: the hand reached a showdown when at least two seats had not
//!   folded at its end (the engine then shows or mucks every live hand, so this
//!   is exactly "`HandShown`/`HandMucked` events happened"). A seat *went to
//!   showdown* when it had not folded in such a hand; mucking at showdown
//!   counts. A hand won because everyone else folded (a walk, a bet nobody
//!   called) is not a showdown.
//! - **Won at showdown**: went to showdown and received chips from a
//!   `PotAwarded` carrying a hand rank. Split pots count, and so does a side pot
//!   no one else contested (the seat still won money at showdown, like the
//!   W$SD of hand trackers).
//! - **Went-to-showdown rate**: showdowns / hands that saw the flop.
//!   **Won-at-showdown rate**: showdowns won / showdowns.
//!
//! # Precision and determinism
//! The state is kept in integers (chips, counts, sums of squared chips), so
//! merging in any order and saving/loading a checkpoint give bit-identical
//! results; floating point is only used in [`StatsAccumulator::results`], over
//! ordered maps. Sums saturate instead of wrapping; they cannot get near the
//! limits with real stakes (a net of 2^40 chips per hand squared, summed over
//! 2^40 hands, still fits in a `u128`).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use game_core::event::{Event, SeatList};
use game_core::rules::MAX_SEATS;
use game_core::{Action, SeatIndex, Street};
use serde::{Deserialize, Serialize};

/// The normal quantile of a two-sided 95% interval.
const Z95: f64 = 1.96;

/// Why a hand's events could not be recorded. Nothing is recorded then.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    /// The events hold no `HandStarted`.
    #[error("the events hold no HandStarted")]
    NoHandStarted,
    /// The hand never ended (a truncated log).
    #[error("hand {hand} has no HandEnded")]
    NoHandEnded {
        /// The hand number from `HandStarted`.
        hand: u64,
    },
    /// The events hold more than one hand; record them one at a time.
    #[error("the events hold hand {first} and hand {second}: record one hand at a time")]
    SeveralHands {
        /// The first hand's number.
        first: u64,
        /// The number of the next `HandStarted`.
        second: u64,
    },
    /// `HandEnded` names another hand than `HandStarted`.
    #[error("hand {started} ended as hand {ended}")]
    HandMismatch {
        /// The number in `HandStarted`.
        started: u64,
        /// The number in `HandEnded`.
        ended: u64,
    },
    /// An event names a seat that was not dealt in.
    #[error("seat {seat} is not dealt in this hand")]
    SeatNotDealtIn {
        /// The seat.
        seat: SeatIndex,
    },
    /// `HandEnded` lacks the final stack of a seat dealt in.
    #[error("HandEnded has no final stack for seat {seat}")]
    MissingFinalStack {
        /// The seat.
        seat: SeatIndex,
    },
    /// A stack is too large for a signed net result.
    #[error("seat {seat}'s stacks are out of range")]
    ChipsOutOfRange {
        /// The seat.
        seat: SeatIndex,
    },
    /// A seat dealt in has no agent name.
    #[error("seat {seat} was dealt in but has no agent")]
    NoAgent {
        /// The seat.
        seat: SeatIndex,
    },
    /// The big blind is 0, so results in big blinds are undefined.
    #[error("the big blind must be at least 1")]
    ZeroBigBlind,
}

/// One seat's part in one hand: its net result and which counters it hit.
/// Returned by [`StatsAccumulator::record_hand`] so a runner can also write
/// its per-hand rows without reading the events twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatHand {
    /// The seat.
    pub seat: SeatIndex,
    /// Final stack minus starting stack, antes and blinds included.
    pub net: i64,
    /// Called, bet or raised preflop.
    pub vpip: bool,
    /// Bet or raised preflop.
    pub pfr: bool,
    /// Bets and raises on the flop, turn and river.
    pub postflop_bets_raises: u32,
    /// Calls on the flop, turn and river.
    pub postflop_calls: u32,
    /// Not folded when the flop was dealt.
    pub saw_flop: bool,
    /// Not folded when the hand ended with at least two live seats.
    pub showdown: bool,
    /// Went to showdown and received chips from a pot decided by hand rank.
    pub won_at_showdown: bool,
}

impl SeatHand {
    /// Counts one decision of this seat into its tracker flags (VPIP, PFR,
    /// postflop calls and bets); returns whether it was a fold.
    fn count_action(&mut self, street: Street, action: &Action) -> bool {
        match (street, action) {
            (_, Action::Fold) => return true,
            (_, Action::Check) => {}
            (Street::Preflop, Action::Call) => self.vpip = true,
            (Street::Preflop, Action::Bet { .. } | Action::Raise { .. }) => {
                self.vpip = true;
                self.pfr = true;
            }
            (_, Action::Call) => self.postflop_calls = self.postflop_calls.saturating_add(1),
            (_, Action::Bet { .. } | Action::Raise { .. }) => {
                self.postflop_bets_raises = self.postflop_bets_raises.saturating_add(1);
            }
        }
        false
    }
}

/// Every dealt-in seat's [`SeatHand`] for one hand, in seat order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandSummary {
    /// The hand number.
    pub hand: u64,
    /// One entry per seat dealt in, in seat order.
    pub seats: SeatList<SeatHand>,
}

/// A seat while reading a hand's events.
#[derive(Clone, Copy, Default)]
struct SeatState {
    dealt: bool,
    start: u64,
    end: Option<u64>,
    folded: bool,
    collected_by_rank: bool,
    stats: SeatHand,
}

impl SeatState {
    fn net(&self) -> Result<i64, StatsError> {
        let seat = self.stats.seat;
        let end = self.end.ok_or(StatsError::MissingFinalStack { seat })?;
        let net = i128::from(end) - i128::from(self.start);
        i64::try_from(net).map_err(|_| StatsError::ChipsOutOfRange { seat })
    }
}

/// The dealt-in seat `seat`, or an error naming it.
fn dealt(seats: &mut [SeatState; MAX_SEATS], seat: SeatIndex) -> Result<&mut SeatState, StatsError> {
    seats
        .get_mut(seat)
        .filter(|s| s.dealt)
        .ok_or(StatsError::SeatNotDealtIn { seat })
}

impl HandSummary {
    /// Reads one hand from its events. Events before its `HandStarted` and
    /// after its `HandEnded` (deck seeds, seatings, top-ups) are ignored; a
    /// second `HandStarted` is an error.
    pub fn from_events(events: &[Event]) -> Result<HandSummary, StatsError> {
        let mut seats = [SeatState::default(); MAX_SEATS];
        let mut hand = None;
        let mut ended = false;
        let mut street = Street::Preflop;
        for event in events {
            match event {
                Event::HandStarted {
                    hand: number,
                    players,
                    ..
                } => {
                    if let Some(first) = hand {
                        return Err(StatsError::SeveralHands {
                            first,
                            second: *number,
                        });
                    }
                    hand = Some(*number);
                    for player in players {
                        let state = seats
                            .get_mut(player.seat)
                            .ok_or(StatsError::SeatNotDealtIn { seat: player.seat })?;
                        state.dealt = true;
                        state.start = player.stack;
                        state.stats.seat = player.seat;
                    }
                }
                _ if hand.is_none() || ended => {}
                Event::ActionTaken { seat, action, .. } => {
                    let state = dealt(&mut seats, *seat)?;
                    if state.stats.count_action(street, action) {
                        state.folded = true;
                    }
                }
                Event::BoardDealt { street: opened, .. } => {
                    street = *opened;
                    if street == Street::Flop {
                        for state in seats.iter_mut().filter(|s| s.dealt && !s.folded) {
                            state.stats.saw_flop = true;
                        }
                    }
                }
                Event::PotAwarded {
                    winners,
                    rank: Some(_),
                    ..
                } => {
                    for share in winners.iter().filter(|share| share.amount > 0) {
                        dealt(&mut seats, share.seat)?.collected_by_rank = true;
                    }
                }
                Event::HandEnded { hand: number, stacks } => {
                    let started = hand.unwrap_or(*number);
                    if *number != started {
                        return Err(StatsError::HandMismatch {
                            started,
                            ended: *number,
                        });
                    }
                    for stack in stacks {
                        dealt(&mut seats, stack.seat)?.end = Some(stack.stack);
                    }
                    ended = true;
                }
                _ => {}
            }
        }
        let hand = hand.ok_or(StatsError::NoHandStarted)?;
        if !ended {
            return Err(StatsError::NoHandEnded { hand });
        }
        summarise(hand, &seats)
    }
}

/// A hand's [`HandSummary`] kept up while the hand is played, for a runner
/// that applies every command itself: it is told each betting decision and
/// reads only the events of the hand's first and last commands, where
/// [`HandSummary::from_events`] reads every event back at the end (a pass
/// over some 60 events of 208 bytes, about 2,000 instructions a hand in a
/// bot-only run). Both give the same summary.
///
/// Use: [`HandTracker::start`] with the `StartHand` command's events,
/// [`HandTracker::decision`] after every `Act` or `Timeout` the table
/// accepted, [`HandTracker::finish`] with the events of the command that
/// ended the hand.
///
/// Seats are bits of 16-bit sets and each seat's counters are written in
/// place, so that ending a hand is a loop over the seats dealt in.
#[derive(Clone, Debug, Default)]
pub struct HandTracker {
    hand: u64,
    /// Seats dealt in, by bit.
    dealt: u16,
    /// Dealt seats that folded.
    folded: u16,
    /// Dealt seats that received chips from a pot decided by hand rank.
    collected_by_rank: u16,
    /// The flop has been dealt (and `saw_flop` set).
    flop_dealt: bool,
    /// Stacks before antes and blinds, by seat.
    start: [u64; MAX_SEATS],
    /// Counters by seat (those of seats dealt in).
    stats: [SeatHand; MAX_SEATS],
}

/// The bit of `seat` in a [`HandTracker`] set, if the seat is dealt in.
fn dealt_bit(dealt: u16, seat: SeatIndex) -> Result<u16, StatsError> {
    u32::try_from(seat)
        .ok()
        .and_then(|s| 1u16.checked_shl(s))
        .filter(|bit| dealt & bit != 0)
        .ok_or(StatsError::SeatNotDealtIn { seat })
}

impl HandTracker {
    /// Starts a hand from the events of its `StartHand` command (they hold
    /// its `HandStarted`).
    pub fn start(&mut self, events: &[Event]) -> Result<(), StatsError> {
        let Some((number, players)) = events.iter().find_map(|event| match event {
            Event::HandStarted { hand, players, .. } => Some((*hand, players)),
            _ => None,
        }) else {
            return Err(StatsError::NoHandStarted);
        };
        self.hand = number;
        self.dealt = 0;
        self.folded = 0;
        self.collected_by_rank = 0;
        self.flop_dealt = false;
        for player in players {
            let seat = player.seat;
            if seat >= MAX_SEATS {
                return Err(StatsError::SeatNotDealtIn { seat });
            }
            self.dealt |= 1 << seat;
            self.start[seat] = player.stack;
            self.stats[seat] = SeatHand {
                seat,
                ..SeatHand::default()
            };
        }
        Ok(())
    }

    /// One betting decision, from the first event of the command that made
    /// it (its `ActionTaken`), taken on `street`.
    pub fn decision(&mut self, street: Street, event: &Event) -> Result<(), StatsError> {
        let Event::ActionTaken { seat, action, .. } = event else {
            return Ok(());
        };
        if street != Street::Preflop {
            // The flop was dealt after the last preflop decision.
            self.flop_dealt();
        }
        let bit = dealt_bit(self.dealt, *seat)?;
        if self.stats[*seat].count_action(street, action) {
            self.folded |= bit;
        }
        Ok(())
    }

    fn flop_dealt(&mut self) {
        if !self.flop_dealt {
            self.flop_dealt = true;
            let live = self.dealt & !self.folded;
            for (seat, stats) in self.stats.iter_mut().enumerate() {
                if live & (1 << seat) != 0 {
                    stats.saw_flop = true;
                }
            }
        }
    }

    /// Ends the hand with the events of the command that ended it (its
    /// last decision, already told to [`HandTracker::decision`], then any
    /// board, showdown, pots and `HandEnded`).
    pub fn finish(&mut self, events: &[Event]) -> Result<HandSummary, StatsError> {
        let mut summary = HandSummary {
            hand: self.hand,
            seats: SeatList::new(),
        };
        self.finish_into(events, &mut summary)?;
        Ok(summary)
    }

    /// [`HandTracker::finish`] into `summary` (where the hand's row already
    /// is, rather than copying a summary of ~330 bytes into it).
    pub fn finish_into(&mut self, events: &[Event], summary: &mut HandSummary) -> Result<(), StatsError> {
        summary.hand = self.hand;
        summary.seats.clear();
        for event in events {
            match event {
                Event::BoardDealt {
                    street: Street::Flop, ..
                } => self.flop_dealt(),
                Event::PotAwarded {
                    winners,
                    rank: Some(_),
                    ..
                } => {
                    for share in winners.iter().filter(|share| share.amount > 0) {
                        self.collected_by_rank |= dealt_bit(self.dealt, share.seat)?;
                    }
                }
                Event::HandEnded { hand: number, stacks } => {
                    if *number != self.hand {
                        return Err(StatsError::HandMismatch {
                            started: self.hand,
                            ended: *number,
                        });
                    }
                    let mut end = [0u64; MAX_SEATS];
                    let mut ended = 0u16;
                    for stack in stacks {
                        ended |= dealt_bit(self.dealt, stack.seat)?;
                        end[stack.seat] = stack.stack;
                    }
                    let live = self.dealt & !self.folded;
                    let showdown = live.count_ones() >= 2;
                    for (seat, &end) in end.iter().enumerate() {
                        let bit = 1 << seat;
                        if self.dealt & bit == 0 {
                            continue;
                        }
                        if ended & bit == 0 {
                            return Err(StatsError::MissingFinalStack { seat });
                        }
                        let mut stats = self.stats[seat];
                        let net = i128::from(end) - i128::from(self.start[seat]);
                        stats.net = i64::try_from(net).map_err(|_| StatsError::ChipsOutOfRange { seat })?;
                        stats.showdown = showdown && live & bit != 0;
                        stats.won_at_showdown = stats.showdown && self.collected_by_rank & bit != 0;
                        summary.seats.push(stats);
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
        Err(StatsError::NoHandEnded { hand: self.hand })
    }
}

/// The summary of a hand read to its end.
fn summarise(hand: u64, seats: &[SeatState; MAX_SEATS]) -> Result<HandSummary, StatsError> {
    let live = seats.iter().filter(|s| s.dealt && !s.folded).count();
    let mut summary = HandSummary {
        hand,
        seats: SeatList::new(),
    };
    for state in seats.iter().filter(|s| s.dealt) {
        let mut stats = state.stats;
        stats.net = state.net()?;
        stats.showdown = live >= 2 && !state.folded;
        stats.won_at_showdown = stats.showdown && state.collected_by_rank;
        summary.seats.push(stats);
    }
    Ok(summary)
}

/// An agent's raw counters, summed over its seat-hands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCounters {
    /// Seat-hands dealt in.
    pub hands: u64,
    /// Hands with a preflop call, bet or raise.
    pub vpip: u64,
    /// Hands with a preflop bet or raise.
    pub pfr: u64,
    /// Bets and raises on the flop, turn and river.
    pub postflop_bets_raises: u64,
    /// Calls on the flop, turn and river.
    pub postflop_calls: u64,
    /// Hands in which it saw the flop.
    pub saw_flop: u64,
    /// Hands in which it went to showdown.
    pub showdowns: u64,
    /// Showdowns in which it won chips.
    pub showdowns_won: u64,
}

impl AgentCounters {
    #[inline]
    fn add_hand(&mut self, hand: &SeatHand) {
        let add = |counter: &mut u64, value: u64| *counter = counter.saturating_add(value);
        add(&mut self.hands, 1);
        add(&mut self.vpip, u64::from(hand.vpip));
        add(&mut self.pfr, u64::from(hand.pfr));
        add(
            &mut self.postflop_bets_raises,
            u64::from(hand.postflop_bets_raises),
        );
        add(&mut self.postflop_calls, u64::from(hand.postflop_calls));
        add(&mut self.saw_flop, u64::from(hand.saw_flop));
        add(&mut self.showdowns, u64::from(hand.showdown));
        add(&mut self.showdowns_won, u64::from(hand.won_at_showdown));
    }

    fn merge(&mut self, other: &AgentCounters) {
        let add = |counter: &mut u64, value: u64| *counter = counter.saturating_add(value);
        add(&mut self.hands, other.hands);
        add(&mut self.vpip, other.vpip);
        add(&mut self.pfr, other.pfr);
        add(&mut self.postflop_bets_raises, other.postflop_bets_raises);
        add(&mut self.postflop_calls, other.postflop_calls);
        add(&mut self.saw_flop, other.saw_flop);
        add(&mut self.showdowns, other.showdowns);
        add(&mut self.showdowns_won, other.showdowns_won);
    }
}

/// The duplicate-mode estimate: an agent's results grouped by deal, so that
/// the card luck shared by a deal's rotations cancels before the variance is
/// taken.
///
/// For each deal `d` the agent took part in, `y_d` = (its net over the deal's
/// seat-hands, in big blinds) / (number of those seat-hands): its average bb
/// per hand on that deal. The estimate is `100 · mean(y_d)` and the interval
/// `100 · (mean ± 1.96 · sd(y) / √deals)` with the sample standard deviation.
/// Every deal weighs the same, which is right when every deal is played in
/// all its rotations; a deal cut short (a stopped run) weighs as much as a
/// whole one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DuplicateEstimate {
    /// Deals the agent took part in.
    pub deals: u64,
    /// Mean over deals of the per-hand result, in big blinds per 100 hands.
    pub bb_per_100: f64,
    /// 95% normal interval of `bb_per_100`; `None` with fewer than two deals.
    pub ci95: Option<[f64; 2]>,
}

/// One agent's line in an experiment's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentResult {
    /// The agent's name as given to [`StatsAccumulator::record_hand`].
    pub agent: String,
    /// Seat-hands played.
    pub hands: u64,
    /// Chips won (negative: lost), antes and blinds included.
    pub net_chips: i64,
    /// Mean net per hand in big blinds, times 100.
    pub bb_per_100: f64,
    /// 95% normal interval of `bb_per_100` (mean ± 1.96 · sd/√n of the
    /// per-hand net in big blinds, times 100); `None` with fewer than two
    /// hands. Seat-hands are treated as independent, which they are not
    /// quite when an agent holds several seats at one table.
    pub bb_per_100_ci95: Option<[f64; 2]>,
    /// The per-deal estimate, present when deals are tracked and at least one
    /// of the agent's deals counted more than one of its seat-hands.
    pub duplicate: Option<DuplicateEstimate>,
    /// Fraction of hands with a voluntary preflop call, bet or raise.
    pub vpip: f64,
    /// Fraction of hands with a preflop bet or raise (≤ `vpip`).
    pub pfr: f64,
    /// Postflop (bets + raises) / postflop calls; `None` without calls.
    pub aggression_factor: Option<f64>,
    /// Showdowns / hands that saw the flop; `None` if it never saw a flop.
    pub went_to_showdown: Option<f64>,
    /// Showdowns won / showdowns; `None` without showdowns.
    pub won_at_showdown: Option<f64>,
    /// The raw counters behind the rates.
    pub counters: AgentCounters,
}

/// An agent's net results on one deal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct DealNet {
    hands: u64,
    net: i64,
}

/// An agent's net results at one big blind. Results in big blinds are
/// computed from these exact sums.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LevelTally {
    hands: u64,
    net: i128,
    net_squared: u128,
    /// Per deal id; empty when deals are not tracked.
    deals: BTreeMap<u64, DealNet>,
}

impl LevelTally {
    #[inline]
    fn record(&mut self, deal: Option<u64>, hand: &SeatHand) {
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
struct AgentTally {
    counters: AgentCounters,
    /// By big blind: a single entry in a fixed-blind experiment. A deal id is
    /// scoped to its big blind.
    levels: BTreeMap<u64, LevelTally>,
}

impl AgentTally {
    fn record(&mut self, big_blind: u64, deal: Option<u64>, hand: &SeatHand) {
        self.counters.add_hand(hand);
        self.levels.entry(big_blind).or_default().record(deal, hand);
    }

    fn merge(&mut self, other: AgentTally) {
        self.counters.merge(&other.counters);
        for (big_blind, level) in other.levels {
            self.merge_level(big_blind, level);
        }
    }

    fn merge_level(&mut self, big_blind: u64, level: LevelTally) {
        match self.levels.entry(big_blind) {
            Entry::Vacant(slot) => {
                slot.insert(level);
            }
            Entry::Occupied(mut slot) => slot.get_mut().merge(level),
        }
    }

    fn forget_deals(&mut self) {
        for level in self.levels.values_mut() {
            level.deals.clear();
        }
    }

    fn net_chips(&self) -> i128 {
        self.levels
            .values()
            .map(|level| level.net)
            .fold(0, i128::saturating_add)
    }

    fn result(&self, agent: &str, track_deals: bool) -> AgentResult {
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

fn saturate_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

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

#[cfg(test)]
mod tests {
    use game_core::event::{Blind, BoardCards, SeatStack, Share};
    use game_core::sim::{SplitMix64, play_out, seated_table};
    use game_core::{Card, Command, HandRank, Table, TableConfig, evaluate};

    use super::*;

    /// Writes a hand's events while keeping the stacks, so the final stacks
    /// in `HandEnded` follow from what was written.
    struct HandBuilder {
        hand: u64,
        events: Vec<Event>,
        stacks: [u64; MAX_SEATS],
        seats: Vec<SeatIndex>,
    }

    impl HandBuilder {
        /// Seats in order from the button; heads-up the button is the small blind.
        fn new(hand: u64, players: &[(SeatIndex, u64)]) -> HandBuilder {
            let seats: Vec<SeatIndex> = players.iter().map(|&(seat, _)| seat).collect();
            let mut stacks = [0; MAX_SEATS];
            for &(seat, stack) in players {
                stacks[seat] = stack;
            }
            let small = if seats.len() == 2 { seats[0] } else { seats[1] };
            let big = if seats.len() == 2 { seats[1] } else { seats[2] };
            let list: Vec<SeatStack> = players
                .iter()
                .map(|&(seat, stack)| SeatStack { seat, stack })
                .collect();
            let events = vec![
                Event::DeckShuffled { hand, seed: 7 },
                Event::HandStarted {
                    hand,
                    button: seats[0],
                    small_blind: small,
                    big_blind: big,
                    players: SeatList::from_slice(&list).expect("few seats"),
                },
            ];
            HandBuilder {
                hand,
                events,
                stacks,
                seats,
            }
        }

        fn blinds(mut self, small: (SeatIndex, u64), big: (SeatIndex, u64)) -> HandBuilder {
            for (seat, blind, amount) in [(small.0, Blind::Small, small.1), (big.0, Blind::Big, big.1)] {
                self.stacks[seat] -= amount;
                self.events.push(Event::BlindPosted { seat, blind, amount });
            }
            self
        }

        fn act(mut self, seat: SeatIndex, action: Action, amount: u64) -> HandBuilder {
            self.stacks[seat] -= amount;
            self.events.push(Event::TurnStarted { seat });
            self.events.push(Event::ActionTaken {
                seat,
                action,
                amount,
                stack: self.stacks[seat],
                all_in: self.stacks[seat] == 0,
                timed_out: false,
            });
            self
        }

        fn board(mut self, street: Street) -> HandBuilder {
            let cards = if street == Street::Flop {
                &Card::ALL[40..43]
            } else {
                &Card::ALL[43..44]
            };
            self.events.push(Event::BoardDealt {
                street,
                cards: BoardCards::new(cards).expect("at most 5 cards"),
            });
            self
        }

        fn returned(mut self, seat: SeatIndex, amount: u64) -> HandBuilder {
            self.stacks[seat] += amount;
            self.events.push(Event::UncalledBetReturned { seat, amount });
            self
        }

        fn show(mut self, seat: SeatIndex) -> HandBuilder {
            self.events.push(Event::HandShown {
                seat,
                cards: [Card::ALL[0], Card::ALL[1]],
                rank: some_rank(),
            });
            self
        }

        fn muck(mut self, seat: SeatIndex) -> HandBuilder {
            self.events.push(Event::HandMucked { seat });
            self
        }

        fn award(mut self, rank: Option<HandRank>, winners: &[(SeatIndex, u64)]) -> HandBuilder {
            let shares: Vec<Share> = winners
                .iter()
                .map(|&(seat, amount)| Share { seat, amount })
                .collect();
            for share in &shares {
                self.stacks[share.seat] += share.amount;
            }
            self.events.push(Event::PotAwarded {
                pot: 0,
                amount: shares.iter().map(|s| s.amount).sum(),
                winners: SeatList::from_slice(&shares).expect("few winners"),
                rank,
            });
            self
        }

        fn end(mut self) -> Vec<Event> {
            let stacks: Vec<SeatStack> = self
                .seats
                .iter()
                .map(|&seat| SeatStack {
                    seat,
                    stack: self.stacks[seat],
                })
                .collect();
            self.events.push(Event::HandEnded {
                hand: self.hand,
                stacks: SeatList::from_slice(&stacks).expect("few seats"),
            });
            self.events
        }
    }

    fn some_rank() -> HandRank {
        evaluate(&Card::ALL[..5])
    }

    fn names(names: &[&str]) -> Vec<Option<String>> {
        names
            .iter()
            .map(|name| (!name.is_empty()).then(|| name.to_string()))
            .collect()
    }

    fn seat(summary: &HandSummary, seat: SeatIndex) -> SeatHand {
        *summary
            .seats
            .iter()
            .find(|s| s.seat == seat)
            .expect("seat dealt in")
    }

    fn result<'a>(results: &'a [AgentResult], agent: &str) -> &'a AgentResult {
        results.iter().find(|r| r.agent == agent).expect("agent recorded")
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    /// Button raises to 30, both blinds fold; 20 comes back uncalled.
    fn raise_fold() -> Vec<Event> {
        HandBuilder::new(1, &[(0, 1000), (1, 1000), (2, 1000)])
            .blinds((1, 5), (2, 10))
            .act(0, Action::Raise { to: 30 }, 30)
            .act(1, Action::Fold, 0)
            .act(2, Action::Fold, 0)
            .returned(0, 20)
            .award(None, &[(0, 25)])
            .end()
    }

    /// Button limps, small blind completes, big blind checks; a flop bet is
    /// called, a turn bet is raised and folded to.
    fn limp_call() -> Vec<Event> {
        HandBuilder::new(2, &[(0, 1000), (1, 1000), (2, 1000)])
            .blinds((1, 5), (2, 10))
            .act(0, Action::Call, 10)
            .act(1, Action::Call, 5)
            .act(2, Action::Check, 0)
            .board(Street::Flop)
            .act(1, Action::Check, 0)
            .act(2, Action::Bet { to: 20 }, 20)
            .act(0, Action::Call, 20)
            .act(1, Action::Fold, 0)
            .board(Street::Turn)
            .act(2, Action::Bet { to: 40 }, 40)
            .act(0, Action::Raise { to: 120 }, 120)
            .act(2, Action::Fold, 0)
            .returned(0, 80)
            .award(None, &[(0, 150)])
            .end()
    }

    /// Heads-up: the button completes, everybody checks to the river, the
    /// big blind shows and wins, the button mucks.
    fn check_down() -> Vec<Event> {
        let mut hand = HandBuilder::new(3, &[(0, 1000), (1, 1000)])
            .blinds((0, 5), (1, 10))
            .act(0, Action::Call, 5)
            .act(1, Action::Check, 0);
        for street in [Street::Flop, Street::Turn, Street::River] {
            hand = hand
                .board(street)
                .act(1, Action::Check, 0)
                .act(0, Action::Check, 0);
        }
        hand.show(1).muck(0).award(Some(some_rank()), &[(1, 20)]).end()
    }

    /// Everyone folds to the big blind.
    fn walk() -> Vec<Event> {
        HandBuilder::new(4, &[(0, 1000), (1, 1000), (2, 1000)])
            .blinds((1, 5), (2, 10))
            .act(0, Action::Fold, 0)
            .act(1, Action::Fold, 0)
            .returned(2, 5)
            .award(None, &[(2, 10)])
            .end()
    }

    /// The button shoves 100, the big blind calls, the board runs out and
    /// the pot is split.
    fn all_in_split() -> Vec<Event> {
        HandBuilder::new(5, &[(0, 100), (1, 1000), (2, 1000)])
            .blinds((1, 5), (2, 10))
            .act(0, Action::Raise { to: 100 }, 100)
            .act(1, Action::Fold, 0)
            .act(2, Action::Call, 90)
            .board(Street::Flop)
            .board(Street::Turn)
            .board(Street::River)
            .show(2)
            .show(0)
            .award(Some(some_rank()), &[(0, 103), (2, 102)])
            .end()
    }

    #[test]
    fn preflop_raise_and_folds() {
        let summary = HandSummary::from_events(&raise_fold()).expect("valid hand");
        assert_eq!(summary.hand, 1);
        let raiser = seat(&summary, 0);
        assert_eq!((raiser.net, raiser.vpip, raiser.pfr), (15, true, true));
        assert!(!raiser.saw_flop && !raiser.showdown && !raiser.won_at_showdown);
        for (blind, net) in [(1, -5), (2, -10)] {
            let hand = seat(&summary, blind);
            assert_eq!(
                hand,
                SeatHand {
                    seat: blind,
                    net,
                    ..SeatHand::default()
                }
            );
        }
    }

    #[test]
    fn limp_and_calls() {
        let summary = HandSummary::from_events(&limp_call()).expect("valid hand");
        let limper = seat(&summary, 0);
        assert_eq!(
            limper,
            SeatHand {
                seat: 0,
                net: 80,
                vpip: true,
                pfr: false,
                postflop_bets_raises: 1,
                postflop_calls: 1,
                saw_flop: true,
                showdown: false,
                won_at_showdown: false,
            }
        );
        let small = seat(&summary, 1);
        assert_eq!(
            (small.net, small.vpip, small.pfr, small.saw_flop),
            (-10, true, false, true)
        );
        assert_eq!((small.postflop_bets_raises, small.postflop_calls), (0, 0));
        let big = seat(&summary, 2);
        assert_eq!((big.net, big.vpip, big.saw_flop), (-70, false, true));
        assert_eq!((big.postflop_bets_raises, big.postflop_calls), (2, 0));

        let mut stats = StatsAccumulator::new();
        stats
            .record_hand(10, &names(&["a", "b", "c"]), 1, &limp_call())
            .expect("recorded");
        let results = stats.results();
        let a = result(&results, "a");
        assert_eq!((a.vpip, a.pfr, a.aggression_factor), (1.0, 0.0, Some(1.0)));
        assert_eq!((a.went_to_showdown, a.won_at_showdown), (Some(0.0), None));
        assert_eq!(result(&results, "b").aggression_factor, None);
        assert_eq!(
            result(&results, "c").aggression_factor,
            None,
            "bets but never calls"
        );
        assert_eq!(
            result(&results, "c").vpip,
            0.0,
            "checking the big blind is not voluntary"
        );
        assert_eq!(stats.total_net(), 0);
    }

    #[test]
    fn check_down_to_a_showdown() {
        let summary = HandSummary::from_events(&check_down()).expect("valid hand");
        let button = seat(&summary, 0);
        let big = seat(&summary, 1);
        assert_eq!((button.net, button.vpip, button.pfr), (-10, true, false));
        assert_eq!((big.net, big.vpip, big.pfr), (10, false, false));
        assert!(
            button.saw_flop && button.showdown && !button.won_at_showdown,
            "mucking is a showdown"
        );
        assert!(big.saw_flop && big.showdown && big.won_at_showdown);

        let mut stats = StatsAccumulator::new();
        stats
            .record_hand(10, &names(&["a", "b"]), 1, &check_down())
            .expect("recorded");
        let results = stats.results();
        let (a, b) = (result(&results, "a"), result(&results, "b"));
        assert_eq!((a.went_to_showdown, a.won_at_showdown), (Some(1.0), Some(0.0)));
        assert_eq!((b.went_to_showdown, b.won_at_showdown), (Some(1.0), Some(1.0)));
        assert_eq!((a.bb_per_100, b.bb_per_100), (-100.0, 100.0));
        assert_eq!(a.aggression_factor, None);
    }

    #[test]
    fn a_walk_is_not_a_showdown() {
        let summary = HandSummary::from_events(&walk()).expect("valid hand");
        let big = seat(&summary, 2);
        assert_eq!(big.net, 5);
        assert!(!big.vpip && !big.saw_flop && !big.showdown && !big.won_at_showdown);
        assert_eq!(seat(&summary, 1).net, -5);
        assert_eq!(seat(&summary, 0).net, 0);

        let mut stats = StatsAccumulator::new();
        stats
            .record_hand(10, &names(&["a", "b", "c"]), 1, &walk())
            .expect("recorded");
        let results = stats.results();
        let c = result(&results, "c");
        assert_eq!((c.went_to_showdown, c.won_at_showdown), (None, None));
        assert_eq!(c.counters.showdowns, 0);
    }

    #[test]
    fn an_all_in_runs_out_to_a_split_showdown() {
        let summary = HandSummary::from_events(&all_in_split()).expect("valid hand");
        let shover = seat(&summary, 0);
        let caller = seat(&summary, 2);
        assert_eq!((shover.net, shover.vpip, shover.pfr), (3, true, true));
        assert_eq!((caller.net, caller.vpip, caller.pfr), (2, true, false));
        for hand in [shover, caller] {
            assert!(hand.saw_flop && hand.showdown && hand.won_at_showdown, "{hand:?}");
            assert_eq!((hand.postflop_bets_raises, hand.postflop_calls), (0, 0));
        }
        let folded = seat(&summary, 1);
        assert!(!folded.saw_flop && !folded.showdown);
    }

    #[test]
    fn one_agent_in_several_seats_adds_up() {
        let mut stats = StatsAccumulator::new();
        stats
            .record_hand(10, &names(&["a", "b", "a"]), 1, &raise_fold())
            .expect("recorded");
        stats
            .record_hand(10, &names(&["b", "a", "", "nobody"]), 2, &check_down())
            .expect("recorded");
        let results = stats.results();
        assert_eq!(
            results.iter().map(|r| r.agent.as_str()).collect::<Vec<_>>(),
            ["a", "b"],
            "sorted by name"
        );
        // a: seats 0 and 2 of the raise-fold (+15, -10), seat 1 of the check-down (+10).
        let a = result(&results, "a");
        assert_eq!((a.hands, a.net_chips), (3, 15));
        assert_eq!(
            (a.counters.vpip, a.counters.pfr, a.counters.showdowns_won),
            (1, 1, 1)
        );
        assert_close(a.vpip, 1.0 / 3.0);
        assert_close(a.bb_per_100, 50.0);
        // b: seat 1 of the raise-fold (-5), seat 0 of the check-down (-10).
        let b = result(&results, "b");
        assert_eq!(
            (b.hands, b.net_chips, b.counters.vpip, b.counters.showdowns),
            (2, -15, 1, 1)
        );
        assert_eq!(b.won_at_showdown, Some(0.0));
        assert_eq!(stats.total_net(), 0);
        // Two seats of one deal group like two rotations: a averages
        // +0.25 bb on deal 1 and +1 bb on deal 2; b never repeats a deal.
        let duplicate = a.duplicate.as_ref().expect("a holds two seats of deal 1");
        assert_eq!(duplicate.deals, 2);
        assert_close(duplicate.bb_per_100, 62.5);
        assert!(b.duplicate.is_none());
    }

    /// A heads-up hand in which seat 0 nets `net` chips.
    fn heads_up(hand: u64, net: i64) -> Vec<Event> {
        let start = 1000;
        let players = [(0, start), (1, start)];
        let mut events = HandBuilder::new(hand, &players).events;
        let stacks = [
            SeatStack {
                seat: 0,
                stack: start.checked_add_signed(net).expect("small net"),
            },
            SeatStack {
                seat: 1,
                stack: start.checked_add_signed(-net).expect("small net"),
            },
        ];
        events.push(Event::HandEnded {
            hand,
            stacks: SeatList::from_slice(&stacks).expect("two seats"),
        });
        events
    }

    #[test]
    fn confidence_interval_matches_a_hand_computed_example() {
        // Per-hand nets of 2, -1, 0, 3 bb: mean 1, sample variance 10/3,
        // so 100 · (1 ± 1.96 · sqrt(10/3) / 2).
        let mut stats = StatsAccumulator::new();
        let agents = names(&["a", "b"]);
        for (hand, net) in [20, -10, 0, 30].into_iter().enumerate() {
            let hand = hand as u64;
            stats
                .record_hand(10, &agents, hand, &heads_up(hand, net))
                .expect("recorded");
        }
        let results = stats.results();
        let a = result(&results, "a");
        assert_eq!((a.hands, a.net_chips), (4, 40));
        assert_close(a.bb_per_100, 100.0);
        let [lo, hi] = a.bb_per_100_ci95.expect("four hands");
        assert_close(lo, -78.92270211835427);
        assert_close(hi, 278.9227021183542);
        let b = result(&results, "b");
        assert_close(b.bb_per_100, -100.0);
        let [lo, hi] = b.bb_per_100_ci95.expect("four hands");
        assert_close(lo, -278.9227021183542);
        assert_close(hi, 78.92270211835427);

        let mut one = StatsAccumulator::new();
        one.record_hand(10, &agents, 0, &heads_up(0, 20))
            .expect("recorded");
        assert_eq!(one.results()[0].bb_per_100_ci95, None, "one hand has no interval");
        assert_eq!(one.results()[0].bb_per_100, 200.0);
    }

    #[test]
    fn duplicate_estimate_on_a_tiny_example() {
        // Deals 1, 2, 3 with two hands each: a nets (+4, -2), (-1, -1),
        // (+3, +1) bb, so 1, -1 and 2 bb per hand; mean 2/3, sample
        // variance 7/3: 100 · (2/3 ± 1.96 · sqrt(7/3) / sqrt(3)).
        let mut stats = StatsAccumulator::new();
        let agents = names(&["a", "b"]);
        let nets = [(1, 40), (1, -20), (2, -10), (2, -10), (3, 30), (3, 10)];
        for (hand, (deal, net)) in nets.into_iter().enumerate() {
            let hand = hand as u64;
            stats
                .record_hand(10, &agents, deal, &heads_up(hand, net))
                .expect("recorded");
        }
        let results = stats.results();
        let a = result(&results, "a");
        let duplicate = a.duplicate.as_ref().expect("deals repeat");
        assert_eq!(duplicate.deals, 3);
        assert_close(duplicate.bb_per_100, 200.0 / 3.0);
        let [lo, hi] = duplicate.ci95.expect("three deals");
        assert_close(lo, -106.18908565621994);
        assert_close(hi, 239.52241898955327);
        let b = result(&results, "b").duplicate.as_ref().expect("deals repeat");
        assert_close(b.bb_per_100, -200.0 / 3.0);
        // Deals of equal size: the same mean as per hand.
        assert_close(a.bb_per_100, 200.0 / 3.0);

        // One deal: an estimate without an interval.
        let mut one = StatsAccumulator::new();
        for hand in 0..2 {
            one.record_hand(10, &agents, 9, &heads_up(hand, 10))
                .expect("recorded");
        }
        let duplicate = one.results()[0].duplicate.clone().expect("one deal played twice");
        assert_eq!(
            (duplicate.deals, duplicate.bb_per_100, duplicate.ci95),
            (1, 100.0, None)
        );

        // Every deal once, or deals ignored: no estimate.
        let mut unique = StatsAccumulator::new();
        let mut ignored = StatsAccumulator::without_deals();
        for (hand, (deal, net)) in nets.into_iter().enumerate() {
            let hand = hand as u64;
            unique
                .record_hand(10, &agents, hand, &heads_up(hand, net))
                .expect("recorded");
            ignored
                .record_hand(10, &agents, deal, &heads_up(hand, net))
                .expect("recorded");
        }
        assert!(unique.results().iter().all(|r| r.duplicate.is_none()));
        assert!(ignored.results().iter().all(|r| r.duplicate.is_none()));
        assert_eq!(ignored.results()[0].bb_per_100_ci95, a.bb_per_100_ci95);
    }

    #[test]
    fn blind_levels_are_kept_apart() {
        // +10 chips with a big blind of 20, then -10 with one of 10: +0.5 bb and -1 bb.
        let mut stats = StatsAccumulator::new();
        let agents = names(&["a", "b"]);
        stats
            .record_hand(20, &agents, 1, &heads_up(1, 10))
            .expect("recorded");
        stats
            .record_hand(10, &agents, 1, &heads_up(2, -10))
            .expect("recorded");
        let a = &stats.results()[0];
        assert_eq!(a.net_chips, 0);
        assert_close(a.bb_per_100, -25.0);
        let duplicate = a.duplicate.as_ref();
        assert!(
            duplicate.is_none(),
            "a deal id is scoped to its big blind: {duplicate:?}"
        );
    }

    #[test]
    fn bad_hands_are_refused_and_change_nothing() {
        let mut stats = StatsAccumulator::new();
        let agents = names(&["a", "b", "c"]);
        stats.record_hand(10, &agents, 1, &walk()).expect("recorded");
        let before = stats.clone();

        let hand = raise_fold();
        let refuse = |stats: &mut StatsAccumulator, agents: &[Option<String>], events: &[Event]| {
            stats.record_hand(10, agents, 2, events).expect_err("refused")
        };
        assert_eq!(
            refuse(&mut stats, &agents, &hand[..hand.len() - 1]),
            StatsError::NoHandEnded { hand: 1 }
        );
        assert_eq!(refuse(&mut stats, &agents, &hand[2..]), StatsError::NoHandStarted);
        let two: Vec<Event> = hand.iter().chain(&walk()).cloned().collect();
        assert_eq!(
            refuse(&mut stats, &agents, &two),
            StatsError::SeveralHands { first: 1, second: 4 }
        );
        assert_eq!(
            refuse(&mut stats, &names(&["a", "b"]), &hand),
            StatsError::NoAgent { seat: 2 }
        );
        assert_eq!(
            refuse(&mut stats, &names(&["a", "", "c"]), &hand),
            StatsError::NoAgent { seat: 1 }
        );
        let mut stranger = hand.clone();
        stranger.insert(
            3,
            Event::ActionTaken {
                seat: 5,
                action: Action::Call,
                amount: 10,
                stack: 0,
                all_in: true,
                timed_out: false,
            },
        );
        assert_eq!(
            refuse(&mut stats, &agents, &stranger),
            StatsError::SeatNotDealtIn { seat: 5 }
        );
        let mut renumbered = hand.clone();
        if let Some(Event::HandEnded { hand, .. }) = renumbered.last_mut() {
            *hand = 9;
        }
        assert_eq!(
            refuse(&mut stats, &agents, &renumbered),
            StatsError::HandMismatch { started: 1, ended: 9 }
        );
        let mut short = hand.clone();
        if let Some(Event::HandEnded { stacks, .. }) = short.last_mut() {
            *stacks = SeatList::from_slice(&stacks[..2]).expect("two seats");
        }
        assert_eq!(
            refuse(&mut stats, &agents, &short),
            StatsError::MissingFinalStack { seat: 2 }
        );
        assert_eq!(
            stats.record_hand(0, &agents, 2, &hand).expect_err("refused"),
            StatsError::ZeroBigBlind
        );
        assert_eq!(stats, before);
    }

    /// Events before `HandStarted` and after `HandEnded` (seed, top-ups) are not part of the hand.
    #[test]
    fn surrounding_events_are_ignored() {
        let mut events = vec![Event::ChipsAdded {
            seat: 0,
            amount: 500,
            stack: 1000,
        }];
        events.extend(check_down());
        events.push(Event::SeatLeft { seat: 1, stack: 1010 });
        let summary = HandSummary::from_events(&events).expect("one hand");
        assert_eq!(
            summary,
            HandSummary::from_events(&check_down()).expect("one hand")
        );
    }

    /// Hands of random legal play at a 6-seat table with antes, in deals of
    /// three hands, each hand's events as a runner would see them (the deck
    /// seed first); and each seat's chips won at the table (final stack minus
    /// everything it was given).
    fn random_hands(count: u64) -> (Vec<(u64, Vec<Event>)>, [i64; 6]) {
        let config = TableConfig {
            ante: 2,
            ..TableConfig::new(6, 5, 10)
        };
        let mut table = seated_table(config, 1000).expect("valid table");
        let mut rng = SplitMix64::new(2024);
        let mut hands = Vec::new();
        let mut given = [1000; 6];
        for hand in 0..count {
            for (seat, given) in given.iter_mut().enumerate() {
                if table.stack(seat) == Some(0) {
                    table
                        .apply(Command::AddChips { seat, amount: 1000 })
                        .expect("top up");
                    *given += 1000;
                }
            }
            let mut events = table
                .apply(Command::StartHand { seed: rng.next_u64() })
                .expect("start");
            play_out(&mut table, &mut rng, &mut events).expect("legal play");
            hands.push((hand / 3, events));
        }
        let won = std::array::from_fn(|seat| {
            let stack = table.stack(seat).expect("seated");
            i64::try_from(stack).expect("small stack") - given[seat]
        });
        (hands, won)
    }

    #[test]
    fn tracking_a_hand_gives_the_summary_of_its_events() {
        let mut rng = SplitMix64::new(77);
        let mut tracker = HandTracker::default();
        for hand in 0..3_000u64 {
            // 2 to 6 seats, antes in half the hands, stacks from 1 chip (all-in
            // on the blinds, hands that end in `StartHand`) to deep.
            let seats = 2 + (hand % 5) as usize;
            let config = TableConfig {
                ante: (hand % 2) * 2,
                ..TableConfig::new(seats, 5, 10)
            };
            let mut table = Table::new(config).expect("valid table");
            for seat in 0..seats {
                let stack = [1, 4, 15, 60, 400, 3_000][rng.below(6) as usize];
                table
                    .apply(Command::Sit {
                        seat,
                        player: format!("p{seat}"),
                        stack,
                    })
                    .expect("sit");
            }
            let mut events = table
                .apply(Command::StartHand { seed: rng.next_u64() })
                .expect("start");
            tracker.start(&events).expect("started");
            let mut last = 0;
            while let Some(seat) = table.to_act() {
                let street = table.street().expect("a hand in progress");
                last = events.len();
                // Now and then the clock acts instead, as for a slow agent.
                let command = if rng.below(10) == 0 {
                    Command::Timeout { seat }
                } else {
                    let action = game_core::sim::random_action(&table.legal_actions(seat), &mut rng)
                        .expect("an action");
                    Command::Act { seat, action }
                };
                table.apply_into(command, &mut events).expect("legal");
                tracker.decision(street, &events[last]).expect("a decision");
            }
            let tracked = tracker.finish(&events[last..]).expect("ended");
            assert_eq!(Ok(tracked), HandSummary::from_events(&events), "hand {hand}");
        }
    }

    fn sim_agents() -> Vec<Option<String>> {
        names(&["alice", "bob", "carol", "dave", "alice", "bob"])
    }

    #[test]
    fn tallies_by_agent_index_equal_recording_by_name() {
        let (hands, _) = random_hands(600);
        let agents = sim_agents();
        // The distinct agents, and each seat's index among them.
        let names: Vec<String> = ["alice", "bob", "carol", "dave"].map(String::from).into();
        let index = |seat: usize| {
            let name = agents[seat].as_deref().expect("every seat has an agent");
            names.iter().position(|n| n == name).expect("known agent")
        };
        for tracked in [true, false] {
            let fresh = || {
                if tracked {
                    StatsAccumulator::new()
                } else {
                    StatsAccumulator::without_deals()
                }
            };
            let mut by_name = fresh();
            let mut by_index = fresh();
            let mut tallies = AgentTallies::new(names.clone(), by_index.tracks_deals());
            for (i, (deal, events)) in hands.iter().enumerate() {
                by_name.record_hand(10, &agents, *deal, events).expect("valid");
                let summary = HandSummary::from_events(events).expect("valid");
                for hand in &summary.seats {
                    tallies.record(index(hand.seat), 10, *deal, hand);
                }
                // Moved over now and then, as a run's checkpoints do.
                if i % 97 == 0 {
                    tallies.move_into(&mut by_index);
                }
            }
            tallies.move_into(&mut by_index);
            assert_eq!(by_index, by_name);
            assert_eq!(by_index.results(), by_name.results());
        }
    }

    #[test]
    fn random_play_keeps_the_invariants() {
        let (hands, won) = random_hands(2000);
        let agents = sim_agents();
        let mut stats = StatsAccumulator::new();
        let mut showdowns = 0;
        for (deal, events) in &hands {
            let summary = stats
                .record_hand(10, &agents, *deal, events)
                .expect("engine hands are valid");
            assert_eq!(summary.seats.len(), 6, "every seat has chips");
            assert_eq!(
                summary.seats.iter().map(|s| s.net).sum::<i64>(),
                0,
                "chips change hands"
            );
            let shown = events
                .iter()
                .any(|e| matches!(e, Event::HandShown { .. } | Event::HandMucked { .. }));
            assert_eq!(
                shown,
                summary.seats.iter().any(|s| s.showdown),
                "showdown is when hands are shown or mucked: {events:?}"
            );
            for hand in &summary.seats {
                assert!(!hand.pfr || hand.vpip, "{hand:?}");
                assert!(!hand.showdown || hand.saw_flop, "{hand:?}");
                assert!(!hand.won_at_showdown || hand.showdown, "{hand:?}");
            }
            if shown {
                assert!(summary.seats.iter().filter(|s| s.showdown).count() >= 2);
                assert!(summary.seats.iter().any(|s| s.won_at_showdown));
                showdowns += 1;
            }
        }
        assert!(showdowns > 100, "random play reaches showdowns: {showdowns}");
        assert_eq!(stats.total_net(), 0);

        let results = stats.results();
        assert_eq!(results.len(), 4);
        assert_eq!(results.iter().map(|r| r.hands).sum::<u64>(), 2000 * 6);
        assert_eq!(result(&results, "alice").hands, 4000);
        // Seats 0 and 4 are alice, 1 and 5 bob, 2 carol, 3 dave.
        for (agent, seats) in [
            ("alice", &[0, 4][..]),
            ("bob", &[1, 5]),
            ("carol", &[2]),
            ("dave", &[3]),
        ] {
            let table: i64 = seats.iter().map(|&seat| won[seat]).sum();
            assert_eq!(result(&results, agent).net_chips, table, "{agent}");
        }
        for r in &results {
            assert!(0.0 <= r.pfr && r.pfr <= r.vpip && r.vpip <= 1.0, "{r:?}");
            assert!(r.counters.pfr > 0 && r.counters.showdowns_won > 0, "{r:?}");
            let won = r.won_at_showdown.expect("showdowns");
            assert!((0.0..=1.0).contains(&won), "{r:?}");
            let went = r.went_to_showdown.expect("flops");
            assert!((0.0..=1.0).contains(&went), "{r:?}");
            assert!(r.aggression_factor.expect("calls") > 0.0);
            let [lo, hi] = r.bb_per_100_ci95.expect("many hands");
            assert!(lo < r.bb_per_100 && r.bb_per_100 < hi, "{r:?}");
            let duplicate = r.duplicate.as_ref().expect("deals of three hands");
            assert_eq!(duplicate.deals, 667);
            assert_close(r.bb_per_100, r.net_chips as f64 / 10.0 / r.hands as f64 * 100.0);
        }

        let json = serde_json::to_string(&stats).expect("serialisable");
        let back: StatsAccumulator = serde_json::from_str(&json).expect("deserialisable");
        assert_eq!(back, stats);
        assert_eq!(back.results(), results);
        let summary = serde_json::to_value(&results).expect("serialisable");
        assert!(summary[0]["bb_per_100_ci95"].is_array());
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let (hands, _) = random_hands(600);
        let agents = sim_agents();
        let mut whole = StatsAccumulator::new();
        // Three "tables" that share deals: hand i goes to table i % 3.
        let mut parts = [
            StatsAccumulator::new(),
            StatsAccumulator::new(),
            StatsAccumulator::new(),
        ];
        for (i, (deal, events)) in hands.iter().enumerate() {
            whole.record_hand(10, &agents, *deal, events).expect("valid");
            parts[i % 3]
                .record_hand(10, &agents, *deal, events)
                .expect("valid");
        }
        for extra in [check_down(), limp_call()] {
            whole
                .record_hand(10, &names(&["erin", "bob", "alice"]), 1000, &extra)
                .expect("valid");
            parts[1]
                .record_hand(10, &names(&["erin", "bob", "alice"]), 1000, &extra)
                .expect("valid");
        }
        let [first, second, third] = parts;
        let mut merged = StatsAccumulator::new();
        merged.merge(third);
        merged.merge(first);
        merged.merge(second);
        assert_eq!(merged, whole);
        assert_eq!(merged.results(), whole.results());
        assert_eq!(merged.total_net(), 0);

        // Merging with an accumulator that ignores deals drops the estimate.
        let mut ignoring = StatsAccumulator::without_deals();
        ignoring
            .record_hand(10, &names(&["a", "b"]), 1, &check_down())
            .expect("valid");
        merged.merge(ignoring);
        let results = merged.results();
        assert!(results.iter().all(|r| r.duplicate.is_none()));
        assert_eq!(result(&results, "a").hands, 1);
        assert_eq!(result(&results, "alice").hands, whole.results()[0].hands);
    }
}
