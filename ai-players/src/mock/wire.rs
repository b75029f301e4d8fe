//! The wire: reading a chat request (never trusting it) and the one place
//! where the mock's errors become OpenAI-style HTTP responses.

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::answer::TurnSchema;

/// The mock's token estimate: characters / 4, rounded up. A chat request's
/// prompt tokens are the estimate of all its messages' roles and contents
/// put together; completion tokens are the estimate of the reply's content.
pub fn estimate_tokens(text: &str) -> u64 {
    text.chars().count().div_ceil(4) as u64
}

/// What the mock needs from a `POST /v1/chat/completions` body.
#[derive(Debug)]
pub(crate) struct ChatRequest {
    pub model: String,
    pub prompt_tokens: u64,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u64>,
    /// The turn, if `response_format` (or, without one, the prompt, as a
    /// model would read it) carries a usable schema.
    pub schema: Option<TurnSchema>,
    /// `response_format.type`, if a `response_format` was sent.
    pub format_type: Option<String>,
}

impl ChatRequest {
    /// Parses and checks a body; every problem is a 400 naming the parameter.
    pub fn parse(body: &[u8]) -> Result<ChatRequest, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(
                format!(
                    "We could not parse the JSON body of your request ({e}). The OpenAI API expects a JSON payload."
                ),
                None,
            )
        })?;
        let Value::Object(request) = value else {
            return Err(ApiError::bad_request(
                "The request body must be a JSON object.",
                None,
            ));
        };
        let model = match request.get("model") {
            Some(Value::String(model)) if !model.is_empty() => model.clone(),
            _ => {
                return Err(ApiError::bad_request(
                    "You must provide a model parameter.",
                    Some("model"),
                ));
            }
        };
        let messages = match request.get("messages") {
            Some(Value::Array(messages)) if !messages.is_empty() => messages,
            Some(Value::Array(_)) => {
                return Err(ApiError::bad_request(
                    "[] is too short - 'messages'",
                    Some("messages"),
                ));
            }
            _ => {
                return Err(ApiError::bad_request(
                    "'messages' is a required property",
                    Some("messages"),
                ));
            }
        };
        let mut prompt_chars = 0;
        for (i, message) in messages.iter().enumerate() {
            let role = message.get("role").and_then(Value::as_str);
            let Some(role) = role else {
                return Err(ApiError::bad_request(
                    format!("Invalid value for 'messages[{i}].role': expected a string."),
                    Some("messages"),
                ));
            };
            prompt_chars += role.chars().count() + content_chars(message.get("content"), i)?;
        }
        let max_tokens = match ["max_completion_tokens", "max_tokens"]
            .into_iter()
            .find_map(|name| request.get(name).filter(|v| !v.is_null()).map(|v| (name, v)))
        {
            None => None,
            Some((name, value)) => match value.as_u64() {
                Some(n) if n >= 1 => Some(n),
                _ => {
                    return Err(ApiError::bad_request(
                        format!("Invalid '{name}': expected an integer of at least 1."),
                        Some(name),
                    ));
                }
            },
        };
        if let Some(t) = request.get("temperature").filter(|v| !v.is_null())
            && !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t))
        {
            return Err(ApiError::bad_request(
                "Invalid 'temperature': expected a number between 0 and 2.",
                Some("temperature"),
            ));
        }
        let format = request.get("response_format").filter(|f| !f.is_null());
        let format_type = format.map(|f| {
            f.get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        });
        let schema = match format {
            Some(format) => TurnSchema::from_response_format(format),
            None => TurnSchema::from_prompt(messages),
        };
        Ok(ChatRequest {
            model,
            prompt_tokens: prompt_chars.div_ceil(4) as u64,
            max_tokens,
            schema,
            format_type,
        })
    }
}

/// Characters of a message's content: a string, text parts, or null.
fn content_chars(content: Option<&Value>, i: usize) -> Result<usize, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(text)) => Ok(text.chars().count()),
        Some(Value::Array(parts)) => Ok(parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .map(|t| t.chars().count())
            .sum()),
        Some(_) => Err(ApiError::bad_request(
            format!("Invalid type for 'messages[{i}].content': expected a string or an array."),
            Some("messages"),
        )),
    }
}

/// Which budget a 429 is about (OpenAI's `error.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LimitKind {
    Requests,
    Tokens,
}

