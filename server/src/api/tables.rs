//! Tables: create (with AI seats), lobby list, one table, sit and stand,
//! hand histories (JSON and PHH) and chat history.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use game_core::TableConfig;
use schema::Repository;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, authenticate, parse_body};
use crate::app::App;
use crate::protocol::{ErrorCode, Failure};
use crate::table::{AiSeat, Pace, TableCommand, TableSettings};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AiSeatRequest {
    #[serde(default)]
    seat: Option<usize>,
    agent: String,
    #[serde(default)]
    stack: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTable {
    #[serde(default)]
    name: Option<String>,
    seats: usize,
    small_blind: u64,
    big_blind: u64,
    #[serde(default)]
    ante: u64,
    #[serde(default)]
    min_buy_in: Option<u64>,
    #[serde(default)]
    max_buy_in: Option<u64>,
    #[serde(default)]
    turn_clock_ms: Option<u64>,
    #[serde(default)]
    time_bank_ms: Option<u64>,
    #[serde(default)]
    pace: Option<Pace>,
    #[serde(default)]
    actions_per_sec: Option<f64>,
    #[serde(default)]
    ai_seats: Vec<AiSeatRequest>,
}

/// `POST /api/tables` (a player's bearer token or the admin key) → 201 with the lobby line.
pub async fn create(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !app.is_admin(&headers) {
        authenticate(&app, &headers).await?;
    }
    let request: CreateTable = parse_body(&body)?;
    let config = TableConfig {
        seats: request.seats,
        small_blind: request.small_blind,
        big_blind: request.big_blind,
        ante: request.ante,
    };
    config
        .validate()
        .map_err(|e| ApiError(Failure::new(ErrorCode::InvalidRequest, e.to_string())))?;
    let mut settings = TableSettings::for_big_blind(config.big_blind);
    if let Some(v) = request.min_buy_in {
        settings.min_buy_in = v;
    }
    if let Some(v) = request.max_buy_in {
        settings.max_buy_in = v;
    }
    if settings.min_buy_in > settings.max_buy_in {
        // One bound given alone moves the other with it.
        if request.max_buy_in.is_none() {
            settings.max_buy_in = settings.min_buy_in;
        } else if request.min_buy_in.is_none() {
            settings.min_buy_in = settings.max_buy_in;
        }
    }
    if let Some(v) = request.turn_clock_ms {
        settings.turn_clock_ms = v;
    }
    if let Some(v) = request.time_bank_ms {
        settings.time_bank_ms = v;
    }
    settings.pace = request.pace.unwrap_or_default();
    settings.actions_per_sec = request.actions_per_sec;
    let mut taken = vec![false; config.seats];
    for ai in request.ai_seats.iter().filter_map(|a| a.seat) {
        if let Some(slot) = taken.get_mut(ai) {
            *slot = true;
        }
    }
    for ai in request.ai_seats {
        let seat = match ai.seat {
            Some(seat) => seat,
            // Unplaced AI seats fill from seat 1 up, leaving seat 0 for the creator.
            None => (1..config.seats)
                .chain(0..1)
                .find(|s| !taken[*s])
                .ok_or_else(|| {
                    ApiError(Failure::new(
                        ErrorCode::InvalidRequest,
                        "more AI seats than seats",
                    ))
                })?,
        };
        if let Some(slot) = taken.get_mut(seat) {
            *slot = true;
        }
        settings.ai_seats.push(AiSeat {
            seat,
            agent: ai.agent,
            stack: ai.stack.unwrap_or(settings.max_buy_in),
        });
    }
    let name = request
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("NLHE {}/{}", config.small_blind, config.big_blind));
    if name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError(Failure::new(
            ErrorCode::InvalidRequest,
            "a table name is 1 to 64 printable characters",
        )));
    }
    let handle = app.tables.create(name, config, settings).await?;
    Ok((StatusCode::CREATED, Json(json!(handle.summary()))))
}

/// Tables in one lobby page unless `limit` says otherwise.
const LOBBY_PAGE: u64 = 100;
/// The largest `limit` a lobby page may ask for.
const MAX_LOBBY_PAGE: u64 = 500;
/// The longest table id (a cursor longer than this cannot be one).
const MAX_TABLE_ID: usize = 64;

