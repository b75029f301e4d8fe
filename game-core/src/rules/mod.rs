//! The table: seats, the button, blinds and antes, betting, side pots and
//! showdown, as one deterministic state machine.
//!
//! Rules follow the 2024 WSOP/TDA rules for No-Limit Hold'em (see
//! `shared/REFERENCE.md`). Choices where rule books differ:
//! - The button moves to the next seat dealt in ("moving button"); there are
//!   no dead blinds.
//! - A short all-in big blind still sets the amount to call at the full big
//!   blind (WSOP L150), and the big blind keeps its option (L152).
//! - Folding when a check is free is refused ([`RuleError::CannotFold`]).
//! - At showdown every hand is shown when someone is all-in (T70); otherwise
//!   seats show in order (last aggressor of the river first, else first seat
//!   left of the button) and a hand that cannot win any pot it contests is
//!   mucked.

mod betting;
mod error;
mod pots;
mod showdown;

use serde::{Deserialize, Serialize};

use crate::card::Card;
use crate::command::{Action, Command};
use crate::deck::Deck;
use crate::event::{Blind, Event, SeatStack};

pub use betting::{AmountRange, LegalActions};
pub use error::RuleError;
pub use pots::Pot;
pub(crate) use pots::pots;

/// A seat number, `0..config.seats`.
pub type SeatIndex = usize;

/// Most seats at one table.
pub const MAX_SEATS: usize = 10;

/// Largest stack a seat may hold: 2^50 chips stay exact as JSON numbers in a
/// browser (2^53) even when ten of them are added up.
pub const MAX_CHIPS: u64 = 1 << 50;

/// The stakes and size of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableConfig {
    /// Number of seats, 2 to 10.
    pub seats: usize,
    /// Small blind, at least 1 and at most the big blind.
    pub small_blind: u64,
    /// Big blind; also the minimum bet.
    pub big_blind: u64,
    /// Ante every dealt-in seat posts (0 for none).
    #[serde(default)]
    pub ante: u64,
}

impl TableConfig {
    /// A table of `seats` with these blinds and no ante.
    pub fn new(seats: usize, small_blind: u64, big_blind: u64) -> TableConfig {
        TableConfig {
            seats,
            small_blind,
            big_blind,
            ante: 0,
        }
    }

    /// Checks that hands can be played with this config.
    pub fn validate(&self) -> Result<(), RuleError> {
        if !(2..=MAX_SEATS).contains(&self.seats) {
            return Err(RuleError::InvalidConfig("seats must be 2 to 10"));
        }
        if self.small_blind == 0 || self.small_blind > self.big_blind {
            return Err(RuleError::InvalidConfig(
                "small blind must be at least 1 and at most the big blind",
            ));
        }
        if self.big_blind > MAX_CHIPS || self.ante > MAX_CHIPS {
            return Err(RuleError::InvalidConfig("blinds or ante too large"));
        }
        Ok(())
    }
}

/// A betting round, or the showdown after the river.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Street {
    /// Hole cards only.
    Preflop,
    /// Three board cards.
    Flop,
    /// Four board cards.
    Turn,
    /// Five board cards.
    River,
}

impl Street {
    fn next(self) -> Option<Street> {
        match self {
            Street::Preflop => Some(Street::Flop),
            Street::Flop => Some(Street::Turn),
            Street::Turn => Some(Street::River),
            Street::River => None,
        }
    }
}

/// Who sits in a seat between hands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    /// Opaque player identity.
    pub player: String,
    /// Chips (outside a hand; during a hand see [`Table::stack`]).
    pub stack: u64,
    /// Skips hands until it sits in again.
    pub sitting_out: bool,
}

/// A seat's state within the current hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Player {
    pub hole: [Card; 2],
    /// Chips behind (not yet committed).
    pub stack: u64,
    /// Chips committed on the current street.
    pub street_bet: u64,
    /// Chips committed this hand (antes, blinds, bets), minus returns.
    pub total: u64,
    pub folded: bool,
    /// Acted on this street since the last full bet or raise.
    pub acted: bool,
    /// The street's bet level when this seat last acted; decides whether
    /// short all-ins since then reopened the betting for it.
    pub faced: u64,
    pub shown: bool,
}

