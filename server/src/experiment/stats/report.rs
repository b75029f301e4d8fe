//! What the statistics report per agent: its line of results
//! ([`AgentResult`]), the duplicate-mode estimate ([`DuplicateEstimate`])
//! and the raw counters behind the rates ([`AgentCounters`]).

use serde::{Deserialize, Serialize};

use super::hand::SeatHand;

/// An agent's raw counters, summed over its seat-hands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCounters {
    /// Seat-hands dealt in.
    pub hands: u64,
    /// Hands with a preflop call, bet or raise.
    pub vpip: u64,
    /// Hands with a preflop bet or raise.
    pub pfr: u64,
    /// Bets and raises on the flop, turn and river.
    pub postflop_bets_raises: u64,
    /// Calls on the flop, turn and river.
    pub postflop_calls: u64,
    /// Hands in which it saw the flop.
    pub saw_flop: u64,
    /// Hands in which it went to showdown.
    pub showdowns: u64,
    /// Showdowns in which it won chips.
    pub showdowns_won: u64,
}

impl AgentCounters {
    #[inline]
    pub(super) fn add_hand(&mut self, hand: &SeatHand) {
        let add = |counter: &mut u64, value: u64| *counter = counter.saturating_add(value);
        add(&mut self.hands, 1);
        add(&mut self.vpip, u64::from(hand.vpip));
        add(&mut self.pfr, u64::from(hand.pfr));
        add(
            &mut self.postflop_bets_raises,
            u64::from(hand.postflop_bets_raises),
        );
        add(&mut self.postflop_calls, u64::from(hand.postflop_calls));
        add(&mut self.saw_flop, u64::from(hand.saw_flop));
        add(&mut self.showdowns, u64::from(hand.showdown));
        add(&mut self.showdowns_won, u64::from(hand.won_at_showdown));
    }

    pub(super) fn merge(&mut self, other: &AgentCounters) {
        let add = |counter: &mut u64, value: u64| *counter = counter.saturating_add(value);
        add(&mut self.hands, other.hands);
        add(&mut self.vpip, other.vpip);
        add(&mut self.pfr, other.pfr);
        add(&mut self.postflop_bets_raises, other.postflop_bets_raises);
        add(&mut self.postflop_calls, other.postflop_calls);
        add(&mut self.saw_flop, other.saw_flop);
        add(&mut self.showdowns, other.showdowns);
        add(&mut self.showdowns_won, other.showdowns_won);
    }
}

/// The duplicate-mode estimate: an agent's results grouped by deal, so that
/// the card luck shared by a deal's rotations cancels before the variance is
/// taken.
///
/// For each deal `d` the agent took part in, `y_d` = (its net over the deal's
/// seat-hands, in big blinds) / (number of those seat-hands): its average bb
/// per hand on that deal. The estimate is `100 · mean(y_d)` and the interval
/// `100 · (mean ± 1.96 · sd(y) / √deals)` with the sample standard deviation.
/// Every deal weighs the same, which is right when every deal is played in
/// all its rotations; a deal cut short (a stopped run) weighs as much as a
/// whole one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DuplicateEstimate {
    /// Deals the agent took part in.
    pub deals: u64,
    /// Mean over deals of the per-hand result, in big blinds per 100 hands.
    pub bb_per_100: f64,
    /// 95% normal interval of `bb_per_100`; `None` with fewer than two deals.
    pub ci95: Option<[f64; 2]>,
}

/// One agent's line in an experiment's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentResult {
    /// The agent's name as given to
    /// [`StatsAccumulator::record_hand`](super::StatsAccumulator::record_hand).
    pub agent: String,
    /// Seat-hands played.
    pub hands: u64,
    /// Chips won (negative: lost), antes and blinds included.
    pub net_chips: i64,
    /// Mean net per hand in big blinds, times 100.
    pub bb_per_100: f64,
    /// 95% normal interval of `bb_per_100` (mean ± 1.96 · sd/√n of the
    /// per-hand net in big blinds, times 100); `None` with fewer than two
    /// hands. Seat-hands are treated as independent, which they are not
    /// quite when an agent holds several seats at one table.
    pub bb_per_100_ci95: Option<[f64; 2]>,
    /// The per-deal estimate, present when deals are tracked and at least one
    /// of the agent's deals counted more than one of its seat-hands.
    pub duplicate: Option<DuplicateEstimate>,
    /// Fraction of hands with a voluntary preflop call, bet or raise.
    pub vpip: f64,
    /// Fraction of hands with a preflop bet or raise (≤ `vpip`).
    pub pfr: f64,
    /// Postflop (bets + raises) / postflop calls; `None` without calls.
    pub aggression_factor: Option<f64>,
    /// Showdowns / hands that saw the flop; `None` if it never saw a flop.
    pub went_to_showdown: Option<f64>,
    /// Showdowns won / showdowns; `None` without showdowns.
    pub won_at_showdown: Option<f64>,
    /// The raw counters behind the rates.
    pub counters: AgentCounters,
}
