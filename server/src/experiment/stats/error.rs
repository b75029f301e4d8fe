//! Why a hand's events could not be recorded ([`StatsError`]).

use game_core::SeatIndex;

/// Why a hand's events could not be recorded. Nothing is recorded then.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    /// The events hold no `HandStarted`.
    #[error("the events hold no HandStarted")]
    NoHandStarted,
    /// The hand never ended (a truncated log).
    #[error("hand {hand} has no HandEnded")]
    NoHandEnded {
        /// The hand number from `HandStarted`.
        hand: u64,
    },
    /// The events hold more than one hand; record them one at a time.
    #[error("the events hold hand {first} and hand {second}: record one hand at a time")]
    SeveralHands {
        /// The first hand's number.
        first: u64,
        /// The number of the next `HandStarted`.
        second: u64,
    },
    /// `HandEnded` names another hand than `HandStarted`.
    #[error("hand {started} ended as hand {ended}")]
    HandMismatch {
        /// The number in `HandStarted`.
        started: u64,
        /// The number in `HandEnded`.
        ended: u64,
    },
    /// An event names a seat that was not dealt in.
    #[error("seat {seat} is not dealt in this hand")]
    SeatNotDealtIn {
        /// The seat.
        seat: SeatIndex,
    },
    /// `HandEnded` lacks the final stack of a seat dealt in.
    #[error("HandEnded has no final stack for seat {seat}")]
    MissingFinalStack {
        /// The seat.
        seat: SeatIndex,
    },
    /// A stack is too large for a signed net result.
    #[error("seat {seat}'s stacks are out of range")]
    ChipsOutOfRange {
        /// The seat.
        seat: SeatIndex,
    },
    /// A seat dealt in has no agent name.
    #[error("seat {seat} was dealt in but has no agent")]
    NoAgent {
        /// The seat.
        seat: SeatIndex,
    },
    /// The big blind is 0, so results in big blinds are undefined.
    #[error("the big blind must be at least 1")]
    ZeroBigBlind,
}
