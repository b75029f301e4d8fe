//! What the simulated provider imitates: its mode, models, key, budgets,
//! latency, faults and playing style. `MockConfig::default()` is the fast,
//! well-behaved provider of unit tests.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::server::MockError;

/// Which kind of real provider the mock imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// OpenAI: RPM/TPM budgets per model, `x-ratelimit-*` headers, 429 when over.
    #[default]
    #[serde(rename = "openai")]
    OpenAi,
    /// Ollama (also vLLM, llama.cpp): no budgets and no rate-limit headers;
    /// 503 at once when `max_in_flight` requests are already queued.
    #[serde(rename = "ollama")]
    Ollama,
}

/// Which `response_format` types the mock accepts, like the real servers
/// it imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatSupport {
    /// `json_schema`, `json_object` (with or without a `schema`) and `text`
    /// (OpenAI, vLLM).
    #[default]
    All,
    /// Like llama-cpp-python's server: `json_schema` gets a 500 whose body
    /// names the `response_format`; `json_object` with a `schema` is taken.
    NoJsonSchema,
    /// Any `response_format` but `text` gets a 400 (servers that take no
    /// structured output at all); the schema must be in the prompt.
    TextOnly,
}

/// An API key; its `Debug` form is redacted so configs can be logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(
    /// The key itself.
    pub String,
);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> ApiKey {
        ApiKey(key.to_owned())
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> ApiKey {
        ApiKey(key)
    }
}

/// One model's budgets (OpenAI mode). Each model has its own buckets,
/// refilled continuously at `limit / window`, with capacity `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Requests per window; `None`: unlimited, and no `*-requests` headers.
    pub rpm: Option<u64>,
    /// Tokens per window, charged at request time on the prompt estimate
    /// plus `max_tokens` (nothing more when the request sets none);
    /// `None`: unlimited, and no `*-tokens` headers.
    pub tpm: Option<u64>,
    /// The window in milliseconds: 60,000 like a real provider; tests shorten it.
    pub window_ms: u64,
    /// Probability that a 429 comes without `Retry-After` (real providers
    /// sometimes omit it).
    pub omit_retry_after: f64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            rpm: None,
            tpm: None,
            window_ms: 60_000,
            omit_retry_after: 0.0,
        }
    }
}

impl Limits {
    fn validate(&self, what: &str) -> Result<(), MockError> {
        if self.rpm == Some(0) || self.tpm == Some(0) {
            return invalid(format!(
                "{what}: rpm and tpm must be positive (omit them for no limit)"
            ));
        }
        if self.window_ms == 0 {
            return invalid(format!("{what}: window_ms must be positive"));
        }
        probability(self.omit_retry_after, &format!("{what}.omit_retry_after"))
    }
}

/// How long a request takes: log-normal with this median and 99th
/// percentile. Zero median: answer at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Latency {
    /// Median delay in milliseconds.
    pub median_ms: u64,
    /// 99th percentile in milliseconds; at most the median means a fixed delay.
    pub p99_ms: u64,
}

/// A way a reply can go wrong. Probabilities come from [`FaultRates`];
/// `MockServer::force_next` makes the next replies go wrong exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// 500 with an OpenAI-style error body.
    #[serde(rename = "error_500")]
    Error500,
    /// No answer until the client gives up, `hang_ms` passes (then 504) or
    /// the server shuts down (then 503).
    Hang,
    /// A 200 whose body is not valid JSON, or whose content is not JSON.
    Malformed,
    /// Valid JSON naming an action outside the schema's enum, or an amount
    /// outside its bounds.
    Illegal,
    /// Content cut in the middle, `finish_reason: "length"`.
    Truncated,
    /// A legal answer wrapped in prose or a `json` code fence.
    Prose,
    /// `message.refusal` set and `content` null.
    Refusal,
    /// A 429 regardless of budgets (nothing is charged).
    RateLimited,
    /// A 503 "overloaded".
    Overloaded,
}

impl Fault {
    /// Every fault, in the order probabilities are drawn.
    pub const ALL: [Fault; 9] = [
        Fault::Error500,
        Fault::Hang,
        Fault::Malformed,
        Fault::Illegal,
        Fault::Truncated,
        Fault::Prose,
        Fault::Refusal,
        Fault::RateLimited,
        Fault::Overloaded,
    ];

    /// The fault's name in configs, stats and logs.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Error500 => "error_500",
            Fault::Hang => "hang",
            Fault::Malformed => "malformed",
            Fault::Illegal => "illegal",
            Fault::Truncated => "truncated",
            Fault::Prose => "prose",
            Fault::Refusal => "refusal",
            Fault::RateLimited => "rate_limited",
            Fault::Overloaded => "overloaded",
        }
    }

    /// Position in [`Fault::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Probability per request of each fault, drawn after rate limiting; they
/// must add up to at most 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRates {
    /// See [`Fault::Error500`].
    pub error_500: f64,
    /// See [`Fault::Hang`].
    pub hang: f64,
    /// See [`Fault::Malformed`].
    pub malformed: f64,
    /// See [`Fault::Illegal`].
    pub illegal: f64,
    /// See [`Fault::Truncated`].
    pub truncated: f64,
    /// See [`Fault::Prose`].
    pub prose: f64,
    /// See [`Fault::Refusal`].
    pub refusal: f64,
    /// See [`Fault::RateLimited`].
    pub rate_limited: f64,
    /// See [`Fault::Overloaded`].
    pub overloaded: f64,
}

