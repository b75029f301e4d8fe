//! Events: every change to a table, in order. The same values are the
//! deltas clients receive, the persisted log, the recovery path and the
//! source of hand histories.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::card::Card;
use crate::command::Action;
use crate::eval::HandRank;
use crate::rules::{MAX_SEATS, SeatIndex, Street};

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeatStack {
    /// The seat.
    pub seat: SeatIndex,
    /// Its chips.
    pub stack: u64,
}

/// One winner's part of a pot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
        players: SeatList<SeatStack>,
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
        cards: BoardCards,
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
        winners: SeatList<Share>,
        /// The winning hand, or `None` when everyone else folded.
        rank: Option<HandRank>,
    },
    /// The hand is over; every seat dealt in, with its final stack.
    HandEnded {
        /// Hand number.
        hand: u64,
        /// Final stacks of the seats that were dealt in.
        stacks: SeatList<SeatStack>,
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

/// The community cards one [`Event::BoardDealt`] opens (three on the flop,
/// then one and one), held inline so that dealing a street allocates
/// nothing. Serialises as a JSON list of cards, exactly like a `Vec<Card>`.
#[derive(Clone, Copy)]
pub struct BoardCards {
    cards: [Card; BoardCards::CAPACITY],
    len: u8,
}

impl BoardCards {
    /// Most cards one list holds: a whole board.
    pub const CAPACITY: usize = 5;

    /// These cards, or `None` if there are more than [`BoardCards::CAPACITY`].
    pub fn new(cards: &[Card]) -> Option<BoardCards> {
        let mut board = BoardCards {
            cards: [Card::ALL[0]; BoardCards::CAPACITY],
            len: 0,
        };
        board.cards.get_mut(..cards.len())?.copy_from_slice(cards);
        board.len = cards.len() as u8;
        Some(board)
    }

    /// The cards, in the order dealt.
    pub fn as_slice(&self) -> &[Card] {
        &self.cards[..usize::from(self.len)]
    }
}

impl Deref for BoardCards {
    type Target = [Card];

    fn deref(&self) -> &[Card] {
        self.as_slice()
    }
}

impl<'a> IntoIterator for &'a BoardCards {
    type Item = &'a Card;
    type IntoIter = std::slice::Iter<'a, Card>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl PartialEq for BoardCards {
    fn eq(&self, other: &BoardCards) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for BoardCards {}

impl std::hash::Hash for BoardCards {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for BoardCards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl Serialize for BoardCards {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for BoardCards {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BoardCards, D::Error> {
        let cards = Vec::<Card>::deserialize(d)?;
        BoardCards::new(&cards)
            .ok_or_else(|| serde::de::Error::invalid_length(cards.len(), &"at most 5 board cards"))
    }
}

/// At most one entry per seat, held inline so that the events every hand
/// produces (`HandStarted`, `PotAwarded`, `HandEnded`) allocate nothing.
/// Serialises as a JSON list, exactly like a `Vec<T>`.
#[derive(Clone, Copy)]
pub struct SeatList<T> {
    items: [T; MAX_SEATS],
    len: u8,
}

impl<T: Copy + Default> SeatList<T> {
    /// An empty list.
    pub fn new() -> SeatList<T> {
        SeatList {
            items: [T::default(); MAX_SEATS],
            len: 0,
        }
    }

    /// These entries, or `None` if there are more than [`MAX_SEATS`].
    pub fn from_slice(items: &[T]) -> Option<SeatList<T>> {
        let mut list = SeatList::new();
        list.items.get_mut(..items.len())?.copy_from_slice(items);
        list.len = items.len() as u8;
        Some(list)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends an entry.
    ///
    /// # Panics
    /// If the list already holds [`MAX_SEATS`] entries: a table has no more seats.
    pub fn push(&mut self, item: T) {
        self.items[usize::from(self.len)] = item;
        self.len += 1;
    }
}

impl<T: Copy + Default> Default for SeatList<T> {
    fn default() -> SeatList<T> {
        SeatList::new()
    }
}

impl<T> Deref for SeatList<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.items[..usize::from(self.len)]
    }
}

impl<T> DerefMut for SeatList<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items[..usize::from(self.len)]
    }
}

impl<'a, T> IntoIterator for &'a SeatList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut SeatList<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<T> IntoIterator for SeatList<T> {
    type Item = T;
    type IntoIter = std::iter::Take<std::array::IntoIter<T, MAX_SEATS>>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter().take(usize::from(self.len))
    }
}

impl<T: PartialEq> PartialEq for SeatList<T> {
    fn eq(&self, other: &SeatList<T>) -> bool {
        **self == **other
    }
}

impl<T: Eq> Eq for SeatList<T> {}

impl<T: std::hash::Hash> std::hash::Hash for SeatList<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl<T: fmt::Debug> fmt::Debug for SeatList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Serialize> Serialize for SeatList<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de, T: Deserialize<'de> + Copy + Default> Deserialize<'de> for SeatList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SeatList<T>, D::Error> {
        let items = Vec::<T>::deserialize(d)?;
        SeatList::from_slice(&items)
            .ok_or_else(|| serde::de::Error::invalid_length(items.len(), &"at most one entry per seat"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_lists_serialise_like_vecs() {
        let cards: Vec<Card> = Card::ALL[10..13].to_vec();
        let board = BoardCards::new(&cards).unwrap();
        assert_eq!(
            serde_json::to_string(&board).unwrap(),
            serde_json::to_string(&cards).unwrap()
        );
        let back: BoardCards = serde_json::from_str(&serde_json::to_string(&cards).unwrap()).unwrap();
        assert_eq!(back, board);
        assert!(BoardCards::new(&Card::ALL[..6]).is_none());
        assert!(
            serde_json::from_str::<BoardCards>(&serde_json::to_string(&Card::ALL[..6]).unwrap()).is_err()
        );

        let stacks: Vec<SeatStack> = (0..4)
            .map(|seat| SeatStack {
                seat,
                stack: 100 * seat as u64,
            })
            .collect();
        let list = SeatList::from_slice(&stacks).unwrap();
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(json, serde_json::to_string(&stacks).unwrap());
        assert_eq!(serde_json::from_str::<SeatList<SeatStack>>(&json).unwrap(), list);
        let eleven = vec![Share::default(); MAX_SEATS + 1];
        assert!(SeatList::from_slice(&eleven).is_none());
        assert!(serde_json::from_str::<SeatList<Share>>(&serde_json::to_string(&eleven).unwrap()).is_err());
        assert_eq!(SeatList::<Share>::new().len(), 0);
        assert_eq!(format!("{list:?}"), format!("{stacks:?}"));
    }

    #[test]
    fn events_serialise_as_before() {
        // The JSON the `Vec` payloads produced, written out by hand.
        let event = Event::BoardDealt {
            street: Street::Flop,
            cards: BoardCards::new(&[Card::new(12, 3), Card::new(11, 1), Card::new(0, 0)]).unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"type":"board_dealt","street":"flop","cards":["As","Kd","2c"]}"#
        );
        let event = Event::HandEnded {
            hand: 3,
            stacks: SeatList::from_slice(&[SeatStack { seat: 0, stack: 5 }, SeatStack { seat: 2, stack: 7 }])
                .unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"type":"hand_ended","hand":3,"stacks":[{"seat":0,"stack":5},{"seat":2,"stack":7}]}"#
        );
    }
}
