//! A slow, obviously correct hand evaluator: the oracle the fast tables are
//! generated from (by `build.rs`) and checked against (by the tests).
//!
//! It depends on nothing but `std` and takes cards as their byte index
//! (`rank * 4 + suit`, the same as `Card::index`), so `build.rs` and the
//! integration tests can include this file by path.
//!
//! The method is the textbook one: give each five-card hand a comparison key
//! (category, then the ranks that break ties, most significant first), take
//! the best key over all five-card subsets, and number the distinct keys of
//! each category from 0 upwards.

#![allow(dead_code)]

// Category numbers, as in a key's top bits and in a `HandRank`.
/// Category number of a high-card hand.
pub const HIGH_CARD: u32 = 0;
/// Category number of one pair.
pub const ONE_PAIR: u32 = 1;
/// Category number of two pair.
pub const TWO_PAIR: u32 = 2;
/// Category number of three of a kind.
pub const THREE_OF_A_KIND: u32 = 3;
/// Category number of a straight.
pub const STRAIGHT: u32 = 4;
/// Category number of a flush.
pub const FLUSH: u32 = 5;
/// Category number of a full house.
pub const FULL_HOUSE: u32 = 6;
/// Category number of four of a kind.
pub const FOUR_OF_A_KIND: u32 = 7;
/// Category number of a straight flush.
pub const STRAIGHT_FLUSH: u32 = 8;

/// Comparison key of exactly five distinct cards: `category << 20` then up to
/// five tie-breaking ranks, one per nibble, most significant first. Keys of
/// two hands compare like the hands; equal keys split the pot.
pub fn five_card_key(cards: [u8; 5]) -> u32 {
    let mut counts = [0u8; 13];
    for &c in &cards {
        counts[usize::from(c >> 2)] += 1;
    }
    let flush = cards.iter().all(|&c| c & 3 == cards[0] & 3);

    // Distinct ranks ordered by (count, rank), biggest first: this is exactly
    // the order in which poker compares them (quads before kicker, etc.).
    let mut groups = [(0u8, 0u8); 5];
    let mut n = 0;
    for r in 0..13u8 {
        if counts[usize::from(r)] > 0 {
            groups[n] = (counts[usize::from(r)], r);
            n += 1;
        }
    }
    let groups = &mut groups[..n];
    groups.sort_unstable_by(|a, b| b.cmp(a));
    let mut shape = [0u8; 5];
    let mut ranks = [0u8; 5];
    for (i, &(count, rank)) in groups.iter().enumerate() {
        shape[i] = count;
        ranks[i] = rank;
    }
    let ranks = &ranks[..n];

    // Top card of a straight; the wheel A-2-3-4-5 counts as five-high (rank 3).
    let straight_top = match ranks {
        [a, .., e] if n == 5 && a - e == 4 => Some(*a),
        [12, 3, 2, 1, 0] => Some(3),
        _ => None,
    };

    let (category, tiebreak): (u32, &[u8]) = match (shape, straight_top, flush) {
        (_, Some(top), true) => (STRAIGHT_FLUSH, &[top]),
        ([4, 1, 0, 0, 0], _, _) => (FOUR_OF_A_KIND, ranks),
        ([3, 2, 0, 0, 0], _, _) => (FULL_HOUSE, ranks),
        (_, _, true) => (FLUSH, ranks),
        (_, Some(top), false) => (STRAIGHT, &[top]),
        ([3, 1, 1, 0, 0], _, _) => (THREE_OF_A_KIND, ranks),
        ([2, 2, 1, 0, 0], _, _) => (TWO_PAIR, ranks),
        ([2, 1, 1, 1, 0], _, _) => (ONE_PAIR, ranks),
        ([1, 1, 1, 1, 1], _, _) => (HIGH_CARD, ranks),
        _ => panic!("five distinct cards expected, got {cards:?}"),
    };
    let mut key = category << 20;
    for (i, &r) in tiebreak.iter().enumerate() {
        key |= u32::from(r) << (16 - 4 * i);
    }
    key
}

/// Best [`five_card_key`] over every five-card subset of 5 to 7 distinct cards.
pub fn best_key(cards: &[u8]) -> u32 {
    let n = cards.len();
    assert!((5..=7).contains(&n), "5 to 7 cards expected, got {n}");
    let mut best = 0;
    for a in 0..n {
        for b in a + 1..n {
            for c in b + 1..n {
                for d in c + 1..n {
                    for e in d + 1..n {
                        let key = five_card_key([cards[a], cards[b], cards[c], cards[d], cards[e]]);
                        best = best.max(key);
                    }
                }
            }
        }
    }
    best
}

/// Every distinct five-card key, sorted: the 7,462 equivalence classes.
pub struct Classes {
    keys: Vec<u32>,
}

impl Classes {
    /// Enumerates one hand per class: every multiset of five ranks (at most
    /// four of each) in mixed suits, and every set of five ranks suited.
    pub fn new() -> Classes {
        let mut keys = Vec::new();
        for_each_rank_multiset(5, &mut |counts| {
            let mut cards = [0u8; 5];
            let mut n = 0;
            for (rank, &count) in counts.iter().enumerate() {
                for _ in 0..count {
                    // Suits cycle 0,1,2,3,0: never five of one suit, and the
                    // copies of a rank (at most four) get distinct suits.
                    cards[n] = rank as u8 * 4 + (n % 4) as u8;
                    n += 1;
                }
            }
            keys.push(five_card_key(cards));
            if counts.iter().all(|&c| c <= 1) {
                keys.push(five_card_key(cards.map(|c| c & !3)));
            }
        });
        keys.sort_unstable();
        keys.dedup();
        Classes { keys }
    }

    /// All distinct keys in increasing order.
    pub fn keys(&self) -> &[u32] {
        &self.keys
    }

    /// The `HandRank` value of a key: `category << 12 | subrank`, where the
    /// subrank counts the weaker classes of the same category.
    pub fn value(&self, key: u32) -> u16 {
        let category = key >> 20;
        let index = self.keys.binary_search(&key).expect("key of a real hand");
        let first = self.keys.partition_point(|&k| k >> 20 < category);
        ((category << 12) as usize | (index - first)) as u16
    }

    /// The `HandRank` value of 5 to 7 distinct cards.
    pub fn evaluate(&self, cards: &[u8]) -> u16 {
        self.value(best_key(cards))
    }
}

impl Default for Classes {
    fn default() -> Classes {
        Classes::new()
    }
}

/// Calls `f` with the per-rank counts (13 entries, each at most 4) of every
/// multiset of exactly `size` ranks.
pub fn for_each_rank_multiset(size: u8, f: &mut dyn FnMut(&[u8; 13])) {
    fn go(rank: usize, left: u8, counts: &mut [u8; 13], f: &mut dyn FnMut(&[u8; 13])) {
        if rank == 13 {
            if left == 0 {
                f(counts);
            }
            return;
        }
        for c in 0..=left.min(4) {
            counts[rank] = c;
            go(rank + 1, left - c, counts, f);
        }
        counts[rank] = 0;
    }
    go(0, size, &mut [0; 13], f);
}
