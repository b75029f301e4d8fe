//! The table: seats, the button, blinds and antes, betting, side pots and
//! showdown, as one deterministic state machine.
//!
//! Rules follow the 2024 WSOP rules (Tournament Rules "T", Live Action
//! Rules "L") and the TDA rules for No-Limit Hold'em;
//! `tests/pokerkit/differential.py` lists where pokerkit, the reference
//! engine, departs from them. Choices where rule books differ:
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
mod seat_set;
mod showdown;

use serde::{Deserialize, Serialize};

use crate::card::Card;
use crate::command::{Action, Command};
use crate::deck::Deck;
use crate::event::{Blind, Event, SeatList, SeatStack};

pub use betting::{AmountRange, LegalActions};
pub use error::RuleError;
pub use pots::Pot;
pub(crate) use pots::pots;
pub(crate) use seat_set::SeatSet;

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

/// A table between hands, as stored so that a load does not replay the
/// whole log: restore it with [`Table::restore`] and replay only the events
/// after the seq it was taken at ([`Table::replay_onto`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSnapshot {
    /// Who sits where, with their stacks.
    pub seats: Vec<Option<Seat>>,
    /// The last hand's button.
    pub button: Option<SeatIndex>,
    /// Hands started so far.
    pub hands_started: u64,
}

/// A seat's chips and cards within the current hand. Its flags (folded,
/// acted, all-in, shown) are the hand's [`SeatSet`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Player {
    pub hole: [Card; 2],
    /// Chips behind (not yet committed).
    pub stack: u64,
    /// Chips committed on the current street.
    pub street_bet: u64,
    /// Chips committed this hand (antes, blinds, bets), minus returns.
    pub total: u64,
    /// The street's bet level when this seat last acted; decides whether
    /// short all-ins since then reopened the betting for it.
    pub faced: u64,
}

impl Player {
    /// The entry of a seat not dealt in: all zero, so that resetting every
    /// entry at a new street leaves it unchanged.
    const EMPTY: Player = Player {
        hole: [Card::ALL[0]; 2],
        stack: 0,
        street_bet: 0,
        total: 0,
        faced: 0,
    };
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
///
/// Per-seat flags are bit sets rather than fields of [`Player`]: after every
/// action the engine asks how many seats are live, which have chips behind
/// and who still has to act, and a set answers each with one or two bit
/// operations where a field would need a scan over all ten seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hand {
    pub number: u64,
    pub deck: Deck,
    pub button: SeatIndex,
    pub small_blind: SeatIndex,
    pub big_blind: SeatIndex,
    /// Chips and cards by seat; only the seats in `dealt` are used, the
    /// others stay [`Player::EMPTY`].
    pub players: [Player; MAX_SEATS],
    /// Seats dealt into the hand.
    pub dealt: SeatSet,
    /// Dealt seats that folded.
    pub folded: SeatSet,
    /// Dealt seats with no chips behind. Updated with every change of a
    /// stack: an uncalled bet returned makes an all-in seat not all-in again.
    pub all_in: SeatSet,
    /// Seats that acted on this street since the last full bet or raise.
    pub acted: SeatSet,
    /// Seats that turned their cards up at showdown.
    pub shown: SeatSet,
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
}

impl Hand {
    /// A dealt seat's chips and cards.
    pub fn player(&self, seat: SeatIndex) -> Option<&Player> {
        self.dealt.contains(seat).then(|| &self.players[seat])
    }

    /// Dealt seats that have not folded.
    pub fn live(&self) -> SeatSet {
        self.dealt.minus(self.folded)
    }

    /// Keeps `all_in` in step after `seat`'s stack changed.
    fn update_all_in(&mut self, seat: SeatIndex) {
        self.all_in.set(seat, self.players[seat].stack == 0);
    }
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
    /// The current hand's betting decisions, empty between hands. Kept here
    /// rather than in [`Hand`] so that one buffer serves every hand.
    pub(crate) history: Vec<HandAction>,
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
            history: Vec::new(),
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

    /// What `seat` must add to call now (0: it may check), when it is its
    /// turn: the amount to call behind the legal actions, without working
    /// them out.
    pub fn amount_to_call(&self, seat: SeatIndex) -> Option<u64> {
        let hand = self.hand.as_ref()?;
        (hand.to_act == Some(seat)).then(|| hand.current_bet.saturating_sub(hand.players[seat].street_bet))
    }

