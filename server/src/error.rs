//! Errors at the edge. Domain code fails in its own terms: the table layer
//! with [`TableError`] and [`AgentError`], experiments with
//! [`ExperimentError`], the store with [`StoreError`], the engine with
//! [`RuleError`]. The `From` impls here are the one place these become what
//! a client is told (a [`Failure`]: a wire code and a message), and
//! [`ApiError`] turns a [`Failure`] into an HTTP response with the status
//! its code implies. Every match is on variants, exhaustive where the enum
//! is ours, so a new variant must be given its code here; no error kind is
//! recognised by its text.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use game_core::RuleError;
use schema::{RowKind, StoreError};
use tracing::error;

use crate::experiment::ExperimentError;
use crate::protocol::{ErrorCode, Failure};
use crate::table::{AgentError, TableError};

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

/// An agent spec that gives no agent is an `unknown_agent` (a missing
/// fallback bot, a bug, is `internal`).
impl From<AgentError> for Failure {
    fn from(e: AgentError) -> Failure {
        let code = match e {
            AgentError::Spec(_)
            | AgentError::NotAnAgent { .. }
            | AgentError::UnknownBot { .. }
            | AgentError::NoLlmConfig
            | AgentError::UnknownModel { .. } => ErrorCode::UnknownAgent,
            AgentError::FallbackMissing => ErrorCode::Internal,
        };
        Failure::new(code, e.to_string())
    }
}

/// What a client is told when a table says no: the store's and the
/// engine's errors by their own conversions (an action the engine refuses
/// keeps its turn and rule codes; a refused seat change is an
/// `invalid_request`), everything else by its variant.
impl From<TableError> for Failure {
    fn from(e: TableError) -> Failure {
        let code = match e {
            TableError::Store(e) => return e.into(),
            TableError::ActionRefused(e) => return e.into(),
            TableError::Agent(e) => return e.into(),
            TableError::Remote { code, message } => return Failure::new(code, message),
            TableError::InvalidBuyIn { .. } => ErrorCode::InvalidBuyIn,
            TableError::NoAnswer => ErrorCode::Unavailable,
            TableError::NotFound | TableError::Closed { .. } => ErrorCode::TableNotFound,
            TableError::ShuttingDown => ErrorCode::ShuttingDown,
            TableError::Elsewhere { .. } => ErrorCode::TableElsewhere,
            TableError::Rejoining => ErrorCode::Unavailable,
            TableError::TooManyTables { .. } => ErrorCode::TooManyTables,
            TableError::SpectatorsFull { .. } => ErrorCode::SpectatorsFull,
            TableError::InvalidSettings(_) | TableError::NoSuchSeat { .. } | TableError::SeatRefused(_) => {
                ErrorCode::InvalidRequest
            }
            TableError::AlreadySeated => ErrorCode::AlreadySeated,
            TableError::StaleTurn { .. } => ErrorCode::StaleTurn,
            TableError::SeatTaken { .. } => ErrorCode::SeatTaken,
            TableError::NotSeated => ErrorCode::NotSeated,
            TableError::SeatNotStored
            | TableError::SeatNotSettled
            | TableError::ActionLost
            | TableError::Busy
            | TableError::Restarting
            | TableError::Moved
            | TableError::Crashed
            | TableError::Stopped => ErrorCode::Unavailable,
            TableError::SettingsUnreadable
            | TableError::EncodeSettings(_)
            | TableError::UnplayableConfig(_)
            | TableError::LogGap { .. }
            | TableError::LogDoesNotReplay(_) => ErrorCode::Internal,
        };
        Failure::new(code, e.to_string())
    }
}

