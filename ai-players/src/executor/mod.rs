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

pub mod breaker;
pub mod gate;
pub mod headers;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::{Duration, Instant};

use crate::agent::{CallContext, Lane, TokenUsage};
use crate::config::{ExecutorSettings, LlmConfig, ModelConfig, ProviderKind, StructuredOutput};
use crate::usage::{CallOutcome, UsageRecord, UsageSink, now_ms};
use breaker::{Admission, CircuitBreaker};
use gate::{Gate, GateLimits};
use headers::RateLimitInfo;

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
    fn outcome(&self) -> CallOutcome {
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

    /// Makes one chat call within the request's deadline: waits for
    /// capacity in its lane, retries 429/5xx/timeouts/connection errors with
    /// jittered backoff, and leaves exactly one usage record, even when the
    /// caller drops the future (then it is marked `cancelled`).
    pub async fn complete(&self, request: ChatRequest) -> CallResult {
        let mut record = RecordGuard::new(self, &request);
        let result = self.run(&request, &mut record).await;
        record.finish(&result);
        result
    }

    async fn run(&self, request: &ChatRequest, record: &mut RecordGuard<'_>) -> CallResult {
        let mut result = CallResult {
            reply: Err(CallError::Deadline),
            queue_wait: Duration::ZERO,
            retries: 0,
            rate_limited: 0,
        };
        let key = (request.provider.clone(), request.model.clone());
        let Some(model) = self.inner.models.get(&key) else {
            result.reply = Err(CallError::UnknownModel {
                provider: request.provider.clone(),
                model: request.model.clone(),
            });
            return result;
        };
        if let Some(budget) = self.inner.settings.daily_budget_usd
            && self.spent_today() >= budget
        {
            *model.last_error.lock() = Some(CallError::DailyBudget { budget }.to_string());
            result.reply = Err(CallError::DailyBudget { budget });
            return result;
        }
        let mut format = model.format();
        let (mut body_text, messages) = request_body(request, &model.config, format);
        if let Err(e) = self.context_check(&request.provider, &request.model, &messages) {
            *model.last_error.lock() = Some(e.to_string());
            result.reply = Err(e);
            return result;
        }
        record.set_prompt(&messages);

        let cacheable = request.temperature == 0.0 && self.inner.settings.cache_entries > 0;
        let cache_key = cacheable.then(|| cache_key(&request.provider, &body_text));
        let mut _flight = None;
        if let Some(k) = cache_key {
            if let Some(reply) = self.inner.cache.lock().get(k) {
                result.reply = Ok(reply);
                return result;
            }
            // Single flight: if the same call is already under way, wait for
            // its reply instead of paying twice.
            let follower = {
                let mut flights = self.inner.flights.lock();
                match flights.get_mut(&k) {
                    Some(waiters) => {
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        waiters.push(tx);
                        Some(rx)
                    }
                    None => {
                        flights.insert(k, Vec::new());
                        None
                    }
                }
            };
            match follower {
                Some(rx) => {
                    if let Ok(Ok(mut reply)) = tokio::time::timeout_at(request.deadline, rx).await {
                        reply.cached = true;
                        reply.usage = TokenUsage::default();
                        result.reply = Ok(reply);
                        return result;
                    }
                    if Instant::now() >= request.deadline {
                        return result; // Deadline
                    }
                    // The leader failed or left: make the call ourselves.
                }
                None => {
                    _flight = Some(FlightGuard {
                        inner: &self.inner,
                        key: k,
                    })
                }
            }
        }

        // Reserve what TPM will be charged: the prompt estimate plus max_tokens.
        let estimate = (body_text.len() as u64).div_ceil(4) + u64::from(model.config.max_tokens);
        let provider = &model.provider;
        let mut attempt = 0u32;
        let mut failures = 0u32;
        loop {
            let probe = match provider.breaker.admit() {
                Admission::Rejected => {
                    result.reply = Err(CallError::CircuitOpen(provider.name.clone()));
                    return result;
                }
                Admission::Probe => true,
                Admission::Allowed => false,
            };
            let mut probe_guard = ProbeGuard {
                breaker: &provider.breaker,
                armed: probe,
            };
            let queued_at = Instant::now();
            let Ok(receiver) = model.gate.enqueue(request.lane, estimate) else {
                result.reply = Err(CallError::Overloaded);
                return result;
            };
            let permit = match tokio::time::timeout_at(request.deadline, receiver).await {
                Ok(Ok(permit)) => permit,
                _ => {
                    result.queue_wait += queued_at.elapsed();
                    result.reply = Err(CallError::Deadline);
                    return result;
                }
            };
            let Ok(Ok(_global)) = tokio::time::timeout_at(
                request.deadline,
                Arc::clone(&self.inner.in_flight).acquire_owned(),
            )
            .await
            else {
                result.queue_wait += queued_at.elapsed();
                result.reply = Err(CallError::Deadline);
                return result;
            };
            result.queue_wait += queued_at.elapsed();

            let remaining = request.deadline.saturating_duration_since(Instant::now());
            let mut http = self
                .inner
                .client
                .post(&provider.url)
                .timeout(remaining.min(self.inner.settings.request_timeout()))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body_text.clone());
            if let Some(key) = &provider.api_key {
                http = http.bearer_auth(key);
            }
            let outcome = match http.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    record.status = Some(status);
                    let info = RateLimitInfo::from_headers(response.headers());
                    let text = response.text().await;
                    let structured = request.schema.is_some() && format != StructuredOutput::None;
                    Attempt::classify(status, info, text, provider.kind, structured)
                }
                // Cut short by the caller's deadline: not the provider's fault.
                Err(e) if e.is_timeout() && remaining < self.inner.settings.request_timeout() => {
                    Attempt::OutOfTime
                }
                Err(e) if e.is_timeout() => Attempt::Failed(format!("timeout after {remaining:?}")),
                Err(e) if e.is_connect() => Attempt::Failed("connection failed".into()),
                Err(e) => Attempt::Failed(redact(&e.to_string(), provider.api_key.as_deref())),
            };
            let pause = self.backoff(failures.max(attempt.min(6)));
            match outcome {
                Attempt::Reply(reply, info) => {
                    model.gate.observe(&info, false, pause);
                    model.gate.correct_tokens(
                        permit.reserved_tokens,
                        reply.usage.prompt + reply.usage.completion,
                    );
                    self.add_spent_today(model.config.cost_usd(reply.usage.prompt, reply.usage.completion));
                    provider.breaker.success();
                    probe_guard.armed = false;
                    if let (Some(k), None) = (cache_key, &reply.malformed_body)
                        && reply.content.is_some()
                    {
                        self.inner.cache.lock().put(k, reply.clone());
                        if let Some(flight) = _flight.take() {
                            flight.land(&reply);
                        }
                    }
                    result.reply = Ok(reply);
                    return result;
                }
                Attempt::RateLimited(info) => {
                    // Not the provider failing: no breaker count. The gate
                    // pauses every caller of this model as the provider says.
                    result.rate_limited += 1;
                    model.gate.observe(&info, true, pause);
                    probe_guard.release();
                }
                Attempt::FormatRejected(status, body) => {
                    probe_guard.release();
                    let body = redact(&body, provider.api_key.as_deref());
                    let next = (model.config.structured_output == StructuredOutput::Auto)
                        .then(|| format.downgrade())
                        .flatten();
                    match next {
                        Some(next) => {
                            // Several calls may see the rejection at once: one steps down.
                            let stepped = model
                                .format
                                .compare_exchange(
                                    format_to(format),
                                    format_to(next),
                                    Ordering::Relaxed,
                                    Ordering::Relaxed,
                                )
                                .is_ok();
                            if stepped {
                                model.downgrades.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(
                                    provider = %provider.name,
                                    model = %request.model,
                                    from = format.name(),
                                    to = next.name(),
                                    status,
                                    "the provider refused the structured-output format; using a simpler one for this model from now on"
                                );
                            }
                            format = model.format();
                            (body_text, _) = request_body(request, &model.config, format);
                            drop(permit);
                            // Not the provider failing, and not a retry: the same turn, asked again.
                            continue;
                        }
                        None => {
                            *model.last_error.lock() = Some(format!("status {status}: {}", clip(&body)));
                            record.error_body = Some(body);
                            result.reply = Err(CallError::Rejected(status));
                            return result;
                        }
                    }
                }
                Attempt::Failed(reason) => {
                    *model.last_error.lock() = Some(reason.clone());
                    provider.breaker.failure();
                    probe_guard.armed = false;
                    failures += 1;
                    result.reply = Err(CallError::Provider(reason));
                }
                Attempt::OutOfTime => {
                    probe_guard.release();
                    result.reply = Err(CallError::Deadline);
                    return result;
                }
                Attempt::Rejected(status, body) => {
                    probe_guard.release();
                    let body = redact(&body, provider.api_key.as_deref());
                    *model.last_error.lock() = Some(format!("status {status}: {}", clip(&body)));
                    record.error_body = Some(body);
                    result.reply = Err(CallError::Rejected(status));
                    return result;
                }
            }
            drop(permit);
            attempt += 1;
            result.retries = attempt;
            // Failures have a retry budget; rate limits only the deadline
            // (the gate paces them as the provider says).
            if failures > self.inner.settings.max_retries {
                return result;
            }
            // Rate limits are paced by the gate; other failures back off here.
            let wait = if matches!(result.reply, Err(CallError::Provider(_))) {
                pause
            } else {
                Duration::ZERO
            };
            if Instant::now() + wait >= request.deadline {
                result.reply = Err(match result.reply {
                    Err(CallError::Provider(reason)) => CallError::Provider(reason),
                    _ => CallError::Deadline,
                });
                return result;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Full-jitter exponential backoff for attempt `n`: uniform in
    /// `0..min(max, base * 2^n)`.
    fn backoff(&self, attempt: u32) -> Duration {
        let s = &self.inner.settings;
        let cap = s
            .backoff_base_ms
            .saturating_mul(1u64 << attempt.min(20))
            .min(s.backoff_max_ms);
        let ms = self.inner.jitter.lock().below(cap + 1);
        Duration::from_millis(ms)
    }
}