/// `GET /api/tables?after=ID&limit=N`. Both are read as text so that a bad
/// value gets this endpoint's own message rather than the query parser's.
#[derive(Deserialize)]
pub struct LobbyQuery {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// The checked `after` and `limit` of a lobby request.
fn lobby_page(query: &LobbyQuery) -> Result<(Option<&str>, u64), ApiError> {
    let invalid = |message: String| ApiError(Failure::new(ErrorCode::InvalidRequest, message));
    let limit = match query.limit.as_deref() {
        None => LOBBY_PAGE,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_LOBBY_PAGE).contains(n))
            .ok_or_else(|| invalid(format!("`limit` must be an integer from 1 to {MAX_LOBBY_PAGE}")))?,
    };
    let after = match query.after.as_deref() {
        None => None,
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_TABLE_ID
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Some(id)
        }
        Some(_) => {
            return Err(invalid(format!(
                "`after` must be a table id (the `next` of the previous page): \
                 1 to {MAX_TABLE_ID} letters, digits, `_` or `-`"
            )));
        }
    };
    Ok((after, limit))
}

/// `GET /api/tables?after=ID&limit=N` → one page of the lobby: tables that
/// are not closed, in id order, live or stored (a stored one is not loaded),
/// and `next`, the `after` of the following page (`null` on the last one).
pub async fn list(State(app): State<App>, Query(query): Query<LobbyQuery>) -> Result<Json<Value>, ApiError> {
    let (after, limit) = lobby_page(&query)?;
    // One more than asked for tells whether another page follows.
    let mut records = app
        .repo
        .list_tables_page(after, limit + 1, false)
        .await
        .map_err(ApiError::from)?;
    let more = records.len() as u64 > limit;
    records.truncate(limit as usize);
    let next = if more {
        records.last().map(|r| r.id.clone())
    } else {
        None
    };
    let tables: Vec<Value> = records
        .into_iter()
        .map(|record| match app.tables.get(&record.id) {
            Some(live) => json!(live.summary()),
            None => stored_line(&record),
        })
        .collect();
    Ok(Json(json!({ "tables": tables, "next": next })))
}

/// The lobby line of a table that is not in memory.
fn stored_line(record: &schema::TableRecord) -> Value {
    let settings: Option<TableSettings> = serde_json::from_str(&record.settings).ok();
    json!({
        "id": record.id,
        "name": record.name,
        "seats": record.config.seats,
        "small_blind": record.config.small_blind,
        "big_blind": record.config.big_blind,
        "ante": record.config.ante,
        "pace": settings.as_ref().map(|s| s.pace),
        "min_buy_in": settings.as_ref().map(|s| s.min_buy_in),
        "max_buy_in": settings.as_ref().map(|s| s.max_buy_in),
        "spectators": 0,
        "live": false,
    })
}

