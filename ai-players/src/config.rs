//! The executor's configuration, read from TOML: providers, their models,
//! limits and prices. API keys are never in the file, only the name of the
//! environment variable that holds one.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML did not parse or has wrong types.
    #[error("invalid LLM config: {0}")]
    Parse(String),
    /// A value makes no sense (zero limits, duplicate names, ...).
    #[error("invalid LLM config: {0}")]
    Invalid(String),
    /// The file could not be read.
    #[error("cannot read LLM config {path}: {error}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        error: String,
    },
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Executor-wide settings.
    #[serde(default)]
    pub executor: ExecutorSettings,
    /// The providers agents may use.
    #[serde(default, rename = "provider")]
    pub providers: Vec<ProviderConfig>,
}

/// Limits and timings shared by every call.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorSettings {
    /// Requests in flight across all providers.
    pub max_in_flight: usize,
    /// Requests waiting for capacity across all lanes; beyond this a call
    /// fails fast (and its agent falls back) instead of queueing without bound.
    pub max_queued: usize,
    /// Share (0..1) of every model's request budget and in-flight slots that
    /// `bulk` calls may never use, kept for `live` (and `watched`) tables.
    pub live_reserve: f64,
    /// TCP/TLS connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Upper bound of one HTTP attempt, milliseconds (the turn's deadline
    /// usually ends it sooner).
    pub request_timeout_ms: u64,
    /// Retries after the first attempt (429, 5xx, timeouts, connection errors only).
    pub max_retries: u32,
    /// First backoff step, milliseconds (full jitter, doubling).
    pub backoff_base_ms: u64,
    /// Largest backoff step, milliseconds.
    pub backoff_max_ms: u64,
    /// Consecutive failures that open a provider's circuit breaker.
    pub breaker_failures: u32,
    /// How long an open breaker fails calls fast before letting a probe through, milliseconds.
    pub breaker_cooldown_ms: u64,
    /// Entries in the response cache for identical temperature-0 prompts (0 = off).
    pub cache_entries: usize,
    /// How long a cached response stays valid, seconds.
    pub cache_ttl_secs: u64,
    /// Most USD the executor spends per UTC day over all models (`None`: no
    /// limit). Once reached, calls fail at once with a clear error (agents
    /// fall back to their bots, recorded as `budget`) until the day ends.
    pub daily_budget_usd: Option<f64>,
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        ExecutorSettings {
            max_in_flight: 256,
            max_queued: 20_000,
            live_reserve: 0.1,
            connect_timeout_ms: 3_000,
            request_timeout_ms: 60_000,
            max_retries: 6,
            backoff_base_ms: 250,
            backoff_max_ms: 10_000,
            breaker_failures: 8,
            breaker_cooldown_ms: 15_000,
            cache_entries: 0,
            cache_ttl_secs: 600,
            daily_budget_usd: None,
        }
    }
}

impl ExecutorSettings {
    /// Connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
    /// Per-attempt timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
    /// Breaker cooldown.
    pub fn breaker_cooldown(&self) -> Duration {
        Duration::from_millis(self.breaker_cooldown_ms)
    }
}

/// What kind of server a provider is, which decides how it is limited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// A hosted API with RPM/TPM budgets and `x-ratelimit-*` headers (OpenAI and compatible).
    #[default]
    Hosted,
    /// A local server (vLLM, llama.cpp, Ollama): no rate-limit headers,
    /// limited by in-flight slots; 503 means "queue full, back off".
    Local,
}

/// One OpenAI-compatible endpoint.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Name used in agent specs (`llm:NAME/model`).
    pub name: String,
    /// Base URL up to and including `/v1`.
    pub base_url: String,
    /// Environment variable holding the API key (none for local servers).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Hosted or local.
    #[serde(default)]
    pub kind: ProviderKind,
    /// Models served, with their limits and prices.
    #[serde(rename = "model")]
    pub models: Vec<ModelConfig>,
}

/// How a model is asked for its answer's JSON shape. Providers differ
/// exactly here: OpenAI and vLLM take `json_schema`; llama.cpp's servers
/// take `json_object` with a `schema`; others take neither.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    /// Start with `json_schema`; if the provider rejects the request's
    /// shape, step down to `json_object`, then `none`, once each, for this
    /// model (logged and counted), retrying the same turn.
    #[default]
    Auto,
    /// `response_format: {"type": "json_schema", "json_schema": {"strict": true, "schema": …}}`.
    JsonSchema,
    /// `response_format: {"type": "json_object", "schema": …}`.
    JsonObject,
    /// No `response_format`: the schema is written into the prompt and the
    /// tolerant reply parser does the rest.
    None,
}

