//! Monte Carlo equity: the share of the pot our two cards win at showdown
//! against opponents' plausible holdings, over random completions of the
//! board. What a seat did this hand narrows what it holds
//! ([`OpponentRange`]): its preflop range is a prefix of the combinations
//! listed by strength, drawn from directly; postflop pressure filters
//! holdings that miss the board by rejection.
//!
//! Allocation-free: dealt cards are one bit mask, and the board's shared
//! cards are kept in one evaluator [`Hand`] that each holding is added to.

use game_core::Card;
use game_core::eval::Hand;
use game_core::rules::MAX_SEATS;
use game_core::sim::SplitMix64;

use super::ranges::{COMBOS_BY_STRENGTH, combos_within};

/// How often an opponent's holding is redrawn (its cards already dealt, or
/// missing the board it pushed on) before any two undealt cards are taken:
/// bounds the work when a range is nearly used up by the known cards.
const MAX_TRIES: u32 = 64;

/// What one opponent plausibly holds, from what it did this hand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct OpponentRange {
    /// Only hands at or better than this preflop percentile (0 = aces,
    /// 1 = any two cards).
    pub max_percentile: f32,
    /// Postflop pressure it applied: 2 per bet or raise, 1 per call. Above
    /// zero, holdings that miss the board are kept only as often as bluffs
    /// and floats would be.
    pub postflop_pressure: u8,
}

impl OpponentRange {
    /// Any two cards.
    pub const ANY: OpponentRange = OpponentRange {
        max_percentile: 1.0,
        postflop_pressure: 0,
    };

    /// Percent of board-missing holdings kept: fewer the more it pushed.
    fn kept_misses(&self) -> u64 {
        match self.postflop_pressure {
            0 => 100,
            1 => 45,
            2 => 30,
            3 => 20,
            _ => 10,
        }
    }
}

/// Whether a holding has something to continue with on this board: a pocket
/// pair, a pair with the board, or (before the river) a flush or straight
/// draw of four cards using a hole card; on the river, a made flush or
/// straight using one.
pub(crate) fn connects(hole: [Card; 2], board: &[Card]) -> bool {
    Texture::new(board).connects(hole)
}

/// What of a board matters to [`connects`], summed up once so that testing
/// each sampled holding is a few bit operations.
#[derive(Clone, Copy, Debug)]
struct Texture {
    /// One bit per rank on the board.
    ranks: u16,
    /// Bit r + 1 per rank on the board, and bit 0 for an ace playing low.
    straight: u16,
    /// Board cards per suit.
    suits: [u8; 4],
    /// Cards of one suit or in one straight window that count: four (a
    /// draw) before the river, five (made) on it.
    need: u32,
}

impl Texture {
    fn new(board: &[Card]) -> Texture {
        let mut texture = Texture {
            ranks: 0,
            straight: 0,
            suits: [0; 4],
            need: if board.len() >= 5 { 5 } else { 4 },
        };
        for &c in board {
            texture.ranks |= 1 << c.rank();
            texture.straight |= straight_bits(c);
            texture.suits[usize::from(c.suit())] += 1;
        }
        texture
    }

    fn connects(&self, hole: [Card; 2]) -> bool {
        let (a, b) = (hole[0], hole[1]);
        if a.rank() == b.rank() || self.ranks & (1 << a.rank() | 1 << b.rank()) != 0 {
            return true;
        }
        let same_suit = u32::from(a.suit() == b.suit());
        for h in hole {
            if u32::from(self.suits[usize::from(h.suit())]) + 1 + same_suit >= self.need {
                return true;
            }
        }
        let hole_bits = straight_bits(a) | straight_bits(b);
        let all = self.straight | hole_bits;
        (0..10).any(|low| {
            let window = 0b11111u16 << low;
            (all & window).count_ones() >= self.need && hole_bits & window != 0
        })
    }
}

/// Bit r + 1 for a card of rank r, and bit 0 too for an ace (it plays low).
fn straight_bits(card: Card) -> u16 {
    (1u16 << (card.rank() + 1)) | u16::from(card.rank() == 12)
}

/// Bit of a card in a dealt-cards mask.
fn bit(card: Card) -> u64 {
    1 << card.index()
}

/// A uniformly random card not in `dealt`, which must leave some out.
fn undealt(dealt: u64, rng: &mut SplitMix64) -> Card {
    loop {
        let card = Card::ALL[rng.below(52) as usize];
        if dealt & bit(card) == 0 {
            return card;
        }
    }
}

