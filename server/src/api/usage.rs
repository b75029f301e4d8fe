//! `GET /api/usage` (admin): what the LLM models cost, by provider and
//! model, from the stored usage records, with each model's current
//! structured-output mode, its last provider error, and the daily budget.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use schema::Repository;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::app::App;
use crate::protocol::{ErrorCode, Failure};

/// The query of `GET /api/usage`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Only calls at or after this time, ms since the Unix epoch (default: all).
    #[serde(default)]
    since_ms: Option<u64>,
}

/// `GET /api/usage?since_ms=` → `{since_ms, models: [...], spent_today_usd, daily_budget_usd}`.
pub async fn usage(
    State(app): State<App>,
    Query(query): Query<UsageQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    if !app.is_admin(&headers) {
        return Err(ApiError(Failure::new(
            ErrorCode::Unauthorized,
            "LLM usage needs the admin key (Authorization: Bearer KEY or x-api-key)",
        )));
    }
    let rows = app
        .repo
        .usage_by_model(query.since_ms)
        .await
        .map_err(ApiError::from)?;
    let executor = app.agents.executor();
    let models: Vec<Value> = rows
        .iter()
        .map(|m| {
            let mode = executor
                .and_then(|e| e.structured_output(&m.provider, &m.model))
                .map(|mode| mode.name());
            let last_error = executor.and_then(|e| e.last_error(&m.provider, &m.model));
            json!({
                "provider": m.provider,
                "model": m.model,
                "calls": m.calls,
                "failed_calls": m.failed,
                "prompt_tokens": m.prompt_tokens,
                "completion_tokens": m.completion_tokens,
                "cost_usd": m.cost_usd,
                "mean_latency_ms": m.mean_latency_ms,
                "max_latency_ms": m.max_latency_ms,
                "structured_output": mode,
                "last_error": last_error,
            })
        })
        .collect();
    Ok(Json(json!({
        "since_ms": query.since_ms,
        "models": models,
        "spent_today_usd": executor.map(|e| e.spent_today()),
        "daily_budget_usd": executor.and_then(|e| e.daily_budget_usd()),
    })))
}
