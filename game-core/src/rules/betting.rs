//! Betting: what the seat to act may do, and what each decision does to
//! the street, including the reopening rule for short all-ins.

use serde::{Deserialize, Serialize};

use super::{Hand, HandAction, RuleError, SeatIndex, Table};
use crate::command::Action;
use crate::event::Event;

/// An inclusive range of "to" amounts for a bet or raise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AmountRange {
    /// The smallest legal amount (equal to `max` when only all-in is possible).
    pub min: u64,
    /// The largest legal amount: all-in.
    pub max: u64,
}

/// Everything one seat may do now. All `false`/`None` when it is not that
/// seat's turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LegalActions {
    /// Folding is allowed (only when facing a bet).
    pub fold: bool,
    /// Checking is allowed.
    pub check: bool,
    /// Chips a call puts in (capped at the stack: an all-in call).
    pub call: Option<u64>,
    /// Opening bet range, when nobody has bet on this street.
    pub bet: Option<AmountRange>,
    /// Raise range, when facing a bet and the betting is open to this seat.
    pub raise: Option<AmountRange>,
}

impl LegalActions {
    /// True when the seat may not act at all.
    pub fn is_empty(&self) -> bool {
        !self.fold && !self.check && self.call.is_none() && self.bet.is_none() && self.raise.is_none()
    }

    /// Whether `action` is one of these.
    pub fn allows(&self, action: Action) -> bool {
        let within = |r: Option<AmountRange>, to: u64| r.is_some_and(|r| (r.min..=r.max).contains(&to));
        match action {
            Action::Fold => self.fold,
            Action::Check => self.check,
            Action::Call => self.call.is_some(),
            Action::Bet { to } => within(self.bet, to),
            Action::Raise { to } => within(self.raise, to),
        }
    }
}

impl Hand {
    /// Whether any other live seat could put in more than the current bet:
    /// otherwise a bet or raise could never be called (pokerkit refuses it
    /// too) and the seat may only call or fold.
    fn raise_can_be_called(&self, seat: SeatIndex) -> bool {
        self.players.iter().enumerate().any(|(s, p)| {
            s != seat
                && p.as_ref()
                    .is_some_and(|p| p.live() && p.street_bet + p.stack > self.current_bet)
        })
    }

    /// Whether `seat` must still act on this street, given how many live
    /// seats (this one included) still have chips behind.
    fn needs_action(&self, seat: SeatIndex, with_chips: usize) -> bool {
        let Some(p) = self.players[seat].as_ref() else {
            return false;
        };
        if !p.live() || p.all_in() {
            return false;
        }
        if p.street_bet < self.current_bet {
            return true;
        }
        // Not facing a bet: acting only matters if someone could answer.
        !p.acted && with_chips > 1
    }
}

impl Table {
    /// What `seat` may do now.
    pub fn legal_actions(&self, seat: SeatIndex) -> LegalActions {
        let Some(hand) = self.hand.as_ref() else {
            return LegalActions::default();
        };
        if hand.to_act != Some(seat) {
            return LegalActions::default();
        }
        let Some(p) = hand.players.get(seat).and_then(Option::as_ref) else {
            return LegalActions::default();
        };
        let to_call = hand.current_bet.saturating_sub(p.street_bet);
        let max_to = p.street_bet + p.stack;
        let reopened = !p.acted || hand.current_bet - p.faced >= hand.min_raise;
        let can_raise = max_to > hand.current_bet && reopened && hand.raise_can_be_called(seat);
        let range = AmountRange {
            min: (hand.current_bet + hand.min_raise).min(max_to),
            max: max_to,
        };
        LegalActions {
            fold: to_call > 0,
            check: to_call == 0,
            call: (to_call > 0).then(|| to_call.min(p.stack)),
            bet: (can_raise && hand.current_bet == 0).then_some(range),
            raise: (can_raise && hand.current_bet > 0).then_some(range),
        }
    }