impl Player {
    fn all_in(&self) -> bool {
        self.stack == 0
    }

    fn live(&self) -> bool {
        !self.folded
    }
}

/// One betting decision of the current hand, for views and prompts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandAction {
    /// Street it was made on.
    pub street: Street,
    /// The seat.
    pub seat: SeatIndex,
    /// The decision.
    pub action: Action,
    /// Chips put in.
    pub amount: u64,
    /// Whether the seat is all-in after it.
    pub all_in: bool,
}

/// The hand being played.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hand {
    pub number: u64,
    pub deck: Deck,
    pub button: SeatIndex,
    pub small_blind: SeatIndex,
    pub big_blind: SeatIndex,
    pub players: [Option<Player>; MAX_SEATS],
    /// Community cards; the first `board_len` are dealt.
    pub board: [Card; 5],
    pub board_len: usize,
    pub street: Street,
    pub to_act: Option<SeatIndex>,
    /// The street's bet level to call.
    pub current_bet: u64,
    /// The last full bet or raise increment (the minimum raise).
    pub min_raise: u64,
    /// Last seat to bet or raise on the current street.
    pub last_aggressor: Option<SeatIndex>,
    pub history: Vec<HandAction>,
}

/// A poker table: seats and, between `StartHand` and `HandEnded`, a hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    config: TableConfig,
    seats: Vec<Option<Seat>>,
    /// The last hand's button.
    button: Option<SeatIndex>,
    hands_started: u64,
    pub(crate) hand: Option<Hand>,
}

/// Why an event log could not be replayed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The config itself is invalid.
    #[error(transparent)]
    Config(RuleError),
    /// The event at `index` does not start a command (the log is corrupt or out of order).
    #[error("event {index} does not start a command: {event:?}")]
    UnexpectedEvent {
        /// Position in the log.
        index: usize,
        /// The event.
        event: Box<Event>,
    },
    /// The command recovered at `index` was refused by the rules.
    #[error("event {index}: the rules refuse the command: {error}")]
    Refused {
        /// Position in the log.
        index: usize,
        /// Why.
        error: RuleError,
    },
    /// Re-applying the command at `index` produced different events.
    #[error("event {index}: replay diverges from the log")]
    Diverged {
        /// Position in the log.
        index: usize,
    },
    /// The log ends in the middle of one command's events.
    #[error("the log ends inside the events of the command at {index}")]
    Truncated {
        /// Position of that command's first event.
        index: usize,
    },
}

impl Table {
    /// An empty table.
    pub fn new(config: TableConfig) -> Result<Table, RuleError> {
        config.validate()?;
        Ok(Table {
            seats: vec![None; config.seats],
            config,
            button: None,
            hands_started: 0,
            hand: None,
        })
    }

    /// The table's config.
    pub fn config(&self) -> &TableConfig {
        &self.config
    }

    /// Who sits where (stacks as of the last hand's end).
    pub fn seats(&self) -> &[Option<Seat>] {
        &self.seats
    }

    /// Hands started so far; the current or last hand's number.
    pub fn hand_number(&self) -> u64 {
        self.hands_started
    }

    /// Whether a hand is being played.
    pub fn hand_in_progress(&self) -> bool {
        self.hand.is_some()
    }

    /// The seat whose turn it is.
    pub fn to_act(&self) -> Option<SeatIndex> {
        self.hand.as_ref().and_then(|h| h.to_act)
    }

    /// The button of the current (or last) hand.
    pub fn button(&self) -> Option<SeatIndex> {
        self.hand.as_ref().map(|h| h.button).or(self.button)
    }

    /// A seat's chips behind right now (during a hand: not counting chips committed).
    pub fn stack(&self, seat: SeatIndex) -> Option<u64> {
        if let Some(p) = self
            .hand
            .as_ref()
            .and_then(|h| h.players.get(seat))
            .and_then(Option::as_ref)
        {
            return Some(p.stack);
        }
        self.seats.get(seat)?.as_ref().map(|s| s.stack)
    }

    /// All chips on the table: stacks plus everything committed to the hand.
    pub fn total_chips(&self) -> u64 {
        let mut total = 0;
        for (i, seat) in self.seats.iter().enumerate() {
            let in_hand = self.hand.as_ref().and_then(|h| h.players[i].as_ref());
            match in_hand {
                Some(p) => total += p.stack + p.total,
                None => total += seat.as_ref().map_or(0, |s| s.stack),
            }
        }
        total
    }

