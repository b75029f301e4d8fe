//! The request an agent makes ([`ChatRequest`]), and the body sent for it
//! in the structured-output mode the model takes.

use serde_json::Value;
use tokio::time::Instant;

use crate::agent::{CallContext, Lane};
use crate::config::{ModelConfig, StructuredOutput};

/// One chat-completion call as an agent asks for it.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    /// Provider name from the config.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Urgency.
    pub lane: Lane,
    /// After this the answer is useless: the call is abandoned.
    pub deadline: Instant,
    /// The chat messages (`[{role, content}]`).
    pub messages: Value,
    /// The JSON schema the answer must follow, if any. The executor sends
    /// it the way the model takes it (its `structured_output` mode):
    /// `json_schema`, `json_object` with a schema, or written into the prompt.
    pub schema: Option<Value>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Where the cost is booked.
    pub context: CallContext,
    /// Keep the prompt and the raw reply in the usage record.
    pub capture: bool,
}

/// The request body for a model in `format`, and the messages it sends
/// (with the schema written into the last one in `none` mode).
pub(super) fn request_body(
    request: &ChatRequest,
    config: &ModelConfig,
    format: StructuredOutput,
) -> (String, Value) {
    let mut messages = request.messages.clone();
    let mut body = serde_json::json!({
        "model": request.model,
        "max_tokens": config.max_tokens,
        "temperature": request.temperature,
    });
    if let Some(schema) = &request.schema {
        match format {
            StructuredOutput::Auto | StructuredOutput::JsonSchema => {
                body["response_format"] = serde_json::json!({
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "strict": true, "schema": schema},
                });
            }
            StructuredOutput::JsonObject => {
                body["response_format"] = serde_json::json!({"type": "json_object", "schema": schema});
            }
            StructuredOutput::None => {
                if let Some(last) = messages.as_array_mut().and_then(|m| m.last_mut())
                    && let Some(content) = last.get("content").and_then(Value::as_str)
                {
                    last["content"] = Value::String(format!(
                        "{content}\n\nAnswer with only a JSON object that follows this JSON schema: {schema}"
                    ));
                }
            }
        }
    }
    body["messages"] = messages.clone();
    (body.to_string(), messages)
}
