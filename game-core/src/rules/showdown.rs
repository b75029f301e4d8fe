//! Showdown and awarding: who shows in which order, who wins each pot, and
//! where odd chips go.

use super::pots::layers;
use super::{MAX_SEATS, SeatSet, Table, emit};
use crate::card::Card;
use crate::eval::{HandRank, evaluate};
use crate::event::{Event, SeatList, Share};

impl Table {
    /// Everyone else folded: the last live seat takes every chip in the middle.
    pub(super) fn award_uncontested(&mut self, events: &mut Vec<Event>) {
        let Some(hand) = self.hand.as_mut() else { return };
        let amount: u64 = hand.dealt.iter().map(|seat| hand.players[seat].total).sum();
        let Some(winner) = hand.live().first() else {
            return;
        };
        for p in &mut hand.players {
            p.total = 0;
        }
        hand.players[winner].stack += amount;
        hand.update_all_in(winner);
        let winners = SeatList::from_slice(&[Share { seat: winner, amount }]).expect("one winner");
        emit(events, || Event::PotAwarded {
            pot: 0,
            amount,
            winners,
            rank: None,
        });
    }

    /// Shows or mucks the live hands in showdown order, then awards the side
    /// pots last-created first, all odd chips of a split to the first winner
    /// left of the button.
    pub(super) fn showdown(&mut self, events: &mut Vec<Event>) {
        let n = self.config.seats;
        let Some(hand) = self.hand.as_mut() else { return };
        let (layers, pot_count) = layers(hand);
        let pots = &layers[..pot_count];
        let live = hand.live();

        let mut ranks: [Option<HandRank>; MAX_SEATS] = [None; MAX_SEATS];
        let mut cards = [Card::ALL[0]; 7];
        cards[2..7].copy_from_slice(&hand.board[..5]);
        for seat in live.iter() {
            cards[..2].copy_from_slice(&hand.players[seat].hole);
            ranks[seat] = Some(evaluate(&cards));
        }

        // Last aggressor on the river first, else the first seat left of the button.
        let start = hand
            .last_aggressor
            .filter(|&s| live.contains(s))
            .or_else(|| live.next_after(hand.button));
        let Some(start) = start else { return };
        let everyone_shows = !live.and(hand.all_in).is_empty();

        // Clockwise from `start` itself: after the seat before it.
        for seat in live.clockwise_after((start + n - 1) % n) {
            let Some(rank) = ranks[seat] else { continue };
            let could_win = pots.iter().filter(|pot| pot.eligible.contains(seat)).any(|pot| {
                pot.eligible
                    .and(hand.shown)
                    .iter()
                    .filter_map(|s| ranks[s])
                    .all(|best| rank >= best)
            });
            if everyone_shows || could_win {
                hand.shown.insert(seat);
                let cards = hand.players[seat].hole;
                emit(events, || Event::HandShown { seat, cards, rank });
            } else {
                emit(events, || Event::HandMucked { seat });
            }
        }

        for (index, pot) in pots.iter().enumerate().rev() {
            let contenders = pot.eligible.and(hand.shown);
            let best = contenders.iter().filter_map(|s| ranks[s]).max();
            // Winners in seat order from the first seat left of the button;
            // all odd chips go to the first of them (T73, TDA 18).
            let mut winners = SeatSet::EMPTY;
            for s in contenders.iter() {
                if ranks[s] == best {
                    winners.insert(s);
                }
            }
            let count = winners.len() as u64;
            if count == 0 {
                continue;
            }
            let each = pot.amount / count;
            let odd = pot.amount % count;
            let mut shares = SeatList::new();
            for (i, seat) in winners.clockwise_after(hand.button).enumerate() {
                let amount = each + if i == 0 { odd } else { 0 };
                hand.players[seat].stack += amount;
                hand.update_all_in(seat);
                shares.push(Share { seat, amount });
            }
            emit(events, || Event::PotAwarded {
                pot: index,
                amount: pot.amount,
                winners: shares,
                rank: best,
            });
        }
        for p in &mut hand.players {
            p.total = 0;
        }
    }
}