    /// Performs `command` and returns what happened, or refuses it and
    /// leaves the table exactly as it was.
    pub fn apply(&mut self, command: Command) -> Result<Vec<Event>, RuleError> {
        let mut events = Vec::new();
        self.apply_into(command, &mut events)?;
        Ok(events)
    }

    /// Like [`Table::apply`], appending to `events` (which is left as it was
    /// on error). Lets hot loops reuse one buffer.
    pub fn apply_into(&mut self, command: Command, events: &mut Vec<Event>) -> Result<(), RuleError> {
        match command {
            Command::Sit { seat, player, stack } => self.sit(seat, player, stack, events),
            Command::Stand { seat } => self.stand(seat, events),
            Command::SitOut { seat } => self.sit_out(seat, true, events),
            Command::SitIn { seat } => self.sit_out(seat, false, events),
            Command::AddChips { seat, amount } => self.add_chips(seat, amount, events),
            Command::StartHand { seed } => self.start_hand(
                Deck::shuffled(seed),
                Event::DeckShuffled {
                    hand: self.hands_started + 1,
                    seed,
                },
                events,
            ),
            Command::StartStackedHand { deck } => {
                let stacked = Deck::stacked(&deck).ok_or(RuleError::InvalidDeck)?;
                self.start_hand(
                    stacked,
                    Event::DeckStacked {
                        hand: self.hands_started + 1,
                        deck,
                    },
                    events,
                )
            }
            Command::Act { seat, action } => self.act(seat, action, false, events),
            Command::Timeout { seat } => {
                let legal = self.legal_actions(seat);
                if legal.is_empty() {
                    return Err(self.turn_error());
                }
                let action = if legal.check { Action::Check } else { Action::Fold };
                self.act(seat, action, true, events)
            }
        }
    }

    /// Rebuilds a table from its event log: each command is recovered from
    /// the event that starts it, applied again, and must reproduce the
    /// logged events exactly.
    pub fn replay(config: TableConfig, events: &[Event]) -> Result<Table, ReplayError> {
        let mut table = Table::new(config).map_err(ReplayError::Config)?;
        let mut produced = Vec::new();
        let mut index = 0;
        while index < events.len() {
            let command = command_for(&events[index]).ok_or_else(|| ReplayError::UnexpectedEvent {
                index,
                event: Box::new(events[index].clone()),
            })?;
            produced.clear();
            table
                .apply_into(command, &mut produced)
                .map_err(|error| ReplayError::Refused { index, error })?;
            let logged = &events[index..events.len().min(index + produced.len())];
            if logged != &produced[..logged.len()] {
                return Err(ReplayError::Diverged { index });
            }
            if logged.len() < produced.len() {
                return Err(ReplayError::Truncated { index });
            }
            index += produced.len();
        }
        Ok(table)
    }

    fn seat_ref(&self, seat: SeatIndex) -> Result<&Seat, RuleError> {
        self.check_seat(seat)?;
        self.seats[seat].as_ref().ok_or(RuleError::SeatEmpty { seat })
    }

    fn check_seat(&self, seat: SeatIndex) -> Result<(), RuleError> {
        if seat < self.config.seats {
            Ok(())
        } else {
            Err(RuleError::NoSuchSeat {
                seat,
                seats: self.config.seats,
            })
        }
    }

    fn in_hand(&self, seat: SeatIndex) -> bool {
        self.hand.as_ref().is_some_and(|h| h.players[seat].is_some())
    }

    fn sit(
        &mut self,
        seat: SeatIndex,
        player: String,
        stack: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), RuleError> {
        self.check_seat(seat)?;
        if self.seats[seat].is_some() {
            return Err(RuleError::SeatTaken { seat });
        }
        if stack == 0 {
            return Err(RuleError::ZeroAmount);
        }
        if stack > MAX_CHIPS {
            return Err(RuleError::TooManyChips { max: MAX_CHIPS });
        }
        self.seats[seat] = Some(Seat {
            player: player.clone(),
            stack,
            sitting_out: false,
        });
        events.push(Event::SeatTaken { seat, player, stack });
        Ok(())
    }

