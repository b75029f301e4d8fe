//! Tests of the statistics, and the hands they run on: a builder of a
//! hand's events, a few hands of known outcome, and random legal play.

mod hands;
mod results;

use game_core::event::{Blind, BoardCards, Event, SeatList, SeatStack, Share};
use game_core::rules::MAX_SEATS;
use game_core::sim::{SplitMix64, play_out, seated_table};
use game_core::{Action, Card, Command, HandRank, SeatIndex, Street, Table, TableConfig, evaluate};

use super::*;

/// Writes a hand's events while keeping the stacks, so the final stacks
/// in `HandEnded` follow from what was written.
struct HandBuilder {
    hand: u64,
    events: Vec<Event>,
    stacks: [u64; MAX_SEATS],
    seats: Vec<SeatIndex>,
}

impl HandBuilder {
    /// Seats in order from the button; heads-up the button is the small blind.
    fn new(hand: u64, players: &[(SeatIndex, u64)]) -> HandBuilder {
        let seats: Vec<SeatIndex> = players.iter().map(|&(seat, _)| seat).collect();
        let mut stacks = [0; MAX_SEATS];
        for &(seat, stack) in players {
            stacks[seat] = stack;
        }
        let small = if seats.len() == 2 { seats[0] } else { seats[1] };
        let big = if seats.len() == 2 { seats[1] } else { seats[2] };
        let list: Vec<SeatStack> = players
            .iter()
            .map(|&(seat, stack)| SeatStack { seat, stack })
            .collect();
        let events = vec![
            Event::DeckShuffled { hand, seed: 7 },
            Event::HandStarted {
                hand,
                button: seats[0],
                small_blind: small,
                big_blind: big,
                players: SeatList::from_slice(&list).expect("few seats"),
            },
        ];
        HandBuilder {
            hand,
            events,
            stacks,
            seats,
        }
    }

    fn blinds(mut self, small: (SeatIndex, u64), big: (SeatIndex, u64)) -> HandBuilder {
        for (seat, blind, amount) in [(small.0, Blind::Small, small.1), (big.0, Blind::Big, big.1)] {
            self.stacks[seat] -= amount;
            self.events.push(Event::BlindPosted { seat, blind, amount });
        }
        self
    }

    fn act(mut self, seat: SeatIndex, action: Action, amount: u64) -> HandBuilder {
        self.stacks[seat] -= amount;
        self.events.push(Event::TurnStarted { seat });
        self.events.push(Event::ActionTaken {
            seat,
            action,
            amount,
            stack: self.stacks[seat],
            all_in: self.stacks[seat] == 0,
            timed_out: false,
        });
        self
    }

    fn board(mut self, street: Street) -> HandBuilder {
        let cards = if street == Street::Flop {
            &Card::ALL[40..43]
        } else {
            &Card::ALL[43..44]
        };
        self.events.push(Event::BoardDealt {
            street,
            cards: BoardCards::new(cards).expect("at most 5 cards"),
        });
        self
    }

    fn returned(mut self, seat: SeatIndex, amount: u64) -> HandBuilder {
        self.stacks[seat] += amount;
        self.events.push(Event::UncalledBetReturned { seat, amount });
        self
    }

    fn show(mut self, seat: SeatIndex) -> HandBuilder {
        self.events.push(Event::HandShown {
            seat,
            cards: [Card::ALL[0], Card::ALL[1]],
            rank: some_rank(),
        });
        self
    }

    fn muck(mut self, seat: SeatIndex) -> HandBuilder {
        self.events.push(Event::HandMucked { seat });
        self
    }

    fn award(mut self, rank: Option<HandRank>, winners: &[(SeatIndex, u64)]) -> HandBuilder {
        let shares: Vec<Share> = winners
            .iter()
            .map(|&(seat, amount)| Share { seat, amount })
            .collect();
        for share in &shares {
            self.stacks[share.seat] += share.amount;
        }
        self.events.push(Event::PotAwarded {
            pot: 0,
            amount: shares.iter().map(|s| s.amount).sum(),
            winners: SeatList::from_slice(&shares).expect("few winners"),
            rank,
        });
        self
    }

    fn end(mut self) -> Vec<Event> {
        let stacks: Vec<SeatStack> = self
            .seats
            .iter()
            .map(|&seat| SeatStack {
                seat,
                stack: self.stacks[seat],
            })
            .collect();
        self.events.push(Event::HandEnded {
            hand: self.hand,
            stacks: SeatList::from_slice(&stacks).expect("few seats"),
        });
        self.events
    }
}

fn some_rank() -> HandRank {
    evaluate(&Card::ALL[..5])
}

fn names(names: &[&str]) -> Vec<Option<String>> {
    names
        .iter()
        .map(|name| (!name.is_empty()).then(|| name.to_string()))
        .collect()
}

fn seat(summary: &HandSummary, seat: SeatIndex) -> SeatHand {
    *summary
        .seats
        .iter()
        .find(|s| s.seat == seat)
        .expect("seat dealt in")
}

fn result<'a>(results: &'a [AgentResult], agent: &str) -> &'a AgentResult {
    results.iter().find(|r| r.agent == agent).expect("agent recorded")
}

