//! Agent specs to agents: `bot:NAME` for a heuristic bot, and
//! `llm:PROVIDER/MODEL?personality=...&temperature=...` for a model seat
//! played through the shared executor (with `tight-aggressive` as fallback).

use std::sync::Arc;

use ai_players::bots::{BotAgent, bot};
use ai_players::executor::Executor;
use ai_players::llm::{LlmAgent, LlmOptions};
use ai_players::{Agent, AgentSpec, SeatKind};

use super::AgentError;

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
    pub fn validate(&self, spec: &str) -> Result<(), AgentError> {
        self.build(spec, 0).map(|_| ())
    }

    /// The agent for `spec`, seeded with `seed`.
    pub fn build(&self, spec: &str, seed: u64) -> Result<Arc<dyn Agent>, AgentError> {
        match spec.parse::<AgentSpec>()? {
            AgentSpec::Human => Err(AgentError::NotAnAgent {
                spec: spec.to_owned(),
            }),
            AgentSpec::Bot(name) => {
                let bot = bot(&name).ok_or(AgentError::UnknownBot { name })?;
                Ok(Arc::new(BotAgent::new(bot, seed)))
            }
            AgentSpec::Llm(llm) => {
                let executor = self.executor.as_ref().ok_or(AgentError::NoLlmConfig)?;
                if executor.max_tokens(&llm.provider, &llm.model).is_none() {
                    return Err(AgentError::UnknownModel {
                        provider: llm.provider,
                        model: llm.model,
                    });
                }
                let mut options = LlmOptions::new(&llm.provider, &llm.model);
                options.personality = llm.personality.unwrap_or_default();
                if let Some(t) = llm.temperature {
                    options.temperature = t;
                }
                options.capture = llm.capture;
                let fallback = bot("tight-aggressive").ok_or(AgentError::FallbackMissing)?;
                Ok(Arc::new(LlmAgent::new(executor.clone(), options, fallback, seed)))
            }
        }
    }

    /// The provider's last error for an `llm:` spec's model, if a call failed.
    pub fn last_error(&self, spec: &str) -> Option<String> {
        let spec: AgentSpec = spec.parse().ok()?;
        let llm = spec.llm()?;
        self.executor.as_ref()?.last_error(&llm.provider, &llm.model)
    }

    /// The executor, when the server has an LLM config.
    pub fn executor(&self) -> Option<&Executor> {
        self.executor.as_ref()
    }

    /// The kind shown to clients for an AI spec.
    pub fn kind(spec: &str) -> SeatKind {
        AgentSpec::kind_of(spec)
    }

    /// A readable name for an AI seat. An LLM seat goes by its spec's
    /// `label`, else its personality, else the model's `label` in the LLM
    /// config, and only then by `provider/model`.
    pub fn display_name(&self, spec: &str, seat: usize) -> String {
        match spec.parse::<AgentSpec>() {
            Ok(AgentSpec::Bot(name)) => format!("{name} bot #{}", seat + 1),
            Ok(AgentSpec::Llm(llm)) => {
                let configured = || self.executor.as_ref()?.label(&llm.provider, &llm.model);
                llm.label
                    .clone()
                    .or_else(|| llm.personality.as_deref().map(short_name))
                    .or_else(configured)
                    .unwrap_or_else(|| format!("{}/{} #{}", llm.provider, llm.model, seat + 1))
            }
            _ => format!("{spec} #{}", seat + 1),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let agents = Agents::new(None);
        assert!(agents.validate("bot:tight-aggressive").is_ok());
        assert!(agents.validate("bot:calling-station").is_ok());
        assert!(matches!(
            agents.validate("bot:nope"),
            Err(AgentError::UnknownBot { name }) if name == "nope"
        ));
        assert!(matches!(
            agents.validate("llm:openai/gpt"),
            Err(AgentError::NoLlmConfig)
        ));
        assert!(matches!(
            agents.validate("human"),
            Err(AgentError::NotAnAgent { spec }) if spec == "human"
        ));
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
