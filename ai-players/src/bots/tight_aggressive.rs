//! The `tight-aggressive` bot: a solid, readable regular. Preflop it plays
//! charts (ranges by position and stack depth, push/fold when short);
//! postflop it estimates its equity against what each opponent's actions
//! say it holds and bets for value, semi-bluffs now and then, calls when
//! the price is right and folds the rest.

use game_core::rules::{MAX_SEATS, Street};
use game_core::sim::SplitMix64;
use game_core::view::TableView;
use game_core::{Action, Card, LegalActions, SeatIndex};

use super::equity::{OpponentRange, connects, equity};
use super::ranges::percentile;
use super::{Bot, all_in, bet_or_raise_to, check_or_call, check_or_fold, pot_fraction_to, pot_total};

/// At or below this effective stack, in big blinds, preflop is push or fold.
const SHORT_STACK_BB: f64 = 12.0;

/// Preflop, a call above this share of the chips behind is treated as a
/// commitment and decided on equity against the bettors' ranges.
const COMMITTING_CALL: f64 = 0.25;

/// A bet or raise that would put in this share of the chips left goes all-in
/// instead: what would remain behind is too small to fold.
const COMMIT_SHARE: f64 = 0.4;

/// Plays tight, aggressive poker: preflop ranges by position and stack
/// depth, postflop Monte Carlo equity against opponents' plausible ranges
/// weighed against pot odds.
#[derive(Clone, Copy, Debug)]
pub struct TightAggressive {
    samples: u32,
}

impl TightAggressive {
    /// The name [`super::bot`] knows it by.
    pub const NAME: &'static str = "tight-aggressive";

    /// Monte Carlo deals per equity estimate by default: within about ±3%
    /// of the true equity, and tens of microseconds per decision
    /// (`BENCHMARKS.md`).
    pub const DEFAULT_SAMPLES: u32 = 300;

    /// A bot estimating equity from `samples` random deals per decision
    /// (at least one): more is steadier and slower.
    pub fn new(samples: u32) -> TightAggressive {
        TightAggressive {
            samples: samples.max(1),
        }
    }
}

impl Default for TightAggressive {
    fn default() -> TightAggressive {
        TightAggressive::new(Self::DEFAULT_SAMPLES)
    }
}

impl Bot for TightAggressive {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn act(&self, seat: SeatIndex, view: &TableView, rng: &mut SplitMix64) -> Action {
        let legal = &view.legal;
        if legal.is_empty() {
            return Action::Check;
        }
        let Some(spot) = Spot::new(seat, view) else {
            return check_or_call(legal);
        };
        let action = if view.street == Some(Street::Preflop) || view.board.is_empty() {
            spot.preflop(self.samples, rng)
        } else {
            spot.postflop(self.samples, rng)
        };
        debug_assert!(legal.allows(action), "{action:?} not in {legal:?}");
        action
    }
}

/// A seat's place in the preflop order, which sets how wide it may play.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    /// Four or more seats (the button included) act after it before the blinds.
    Early,
    /// Two or three seats act after it before the blinds.
    Middle,
    /// Only the button acts after it before the blinds.
    Cutoff,
    /// The button (and the small blind heads-up, which acts like one).
    Button,
    /// The small blind with three or more seats dealt in.
    SmallBlind,
    /// The big blind.
    BigBlind,
}

impl Position {
    fn of(view: &TableView, seat: SeatIndex) -> Position {
        let dealt = view.seats.iter().flatten().filter(|s| s.in_hand).count();
        if view.big_blind == Some(seat) {
            return Position::BigBlind;
        }
        if view.small_blind == Some(seat) && dealt > 2 {
            return Position::SmallBlind;
        }
        let n = view.seats.len();
        let button = view.button.unwrap_or(seat);
        let mut after = 0;
        let mut s = seat;
        for _ in 0..n {
            if s == button {
                break;
            }
            s = (s + 1) % n;
            after += usize::from(view.seats[s].as_ref().is_some_and(|v| v.in_hand));
        }
        match after {
            0 => Position::Button,
            1 => Position::Cutoff,
            2 | 3 => Position::Middle,
            _ => Position::Early,
        }
    }

