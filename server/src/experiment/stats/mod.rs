//! Per-agent statistics of an experiment: net chips, bb/100 with a 95%
//! confidence interval, the duplicate-mode estimate, and the tracker
//! counters (VPIP, PFR, aggression, showdowns).
//!
//! A [`StatsAccumulator`] is fed one finished hand at a time (its events from
//! `HandStarted` to `HandEnded`); parallel tables keep one each and
//! [`StatsAccumulator::merge`] them, and a checkpoint serialises it.
//!
//! # Definitions
//! Every number is per *seat-hand*: an agent sitting in two seats plays two
//! hands each deal.
//! - **Net chips**: final stack (`HandEnded`) minus starting stack
//!   (`HandStarted`, before antes and blinds), so antes and blinds count.
//! - **VPIP**: the seat called, bet or raised preflop. Posting blinds or antes
//!   and checking do not count.
//! - **PFR**: the seat bet or raised preflop (so PFR ⊆ VPIP).
//! - **Aggression factor**: postflop (bets + raises) / postflop calls, over all
//!   the agent's hands; `None` when it never called postflop.
//! - **Saw flop**: not folded when the flop was dealt (all-in players see it).
//! - **Showdown**: the hand reached a showdown when at least two seats had not
//!   folded at its end (the engine then shows or mucks every live hand, so this
//!   is exactly "`HandShown`/`HandMucked` events happened"). A seat *went to
//!   showdown* when it had not folded in such a hand; mucking at showdown
//!   counts. A hand won because everyone else folded (a walk, a bet nobody
//!   called) is not a showdown.
//! - **Won at showdown**: went to showdown and received chips from a
//!   `PotAwarded` carrying a hand rank. Split pots count, and so does a side pot
//!   no one else contested (the seat still won money at showdown, like the
//!   W$SD of hand trackers).
//! - **Went-to-showdown rate**: showdowns / hands that saw the flop.
//!   **Won-at-showdown rate**: showdowns won / showdowns.
//!
//! # Precision and determinism
//! The state is kept in integers (chips, counts, sums of squared chips), so
//! merging in any order and saving/loading a checkpoint give bit-identical
//! results; floating point is only used in [`StatsAccumulator::results`], over
//! ordered maps. Sums saturate instead of wrapping; they cannot get near the
//! limits with real stakes (a net of 2^40 chips per hand squared, summed over
//! 2^40 hands, still fits in a `u128`).

//!
//! # Layout
//! - `error`: why a hand could not be recorded ([`StatsError`]).
//! - `hand`: one hand read from its events ([`SeatHand`], [`HandSummary`]).
//! - `tracker`: the same summary kept up while the hand is played
//!   ([`HandTracker`]).
//! - `report`: what is reported per agent ([`AgentResult`],
//!   [`DuplicateEstimate`], [`AgentCounters`]).
//! - `tally`: the exact integer sums per agent, by big blind and by deal,
//!   and the estimators read from them (bb/100 and its interval, the
//!   duplicate estimate).
//! - `accumulator`: [`StatsAccumulator`] (by agent name: merged, saved in
//!   checkpoints) and [`AgentTallies`] (by agent index, for a run's writer).

mod accumulator;
mod error;
mod hand;
mod report;
mod tally;
mod tracker;

#[cfg(test)]
mod tests;

pub use accumulator::{AgentTallies, StatsAccumulator};
pub use error::StatsError;
pub use hand::{HandSummary, SeatHand};
pub use report::{AgentCounters, AgentResult, DuplicateEstimate};
pub use tracker::HandTracker;
