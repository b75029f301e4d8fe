//! One hand read from its events, from `HandStarted` to `HandEnded`: each
//! dealt-in seat's net result and the tracker counters it hit
//! ([`SeatHand`]), for every seat of the hand ([`HandSummary`]).

use game_core::event::{Event, SeatList};
use game_core::rules::MAX_SEATS;
use game_core::{Action, SeatIndex, Street};
use serde::{Deserialize, Serialize};

use super::error::StatsError;

/// One seat's part in one hand: its net result and which counters it hit.
/// Returned by [`StatsAccumulator::record_hand`](super::StatsAccumulator::record_hand) so a runner can also write
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
    pub(super) fn count_action(&mut self, street: Street, action: &Action) -> bool {
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
