//! A hand's [`HandSummary`] kept up while the hand is played
//! ([`HandTracker`]), for a runner that applies every command itself.

use game_core::event::{Event, SeatList};
use game_core::rules::MAX_SEATS;
use game_core::{SeatIndex, Street};

use super::error::StatsError;
use super::hand::{HandSummary, SeatHand};

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