    /// Validates and performs one betting decision, then moves the hand on.
    pub(super) fn act(
        &mut self,
        seat: SeatIndex,
        action: Action,
        timed_out: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), RuleError> {
        let legal = self.legal_actions(seat);
        if legal.is_empty() {
            return Err(self.turn_error());
        }
        let Some(hand) = self.hand.as_mut() else {
            return Err(RuleError::NoHandInProgress);
        };
        let current = hand.current_bet;
        let (street_bet, stack, acted, faced) = match hand.players[seat].as_ref() {
            Some(p) => (p.street_bet, p.stack, p.acted, p.faced),
            None => return Err(RuleError::NoHandInProgress),
        };
        let to = match action {
            Action::Fold if !legal.fold => return Err(RuleError::CannotFold),
            Action::Fold => None,
            Action::Check if !legal.check => {
                return Err(RuleError::CannotCheck {
                    to_call: current - street_bet,
                });
            }
            Action::Check => Some(street_bet),
            Action::Call => Some(street_bet + legal.call.ok_or(RuleError::NothingToCall)?),
            Action::Bet { to } => {
                if current > 0 {
                    return Err(RuleError::AlreadyBet { current });
                }
                Some(check_amount(legal.bet, to, street_bet + stack, |min| {
                    RuleError::BetTooSmall { min }
                })?)
            }
            Action::Raise { to } => {
                if current == 0 {
                    return Err(RuleError::NothingToRaise);
                }
                if legal.raise.is_none()
                    && street_bet + stack > current
                    && acted
                    && current - faced < hand.min_raise
                {
                    return Err(RuleError::RaiseNotAllowed);
                }
                Some(check_amount(legal.raise, to, street_bet + stack, |min| {
                    RuleError::RaiseTooSmall { min }
                })?)
            }
        };

        // The decision is legal: from here on the state changes.
        let street = hand.street;
        let mut amount = 0;
        let mut all_in = false;
        match to {
            None => {
                if let Some(p) = hand.players[seat].as_mut() {
                    p.folded = true;
                }
            }
            Some(to) => {
                if to > current {
                    let increment = to - current;
                    if increment >= hand.min_raise {
                        // A full bet or raise reopens the betting for everyone.
                        hand.min_raise = increment;
                        for p in hand.players.iter_mut().flatten() {
                            p.acted = false;
                        }
                    }
                    hand.current_bet = to;
                    hand.last_aggressor = Some(seat);
                }
                let current = hand.current_bet;
                if let Some(p) = hand.players[seat].as_mut() {
                    amount = to - p.street_bet;
                    p.stack -= amount;
                    p.street_bet = to;
                    p.total += amount;
                    all_in = p.stack == 0;
                    p.faced = current;
                }
            }
        }
        let stack_after = hand.players[seat].as_ref().map_or(0, |p| p.stack);
        if let Some(p) = hand.players[seat].as_mut() {
            p.acted = true;
        }
        hand.to_act = None;
        hand.history.push(HandAction {
            street,
            seat,
            action,
            amount,
            all_in,
        });
        events.push(Event::ActionTaken {
            seat,
            action,
            amount,
            stack: stack_after,
            all_in,
            timed_out,
        });
        self.continue_hand(seat, events);
        Ok(())
    }

    /// Moves the hand on after `from` acted (or after the deal): gives the
    /// turn to the next seat that must act, or closes the street, deals the
    /// next one, and ends the hand when it is decided.
    pub(super) fn continue_hand(&mut self, mut from: SeatIndex, events: &mut Vec<Event>) {
        let n = self.config.seats;
        let big_blind = self.config.big_blind;
        loop {
            let Some(hand) = self.hand.as_mut() else { return };
            let (mut live, mut with_chips) = (0, 0);
            for p in hand.players.iter().flatten() {
                live += usize::from(p.live());
                with_chips += usize::from(p.live() && !p.all_in());
            }
            if live > 1 {
                let mut seat = from;
                for _ in 0..n {
                    seat = if seat + 1 == n { 0 } else { seat + 1 };
                    if hand.needs_action(seat, with_chips) {
                        hand.to_act = Some(seat);
                        events.push(Event::TurnStarted { seat });
                        return;
                    }
                }
            }
            hand.return_uncalled(events);
            if live <= 1 {
                self.award_uncontested(events);
                self.finish_hand(events);
                return;
            }
            let Some(street) = hand.street.next() else {
                self.showdown(events);
                self.finish_hand(events);
                return;
            };
            hand.street = street;
            hand.current_bet = 0;
            hand.min_raise = big_blind;
            hand.last_aggressor = None;
            for p in hand.players.iter_mut().flatten() {
                p.street_bet = 0;
                p.acted = false;
                p.faced = 0;
            }
            let count = if street == crate::rules::Street::Flop {
                3
            } else {
                1
            };
            hand.deck.deal(); // burn
            let start = hand.board_len;
            for _ in 0..count {
                if let Some(card) = hand.deck.deal() {
                    hand.board[hand.board_len] = card;
                    hand.board_len += 1;
                }
            }
            events.push(Event::BoardDealt {
                street,
                cards: hand.board[start..hand.board_len].to_vec(),
            });
            // Postflop action starts left of the button.
            from = hand.button;
        }
    }
}

impl Hand {
    /// At the end of a street, the part of the top bet nobody matched goes back.
    fn return_uncalled(&mut self, events: &mut Vec<Event>) {
        let mut top: Option<SeatIndex> = None;
        let mut top_bet = 0;
        let mut second = 0;
        for (seat, p) in self.players.iter().enumerate() {
            let Some(p) = p else { continue };
            if p.street_bet > top_bet {
                second = top_bet;
                top_bet = p.street_bet;
                top = Some(seat);
            } else if p.street_bet > second {
                second = p.street_bet;
            }
        }
        let Some(seat) = top else { return };
        let excess = top_bet - second;
        if excess == 0 {
            return;
        }
        if let Some(p) = self.players[seat].as_mut() {
            p.street_bet -= excess;
            p.total -= excess;
            p.stack += excess;
        }
        events.push(Event::UncalledBetReturned { seat, amount: excess });
    }
}

/// Checks a bet/raise-to amount against its legal range.
fn check_amount(
    range: Option<AmountRange>,
    to: u64,
    all_in: u64,
    too_small: impl Fn(u64) -> RuleError,
) -> Result<u64, RuleError> {
    let Some(range) = range else {
        return Err(RuleError::CannotAffordRaise);
    };
    if to > range.max {
        return Err(RuleError::AmountTooLarge { max: all_in });
    }
    if to < range.min {
        return Err(too_small(range.min));
    }
    Ok(to)
}
