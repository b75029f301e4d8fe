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

/// Splits everything committed this hand into the main pot (first) and side
/// pots, from each seat's total commitment. Chips of folded seats above the
/// top live level (possible only before uncalled bets are returned) stay in
/// the last pot.
pub(crate) fn pots(players: &[Option<Player>; MAX_SEATS]) -> Vec<Pot> {
    let mut levels: Vec<u64> = players
        .iter()
        .flatten()
        .filter(|p| p.live() && p.total > 0)
        .map(|p| p.total)
        .collect();
    levels.sort_unstable();
    levels.dedup();

    let mut pots: Vec<Pot> = Vec::with_capacity(levels.len());
    let mut previous = 0;
    for level in levels {
        let amount: u64 = players
            .iter()
            .flatten()
            .map(|p| p.total.min(level) - p.total.min(previous))
            .sum();
        let eligible = players
            .iter()
            .enumerate()
            .filter_map(|(s, p)| p.as_ref().filter(|p| p.live() && p.total >= level).map(|_| s))
            .collect();
        if amount > 0 {
            pots.push(Pot { amount, eligible });
        }
        previous = level;
    }
    let rest: u64 = players
        .iter()
        .flatten()
        .map(|p| p.total - p.total.min(previous))
        .sum();
    if rest > 0 {
        match pots.last_mut() {
            Some(last) => last.amount += rest,
            None => pots.push(Pot {
                amount: rest,
                eligible: Vec::new(),
            }),
        }
    }
    pots
}
