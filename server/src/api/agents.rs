//! `GET /api/agents`: what an AI seat may be at this server, so a client
//! offers only agents that `POST /api/tables` accepts: the heuristic bots,
//! and the LLM models of the server's `--llm-config` when it has one.

use ai_players::bots::BOT_NAMES;
use ai_players::config::LlmConfig;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::app::App;

/// `GET /api/agents` → `{bots: [{agent, name}], llm: {enabled, models: [{agent, provider, model}]}}`.
pub async fn list(State(app): State<App>) -> Json<Value> {
    let bots: Vec<Value> = BOT_NAMES
        .iter()
        .map(|name| json!({"agent": format!("bot:{name}"), "name": name}))
        .collect();
    let models: Vec<Value> = if app.agents.has_llm() {
        llm_models(&app)
    } else {
        Vec::new()
    };
    Json(json!({
        "bots": bots,
        "llm": {"enabled": app.agents.has_llm(), "models": models},
    }))
}

/// The configured models the agent factory accepts. The config file was
/// read at start-up; it is read again here (it is small), and a model that
/// no longer validates (the file changed since) is left out.
fn llm_models(app: &App) -> Vec<Value> {
    let Some(path) = app.config.llm_config.as_ref() else {
        return Vec::new();
    };
    let Ok(config) = LlmConfig::from_file(&path.to_string_lossy()) else {
        return Vec::new();
    };
    config
        .providers
        .iter()
        .flat_map(|p| p.models.iter().map(move |m| (p.name.as_str(), m.name.as_str())))
        .map(|(provider, model)| (format!("llm:{provider}/{model}"), provider, model))
        .filter(|(agent, _, _)| app.agents.validate(agent).is_ok())
        .map(|(agent, provider, model)| json!({"agent": agent, "provider": provider, "model": model}))
        .collect()
}
