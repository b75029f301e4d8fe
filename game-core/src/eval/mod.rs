//! Hand evaluator: the rank of the best five of 5, 6 or 7 cards, by table lookup.
//!
//! [`evaluate`] answers showdowns; [`Hand`] is the same thing taken one card at
//! a time, so enumeration and Monte Carlo code can share the cards common to
//! many hands (hole cards, board) and pay one addition per extra card.
//!
//! # Ranks
//! A [`HandRank`] is `(category << 12) | subrank`: [`Category`] 0 (high card)
//! to 8 (straight flush), and a subrank counting the weaker hands of the same
//! category, from 0. Comparing ranks compares hands; equal ranks split. There
//! are 7,462 distinct ranks (see [`Category::classes`]).
//!
//! # How it works (OMPEval's scheme)
//! A [`Hand`] is two `u64`s, each the sum (or union) of one value per card:
//!
//! ```text
//! key:  63..48 suit counters     39..32 card count   31..0 rank key
//!       one nibble per suit,     (for Hand::len)     sum of a per-rank addend
//!       starting at 3                                 (RANK_KEYS in build.rs)
//! mask: 16 bits per suit (bit = rank), suit 0 in bits 0..13
//! ```
//!
//! - A suit nibble starts at 3, so it reaches 8 (its top bit) exactly when the
//!   suit has five cards: `key & 0x8888 << 48` is the whole flush test. With at
//!   most seven cards only one suit can get there.
//! - Flush: the flush suit's 13 rank bits index `FLUSH_RANKS` (8,192 entries).
//!   Five of seven cards in one suit leave too few others for a full house
//!   or four of a kind, so the best flush (or straight flush) is the answer.
//! - Otherwise suits are irrelevant and the rank key identifies the multiset
//!   of ranks: the addends are chosen so that every multiset of up to seven
//!   ranks (at most four of each) has its own sum, which `build.rs` checks,
//!   failing the build otherwise. The sparse 25-bit key goes through a
//!   row-displacement perfect hash: `RANKS[key + ROW_OFFSETS[key >> 12]]`,
//!   where the offset (stored minus the row's first key, wrapping) places
//!   each 4,096-key row in a shared table so that no two of the 73,775 rank
//!   multisets of 5 to 7 cards share a slot.
//!
//! # Tables
//! Built at compile time by `build.rs` as `static` arrays, so there is no
//! initialisation and no "is it ready" check on the hot path. Every value
//! derives from the slow evaluator in `reference.rs`, which the tests also
//! compare against. Memory (asserted by a unit test below):
//!
//! | table         | entries | bytes   |
//! |---------------|---------|---------|
//! | `FLUSH_RANKS` | 8,192   | 16,384  |
//! | `ROW_OFFSETS` | 8,191   | 32,764  |
//! | `RANKS`       | 83,006  | 166,012 |
//! | total         |         | 215,160 (210.1 KiB) |
//!
//! plus 1 KiB of per-card addends. The whole set fits in a typical L2 cache;
//! `BENCHMARKS.md` has the measured speeds.

use serde::{Deserialize, Serialize};

use crate::card::Card;

#[cfg(test)]
mod reference;

include!(concat!(env!("OUT_DIR"), "/eval_tables.rs"));

/// Bit offset of the card counter in [`Hand`]'s key.
const COUNT_SHIFT: u32 = 32;
/// Bit offset of the four suit nibbles in [`Hand`]'s key.
const SUIT_SHIFT: u32 = 48;
/// The top bit of every suit nibble: set when that suit holds five cards.
const FLUSH_BITS: u64 = 0x8888 << SUIT_SHIFT;
/// Bits of one suit's ranks in [`Hand`]'s mask.
const SUIT_RANKS: u64 = 0x1fff;

/// What each card adds to [`Hand`]'s key, by card index. 64 entries so that
/// `index & 63` is provably in range and needs no bounds check.
const CARD_KEYS: [u64; 64] = {
    let mut keys = [0; 64];
    let mut i = 0;
    while i < 52 {
        keys[i] = RANK_KEYS[i >> 2] as u64 | 1 << COUNT_SHIFT | 1 << (SUIT_SHIFT + 4 * (i as u32 & 3));
        i += 1;
    }
    keys
};

/// The bit each card sets in [`Hand`]'s mask (suit `s`, rank `r`: bit `16 s + r`).
const CARD_MASKS: [u64; 64] = {
    let mut masks = [0; 64];
    let mut i = 0;
    while i < 52 {
        masks[i] = 1 << (16 * (i as u32 & 3) + (i as u32 >> 2));
        i += 1;
    }
    masks
};

/// Strength of a hand's best five cards: higher is better, equal means a split.
///
/// `(category << 12) | subrank`, see the module docs. Only the evaluator and
/// validated deserialisation make one, so every value names a real hand class.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct HandRank(u16);