    /// Share of hands opened with a raise when nobody has raised yet.
    fn open_share(self) -> f32 {
        match self {
            Position::Early => 0.10,
            Position::Middle => 0.15,
            Position::Cutoff => 0.25,
            Position::Button => 0.38,
            Position::SmallBlind => 0.32,
            Position::BigBlind => 0.12,
        }
    }

    /// Share of hands shoved all-in, unopened, at about 10 big blinds.
    fn push_share(self) -> f32 {
        match self {
            Position::Early => 0.10,
            Position::Middle => 0.14,
            Position::Cutoff => 0.22,
            Position::Button => 0.32,
            Position::SmallBlind => 0.42,
            Position::BigBlind => 0.16,
        }
    }

    /// Whether it acts after most opponents postflop.
    fn late(self) -> bool {
        matches!(self, Position::Cutoff | Position::Button)
    }
}

/// What the preflop betting looks like so far.
#[derive(Clone, Copy, Debug, Default)]
struct PreflopAction {
    /// Bets and raises (the blinds not counted).
    raises: u32,
    /// Calls of the big blind before any raise.
    limpers: u32,
    /// Calls of the last raise.
    callers: u32,
    /// The last raiser.
    last_raiser: Option<SeatIndex>,
}

impl PreflopAction {
    fn of(view: &TableView) -> PreflopAction {
        let mut seen = PreflopAction::default();
        for a in view.actions.iter().filter(|a| a.street == Street::Preflop) {
            match a.action {
                Action::Bet { .. } | Action::Raise { .. } => {
                    seen.raises += 1;
                    seen.callers = 0;
                    seen.last_raiser = Some(a.seat);
                }
                Action::Call if seen.raises == 0 => seen.limpers += 1,
                Action::Call => seen.callers += 1,
                Action::Fold | Action::Check => {}
            }
        }
        seen
    }
}

/// What a seat's actions this hand say about its cards.
fn opponent_range(view: &TableView, seat: SeatIndex) -> OpponentRange {
    let mut range = OpponentRange::ANY;
    let mut raises = 0;
    for a in &view.actions {
        let aggressive = matches!(a.action, Action::Bet { .. } | Action::Raise { .. });
        if a.street == Street::Preflop {
            if a.seat == seat {
                let cap = match (a.action, raises) {
                    (Action::Bet { .. } | Action::Raise { .. }, 0) => 0.25,
                    (Action::Bet { .. } | Action::Raise { .. }, 1) => 0.09,
                    (Action::Bet { .. } | Action::Raise { .. }, _) => 0.04,
                    (Action::Call, 0) => 0.65,
                    (Action::Call, 1) => 0.35,
                    (Action::Call, _) => 0.12,
                    _ => 1.0,
                };
                range.max_percentile = range.max_percentile.min(cap);
            }
            raises += u32::from(aggressive);
        } else if a.seat == seat {
            let pressure = match a.action {
                Action::Bet { .. } | Action::Raise { .. } => 2,
                Action::Call => 1,
                _ => 0,
            };
            range.postflop_pressure = range.postflop_pressure.saturating_add(pressure);
        }
    }
    range
}

/// One decision's facts, read once from the view.
struct Spot<'a> {
    view: &'a TableView,
    legal: &'a LegalActions,
    seat: SeatIndex,
    hole: [Card; 2],
    big_blind: u64,
    pot: u64,
    to_call: u64,
    /// Chips behind.
    stack: u64,
    /// Chips in front of the seat on this street.
    street_bet: u64,
    /// The most this seat can win from or lose to any one opponent, in big
    /// blinds, counting this street's bets.
    effective_bb: f64,
    /// Ranges of the live opponents (folded seats gone, all-in seats kept).
    opponents: [OpponentRange; MAX_SEATS],
    opponent_count: usize,
    /// Seats dealt into the hand.
    dealt: usize,
}

