//! The LLM executor: one per process, shared by every table. Every model
//! call goes through it, so it can bound what is in flight, pace calls to
//! each provider's budgets, serve `live` tables first, retry only what is
//! worth retrying, fail fast when a provider is down, and account for
//! every call.
//!
//! # Layout
//! - [`gate`]: per-model budgets, slots and lane queues (the pacing).
//! - [`breaker`]: per-provider circuit breaker.
//! - [`headers`]: `x-ratelimit-*` and `Retry-After` parsing.

//! - `request`: the request an agent makes ([`ChatRequest`]) and the body
//!   sent for it in the model's structured-output mode.
//! - `reply`: what comes back ([`ChatReply`], [`CallError`], [`CallResult`])
//!   and how a chat completion is read.
//! - `attempt`: what one HTTP attempt amounted to (reply, rate limit,
//!   failure worth a retry, rejection, refused format).
//! - `call`: the call path ([`Executor::complete`]): cache and single
//!   flight, breaker and gate admission, retries with jittered backoff.
//! - `record`: the one usage record every call leaves.
//! - `cache`: the response cache for identical temperature-0 calls.
//!
//! This file holds the executor itself: its models and providers, how it
//! is built from the config, what it tells about them, the daily budget and
//! the context-window check.

mod attempt;
pub mod breaker;
mod cache;
mod call;
pub mod gate;
pub mod headers;
mod record;
mod reply;
mod request;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::config::{ExecutorSettings, LlmConfig, ModelConfig, ProviderKind, StructuredOutput};
use crate::usage::{UsageSink, now_ms};
use breaker::CircuitBreaker;
use cache::ReplyCache;
use gate::{Gate, GateLimits};
pub use reply::{CallError, CallResult, ChatReply};
pub use request::ChatRequest;

struct Model {
    provider: Arc<Provider>,
    config: ModelConfig,
    gate: Arc<Gate>,
    /// The structured-output mode in use (a [`StructuredOutput`] as u8):
    /// `auto` models start at `json_schema` and step down when rejected.
    format: AtomicU8,
    /// Times `auto` stepped down for this model.
    downgrades: AtomicU64,
    /// The provider's last error for this model (status and body), for
    /// reports that must say why a model could not play.
    last_error: Mutex<Option<String>>,
}

impl Model {
    fn format(&self) -> StructuredOutput {
        format_from(self.format.load(Ordering::Relaxed))
    }
}

const FORMATS: [StructuredOutput; 4] = [
    StructuredOutput::Auto,
    StructuredOutput::JsonSchema,
    StructuredOutput::JsonObject,
    StructuredOutput::None,
];

fn format_from(n: u8) -> StructuredOutput {
    FORMATS
        .get(usize::from(n))
        .copied()
        .unwrap_or(StructuredOutput::None)
}

fn format_to(format: StructuredOutput) -> u8 {
    FORMATS.iter().position(|f| *f == format).unwrap_or(3) as u8
}

struct Provider {
    name: String,
    url: String,
    api_key: Option<String>,
    kind: ProviderKind,
    breaker: CircuitBreaker,
}

/// The executor. Cheap to clone; all clones share one client, one set of
/// budgets and one sink.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    models: HashMap<(String, String), Model>,
    settings: ExecutorSettings,
    in_flight: Arc<Semaphore>,
    sink: UsageSink,
    jitter: Mutex<game_core::sim::SplitMix64>,
    cache: Mutex<ReplyCache>,
    /// Identical cacheable calls in flight: followers wait for the leader's reply.
    flights: Mutex<HashMap<u64, Vec<tokio::sync::oneshot::Sender<ChatReply>>>>,
    /// USD spent on the current UTC day: (day number, USD).
    spend: Mutex<(u64, f64)>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print keys: only names.
        let mut names: Vec<String> = self
            .inner
            .models
            .keys()
            .map(|(p, m)| format!("{p}/{m}"))
            .collect();
        names.sort();
        f.debug_struct("Executor").field("models", &names).finish()
    }
}