    fn stand(&mut self, seat: SeatIndex, events: &mut Vec<Event>) -> Result<(), RuleError> {
        let stack = self.seat_ref(seat)?.stack;
        if self.in_hand(seat) {
            return Err(RuleError::SeatInHand { seat });
        }
        self.seats[seat] = None;
        events.push(Event::SeatLeft { seat, stack });
        Ok(())
    }

    fn sit_out(&mut self, seat: SeatIndex, out: bool, events: &mut Vec<Event>) -> Result<(), RuleError> {
        let current = self.seat_ref(seat)?.sitting_out;
        match (current, out) {
            (true, true) => return Err(RuleError::AlreadySittingOut { seat }),
            (false, false) => return Err(RuleError::NotSittingOut { seat }),
            _ => {}
        }
        if let Some(s) = self.seats[seat].as_mut() {
            s.sitting_out = out;
        }
        events.push(if out {
            Event::SatOut { seat }
        } else {
            Event::SatIn { seat }
        });
        Ok(())
    }

    fn add_chips(&mut self, seat: SeatIndex, amount: u64, events: &mut Vec<Event>) -> Result<(), RuleError> {
        let stack = self.seat_ref(seat)?.stack;
        if self.in_hand(seat) {
            return Err(RuleError::SeatInHand { seat });
        }
        if amount == 0 {
            return Err(RuleError::ZeroAmount);
        }
        let new = stack
            .checked_add(amount)
            .filter(|&s| s <= MAX_CHIPS)
            .ok_or(RuleError::TooManyChips { max: MAX_CHIPS })?;
        if let Some(s) = self.seats[seat].as_mut() {
            s.stack = new;
        }
        events.push(Event::ChipsAdded {
            seat,
            amount,
            stack: new,
        });
        Ok(())
    }

    /// Whether a seat is dealt into the next hand.
    fn plays(&self, seat: SeatIndex) -> bool {
        self.seats[seat]
            .as_ref()
            .is_some_and(|s| !s.sitting_out && s.stack > 0)
    }

    /// The first seat after `from` (exclusive, clockwise) satisfying `pred`.
    fn next_seat(&self, from: SeatIndex, pred: impl Fn(SeatIndex) -> bool) -> Option<SeatIndex> {
        let n = self.config.seats;
        (1..=n).map(|k| (from + k) % n).find(|&s| pred(s))
    }