/// What one HTTP attempt amounted to.
enum Attempt {
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
    fn classify(
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
fn clip(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
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

/// The request body for a model in `format`, and the messages it sends
/// (with the schema written into the last one in `none` mode).
fn request_body(request: &ChatRequest, config: &ModelConfig, format: StructuredOutput) -> (String, Value) {
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

/// Reads an OpenAI chat completion; anything else is kept as a malformed body.
fn parse_completion(body: &str) -> ChatReply {
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

/// Removes an API key from text that might echo it (provider error bodies).
fn redact(text: &str, key: Option<&str>) -> String {
    match key {
        Some(k) if k.len() >= 4 => text.replace(k, "[redacted]"),
        _ => text.to_string(),
    }
}

/// The leader of a single flight: hands its reply to the followers, or,
/// if it ends without one, lets them go and call for themselves.
struct FlightGuard<'a> {
    inner: &'a Inner,
    key: u64,
}

impl FlightGuard<'_> {
    fn land(self, reply: &ChatReply) {
        let waiters = self.inner.flights.lock().remove(&self.key).unwrap_or_default();
        for tx in waiters {
            let _ = tx.send(reply.clone());
        }
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        // Dropping the senders wakes the followers empty-handed.
        self.inner.flights.lock().remove(&self.key);
    }
}

/// Lets another probe through if this one ends without a verdict.
struct ProbeGuard<'a> {
    breaker: &'a CircuitBreaker,
    armed: bool,
}

impl ProbeGuard<'_> {
    fn release(&mut self) {
        if self.armed {
            self.breaker.probe_abandoned();
            self.armed = false;
        }
    }
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// Builds the call's usage record and sends it exactly once: on `finish`,
/// or as `cancelled` if the caller drops the future first.
struct RecordGuard<'a> {
    executor: &'a Executor,
    record: Option<UsageRecord>,
    started: Instant,
    status: Option<u16>,
    prompt: Option<String>,
    error_body: Option<String>,
}

impl<'a> RecordGuard<'a> {
    fn new(executor: &'a Executor, request: &ChatRequest) -> RecordGuard<'a> {
        RecordGuard {
            executor,
            record: Some(UsageRecord::cancelled(
                request.provider.clone(),
                request.model.clone(),
                request.lane,
                request.context.clone(),
                request.capture,
            )),
            started: Instant::now(),
            status: None,
            prompt: None,
            error_body: None,
        }
    }

    fn set_prompt(&mut self, messages: &Value) {
        if self.record.as_ref().is_some_and(|r| r.capture.is_some()) {
            self.prompt = Some(messages.to_string());
        }
    }

    fn finish(&mut self, result: &CallResult) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        record.latency_ms = self.started.elapsed().as_millis() as u64;
        record.queue_wait_ms = result.queue_wait.as_millis() as u64;
        record.retries = result.retries;
        record.rate_limited = result.rate_limited;
        record.status = self.status;
        match &result.reply {
            Ok(reply) => {
                record.outcome = if reply.cached {
                    CallOutcome::Cached
                } else {
                    CallOutcome::Ok
                };
                if !reply.cached {
                    record.tokens = reply.usage;
                    record.cost_usd = self
                        .executor
                        .inner
                        .models
                        .get(&(record.provider.clone(), record.model.clone()))
                        .map_or(0.0, |m| {
                            m.config.cost_usd(reply.usage.prompt, reply.usage.completion)
                        });
                }
                if let Some(capture) = record.capture.as_mut() {
                    capture.reply = reply
                        .content
                        .clone()
                        .or_else(|| reply.refusal.clone())
                        .or_else(|| reply.malformed_body.clone());
                }
            }
            Err(e) => {
                record.outcome = e.outcome();
                if let Some(capture) = record.capture.as_mut() {
                    capture.reply = self.error_body.clone().or_else(|| Some(e.to_string()));
                }
            }
        }
        if let Some(capture) = record.capture.as_mut() {
            capture.prompt = self.prompt.take().unwrap_or_default();
        }
        self.executor.inner.sink.record(record);
    }
}

impl Drop for RecordGuard<'_> {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.latency_ms = self.started.elapsed().as_millis() as u64;
            record.status = self.status;
            if let Some(capture) = record.capture.as_mut() {
                capture.prompt = self.prompt.take().unwrap_or_default();
            }
            self.executor.inner.sink.record(record);
        }
    }
}

/// A bounded response cache with a time to live, for identical
/// temperature-0 requests (same provider, same body).
struct ReplyCache {
    capacity: usize,
    ttl: Duration,
    entries: HashMap<u64, (Instant, ChatReply)>,
    order: std::collections::VecDeque<u64>,
}

impl ReplyCache {
    fn new(capacity: usize, ttl_secs: u64) -> ReplyCache {
        ReplyCache {
            capacity,
            ttl: Duration::from_secs(ttl_secs),
            entries: HashMap::new(),
            order: std::collections::VecDeque::new(),
        }
    }

    fn get(&mut self, key: u64) -> Option<ChatReply> {
        let (at, reply) = self.entries.get(&key)?;
        if at.elapsed() > self.ttl {
            self.entries.remove(&key);
            return None;
        }
        let mut reply = reply.clone();
        reply.cached = true;
        reply.usage = TokenUsage::default();
        Some(reply)
    }

    fn put(&mut self, key: u64, reply: ChatReply) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.insert(key, (Instant::now(), reply)).is_none() {
            self.order.push_back(key);
        }
        while self.entries.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
    }
}

fn cache_key(provider: &str, body: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    provider.hash(&mut h);
    body.hash(&mut h);
    h.finish()
}
