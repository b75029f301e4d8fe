//! Commands: everything a caller (the server, a test, a replay) may ask a table to do.

use serde::{Deserialize, Serialize};

use crate::card::Card;
use crate::rules::SeatIndex;

/// A betting decision. Amounts for `Bet` and `Raise` mean "to": the seat's
/// total for the street after the action, not the increment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Give up the hand (only when facing a bet).
    Fold,
    /// Pass when there is nothing to call.
    Check,
    /// Match the current bet, or go all-in for less.
    Call,
    /// Open the betting on a street to `to` chips.
    Bet {
        /// The seat's street total after betting.
        to: u64,
    },
    /// Raise an existing bet to `to` chips.
    Raise {
        /// The seat's street total after raising.
        to: u64,
    },
}

/// A request to change the table. [`crate::Table::apply`] either performs
/// it and returns its events, or rejects it and changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// A player takes an empty seat with `stack` chips.
    Sit {
        /// The seat to take.
        seat: SeatIndex,
        /// Opaque player identity (the server's player id or display name).
        player: String,
        /// Chips brought to the table.
        stack: u64,
    },
    /// A player leaves the table with their chips (not while in a hand).
    Stand {
        /// The seat to free.
        seat: SeatIndex,
    },
    /// The seat skips hands from the next one on, keeping its chips and seat.
    SitOut {
        /// The seat that sits out.
        seat: SeatIndex,
    },
    /// The seat plays again from the next hand on.
    SitIn {
        /// The seat that comes back.
        seat: SeatIndex,
    },
    /// Top up a seat's stack (not while it is in a hand).
    AddChips {
        /// The seat receiving chips.
        seat: SeatIndex,
        /// Chips added.
        amount: u64,
    },
    /// Shuffle with `seed`, move the button, post antes and blinds, deal.
    StartHand {
        /// The deck seed (server-only; see [`crate::deck`]).
        seed: u64,
    },
    /// Like `StartHand`, but deals from a given order of all 52 cards (top
    /// first: hole cards round by round from the seat left of the button,
    /// then burn, flop, burn, turn, burn, river). For tests, hand-history
    /// import and prepared deals.
    StartStackedHand {
        /// A permutation of the 52 cards.
        deck: Vec<Card>,
    },
    /// The seat to act makes a betting decision.
    Act {
        /// The acting seat (must be the seat to act).
        seat: SeatIndex,
        /// What it does.
        action: Action,
    },
    /// The seat to act ran out of time: it checks if it can, else folds.
    Timeout {
        /// The seat whose clock expired.
        seat: SeatIndex,
    },
}
