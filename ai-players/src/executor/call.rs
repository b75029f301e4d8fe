//! The call path ([`Executor::complete`]): the response cache and single
//! flight, breaker and gate admission, the HTTP attempt, the structured-
//! output step-down, and retries with full-jitter backoff.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::time::{Duration, Instant};

use super::attempt::{Attempt, clip, redact};
use super::breaker::{Admission, CircuitBreaker};
use super::cache::cache_key;
use super::headers::RateLimitInfo;
use super::record::RecordGuard;
use super::reply::{CallError, CallResult, ChatReply};
use super::request::{ChatRequest, request_body};
use super::{Executor, Inner, format_to};
use crate::agent::TokenUsage;
use crate::config::StructuredOutput;

impl Executor {
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
