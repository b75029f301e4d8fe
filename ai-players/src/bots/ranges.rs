//! Preflop hand classes: the 169 kinds of two-card hand (13 pairs, 78 suited,
//! 78 offsuit), ranked once, at compile time, by Bill Chen's formula, and
//! turned into percentiles so ranges read like a chart: "the top 15%" are the
//! strongest classes holding 15% of the 1,326 two-card combinations.
//!
//! The Chen formula is the classic tight-aggressive heuristic: it values high
//! cards, pairs, suitedness and connectedness, so suited connectors rank above
//! weak offsuit aces, as they should in multiway pots. Its scores are kept
//! doubled (no rounding) and ties are broken by the higher card, then the
//! lower, then suitedness, so the order is total and deterministic.

use game_core::Card;

/// Number of hand classes.
const CLASSES: usize = 169;

/// Number of two-card combinations.
const COMBOS: usize = 1326;

/// Two-card combinations in a deck, in half units: percentiles are stored in
/// halves of a combination so a class sits at its midpoint exactly.
const HALF_COMBOS: f32 = 2.0 * 1326.0;

/// The class of a hand in a 13 × 13 grid (row-major, `row * 13 + col`):
/// pairs on the diagonal, suited hands below it (row = high rank), offsuit
/// hands above it (column = high rank).
pub(crate) fn class_index(hole: [Card; 2]) -> usize {
    let (a, b) = (hole[0], hole[1]);
    let (hi, lo) = if a.rank() >= b.rank() {
        (a.rank(), b.rank())
    } else {
        (b.rank(), a.rank())
    };
    let (hi, lo) = (usize::from(hi), usize::from(lo));
    if hi == lo || a.suit() == b.suit() {
        hi * 13 + lo
    } else {
        lo * 13 + hi
    }
}

/// Where a hand stands among all starting hands, from 0 (aces) to 1 (the
/// weakest): the midpoint of its class's share of the 1,326 combinations.
pub(crate) fn percentile(hole: [Card; 2]) -> f32 {
    f32::from(PERCENTILE_HALVES[class_index(hole)]) / HALF_COMBOS
}

/// How many of the strongest combinations (a prefix of
/// [`COMBOS_BY_STRENGTH`]) make up the top `share` of hands: whole classes
/// whose midpoint is within it, and at least the aces.
pub(crate) fn combos_within(share: f32) -> usize {
    let limit = share * HALF_COMBOS;
    let within: u16 = (0..CLASSES)
        .filter(|&i| f32::from(PERCENTILE_HALVES[i]) <= limit)
        .map(combos)
        .sum();
    usize::from(within.max(combos(12 * 13 + 12)))
}

/// `(high rank, low rank, suited)` of grid cell `i`; pairs are not suited.
const fn cell(i: usize) -> (u8, u8, bool) {
    let (row, col) = ((i / 13) as u8, (i % 13) as u8);
    if row >= col {
        (row, col, row > col)
    } else {
        (col, row, false)
    }
}

/// The Chen score of a class, doubled so that every value is an integer.
const fn chen_doubled(hi: u8, lo: u8, suited: bool) -> i32 {
    let high = match hi {
        12 => 20,
        11 => 16,
        10 => 14,
        9 => 12,
        r => r as i32 + 2,
    };
    if hi == lo {
        return if 2 * high > 10 { 2 * high } else { 10 };
    }
    let gap = hi - lo - 1;
    let penalty = match gap {
        0 => 0,
        1 => 2,
        2 => 4,
        3 => 8,
        _ => 10,
    };
    // Connected or one-gapped cards both below a queen make more straights.
    let bonus = if gap <= 1 && hi < 10 { 2 } else { 0 };
    high + if suited { 4 } else { 0 } - penalty + bonus
}

/// A total order on classes: the Chen score, then the high card, the low
/// card, and suitedness.
const fn order_key(i: usize) -> i64 {
    let (hi, lo, suited) = cell(i);
    (chen_doubled(hi, lo, suited) as i64) << 16 | (hi as i64) << 8 | (lo as i64) << 4 | suited as i64
}