impl StructuredOutput {
    /// The mode's name in configs, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            StructuredOutput::Auto => "auto",
            StructuredOutput::JsonSchema => "json_schema",
            StructuredOutput::JsonObject => "json_object",
            StructuredOutput::None => "none",
        }
    }

    /// The next mode `auto` tries after this one was rejected, if any.
    pub fn downgrade(self) -> Option<StructuredOutput> {
        match self {
            StructuredOutput::Auto | StructuredOutput::JsonSchema => Some(StructuredOutput::JsonObject),
            StructuredOutput::JsonObject => Some(StructuredOutput::None),
            StructuredOutput::None => None,
        }
    }
}

/// One model's limits and prices.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The model name sent to the provider.
    pub name: String,
    /// Requests per minute (0 = unlimited, for local servers).
    #[serde(default)]
    pub rpm: u32,
    /// Tokens per minute (0 = unlimited).
    #[serde(default)]
    pub tpm: u64,
    /// Requests in flight to this model.
    #[serde(default = "default_model_in_flight")]
    pub max_in_flight: usize,
    /// `max_tokens` sent with each call (keep it tight: TPM is charged on it).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// USD per million prompt tokens.
    #[serde(default)]
    pub input_usd_per_mtok: f64,
    /// USD per million completion tokens.
    #[serde(default)]
    pub output_usd_per_mtok: f64,
    /// How the answer's JSON schema is sent (default `auto`).
    #[serde(default)]
    pub structured_output: StructuredOutput,
    /// The model's context window in tokens (the server's `n_ctx` for a
    /// local model). A prompt that would not fit with `max_tokens` is
    /// shortened by the player, or refused with a clear error, instead of
    /// being sent. `None`: unknown, not checked.
    #[serde(default)]
    pub context_tokens: Option<u32>,
    /// Models (`provider/model`, each in this file) tried in order when this
    /// one cannot answer (provider errors, rejections, an open breaker, the
    /// daily budget), before a bot acts. Each step is recorded.
    #[serde(default)]
    pub fallback_models: Vec<String>,
    /// A name for the model's seats, shown at tables instead of `provider/model`.
    #[serde(default)]
    pub label: Option<String>,
}

fn default_model_in_flight() -> usize {
    64
}

fn default_max_tokens() -> u32 {
    160
}

impl ModelConfig {
    /// Cost in USD of a call with these token counts.
    pub fn cost_usd(&self, prompt: u64, completion: u64) -> f64 {
        (prompt as f64 * self.input_usd_per_mtok + completion as f64 * self.output_usd_per_mtok) / 1e6
    }
}