/// What a client (or the CLI) is told when an experiment cannot go on: the
/// store's and the agents' errors by their own conversions, everything
/// else by its variant.
impl From<ExperimentError> for Failure {
    fn from(e: ExperimentError) -> Failure {
        let code = match e {
            ExperimentError::Store(e) => return e.into(),
            ExperimentError::Agent(e) => return e.into(),
            ExperimentError::UnknownBot { .. } | ExperimentError::NoLlmConfig => ErrorCode::UnknownAgent,
            ExperimentError::InvalidSpec(_)
            | ExperimentError::LlmConfig(_)
            | ExperimentError::LlmExecutor(_)
            | ExperimentError::FolderHoldsRun { .. }
            | ExperimentError::NotResultsFolder { .. }
            | ExperimentError::CheckpointFile(_) => ErrorCode::InvalidRequest,
            ExperimentError::ShuttingDown => ErrorCode::ShuttingDown,
            ExperimentError::WrongState { .. } => ErrorCode::ExperimentState,
            ExperimentError::SaveTimedOut { .. } => ErrorCode::Unavailable,
            ExperimentError::SaveRefused(_)
            | ExperimentError::StoredSpecInvalid(_)
            | ExperimentError::StoredCheckpointUnreadable(_)
            | ExperimentError::Encode(_)
            | ExperimentError::EncodeCheckpoint(_)
            | ExperimentError::Io { .. }
            | ExperimentError::Phh { .. }
            | ExperimentError::Engine(_)
            | ExperimentError::Stats { .. }
            | ExperimentError::Inconsistent(_) => ErrorCode::Internal,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError(e.into())
    }
}

impl From<TableError> for ApiError {
    fn from(e: TableError) -> ApiError {
        ApiError(e.into())
    }
}

impl From<ExperimentError> for ApiError {
    fn from(e: ExperimentError) -> ApiError {
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
        | ErrorCode::StaleTurn
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The code and message a client is told.
    fn wire(e: impl Into<Failure>) -> (ErrorCode, String) {
        let f = e.into();
        (f.code, f.message)
    }

    #[test]
    fn table_errors_keep_their_codes_and_words() {
        assert_eq!(
            wire(TableError::NotFound),
            (ErrorCode::TableNotFound, "no such table".into())
        );
        assert_eq!(
            wire(TableError::Closed { id: "t_1".into() }),
            (ErrorCode::TableNotFound, "table t_1 is closed".into())
        );
        assert_eq!(
            wire(TableError::SeatTaken { seat: 2 }),
            (ErrorCode::SeatTaken, "seat 2 is taken".into())
        );
        assert_eq!(
            wire(TableError::NoSuchSeat { seat: 9, last: 5 }),
            (
                ErrorCode::InvalidRequest,
                "seat 9 does not exist (seats 0 to 5)".into()
            )
        );
        assert_eq!(
            wire(TableError::TooManyTables { max: 3 }).0,
            ErrorCode::TooManyTables
        );
        assert_eq!(wire(TableError::LogGap { at: 7 }).0, ErrorCode::Internal);
        // The engine refusing an action keeps its own codes; refusing a
        // seat change is an invalid request in the engine's words.
        assert_eq!(
            wire(TableError::ActionRefused(RuleError::NoHandInProgress)),
            (ErrorCode::NotYourTurn, "no hand is being played".into())
        );
        assert_eq!(
            wire(TableError::SeatRefused(RuleError::NoHandInProgress)),
            (ErrorCode::InvalidRequest, RuleError::NoHandInProgress.to_string())
        );
        // A missing row is named by its kind, whoever met it.
        let missing = StoreError::NotFound {
            kind: RowKind::Table,
            id: "t_1".into(),
        };
        assert_eq!(
            wire(TableError::Store(missing)),
            (ErrorCode::TableNotFound, "table t_1 not found".into())
        );
        assert_eq!(
            wire(TableError::Agent(AgentError::UnknownBot { name: "x".into() })).0,
            ErrorCode::UnknownAgent
        );
        assert_eq!(wire(AgentError::FallbackMissing).0, ErrorCode::Internal);
    }

    #[test]
    fn experiment_errors_keep_their_codes_and_words() {
        assert_eq!(
            wire(ExperimentError::WrongState {
                action: "resume",
                id: "x1".into(),
                status: "done",
            }),
            (
                ErrorCode::ExperimentState,
                "cannot resume experiment x1 while it is done".into()
            )
        );
        assert_eq!(
            wire(ExperimentError::UnknownBot { name: "x".into() }),
            (ErrorCode::UnknownAgent, "unknown bot \"x\"".into())
        );
        assert_eq!(
            wire(ExperimentError::InvalidSpec("hands must be 1 to 9".into())),
            (ErrorCode::InvalidRequest, "hands must be 1 to 9".into())
        );
        let missing = StoreError::NotFound {
            kind: RowKind::Experiment,
            id: "x1".into(),
        };
        assert_eq!(
            wire(ExperimentError::Store(missing)),
            (ErrorCode::ExperimentNotFound, "experiment x1 not found".into())
        );
        assert_eq!(
            wire(ExperimentError::Inconsistent("a hand gave no row".into())),
            (ErrorCode::Internal, "a hand gave no row".into())
        );
    }

    #[test]
    fn domain_errors_answer_with_their_codes_status() {
        let busy = ApiError::from(TableError::Busy).into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(busy.headers().contains_key(axum::http::header::RETRY_AFTER));
        let state = ApiError::from(ExperimentError::ShuttingDown).into_response();
        assert_eq!(state.status(), StatusCode::SERVICE_UNAVAILABLE);
        let seat = ApiError::from(TableError::NotSeated).into_response();
        assert_eq!(seat.status(), StatusCode::CONFLICT);
    }
}
