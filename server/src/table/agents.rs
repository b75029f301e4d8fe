//! Agent specs to agents: `bot:NAME` for a heuristic bot, and
//! `llm:PROVIDER/MODEL?personality=...&temperature=...` for a model seat
//! played through the shared executor (with `tight-aggressive` as fallback).

use std::sync::Arc;

use ai_players::Agent;
use ai_players::bots::{BOT_NAMES, BotAgent, bot};
use ai_players::executor::Executor;
use ai_players::llm::{LlmAgent, LlmOptions};

use crate::transport::protocol::{ErrorCode, Failure};

/// Builds agents; holds the LLM executor when the server has an LLM config.
#[derive(Clone)]
pub struct Agents {
    executor: Option<Executor>,
}

impl Agents {
    /// Agents with an optional executor (without one, `llm:` specs are refused).
    pub fn new(executor: Option<Executor>) -> Agents {
        Agents { executor }
    }

    /// Whether LLM seats can be created.
    pub fn has_llm(&self) -> bool {
        self.executor.is_some()
    }

    /// Checks a spec without building it.
    pub fn validate(&self, spec: &str) -> Result<(), Failure> {
        self.build(spec, 0).map(|_| ())
    }

    /// The agent for `spec`, seeded with `seed`.
    pub fn build(&self, spec: &str, seed: u64) -> Result<Arc<dyn Agent>, Failure> {
        let unknown = |m: String| Failure::new(ErrorCode::UnknownAgent, m);
        if let Some(name) = spec.strip_prefix("bot:") {
            let bot = bot(name).ok_or_else(|| {
                unknown(format!(
                    "unknown bot {name:?}; known bots: {}",
                    BOT_NAMES.join(", ")
                ))
            })?;
            return Ok(Arc::new(BotAgent::new(bot, seed)));
        }
        if let Some(rest) = spec.strip_prefix("llm:") {
            let executor = self.executor.as_ref().ok_or_else(|| {
                unknown("this server has no LLM configuration (start it with --llm-config)".into())
            })?;
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let (provider, model) = path
                .split_once('/')
                .ok_or_else(|| unknown(format!("LLM spec {spec:?} must be llm:PROVIDER/MODEL")))?;
            if executor.max_tokens(provider, model).is_none() {
                return Err(unknown(format!(
                    "model {provider}/{model} is not in the LLM configuration"
                )));
            }
            let mut options = LlmOptions::new(provider, model);
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let value = decode_query(value);
                match key {
                    "personality" => {
                        if value.chars().count() > 500 {
                            return Err(unknown("personality may be at most 500 characters".into()));
                        }
                        options.personality = value;
                    }
                    "temperature" => {
                        options.temperature =
                            value
                                .parse::<f32>()
                                .ok()
                                .filter(|t| (0.0..=2.0).contains(t))
                                .ok_or_else(|| unknown("temperature must be a number from 0 to 2".into()))?;
                    }
                    "capture" => options.capture = value == "true" || value == "1",
                    "label" => {
                        if value.trim().is_empty() || value.chars().count() > 32 {
                            return Err(unknown("label must be 1 to 32 characters".into()));
                        }
                    }
                    other => return Err(unknown(format!("unknown LLM option {other:?}"))),
                }
            }
            let fallback = bot("tight-aggressive")
                .ok_or_else(|| Failure::new(ErrorCode::Internal, "fallback bot missing"))?;
            return Ok(Arc::new(LlmAgent::new(executor.clone(), options, fallback, seed)));
        }
        Err(unknown(format!(
            "agent spec {spec:?} must start with bot: or llm: (e.g. bot:tight-aggressive)"
        )))
    }

    /// The provider's last error for an `llm:` spec's model, if a call failed.
    pub fn last_error(&self, spec: &str) -> Option<String> {
        let rest = spec.strip_prefix("llm:")?;
        let path = rest.split('?').next().unwrap_or(rest);
        let (provider, model) = path.split_once('/')?;
        self.executor.as_ref()?.last_error(provider, model)
    }

    /// The executor, when the server has an LLM config.
    pub fn executor(&self) -> Option<&Executor> {
        self.executor.as_ref()
    }

    /// The kind shown to clients for an AI spec.
    pub fn kind(spec: &str) -> &'static str {
        if spec.starts_with("llm:") { "llm" } else { "bot" }
    }

    /// A readable name for an AI seat. An LLM seat goes by its spec's
    /// `label`, else its personality, else the model's `label` in the LLM
    /// config, and only then by `provider/model`.
    pub fn display_name(&self, spec: &str, seat: usize) -> String {
        if let Some(name) = spec.strip_prefix("bot:") {
            return format!("{name} bot #{}", seat + 1);
        }
        let rest = spec.trim_start_matches("llm:");
        let (model, query) = rest.split_once('?').unwrap_or((rest, ""));
        let option = |wanted: &str| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == wanted)
                .map(|(_, value)| decode_query(value).trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let configured = || {
            let (provider, name) = model.split_once('/')?;
            self.executor.as_ref()?.label(provider, name)
        };
        match option("label")
            .or_else(|| option("personality").map(|p| short_name(&p)))
            .or_else(configured)
        {
            Some(name) => name,
            None => format!("{model} #{}", seat + 1),
        }
    }
}

/// A personality as a seat name: its first words, capitalised, at most 24 characters.
fn short_name(personality: &str) -> String {
    let mut name = String::new();
    for word in personality.split_whitespace() {
        if !name.is_empty() && name.chars().count() + 1 + word.chars().count() > 24 {
            break;
        }
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(word);
    }
    let name: String = name.chars().take(24).collect();
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name,
    }
}

/// Decodes `%XX` escapes and `+` in a query value (invalid escapes are kept as written).
fn decode_query(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let agents = Agents::new(None);
        assert!(agents.validate("bot:tight-aggressive").is_ok());
        assert!(agents.validate("bot:calling-station").is_ok());
        assert_eq!(
            agents.validate("bot:nope").err().map(|f| f.code),
            Some(ErrorCode::UnknownAgent)
        );
        assert_eq!(
            agents.validate("llm:openai/gpt").err().map(|f| f.code),
            Some(ErrorCode::UnknownAgent)
        );
        assert_eq!(
            agents.validate("human").err().map(|f| f.code),
            Some(ErrorCode::UnknownAgent)
        );
        assert_eq!(decode_query("a+b%21%2"), "a b!%2");
        assert_eq!(agents.display_name("bot:random", 2), "random bot #3");
        assert_eq!(agents.display_name("llm:mock/m1", 0), "mock/m1 #1");
        assert_eq!(
            agents.display_name(
                "llm:mock/m1?personality=cautious+grinder+who+rarely+bluffs+at+all",
                0
            ),
            "Cautious grinder who"
        );
        assert_eq!(
            agents.display_name("llm:mock/m1?personality=x&label=Ada%20the%20Shark", 1),
            "Ada the Shark"
        );
    }
}
