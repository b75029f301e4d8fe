//! What one HTTP attempt amounted to ([`Attempt`]): a reply, a rate limit,
//! a failure worth a retry, a rejection, or a refused structured-output
//! format; and how error bodies are clipped and cleared of keys.

use super::headers::RateLimitInfo;
use super::reply::{ChatReply, parse_completion};
use crate::config::ProviderKind;

/// What one HTTP attempt amounted to.
pub(super) enum Attempt {
    Reply(ChatReply, RateLimitInfo),
    RateLimited(RateLimitInfo),
    Failed(String),
    OutOfTime,
    Rejected(u16, String),
    /// The provider refused the structured-output part of the request.
    FormatRejected(u16, String),
}

impl Attempt {
    /// `structured`: the request carried a `response_format`.
    pub(super) fn classify(
        status: u16,
        info: RateLimitInfo,
        text: reqwest::Result<String>,
        kind: ProviderKind,
        structured: bool,
    ) -> Attempt {
        match status {
            200..=299 => match text {
                Ok(body) => Attempt::Reply(parse_completion(&body), info),
                Err(_) => Attempt::Failed("reply body could not be read".into()),
            },
            429 => Attempt::RateLimited(info),
            // A local server (Ollama) says 503 when its queue is full: backpressure.
            503 if kind == ProviderKind::Local => Attempt::RateLimited(info),
            400 | 422 if structured && !names_another_cause(text.as_deref().unwrap_or_default()) => {
                Attempt::FormatRejected(status, text.unwrap_or_default())
            }
            // llama-cpp-python answers an unsupported `response_format` with a 500.
            500 if structured && names_the_format(text.as_deref().unwrap_or_default()) => {
                Attempt::FormatRejected(status, text.unwrap_or_default())
            }
            500..=599 | 408 => Attempt::Failed(match text {
                Ok(body) if !body.trim().is_empty() => format!("status {status}: {}", clip(&body)),
                _ => format!("status {status}"),
            }),
            _ => Attempt::Rejected(status, text.unwrap_or_default()),
        }
    }
}

/// Whether an error body is about the request's structured-output format.
fn names_the_format(body: &str) -> bool {
    let body = body.to_ascii_lowercase();
    [
        "response_format",
        "response format",
        "json_schema",
        "json_object",
        "grammar",
    ]
    .iter()
    .any(|word| body.contains(word))
}

/// Whether a 400/422 body names a cause other than the format (the context
/// window, the key, the model), which a simpler format would not cure.
fn names_another_cause(body: &str) -> bool {
    if names_the_format(body) {
        return false;
    }
    let body = body.to_ascii_lowercase();
    [
        "context",
        "too long",
        "api key",
        "api_key",
        "model_not_found",
        "does not exist",
    ]
    .iter()
    .any(|word| body.contains(word))
}

/// The start of an error body, for messages.
pub(super) fn clip(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
}

/// Removes an API key from text that might echo it (provider error bodies).
pub(super) fn redact(text: &str, key: Option<&str>) -> String {
    match key {
        Some(k) if k.len() >= 4 => text.replace(k, "[redacted]"),
        _ => text.to_string(),
    }
}