/// Estimated share of the pot `hole` wins at showdown on `board` (0 to 5
/// cards) against every range in `opponents` at once (ties share), from
/// `samples` random deals. With no opponents, 1.
pub(crate) fn equity(
    hole: [Card; 2],
    board: &[Card],
    opponents: &[OpponentRange],
    samples: u32,
    rng: &mut SplitMix64,
) -> f64 {
    debug_assert!(board.len() <= 5, "at most five board cards");
    let opponents = &opponents[..opponents.len().min(MAX_SEATS - 1)];
    if opponents.is_empty() || samples == 0 {
        return 1.0;
    }
    let mut limits = [0u64; MAX_SEATS];
    for (limit, range) in limits.iter_mut().zip(opponents) {
        *limit = combos_within(range.max_percentile) as u64;
    }
    let known = hole.iter().chain(board).fold(0, |m, &c| m | bit(c));
    let board_hand = board.iter().fold(Hand::EMPTY, |h, &c| h.add(c));
    let hero_hand = board_hand.add(hole[0]).add(hole[1]);
    let missing = 5 - board.len().min(5);
    let postflop = board.len() >= 3;
    let texture = Texture::new(board);

    let mut won = 0.0;
    let mut holes = [[Card::ALL[0]; 2]; MAX_SEATS];
    for _ in 0..samples {
        let mut dealt = known;
        for ((range, &limit), slot) in opponents.iter().zip(&limits).zip(holes.iter_mut()) {
            let kept = range.kept_misses();
            let mut tries = 0;
            let h = loop {
                tries += 1;
                if tries > MAX_TRIES {
                    let a = undealt(dealt, rng);
                    break [a, undealt(dealt | bit(a), rng)];
                }
                let h = COMBOS_BY_STRENGTH[rng.below(limit) as usize];
                if dealt & (bit(h[0]) | bit(h[1])) != 0 {
                    continue;
                }
                if kept == 100 || !postflop || texture.connects(h) || rng.below(100) < kept {
                    break h;
                }
            };
            dealt |= bit(h[0]) | bit(h[1]);
            *slot = h;
        }
        let mut full_board = board_hand;
        let mut hero = hero_hand;
        for _ in 0..missing {
            let c = undealt(dealt, rng);
            dealt |= bit(c);
            full_board = full_board.add(c);
            hero = hero.add(c);
        }
        let hero_rank = hero.rank();
        let mut ties = 0u32;
        let mut lost = false;
        for h in &holes[..opponents.len()] {
            let rank = full_board.add(h[0]).add(h[1]).rank();
            if rank > hero_rank {
                lost = true;
                break;
            }
            ties += u32::from(rank == hero_rank);
        }
        if !lost {
            won += 1.0 / f64::from(ties + 1);
        }
    }
    won / f64::from(samples)
}

#[cfg(test)]
mod tests {
    use game_core::card::parse_cards;

    use super::*;

    fn cards(text: &str) -> Vec<Card> {
        parse_cards(text).expect("test cards")
    }

    fn hole(text: &str) -> [Card; 2] {
        let c = cards(text);
        [c[0], c[1]]
    }

    #[test]
    fn aces_against_one_random_hand() {
        let mut rng = SplitMix64::new(7);
        let e = equity(hole("AsAd"), &[], &[OpponentRange::ANY], 20_000, &mut rng);
        assert!((0.83..0.87).contains(&e), "{e}");
    }

    #[test]
    fn the_nuts_on_the_river_never_loses() {
        let mut rng = SplitMix64::new(1);
        let board = cards("AsKsQs2d3c");
        let e = equity(hole("JsTs"), &board, &[OpponentRange::ANY; 3], 500, &mut rng);
        assert_eq!(e, 1.0);
    }

    #[test]
    fn tighter_ranges_lower_equity() {
        let mut rng = SplitMix64::new(3);
        let wide = equity(hole("Ah9c"), &[], &[OpponentRange::ANY], 20_000, &mut rng);
        let tight = OpponentRange {
            max_percentile: 0.05,
            postflop_pressure: 0,
        };
        let narrow = equity(hole("Ah9c"), &[], &[tight], 20_000, &mut rng);
        assert!(narrow + 0.2 < wide, "{narrow} vs {wide}");
    }

    #[test]
    fn pressure_keeps_mostly_hands_that_hit() {
        let board = cards("Kh8d3c");
        let mut rng = SplitMix64::new(5);
        let passive = equity(hole("QsQd"), &board, &[OpponentRange::ANY], 20_000, &mut rng);
        let raiser = OpponentRange {
            max_percentile: 1.0,
            postflop_pressure: 4,
        };
        let pressed = equity(hole("QsQd"), &board, &[raiser], 20_000, &mut rng);
        assert!(pressed + 0.15 < passive, "{pressed} vs {passive}");
    }

    #[test]
    fn draws_connect() {
        assert!(connects(hole("9s8s"), &cards("Ts7d2c")));
        assert!(connects(hole("As2s"), &cards("Ks7s3d")));
        assert!(connects(hole("5c4d"), &cards("As2h3d")));
        assert!(!connects(hole("5c4d"), &cards("AsKhQd")));
        assert!(!connects(hole("9s8s"), &cards("Ts7d2c4hKh")));
    }
}