/// `GET /api/tables/{id}` → the lobby line and a spectator snapshot (loads the table).
pub async fn get_one(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let handle = app.tables.open(&id).await?;
    let snapshot = handle.snapshot(None);
    let summary = serde_json::to_string(&handle.summary()).unwrap_or_else(|_| "{}".to_owned());
    let body = format!(r#"{{"table":{summary},"snapshot":{snapshot}}}"#);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SitRequest {
    seat: usize,
    buy_in: u64,
}

/// `POST /api/tables/{id}/sit {"seat", "buy_in"}` (bearer) → `{seat, stack}`.
pub async fn sit(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let player = authenticate(&app, &headers).await?;
    let request: SitRequest = parse_body(&body)?;
    let handle = app.tables.open(&id).await?;
    let stack = crate::table::seat::sit(
        &app.repo,
        &handle,
        &player.id,
        player.display_name,
        request.seat,
        request.buy_in,
    )
    .await?;
    Ok(Json(json!({"table": id, "seat": request.seat, "stack": stack})))
}

/// `POST /api/tables/{id}/stand` (bearer) → `{cashed_out, after_hand}`.
pub async fn stand(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let player = authenticate(&app, &headers).await?;
    let handle = app.tables.open(&id).await?;
    let result = handle
        .request(|reply| TableCommand::Stand {
            player_id: player.id.clone(),
            reply,
        })
        .await?;
    Ok(Json(
        json!({"table": id, "cashed_out": result.cashed_out, "after_hand": result.after_hand}),
    ))
}

#[derive(Deserialize)]
pub struct Page {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: Option<u64>,
}

async fn known_table(app: &App, id: &str) -> Result<(), ApiError> {
    app.repo.load_table(id).await.map_err(ApiError::from)?;
    Ok(())
}

fn hand_json(record: &schema::HandRecord, full: bool) -> Value {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    json!({
        "hand": record.hand,
        "stacks": parse(&record.players),
        "pots": parse(&record.pots),
        "winners": parse(&record.winners),
        "first_seq": record.first_seq,
        "last_seq": record.last_seq,
        "ended_at_ms": record.ended_at_ms,
        "reasons": parse(&record.reasons),
        "phh": if full { record.phh.clone() } else { mask_phh(&record.phh) },
    })
}

/// `GET /api/tables/{id}/hands?after=N&limit=M` → finished hands, oldest first.
/// Cards never shown at the table are masked unless the admin key is given.
pub async fn hands(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    known_table(&app, &id).await?;
    let limit = page.limit.unwrap_or(50).clamp(1, 500);
    let full = app.is_admin(&headers);
    let records = app
        .repo
        .list_hands(&id, page.after, limit)
        .await
        .map_err(ApiError::from)?;
    let hands: Vec<Value> = records.iter().map(|r| hand_json(r, full)).collect();
    Ok(Json(json!({"table": id, "hands": hands})))
}

async fn load_hand(app: &App, id: &str, hand: &str) -> Result<schema::HandRecord, ApiError> {
    let number: u64 = hand.parse().map_err(|_| {
        ApiError(Failure::new(
            ErrorCode::InvalidRequest,
            "a hand number is a positive integer",
        ))
    })?;
    app.repo.load_hand(id, number).await.map_err(|e| {
        ApiError(match e {
            schema::StoreError::NotFound { .. } => Failure::new(
                ErrorCode::HandNotFound,
                format!("hand {number} of table {id} not found"),
            ),
            other => Failure::from(other),
        })
    })
}

/// `GET /api/tables/{id}/hands/{hand}` → one hand as JSON.
pub async fn hand(
    State(app): State<App>,
    Path((id, hand)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let record = load_hand(&app, &id, &hand).await?;
    Ok(Json(hand_json(&record, app.is_admin(&headers))))
}

/// `GET /api/tables/{id}/hands/{hand}/phh` → one hand as PHH text.
pub async fn hand_phh(
    State(app): State<App>,
    Path((id, hand)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = load_hand(&app, &id, &hand).await?;
    let text = if app.is_admin(&headers) {
        record.phh
    } else {
        mask_phh(&record.phh)
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Deserialize)]
pub struct ChatQuery {
    #[serde(default)]
    limit: Option<u64>,
}

/// `GET /api/tables/{id}/chat?limit=N` → the last chat lines, oldest first.
pub async fn chat(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(query): Query<ChatQuery>,
) -> Result<Json<Value>, ApiError> {
    known_table(&app, &id).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let lines = app.repo.recent_chat(&id, limit).await.map_err(ApiError::from)?;
    let lines: Vec<Value> = lines
        .into_iter()
        .map(|m| json!({"id": m.id, "from": m.author, "player_id": m.player_id, "text": m.body, "at_ms": m.at_ms}))
        .collect();
    Ok(Json(json!({"table": id, "chat": lines})))
}

/// Replaces hole cards that were never shown (`d dh pN CARDS` without a
/// matching `pN sm CARDS`) with `????`, as PHH writes unknown cards.
pub fn mask_phh(phh: &str) -> String {
    let mut out = String::with_capacity(phh.len());
    let mut rest = phh;
    while let Some(at) = rest.find("d dh p") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + "d dh p".len()..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        let player = &tail[..digits];
        let after_player = &tail[digits..];
        let cards_len = after_player
            .strip_prefix(' ')
            .map_or(0, |c| c.bytes().take_while(u8::is_ascii_alphanumeric).count());
        if digits == 0 || cards_len == 0 {
            out.push_str("d dh p");
            rest = tail;
            continue;
        }
        let cards = &after_player[1..1 + cards_len];
        let shown = phh.contains(&format!("p{player} sm {cards}"));
        out.push_str("d dh p");
        out.push_str(player);
        out.push(' ');
        out.push_str(if shown { cards } else { "????" });
        rest = &after_player[1 + cards_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::mask_phh;

    #[test]
    fn masks_unshown_hole_cards() {
        let phh = "actions = [\n  'd dh p1 AsKd',\n  'd dh p2 7c2h',\n  'p1 sm AsKd',\n]\n";
        let masked = mask_phh(phh);
        assert!(masked.contains("'d dh p1 AsKd'"), "{masked}");
        assert!(masked.contains("'d dh p2 ????'"), "{masked}");
        assert!(!masked.contains("7c2h"));
    }
}
