//! What comes back from a call: the provider's answer ([`ChatReply`], read
//! from an OpenAI chat completion), why there is none ([`CallError`]), and
//! what the call cost in waiting and retries ([`CallResult`]).

use serde::Deserialize;
use tokio::time::Duration;

use crate::agent::TokenUsage;
use crate::usage::CallOutcome;

/// A provider's answer, as far as the transport is concerned: it arrived.
/// Whether its content makes sense is the agent's business.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatReply {
    /// `choices[0].message.content`.
    pub content: Option<String>,
    /// `choices[0].message.refusal`.
    pub refusal: Option<String>,
    /// `choices[0].finish_reason` (`stop`, `length`, ...).
    pub finish_reason: Option<String>,
    /// Tokens the provider reports.
    pub usage: TokenUsage,
    /// The body when it was not a chat completion at all.
    pub malformed_body: Option<String>,
    /// Whether it came from the response cache.
    pub cached: bool,
}

/// Why no reply arrived.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The provider/model is not configured.
    #[error("unknown model {provider}/{model}")]
    UnknownModel {
        /// Provider asked for.
        provider: String,
        /// Model asked for.
        model: String,
    },
    /// The deadline passed before an answer.
    #[error("deadline passed")]
    Deadline,
    /// The provider's breaker is open.
    #[error("circuit open for {0}")]
    CircuitOpen(String),
    /// Too many calls are queued.
    #[error("executor queue full")]
    Overloaded,
    /// Failures (5xx, timeouts, connection errors) until retries ran out.
    #[error("provider error: {0}")]
    Provider(String),
    /// The provider refused the request (4xx other than 429).
    #[error("provider rejected the request with status {0}")]
    Rejected(u16),
    /// The prompt and `max_tokens` would not fit the model's context window.
    #[error(
        "the prompt (about {tokens} tokens with max_tokens) does not fit the model's context of {context} tokens"
    )]
    ContextExceeded {
        /// Estimated prompt tokens plus `max_tokens`.
        tokens: u64,
        /// The model's `context_tokens`.
        context: u32,
    },
    /// The executor's daily spending budget is used up.
    #[error("the daily LLM budget of {budget:.2} USD is spent; no more calls until 00:00 UTC")]
    DailyBudget {
        /// The budget, USD.
        budget: f64,
    },
}

impl CallError {
    pub(super) fn outcome(&self) -> CallOutcome {
        match self {
            CallError::UnknownModel { .. }
            | CallError::Rejected(_)
            | CallError::ContextExceeded { .. }
            | CallError::DailyBudget { .. } => CallOutcome::Rejected,
            CallError::Deadline => CallOutcome::Deadline,
            CallError::CircuitOpen(_) => CallOutcome::CircuitOpen,
            CallError::Overloaded => CallOutcome::Overloaded,
            CallError::Provider(_) => CallOutcome::ProviderError,
        }
    }
}

/// A call's result plus what it cost, for callers that want the figures
/// without reading the usage sink.
#[derive(Clone, Debug)]
pub struct CallResult {
    /// The reply or why there is none.
    pub reply: Result<ChatReply, CallError>,
    /// Time waiting for capacity.
    pub queue_wait: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// 429s received.
    pub rate_limited: u32,
}

/// Reads an OpenAI chat completion; anything else is kept as a malformed body.
pub(super) fn parse_completion(body: &str) -> ChatReply {
    #[derive(Deserialize)]
    struct Completion {
        choices: Vec<Choice>,
        #[serde(default)]
        usage: Option<Usage>,
    }
    #[derive(Deserialize)]
    struct Choice {
        message: Message,
        #[serde(default)]
        finish_reason: Option<String>,
    }
    #[derive(Deserialize)]
    struct Message {
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        refusal: Option<String>,
    }
    #[derive(Deserialize)]
    struct Usage {
        #[serde(default)]
        prompt_tokens: u64,
        #[serde(default)]
        completion_tokens: u64,
    }
    match serde_json::from_str::<Completion>(body) {
        Ok(c) if !c.choices.is_empty() => {
            let usage = c.usage.map_or(TokenUsage::default(), |u| TokenUsage {
                prompt: u.prompt_tokens,
                completion: u.completion_tokens,
            });
            let choice = c.choices.into_iter().next();
            let (message, finish_reason) = match choice {
                Some(ch) => (ch.message, ch.finish_reason),
                None => (
                    Message {
                        content: None,
                        refusal: None,
                    },
                    None,
                ),
            };
            ChatReply {
                content: message.content,
                refusal: message.refusal,
                finish_reason,
                usage,
                malformed_body: None,
                cached: false,
            }
        }
        _ => ChatReply {
            malformed_body: Some(body.chars().take(4096).collect()),
            ..ChatReply::default()
        },
    }
}
