//! Betting: what the seat to act may do, and what each decision does to
//! the street, including the reopening rule for short all-ins.

use serde::{Deserialize, Serialize};

use super::{Hand, HandAction, Player, RuleError, SeatIndex, SeatSet, Street, Table, emit};
use crate::command::Action;
use crate::event::{BoardCards, Event};

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
    /// What `seat`, the seat to act, may do.
    fn legal_actions(&self, seat: SeatIndex) -> LegalActions {
        let Some(p) = self.player(seat) else {
            return LegalActions::default();
        };
        let to_call = self.current_bet.saturating_sub(p.street_bet);
        let max_to = p.street_bet + p.stack;
        let reopened = !self.acted.contains(seat) || self.current_bet - p.faced >= self.min_raise;
        let can_raise = max_to > self.current_bet && reopened && self.raise_can_be_called(seat);
        let range = AmountRange {
            min: (self.current_bet + self.min_raise).min(max_to),
            max: max_to,
        };
        LegalActions {
            fold: to_call > 0,
            check: to_call == 0,
            call: (to_call > 0).then(|| to_call.min(p.stack)),
            bet: (can_raise && self.current_bet == 0).then_some(range),
            raise: (can_raise && self.current_bet > 0).then_some(range),
        }
    }

    /// Whether any other live seat could put in more than the current bet:
    /// otherwise a bet or raise could never be called (pokerkit refuses it
    /// too) and the seat may only call or fold.
    fn raise_can_be_called(&self, seat: SeatIndex) -> bool {
        let mut others = self.live();
        others.remove(seat);
        others.iter().any(|s| {
            let p = &self.players[s];
            p.street_bet + p.stack > self.current_bet
        })
    }

    /// The next seat clockwise after `from` that must act on this street,
    /// if any: one with chips behind that faces a bet, or that has not acted
    /// since the last full bet or raise.
    fn next_to_act(&self, from: SeatIndex) -> Option<SeatIndex> {
        let with_chips = self.live().minus(self.all_in);
        // Not facing a bet, a seat's turn only matters if someone could answer.
        let open = with_chips.has_several();
        with_chips.clockwise_after(from).find(|&seat| {
            self.players[seat].street_bet < self.current_bet || (open && !self.acted.contains(seat))
        })
    }
}

