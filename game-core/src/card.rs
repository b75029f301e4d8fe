//! Cards: a compact `Copy` value with the usual two-character text form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Characters for ranks 2..A, indexed by [`Card::rank`].
pub const RANK_CHARS: [char; 13] = ['2', '3', '4', '5', '6', '7', '8', '9', 'T', 'J', 'Q', 'K', 'A'];
/// Characters for suits, indexed by [`Card::suit`] (clubs, diamonds, hearts, spades).
pub const SUIT_CHARS: [char; 4] = ['c', 'd', 'h', 's'];

/// One playing card, stored in a single byte as `rank * 4 + suit`.
///
/// Rank 0 is a deuce and 12 an ace; suit 0..4 is c, d, h, s. The byte form is
/// the index the evaluator's tables use, so converting costs nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Card(u8);

impl Card {
    /// Every card in index order (2c, 2d, 2h, 2s, 3c, ... As).
    pub const ALL: [Card; 52] = {
        let mut all = [Card(0); 52];
        let mut i = 0;
        while i < 52 {
            all[i] = Card(i as u8);
            i += 1;
        }
        all
    };

    /// The card with this rank (0 = deuce .. 12 = ace) and suit (0..4 = c, d, h, s).
    ///
    /// # Panics
    /// If either is out of range: callers pass constants or values from this crate.
    pub const fn new(rank: u8, suit: u8) -> Card {
        assert!(rank < 13 && suit < 4, "card rank or suit out of range");
        Card(rank * 4 + suit)
    }

    /// The card at index `0..52`, or `None`.
    pub const fn from_index(index: u8) -> Option<Card> {
        if index < 52 { Some(Card(index)) } else { None }
    }

    /// Index `0..52` (`rank * 4 + suit`).
    pub const fn index(self) -> u8 {
        self.0
    }

    /// Rank, 0 (deuce) to 12 (ace).
    pub const fn rank(self) -> u8 {
        self.0 >> 2
    }

    /// Suit, 0..4 for clubs, diamonds, hearts, spades.
    pub const fn suit(self) -> u8 {
        self.0 & 3
    }
}

/// Why a card's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid card {text:?}: expected a rank (2-9, T, J, Q, K, A) then a suit (c, d, h, s), like \"As\"")]
pub struct ParseCardError {
    /// The text that was rejected.
    pub text: String,
}

impl FromStr for Card {
    type Err = ParseCardError;

    fn from_str(s: &str) -> Result<Card, ParseCardError> {
        let err = || ParseCardError { text: s.to_string() };
        let mut chars = s.chars();
        let (Some(r), Some(su), None) = (chars.next(), chars.next(), chars.next()) else {
            return Err(err());
        };
        let r = r.to_ascii_uppercase();
        let rank = RANK_CHARS.iter().position(|&c| c == r).ok_or_else(err)?;
        let su = su.to_ascii_lowercase();
        let suit = SUIT_CHARS.iter().position(|&c| c == su).ok_or_else(err)?;
        Ok(Card::new(rank as u8, suit as u8))
    }
}

impl fmt::Display for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            RANK_CHARS[self.rank() as usize],
            SUIT_CHARS[self.suit() as usize]
        )
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Card {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 8];
        let text: &str = {
            let r = RANK_CHARS[self.rank() as usize].encode_utf8(&mut buf[..4]).len();
            let su = SUIT_CHARS[self.suit() as usize];
            buf[r] = su as u8;
            std::str::from_utf8(&buf[..r + 1]).map_err(serde::ser::Error::custom)?
        };
        s.serialize_str(text)
    }
}

impl<'de> Deserialize<'de> for Card {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Card, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses cards written back to back or separated by spaces/commas ("AsKd", "As Kd").
pub fn parse_cards(text: &str) -> Result<Vec<Card>, ParseCardError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace() && *c != ',').collect();
    if !compact.len().is_multiple_of(2) || !compact.is_ascii() {
        return Err(ParseCardError {
            text: text.to_string(),
        });
    }
    compact
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .map_err(|_| ParseCardError {
                    text: text.to_string(),
                })?
                .parse()
        })
        .collect()
}

/// Writes cards back to back ("AsKd"), the form PHH uses.
pub fn format_cards(cards: &[Card]) -> String {
    cards.iter().map(Card::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_for_every_card() {
        for card in Card::ALL {
            let text = card.to_string();
            assert_eq!(text.parse::<Card>(), Ok(card));
            let json = serde_json::to_string(&card).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Card>(&json).unwrap(), card);
        }
        assert_eq!("As".parse::<Card>().unwrap(), Card::new(12, 3));
        assert_eq!("Td".parse::<Card>().unwrap(), Card::new(8, 1));
        assert_eq!("2c".parse::<Card>().unwrap(), Card::new(0, 0));
    }

    #[test]
    fn bad_text_is_rejected() {
        for bad in ["", "A", "Asx", "1s", "Ax", "10s", "ÄÖ"] {
            assert!(bad.parse::<Card>().is_err(), "{bad} parsed");
        }
        assert!(serde_json::from_str::<Card>("\"Zz\"").is_err());
    }

    #[test]
    fn card_lists_parse_with_or_without_spaces() {
        let cards = parse_cards("AsKd 2c").unwrap();
        assert_eq!(format_cards(&cards), "AsKd2c");
        assert!(parse_cards("AsK").is_err());
    }
}