/// Combinations of a class: 6 for a pair, 4 suited, 12 offsuit.
const fn combos(i: usize) -> u16 {
    let (hi, lo, suited) = cell(i);
    if hi == lo {
        6
    } else if suited {
        4
    } else {
        12
    }
}

/// Each class's percentile in halves of a combination: twice the
/// combinations of every stronger class, plus its own.
static PERCENTILE_HALVES: [u16; CLASSES] = {
    let mut table = [0u16; CLASSES];
    let mut i = 0;
    while i < CLASSES {
        let key = order_key(i);
        let mut ahead = 0;
        let mut j = 0;
        while j < CLASSES {
            if order_key(j) > key {
                ahead += combos(j);
            }
            j += 1;
        }
        table[i] = 2 * ahead + combos(i);
        i += 1;
    }
    table
};

/// Every two-card combination, strongest class first, so that a range
/// "top x%" is a prefix to draw from uniformly.
pub(crate) static COMBOS_BY_STRENGTH: [[Card; 2]; COMBOS] = {
    // Classes by strength: a class's place is the number of stronger ones.
    let mut order = [0usize; CLASSES];
    let mut i = 0;
    while i < CLASSES {
        let mut stronger = 0;
        let mut j = 0;
        while j < CLASSES {
            if order_key(j) > order_key(i) {
                stronger += 1;
            }
            j += 1;
        }
        order[stronger] = i;
        i += 1;
    }
    let mut table = [[Card::new(0, 0); 2]; COMBOS];
    let mut n = 0;
    let mut k = 0;
    while k < CLASSES {
        let (hi, lo, suited) = cell(order[k]);
        let mut a = 0;
        while a < 4 {
            let mut b = 0;
            while b < 4 {
                let keep = if hi == lo {
                    a < b
                } else if suited {
                    a == b
                } else {
                    a != b
                };
                if keep {
                    table[n] = [Card::new(hi, a), Card::new(lo, b)];
                    n += 1;
                }
                b += 1;
            }
            a += 1;
        }
        k += 1;
    }
    assert!(n == COMBOS, "every combination listed once");
    table
};

#[cfg(test)]
mod tests {
    use game_core::card::parse_cards;

    use super::*;

    fn pct(text: &str) -> f32 {
        let cards = parse_cards(text).expect("test cards");
        percentile([cards[0], cards[1]])
    }

    #[test]
    fn classes_cover_every_combination_once() {
        let mut seen = [0u16; CLASSES];
        for (i, &a) in Card::ALL.iter().enumerate() {
            for &b in &Card::ALL[i + 1..] {
                seen[class_index([a, b])] += 1;
                assert_eq!(class_index([a, b]), class_index([b, a]));
            }
        }
        for (i, &count) in seen.iter().enumerate() {
            assert_eq!(count, combos(i), "class {i}");
        }
        let mut halves: Vec<u16> = PERCENTILE_HALVES.to_vec();
        halves.sort_unstable();
        halves.dedup();
        assert_eq!(halves.len(), CLASSES, "the order is total");
    }

    #[test]
    fn combinations_are_listed_by_strength() {
        let mut seen = std::collections::HashSet::new();
        let mut last = 0.0;
        for &hole in &COMBOS_BY_STRENGTH {
            let (a, b) = (hole[0].index(), hole[1].index());
            assert!(seen.insert((a.min(b), a.max(b))), "{hole:?} twice");
            assert!(percentile(hole) >= last);
            last = percentile(hole);
        }
        assert_eq!(combos_within(0.0), 6);
        assert_eq!(combos_within(1.0), COMBOS);
        let top = combos_within(0.1);
        assert!((120..=145).contains(&top), "{top}");
        assert!(COMBOS_BY_STRENGTH[..top].iter().all(|&h| percentile(h) <= 0.1));
    }

    #[test]
    fn percentiles_follow_the_chart() {
        assert!(pct("AsAd") < 0.005);
        assert!(pct("KsKd") < pct("QsQd"));
        assert!(pct("AsKs") < pct("AsKd"));
        assert!(pct("AsKd") < 0.06);
        assert!(pct("7s6s") < pct("Kd2c"));
        assert!(pct("7d2c") > 0.9);
        assert!(pct("JsTs") < 0.15);
        assert!((0.0..=1.0).contains(&pct("3d2c")));
    }
}