    /// The current hand's street (the view's `street`); `None` between hands.
    pub fn street(&self) -> Option<Street> {
        self.hand.as_ref().map(|h| h.street)
    }

    /// The button of the current (or last) hand.
    pub fn button(&self) -> Option<SeatIndex> {
        self.hand.as_ref().map(|h| h.button).or(self.button)
    }

    /// A seat's chips behind right now (during a hand: not counting chips committed).
    pub fn stack(&self, seat: SeatIndex) -> Option<u64> {
        if let Some(p) = self.hand.as_ref().and_then(|h| h.player(seat)) {
            return Some(p.stack);
        }
        self.seats.get(seat)?.as_ref().map(|s| s.stack)
    }

    /// Every chip in the middle of the current hand: all pots, this street's
    /// bets included (the sum of the view's `pots`, without building them);
    /// 0 between hands.
    pub fn pot_total(&self) -> u64 {
        // Seats not dealt in hold `Player::EMPTY` (nothing committed), so
        // the whole array can be summed without reading `dealt`.
        self.hand
            .as_ref()
            .map_or(0, |h| h.players.iter().map(|p| p.total).sum())
    }

    /// The current street's bet level to call (the view's `current_bet`); 0
    /// between hands.
    pub fn current_bet(&self) -> u64 {
        self.hand.as_ref().map_or(0, |h| h.current_bet)
    }

    /// Makes this table what [`Table::new`] followed by one `Sit` per entry
    /// of `players` (`(player, stack)` for seats 0, 1, ...) makes, without
    /// their events and reusing the table's buffers: bulk runners play many
    /// independent hands on one table. Refused during a hand, or with a stack
    /// `Sit` would refuse (the table is then unchanged).
    pub fn reset_seated(&mut self, players: &[(&str, u64)]) -> Result<(), RuleError> {
        if self.hand.is_some() {
            return Err(RuleError::HandInProgress);
        }
        if let Some(seat) = players.len().checked_sub(1) {
            self.check_seat(seat)?;
        }
        for &(_, stack) in players {
            if stack == 0 {
                return Err(RuleError::ZeroAmount);
            }
            if stack > MAX_CHIPS {
                return Err(RuleError::TooManyChips { max: MAX_CHIPS });
            }
        }
        self.button = None;
        self.hands_started = 0;
        self.history.clear();
        for (seat, slot) in self.seats.iter_mut().enumerate() {
            let Some(&(player, stack)) = players.get(seat) else {
                *slot = None;
                continue;
            };
            match slot {
                Some(s) => {
                    s.player.clear();
                    s.player.push_str(player);
                    s.stack = stack;
                    s.sitting_out = false;
                }
                None => {
                    *slot = Some(Seat {
                        player: player.to_owned(),
                        stack,
                        sitting_out: false,
                    });
                }
            }
        }
        Ok(())
    }

    /// [`Table::reset_seated`] with the players already seated kept: the
    /// state of a new table after one `Sit` per entry of `stacks` (seats 0,
    /// 1, ...) by the players sitting there now, without copying their
    /// names. Refused during a hand, unless exactly the first `stacks.len()`
    /// seats are taken, or with a stack `Sit` would refuse (the table is
    /// then unchanged).
    pub fn reset_stacks(&mut self, stacks: &[u64]) -> Result<(), RuleError> {
        if self.hand.is_some() {
            return Err(RuleError::HandInProgress);
        }
        if let Some(seat) = stacks.len().checked_sub(1) {
            self.check_seat(seat)?;
        }
        for &stack in stacks {
            if stack == 0 {
                return Err(RuleError::ZeroAmount);
            }
            if stack > MAX_CHIPS {
                return Err(RuleError::TooManyChips { max: MAX_CHIPS });
            }
        }
        for (seat, slot) in self.seats.iter().enumerate() {
            match (slot, seat < stacks.len()) {
                (Some(_), false) => return Err(RuleError::SeatTaken { seat }),
                (None, true) => return Err(RuleError::SeatEmpty { seat }),
                _ => {}
            }
        }
        self.button = None;
        self.hands_started = 0;
        self.history.clear();
        for (seat, &stack) in self.seats.iter_mut().flatten().zip(stacks) {
            seat.stack = stack;
            seat.sitting_out = false;
        }
        Ok(())
    }

