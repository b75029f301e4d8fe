//! The seeded deck: a hand is reproducible from its seed on any machine.
//!
//! The shuffle is defined here, not borrowed from a library whose algorithm
//! might change between versions:
//!
//! 1. The generator is ChaCha20 (`rand_chacha::ChaCha20Rng`) keyed with the
//!    32-byte seed: the 64-bit table seed in little-endian order followed by 24
//!    zero bytes, stream 0, starting at word 0.
//! 2. Starting from the cards in index order (2c, 2d, 2h, 2s, 3c, ... As), a
//!    Fisher-Yates shuffle runs for `i` from 51 down to 1 and swaps card `i`
//!    with card `j`, where `j` is uniform in `0..=i`.
//! 3. `j` is drawn without bias by Lemire's multiply-and-reject method
//!    ("Fast Random Integer Generation in an Interval", 2019): with
//!    `n = i + 1`, take a 32-bit word `x` from the generator and form the
//!    64-bit product `m = x * n`; if the low 32 bits of `m` are below
//!    `2^32 mod n`, draw again; otherwise `j = m >> 32`.
//!
//! Cards are then dealt from the front of the shuffled order.
//!
//! A live table does not draw a fresh seed per hand: it derives hand `n`'s
//! seed from its [`DealKey`], a secret made once when the table is created,
//! so a hand's cards are fixed before anything of the hand is stored and a
//! crash cannot re-deal a hand whose cards someone has seen.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use crate::card::Card;

/// A shuffled deck that deals from the top.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deck {
    cards: [Card; 52],
    next: usize,
}

impl Deck {
    /// The deck shuffled from `seed` as documented in this module.
    pub fn shuffled(seed: u64) -> Deck {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        let mut rng = ChaCha20Rng::from_seed(key);
        let mut cards = Card::ALL;
        for i in (1..52usize).rev() {
            let j = uniform_below(&mut rng, i as u32 + 1) as usize;
            cards.swap(i, j);
        }
        Deck { cards, next: 0 }
    }

    /// A deck in exactly this order (top first), if it holds each of the 52
    /// cards once.
    pub fn stacked(order: &[Card]) -> Option<Deck> {
        let cards: [Card; 52] = order.try_into().ok()?;
        let mut seen = 0u64;
        for c in cards {
            seen |= 1 << c.index();
        }
        (seen == (1u64 << 52) - 1).then_some(Deck { cards, next: 0 })
    }

    /// The next card, or `None` when all 52 are dealt.
    pub fn deal(&mut self) -> Option<Card> {
        let card = self.cards.get(self.next).copied()?;
        self.next += 1;
        Some(card)
    }

    /// Cards not dealt yet, top first.
    pub fn remaining(&self) -> &[Card] {
        &self.cards[self.next..]
    }

    /// The whole shuffled order, including cards already dealt.
    pub fn order(&self) -> &[Card; 52] {
        &self.cards
    }
}

/// A table's secret deal key: 32 random bytes chosen when the table is
/// created and kept by the server. Hand `n`'s deck seed is
/// [`DealKey::hand_seed`]`(n)`, so the same hand number always gets the same
/// deck, also after a crash, while nobody without the key can predict a
/// deck (not even from the seeds of earlier hands).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DealKey([u8; 32]);

impl DealKey {
    /// A key from its 32 bytes (make them with a cryptographic generator).
    pub fn from_bytes(bytes: [u8; 32]) -> DealKey {
        DealKey(bytes)
    }

    /// A key from its stored form, 64 hex digits; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<DealKey> {
        let text = text.as_bytes();
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16);
            *byte = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Some(DealKey(bytes))
    }

    /// The stored form: 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(64);
        for b in self.0 {
            text.push(DIGITS[usize::from(b >> 4)] as char);
            text.push(DIGITS[usize::from(b & 15)] as char);
        }
        text
    }

    /// The deck seed of hand `hand`: the first 64-bit word of ChaCha20
    /// keyed with this key, on stream `hand`. ChaCha20 is a pseudo-random
    /// function of (key, stream), so seeds of different hands are
    /// independent and reveal nothing about the key or each other.
    pub fn hand_seed(&self, hand: u64) -> u64 {
        let mut rng = ChaCha20Rng::from_seed(self.0);
        rng.set_stream(hand);
        rng.next_u64()
    }
}