impl FaultRates {
    /// The probability of one fault.
    pub fn rate(&self, fault: Fault) -> f64 {
        match fault {
            Fault::Error500 => self.error_500,
            Fault::Hang => self.hang,
            Fault::Malformed => self.malformed,
            Fault::Illegal => self.illegal,
            Fault::Truncated => self.truncated,
            Fault::Prose => self.prose,
            Fault::Refusal => self.refusal,
            Fault::RateLimited => self.rate_limited,
            Fault::Overloaded => self.overloaded,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), MockError> {
        let mut sum = 0.0;
        for fault in Fault::ALL {
            probability(self.rate(fault), &format!("faults.{}", fault.name()))?;
            sum += self.rate(fault);
        }
        if sum > 1.0 + 1e-9 {
            return invalid(format!("fault probabilities add up to {sum}, more than 1"));
        }
        Ok(())
    }
}

/// How the mock plays when it answers legally.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Probability of betting or raising when that is legal.
    pub aggression: f64,
    /// Probability of folding when facing a bet (check not legal).
    pub fold_to_bet: f64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            aggression: 0.2,
            fold_to_bet: 0.15,
        }
    }
}

impl Policy {
    pub(crate) fn validate(&self) -> Result<(), MockError> {
        probability(self.aggression, "policy.aggression")?;
        probability(self.fold_to_bet, "policy.fold_to_bet")?;
        if self.aggression + self.fold_to_bet > 1.0 + 1e-9 {
            return invalid("policy: aggression + fold_to_bet must be at most 1".to_owned());
        }
        Ok(())
    }
}

/// Everything the simulated provider does. Deserialisable (TOML or JSON;
/// every field optional); the default has no limits, no latency, no faults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    /// OpenAI-like or Ollama-like.
    pub mode: Mode,
    /// Models listed at `/v1/models`, each with its own budgets.
    pub models: Vec<String>,
    /// 404 `model_not_found` for a model not in `models`; otherwise such
    /// requests are served and share one extra budget.
    pub reject_unknown_models: bool,
    /// If set, requests must carry `Authorization: Bearer <key>` (else 401).
    pub api_key: Option<ApiKey>,
    /// Seeds every random choice; sequential clients see the same replies.
    pub seed: u64,
    /// Budgets of every model (OpenAI mode only).
    pub limits: Limits,
    /// Budgets of particular models, instead of `limits`.
    pub model_limits: BTreeMap<String, Limits>,
    /// At most this many chat requests at once (queued or running); the next
    /// gets 503 at once. `None`: no bound. Applies in both modes.
    pub max_in_flight: Option<usize>,
    /// How many requests are worked on at once; the others wait in the queue
    /// (Ollama's `OLLAMA_NUM_PARALLEL`). `None`: all of them.
    pub parallel: Option<usize>,
    /// Time to answer.
    pub latency: Latency,
    /// Probability of each fault.
    pub faults: FaultRates,
    /// How long a hanging request waits before giving up with a 504.
    pub hang_ms: u64,
    /// How the legal answers play.
    pub policy: Policy,
    /// Which `response_format` types are accepted.
    pub response_formats: FormatSupport,
}

impl Default for MockConfig {
    fn default() -> MockConfig {
        MockConfig {
            mode: Mode::OpenAi,
            models: vec!["mock-llm".to_owned()],
            reject_unknown_models: false,
            api_key: None,
            seed: 0x5EED,
            limits: Limits::default(),
            model_limits: BTreeMap::new(),
            max_in_flight: None,
            parallel: None,
            latency: Latency::default(),
            faults: FaultRates::default(),
            hang_ms: 300_000,
            policy: Policy::default(),
            response_formats: FormatSupport::All,
        }
    }
}

impl MockConfig {
    /// Checks probabilities, bounds and limits; `MockLlm::start` calls it.
    pub fn validate(&self) -> Result<(), MockError> {
        self.limits.validate("limits")?;
        for (model, limits) in &self.model_limits {
            if !self.models.contains(model) {
                return invalid(format!("model_limits.{model}: not one of the models"));
            }
            limits.validate(&format!("model_limits.{model}"))?;
        }
        if self.max_in_flight == Some(0) || self.parallel == Some(0) {
            return invalid("max_in_flight and parallel must be positive".to_owned());
        }
        if self.models.iter().any(|m| m.is_empty()) {
            return invalid("model names must not be empty".to_owned());
        }
        self.faults.validate()?;
        self.policy.validate()
    }
}

fn probability(p: f64, what: &str) -> Result<(), MockError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        invalid(format!("{what} must be a probability in [0, 1], not {p}"))
    }
}

fn invalid(message: String) -> Result<(), MockError> {
    Err(MockError::InvalidConfig(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_toml_fields_are_optional() {
        assert!(MockConfig::default().validate().is_ok());
        let config: MockConfig = toml::from_str(
            "mode = \"ollama\"\nmax_in_flight = 4\n[limits]\nrpm = 60\n[faults]\nerror_500 = 0.1\n",
        )
        .expect("parses");
        assert_eq!(config.mode, Mode::Ollama);
        assert_eq!(config.limits.rpm, Some(60));
        assert_eq!(config.limits.window_ms, 60_000);
        assert_eq!(config.faults.error_500, 0.1);
        assert_eq!(config.models, vec!["mock-llm".to_owned()]);
    }

    #[test]
    fn rejects_bad_probabilities() {
        let mut config = MockConfig::default();
        config.faults.hang = 0.7;
        config.faults.prose = 0.7;
        assert!(config.validate().is_err());
        config.faults = FaultRates {
            refusal: 1.5,
            ..FaultRates::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn api_key_is_redacted_in_debug() {
        let config = MockConfig {
            api_key: Some("sk-secret-123".into()),
            ..MockConfig::default()
        };
        assert!(!format!("{config:?}").contains("sk-secret-123"));
    }
}
