//! LLM usage, captured decisions and their retention, experiments.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use std::time::Duration;

use super::{Experiment, Store, duplicate, fits, missing, take};
use crate::error::{RowKind, StoreError};
use crate::model::{
    DecisionRow, ExperimentBatch, ExperimentHandRow, ExperimentRecord, ExperimentStatus, ModelUsage,
    RecordQuery, UsageRow, UsageTotals,
};
use crate::repository::StoreResult;

/// Whether a usage or decision row matches a query's filters (not its limit).
fn matches(q: &RecordQuery, table_id: Option<&String>, experiment_id: Option<&String>) -> bool {
    q.table_id.as_ref().is_none_or(|t| table_id == Some(t))
        && q.experiment_id.as_ref().is_none_or(|x| experiment_id == Some(x))
}

/// The row limit of a query (all rows when `None`).
fn query_limit(q: &RecordQuery) -> usize {
    q.limit.map_or(usize::MAX, take)
}

/// Checks a usage row's numbers against the SQL columns.
fn check_usage(u: &UsageRow) -> StoreResult<()> {
    fits("at_ms", u.at_ms)?;
    fits("prompt_tokens", u.prompt_tokens)?;
    fits("completion_tokens", u.completion_tokens)?;
    fits("latency_ms", u.latency_ms)?;
    fits("queue_wait_ms", u.queue_wait_ms)?;
    u.hand.map_or(Ok(()), |h| fits("hand", h))
}

/// Checks a decision's numbers against the SQL columns.
fn check_decision(d: &DecisionRow) -> StoreResult<()> {
    fits("at_ms", d.at_ms)?;
    fits("seat", d.seat)?;
    d.hand.map_or(Ok(()), |h| fits("hand", h))
}

/// Whether a call failed (`outcome` other than `ok` and `cached`).
fn failed(u: &UsageRow) -> bool {
    !matches!(u.outcome.as_str(), "ok" | "cached")
}

impl Store {
    pub(super) fn record_usage(&mut self, rows: &[UsageRow]) -> StoreResult<()> {
        for u in rows {
            check_usage(u)?;
        }
        self.usage.extend_from_slice(rows);
        Ok(())
    }

    pub(super) fn list_usage(&self, q: &RecordQuery) -> StoreResult<Vec<UsageRow>> {
        Ok(self
            .usage
            .iter()
            .filter(|u| matches(q, u.table_id.as_ref(), u.experiment_id.as_ref()))
            .take(query_limit(q))
            .cloned()
            .collect())
    }

    pub(super) fn usage_totals(&self, q: &RecordQuery) -> StoreResult<UsageTotals> {
        let mut totals = UsageTotals::default();
        for u in self
            .usage
            .iter()
            .filter(|u| matches(q, u.table_id.as_ref(), u.experiment_id.as_ref()))
        {
            totals.calls += 1;
            totals.prompt_tokens = totals.prompt_tokens.saturating_add(u.prompt_tokens);
            totals.completion_tokens = totals.completion_tokens.saturating_add(u.completion_tokens);
            totals.cost_usd += u.cost_usd;
        }
        Ok(totals)
    }

    pub(super) fn usage_by_model(&self, since_ms: Option<u64>) -> StoreResult<Vec<ModelUsage>> {
        if let Some(since) = since_ms {
            fits("since_ms", since)?;
        }
        // Ordered by provider, then model; latencies summed for the mean.
        let mut models: BTreeMap<(&str, &str), (ModelUsage, u128)> = BTreeMap::new();
        for u in self
            .usage
            .iter()
            .filter(|u| since_ms.is_none_or(|s| u.at_ms >= s))
        {
            let (m, latency_sum) = models
                .entry((u.provider.as_str(), u.model.as_str()))
                .or_insert_with(|| {
                    let usage = ModelUsage {
                        provider: u.provider.clone(),
                        model: u.model.clone(),
                        ..ModelUsage::default()
                    };
                    (usage, 0)
                });
            m.calls += 1;
            m.failed += u64::from(failed(u));
            m.prompt_tokens = m.prompt_tokens.saturating_add(u.prompt_tokens);
            m.completion_tokens = m.completion_tokens.saturating_add(u.completion_tokens);
            m.cost_usd += u.cost_usd;
            m.max_latency_ms = m.max_latency_ms.max(u.latency_ms);
            *latency_sum += u128::from(u.latency_ms);
        }
        Ok(models
            .into_values()
            .map(|(mut m, latency_sum)| {
                // `calls` is at least 1 for every entry.
                m.mean_latency_ms = latency_sum as f64 / m.calls as f64;
                m
            })
            .collect())
    }

    /// Stores decisions already checked, assigning their ids.
    fn push_decisions(&mut self, rows: &[DecisionRow]) {
        for d in rows {
            self.last_decision_id += 1;
            self.decisions.push(DecisionRow {
                id: self.last_decision_id,
                ..d.clone()
            });
        }
    }

    pub(super) fn record_decisions(&mut self, rows: &[DecisionRow]) -> StoreResult<()> {
        for d in rows {
            check_decision(d)?;
        }
        self.push_decisions(rows);
        Ok(())
    }

    pub(super) fn list_decisions(&self, q: &RecordQuery) -> StoreResult<Vec<DecisionRow>> {
        Ok(self
            .decisions
            .iter()
            .filter(|d| matches(q, d.table_id.as_ref(), d.experiment_id.as_ref()))
            .take(query_limit(q))
            .cloned()
            .collect())
    }

    pub(super) fn set_capture_retention(&mut self, retention: Option<Duration>) -> StoreResult<()> {
        // Stored in milliseconds, capped like the SQL backends' setting.
        self.capture_retention_ms = retention.map(|d| {
            u64::try_from(d.as_millis())
                .unwrap_or(u64::MAX)
                .min(i64::MAX as u64)
        });
        Ok(())
    }

