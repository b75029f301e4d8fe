//! Showdown and awarding: who shows in which order, who wins each pot, and
//! where odd chips go.

use super::Table;
use super::pots::layers;
use crate::eval::{HandRank, evaluate};
use crate::event::{Event, Share};

impl Table {
    /// Everyone else folded: the last live seat takes every chip in the middle.
    pub(super) fn award_uncontested(&mut self, events: &mut Vec<Event>) {
        let Some(hand) = self.hand.as_mut() else { return };
        let amount: u64 = hand.players.iter().flatten().map(|p| p.total).sum();
        let Some(winner) = hand
            .players
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.live()))
        else {
            return;
        };
        for p in hand.players.iter_mut().flatten() {
            p.total = 0;
        }
        if let Some(p) = hand.players[winner].as_mut() {
            p.stack += amount;
        }
        events.push(Event::PotAwarded {
            pot: 0,
            amount,
            winners: vec![Share { seat: winner, amount }],
            rank: None,
        });
    }

    /// Shows or mucks the live hands in showdown order, then awards the side
    /// pots last-created first, all odd chips of a split to the first winner
    /// left of the button.
    pub(super) fn showdown(&mut self, events: &mut Vec<Event>) {
        let n = self.config.seats;
        let Some(hand) = self.hand.as_mut() else { return };
        let (layers, pot_count) = layers(&hand.players);
        let pots = &layers[..pot_count];

        let mut ranks: [Option<HandRank>; super::MAX_SEATS] = [None; super::MAX_SEATS];
        let mut cards = [crate::card::Card::ALL[0]; 7];
        cards[2..7].copy_from_slice(&hand.board[..5]);
        for (seat, p) in hand.players.iter().enumerate() {
            if let Some(p) = p.as_ref().filter(|p| p.live()) {
                cards[..2].copy_from_slice(&p.hole);
                ranks[seat] = Some(evaluate(&cards));
            }
        }

        // Last aggressor on the river first, else the first seat left of the button.
        let start = hand.last_aggressor.filter(|&s| ranks[s].is_some()).or_else(|| {
            (1..=n)
                .map(|k| (hand.button + k) % n)
                .find(|&s| ranks[s].is_some())
        });
        let Some(start) = start else { return };
        let everyone_shows = hand.players.iter().flatten().any(|p| p.live() && p.all_in());

        let mut shown: [bool; super::MAX_SEATS] = [false; super::MAX_SEATS];
        for seat in (0..n).map(|k| (start + k) % n) {
            let Some(rank) = ranks[seat] else { continue };
            let could_win = pots.iter().filter(|pot| pot.contains(seat)).any(|pot| {
                (0..n)
                    .filter(|&s| pot.contains(s) && shown[s])
                    .filter_map(|s| ranks[s])
                    .all(|best| rank >= best)
            });
            if everyone_shows || could_win {
                shown[seat] = true;
                if let Some(p) = hand.players[seat].as_mut() {
                    p.shown = true;
                    events.push(Event::HandShown {
                        seat,
                        cards: p.hole,
                        rank,
                    });
                }
            } else {
                events.push(Event::HandMucked { seat });
            }
        }

        for (index, pot) in pots.iter().enumerate().rev() {
            let best = (0..n)
                .filter(|&s| pot.contains(s) && shown[s])
                .filter_map(|s| ranks[s])
                .max();
            // Winners in seat order from the first seat left of the button;
            // all odd chips go to the first of them (T73, TDA 18).
            let winners = (1..=n)
                .map(|k| (hand.button + k) % n)
                .filter(|&s| pot.contains(s) && shown[s] && ranks[s] == best);
            let count = winners.clone().count() as u64;
            if count == 0 {
                continue;
            }
            let each = pot.amount / count;
            let odd = pot.amount % count;
            let shares: Vec<Share> = winners
                .enumerate()
                .map(|(i, seat)| Share {
                    seat,
                    amount: each + if i == 0 { odd } else { 0 },
                })
                .collect();
            for share in &shares {
                if let Some(p) = hand.players[share.seat].as_mut() {
                    p.stack += share.amount;
                }
            }
            events.push(Event::PotAwarded {
                pot: index,
                amount: pot.amount,
                winners: shares,
                rank: best,
            });
        }
        for p in hand.players.iter_mut().flatten() {
            p.total = 0;
        }
    }
}