    /// All chips on the table: stacks plus everything committed to the hand.
    pub fn total_chips(&self) -> u64 {
        let mut total = 0;
        for (i, seat) in self.seats.iter().enumerate() {
            let in_hand = self.hand.as_ref().and_then(|h| h.player(i));
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

    /// The table as a [`TableSnapshot`], between hands only (`None` while a
    /// hand is played).
    pub fn snapshot(&self) -> Option<TableSnapshot> {
        self.hand.is_none().then(|| TableSnapshot {
            seats: self.seats.clone(),
            button: self.button,
            hands_started: self.hands_started,
        })
    }

    /// The table a [`TableSnapshot`] describes; `InvalidConfig` if it does
    /// not fit `config` (another number of seats, a seat out of range).
    pub fn restore(config: TableConfig, snapshot: TableSnapshot) -> Result<Table, RuleError> {
        let mut table = Table::new(config)?;
        if snapshot.seats.len() != table.config.seats {
            return Err(RuleError::InvalidConfig(
                "the snapshot has another number of seats",
            ));
        }
        if snapshot.button.is_some_and(|b| b >= table.config.seats) {
            return Err(RuleError::InvalidConfig("the snapshot's button is not a seat"));
        }
        if snapshot.seats.iter().flatten().any(|s| s.stack > MAX_CHIPS) {
            return Err(RuleError::TooManyChips { max: MAX_CHIPS });
        }
        table.seats = snapshot.seats;
        table.button = snapshot.button;
        table.hands_started = snapshot.hands_started;
        Ok(table)
    }

    /// Rebuilds a table from its event log: each command is recovered from
    /// the event that starts it, applied again, and must reproduce the
    /// logged events exactly.
    pub fn replay(config: TableConfig, events: &[Event]) -> Result<Table, ReplayError> {
        let table = Table::new(config).map_err(ReplayError::Config)?;
        Table::replay_onto(table, events)
    }

    /// Like [`Table::replay`], starting from `table` (a restored snapshot)
    /// with the events logged after it.
    pub fn replay_onto(mut table: Table, events: &[Event]) -> Result<Table, ReplayError> {
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

    /// Replays the first command of `events` (the events one command
    /// produced, logged in order): applies it, checks it reproduces them,
    /// and returns how many events it covered. On any error the table is
    /// unchanged; `Truncated` means `events` ends inside the command (a
    /// follower waits for the rest).
    pub fn replay_step(&mut self, events: &[Event]) -> Result<usize, ReplayError> {
        let first = events.first().ok_or(ReplayError::Truncated { index: 0 })?;
        let command = command_for(first).ok_or_else(|| ReplayError::UnexpectedEvent {
            index: 0,
            event: Box::new(first.clone()),
        })?;
        let mut next = self.clone();
        let mut produced = Vec::new();
        next.apply_into(command, &mut produced)
            .map_err(|error| ReplayError::Refused { index: 0, error })?;
        let logged = &events[..events.len().min(produced.len())];
        if logged != &produced[..logged.len()] {
            return Err(ReplayError::Diverged { index: 0 });
        }
        if logged.len() < produced.len() {
            return Err(ReplayError::Truncated { index: 0 });
        }
        *self = next;
        Ok(produced.len())
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
        self.hand.as_ref().is_some_and(|h| h.dealt.contains(seat))
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

    /// The seats dealt into the next hand: seated, not sitting out, with chips.
    fn playing(&self) -> SeatSet {
        let mut playing = SeatSet::EMPTY;
        for (seat, s) in self.seats.iter().enumerate() {
            if s.as_ref().is_some_and(|s| !s.sitting_out && s.stack > 0) {
                playing.insert(seat);
            }
        }
        playing
    }

    /// Starts a hand dealt from `deck`; `origin` is the server-only event
    /// that records where the deck came from (so replay can rebuild it).
    fn start_hand(&mut self, deck: Deck, origin: Event, events: &mut Vec<Event>) -> Result<(), RuleError> {
        if self.hand.is_some() {
            return Err(RuleError::HandInProgress);
        }
        let n = self.config.seats;
        let dealt = self.playing();
        if dealt.len() < 2 {
            return Err(RuleError::NotEnoughPlayers);
        }
        let from = self.button.unwrap_or(n - 1);
        let Some(button) = dealt.next_after(from) else {
            return Err(RuleError::NotEnoughPlayers);
        };
        let (small_blind, big_blind) = if dealt.len() == 2 {
            let other = dealt.next_after(button).unwrap_or(button);
            (button, other)
        } else {
            let sb = dealt.next_after(button).unwrap_or(button);
            let bb = dealt.next_after(sb).unwrap_or(sb);
            (sb, bb)
        };

        self.hands_started += 1;
        let number = self.hands_started;
        let mut starting = SeatList::new();
        for seat in dealt.iter() {
            let stack = self.seats[seat].as_ref().map_or(0, |s| s.stack);
            starting.push(SeatStack { seat, stack });
        }
        emit(events, || origin);
        emit(events, || Event::HandStarted {
            hand: number,
            button,
            small_blind,
            big_blind,
            players: starting,
        });

        // Written straight into `self.hand` rather than built in a local and
        // moved there: a `Hand` is several hundred bytes (77 instructions a
        // hand for the copy).
        let config = &self.config;
        let hand = self.hand.insert(Hand {
            number,
            deck,
            button,
            small_blind,
            big_blind,
            players: [Player::EMPTY; MAX_SEATS],
            dealt,
            folded: SeatSet::EMPTY,
            all_in: SeatSet::EMPTY,
            acted: SeatSet::EMPTY,
            shown: SeatSet::EMPTY,
            board: [Card::ALL[0]; 5],
            board_len: 0,
            street: Street::Preflop,
            to_act: None,
            current_bet: config.big_blind,
            min_raise: config.big_blind,
            last_aggressor: None,
        });
        for entry in starting.iter() {
            hand.players[entry.seat].stack = entry.stack;
        }

        // Order of dealing: clockwise from the seat left of the button.
        if config.ante > 0 {
            for seat in dealt.clockwise_after(button) {
                let p = &mut hand.players[seat];
                let amount = config.ante.min(p.stack);
                p.stack -= amount;
                p.total += amount;
                hand.update_all_in(seat);
                emit(events, || Event::AntePosted { seat, amount });
            }
        }
        for (seat, blind, size) in [
            (small_blind, Blind::Small, config.small_blind),
            (big_blind, Blind::Big, config.big_blind),
        ] {
            let p = &mut hand.players[seat];
            let amount = size.min(p.stack);
            p.stack -= amount;
            p.street_bet += amount;
            p.total += amount;
            hand.update_all_in(seat);
            emit(events, || Event::BlindPosted { seat, blind, amount });
        }
        for round in 0..2 {
            for seat in dealt.clockwise_after(button) {
                hand.players[seat].hole[round] = hand.deck.deal().expect("52 cards cover 10 seats");
            }
        }
        for seat in dealt.clockwise_after(button) {
            let cards = hand.players[seat].hole;
            emit(events, || Event::HoleCardsDealt { seat, cards });
        }

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
        // Read in place and then dropped: moving the hand out with `take()`
        // would copy all of it.
        let Some(hand) = self.hand.as_ref() else { return };
        let mut stacks = SeatList::new();
        for seat in hand.dealt.iter() {
            let p = &hand.players[seat];
            debug_assert_eq!(p.total, 0, "chips left in the pot at hand end");
            if let Some(s) = self.seats[seat].as_mut() {
                s.stack = p.stack;
            }
            stacks.push(SeatStack { seat, stack: p.stack });
        }
        self.button = Some(hand.button);
        let number = hand.number;
        emit(events, || Event::HandEnded { hand: number, stacks });
        self.hand = None;
        self.history.clear();
    }
}

/// Appends the event `make` builds, writing it straight into `events`' buffer.
///
/// An [`Event`] is about 200 bytes (the seat lists of `HandStarted`,
/// `PotAwarded` and `HandEnded` are inline). `Vec::push` builds the value on
/// the stack and then copies all of it, a `memcpy` call per event (about
/// 1,100 instructions a hand in the engine benchmark, a tenth of its cost);
/// writing into the reserved slot lets the compiler store just the
/// variant's fields.
#[inline(always)]
pub(crate) fn emit(events: &mut Vec<Event>, make: impl FnOnce() -> Event) {
    events.reserve(1);
    let len = events.len();
    events.spare_capacity_mut()[0].write(make());
    // SAFETY: `reserve(1)` leaves room for at least one more element, so
    // `spare_capacity_mut()[0]` is the slot at index `len` (the indexing is
    // checked), and `write` has just initialised it. Nothing runs between
    // the write and `set_len`, so the vector never exposes the slot before
    // it holds a value, and it owns the value afterwards.
    unsafe { events.set_len(len + 1) }
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