fn assert_close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

/// Button raises to 30, both blinds fold; 20 comes back uncalled.
fn raise_fold() -> Vec<Event> {
    HandBuilder::new(1, &[(0, 1000), (1, 1000), (2, 1000)])
        .blinds((1, 5), (2, 10))
        .act(0, Action::Raise { to: 30 }, 30)
        .act(1, Action::Fold, 0)
        .act(2, Action::Fold, 0)
        .returned(0, 20)
        .award(None, &[(0, 25)])
        .end()
}

/// Button limps, small blind completes, big blind checks; a flop bet is
/// called, a turn bet is raised and folded to.
fn limp_call() -> Vec<Event> {
    HandBuilder::new(2, &[(0, 1000), (1, 1000), (2, 1000)])
        .blinds((1, 5), (2, 10))
        .act(0, Action::Call, 10)
        .act(1, Action::Call, 5)
        .act(2, Action::Check, 0)
        .board(Street::Flop)
        .act(1, Action::Check, 0)
        .act(2, Action::Bet { to: 20 }, 20)
        .act(0, Action::Call, 20)
        .act(1, Action::Fold, 0)
        .board(Street::Turn)
        .act(2, Action::Bet { to: 40 }, 40)
        .act(0, Action::Raise { to: 120 }, 120)
        .act(2, Action::Fold, 0)
        .returned(0, 80)
        .award(None, &[(0, 150)])
        .end()
}

/// Heads-up: the button completes, everybody checks to the river, the
/// big blind shows and wins, the button mucks.
fn check_down() -> Vec<Event> {
    let mut hand = HandBuilder::new(3, &[(0, 1000), (1, 1000)])
        .blinds((0, 5), (1, 10))
        .act(0, Action::Call, 5)
        .act(1, Action::Check, 0);
    for street in [Street::Flop, Street::Turn, Street::River] {
        hand = hand
            .board(street)
            .act(1, Action::Check, 0)
            .act(0, Action::Check, 0);
    }
    hand.show(1).muck(0).award(Some(some_rank()), &[(1, 20)]).end()
}

/// Everyone folds to the big blind.
fn walk() -> Vec<Event> {
    HandBuilder::new(4, &[(0, 1000), (1, 1000), (2, 1000)])
        .blinds((1, 5), (2, 10))
        .act(0, Action::Fold, 0)
        .act(1, Action::Fold, 0)
        .returned(2, 5)
        .award(None, &[(2, 10)])
        .end()
}

/// The button shoves 100, the big blind calls, the board runs out and
/// the pot is split.
fn all_in_split() -> Vec<Event> {
    HandBuilder::new(5, &[(0, 100), (1, 1000), (2, 1000)])
        .blinds((1, 5), (2, 10))
        .act(0, Action::Raise { to: 100 }, 100)
        .act(1, Action::Fold, 0)
        .act(2, Action::Call, 90)
        .board(Street::Flop)
        .board(Street::Turn)
        .board(Street::River)
        .show(2)
        .show(0)
        .award(Some(some_rank()), &[(0, 103), (2, 102)])
        .end()
}

/// A heads-up hand in which seat 0 nets `net` chips.
fn heads_up(hand: u64, net: i64) -> Vec<Event> {
    let start = 1000;
    let players = [(0, start), (1, start)];
    let mut events = HandBuilder::new(hand, &players).events;
    let stacks = [
        SeatStack {
            seat: 0,
            stack: start.checked_add_signed(net).expect("small net"),
        },
        SeatStack {
            seat: 1,
            stack: start.checked_add_signed(-net).expect("small net"),
        },
    ];
    events.push(Event::HandEnded {
        hand,
        stacks: SeatList::from_slice(&stacks).expect("two seats"),
    });
    events
}

/// Hands of random legal play at a 6-seat table with antes, in deals of
/// three hands, each hand's events as a runner would see them (the deck
/// seed first); and each seat's chips won at the table (final stack minus
/// everything it was given).
fn random_hands(count: u64) -> (Vec<(u64, Vec<Event>)>, [i64; 6]) {
    let config = TableConfig {
        ante: 2,
        ..TableConfig::new(6, 5, 10)
    };
    let mut table = seated_table(config, 1000).expect("valid table");
    let mut rng = SplitMix64::new(2024);
    let mut hands = Vec::new();
    let mut given = [1000; 6];
    for hand in 0..count {
        for (seat, given) in given.iter_mut().enumerate() {
            if table.stack(seat) == Some(0) {
                table
                    .apply(Command::AddChips { seat, amount: 1000 })
                    .expect("top up");
                *given += 1000;
            }
        }
        let mut events = table
            .apply(Command::StartHand { seed: rng.next_u64() })
            .expect("start");
        play_out(&mut table, &mut rng, &mut events).expect("legal play");
        hands.push((hand / 3, events));
    }
    let won = std::array::from_fn(|seat| {
        let stack = table.stack(seat).expect("seated");
        i64::try_from(stack).expect("small stack") - given[seat]
    });
    (hands, won)
}

fn sim_agents() -> Vec<Option<String>> {
    names(&["alice", "bob", "carol", "dave", "alice", "bob"])
}
