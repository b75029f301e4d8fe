//! The usage record every call leaves, exactly once ([`RecordGuard`]):
//! its outcome, tokens, cost, latency and, when asked, the prompt and the
//! raw reply.

use serde_json::Value;
use tokio::time::Instant;

use super::Executor;
use super::reply::CallResult;
use super::request::ChatRequest;
use crate::usage::{CallOutcome, UsageRecord};

/// Builds the call's usage record and sends it exactly once: on `finish`,
/// or as `cancelled` if the caller drops the future first.
pub(super) struct RecordGuard<'a> {
    executor: &'a Executor,
    record: Option<UsageRecord>,
    started: Instant,
    pub(super) status: Option<u16>,
    prompt: Option<String>,
    pub(super) error_body: Option<String>,
}

impl<'a> RecordGuard<'a> {
    pub(super) fn new(executor: &'a Executor, request: &ChatRequest) -> RecordGuard<'a> {
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

    pub(super) fn set_prompt(&mut self, messages: &Value) {
        if self.record.as_ref().is_some_and(|r| r.capture.is_some()) {
            self.prompt = Some(messages.to_string());
        }
    }

    pub(super) fn finish(&mut self, result: &CallResult) {
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
