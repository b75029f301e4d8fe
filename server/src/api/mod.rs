//! The HTTP surface: REST API (players, tables, hand histories, chat, AI
//! agents), `/ws`, Socket.IO, `/metrics`, `/healthz`, `/readyz` and the web
//! client (`web`).
//! Errors are JSON `{"error": {"code", "message"}}` with the right status,
//! mapped in one place ([`ApiError`]).

mod agents;
mod experiments;
mod players;
mod tables;
mod usage;
mod web;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parking_lot::Mutex;
use schema::Repository;
use serde::de::DeserializeOwned;

pub use crate::error::ApiError;

use crate::app::App;
use crate::auth::{hash_token, plausible_token};
use crate::limits::{Limits, RateLimiter, RateVerdict};
use crate::protocol::{ErrorCode, Failure};

/// Largest REST request body.
const MAX_BODY: usize = 64 * 1024;

/// The whole router.
pub fn router(app: App) -> Router {
    let limiter = std::sync::Arc::new(IpLimiter::default());
    let api = Router::new()
        .route("/api/players", post(players::register))
        .route("/api/me", get(players::me))
        .route("/api/tables", get(tables::list).post(tables::create))
        .route("/api/tables/{id}", get(tables::get_one))
        .route("/api/tables/{id}/sit", post(tables::sit))
        .route("/api/tables/{id}/stand", post(tables::stand))
        .route("/api/tables/{id}/hands", get(tables::hands))
        .route("/api/tables/{id}/hands/{hand}", get(tables::hand))
        .route("/api/tables/{id}/hands/{hand}/phh", get(tables::hand_phh))
        .route("/api/tables/{id}/chat", get(tables::chat))
        .route(
            "/api/experiments",
            get(experiments::list).post(experiments::create),
        )
        .route("/api/experiments/{id}", get(experiments::get_one))
        .route("/api/experiments/{id}/curve", get(experiments::curve))
        .route("/api/experiments/{id}/hands", get(experiments::hands))
        .route("/api/experiments/{id}/decisions", get(experiments::decisions))
        .route("/api/experiments/{id}/pause", post(experiments::pause))
        .route("/api/experiments/{id}/resume", post(experiments::resume))
        .route("/api/experiments/{id}/cancel", post(experiments::cancel))
        .route("/api/agents", get(agents::list))
        .route("/api/usage", get(usage::usage))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state((limiter, app.clone()), rate_limit));
    Router::new()
        .merge(web::routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/ws", get(crate::transport::ws::handler))
        .merge(api)
        .layer(middleware::from_fn(json_errors))
        .layer(crate::transport::socketio::layer(app.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

async fn not_found() -> Response {
    ApiError(Failure::new(ErrorCode::InvalidRequest, "no such endpoint")).with_status(StatusCode::NOT_FOUND)
}

/// Longest plain-text error body carried over into a JSON error's message.
const MAX_REJECTION_TEXT: usize = 1024;

/// Gives axum's own rejections (a wrong method, an unreadable query string,
/// a body over the limit, a failed `/ws` upgrade), which answer in plain
/// text, the JSON error shape every other error has. Socket.IO's layer sits
/// outside this one and keeps its own error format.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::FrameTooLarge,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::InvalidRequest,
    };
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_REJECTION_TEXT)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let message = text.unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
    let mut json = ApiError(Failure::new(code, message)).with_status(status);
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        json.headers_mut().insert(header::ALLOW, allow.clone());
    }
    json
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the store answers and the server is not shutting down.
async fn readyz(State(app): State<App>) -> Response {
    if app.is_shutting_down() {
        return ApiError(Failure::new(ErrorCode::ShuttingDown, "shutting down")).into_response();
    }
    match app.repo.last_seq("readyz-probe").await {
        Ok(_) => "ready".into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn metrics(State(app): State<App>) -> Response {
    let mut text = app.metrics.render(app.writer.stats(), app.repo.backend());
    text.push_str(&app.metrics.render_llm(app.agents.executor()));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Parses a JSON object body with a JSON error on failure: text that is
/// not JSON is `malformed_json`; valid JSON of the wrong shape (an array,
/// a missing or unknown field, a number out of range for its field, however
/// large) is `invalid_request`.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let invalid = |message: String| ApiError(Failure::new(ErrorCode::InvalidRequest, message));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        if crate::protocol::is_number_out_of_range(&e) {
            invalid(format!("request body: {e}"))
        } else {
            ApiError(Failure::new(
                ErrorCode::MalformedJson,
                format!("request body: {e}"),
            ))
        }
    })?;
    // serde would also read a struct from a JSON array of its fields in
    // order; every body here is an object with named fields.
    if !value.is_object() {
        return Err(invalid("request body: expected a JSON object".to_owned()));
    }
    T::deserialize(value).map_err(|e| invalid(format!("request body: {e}")))
}

/// The player a request's bearer token names.
pub(crate) async fn authenticate(app: &App, headers: &HeaderMap) -> Result<schema::PlayerRecord, ApiError> {
    let token = crate::auth::bearer(headers).ok_or_else(|| {
        ApiError(Failure::new(
            ErrorCode::Unauthorized,
            "missing `Authorization: Bearer TOKEN`",
        ))
    })?;
    if !plausible_token(token) {
        return Err(ApiError(Failure::new(ErrorCode::Unauthorized, "malformed token")));
    }
    app.repo
        .player_by_token_hash(&hash_token(token))
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError(Failure::new(ErrorCode::Unauthorized, "unknown token")))
}

/// Per-client-address rate limit on state-changing REST calls.
#[derive(Default)]
struct IpLimiter {
    buckets: Mutex<HashMap<IpAddr, RateLimiter>>,
}

/// Most addresses tracked; beyond, the map starts over (a flood of
/// addresses cannot grow memory).
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Requests with the admin key skip it: the operator's own tools (the load
/// generator creating a thousand tables, scripts) would otherwise be limited
/// like an anonymous client.
async fn rate_limit(
    State((limiter, app)): State<(std::sync::Arc<IpLimiter>, App)>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::GET && !app.is_admin(request.headers()) {
        let ip = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if let Some(ip) = ip {
            let verdict = {
                let mut buckets = limiter.buckets.lock();
                if buckets.len() >= MAX_TRACKED_ADDRESSES && !buckets.contains_key(&ip) {
                    buckets.clear();
                }
                let limits = Limits {
                    messages_per_sec: 10,
                    message_burst: 30,
                    flood_strikes: u32::MAX,
                    ..Limits::default()
                };
                buckets
                    .entry(ip)
                    .or_insert_with(|| RateLimiter::new(&limits))
                    .check()
            };
            if verdict != RateVerdict::Allow {
                return ApiError(Failure::new(
                    ErrorCode::RateLimited,
                    "too many requests; slow down",
                ))
                .into_response();
            }
        }
    }
    next.run(request).await
}