/// Every non-200 answer of the mock. Messages never echo the API key.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 401: no `Authorization: Bearer` header.
    MissingKey,
    /// 401: a key that is not the configured one.
    WrongKey,
    /// 400 (or the body rejection's own status, e.g. 413).
    BadRequest {
        status: StatusCode,
        message: String,
        param: Option<&'static str>,
    },
    /// 404: a model the mock does not serve.
    ModelNotFound(String),
    /// 404: no such route.
    UnknownRoute(String),
    /// 429, from the budgets or forced.
    RateLimited { kind: LimitKind, message: String },
    /// 503: too many requests in flight, or a forced overload.
    Overloaded,
    /// 503: the server is shutting down.
    ShuttingDown,
    /// 500: an injected fault.
    Internal,
    /// 500: a `response_format` the server cannot handle (llama-cpp-python
    /// answers `json_schema` so).
    UnsupportedFormat(String),
    /// 504: a hanging request gave up.
    Timeout,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>, param: Option<&'static str>) -> ApiError {
        ApiError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            param,
        }
    }

    /// The body could not be read (too large, not UTF-8...).
    pub fn rejected(rejection: BytesRejection) -> ApiError {
        ApiError::BadRequest {
            status: rejection.status(),
            message: rejection.body_text(),
            param: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingKey | ApiError::WrongKey => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest { status, .. } => *status,
            ApiError::ModelNotFound(_) | ApiError::UnknownRoute(_) => StatusCode::NOT_FOUND,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Overloaded | ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal | ApiError::UnsupportedFormat(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// `(message, type, code, param)` of the OpenAI error object.
    fn parts(&self) -> (String, &'static str, Option<&'static str>, Option<&'static str>) {
        let invalid = "invalid_request_error";
        match self {
            ApiError::MissingKey => (
                "You didn't provide an API key. You need to provide your API key in an Authorization header \
                 using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
                    .to_owned(),
                invalid,
                Some("invalid_api_key"),
                None,
            ),
            ApiError::WrongKey => (
                "Incorrect API key provided. You can find your API key in the mock's configuration."
                    .to_owned(),
                invalid,
                Some("invalid_api_key"),
                None,
            ),
            ApiError::BadRequest { message, param, .. } => (message.clone(), invalid, None, *param),
            ApiError::ModelNotFound(model) => (
                format!("The model `{model}` does not exist or you do not have access to it."),
                invalid,
                Some("model_not_found"),
                Some("model"),
            ),
            ApiError::UnknownRoute(route) => (format!("Invalid URL ({route})"), invalid, None, None),
            ApiError::RateLimited { kind, message } => (
                message.clone(),
                match kind {
                    LimitKind::Requests => "requests",
                    LimitKind::Tokens => "tokens",
                },
                Some("rate_limit_exceeded"),
                None,
            ),
            ApiError::Overloaded => (
                "server busy, please try again. maximum pending requests exceeded".to_owned(),
                "server_error",
                Some("overloaded"),
                None,
            ),
            ApiError::ShuttingDown => (
                "The server is shutting down.".to_owned(),
                "server_error",
                Some("shutting_down"),
                None,
            ),
            ApiError::Internal => (
                "The server had an error while processing your request. Sorry about that!".to_owned(),
                "server_error",
                None,
                None,
            ),
            ApiError::UnsupportedFormat(kind) => (
                format!(
                    "Unsupported response_format type {kind:?}: expected 'text' or 'json_object' \
                     (with an optional 'schema')"
                ),
                "server_error",
                None,
                Some("response_format"),
            ),
            ApiError::Timeout => (
                "The server timed out waiting for the model.".to_owned(),
                "server_error",
                Some("timeout"),
                None,
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (message, kind, code, param) = self.parts();
        let body = json!({"error": {"message": message, "type": kind, "param": param, "code": code}});
        (self.status(), Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_chat_request() {
        let body = json!({"model": "m", "max_tokens": 60, "temperature": 0.2,
            "messages": [{"role": "system", "content": "abcd"}, {"role": "user", "content": [{"type": "text", "text": "é"}]}]});
        let request = ChatRequest::parse(body.to_string().as_bytes()).expect("valid");
        // "system" + "abcd" + "user" + "é" = 15 characters -> 4 tokens.
        assert_eq!(request.prompt_tokens, 4);
        assert_eq!(request.max_tokens, Some(60));
        assert!(request.schema.is_none());
    }

    #[test]
    fn rejects_bad_requests_with_a_400() {
        for body in [
            "not json",
            "[1]",
            r#"{"messages": [{"role": "user", "content": "hi"}]}"#,
            r#"{"model": "m", "messages": []}"#,
            r#"{"model": "m", "messages": [{"content": "hi"}]}"#,
            r#"{"model": "m", "messages": [{"role": "user", "content": 5}]}"#,
            r#"{"model": "m", "max_tokens": -3, "messages": [{"role": "user", "content": "hi"}]}"#,
            r#"{"model": "m", "temperature": "hot", "messages": [{"role": "user", "content": "hi"}]}"#,
        ] {
            let error = ChatRequest::parse(body.as_bytes()).expect_err(body);
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{body}");
        }
    }
}