/// Why the executor could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// A provider's key variable is named but not set.
    #[error("provider {provider}: environment variable {var} is not set")]
    MissingKey {
        /// Provider.
        provider: String,
        /// The variable.
        var: String,
    },
}

impl Executor {
    /// Builds the executor (must run inside a tokio runtime: each model's
    /// gate has a driver task). Reads API keys from the environment.
    pub fn new(config: &LlmConfig, sink: UsageSink) -> Result<Executor, ExecutorError> {
        let settings = config.executor.clone();
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout())
            .timeout(settings.request_timeout())
            .read_timeout(settings.request_timeout())
            .pool_max_idle_per_host(settings.max_in_flight)
            .build()
            .map_err(|e| ExecutorError::Client(e.to_string()))?;
        let mut models = HashMap::new();
        for p in &config.providers {
            let api_key = match &p.api_key_env {
                Some(var) => Some(std::env::var(var).map_err(|_| ExecutorError::MissingKey {
                    provider: p.name.clone(),
                    var: var.clone(),
                })?),
                None => None,
            };
            let provider = Arc::new(Provider {
                name: p.name.clone(),
                url: format!("{}/chat/completions", p.base_url.trim_end_matches('/')),
                api_key,
                kind: p.kind,
                breaker: CircuitBreaker::new(settings.breaker_failures, settings.breaker_cooldown()),
            });
            for m in &p.models {
                let gate = Gate::start(GateLimits {
                    rpm: m.rpm,
                    tpm: m.tpm,
                    max_in_flight: m.max_in_flight,
                    live_reserve: settings.live_reserve,
                    max_queued: settings.max_queued,
                });
                let start = match m.structured_output {
                    StructuredOutput::Auto => StructuredOutput::JsonSchema,
                    fixed => fixed,
                };
                models.insert(
                    (p.name.clone(), m.name.clone()),
                    Model {
                        provider: Arc::clone(&provider),
                        config: m.clone(),
                        gate,
                        format: AtomicU8::new(format_to(start)),
                        downgrades: AtomicU64::new(0),
                        last_error: Mutex::new(None),
                    },
                );
            }
        }
        Ok(Executor {
            inner: Arc::new(Inner {
                client,
                models,
                in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
                cache: Mutex::new(ReplyCache::new(settings.cache_entries, settings.cache_ttl_secs)),
                flights: Mutex::new(HashMap::new()),
                settings,
                sink,
                jitter: Mutex::new(game_core::sim::SplitMix64::new(now_ms())),
                spend: Mutex::new((utc_day(now_ms()), 0.0)),
            }),
        })
    }

    fn model(&self, provider: &str, model: &str) -> Option<&Model> {
        self.inner.models.get(&(provider.to_string(), model.to_string()))
    }

    /// Every configured model, as `(provider, model)`, sorted.
    pub fn models(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self.inner.models.keys().cloned().collect();
        all.sort();
        all
    }

    /// The structured-output mode a model is asked with now (`auto` models
    /// report the step they are at).
    pub fn structured_output(&self, provider: &str, model: &str) -> Option<StructuredOutput> {
        self.model(provider, model).map(Model::format)
    }

    /// How often `auto` stepped a model down to a simpler structured-output mode.
    pub fn format_downgrades(&self, provider: &str, model: &str) -> u64 {
        self.model(provider, model)
            .map_or(0, |m| m.downgrades.load(Ordering::Relaxed))
    }

    /// The provider's last error for a model (status and the start of the
    /// body), if any call to it failed.
    pub fn last_error(&self, provider: &str, model: &str) -> Option<String> {
        self.model(provider, model)
            .and_then(|m| m.last_error.lock().clone())
    }

    /// A model's context window, if configured.
    pub fn context_tokens(&self, provider: &str, model: &str) -> Option<u32> {
        self.model(provider, model).and_then(|m| m.config.context_tokens)
    }

    /// The models to try, in order, when this one cannot answer.
    pub fn fallback_models(&self, provider: &str, model: &str) -> Vec<(String, String)> {
        self.model(provider, model).map_or_else(Vec::new, |m| {
            m.config
                .fallback_models
                .iter()
                .filter_map(|t| t.split_once('/'))
                .map(|(p, m)| (p.to_owned(), m.to_owned()))
                .collect()
        })
    }

    /// The name a model's seats go by at tables, if configured.
    pub fn label(&self, provider: &str, model: &str) -> Option<String> {
        self.model(provider, model).and_then(|m| m.config.label.clone())
    }

    /// The daily budget, USD, if any.
    pub fn daily_budget_usd(&self) -> Option<f64> {
        self.inner.settings.daily_budget_usd
    }

    /// USD spent today (UTC) by this executor, plus what [`Executor::add_spent_today`] added.
    pub fn spent_today(&self) -> f64 {
        let mut spend = self.inner.spend.lock();
        roll_day(&mut spend);
        spend.1
    }

    /// Counts `usd` spent today before this executor started (read back
    /// from the store at start-up, so a restart does not reset the budget).
    pub fn add_spent_today(&self, usd: f64) {
        let mut spend = self.inner.spend.lock();
        roll_day(&mut spend);
        spend.1 += usd.max(0.0);
    }

    /// Tokens a prompt is counted as against a context window: a cautious
    /// estimate (3 characters a token, 8 per message for the chat
    /// template), since the provider's tokenizer is not known here.
    pub fn prompt_tokens_estimate(messages: &Value) -> u64 {
        let Some(messages) = messages.as_array() else {
            return 0;
        };
        messages
            .iter()
            .map(|m| {
                let text = m.get("content").and_then(Value::as_str).unwrap_or_default();
                (text.chars().count() as u64).div_ceil(3) + 8
            })
            .sum()
    }

    /// Whether `messages` with the model's `max_tokens` fit its context
    /// window (always true when no window is configured).
    pub fn fits_context(&self, provider: &str, model: &str, messages: &Value) -> bool {
        self.context_check(provider, model, messages).is_ok()
    }

    fn context_check(&self, provider: &str, model: &str, messages: &Value) -> Result<(), CallError> {
        let Some(m) = self.model(provider, model) else {
            return Ok(());
        };
        let Some(context) = m.config.context_tokens else {
            return Ok(());
        };
        let tokens = Executor::prompt_tokens_estimate(messages) + u64::from(m.config.max_tokens);
        if tokens > u64::from(context) {
            return Err(CallError::ContextExceeded { tokens, context });
        }
        Ok(())
    }

    /// The configured `max_tokens` of a model, if it exists.
    pub fn max_tokens(&self, provider: &str, model: &str) -> Option<u32> {
        self.inner
            .models
            .get(&(provider.to_string(), model.to_string()))
            .map(|m| m.config.max_tokens)
    }

    /// Calls waiting per lane for a model (for metrics and tests).
    pub fn queued(&self, provider: &str, model: &str) -> Option<[usize; 3]> {
        self.inner
            .models
            .get(&(provider.to_string(), model.to_string()))
            .map(|m| m.gate.queued())
    }

    /// Records the executor could not hand to the sink (full).
    pub fn dropped_records(&self) -> u64 {
        self.inner.sink.dropped()
    }
}

/// The day number (days since the Unix epoch, UTC) of a time in ms.
fn utc_day(ms: u64) -> u64 {
    ms / 86_400_000
}

/// Starts a new day's count when the UTC day changed.
fn roll_day(spend: &mut (u64, f64)) {
    let today = utc_day(now_ms());
    if spend.0 != today {
        *spend = (today, 0.0);
    }
}
