//! Client transports. Both speak the same JSON protocol ([`protocol`]) and
//! share one session layer ([`session`]); [`ws`] and [`socketio`] only move
//! frames between a socket and a [`session::Session`].

/// The wire protocol (kept under its former path too).
pub use crate::protocol;
mod forward;
pub mod session;
pub mod socketio;
pub mod ws;
