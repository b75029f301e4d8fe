//! Players: register a display name and get a token; read your account.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use schema::{PlayerRecord, Repository, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, authenticate, parse_body};
use crate::app::App;
use crate::auth::{hash_token, new_id, new_token};
use crate::protocol::{ErrorCode, Failure};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Register {
    name: String,
}

/// Longest display name, in characters.
const MAX_NAME: usize = 32;

/// `POST /api/players {"name"}` → 201 `{id, name, token, balance}`. The token is shown only here.
pub async fn register(State(app): State<App>, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request: Register = parse_body(&body)?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError(Failure::new(
            ErrorCode::InvalidRequest,
            format!("a name is 1 to {MAX_NAME} printable characters"),
        )));
    }
    for _ in 0..3 {
        let token = new_token();
        let player = PlayerRecord {
            id: new_id("p_"),
            display_name: name.to_owned(),
            token_hash: hash_token(&token),
            created_at_ms: schema::now_ms(),
            balance: app.config.starting_balance,
        };
        match app.repo.create_player(&player).await {
            Ok(()) => {
                let body = json!({
                    "id": player.id, "name": player.display_name, "token": token, "balance": player.balance,
                });
                return Ok((StatusCode::CREATED, Json(body)));
            }
            // A random id collided: draw again.
            Err(StoreError::Duplicate { .. }) => continue,
            Err(e) => return Err(ApiError::from(e)),
        }
    }
    Err(ApiError(Failure::new(
        ErrorCode::Internal,
        "could not allocate a player id",
    )))
}

/// `GET /api/me` (bearer) → `{id, name, balance, seats}`.
pub async fn me(State(app): State<App>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let player = authenticate(&app, &headers).await?;
    let seats: Vec<Value> = app
        .tables
        .all()
        .into_iter()
        .filter_map(|t| t.seat_of(&player.id).map(|s| json!({"table": &*t.id, "seat": s})))
        .collect();
    Ok(Json(json!({
        "id": player.id, "name": player.display_name, "balance": player.balance, "seats": seats,
    })))
}
