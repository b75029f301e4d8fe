//! The LLM player: asks a model through the [`Executor`] for a structured
//! decision, repairs one bad answer if time allows, and otherwise lets a
//! fallback bot act, recording why.
//!
//! # Layout
//! - [`prompt`]: the situation in poker terms and the answer's JSON schema.
//! - [`reply`]: tolerant parsing, strict legality.

pub mod prompt;
pub mod reply;

use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::json;
use tokio::time::{Duration, Instant};

use crate::agent::{
    Agent, BoxFuture, Decision, DecisionSource, FailedStep, FallbackReason, TokenUsage, Turn,
};
use crate::bots::Bot;
use crate::executor::{CallError, ChatReply, ChatRequest, Executor};
use game_core::sim::SplitMix64;
use reply::{ReplyProblem, parse_reply};

/// How an LLM seat plays.
#[derive(Clone, Debug)]
pub struct LlmOptions {
    /// Provider name in the executor's config.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Free-text playing style added to the system prompt.
    pub personality: String,
    /// Sampling temperature (0 makes identical situations cacheable).
    pub temperature: f32,
    /// Time kept before the turn's deadline for the fallback bot to act.
    pub fallback_margin: Duration,
    /// Keep prompts and raw replies in the usage records.
    pub capture: bool,
}

impl LlmOptions {
    /// Defaults for a provider/model: no personality, temperature 0.7, 50 ms margin, no capture.
    pub fn new(provider: &str, model: &str) -> LlmOptions {
        LlmOptions {
            provider: provider.to_string(),
            model: model.to_string(),
            personality: String::new(),
            temperature: 0.7,
            fallback_margin: Duration::from_millis(50),
            capture: false,
        }
    }
}

/// A seat played by a language model.
pub struct LlmAgent {
    name: String,
    executor: Executor,
    options: LlmOptions,
    fallback: Arc<dyn Bot>,
    rng: Mutex<SplitMix64>,
}

impl LlmAgent {
    /// An LLM seat; `fallback` acts when the model cannot answer usably in time.
    pub fn new(executor: Executor, options: LlmOptions, fallback: Arc<dyn Bot>, seed: u64) -> LlmAgent {
        LlmAgent {
            name: format!("llm:{}/{}", options.provider, options.model),
            executor,
            options,
            fallback,
            rng: Mutex::new(SplitMix64::new(seed)),
        }
    }

    async fn decide_turn(&self, turn: &Turn) -> Decision {
        let started = Instant::now();
        let deadline = turn
            .deadline
            .checked_sub(self.options.fallback_margin)
            .unwrap_or(turn.deadline);
        let mut tokens = TokenUsage::default();
        let mut steps: Vec<FailedStep> = Vec::new();
        let chain = std::iter::once((self.options.provider.clone(), self.options.model.clone())).chain(
            self.executor
                .fallback_models(&self.options.provider, &self.options.model),
        );
        for (provider, model) in chain {
            if !steps.is_empty() && Instant::now() + Duration::from_millis(100) >= deadline {
                break;
            }
            match self.ask(turn, &provider, &model, deadline, &mut tokens).await {
                Ok((parsed, repaired)) => {
                    return Decision {
                        action: parsed.action,
                        source: DecisionSource::Model {
                            provider,
                            model,
                            repaired,
                        },
                        latency: started.elapsed(),
                        tokens: Some(tokens),
                        reason: parsed.reason,
                        table_talk: parsed.table_talk,
                        steps,
                    };
                }
                Err(reason) => steps.push(FailedStep {
                    model: format!("{provider}/{model}"),
                    reason,
                }),
            }
        }
        let action = {
            let mut rng = self.rng.lock();
            self.fallback.act(turn.seat, &turn.view, &mut rng)
        };
        Decision {
            action,
            source: DecisionSource::Fallback {
                bot: self.fallback.name().to_string(),
                // Why the agent's own model did not decide.
                reason: steps.first().map_or(FallbackReason::Deadline, |s| s.reason),
            },
            latency: started.elapsed(),
            tokens: (tokens != TokenUsage::default()).then_some(tokens),
            reason: None,
            table_talk: None,
            steps,
        }
    }

