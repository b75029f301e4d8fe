//! The hand evaluator against exhaustive counts, the slow reference evaluator,
//! rs_poker, and hand-picked edge cases.

use game_core::card::parse_cards;
use game_core::eval::Hand;
use game_core::{Card, Category, HandRank, evaluate};
use proptest::prelude::*;
use std::sync::LazyLock;

#[path = "../src/eval/reference.rs"]
mod reference;

/// The reference's class list, built once for all tests.
static CLASSES: LazyLock<reference::Classes> = LazyLock::new(reference::Classes::new);

fn rank(text: &str) -> HandRank {
    evaluate(&parse_cards(text).unwrap())
}

/// SplitMix64: a tiny deterministic generator, so failures reproduce.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `n` distinct cards: the first `n` steps of a Fisher-Yates shuffle.
    fn cards(&mut self, n: usize) -> Vec<Card> {
        let mut deck = Card::ALL;
        for i in 0..n {
            let j = i + (self.next() % (52 - i as u64)) as usize;
            deck.swap(i, j);
        }
        deck[..n].to_vec()
    }
}

fn indices(cards: &[Card]) -> Vec<u8> {
    cards.iter().map(|c| c.index()).collect()
}

#[test]
fn every_five_card_hand_falls_in_one_of_7462_classes() {
    const HANDS: [u32; 9] = [
        1_302_540, 1_098_240, 123_552, 54_912, 10_200, 5_108, 3_744, 624, 40,
    ];
    let mut hands = [0u32; 9];
    let mut seen = vec![false; 1 << 16];
    for a in 0..52 {
        let ha = Hand::EMPTY.add(Card::ALL[a]);
        for b in a + 1..52 {
            let hb = ha.add(Card::ALL[b]);
            for c in b + 1..52 {
                let hc = hb.add(Card::ALL[c]);
                for d in c + 1..52 {
                    let hd = hc.add(Card::ALL[d]);
                    for e in d + 1..52 {
                        let r = hd.add(Card::ALL[e]).rank();
                        hands[r.category() as usize] += 1;
                        seen[usize::from(r.value())] = true;
                    }
                }
            }
        }
    }
    assert_eq!(hands, HANDS);
    assert_eq!(hands.iter().sum::<u32>(), 2_598_960);

    // Each category's subranks are exactly 0..classes(), nothing outside.
    let distinct: Vec<u16> = Category::ALL
        .iter()
        .map(|&cat| {
            let base = usize::from(cat as u16) << 12;
            let used = seen[base..base + 4096].iter().filter(|&&s| s).count() as u16;
            assert!(
                seen[base..base + usize::from(used)].iter().all(|&s| s),
                "{cat:?} has gaps"
            );
            used
        })
        .collect();
    assert_eq!(distinct, [1277, 2860, 858, 858, 10, 1277, 156, 156, 10]);
    assert_eq!(distinct, Category::ALL.map(Category::classes));
    assert_eq!(seen.iter().filter(|&&s| s).count(), 7462);
}

#[test]
fn random_hands_match_the_reference_evaluator() {
    let mut rng = SplitMix(0x5eed);
    for n in 5..=7 {
        for _ in 0..50_000 {
            let cards = rng.cards(n);
            let expected = CLASSES.evaluate(&indices(&cards));
            assert_eq!(evaluate(&cards).value(), expected, "{cards:?}");
        }
    }
}

#[test]
fn random_hands_agree_with_rs_poker() {
    use rs_poker::core::{Rankable, Suit, Value};
    let mut rng = SplitMix(7);
    let mut previous: Option<(HandRank, rs_poker::core::Rank)> = None;
    for n in 5..=7 {
        for _ in 0..50_000 {
            let cards = rng.cards(n);
            let theirs: Vec<rs_poker::core::Card> = cards
                .iter()
                .map(|c| rs_poker::core::Card::new(Value::from(c.rank()), Suit::from(c.suit())))
                .collect();
            let (ours, theirs) = (evaluate(&cards), theirs.rank());
            // Same categories, and any two hands compare the same way (their
            // subranks are numbered differently).
            assert_eq!(ours.category() as u8, theirs.category() as u8, "{cards:?}");
            if let Some((our_last, their_last)) = previous {
                assert_eq!(ours.cmp(&our_last), theirs.cmp(&their_last), "{cards:?}");
            }
            previous = Some((ours, theirs));
        }
    }
}

proptest! {
    #[test]
    fn order_does_not_matter_and_the_reference_agrees(
        cards in proptest::sample::subsequence((0..52u8).collect::<Vec<_>>(), 5..=7)
            .prop_shuffle()
    ) {
        let cards: Vec<Card> = cards.into_iter().map(|i| Card::from_index(i).unwrap()).collect();
        let mut reversed = cards.clone();
        reversed.reverse();
        let r = evaluate(&cards);
        prop_assert_eq!(r, evaluate(&reversed));
        prop_assert_eq!(r.value(), CLASSES.evaluate(&indices(&cards)));
    }
}