impl Table {
    /// What `seat` may do now.
    pub fn legal_actions(&self, seat: SeatIndex) -> LegalActions {
        match &self.hand {
            Some(hand) if hand.to_act == Some(seat) => hand.legal_actions(seat),
            _ => LegalActions::default(),
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
        let Some(hand) = self.hand.as_mut() else {
            return Err(RuleError::NoHandInProgress);
        };
        if hand.to_act != Some(seat) {
            return Err(RuleError::NotYourTurn { to_act: hand.to_act });
        }
        let current = hand.current_bet;
        let Player {
            street_bet,
            stack,
            faced,
            ..
        } = hand.players[seat];
        // Folds, checks and calls need only the amount to call; the full
        // `legal_actions` (with its scan of the other seats) is computed
        // for bets and raises alone.
        let to_call = current.saturating_sub(street_bet);
        let to = match action {
            Action::Fold if to_call == 0 => return Err(RuleError::CannotFold),
            Action::Fold => None,
            Action::Check if to_call > 0 => return Err(RuleError::CannotCheck { to_call }),
            Action::Check => Some(street_bet),
            Action::Call if to_call == 0 => return Err(RuleError::NothingToCall),
            Action::Call => Some(street_bet + to_call.min(stack)),
            Action::Bet { to } => {
                if current > 0 {
                    return Err(RuleError::AlreadyBet { current });
                }
                let legal = hand.legal_actions(seat);
                if legal.bet.is_none() && !hand.raise_can_be_called(seat) {
                    return Err(RuleError::NoOpponentCanCall);
                }
                Some(check_amount(legal.bet, to, street_bet + stack, |min| {
                    RuleError::BetTooSmall { min }
                })?)
            }
            Action::Raise { to } => {
                if current == 0 {
                    return Err(RuleError::NothingToRaise);
                }
                let legal = hand.legal_actions(seat);
                if legal.raise.is_none()
                    && street_bet + stack > current
                    && hand.acted.contains(seat)
                    && current - faced < hand.min_raise
                {
                    return Err(RuleError::RaiseNotAllowed);
                }
                if legal.raise.is_none() && street_bet + stack > current && !hand.raise_can_be_called(seat) {
                    return Err(RuleError::NoOpponentCanCall);
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
            None => hand.folded.insert(seat),
            Some(to) => {
                if to > current {
                    let increment = to - current;
                    if increment >= hand.min_raise {
                        // A full bet or raise reopens the betting for everyone.
                        hand.min_raise = increment;
                        hand.acted = SeatSet::EMPTY;
                    }
                    hand.current_bet = to;
                    hand.last_aggressor = Some(seat);
                }
                let p = &mut hand.players[seat];
                amount = to - p.street_bet;
                p.stack -= amount;
                p.street_bet = to;
                p.total += amount;
                p.faced = hand.current_bet;
                all_in = p.stack == 0;
                hand.all_in.set(seat, all_in);
            }
        }
        let stack_after = hand.players[seat].stack;
        hand.acted.insert(seat);
        hand.to_act = None;
        self.history.push(HandAction {
            street,
            seat,
            action,
            amount,
            all_in,
        });
        emit(events, || Event::ActionTaken {
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
        loop {
            let Some(hand) = self.hand.as_mut() else { return };
            if hand.live().has_several()
                && let Some(seat) = hand.next_to_act(from)
            {
                hand.to_act = Some(seat);
                emit(events, || Event::TurnStarted { seat });
                return;
            }
            match self.close_street(events) {
                Some(button) => from = button,
                None => return,
            }
        }
    }

    /// Ends the betting on a street: returns the uncalled part of a bet, then
    /// deals the next street (returning the button, left of which action
    /// resumes) or ends the hand (returning `None`).
    fn close_street(&mut self, events: &mut Vec<Event>) -> Option<SeatIndex> {
        let big_blind = self.config.big_blind;
        let hand = self.hand.as_mut()?;
        hand.return_uncalled(events);
        if !hand.live().has_several() {
            self.award_uncontested(events);
            self.finish_hand(events);
            return None;
        }
        let Some(street) = hand.street.next() else {
            self.showdown(events);
            self.finish_hand(events);
            return None;
        };
        hand.street = street;
        hand.current_bet = 0;
        hand.min_raise = big_blind;
        hand.last_aggressor = None;
        hand.acted = SeatSet::EMPTY;
        // Seats not dealt in hold zeros, so every entry can be reset.
        for p in &mut hand.players {
            p.street_bet = 0;
            p.faced = 0;
        }
        let count = if street == Street::Flop { 3 } else { 1 };
        hand.deck.deal(); // burn
        let start = hand.board_len;
        for _ in 0..count {
            if let Some(card) = hand.deck.deal() {
                hand.board[hand.board_len] = card;
                hand.board_len += 1;
            }
        }
        let cards = BoardCards::new(&hand.board[start..hand.board_len]).expect("at most five board cards");
        emit(events, || Event::BoardDealt { street, cards });
        // Postflop action starts left of the button.
        Some(hand.button)
    }
}

impl Hand {
    /// At the end of a street, the part of the top bet nobody matched goes back.
    fn return_uncalled(&mut self, events: &mut Vec<Event>) {
        let mut top: Option<SeatIndex> = None;
        let mut top_bet = 0;
        let mut second = 0;
        for seat in self.dealt.iter() {
            let street_bet = self.players[seat].street_bet;
            if street_bet > top_bet {
                second = top_bet;
                top_bet = street_bet;
                top = Some(seat);
            } else if street_bet > second {
                second = street_bet;
            }
        }
        let Some(seat) = top else { return };
        let excess = top_bet - second;
        if excess == 0 {
            return;
        }
        let p = &mut self.players[seat];
        p.street_bet -= excess;
        p.total -= excess;
        p.stack += excess;
        self.update_all_in(seat);
        emit(events, || Event::UncalledBetReturned { seat, amount: excess });
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
