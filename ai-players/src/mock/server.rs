//! The HTTP side: the axum router, the pipeline every chat request goes
//! through (in-flight bound, key, parsing, budgets, queue, fault, latency,
//! reply) and `MockServer`, the handle tests hold.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use game_core::sim::SplitMix64;
use parking_lot::{Mutex, RwLock};
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use super::budget::{Budgets, Denial, Headroom, Refusal, openai_duration};
use super::config::{ApiKey, Fault, FaultRates, FormatSupport, Latency, Limits, MockConfig, Mode, Policy};
use super::latency::{sample, unit};
use super::reply::{Shape, render};
use super::stats::{Counters, MockStats};
use super::wire::{ApiError, ChatRequest, LimitKind};

/// Runs of forced faults that may wait at once; enough for any test.
const MAX_FORCED_RUNS: usize = 64;

/// How long `MockServer::shutdown` waits for connections to finish before
/// aborting the server task.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Model names echoed in error messages are cut to this many characters.
const ECHO_LIMIT: usize = 64;

/// Why the mock could not start or a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// A probability, bound or limit makes no sense.
    #[error("invalid mock config: {0}")]
    InvalidConfig(String),
    /// The listening socket could not be opened.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// `force_next` was called with too many different runs pending.
    #[error("the forced-fault queue is full ({MAX_FORCED_RUNS} runs pending)")]
    ForceQueueFull,
}

/// Starts simulated providers.
#[derive(Debug)]
pub struct MockLlm;

impl MockLlm {
    /// Starts a provider on `127.0.0.1:0` (a free port): the way tests use it.
    pub async fn start(config: MockConfig) -> Result<MockServer, MockError> {
        MockLlm::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a provider on `addr` (the `mock-llm` binary).
    pub async fn start_on(config: MockConfig, addr: SocketAddr) -> Result<MockServer, MockError> {
        config.validate()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| MockError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| MockError::Bind { addr, source })?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(config, stopped.clone()));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/models", get(models))
            .route("/health", get(health))
            .route("/mock/stats", get(stats))
            .fallback(unknown_route)
            .with_state(Arc::clone(&shared));
        let mut signal = stopped;
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = signal.wait_for(|stop| *stop).await;
                })
                .await
        });
        Ok(MockServer {
            addr: local,
            shared,
            stop,
            task: Some(task),
        })
    }
}

