//! `/api/experiments`: start, follow, pause, resume and cancel experiments,
//! and read their results, hands and decisions. Reading is open; changing
//! needs the admin key.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use schema::{RecordQuery, Repository};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, parse_body};
use crate::app::App;
use crate::experiment::spec::ExperimentSpec;
use crate::protocol::{ErrorCode, Failure};

/// Most rows one page of hands or decisions holds.
const MAX_PAGE: u64 = 1_000;

fn admin(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    if app.config.api_key.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError(Failure::new(
            ErrorCode::Forbidden,
            "experiments are started with the admin key: run the server with --api-key KEY",
        )));
    }
    if !app.is_admin(headers) {
        return Err(ApiError(Failure::new(
            ErrorCode::Unauthorized,
            "this needs the admin key (Authorization: Bearer KEY or x-api-key)",
        )));
    }
    Ok(())
}

/// `POST /api/experiments` (admin), body: the spec as a JSON object → 201 with the list line.
pub async fn create(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    admin(&app, &headers)?;
    // Object check and duplicate-key refusal, then the spec's own validation.
    let _: serde_json::Map<String, Value> = parse_body(&body)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError(Failure::new(ErrorCode::MalformedJson, "request body: not UTF-8")))?;
    let spec = ExperimentSpec::parse(text)?;
    let info = app.experiments.create(spec).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `GET /api/experiments` → every experiment's list line, oldest first.
pub async fn list(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let list = app.experiments.list().await?;
    Ok(Json(json!({ "experiments": list })))
}

/// `GET /api/experiments/{id}` → the list line with the spec and results.
pub async fn get_one(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.experiments.details(&id).await?))
}

/// `GET /api/experiments/{id}/curve` → cumulative winnings per agent over hands.
pub async fn curve(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.experiments.curve(&id).await?))
}

/// `POST /api/experiments/{id}/pause` (admin).
pub async fn pause(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    admin(&app, &headers)?;
    Ok(Json(app.experiments.pause(&id).await?))
}

/// `POST /api/experiments/{id}/resume` (admin).
pub async fn resume(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    admin(&app, &headers)?;
    Ok(Json(app.experiments.resume(&id).await?))
}

/// `POST /api/experiments/{id}/cancel` (admin).
pub async fn cancel(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    admin(&app, &headers)?;
    Ok(Json(app.experiments.cancel(&id).await?))
}

/// A page of rows.
#[derive(Deserialize)]
pub struct HandsPage {
    #[serde(default)]
    from: u64,
    #[serde(default)]
    limit: Option<u64>,
}

/// `GET /api/experiments/{id}/hands?from=N&limit=M` → hands in run order
/// (agent and net chips per seat, the PHH when kept), and `next`.
pub async fn hands(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(page): Query<HandsPage>,
) -> Result<Json<Value>, ApiError> {
    let limit = page.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let rows = app
        .repo
        .experiment_hands(&id, page.from, limit)
        .await
        .map_err(ApiError::from)?;
    if rows.is_empty() {
        // An unknown experiment is a 404, not an empty page.
        app.repo.load_experiment(&id).await.map_err(ApiError::from)?;
    }
    let next = (rows.len() as u64 == limit).then(|| rows.last().map(|r| r.hand + 1));
    let hands: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "hand": r.hand,
                "deal": r.deal,
                "rotation": r.rotation,
                "table": r.table_index,
                "agents": serde_json::from_str::<Value>(&r.agents).unwrap_or(Value::Null),
                "nets": serde_json::from_str::<Value>(&r.nets).unwrap_or(Value::Null),
                "phh": r.phh,
            })
        })
        .collect();
    Ok(Json(json!({"hands": hands, "next": next.flatten()})))
}

/// A row limit.
#[derive(Deserialize)]
pub struct Limit {
    #[serde(default)]
    limit: Option<u64>,
}

/// `GET /api/experiments/{id}/decisions?limit=M` → LLM decisions, oldest
/// first (prompts and replies only with the admin key), with usage totals.
pub async fn decisions(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(limit): Query<Limit>,
) -> Result<Json<Value>, ApiError> {
    app.repo.load_experiment(&id).await.map_err(ApiError::from)?;
    let full = app.is_admin(&headers);
    let query = RecordQuery {
        experiment_id: Some(id.clone()),
        limit: Some(limit.limit.unwrap_or(100).clamp(1, MAX_PAGE)),
        ..RecordQuery::default()
    };
    let rows = app.repo.list_decisions(&query).await.map_err(ApiError::from)?;
    let totals = app.repo.usage_totals(&query).await.map_err(ApiError::from)?;
    let decisions: Vec<Value> = rows
        .iter()
        .map(|d| {
            json!({
                "at_ms": d.at_ms,
                "table": d.table_id,
                "hand": d.hand,
                "seat": d.seat,
                "source": d.source,
                "action": d.parsed_action.as_deref().and_then(|a| serde_json::from_str::<Value>(a).ok()),
                "fallback_reason": d.fallback_reason,
                "prompt": if full { json!(d.prompt) } else { Value::Null },
                "raw_reply": if full { json!(d.raw_reply) } else { Value::Null },
            })
        })
        .collect();
    Ok(Json(json!({
        "decisions": decisions,
        "usage": {
            "calls": totals.calls,
            "prompt_tokens": totals.prompt_tokens,
            "completion_tokens": totals.completion_tokens,
            "cost_usd": totals.cost_usd,
        },
    })))
}
