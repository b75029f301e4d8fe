//! `game-core`: a pure, deterministic No-Limit Texas Hold'em engine.
//!
//! Nothing here does I/O or knows about sockets, databases or LLMs. A table
//! is a state machine: [`Table::apply`] takes a [`Command`] and returns the
//! [`Event`]s it caused, or a [`RuleError`] and leaves the state unchanged.
//! The same events are the deltas clients see, the persisted log, the
//! recovery path ([`Table::replay`]) and the hand history ([`phh`]).
//!
//! # Layout
//! - [`card`]: `Card`, one byte, `"As"` text form.
//! - [`deck`]: the seeded ChaCha20 shuffle (the documented, portable algorithm).
//! - [`eval`]: the lookup-table 5/6/7-card evaluator (`evaluate`, `HandRank`).
//! - [`rules`]: the table: seats, blinds, betting, side pots, showdown.
//! - [`command`]: what callers ask the table to do.
//! - [`event`]: what happened, each with a [`Visibility`].
//! - [`view`]: what one seat or a spectator may see.
//! - [`phh`]: Poker Hand History export and import (pokerkit's format).
//! - [`sim`]: random legal play for tests and benchmarks.

#![warn(missing_docs)]

pub mod card;
pub mod command;
pub mod deck;
pub mod eval;
pub mod event;
pub mod phh;
pub mod rules;
pub mod sim;
pub mod view;

pub use card::Card;
pub use command::{Action, Command};
pub use deck::{DealKey, Deck};
pub use eval::{Category, HandRank, evaluate};
pub use event::{Event, Visibility};
pub use rules::{
    AmountRange, LegalActions, ReplayError, RuleError, SeatIndex, Street, Table, TableConfig, TableSnapshot,
};
pub use view::{SeatView, TableView, Viewer};