impl<'a> Spot<'a> {
    fn new(seat: SeatIndex, view: &'a TableView) -> Option<Spot<'a>> {
        let me = view.seats.get(seat)?.as_ref()?;
        let hole = me.cards?;
        let mine = me.stack + me.street_bet;
        let mut theirs = 0;
        let mut opponents = [OpponentRange::ANY; MAX_SEATS];
        let mut opponent_count = 0;
        let mut dealt = 0;
        for s in view.seats.iter().flatten() {
            dealt += usize::from(s.in_hand);
            if s.seat == seat || !s.in_hand || s.folded || opponent_count == MAX_SEATS {
                continue;
            }
            theirs = theirs.max(s.stack + s.street_bet);
            opponents[opponent_count] = opponent_range(view, s.seat);
            opponent_count += 1;
        }
        let big_blind = view.config.big_blind.max(1);
        Some(Spot {
            view,
            legal: &view.legal,
            seat,
            hole,
            big_blind,
            pot: pot_total(view),
            to_call: view.legal.call.unwrap_or(0),
            stack: me.stack,
            street_bet: me.street_bet,
            effective_bb: mine.min(theirs) as f64 / big_blind as f64,
            opponents,
            opponent_count,
            dealt,
        })
    }

    fn opponents(&self) -> &[OpponentRange] {
        &self.opponents[..self.opponent_count]
    }

    /// A bet or raise to `to`, all-in when it would leave too little behind,
    /// calling (or checking) when raising is closed.
    fn raise_to(&self, to: u64) -> Action {
        let chips = self.stack + self.street_bet;
        if to as f64 >= COMMIT_SHARE * chips as f64 {
            return all_in(self.legal);
        }
        bet_or_raise_to(self.legal, to).unwrap_or_else(|| check_or_call(self.legal))
    }

    fn preflop(&self, samples: u32, rng: &mut SplitMix64) -> Action {
        let action = PreflopAction::of(self.view);
        let position = Position::of(self.view, self.seat);
        // Heads-up every hand is a blind or the button: play about twice as wide.
        let width = if self.opponent_count == 1 && self.dealt == 2 {
            1.8
        } else {
            1.0
        };
        let strength = percentile(self.hole) / width;
        let bb = self.big_blind;
        let short = self.effective_bb <= SHORT_STACK_BB;

        if action.raises == 0 {
            if short {
                let depth = (10.0 / self.effective_bb.max(1.0)).clamp(0.75, 1.6) as f32;
                let limped = if action.limpers > 0 { 0.7 } else { 1.0 };
                if strength <= (position.push_share() * depth * limped).min(0.65) {
                    return all_in(self.legal);
                }
                return check_or_fold(self.legal);
            }
            if strength <= position.open_share() {
                let base = match position {
                    Position::SmallBlind | Position::BigBlind => 3 * bb,
                    _ => 5 * bb / 2,
                };
                return self.raise_to(base + u64::from(action.limpers) * bb);
            }
            // Completing the small blind, or limping behind limpers in
            // position, is cheap enough with the next band of hands.
            let limp = match position {
                Position::SmallBlind => 0.5,
                Position::Cutoff | Position::Button if action.limpers > 0 => position.open_share() * 1.5,
                _ => 0.0,
            };
            if self.to_call <= bb && strength <= limp {
                return check_or_call(self.legal);
            }
            return check_or_fold(self.legal);
        }

        // Facing a raise: big prices are decided on equity, small ones on charts.
        if short || self.to_call as f64 > COMMITTING_CALL * self.stack as f64 {
            return self.commit_or_fold(short, samples, rng);
        }
        if action.raises == 1 {
            let three_bet = if position.late() || position == Position::SmallBlind {
                0.05
            } else {
                0.035
            };
            if strength <= three_bet {
                // Three times the raise in position, four times out of it,
                // one more raise's worth per caller.
                let times = if position.late() { 3 } else { 4 };
                let to = self.view.current_bet * (times + u64::from(action.callers));
                return self.raise_to(to);
            }
            let call = match position {
                Position::BigBlind => 0.22,
                Position::Cutoff | Position::Button => 0.18,
                _ => 0.14,
            };
            let cheap = self.to_call as f64 <= 0.1 * self.effective_bb * bb as f64;
            if strength <= if cheap { call } else { call / 2.0 } {
                return check_or_call(self.legal);
            }
            return check_or_fold(self.legal);
        }
        // A three-bet or more.
        if strength <= 0.012 {
            let to = self.view.current_bet * 23 / 10 + u64::from(action.callers) * self.view.current_bet;
            return self.raise_to(to);
        }
        if strength <= 0.03 {
            return check_or_call(self.legal);
        }
        check_or_fold(self.legal)
    }

    /// Facing a preflop price that commits the stack (or any raise when
    /// short): shove, call or fold on equity against the bettors' ranges.
    fn commit_or_fold(&self, short: bool, samples: u32, rng: &mut SplitMix64) -> Action {
        let e = equity(self.hole, &[], self.opponents(), samples, rng);
        let call_price = self.to_call as f64 / (self.pot + self.to_call) as f64;
        // Shoving risks the whole stack; a caller adds what we raise beyond the call.
        let risk = self.stack as f64;
        let shove_price = risk / (self.pot as f64 + 2.0 * risk - self.to_call as f64);
        let can_raise = self.legal.raise.is_some();
        if can_raise && (e >= 0.5 || (short && e >= shove_price + 0.05)) {
            return all_in(self.legal);
        }
        if e >= call_price + 0.03 {
            return check_or_call(self.legal);
        }
        check_or_fold(self.legal)
    }

    fn postflop(&self, samples: u32, rng: &mut SplitMix64) -> Action {
        let view = self.view;
        let board = &view.board;
        let e = equity(self.hole, board, self.opponents(), samples, rng);
        let n = self.opponent_count.max(1) as f64;
        let fair = 1.0 / (n + 1.0);
        let value = fair + (1.0 - fair) * 0.3;
        let strong = fair + (1.0 - fair) * 0.6;
        let river = board.len() >= 5;

        if self.legal.check {
            if self.legal.bet.is_none() {
                return Action::Check;
            }
            if e >= value {
                let size = if river && e >= strong { 0.75 } else { 2.0 / 3.0 };
                return self.raise_to(pot_fraction_to(view, size));
            }
            let flop = board.len() == 3;
            let raised_preflop = PreflopAction::of(view).last_raiser == Some(self.seat);
            // Percent of the time it bets anyway: continuation bets as the
            // preflop raiser, semi-bluffs with draws and weak pairs, rare
            // river bluffs heads-up.
            let bluff_chance = if flop && raised_preflop && self.opponent_count <= 2 && e >= 0.6 * fair {
                60 / self.opponent_count as u64
            } else if !river && self.opponent_count <= 2 && connects(self.hole, board) && e >= 0.7 * fair {
                // Semi-bluff a draw or a weak pair.
                30
            } else if river && self.opponent_count == 1 && e < 0.2 {
                8
            } else {
                0
            };
            if rng.below(100) < bluff_chance {
                return self.raise_to(pot_fraction_to(view, 0.5));
            }
            return Action::Check;
        }

        let price = self.to_call as f64 / (self.pot + self.to_call) as f64;
        if e >= strong && self.legal.raise.is_some() {
            return self.raise_to(pot_fraction_to(view, 0.75));
        }
        if e >= price + 0.02 {
            return check_or_call(self.legal);
        }
        check_or_fold(self.legal)
    }
}

#[cfg(test)]
mod tests {
    use game_core::card::parse_cards;
    use game_core::view::Viewer;
    use game_core::{Command, Table, TableConfig};

