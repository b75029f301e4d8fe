//! Errors at the edge. Domain code fails with the store's [`StoreError`],
//! the engine's [`RuleError`] or a [`Failure`] (a wire code and a message);
//! the `From` impls here turn the first two into what a client is told, and
//! [`ApiError`] turns a [`Failure`] into an HTTP response with the status
//! its code implies. No error kind is recognised by its text.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use game_core::RuleError;
use schema::{RowKind, StoreError};
use tracing::error;

use crate::protocol::{ErrorCode, Failure};

/// An error answered as `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError(pub Failure);

impl ApiError {
    /// Overrides the status (e.g. 404 for an unknown route).
    pub fn with_status(self, status: StatusCode) -> Response {
        (
            status,
            Json(json!({"error": {"code": self.0.code, "message": self.0.message}})),
        )
            .into_response()
    }
}

/// What a client is told of a store error: a missing row is named by its
/// kind, anything else is logged and answered `unavailable` (retry).
impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        store_failure(&e)
    }
}

/// [`Failure::from`] for a borrowed error.
pub fn store_failure(e: &StoreError) -> Failure {
    match e {
        StoreError::NotFound { kind, id } => Failure::new(
            match kind {
                RowKind::Player => ErrorCode::PlayerNotFound,
                RowKind::Experiment => ErrorCode::ExperimentNotFound,
                RowKind::Hand => ErrorCode::HandNotFound,
                RowKind::Table => ErrorCode::TableNotFound,
            },
            format!("{kind} {id} not found"),
        ),
        StoreError::Fenced { .. } => Failure::new(
            ErrorCode::Unavailable,
            "the table moved to another node; join again",
        ),
        StoreError::InsufficientBalance { balance, needed, .. } => Failure::new(
            ErrorCode::InsufficientBalance,
            format!("your balance is {balance}, the buy-in is {needed}"),
        ),
        other => {
            error!("store error: {other}");
            Failure::new(
                ErrorCode::Unavailable,
                "the store is unavailable; try again shortly",
            )
        }
    }
}

/// What a player is told when the engine refuses a command: turn and seat
/// errors by their own codes, every betting rule as `illegal_action` with
/// the engine's words.
impl From<RuleError> for Failure {
    fn from(e: RuleError) -> Failure {
        let code = match e {
            RuleError::NotYourTurn { .. } => {
                return Failure::new(ErrorCode::NotYourTurn, "it is not your turn");
            }
            RuleError::NoHandInProgress => {
                return Failure::new(ErrorCode::NotYourTurn, "no hand is being played");
            }
            RuleError::SeatTaken { .. } => ErrorCode::SeatTaken,
            RuleError::SeatEmpty { .. } => ErrorCode::NotSeated,
            RuleError::NoSuchSeat { .. }
            | RuleError::InvalidConfig(_)
            | RuleError::ZeroAmount
            | RuleError::TooManyChips { .. }
            | RuleError::AlreadySittingOut { .. }
            | RuleError::NotSittingOut { .. }
            | RuleError::SeatInHand { .. }
            | RuleError::HandInProgress
            | RuleError::NotEnoughPlayers
            | RuleError::InvalidDeck => ErrorCode::InvalidRequest,
            _ => ErrorCode::IllegalAction,
        };
        Failure::new(code, e.to_string())
    }
}

/// An agent spec that does not parse is an `unknown_agent`.
impl From<ai_players::SpecError> for Failure {
    fn from(e: ai_players::SpecError) -> Failure {
        Failure::new(ErrorCode::UnknownAgent, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError(e.into())
    }
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> ApiError {
        ApiError(f)
    }
}

/// The HTTP status for an error code.
pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::MalformedJson
        | ErrorCode::MissingType
        | ErrorCode::UnknownType
        | ErrorCode::InvalidMessage
        | ErrorCode::InvalidRequest
        | ErrorCode::InvalidBuyIn
        | ErrorCode::IllegalAction
        | ErrorCode::UnknownAgent => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::TableNotFound
        | ErrorCode::PlayerNotFound
        | ErrorCode::HandNotFound
        | ErrorCode::ExperimentNotFound => StatusCode::NOT_FOUND,
        ErrorCode::SeatTaken
        | ErrorCode::AlreadySeated
        | ErrorCode::NotSeated
        | ErrorCode::NotYourTurn
        | ErrorCode::NotJoined
        | ErrorCode::InsufficientBalance
        | ErrorCode::ExperimentState => StatusCode::CONFLICT,
        ErrorCode::FrameTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TableElsewhere => StatusCode::MISDIRECTED_REQUEST,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::SpectatorsFull
        | ErrorCode::TooManyTables
        | ErrorCode::TooManyConnections
        | ErrorCode::Unavailable
        | ErrorCode::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.0.code;
        let mut response = self.with_status(status(code));
        if matches!(
            code,
            ErrorCode::RateLimited
                | ErrorCode::TooManyConnections
                | ErrorCode::TooManyTables
                | ErrorCode::Unavailable
        ) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}