impl HandRank {
    /// The kind of hand (pair, flush, ...), for display and statistics.
    pub const fn category(self) -> Category {
        Category::ALL[(self.0 >> 12) as usize]
    }

    /// The raw `(category << 12) | subrank` value, for storage and tables.
    pub const fn value(self) -> u16 {
        self.0
    }
}

/// Why a number is not a [`HandRank`] value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:#06x} is not a hand rank: expected (category << 12) | subrank with category 0..=8 and subrank below its class count"
)]
pub struct InvalidHandRank(pub u16);

impl TryFrom<u16> for HandRank {
    type Error = InvalidHandRank;

    fn try_from(value: u16) -> Result<HandRank, InvalidHandRank> {
        match Category::ALL.get(usize::from(value >> 12)) {
            Some(category) if value & 0xfff < category.classes() => Ok(HandRank(value)),
            _ => Err(InvalidHandRank(value)),
        }
    }
}

impl From<HandRank> for u16 {
    fn from(rank: HandRank) -> u16 {
        rank.0
    }
}

/// The nine kinds of poker hand, weakest first (discriminants 0..=8 are the
/// top bits of a [`HandRank`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub enum Category {
    /// Five unpaired, unsuited, unconnected cards.
    HighCard,
    /// Two cards of one rank.
    OnePair,
    /// Two cards of one rank and two of another.
    TwoPair,
    /// Three cards of one rank.
    ThreeOfAKind,
    /// Five consecutive ranks; A-2-3-4-5 (the wheel) is the lowest.
    Straight,
    /// Five cards of one suit.
    Flush,
    /// Three of one rank and two of another.
    FullHouse,
    /// Four cards of one rank.
    FourOfAKind,
    /// A straight in one suit; the steel wheel is the lowest, the royal flush the highest.
    StraightFlush,
}

impl Category {
    /// Every category, weakest first, indexed by discriminant.
    pub const ALL: [Category; 9] = [
        Category::HighCard,
        Category::OnePair,
        Category::TwoPair,
        Category::ThreeOfAKind,
        Category::Straight,
        Category::Flush,
        Category::FullHouse,
        Category::FourOfAKind,
        Category::StraightFlush,
    ];

    /// Lower-case English name ("full house"), for hand histories and chat.
    pub const fn name(self) -> &'static str {
        match self {
            Category::HighCard => "high card",
            Category::OnePair => "one pair",
            Category::TwoPair => "two pair",
            Category::ThreeOfAKind => "three of a kind",
            Category::Straight => "straight",
            Category::Flush => "flush",
            Category::FullHouse => "full house",
            Category::FourOfAKind => "four of a kind",
            Category::StraightFlush => "straight flush",
        }
    }

    /// How many distinct ranks the category has: subranks run `0..classes()`.
    pub const fn classes(self) -> u16 {
        match self {
            Category::HighCard | Category::Flush => 1277,
            Category::OnePair => 2860,
            Category::TwoPair | Category::ThreeOfAKind => 858,
            Category::Straight | Category::StraightFlush => 10,
            Category::FullHouse | Category::FourOfAKind => 156,
        }
    }
}

/// A set of cards being built up one at a time, ready to be ranked at any
/// point with 5 to 7 cards. `Copy` and 16 bytes: keep the shared cards in one
/// and [`add`](Hand::add) the rest to copies.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Hand {
    /// Rank key, card count and suit counters (see the module docs).
    key: u64,
    /// One bit per card, 16 per suit.
    mask: u64,
}

impl Hand {
    /// No cards yet: the suit counters start at 3, so this is not all zeros.
    pub const EMPTY: Hand = Hand {
        key: 0x3333 << SUIT_SHIFT,
        mask: 0,
    };

    /// No cards yet (same as [`Hand::EMPTY`]).
    pub const fn new() -> Hand {
        Hand::EMPTY
    }

    /// This hand with `card` added. Each card may be added once; duplicates
    /// are caught by a debug assertion and give a meaningless rank otherwise.
    #[inline]
    #[must_use]
    pub const fn add(self, card: Card) -> Hand {
        // `Card::index` is below 52; the mask only tells the compiler so.
        let i = card.index() as usize & 63;
        debug_assert!(self.mask & CARD_MASKS[i] == 0, "card added to a Hand twice");
        Hand {
            key: self.key.wrapping_add(CARD_KEYS[i]),
            mask: self.mask | CARD_MASKS[i],
        }
    }

    /// Number of cards added.
    pub const fn len(self) -> usize {
        (self.key >> COUNT_SHIFT) as usize & 0xff
    }

