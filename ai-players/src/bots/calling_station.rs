//! The `calling-station` bot: the loosest passive player there is, a
//! baseline that value bets beat and bluffs lose to.

use game_core::sim::SplitMix64;
use game_core::view::TableView;
use game_core::{Action, SeatIndex};

use super::{Bot, Spot, check_or_call};

/// Checks when it can, otherwise calls; never bets, raises or folds (in
/// No-Limit a seat facing a bet may always call, if need be all-in).
#[derive(Clone, Copy, Debug, Default)]
pub struct CallingStation;

impl CallingStation {
    /// The name [`super::bot`] knows it by.
    pub const NAME: &'static str = "calling-station";
}

impl Bot for CallingStation {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn act(&self, _seat: SeatIndex, view: &TableView, _rng: &mut SplitMix64) -> Action {
        check_or_call(&view.legal)
    }

    fn act_on_spot(&self, spot: &Spot, _rng: &mut SplitMix64) -> Option<Action> {
        Some(check_or_call(&spot.legal))
    }

    fn act_on_amount_to_call(&self, to_call: u64) -> Option<Action> {
        // On its turn a seat may check exactly when there is nothing to
        // call, and may always call otherwise (all-in if short).
        Some(if to_call == 0 { Action::Check } else { Action::Call })
    }
}

#[cfg(test)]
mod tests {
    use game_core::sim::{SplitMix64, random_action, seated_table};
    use game_core::{Command, TableConfig, Viewer};

    use super::{Bot, CallingStation, Spot};

    #[test]
    fn deciding_from_the_spot_alone_gives_the_same_action() {
        let mut rng = SplitMix64::new(3);
        for hand in 0..200 {
            let mut table = seated_table(TableConfig::new(6, 1, 2), 100).expect("table");
            table
                .apply(Command::StartHand { seed: hand })
                .expect("hand starts");
            while let Some(seat) = table.to_act() {
                let view = table.view(Viewer::Seat(seat));
                let full = CallingStation.act(seat, &view, &mut rng);
                let fast = CallingStation.act_on_spot(&Spot::of_view(&view), &mut rng);
                assert_eq!(fast, Some(full));
                let to_call = table.amount_to_call(seat).expect("its turn");
                assert_eq!(CallingStation.act_on_amount_to_call(to_call), Some(full));
                // Move on with a random legal action so that many spots are seen.
                let action = random_action(&table.legal_actions(seat), &mut rng).expect("an action");
                table.apply(Command::Act { seat, action }).expect("legal");
            }
        }
    }
}
