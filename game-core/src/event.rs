//! Events: every change to a table, in order. The same values are the
//! deltas clients receive, the persisted log, the recovery path and the
//! source of hand histories.

use serde::{Deserialize, Serialize};

use crate::card::Card;
use crate::command::Action;
use crate::eval::HandRank;
use crate::rules::{SeatIndex, Street};

/// Who may see an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "to", content = "seat", rename_all = "snake_case")]
pub enum Visibility {
    /// Everyone at the table, spectators included.
    Public,
    /// Only the player in this seat (their hole cards).
    Seat(SeatIndex),
    /// Only the server (the seed, from which the deck follows).
    Server,
}

impl Visibility {
    /// Whether a viewer may receive an event with this visibility.
    pub fn visible_to(self, viewer: crate::view::Viewer) -> bool {
        match (self, viewer) {
            (Visibility::Public, _) => true,
            (Visibility::Seat(s), crate::view::Viewer::Seat(v)) => s == v,
            _ => false,
        }
    }
}

/// Which forced bet a seat posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Blind {
    /// The small blind.
    Small,
    /// The big blind.
    Big,
}

/// A seat's chips at a moment (start or end of a hand).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeatStack {
    /// The seat.
    pub seat: SeatIndex,
    /// Its chips.
    pub stack: u64,
}

/// One winner's part of a pot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Share {
    /// The winning seat.
    pub seat: SeatIndex,
    /// Chips it receives from this pot (odd chips included).
    pub amount: u64,
}

/// Something that happened at a table. Its [`Visibility`] follows from its kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A player sat down.
    SeatTaken {
        /// The seat taken.
        seat: SeatIndex,
        /// Opaque player identity.
        player: String,
        /// Chips brought.
        stack: u64,
    },
    /// A player left with their chips.
    SeatLeft {
        /// The seat freed.
        seat: SeatIndex,
        /// Chips taken away.
        stack: u64,
    },
    /// The seat will skip hands.
    SatOut {
        /// The seat.
        seat: SeatIndex,
    },
    /// The seat plays again.
    SatIn {
        /// The seat.
        seat: SeatIndex,
    },
    /// A seat was topped up.
    ChipsAdded {
        /// The seat.
        seat: SeatIndex,
        /// Chips added.
        amount: u64,
        /// The stack after.
        stack: u64,
    },
    /// The seed of the hand about to start. Server-only: the deck follows from it.
    DeckShuffled {
        /// Hand number.
        hand: u64,
        /// The deck seed.
        seed: u64,
    },
    /// The exact deck order of a stacked hand. Server-only.
    DeckStacked {
        /// Hand number.
        hand: u64,
        /// The 52 cards, top first.
        deck: Vec<Card>,
    },
    /// A hand began: who plays, with what, and where the button and blinds are.
    HandStarted {
        /// Hand number (1 for the table's first hand).
        hand: u64,
        /// The button seat.
        button: SeatIndex,
        /// The small-blind seat (the button when heads-up).
        small_blind: SeatIndex,
        /// The big-blind seat.
        big_blind: SeatIndex,
        /// Every seat dealt in, with its stack before antes and blinds.
        players: Vec<SeatStack>,
    },
    /// A seat posted its ante (less if that is all it had).
    AntePosted {
        /// The seat.
        seat: SeatIndex,
        /// Chips posted.
        amount: u64,
    },
    /// A seat posted a blind (less if that is all it had).
    BlindPosted {
        /// The seat.
        seat: SeatIndex,
        /// Which blind.
        blind: Blind,
        /// Chips posted.
        amount: u64,
    },
    /// A seat's two hole cards. Visible only to that seat.
    HoleCardsDealt {
        /// The seat.
        seat: SeatIndex,
        /// Its cards.
        cards: [Card; 2],
    },
    /// Action moved to a seat.
    TurnStarted {
        /// The seat to act.
        seat: SeatIndex,
    },
    /// A seat acted (or timed out).
    ActionTaken {
        /// The seat.
        seat: SeatIndex,
        /// What it did.
        action: Action,
        /// Chips it put in with this action.
        amount: u64,
        /// Its stack after.
        stack: u64,
        /// Whether it is now all-in.
        all_in: bool,
        /// Whether the turn clock made this decision (check, else fold).
        timed_out: bool,
    },
    /// Community cards for a street (3 on the flop, then 1 and 1).
    BoardDealt {
        /// The street these cards open.
        street: Street,
        /// The new cards.
        cards: Vec<Card>,
    },
    /// The part of a bet nobody called went back to its owner.
    UncalledBetReturned {
        /// The seat.
        seat: SeatIndex,
        /// Chips returned.
        amount: u64,
    },
    /// A seat turned its cards face up at showdown.
    HandShown {
        /// The seat.
        seat: SeatIndex,
        /// Its hole cards.
        cards: [Card; 2],
        /// Its best five-card hand with the board.
        rank: HandRank,
    },
    /// A seat threw its losing cards away unseen at showdown.
    HandMucked {
        /// The seat.
        seat: SeatIndex,
    },
    /// A pot (0 = main, then side pots in creation order) went to its winners.
    PotAwarded {
        /// Pot index.
        pot: usize,
        /// Chips in the pot.
        amount: u64,
        /// Who got what.
        winners: Vec<Share>,
        /// The winning hand, or `None` when everyone else folded.
        rank: Option<HandRank>,
    },
    /// The hand is over; every seat dealt in, with its final stack.
    HandEnded {
        /// Hand number.
        hand: u64,
        /// Final stacks of the seats that were dealt in.
        stacks: Vec<SeatStack>,
    },
}

impl Event {
    /// Who may see this event.
    pub fn visibility(&self) -> Visibility {
        match self {
            Event::HoleCardsDealt { seat, .. } => Visibility::Seat(*seat),
            Event::DeckShuffled { .. } | Event::DeckStacked { .. } => Visibility::Server,
            _ => Visibility::Public,
        }
    }
}
