//! The `random` bot: a baseline that plays every kind of legal action
//! equally often, with pot-sized bets, and never folds when it could check.

use game_core::sim::SplitMix64;
use game_core::view::TableView;
use game_core::{Action, SeatIndex};

use super::{Bot, Spot, bet_or_raise_to, check_or_call};

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

    /// The decision: it reads nothing but the spot.
    fn decide(spot: &Spot, rng: &mut SplitMix64) -> Action {
        let legal = &spot.legal;
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
                    spot.pot_fraction_to(fraction)
                } else {
                    u64::MAX
                };
                bet_or_raise_to(legal, to).unwrap_or_else(|| check_or_call(legal))
            }
            kind => kind,
        }
    }
}

impl Bot for RandomBot {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn act(&self, _seat: SeatIndex, view: &TableView, rng: &mut SplitMix64) -> Action {
        RandomBot::decide(&Spot::of_view(view), rng)
    }

    fn act_on_spot(&self, spot: &Spot, rng: &mut SplitMix64) -> Option<Action> {
        Some(RandomBot::decide(spot, rng))
    }
}

#[cfg(test)]
mod tests {
    use game_core::sim::{SplitMix64, seated_table};
    use game_core::{Command, TableConfig, Viewer};

    use super::{Bot, RandomBot, Spot};

    #[test]
    fn deciding_from_the_table_gives_the_same_action_as_from_the_view() {
        let mut rng = SplitMix64::new(11);
        for hand in 0..300 {
            let mut table = seated_table(TableConfig::new(6, 1, 2), 20 + hand % 200).expect("table");
            table
                .apply(Command::StartHand { seed: hand })
                .expect("hand starts");
            while let Some(seat) = table.to_act() {
                let view = table.view(Viewer::Seat(seat));
                let spot = Spot {
                    legal: table.legal_actions(seat),
                    pot: table.pot_total(),
                    current_bet: table.current_bet(),
                };
                assert_eq!(spot, Spot::of_view(&view));
                let mut fast_rng = rng.clone();
                let full = RandomBot.act(seat, &view, &mut rng);
                let fast = RandomBot.act_on_spot(&spot, &mut fast_rng);
                assert_eq!(fast, Some(full));
                assert_eq!(fast_rng.next_u64(), rng.clone().next_u64());
                table.apply(Command::Act { seat, action: full }).expect("legal");
            }
        }
    }
}
