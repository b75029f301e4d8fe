//! The wire protocol both transports speak: JSON objects with a `type`.
//! [`client`] holds what clients send ([`ClientMessage`], decoded strictly),
//! [`server`] what the server sends ([`ServerMessage`]: every frame is built
//! from it), [`codes`] the error codes, the wire error and the WebSocket
//! close codes. `docs/protocol.md` documents each message and code.
//!
//! This module is a leaf: it knows the engine's types (events, views) and
//! nothing of tables, sessions or experiments, which all build on it.

pub mod client;
pub mod codes;
pub mod server;

pub use client::{ActionKind, CLIENT_TYPES, ClientMessage, ClientType, Role, decode, is_number_out_of_range};
pub use codes::{ErrorCode, Failure, close, variant_names};
pub use server::{AckDetail, ChatLine, ClockInfo, HandReason, HelloLimits, SeatInfo, ServerMessage};