    /// True before any card is added.
    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Rank of the best five cards. Meaningful with 5 to 7 cards only (a debug
    /// assertion checks); any other count gives an unspecified rank or panics.
    #[inline]
    pub fn rank(self) -> HandRank {
        debug_assert!(
            5 <= self.len() && self.len() <= 7,
            "Hand::rank needs 5 to 7 cards"
        );
        let flush = self.key & FLUSH_BITS;
        if flush != 0 {
            // The flush suit's nibble top bit is bit 51 + 4 * suit; its ranks
            // start at bit 16 * suit of the mask.
            let suit_shift = (flush.trailing_zeros() - (SUIT_SHIFT + 3)) * 4;
            let ranks = (self.mask >> suit_shift) & SUIT_RANKS;
            return HandRank(FLUSH_RANKS[ranks as usize]);
        }
        // Plain indexing: the two bounds checks are never taken, so always
        // predicted; `get_unchecked` measured no faster (BENCHMARKS.md).
        let key = self.key as u32;
        let slot = key.wrapping_add(ROW_OFFSETS[(key >> ROW_SHIFT) as usize]);
        HandRank(RANKS[slot as usize])
    }
}

impl Default for Hand {
    fn default() -> Hand {
        Hand::EMPTY
    }
}

/// Rank of the best five of `cards`, which must be 5, 6 or 7 distinct cards.
///
/// Other lengths and repeated cards are caught by debug assertions; in release
/// builds they give an unspecified rank (or a panic), never undefined behaviour.
/// Does not allocate.
#[inline]
pub fn evaluate(cards: &[Card]) -> HandRank {
    debug_assert!(
        (5..=7).contains(&cards.len()),
        "evaluate takes 5 to 7 cards, got {}",
        cards.len()
    );
    let mut hand = Hand::EMPTY;
    for &card in cards {
        hand = hand.add(card);
    }
    hand.rank()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::parse_cards;

    fn rank(text: &str) -> HandRank {
        evaluate(&parse_cards(text).unwrap())
    }

    #[test]
    fn table_memory_matches_the_module_docs() {
        assert_eq!(size_of_val(&FLUSH_RANKS), 16_384);
        assert_eq!(size_of_val(&ROW_OFFSETS), 32_764);
        assert_eq!(size_of_val(&RANKS), 166_012);
        let total = size_of_val(&FLUSH_RANKS) + size_of_val(&ROW_OFFSETS) + size_of_val(&RANKS);
        assert_eq!(total, 215_160);
        assert_eq!(size_of_val(&CARD_KEYS) + size_of_val(&CARD_MASKS), 1024);
        assert_eq!(size_of::<Hand>(), 16);
    }

    #[test]
    fn matches_the_reference_on_some_hands() {
        let classes = reference::Classes::new();
        for text in ["AsKsQsJsTs9s8s", "2c3d4h5s7c", "AhAdKcKsQhQd2c", "7c7d7h2s2c3d"] {
            let cards = parse_cards(text).unwrap();
            let indices: Vec<u8> = cards.iter().map(|c| c.index()).collect();
            assert_eq!(evaluate(&cards).value(), classes.evaluate(&indices), "{text}");
        }
    }

    #[test]
    fn hand_counts_cards_and_matches_evaluate() {
        let cards = parse_cards("AsKd7h7c2s3d").unwrap();
        let mut hand = Hand::new();
        assert!(hand.is_empty());
        for (i, &card) in cards.iter().enumerate() {
            hand = hand.add(card);
            assert_eq!(hand.len(), i + 1);
        }
        assert_eq!(hand.rank(), evaluate(&cards));
        assert_eq!(Hand::default(), Hand::EMPTY);
    }

    #[test]
    fn extremes_and_categories() {
        assert_eq!(rank("2c3d4h5s7c").value(), 0);
        assert_eq!(rank("AsKsQsJsTs").value(), (8 << 12) | 9);
        assert_eq!(rank("AsKsQsJsTs").category(), Category::StraightFlush);
        assert_eq!(rank("2c2d4h5s7c").category().name(), "one pair");
        assert_eq!(
            Category::ALL.map(|c| c.classes() as u32).iter().sum::<u32>(),
            7462
        );
    }

    #[test]
    fn serde_round_trips_and_rejects_impossible_values() {
        let r = rank("AhAdKcKsQh");
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r.value().to_string());
        assert_eq!(serde_json::from_str::<HandRank>(&json).unwrap(), r);
        for bad in [9 << 12, (4 << 12) | 10, u16::MAX] {
            assert!(
                serde_json::from_str::<HandRank>(&bad.to_string()).is_err(),
                "{bad:#x}"
            );
            assert_eq!(HandRank::try_from(bad), Err(InvalidHandRank(bad)));
        }
        let json = serde_json::to_string(&Category::FullHouse).unwrap();
        assert_eq!(
            serde_json::from_str::<Category>(&json).unwrap(),
            Category::FullHouse
        );
    }
}
