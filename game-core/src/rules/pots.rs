//! Side pots: each all-in level splits the chips into a pot that only the
//! seats who put in at least that much can win.

use serde::{Deserialize, Serialize};

use super::{Hand, MAX_SEATS, SeatIndex, SeatSet};

/// One pot and who may win it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pot {
    /// Chips in it.
    pub amount: u64,
    /// Seats still in the hand that contributed up to this pot's level.
    pub eligible: Vec<SeatIndex>,
}

/// A pot with its eligible seats as a bit set: the allocation-free form
/// the showdown works with.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Layer {
    pub amount: u64,
    pub eligible: SeatSet,
}

/// Splits everything committed this hand into the main pot (first) and side
/// pots, from each seat's total commitment. Chips of folded seats above the
/// top live level (possible only before uncalled bets are returned) stay in
/// the last pot. Returns the layers and how many there are.
pub(crate) fn layers(hand: &Hand) -> ([Layer; MAX_SEATS], usize) {
    let players = &hand.players;
    let live = hand.live();
    let mut levels = [0u64; MAX_SEATS];
    let mut count = 0;
    for seat in live.iter() {
        let total = players[seat].total;
        if total > 0 && !levels[..count].contains(&total) {
            levels[count] = total;
            count += 1;
        }
    }
    levels[..count].sort_unstable();

    let mut layers = [Layer::default(); MAX_SEATS];
    let mut made = 0;
    let mut previous = 0;
    for &level in &levels[..count] {
        let mut layer = Layer::default();
        for seat in hand.dealt.iter() {
            let total = players[seat].total;
            layer.amount += total.min(level) - total.min(previous);
            if total >= level && live.contains(seat) {
                layer.eligible.insert(seat);
            }
        }
        if layer.amount > 0 {
            layers[made] = layer;
            made += 1;
        }
        previous = level;
    }
    let rest: u64 = hand
        .dealt
        .iter()
        .map(|seat| players[seat].total - players[seat].total.min(previous))
        .sum();
    if rest > 0 {
        if made == 0 {
            made = 1;
        }
        layers[made - 1].amount += rest;
    }
    (layers, made)
}

/// The pots as they stand, main pot first, for views.
pub(crate) fn pots(hand: &Hand) -> Vec<Pot> {
    let (layers, count) = layers(hand);
    layers[..count]
        .iter()
        .map(|layer| Pot {
            amount: layer.amount,
            eligible: layer.eligible.iter().collect(),
        })
        .collect()
}
