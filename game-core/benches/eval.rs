//! Seven-card evaluation speed, ours next to rs_poker 5.0.0 on the same hands.
//!
//! `cargo bench -p game-core --bench eval`. Throughput is in hands evaluated:
//! - `*/enumeration`: all 133,784,560 seven-card hands in nested loops, each
//!   level adding one card to a copy of the level above (the Monte Carlo /
//!   equity pattern, and what published "sequential" figures measure);
//! - `*/random`: 65,536 precomputed random hands, each built from its seven
//!   cards and ranked (the showdown pattern; table lookups miss the L1 cache).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use game_core::eval::Hand;
use game_core::{Card, evaluate};
use rs_poker::core::{Rankable, SevenCardAccum, Suit, Value};

const RANDOM_HANDS: usize = 1 << 16;
const ALL_SEVEN_CARD_HANDS: u64 = 133_784_560;

/// The same card in rs_poker's representation.
fn theirs(card: Card) -> rs_poker::core::Card {
    rs_poker::core::Card::new(Value::from(card.rank()), Suit::from(card.suit()))
}

/// Deterministic random seven-card hands (SplitMix64 + partial Fisher-Yates).
fn random_hands() -> Vec<[Card; 7]> {
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..RANDOM_HANDS)
        .map(|_| {
            let mut deck = Card::ALL;
            for i in 0..7 {
                let j = i + (next() % (52 - i as u64)) as usize;
                deck.swap(i, j);
            }
            [deck[0], deck[1], deck[2], deck[3], deck[4], deck[5], deck[6]]
        })
        .collect()
}

/// Sum of the ranks of every seven-card hand, with our incremental `Hand`.
fn enumerate_ours() -> u64 {
    let cards = black_box(Card::ALL);
    let mut sum = 0u64;
    for a in 0..52 {
        let ha = Hand::EMPTY.add(cards[a]);
        for b in a + 1..52 {
            let hb = ha.add(cards[b]);
            for c in b + 1..52 {
                let hc = hb.add(cards[c]);
                for d in c + 1..52 {
                    let hd = hc.add(cards[d]);
                    for e in d + 1..52 {
                        let he = hd.add(cards[e]);
                        for f in e + 1..52 {
                            let hf = he.add(cards[f]);
                            for &g in &cards[f + 1..] {
                                sum += u64::from(hf.add(g).rank().value());
                            }
                        }
                    }
                }
            }
        }
    }
    sum
}

/// The same enumeration with rs_poker's incremental `SevenCardAccum`.
fn enumerate_rs_poker() -> u64 {
    let cards = black_box(Card::ALL.map(theirs));
    let with = |hand: SevenCardAccum, card| {
        let mut hand = hand;
        hand.add(card);
        hand
    };
    let mut sum = 0u64;
    for a in 0..52 {
        let ha = with(SevenCardAccum::new(), cards[a]);
        for b in a + 1..52 {
            let hb = with(ha, cards[b]);
            for c in b + 1..52 {
                let hc = with(hb, cards[c]);
                for d in c + 1..52 {
                    let hd = with(hc, cards[d]);
                    for e in d + 1..52 {
                        let he = with(hd, cards[e]);
                        for f in e + 1..52 {
                            let hf = with(he, cards[f]);
                            for &g in &cards[f + 1..] {
                                // rs_poker's `Rank` exposes no raw score; its
                                // subrank stands in for it in the checksum.
                                sum += u64::from(with(hf, g).rank().value_bits());
                            }
                        }
                    }
                }
            }
        }
    }
    sum
}

fn seven_card(c: &mut Criterion) {
    let ours = random_hands();
    let rs: Vec<[rs_poker::core::Card; 7]> = ours.iter().map(|h| h.map(theirs)).collect();

    let mut group = c.benchmark_group("seven_card");
    group.sampling_mode(SamplingMode::Flat);

    group.throughput(Throughput::Elements(RANDOM_HANDS as u64));
    group.sample_size(50);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    // Both sides build the hand from its seven cards with their inlinable
    // accumulator; `black_box` keeps the hands opaque but their length known.
    group.bench_function("ours/random", |b| {
        b.iter(|| {
            ours.iter()
                .map(|hand| {
                    let hand: &[Card; 7] = black_box(hand);
                    u64::from(evaluate(hand).value())
                })
                .sum::<u64>()
        })
    });
    group.bench_function("rs_poker/random", |b| {
        b.iter(|| {
            rs.iter()
                .map(|hand| {
                    let mut acc = SevenCardAccum::new();
                    let hand: &[rs_poker::core::Card; 7] = black_box(hand);
                    for &card in hand {
                        acc.add(card);
                    }
                    u64::from(acc.rank().value_bits())
                })
                .sum::<u64>()
        })
    });
    // rs_poker's general entry point (`Rankable` on a slice), not inlined.
    group.bench_function("rs_poker/random_rankable", |b| {
        b.iter(|| {
            rs.iter()
                .map(|hand| u64::from(black_box(&hand[..]).rank().value_bits()))
                .sum::<u64>()
        })
    });

    // One iteration is a whole enumeration (a fraction of a second).
    group.throughput(Throughput::Elements(ALL_SEVEN_CARD_HANDS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("ours/enumeration", |b| b.iter(enumerate_ours));
    group.bench_function("rs_poker/enumeration", |b| b.iter(enumerate_rs_poker));
    group.finish();
}

criterion_group!(benches, seven_card);
criterion_main!(benches);