impl std::fmt::Debug for DealKey {
    /// Never prints the key: logs must not reveal future decks.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DealKey(..)")
    }
}

/// Uniform integer in `0..n` without bias (Lemire's method: a division
/// only in the rare case that a draw may have to be rejected).
fn uniform_below(rng: &mut ChaCha20Rng, n: u32) -> u32 {
    debug_assert!(n > 0);
    let mut m = u64::from(rng.next_u32()) * u64::from(n);
    if (m as u32) < n {
        let threshold = n.wrapping_neg() % n; // 2^32 mod n
        while (m as u32) < threshold {
            m = u64::from(rng.next_u32()) * u64::from(n);
        }
    }
    (m >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_order_and_every_card_once() {
        let a = Deck::shuffled(42);
        let b = Deck::shuffled(42);
        assert_eq!(a.order(), b.order());
        let mut seen = [false; 52];
        for c in a.order() {
            assert!(!seen[c.index() as usize]);
            seen[c.index() as usize] = true;
        }
        assert_ne!(Deck::shuffled(43).order(), a.order());
    }

    #[test]
    fn shuffle_matches_an_independent_implementation() {
        // Orders printed by tests/reference/deck_order.py, a from-scratch
        // Python implementation of the algorithm documented above. If this
        // changes, recorded hands no longer replay from their seeds.
        for (seed, expected) in [
            (
                0,
                "Kd 7h Qh Qc 5h 5d 3d Qd Tc Jd 8d 8s Js Qs 4s 8c Ah 2c Td 6h 4d 2h 3h 2s 9s 6d \
                 9d 9h As Ac 5c 7c 2d Ad 6c 8h 6s 5s Kh Jh 4c 4h 7s 7d Ks Jc 3c Th 3s Kc 9c Ts",
            ),
            (
                12_345_678_901_234,
                "Tc 9c 9s Jc Qs 3d 4s Ks 7s 5s 5h 5c Kc Kd 2d Kh Th 4h 8s 7c Qd 9h 7h 5d 3s 8d \
                 Td 6c 2s 8h Ad Ts Jh 8c Js 4c 2h 6d As 4d 7d 9d 6s Qc 2c Ac 3h 6h Ah Jd Qh 3c",
            ),
        ] {
            let order: Vec<String> = Deck::shuffled(seed)
                .order()
                .iter()
                .map(|c| c.to_string())
                .collect();
            let expected: Vec<&str> = expected.split_whitespace().collect();
            assert_eq!(order, expected, "seed {seed}");
        }
    }

    #[test]
    fn deal_keys_give_fixed_independent_seeds_per_hand() {
        let key = DealKey::from_bytes([7; 32]);
        let again = DealKey::from_hex(&key.to_hex()).expect("round trip");
        assert_eq!(again, key);
        assert_eq!(key.hand_seed(5), again.hand_seed(5));
        let seeds: std::collections::HashSet<u64> = (0..1000).map(|h| key.hand_seed(h)).collect();
        assert_eq!(seeds.len(), 1000);
        assert_ne!(DealKey::from_bytes([8; 32]).hand_seed(5), key.hand_seed(5));
        assert_eq!(format!("{key:?}"), "DealKey(..)");
        assert!(DealKey::from_hex("zz").is_none());
        assert!(DealKey::from_hex(&"g".repeat(64)).is_none());
    }

    #[test]
    fn deals_52_then_none() {
        let mut deck = Deck::shuffled(7);
        for _ in 0..52 {
            assert!(deck.deal().is_some());
        }
        assert!(deck.deal().is_none());
        assert!(deck.remaining().is_empty());
    }
}
