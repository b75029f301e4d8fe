//! Side pots: each all-in level splits the chips into a pot that only the
//! seats who put in at least that much can win.

use serde::{Deserialize, Serialize};

use super::{MAX_SEATS, Player, SeatIndex};

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
    pub eligible: u16,
}

impl Layer {
    pub fn contains(&self, seat: SeatIndex) -> bool {
        self.eligible & (1 << seat) != 0
    }
}

/// Splits everything committed this hand into the main pot (first) and side
/// pots, from each seat's total commitment. Chips of folded seats above the
/// top live level (possible only before uncalled bets are returned) stay in
/// the last pot. Returns the layers and how many there are.
pub(crate) fn layers(players: &[Option<Player>; MAX_SEATS]) -> ([Layer; MAX_SEATS], usize) {
    let mut levels = [0u64; MAX_SEATS];
    let mut count = 0;
    for p in players.iter().flatten() {
        if p.live() && p.total > 0 && !levels[..count].contains(&p.total) {
            levels[count] = p.total;
            count += 1;
        }
    }
    levels[..count].sort_unstable();

    let mut layers = [Layer::default(); MAX_SEATS];
    let mut made = 0;
    let mut previous = 0;
    for &level in &levels[..count] {
        let mut layer = Layer::default();
        for (seat, p) in players.iter().enumerate() {
            let Some(p) = p else { continue };
            layer.amount += p.total.min(level) - p.total.min(previous);
            if p.live() && p.total >= level {
                layer.eligible |= 1 << seat;
            }
        }
        if layer.amount > 0 {
            layers[made] = layer;
            made += 1;
        }
        previous = level;
    }
    let rest: u64 = players
        .iter()
        .flatten()
        .map(|p| p.total - p.total.min(previous))
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
pub(crate) fn pots(players: &[Option<Player>; MAX_SEATS]) -> Vec<Pot> {
    let (layers, count) = layers(players);
    layers[..count]
        .iter()
        .map(|layer| Pot {
            amount: layer.amount,
            eligible: (0..MAX_SEATS).filter(|&s| layer.contains(s)).collect(),
        })
        .collect()
}
