//! Random legal play, for property tests, the differential check against
//! pokerkit and the engine benchmark. Not a strategy: the `random` bot in
//! `ai-players` is the one people play against.

use crate::command::{Action, Command};
use crate::event::Event;
use crate::rules::{LegalActions, RuleError, Table, TableConfig};

/// A table with `config` and every seat taken by player `p{seat}` with
/// `stack` chips: the starting point of benchmarks, bots' and agents' tests.
pub fn seated_table(config: TableConfig, stack: u64) -> Result<Table, RuleError> {
    let mut table = Table::new(config)?;
    for seat in 0..table.config().seats {
        table.apply(Command::Sit {
            seat,
            player: format!("p{seat}"),
            stack,
        })?;
    }
    Ok(table)
}

/// A tiny deterministic generator (SplitMix64): fast, seedable, no dependency.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough integer in `0..n` (n > 0); the bias is below 2^-32 for small `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }
}

/// Picks a legal action at random, favouring the edges where rules bugs
/// hide: minimum bets and raises, all-ins, calls of all-ins.
pub fn random_action(legal: &LegalActions, rng: &mut SplitMix64) -> Option<Action> {
    if legal.is_empty() {
        return None;
    }
    let sized = legal.bet.map(|r| (r, true)).or(legal.raise.map(|r| (r, false)));
    loop {
        match rng.below(8) {
            0 if legal.fold => return Some(Action::Fold),
            1 | 2 if legal.check => return Some(Action::Check),
            1..=3 if legal.call.is_some() => return Some(Action::Call),
            4..=7 => {
                let Some((range, is_bet)) = sized else { continue };
                let to = match rng.below(4) {
                    0 => range.min,
                    1 => range.max,
                    _ => range.min + rng.below(range.max - range.min + 1),
                };
                return Some(if is_bet {
                    Action::Bet { to }
                } else {
                    Action::Raise { to }
                });
            }
            _ => {
                if legal.fold && rng.below(4) == 0 {
                    return Some(Action::Fold);
                }
            }
        }
    }
}

/// Picks uniformly among the kinds of action available (fold, check, call,
/// bet or raise), with a uniform amount for bets and raises: the "random
/// legal actions" of the engine benchmark.
pub fn uniform_action(legal: &LegalActions, rng: &mut SplitMix64) -> Option<Action> {
    let mut kinds = [Action::Fold; 4];
    let mut n = 0;
    for (allowed, action) in [
        (legal.fold, Action::Fold),
        (legal.check, Action::Check),
        (legal.call.is_some(), Action::Call),
        (
            legal.bet.is_some() || legal.raise.is_some(),
            Action::Raise { to: 0 },
        ),
    ] {
        if allowed {
            kinds[n] = action;
            n += 1;
        }
    }
    if n == 0 {
        return None;
    }
    Some(match kinds[rng.below(n as u64) as usize] {
        Action::Raise { .. } => match (legal.bet, legal.raise) {
            (Some(r), _) => Action::Bet {
                to: r.min + rng.below(r.max - r.min + 1),
            },
            (None, Some(r)) => Action::Raise {
                to: r.min + rng.below(r.max - r.min + 1),
            },
            (None, None) => return None,
        },
        action => action,
    })
}

/// Plays the current hand to its end with [`random_action`], appending
/// every event to `events`. Returns the number of actions taken.
pub fn play_out(
    table: &mut Table,
    rng: &mut SplitMix64,
    events: &mut Vec<Event>,
) -> Result<usize, RuleError> {
    play_out_with(table, rng, events, random_action)
}

/// Plays the current hand to its end choosing actions with `choose`.
pub fn play_out_with(
    table: &mut Table,
    rng: &mut SplitMix64,
    events: &mut Vec<Event>,
    choose: fn(&LegalActions, &mut SplitMix64) -> Option<Action>,
) -> Result<usize, RuleError> {
    let mut actions = 0;
    while let Some(seat) = table.to_act() {
        let legal = table.legal_actions(seat);
        let Some(action) = choose(&legal, rng) else { break };
        table.apply_into(Command::Act { seat, action }, events)?;
        actions += 1;
    }
    Ok(actions)
}
