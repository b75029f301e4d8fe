//! The bodies of 200 replies: a chat completion carrying the answer, or one
//! of the ways a real model's reply goes wrong with a 200 status.

use std::time::{SystemTime, UNIX_EPOCH};

use game_core::sim::SplitMix64;
use serde_json::{Value, json};

use super::answer::{TurnSchema, unschematic};
use super::config::{Fault, Policy};
use super::wire::{ChatRequest, estimate_tokens};

/// What a 200 reply looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A legal answer as bare JSON.
    Answer,
    /// One of the faults that still answer 200.
    Faulty(Fault),
}

/// A rendered 200 reply.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The response body (not always valid JSON).
    pub body: String,
    /// `(prompt, completion)` tokens reported in `usage`, if the body parses.
    pub usage: Option<(u64, u64)>,
}

/// Renders the reply of request number `seq`.
pub(crate) fn render(
    shape: Shape,
    request: &ChatRequest,
    policy: &Policy,
    seq: u64,
    rng: &mut SplitMix64,
) -> Reply {
    let legal = |rng: &mut SplitMix64| match &request.schema {
        Some(schema) => schema.legal(policy, rng),
        None => unschematic(rng, true),
    };
    let (content, refusal, mut cut) = match shape {
        Shape::Answer
        | Shape::Faulty(Fault::Error500 | Fault::Hang | Fault::RateLimited | Fault::Overloaded) => {
            (Some(legal(rng).to_string()), None, None)
        }
        Shape::Faulty(Fault::Illegal) => {
            let answer = match &request.schema {
                Some(schema) => TurnSchema::illegal(schema, rng),
                None => unschematic(rng, false),
            };
            (Some(answer.to_string()), None, None)
        }
        Shape::Faulty(Fault::Prose) => {
            let answer = legal(rng).to_string();
            let text = match rng.below(2) {
                0 => format!(
                    "Looking at the pot odds, here is my decision:\n```json\n{answer}\n```\nGood luck!"
                ),
                _ => format!("I'll go with {answer} - that seems best here."),
            };
            (Some(text), None, None)
        }
        Shape::Faulty(Fault::Refusal) => (None, Some("I'm sorry, but I can't help with that request."), None),
        Shape::Faulty(Fault::Truncated) => {
            let answer = legal(rng).to_string();
            let n = answer.chars().count();
            let at = n / 3 + rng.below((n / 3).max(1) as u64) as usize;
            (Some(answer), None, Some(at))
        }
        Shape::Faulty(Fault::Malformed) => {
            if rng.below(2) == 0 {
                let body = completion(request, seq, Some(legal(rng).to_string()), None, "stop", 0);
                let text = body.to_string();
                let half = text.len() / 2;
                let cut = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .take_while(|&i| i <= half)
                    .last()
                    .unwrap_or(0);
                return Reply {
                    body: text[..cut].to_owned(),
                    usage: None,
                };
            }
            let text =
                "I think calling is right here, the pot odds are decent and my hand has showdown value.";
            (Some(text.to_owned()), None, None)
        }
    };
    // A reply longer than `max_tokens` is cut there, as a real model's would be.
    if let (Some(text), Some(max)) = (&content, request.max_tokens) {
        let budget = usize::try_from(max.saturating_mul(4)).unwrap_or(usize::MAX);
        if cut.is_none() && text.chars().count() > budget {
            cut = Some(budget);
        }
    }
    let (content, finish, completion_tokens) = match (content, cut) {
        (Some(text), Some(at)) => {
            let text: String = text.chars().take(at).collect();
            let tokens = request.max_tokens.unwrap_or_else(|| estimate_tokens(&text));
            (Some(text), "length", tokens)
        }
        (Some(text), None) => {
            let tokens = estimate_tokens(&text);
            (Some(text), "stop", tokens)
        }
        (None, _) => (None, "stop", refusal.map_or(0, estimate_tokens)),
    };
    let body = completion(request, seq, content, refusal, finish, completion_tokens);
    Reply {
        body: body.to_string(),
        usage: Some((request.prompt_tokens, completion_tokens)),
    }
}

fn completion(
    request: &ChatRequest,
    seq: u64,
    content: Option<String>,
    refusal: Option<&str>,
    finish: &str,
    completion_tokens: u64,
) -> Value {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({
        "id": format!("chatcmpl-mock{seq:012x}"),
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "system_fingerprint": "fp_mock",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refusal},
            "logprobs": null,
            "finish_reason": finish,
        }],
        "usage": {
            "prompt_tokens": request.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": request.prompt_tokens + completion_tokens,
        },
    })
}