    use super::*;

    /// Starts the first hand of `t` (button at seat 0) from a deck whose top
    /// cards are `top` (hole cards round by round from seat 1, then burn and
    /// board cards), the rest in index order.
    fn deal(t: &mut Table, top: &str) {
        let mut deck = parse_cards(top).expect("test cards");
        deck.extend(Card::ALL.iter().filter(|c| !deck.contains(c)).collect::<Vec<_>>());
        t.apply(Command::StartStackedHand { deck }).expect("start");
    }

    /// What the tight-aggressive bot does in the seat to act.
    fn decide(t: &Table) -> Action {
        let seat = t.to_act().expect("someone acts");
        let view = t.view(Viewer::Seat(seat));
        TightAggressive::default().act(seat, &view, &mut SplitMix64::new(1))
    }

    fn table(seats: usize, stack: u64) -> Table {
        let mut table = Table::new(TableConfig::new(seats, 50, 100)).expect("config");
        for seat in 0..seats {
            table
                .apply(Command::Sit {
                    seat,
                    player: format!("p{seat}"),
                    stack,
                })
                .expect("sit");
        }
        table
    }

    #[test]
    fn positions_at_six_seats() {
        let mut t = table(6, 10_000);
        t.apply(Command::StartHand { seed: 1 }).expect("start");
        let view = t.view(Viewer::Spectator);
        let button = view.button.expect("button");
        let at = |k: usize| Position::of(&view, (button + k) % 6);
        assert_eq!(at(0), Position::Button);
        assert_eq!(at(1), Position::SmallBlind);
        assert_eq!(at(2), Position::BigBlind);
        assert_eq!(at(3), Position::Middle);
        assert_eq!(at(4), Position::Middle);
        assert_eq!(at(5), Position::Cutoff);
    }

