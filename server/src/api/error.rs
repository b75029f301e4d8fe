//! [`ApiError`]: a [`Failure`] as an HTTP response, with the status its code implies.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::transport::protocol::{ErrorCode, Failure};

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