    pub(super) fn capture_retention(&self) -> StoreResult<Option<Duration>> {
        Ok(self.capture_retention_ms.map(Duration::from_millis))
    }

    pub(super) fn prune_captures(&mut self, now_ms: u64) -> StoreResult<u64> {
        let Some(keep_ms) = self.capture_retention_ms else {
            return Ok(0);
        };
        let cutoff = now_ms.saturating_sub(keep_ms);
        fits("cutoff", cutoff)?;
        let mut pruned = 0;
        for d in self
            .decisions
            .iter_mut()
            .filter(|d| d.at_ms < cutoff && (d.prompt.is_some() || d.raw_reply.is_some()))
        {
            // The decision itself stays, for statistics.
            d.prompt = None;
            d.raw_reply = None;
            pruned += 1;
        }
        Ok(pruned)
    }

    /// An experiment, or `NotFound`.
    fn experiment_mut(&mut self, id: &str) -> StoreResult<&mut Experiment> {
        self.experiments.get_mut(id).ok_or_else(|| StoreError::NotFound {
            kind: RowKind::Experiment,
            id: id.to_owned(),
        })
    }

    pub(super) fn create_experiment(&mut self, x: &ExperimentRecord) -> StoreResult<()> {
        fits("hands_done", x.hands_done)?;
        fits("hands_total", x.hands_total)?;
        fits("created_at_ms", x.created_at_ms)?;
        fits("updated_at_ms", x.updated_at_ms)?;
        if self.experiments.contains_key(&x.id) {
            return Err(duplicate("experiment", &x.id));
        }
        self.experiments.insert(
            x.id.clone(),
            Experiment {
                record: x.clone(),
                checkpoint: None,
            },
        );
        Ok(())
    }

    pub(super) fn load_experiment(&self, id: &str) -> StoreResult<ExperimentRecord> {
        self.experiments
            .get(id)
            .map(|x| x.record.clone())
            .ok_or_else(|| StoreError::NotFound {
                kind: RowKind::Experiment,
                id: id.to_owned(),
            })
    }

    pub(super) fn list_experiments(&self) -> StoreResult<Vec<ExperimentRecord>> {
        let mut all: Vec<ExperimentRecord> = self.experiments.values().map(|x| x.record.clone()).collect();
        all.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(all)
    }

    pub(super) fn update_experiment(
        &mut self,
        id: &str,
        status: ExperimentStatus,
        hands_done: u64,
        results: Option<&str>,
        now_ms: u64,
    ) -> StoreResult<()> {
        fits("hands_done", hands_done)?;
        fits("updated_at_ms", now_ms)?;
        let x = &mut self.experiment_mut(id)?.record;
        x.status = status;
        x.hands_done = hands_done;
        if let Some(results) = results {
            // Progress without results keeps the results already stored.
            x.results = Some(results.to_owned());
        }
        x.updated_at_ms = now_ms;
        Ok(())
    }

    pub(super) fn save_experiment_batch(&mut self, b: &ExperimentBatch) -> StoreResult<()> {
        fits("hands_done", b.hands_done)?;
        fits("updated_at_ms", b.now_ms)?;
        if !self.experiments.contains_key(&b.id) {
            return Err(StoreError::NotFound {
                kind: RowKind::Experiment,
                id: b.id.clone(),
            });
        }
        // Every hand and decision is checked before anything changes: the
        // checkpoint and what it covers are stored together or not at all.
        let mut batch = HashSet::with_capacity(b.hands.len());
        for h in &b.hands {
            fits("hand", h.hand)?;
            fits("deal", h.deal)?;
            fits("rotation", h.rotation)?;
            fits("table_index", h.table_index)?;
            if !self.experiments.contains_key(&h.experiment_id) {
                return Err(missing("experiment hand", "experiment", &h.experiment_id));
            }
            let stored = self
                .experiment_hands
                .get(&h.experiment_id)
                .is_some_and(|hands| hands.contains_key(&h.hand));
            if stored || !batch.insert((h.experiment_id.as_str(), h.hand)) {
                return Err(duplicate("experiment hand", &b.id));
            }
        }
        for d in &b.decisions {
            check_decision(d)?;
        }
        for h in &b.hands {
            self.experiment_hands
                .entry(h.experiment_id.clone())
                .or_default()
                .insert(h.hand, h.clone());
        }
        self.push_decisions(&b.decisions);
        // Checked above: the experiment exists.
        if let Some(x) = self.experiments.get_mut(&b.id) {
            if let Some(status) = b.status {
                x.record.status = status;
            }
            x.record.hands_done = b.hands_done;
            if let Some(results) = &b.results {
                x.record.results = Some(results.clone());
            }
            x.record.updated_at_ms = b.now_ms;
            x.checkpoint = Some(b.checkpoint.clone());
        }
        Ok(())
    }

    pub(super) fn experiment_checkpoint(&self, id: &str) -> StoreResult<Option<String>> {
        self.experiments
            .get(id)
            .map(|x| x.checkpoint.clone())
            .ok_or_else(|| StoreError::NotFound {
                kind: RowKind::Experiment,
                id: id.to_owned(),
            })
    }

    pub(super) fn experiment_hands(
        &self,
        id: &str,
        from_hand: u64,
        limit: u64,
    ) -> StoreResult<Vec<ExperimentHandRow>> {
        fits("from_hand", from_hand)?;
        let Some(hands) = self.experiment_hands.get(id) else {
            return Ok(Vec::new());
        };
        Ok(hands
            .range((Bound::Included(from_hand), Bound::Unbounded))
            .take(take(limit))
            .map(|(_, h)| h.clone())
            .collect())
    }
}
