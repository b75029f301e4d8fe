//! The `random` bot: a baseline that plays every kind of legal action
//! equally often, with pot-sized bets, and never folds when it could check.

use game_core::sim::SplitMix64;
use game_core::view::TableView;
use game_core::{Action, SeatIndex};

use super::{Bot, bet_or_raise_to, check_or_call, pot_fraction_to};

/// Bet and raise sizes as fractions of the pot; `f64::INFINITY` is all-in.
const SIZES: [f64; 5] = [1.0 / 3.0, 0.5, 2.0 / 3.0, 1.0, f64::INFINITY];

/// Picks uniformly among the kinds of action available (fold, check, call,
/// bet or raise); bets and raises are a third, half, two thirds of the pot,
/// the pot or all-in, clamped into the legal range.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomBot;

impl RandomBot {
    /// The name [`super::bot`] knows it by.
    pub const NAME: &'static str = "random";
}

impl Bot for RandomBot {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn act(&self, _seat: SeatIndex, view: &TableView, rng: &mut SplitMix64) -> Action {
        let legal = &view.legal;
        let sized = legal.bet.is_some() || legal.raise.is_some();
        let mut kinds = [Action::Check; 4];
        let mut n = 0;
        for (allowed, kind) in [
            (legal.fold, Action::Fold),
            (legal.check, Action::Check),
            (legal.call.is_some(), Action::Call),
            (sized, Action::Raise { to: 0 }),
        ] {
            if allowed {
                kinds[n] = kind;
                n += 1;
            }
        }
        if n == 0 {
            return check_or_call(legal);
        }
        match kinds[rng.below(n as u64) as usize] {
            Action::Raise { .. } => {
                let fraction = SIZES[rng.below(SIZES.len() as u64) as usize];
                let to = if fraction.is_finite() {
                    pot_fraction_to(view, fraction)
                } else {
                    u64::MAX
                };
                bet_or_raise_to(legal, to).unwrap_or_else(|| check_or_call(legal))
            }
            kind => kind,
        }
    }
}
