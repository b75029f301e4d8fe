//! The `calling-station` bot: the loosest passive player there is, a
//! baseline that value bets beat and bluffs lose to.

use game_core::sim::SplitMix64;
use game_core::view::TableView;
use game_core::{Action, SeatIndex};

use super::{Bot, check_or_call};

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
}