impl LlmConfig {
    /// Parses and checks a TOML config.
    pub fn from_toml(text: &str) -> Result<LlmConfig, ConfigError> {
        let config: LlmConfig = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and checks a TOML config file.
    pub fn from_file(path: &str) -> Result<LlmConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_string(),
            error: e.to_string(),
        })?;
        LlmConfig::from_toml(&text)
    }

    /// Checks limits and names.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.executor;
        if s.max_in_flight == 0 || s.max_queued == 0 {
            return Err(ConfigError::Invalid(
                "max_in_flight and max_queued must be positive".into(),
            ));
        }
        if !(0.0..1.0).contains(&s.live_reserve) {
            return Err(ConfigError::Invalid("live_reserve must be in 0..1".into()));
        }
        if s.backoff_base_ms == 0 || s.backoff_max_ms < s.backoff_base_ms {
            return Err(ConfigError::Invalid(
                "backoff_base_ms must be positive and at most backoff_max_ms".into(),
            ));
        }
        let mut names = HashSet::new();
        for p in &self.providers {
            if !names.insert(p.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "provider {:?} appears twice",
                    p.name
                )));
            }
            if !p.base_url.starts_with("http://") && !p.base_url.starts_with("https://") {
                return Err(ConfigError::Invalid(format!(
                    "provider {:?}: base_url must be http(s)",
                    p.name
                )));
            }
            let mut models = HashSet::new();
            for m in &p.models {
                if !models.insert(m.name.as_str()) {
                    return Err(ConfigError::Invalid(format!(
                        "model {:?} appears twice in {:?}",
                        m.name, p.name
                    )));
                }
                if m.max_in_flight == 0 || m.max_tokens == 0 {
                    return Err(ConfigError::Invalid(format!(
                        "model {:?}: max_in_flight and max_tokens must be positive",
                        m.name
                    )));
                }
                if let Some(context) = m.context_tokens
                    && context <= m.max_tokens
                {
                    return Err(ConfigError::Invalid(format!(
                        "model {:?}: context_tokens ({context}) must exceed max_tokens ({})",
                        m.name, m.max_tokens
                    )));
                }
            }
        }
        if self
            .executor
            .daily_budget_usd
            .is_some_and(|b| !(b.is_finite() && b > 0.0))
        {
            return Err(ConfigError::Invalid(
                "daily_budget_usd must be a positive number".into(),
            ));
        }
        for p in &self.providers {
            for m in &p.models {
                for target in &m.fallback_models {
                    let found = target
                        .split_once('/')
                        .and_then(|(provider, model)| self.model(provider, model));
                    if found.is_none() {
                        return Err(ConfigError::Invalid(format!(
                            "model {}/{}: fallback model {target:?} is not in this file (write it provider/model)",
                            p.name, m.name
                        )));
                    }
                    if *target == format!("{}/{}", p.name, m.name) {
                        return Err(ConfigError::Invalid(format!(
                            "model {}/{} names itself as a fallback",
                            p.name, m.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The model entry for `provider`/`model`.
    pub fn model(&self, provider: &str, model: &str) -> Option<(&ProviderConfig, &ModelConfig)> {
        let p = self.providers.iter().find(|p| p.name == provider)?;
        Some((p, p.models.iter().find(|m| m.name == model)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_config_parses() {
        let config = LlmConfig::from_toml(
            r#"
            [executor]
            max_in_flight = 100
            live_reserve = 0.2

            [[provider]]
            name = "openai"
            base_url = "https://api.openai.com/v1"
            api_key_env = "OPENAI_API_KEY"

            [[provider.model]]
            name = "gpt-4o-mini"
            rpm = 500
            tpm = 200000
            input_usd_per_mtok = 0.15
            output_usd_per_mtok = 0.6

            [[provider]]
            name = "ollama"
            base_url = "http://127.0.0.1:11434/v1"
            kind = "local"

            [[provider.model]]
            name = "llama3"
            max_in_flight = 4
            "#,
        )
        .unwrap();
        assert_eq!(config.executor.max_in_flight, 100);
        let (p, m) = config.model("openai", "gpt-4o-mini").unwrap();
        assert_eq!(p.kind, ProviderKind::Hosted);
        assert!((m.cost_usd(1_000_000, 1_000_000) - 0.75).abs() < 1e-9);
        assert_eq!(
            config.model("ollama", "llama3").unwrap().0.kind,
            ProviderKind::Local
        );
    }

    #[test]
    fn bad_configs_are_refused_with_a_reason() {
        assert!(LlmConfig::from_toml("[executor]\nlive_reserve = 1.5").is_err());
        assert!(LlmConfig::from_toml("[executor]\nunknown = 1").is_err());
        let dup = "[[provider]]\nname='a'\nbase_url='http://x/v1'\n[[provider.model]]\nname='m'\n\
                   [[provider]]\nname='a'\nbase_url='http://x/v1'\n[[provider.model]]\nname='m'\n";
        assert!(matches!(LlmConfig::from_toml(dup), Err(ConfigError::Invalid(_))));
        let scheme = "[[provider]]\nname='a'\nbase_url='ftp://x'\n[[provider.model]]\nname='m'\n";
        assert!(matches!(
            LlmConfig::from_toml(scheme),
            Err(ConfigError::Invalid(_))
        ));
        let base = "[[provider]]\nname='a'\nbase_url='http://x/v1'\n[[provider.model]]\nname='m'\n";
        for bad in [
            format!("{base}fallback_models=['a/nope']\n"),
            format!("{base}fallback_models=['a/m']\n"),
            format!("{base}context_tokens=100\nmax_tokens=160\n"),
            format!("{base}structured_output='xml'\n"),
            format!("[executor]\ndaily_budget_usd=-1\n{base}"),
        ] {
            assert!(LlmConfig::from_toml(&bad).is_err(), "{bad}");
        }
        let good = format!(
            "{base}structured_output='json_object'\ncontext_tokens=2048\nfallback_models=['a/n']\n\
             [[provider.model]]\nname='n'\n"
        );
        let config = LlmConfig::from_toml(&good).expect("valid");
        let (_, m) = config.model("a", "m").expect("model");
        assert_eq!(m.structured_output, StructuredOutput::JsonObject);
        assert_eq!(m.context_tokens, Some(2048));
        assert_eq!(
            config.model("a", "n").expect("n").1.structured_output,
            StructuredOutput::Auto
        );
    }
}

#[cfg(test)]
mod example {
    #[test]
    fn the_documented_example_config_is_valid() {
        let text = include_str!("../../docs/llm.example.toml");
        let config = super::LlmConfig::from_toml(text).expect("docs/llm.example.toml parses");
        assert_eq!(config.providers.len(), 4);
    }

    #[test]
    fn the_mock_demo_config_is_valid() {
        let text = include_str!("../../docs/llm.mock.toml");
        let config = super::LlmConfig::from_toml(text).expect("docs/llm.mock.toml parses");
        assert_eq!(config.providers.len(), 1);
    }
}
