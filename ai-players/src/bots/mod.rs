//! Heuristic bots: players that decide instantly from the table view, used
//! as opponents, as baselines for experiments and as the LLM player's
//! fallback when a model does not answer in time.
//!
//! # Layout
//! - [`Bot`]: the synchronous decision function every bot implements;
//!   [`bot`] finds one by name ([`BOT_NAMES`]).
//! - [`BotAgent`]: makes any bot an [`Agent`] with its own seeded generator.
//! - `random`, `calling_station`, `tight_aggressive`: the three bots.
//! - `ranges`: preflop hand classes ranked into percentiles.
//! - `equity`: Monte Carlo showdown equity against opponents' ranges.
//!
//! Every amount is a "to" amount (the seat's street total after the action),
//! as in [`Action`]; the helpers here clamp sizes into the legal range so a
//! bot's action is always one `view.legal` allows.

mod calling_station;
mod equity;
mod random;
mod ranges;
mod tight_aggressive;

use std::sync::Arc;
use std::time::Instant;

use game_core::sim::SplitMix64;
use game_core::view::TableView;
use game_core::{Action, LegalActions, SeatIndex};
use parking_lot::Mutex;

use crate::agent::{Agent, BoxFuture, Decision, DecisionSource, Turn};

pub use calling_station::CallingStation;
pub use random::RandomBot;
pub use tight_aggressive::TightAggressive;

/// A heuristic player: a pure, synchronous function of what the seat sees
/// and a random generator, so the same view and generator state always give
/// the same action.
pub trait Bot: Send + Sync {
    /// The bot's name, as in [`BOT_NAMES`].
    fn name(&self) -> &'static str;

    /// The action `seat` takes in `view` (the view of that seat on its
    /// turn). Always one `view.legal` allows; when the seat may not act at
    /// all (`view.legal` empty) the answer is `Check`, which the table refuses.
    fn act(&self, seat: SeatIndex, view: &TableView, rng: &mut SplitMix64) -> Action;

    /// The same decision from the [`Spot`] alone, for bots that read
    /// nothing else (`None`: this bot needs the whole view). Bulk runners
    /// use it to skip building a [`TableView`] per decision; for the same
    /// spot and generator state it answers exactly what [`Bot::act`] does.
    fn act_on_spot(&self, _spot: &Spot, _rng: &mut SplitMix64) -> Option<Action> {
        None
    }

    /// The same decision from the amount the seat must add to call alone
    /// (0: it may check), for bots that read nothing else (`None`: this bot
    /// needs a [`Spot`]). Bulk runners use it to skip working out the legal
    /// actions and the pot; for the same turn it answers what
    /// [`Bot::act_on_spot`] does.
    fn act_on_amount_to_call(&self, _to_call: u64) -> Option<Action> {
        None
    }
}

/// The part of a seat's view on its turn that bots deciding without cards
/// or seats read: a bulk runner takes it straight from the table
/// ([`Table::legal_actions`], [`Table::pot_total`], [`Table::current_bet`])
/// instead of building a whole [`TableView`] for every decision.
///
/// [`Table::legal_actions`]: game_core::Table::legal_actions
/// [`Table::pot_total`]: game_core::Table::pot_total
/// [`Table::current_bet`]: game_core::Table::current_bet
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spot {
    /// What the seat may do.
    pub legal: LegalActions,
    /// Every chip in the middle: all pots, this street's bets included.
    pub pot: u64,
    /// The street's bet level.
    pub current_bet: u64,
}

impl Spot {
    /// The spot `view` shows (a seat's view on its turn).
    pub fn of_view(view: &TableView) -> Spot {
        Spot {
            legal: view.legal,
            pot: pot_total(view),
            current_bet: view.current_bet,
        }
    }

    /// The "to" amount of a bet or raise of `fraction` of the pot: a bet of
    /// that share of the pot, or a raise by that share of the pot after calling.
    pub(crate) fn pot_fraction_to(&self, fraction: f64) -> u64 {
        let to_call = self.legal.call.unwrap_or(0);
        let pot = self.pot + to_call;
        self.current_bet + (pot as f64 * fraction).round() as u64
    }
}

