//! Why a command was refused. Each variant carries what a caller needs to
//! explain it; a refused command never changes the table.

use crate::rules::SeatIndex;

/// A command the rules do not allow right now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The table configuration is not playable.
    #[error("invalid table config: {0}")]
    InvalidConfig(&'static str),
    /// No such seat at this table.
    #[error("seat {seat} does not exist (this table has {seats} seats)")]
    NoSuchSeat {
        /// The seat asked for.
        seat: SeatIndex,
        /// Seats at the table.
        seats: usize,
    },
    /// Someone already sits there.
    #[error("seat {seat} is taken")]
    SeatTaken {
        /// The seat.
        seat: SeatIndex,
    },
    /// Nobody sits there.
    #[error("seat {seat} is empty")]
    SeatEmpty {
        /// The seat.
        seat: SeatIndex,
    },
    /// The seat is dealt into the current hand; wait for it to end.
    #[error("seat {seat} is in the current hand")]
    SeatInHand {
        /// The seat.
        seat: SeatIndex,
    },
    /// A chip amount of zero where chips are needed.
    #[error("amount must be positive")]
    ZeroAmount,
    /// A stack would exceed what clients can represent exactly.
    #[error("a stack may hold at most {max} chips")]
    TooManyChips {
        /// The limit ([`crate::rules::MAX_CHIPS`]).
        max: u64,
    },
    /// The seat already sits out.
    #[error("seat {seat} is already sitting out")]
    AlreadySittingOut {
        /// The seat.
        seat: SeatIndex,
    },
    /// The seat is not sitting out.
    #[error("seat {seat} is not sitting out")]
    NotSittingOut {
        /// The seat.
        seat: SeatIndex,
    },
    /// A hand is being played.
    #[error("a hand is in progress")]
    HandInProgress,
    /// Fewer than two seats can play.
    #[error("at least two seated players with chips are needed to start a hand")]
    NotEnoughPlayers,
    /// A stacked deck that is not a permutation of the 52 cards.
    #[error("a stacked deck must hold each of the 52 cards exactly once")]
    InvalidDeck,
    /// No hand is being played.
    #[error("no hand is in progress")]
    NoHandInProgress,
    /// Another seat must act first.
    #[error("not your turn: seat {to_act:?} is to act")]
    NotYourTurn {
        /// The seat to act, if any.
        to_act: Option<SeatIndex>,
    },
    /// Folding when a check is free is refused as a likely mistake.
    #[error("nothing to call: check instead of folding")]
    CannotFold,
    /// Check while facing a bet.
    #[error("cannot check: {to_call} to call")]
    CannotCheck {
        /// Chips needed to call.
        to_call: u64,
    },
    /// Call with nothing to call.
    #[error("nothing to call: check instead")]
    NothingToCall,
    /// Bet when a bet was already made on this street.
    #[error("there is already a bet of {current}: raise instead")]
    AlreadyBet {
        /// The bet to raise.
        current: u64,
    },
    /// Raise when nobody bet on this street.
    #[error("there is no bet to raise: bet instead")]
    NothingToRaise,
    /// A short all-in did not reopen the betting for a seat that already acted.
    #[error("the betting was not reopened: call or fold")]
    RaiseNotAllowed,
    /// The stack cannot cover more than a call.
    #[error("not enough chips to raise")]
    CannotAffordRaise,
    /// Every opponent is all-in (or cannot cover more than the current
    /// bet): a bet or raise could never be called, so only call or fold.
    #[error("no opponent can call a bet or raise: call or fold")]
    NoOpponentCanCall,
    /// A bet below the minimum that is not all-in.
    #[error("bet too small: the minimum is {min}")]
    BetTooSmall {
        /// The smallest legal bet-to.
        min: u64,
    },
    /// A raise below the minimum that is not all-in.
    #[error("raise too small: the minimum is to {min}")]
    RaiseTooSmall {
        /// The smallest legal raise-to.
        min: u64,
    },
    /// An amount above the seat's stack.
    #[error("not enough chips: at most {max}")]
    AmountTooLarge {
        /// The largest legal amount (all-in).
        max: u64,
    },
}