    /// Six seats: seat 3 acts first preflop and gets the third and ninth cards.
    fn six_seats_with(stack: u64, hole: &str) -> Table {
        let mut t = table(6, stack);
        let cards = parse_cards(hole).expect("test cards");
        let mut top = String::new();
        for (i, c) in parse_cards("2c3c4c5c6c7c8c9cTcJcQc")
            .expect("cards")
            .into_iter()
            .enumerate()
        {
            let card = match i {
                2 => cards[0],
                8 => cards[1],
                _ => c,
            };
            top.push_str(&card.to_string());
        }
        deal(&mut t, &top);
        assert_eq!(t.to_act(), Some(3));
        t
    }

    #[test]
    fn opens_aces_and_folds_trash_first_in() {
        assert_eq!(decide(&six_seats_with(10_000, "AsAh")), Action::Raise { to: 250 });
        assert_eq!(decide(&six_seats_with(10_000, "7d2h")), Action::Fold);
    }

    #[test]
    fn short_stacks_push_or_fold() {
        assert_eq!(decide(&six_seats_with(800, "AsKs")), Action::Raise { to: 800 });
        assert_eq!(decide(&six_seats_with(800, "9d4h")), Action::Fold);
    }

    #[test]
    fn calls_a_shove_with_aces_and_folds_junk() {
        for (hole, expected) in [("AsAh", Action::Call), ("7d2h", Action::Fold)] {
            let mut t = table(2, 10_000);
            // Seat 1 (the big blind) is dealt first.
            let cards = parse_cards(hole).expect("test cards");
            deal(&mut t, &format!("{}Kc{}Kd", cards[0], cards[1]));
            t.apply(Command::Act {
                seat: 0,
                action: Action::Raise { to: 10_000 },
            })
            .expect("shove");
            assert_eq!(decide(&t), expected, "{hole}");
        }
    }

    #[test]
    fn bets_two_pair_and_checks_air() {
        for (hole, bets) in [("AsKs", true), ("3c2d", false)] {
            let mut t = table(2, 10_000);
            let cards = parse_cards(hole).expect("test cards");
            // Board: Ah Kh 7d after a burn.
            deal(&mut t, &format!("{}9c{}8c4sAhKh7d", cards[0], cards[1]));
            t.apply(Command::Act {
                seat: 0,
                action: Action::Call,
            })
            .expect("limp");
            t.apply(Command::Act {
                seat: 1,
                action: Action::Check,
            })
            .expect("check");
            assert_eq!(t.to_act(), Some(1), "the big blind acts first on the flop");
            let action = decide(&t);
            assert_eq!(matches!(action, Action::Bet { .. }), bets, "{hole}: {action:?}");
        }
    }

    #[test]
    fn heads_up_button_is_the_button() {
        let mut t = table(2, 10_000);
        t.apply(Command::StartHand { seed: 1 }).expect("start");
        let view = t.view(Viewer::Spectator);
        let button = view.button.expect("button");
        assert_eq!(Position::of(&view, button), Position::Button);
        assert_eq!(Position::of(&view, 1 - button), Position::BigBlind);
    }
}