/// A running simulated provider. Dropping it stops the server in the
/// background; `shutdown` stops it and waits.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl MockServer {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients use: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MockStats {
        self.shared.counters.snapshot()
    }

    /// Makes the next `n` chat requests that pass the budgets fail with
    /// `fault`, after any runs forced before.
    pub fn force_next(&self, fault: Fault, n: u32) -> Result<(), MockError> {
        if n == 0 {
            return Ok(());
        }
        let mut forced = self.shared.forced.lock();
        let full = forced.len() >= MAX_FORCED_RUNS;
        match forced.back_mut() {
            Some((last, count)) if *last == fault => *count = count.saturating_add(n),
            _ if full => return Err(MockError::ForceQueueFull),
            _ => forced.push_back((fault, n)),
        }
        Ok(())
    }

    /// Forgets every forced fault not yet used.
    pub fn clear_forced(&self) {
        self.shared.forced.lock().clear();
    }

    /// Replaces the fault probabilities.
    pub fn set_faults(&self, faults: FaultRates) -> Result<(), MockError> {
        faults.validate()?;
        self.shared.tunables.write().faults = faults;
        Ok(())
    }

    /// Replaces the latency distribution.
    pub fn set_latency(&self, latency: Latency) {
        self.shared.tunables.write().latency = latency;
    }

    /// Replaces the playing style of legal answers.
    pub fn set_policy(&self, policy: Policy) -> Result<(), MockError> {
        policy.validate()?;
        self.shared.tunables.write().policy = policy;
        Ok(())
    }

    /// Replaces the budgets of every model without its own; all buckets
    /// start full again.
    pub fn set_limits(&self, limits: Limits) -> Result<(), MockError> {
        let mut config = self.shared.config_with_limits();
        config.limits = limits;
        config.validate()?;
        self.shared.rebuild_budgets(config.limits, config.model_limits);
        Ok(())
    }

    /// Gives `model` its own budgets; all buckets start full again.
    pub fn set_model_limits(&self, model: &str, limits: Limits) -> Result<(), MockError> {
        let mut config = self.shared.config_with_limits();
        config.model_limits.insert(model.to_owned(), limits);
        config.validate()?;
        self.shared.rebuild_budgets(config.limits, config.model_limits);
        Ok(())
    }

    /// Stops accepting, ends hanging and waiting requests (503), waits for
    /// connections to finish (at most a few seconds) and returns the final stats.
    pub async fn shutdown(mut self) -> MockStats {
        self.stop.send_replace(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err()
        {
            task.abort();
        }
        self.stats()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// What requests may change at runtime and read at their start.
#[derive(Clone, Copy, Debug)]
struct Tunables {
    faults: FaultRates,
    latency: Latency,
    policy: Policy,
    hang_ms: u64,
}

/// The budgets and the limits they were built from.
#[derive(Debug)]
struct BudgetState {
    limits: Limits,
    overrides: std::collections::BTreeMap<String, Limits>,
    budgets: Budgets,
}

/// State shared by every request. The `parking_lot` locks are never held
/// across an `.await` (each guards a few copies or one bucket update), so
/// an async mutex would only add cost.
#[derive(Debug)]
struct Shared {
    mode: Mode,
    models: Vec<String>,
    reject_unknown_models: bool,
    response_formats: FormatSupport,
    api_key: Option<ApiKey>,
    seed: u64,
    max_in_flight: Option<usize>,
    /// Ollama's parallel slots: requests beyond them wait (in flight) for one.
    slots: Option<Semaphore>,
    tunables: RwLock<Tunables>,
    budgets: Mutex<BudgetState>,
    forced: Mutex<VecDeque<(Fault, u32)>>,
    counters: Counters,
    seq: AtomicU64,
    stopped: watch::Receiver<bool>,
}

/// A failed chat request: the error, and what its headers must say.
#[derive(Debug)]
struct Failure {
    error: ApiError,
    headroom: Option<Headroom>,
    retry_after: Option<u64>,
}

/// Failures are boxed: they are the rare path, and keep `Result`s small.
impl From<ApiError> for Box<Failure> {
    fn from(error: ApiError) -> Box<Failure> {
        Box::new(Failure {
            error,
            headroom: None,
            retry_after: None,
        })
    }
}

impl Shared {
    fn new(config: MockConfig, stopped: watch::Receiver<bool>) -> Shared {
        let budgets = Budgets::new(&config.models, &config.limits, &config.model_limits);
        Shared {
            mode: config.mode,
            reject_unknown_models: config.reject_unknown_models,
            response_formats: config.response_formats,
            api_key: config.api_key,
            seed: config.seed,
            max_in_flight: config.max_in_flight,
            slots: config
                .parallel
                .map(|n| Semaphore::new(n.min(Semaphore::MAX_PERMITS))),
            tunables: RwLock::new(Tunables {
                faults: config.faults,
                latency: config.latency,
                policy: config.policy,
                hang_ms: config.hang_ms,
            }),
            budgets: Mutex::new(BudgetState {
                limits: config.limits,
                overrides: config.model_limits,
                budgets,
            }),
            models: config.models,
            forced: Mutex::new(VecDeque::new()),
            counters: Counters::default(),
            seq: AtomicU64::new(0),
            stopped,
        }
    }

    /// A config carrying the current limits, to validate a change against.
    fn config_with_limits(&self) -> MockConfig {
        let state = self.budgets.lock();
        MockConfig {
            models: self.models.clone(),
            limits: state.limits,
            model_limits: state.overrides.clone(),
            ..MockConfig::default()
        }
    }

    fn rebuild_budgets(&self, limits: Limits, overrides: std::collections::BTreeMap<String, Limits>) {
        let budgets = Budgets::new(&self.models, &limits, &overrides);
        *self.budgets.lock() = BudgetState {
            limits,
            overrides,
            budgets,
        };
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.api_key else {
            return Ok(());
        };
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|key| !key.is_empty());
        match given {
            None => Err(ApiError::MissingKey),
            Some(key) if key == expected.0 => Ok(()),
            Some(_) => Err(ApiError::WrongKey),
        }
    }

    /// Waits `d`, or fails with 503 if the server shuts down first.
    async fn pause(&self, d: Duration) -> Result<(), ApiError> {
        let mut stopped = self.stopped.clone();
        tokio::select! {
            () = tokio::time::sleep(d) => Ok(()),
            _ = stopped.wait_for(|stop| *stop) => Err(ApiError::ShuttingDown),
        }
    }

    /// The next forced fault, else one drawn from the probabilities. One
    /// draw is always taken so the rest of the request's draws do not shift.
    fn next_fault(&self, rates: &FaultRates, rng: &mut SplitMix64) -> Option<Fault> {
        let u = unit(rng);
        let mut forced = self.forced.lock();
        if let Some((fault, count)) = forced.front_mut() {
            let fault = *fault;
            *count -= 1;
            if *count == 0 {
                forced.pop_front();
            }
            return Some(fault);
        }
        let mut cumulative = 0.0;
        Fault::ALL.into_iter().find(|&fault| {
            cumulative += rates.rate(fault);
            u <= cumulative
        })
    }

    /// Charges the model's budgets, or builds its 429.
    fn charge(&self, model: &str, tokens: u64, rng: &mut SplitMix64) -> Result<Headroom, Box<Failure>> {
        let refusal = match self.budgets.lock().budgets.try_charge(model, tokens) {
            Ok(headroom) => return Ok(headroom),
            Err(refusal) => refusal,
        };
        let Refusal {
            denial,
            headroom,
            omit_retry_after,
        } = refusal;
        let model = echo(model);
        let (kind, message, wait) = match denial {
            Denial::Requests { wait } => {
                let limit = headroom.requests.map_or(0, |r| r.limit);
                let used = limit - headroom.requests.map_or(0, |r| r.remaining);
                let message = format!(
                    "Rate limit reached for requests (RPM) on model {model}: Limit {limit}, Used {used}, \
                     Requested 1. Please try again in {}.",
                    openai_duration(wait)
                );
                (LimitKind::Requests, message, Some(wait))
            }
            Denial::Tokens { wait, requested } => {
                let limit = headroom.tokens.map_or(0, |t| t.limit);
                let used = limit - headroom.tokens.map_or(0, |t| t.remaining);
                let message = format!(
                    "Rate limit reached for tokens (TPM) on model {model}: Limit {limit}, Used {used}, \
                     Requested {requested}. Please try again in {}.",
                    openai_duration(wait)
                );
                (LimitKind::Tokens, message, Some(wait))
            }
            Denial::TooLarge { requested } => {
                let limit = headroom.tokens.map_or(0, |t| t.limit);
                let message = format!(
                    "Request too large for tokens (TPM) on model {model}: Limit {limit}, Requested {requested}. \
                     The input or output tokens must be reduced in order to run successfully."
                );
                (LimitKind::Tokens, message, None)
            }
        };
        let omit = unit(rng) <= omit_retry_after;
        Err(Box::new(Failure {
            error: ApiError::RateLimited { kind, message },
            headroom: Some(headroom),
            retry_after: wait
                .filter(|_| !omit)
                .map(|w| w.as_secs_f64().ceil().max(1.0) as u64),
        }))
    }

    /// A forced 429: gives back what the request was charged, like a real one.
    fn simulated_429(&self, model: &str, tokens: u64, rng: &mut SplitMix64) -> Box<Failure> {
        let (headroom, omit) = match self.mode {
            Mode::OpenAi => {
                let mut state = self.budgets.lock();
                let omit = state.limits_of(model).omit_retry_after;
                (Some(state.budgets.refund(model, tokens)), omit)
            }
            Mode::Ollama => (None, 0.0),
        };
        let message = format!(
            "Rate limit reached for requests (RPM) on model {}: simulated. Please try again in 1s.",
            echo(model)
        );
        let omit = unit(rng) <= omit;
        Box::new(Failure {
            error: ApiError::RateLimited {
                kind: LimitKind::Requests,
                message,
            },
            headroom,
            retry_after: (!omit).then_some(1),
        })
    }

    /// Everything after the in-flight bound; returns the 200 or the failure.
    async fn serve(
        &self,
        seq: u64,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<Response, Box<Failure>> {
        self.authorize(headers)?;
        let body = body.map_err(ApiError::rejected)?;
        let request = ChatRequest::parse(&body)?;
        if self.reject_unknown_models && !self.models.contains(&request.model) {
            return Err(ApiError::ModelNotFound(echo(&request.model)).into());
        }
        match (self.response_formats, request.format_type.as_deref()) {
            (FormatSupport::NoJsonSchema, Some(kind)) if kind != "text" && kind != "json_object" => {
                return Err(ApiError::UnsupportedFormat(echo(kind)).into());
            }
            (FormatSupport::TextOnly, Some(kind)) if kind != "text" => {
                return Err(ApiError::bad_request(
                    format!(
                        "response_format of type {:?} is not supported; only \"text\"",
                        echo(kind)
                    ),
                    Some("response_format"),
                )
                .into());
            }
            _ => {}
        }
        // Each request draws from its own generator, seeded by the config's
        // seed and its arrival number: a sequential client sees the same
        // replies whatever the timing.
        let mut rng = SplitMix64::new(self.seed ^ seq.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let tokens = request.prompt_tokens + request.max_tokens.unwrap_or(0);
        let headroom = match self.mode {
            Mode::OpenAi => Some(self.charge(&request.model, tokens, &mut rng)?),
            Mode::Ollama => None,
        };
        let _slot = match &self.slots {
            None => None,
            Some(slots) => {
                let mut stopped = self.stopped.clone();
                tokio::select! {
                    permit = slots.acquire() => Some(permit.map_err(|_| ApiError::ShuttingDown)?),
                    _ = stopped.wait_for(|stop| *stop) => return Err(ApiError::ShuttingDown.into()),
                }
            }
        };
        let tunables = *self.tunables.read();
        let fault = self.next_fault(&tunables.faults, &mut rng);
        let fail = |error: ApiError, headroom: Option<Headroom>| {
            Box::new(Failure {
                error,
                headroom,
                retry_after: None,
            })
        };
        if let Some(fault) = fault {
            Counters::bump(&self.counters.faults[fault.index()]);
        }
        if fault == Some(Fault::RateLimited) {
            return Err(self.simulated_429(&request.model, tokens, &mut rng));
        }
        if headroom.is_some() {
            self.counters.tokens_charged.fetch_add(tokens, Ordering::Relaxed);
        }
        if fault == Some(Fault::Hang) {
            Counters::bump(&self.counters.hangs);
            let error = match self.pause(Duration::from_millis(tunables.hang_ms)).await {
                Ok(()) => ApiError::Timeout,
                Err(error) => error,
            };
            return Err(fail(error, headroom));
        }
        let delay = sample(&tunables.latency, &mut rng);
        if !delay.is_zero() {
            self.pause(delay).await.map_err(|error| fail(error, headroom))?;
        }
        let shape = match fault {
            Some(Fault::Error500) => return Err(fail(ApiError::Internal, headroom)),
            Some(Fault::Overloaded) => return Err(fail(ApiError::Overloaded, headroom)),
            Some(fault) => Shape::Faulty(fault),
            None => Shape::Answer,
        };
        let reply = render(shape, &request, &tunables.policy, seq, &mut rng);
        if let Some((prompt, completion)) = reply.usage {
            self.counters.prompt_tokens.fetch_add(prompt, Ordering::Relaxed);
            self.counters
                .completion_tokens
                .fetch_add(completion, Ordering::Relaxed);
        }
        let mut response = (StatusCode::OK, [(CONTENT_TYPE, "application/json")], reply.body).into_response();
        if let Some(headroom) = &headroom {
            rate_limit_headers(response.headers_mut(), headroom);
        }
        Ok(response)
    }
}

impl BudgetState {
    fn limits_of(&self, model: &str) -> &Limits {
        self.overrides.get(model).unwrap_or(&self.limits)
    }
}

/// `POST /v1/chat/completions`.
async fn chat(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = std::time::Instant::now();
    let counters = &shared.counters;
    Counters::bump(&counters.received);
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
    let outcome = match counters.enter(shared.max_in_flight) {
        None => Err(Box::<Failure>::from(ApiError::Overloaded)),
        Some(_in_flight) => shared.serve(seq, &headers, body).await,
    };
    let response = match outcome {
        Ok(response) => {
            Counters::bump(&counters.ok);
            response
        }
        Err(failure) => {
            Counters::bump(match &failure.error {
                ApiError::MissingKey | ApiError::WrongKey => &counters.unauthorized,
                ApiError::BadRequest { .. } | ApiError::ModelNotFound(_) | ApiError::UnknownRoute(_) => {
                    &counters.bad_requests
                }
                ApiError::RateLimited { .. } => &counters.rate_limited,
                ApiError::Overloaded => &counters.overloaded,
                ApiError::ShuttingDown => &counters.shutdown_aborts,
                ApiError::Internal | ApiError::UnsupportedFormat(_) => &counters.server_errors,
                ApiError::Timeout => &counters.timeouts,
            });
            let mut response = failure.error.into_response();
            if let Some(headroom) = &failure.headroom {
                rate_limit_headers(response.headers_mut(), headroom);
            }
            if let Some(secs) = failure.retry_after {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
    };
    tracing::debug!(
        seq,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "mock-llm chat request"
    );
    response
}

/// Writes the `x-ratelimit-*` headers of the budgets that exist.
fn rate_limit_headers(headers: &mut HeaderMap, headroom: &Headroom) {
    for (suffix, dimension) in [("requests", headroom.requests), ("tokens", headroom.tokens)] {
        let Some(dimension) = dimension else { continue };
        let reset = openai_duration(dimension.reset);
        let values = [
            ("limit", HeaderValue::from(dimension.limit)),
            ("remaining", HeaderValue::from(dimension.remaining)),
            (
                "reset",
                HeaderValue::from_str(&reset).unwrap_or(HeaderValue::from_static("0s")),
            ),
        ];
        for (what, value) in values {
            if let Ok(name) = axum::http::HeaderName::try_from(format!("x-ratelimit-{what}-{suffix}")) {
                headers.insert(name, value);
            }
        }
    }
}

/// A name from a request, cut short before it goes into an error message.
fn echo(name: &str) -> String {
    name.chars().take(ECHO_LIMIT).collect()
}

/// `GET /v1/models`.
async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(error) = shared.authorize(&headers) {
        return error.into_response();
    }
    let data: Vec<_> = shared
        .models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "mock-llm"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

/// `GET /health`.
async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /mock/stats`: the counters, for people running the binary.
async fn stats(State(shared): State<Arc<Shared>>) -> Json<MockStats> {
    Json(shared.counters.snapshot())
}

async fn unknown_route(method: Method, uri: Uri) -> Response {
    ApiError::UnknownRoute(format!("{method} {}", echo(uri.path()))).into_response()
}