/// The names [`bot`] knows, for configs, CLIs and error messages.
pub const BOT_NAMES: [&str; 3] = [RandomBot::NAME, CallingStation::NAME, TightAggressive::NAME];

/// The bot called `name` (one of [`BOT_NAMES`]), or `None`.
pub fn bot(name: &str) -> Option<Arc<dyn Bot>> {
    match name {
        RandomBot::NAME => Some(Arc::new(RandomBot)),
        CallingStation::NAME => Some(Arc::new(CallingStation)),
        TightAggressive::NAME => Some(Arc::new(TightAggressive::default())),
        _ => None,
    }
}

/// A bot as an [`Agent`]: answers at once with a ready future, drawing its
/// randomness from its own generator so a seeded table replays the same way.
pub struct BotAgent {
    bot: Arc<dyn Bot>,
    /// `bot:NAME`, the agent spec this seat was made from.
    spec: String,
    /// A sync mutex: it is held only for one synchronous `act`, never across
    /// an `.await`.
    rng: Mutex<SplitMix64>,
}

impl BotAgent {
    /// An agent playing `bot` with a generator started at `seed`.
    pub fn new(bot: Arc<dyn Bot>, seed: u64) -> BotAgent {
        BotAgent {
            spec: format!("bot:{}", bot.name()),
            bot,
            rng: Mutex::new(SplitMix64::new(seed)),
        }
    }

    /// The bot it plays.
    pub fn bot(&self) -> &Arc<dyn Bot> {
        &self.bot
    }
}

impl Agent for BotAgent {
    fn name(&self) -> &str {
        &self.spec
    }

    fn decide<'a>(&'a self, turn: &'a Turn) -> BoxFuture<'a, Decision> {
        let started = Instant::now();
        let action = self.bot.act(turn.seat, &turn.view, &mut self.rng.lock());
        let decision = Decision {
            action,
            source: DecisionSource::Bot {
                name: self.bot.name().to_string(),
            },
            latency: started.elapsed(),
            tokens: None,
            reason: None,
            table_talk: None,
            steps: Vec::new(),
        };
        Box::pin(std::future::ready(decision))
    }
}

/// Check if free, else call, else fold: the action that risks nothing more
/// than staying in. `Check` when nothing is legal.
pub(crate) fn check_or_call(legal: &LegalActions) -> Action {
    if legal.check {
        Action::Check
    } else if legal.call.is_some() {
        Action::Call
    } else if legal.fold {
        Action::Fold
    } else {
        Action::Check
    }
}

/// Check if free, else fold: giving up without paying.
pub(crate) fn check_or_fold(legal: &LegalActions) -> Action {
    if legal.fold {
        Action::Fold
    } else {
        check_or_call(legal)
    }
}

/// A bet or raise to `to`, clamped into the legal range; `None` when the
/// seat may neither bet nor raise.
pub(crate) fn bet_or_raise_to(legal: &LegalActions, to: u64) -> Option<Action> {
    if let Some(range) = legal.bet {
        Some(Action::Bet {
            to: to.clamp(range.min, range.max),
        })
    } else {
        legal.raise.map(|range| Action::Raise {
            to: to.clamp(range.min, range.max),
        })
    }
}

/// All-in as a bet or raise, or calling when raising is closed.
pub(crate) fn all_in(legal: &LegalActions) -> Action {
    bet_or_raise_to(legal, u64::MAX).unwrap_or_else(|| check_or_call(legal))
}

/// Every chip in the middle: all pots, including this street's bets.
pub(crate) fn pot_total(view: &TableView) -> u64 {
    view.pots.iter().map(|p| p.amount).sum()
}

/// The "to" amount of a bet or raise of `fraction` of the pot: a bet of
/// that share of the pot, or a raise by that share of the pot after calling.
pub(crate) fn pot_fraction_to(view: &TableView, fraction: f64) -> u64 {
    Spot::of_view(view).pot_fraction_to(fraction)
}