    /// Starts a hand dealt from `deck`; `origin` is the server-only event
    /// that records where the deck came from (so replay can rebuild it).
    fn start_hand(&mut self, deck: Deck, origin: Event, events: &mut Vec<Event>) -> Result<(), RuleError> {
        if self.hand.is_some() {
            return Err(RuleError::HandInProgress);
        }
        let n = self.config.seats;
        let dealt_count = (0..n).filter(|&s| self.plays(s)).count();
        if dealt_count < 2 {
            return Err(RuleError::NotEnoughPlayers);
        }
        let from = self.button.unwrap_or(n - 1);
        let Some(button) = self.next_seat(from, |s| self.plays(s)) else {
            return Err(RuleError::NotEnoughPlayers);
        };
        let (small_blind, big_blind) = if dealt_count == 2 {
            let other = self.next_seat(button, |s| self.plays(s)).unwrap_or(button);
            (button, other)
        } else {
            let sb = self.next_seat(button, |s| self.plays(s)).unwrap_or(button);
            let bb = self.next_seat(sb, |s| self.plays(s)).unwrap_or(sb);
            (sb, bb)
        };

        self.hands_started += 1;
        let number = self.hands_started;
        events.push(origin);
        events.push(Event::HandStarted {
            hand: number,
            button,
            small_blind,
            big_blind,
            players: (0..n)
                .filter(|&s| self.plays(s))
                .map(|seat| SeatStack {
                    seat,
                    stack: self.seats[seat].as_ref().map_or(0, |s| s.stack),
                })
                .collect(),
        });

        let mut players: [Option<Player>; MAX_SEATS] = Default::default();
        for seat in (0..n).filter(|&s| self.plays(s)) {
            let stack = self.seats[seat].as_ref().map_or(0, |s| s.stack);
            players[seat] = Some(Player {
                hole: [Card::ALL[0]; 2],
                stack,
                street_bet: 0,
                total: 0,
                folded: false,
                acted: false,
                faced: 0,
                shown: false,
            });
        }
        let mut hand = Hand {
            number,
            deck,
            button,
            small_blind,
            big_blind,
            players,
            board: [Card::ALL[0]; 5],
            board_len: 0,
            street: Street::Preflop,
            to_act: None,
            current_bet: self.config.big_blind,
            min_raise: self.config.big_blind,
            last_aggressor: None,
            history: Vec::with_capacity(32),
        };

        // Order of dealing: clockwise from the seat left of the button.
        let mut order = [0; MAX_SEATS];
        let mut dealt = 0;
        for k in 1..=n {
            let seat = (button + k) % n;
            if hand.players[seat].is_some() {
                order[dealt] = seat;
                dealt += 1;
            }
        }
        let order = &order[..dealt];

        if self.config.ante > 0 {
            for &seat in order {
                if let Some(p) = hand.players[seat].as_mut() {
                    let amount = self.config.ante.min(p.stack);
                    p.stack -= amount;
                    p.total += amount;
                    events.push(Event::AntePosted { seat, amount });
                }
            }
        }
        for (seat, blind, size) in [
            (small_blind, Blind::Small, self.config.small_blind),
            (big_blind, Blind::Big, self.config.big_blind),
        ] {
            if let Some(p) = hand.players[seat].as_mut() {
                let amount = size.min(p.stack);
                p.stack -= amount;
                p.street_bet += amount;
                p.total += amount;
                events.push(Event::BlindPosted { seat, blind, amount });
            }
        }
        for round in 0..2 {
            for &seat in order {
                let card = hand.deck.deal().expect("52 cards cover 10 seats");
                if let Some(p) = hand.players[seat].as_mut() {
                    p.hole[round] = card;
                }
            }
        }
        for &seat in order {
            if let Some(p) = hand.players[seat].as_ref() {
                events.push(Event::HoleCardsDealt { seat, cards: p.hole });
            }
        }

        self.hand = Some(hand);
        // Preflop action starts left of the big blind (heads-up: that is the button).
        self.continue_hand(big_blind, events);
        Ok(())
    }

    fn turn_error(&self) -> RuleError {
        match &self.hand {
            None => RuleError::NoHandInProgress,
            Some(h) => RuleError::NotYourTurn { to_act: h.to_act },
        }
    }

    /// Ends the hand: stacks go back to the seats.
    fn finish_hand(&mut self, events: &mut Vec<Event>) {
        let Some(hand) = self.hand.take() else { return };
        let mut stacks = Vec::new();
        for (seat, p) in hand.players.iter().enumerate() {
            if let Some(p) = p {
                debug_assert_eq!(p.total, 0, "chips left in the pot at hand end");
                if let Some(s) = self.seats[seat].as_mut() {
                    s.stack = p.stack;
                }
                stacks.push(SeatStack { seat, stack: p.stack });
            }
        }
        self.button = Some(hand.button);
        events.push(Event::HandEnded {
            hand: hand.number,
            stacks,
        });
    }
}

/// The command whose events start with `event`, for replay.
fn command_for(event: &Event) -> Option<Command> {
    Some(match event {
        Event::SeatTaken { seat, player, stack } => Command::Sit {
            seat: *seat,
            player: player.clone(),
            stack: *stack,
        },
        Event::SeatLeft { seat, .. } => Command::Stand { seat: *seat },
        Event::SatOut { seat } => Command::SitOut { seat: *seat },
        Event::SatIn { seat } => Command::SitIn { seat: *seat },
        Event::ChipsAdded { seat, amount, .. } => Command::AddChips {
            seat: *seat,
            amount: *amount,
        },
        Event::DeckShuffled { seed, .. } => Command::StartHand { seed: *seed },
        Event::DeckStacked { deck, .. } => Command::StartStackedHand { deck: deck.clone() },
        Event::ActionTaken {
            seat,
            action,
            timed_out,
            ..
        } => {
            if *timed_out {
                Command::Timeout { seat: *seat }
            } else {
                Command::Act {
                    seat: *seat,
                    action: *action,
                }
            }
        }
        _ => return None,
    })
}