    /// The messages for a turn, shortened (older actions, then the
    /// personality) until they fit the model's context window; `None` if
    /// even the shortest does not.
    fn messages(&self, turn: &Turn, provider: &str, model: &str) -> Option<Vec<serde_json::Value>> {
        let personality = self.options.personality.as_str();
        let attempts = [
            (usize::MAX, personality),
            (6, personality),
            (0, personality),
            (0, ""),
        ];
        attempts.into_iter().find_map(|(max_actions, personality)| {
            let messages = vec![
                json!({"role": "system", "content": prompt::system_message(personality)}),
                json!({"role": "user", "content": prompt::situation_within(&turn.view, turn.seat, max_actions)}),
            ];
            self.executor
                .fits_context(provider, model, &serde_json::Value::Array(messages.clone()))
                .then_some(messages)
        })
    }

    /// Asks one model, with one repair attempt if time allows: its parsed
    /// answer and whether it came from the repair, or why there is none.
    async fn ask(
        &self,
        turn: &Turn,
        provider: &str,
        model: &str,
        deadline: Instant,
        tokens: &mut TokenUsage,
    ) -> Result<(reply::ParsedReply, bool), FallbackReason> {
        let legal = turn.view.legal;
        let mut messages = self
            .messages(turn, provider, model)
            .ok_or(FallbackReason::PromptTooLong)?;
        let schema = prompt::answer_schema(&legal);
        let mut repaired = false;
        loop {
            let call = self
                .executor
                .complete(ChatRequest {
                    provider: provider.to_owned(),
                    model: model.to_owned(),
                    lane: turn.lane,
                    deadline,
                    messages: serde_json::Value::Array(messages.clone()),
                    schema: Some(schema.clone()),
                    temperature: self.options.temperature,
                    context: turn.context.clone(),
                    capture: self.options.capture,
                })
                .await;
            let reply = call.reply.map_err(|e| fallback_reason(&e))?;
            *tokens += reply.usage;
            let (problem, raw) = match read(&reply, &legal) {
                Ok(parsed) => return Ok((parsed, repaired)),
                Err(problem) => problem,
            };
            // One repair attempt, if there is still time for it.
            if repaired
                || problem.0 == FallbackReason::Refusal
                || Instant::now() + Duration::from_millis(100) >= deadline
            {
                return Err(problem.0);
            }
            repaired = true;
            messages.push(json!({"role": "assistant", "content": raw}));
            messages.push(json!({
                "role": "user",
                "content": format!(
                    "That answer cannot be used: {}. Reply again with only the JSON object; \
                     \"action\" must be one of {:?}.",
                    problem.1,
                    prompt::legal_names(&legal)
                ),
            }));
            if !self
                .executor
                .fits_context(provider, model, &serde_json::Value::Array(messages.clone()))
            {
                return Err(problem.0);
            }
        }
    }
}

/// Why a reply is unusable, and the raw text to show the model in a repair.
type Problem = (FallbackReason, String);

fn read(reply: &ChatReply, legal: &game_core::LegalActions) -> Result<reply::ParsedReply, (Problem, String)> {
    if let Some(refusal) = &reply.refusal {
        return Err((
            (FallbackReason::Refusal, format!("refused: {refusal}")),
            String::new(),
        ));
    }
    let Some(content) = reply.content.as_deref() else {
        let raw = reply.malformed_body.clone().unwrap_or_default();
        return Err((
            (FallbackReason::Unparsable, "the reply had no content".into()),
            raw,
        ));
    };
    if reply.finish_reason.as_deref() == Some("length") {
        return Err((
            (
                FallbackReason::Truncated,
                "the reply was cut off; keep it short".into(),
            ),
            content.to_string(),
        ));
    }
    parse_reply(content, legal).map_err(|problem| {
        let reason = match problem {
            ReplyProblem::Unparsable(_) => FallbackReason::Unparsable,
            ReplyProblem::Illegal(_) => FallbackReason::Illegal,
        };
        ((reason, problem.to_string()), content.to_string())
    })
}

fn fallback_reason(error: &CallError) -> FallbackReason {
    match error {
        CallError::Deadline => FallbackReason::Deadline,
        CallError::CircuitOpen(_) => FallbackReason::CircuitOpen,
        CallError::Overloaded => FallbackReason::Overloaded,
        CallError::Provider(_) => FallbackReason::ProviderError,
        CallError::Rejected(_) | CallError::UnknownModel { .. } => FallbackReason::Rejected,
        CallError::ContextExceeded { .. } => FallbackReason::PromptTooLong,
        CallError::DailyBudget { .. } => FallbackReason::Budget,
    }
}

impl Agent for LlmAgent {
    fn name(&self) -> &str {
        &self.name
    }

    fn decide<'a>(&'a self, turn: &'a Turn) -> BoxFuture<'a, Decision> {
        Box::pin(self.decide_turn(turn))
    }
}