#[test]
fn straights_including_the_wheel() {
    let wheel = rank("Ah2c3d4s5h");
    let six_high = rank("2c3d4s5h6c");
    assert_eq!(wheel.category(), Category::Straight);
    assert_eq!(wheel.value(), 4 << 12, "the wheel is the lowest straight");
    assert!(wheel < six_high);
    assert!(wheel > rank("AhAdAcKsQh"), "any straight beats trips");
    assert_eq!(
        rank("Ah2c3d4s5h6c"),
        six_high,
        "the wheel plus a six is a six-high straight"
    );
    assert_eq!(
        rank("AsKdQhJcTs").value(),
        (4 << 12) | 9,
        "broadway is the highest"
    );
    assert_eq!(
        rank("QsKdAh2c3s").category(),
        Category::HighCard,
        "no wrap-around straights"
    );
}

#[test]
fn straight_flushes_from_steel_wheel_to_royal() {
    let steel_wheel = rank("As2s3s4s5s");
    assert_eq!(steel_wheel.value(), 8 << 12);
    assert!(steel_wheel > rank("AsAhAdAcKs"), "beats any four of a kind");
    let royal = rank("AsKsQsJsTs");
    assert_eq!(royal.value(), (8 << 12) | 9, "the best hand there is");
    assert_eq!(rank("9sAsKsQsJsTs8s"), royal);
    assert_eq!(
        rank("As2s3s4s5s6s7d").value(),
        (8 << 12) | 1,
        "six-high straight flush"
    );
}

#[test]
fn kickers_count_up_to_five_cards() {
    assert!(rank("AhAdKcQs9h") > rank("AhAdKcQs8h"));
    assert!(
        rank("AhAdKcQs2h") > rank("KhKdAcQsJh"),
        "pair rank before kickers"
    );
    assert_eq!(
        rank("AhAdKcQsJh3c2d"),
        rank("AsAcKdQhJd4c2h"),
        "sixth and seventh cards play no part"
    );
    assert_eq!(
        rank("9c9d9h9s2c3dKh"),
        rank("9c9d9h9sKh"),
        "quads take the best kicker"
    );
    assert_eq!(rank("AsKdQh9c7s6d2h"), rank("AsKdQh9c7h"));
}

#[test]
fn two_pair_from_three_pairs() {
    let three_pairs = rank("KhKd9c9s4h4d2c");
    assert_eq!(three_pairs.category(), Category::TwoPair);
    assert_eq!(three_pairs, rank("KhKd9c9s4c"), "kings and nines, four kicker");
    assert_eq!(
        rank("KhKd9c9s4h4dAc"),
        rank("KhKd9c9sAd"),
        "the ace outkicks the third pair"
    );
}

#[test]
fn full_house_from_two_trips() {
    let two_trips = rank("7c7d7h5c5d5hAc");
    assert_eq!(two_trips.category(), Category::FullHouse);
    assert_eq!(two_trips, rank("7c7d7h5c5s"));
    assert!(two_trips > rank("7c7d7h4c4s"));
    assert!(two_trips < rank("8c8d8h2c2s"));
}

#[test]
fn flush_beats_straight() {
    let flush = rank("2h5h7h9hJh");
    assert_eq!(flush.category(), Category::Flush);
    assert!(flush > rank("9cTdJhQsKc"));
    let both = rank("4h5h6h7c8dAhKh");
    assert_eq!(both.category(), Category::Flush);
    assert_eq!(both, rank("4h5h6hAhKh"));
    assert!(rank("2h3h4h5h7h9h").category() == Category::Flush);
}

#[test]
fn category_names() {
    let names = Category::ALL.map(Category::name);
    assert_eq!(
        names,
        [
            "high card",
            "one pair",
            "two pair",
            "three of a kind",
            "straight",
            "flush",
            "full house",
            "four of a kind",
            "straight flush"
        ]
    );
}

/// All 133,784,560 seven-card hands. Run in release: `cargo test --release
/// -p game-core --test eval -- --ignored` (a few seconds).
#[test]
#[ignore]
fn every_seven_card_hand() {
    const HANDS: [u64; 9] = [
        23_294_460, 58_627_800, 31_433_400, 6_461_620, 6_180_020, 4_047_644, 3_473_184, 224_848, 41_584,
    ];
    let mut hands = [0u64; 9];
    let mut seen = vec![false; 1 << 16];
    let card = |i: usize| Card::ALL[i];
    for a in 0..52 {
        let ha = Hand::EMPTY.add(card(a));
        for b in a + 1..52 {
            let hb = ha.add(card(b));
            for c in b + 1..52 {
                let hc = hb.add(card(c));
                for d in c + 1..52 {
                    let hd = hc.add(card(d));
                    for e in d + 1..52 {
                        let he = hd.add(card(e));
                        for f in e + 1..52 {
                            let hf = he.add(card(f));
                            for g in f + 1..52 {
                                let r = hf.add(card(g)).rank();
                                hands[r.category() as usize] += 1;
                                seen[usize::from(r.value())] = true;
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(hands, HANDS);
    assert_eq!(hands.iter().sum::<u64>(), 133_784_560);
    assert_eq!(seen.iter().filter(|&&s| s).count(), 4_824);
}
