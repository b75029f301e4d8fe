//! Experiments run by the server (`POST /api/experiments`): the same runner
//! as the CLI, with the store as the sink. Hands, decisions and the
//! checkpoint of each batch are saved in one transaction, so a run paused,
//! failed or cut by a restart resumes exactly where its last checkpoint was.
//!
//! Bot-only runs play on a runtime of their own whose threads run at a lower
//! CPU priority (`nice` 10): they use every idle core, and live tables, on
//! the main runtime, take the CPU first. LLM seats use the server's executor
//! in the `bulk` lane (or `watched`), below every live table's calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ai_players::usage::{UsageRecord, UsageSink};
use ai_players::{AgentSpec, SeatKind};
use parking_lot::Mutex;
use schema::{
    AnyRepo, DecisionRow, ExperimentBatch, ExperimentHandRow, ExperimentRecord, ExperimentStatus, Repository,
    StoreError, now_ms,
};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use tracing::{info, warn};

use super::runner::{self, Checkpoint, HandRow, HandSink, Progress, SeatAgent, StopReason};
use super::spec::{ExperimentSpec, mix};
use super::{ExperimentError, UsageMeter, stats, summary};
use crate::protocol::ServerMessage;
use crate::table::agents::Agents;

/// Why a run was asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intent {
    Run,
    Pause,
    Cancel,
    /// The server is stopping: the run stays `running` and resumes at the next start.
    Shutdown,
}

/// A run in progress.
struct Active {
    stop: watch::Sender<bool>,
    intent: Intent,
    progress: Option<Progress>,
    /// Turns true when the run's task has saved its last state.
    finished: watch::Receiver<bool>,
}

/// What experiments use.
#[derive(Clone)]
pub struct ExperimentDeps {
    /// The store.
    pub repo: AnyRepo,
    /// Builds the seats' agents.
    pub agents: Agents,
    /// Turns true when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Where the LLM executor sends usage records (to know how many were sent).
    pub usage: UsageSink,
}

/// The server's experiments: a cheap handle.
#[derive(Clone)]
pub struct Experiments(Arc<ExperimentsInner>);

/// What [`Experiments`] holds.
pub struct ExperimentsInner {
    deps: ExperimentDeps,
    active: Mutex<HashMap<String, Active>>,
    meters: Mutex<HashMap<String, Arc<UsageMeter>>>,
    updates: broadcast::Sender<Arc<str>>,
    /// Usage records counted into the meters so far.
    usage_counted: AtomicU64,
}

impl std::ops::Deref for Experiments {
    type Target = ExperimentsInner;
    fn deref(&self) -> &ExperimentsInner {
        &self.0
    }
}

/// How long a run's checkpoint save is retried while the store is down.
const SAVE_RETRY: Duration = Duration::from_secs(30);

/// The runtime bot-only runs play on: one thread per core, each at a lower
/// CPU priority than the server's own threads.
fn bulk_runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("experiments")
                .on_thread_start(lower_priority)
                .enable_all()
                .build()
                .map_err(|e| warn!("cannot start the experiments runtime ({e}); using the main one"))
                .ok()
        })
        .as_ref()
}

/// Lowers the calling thread's CPU priority (Linux: `nice` is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; 0 names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// One line of the experiments list, from the stored record and, while it
/// runs, its live progress.
fn info_json(record: &ExperimentRecord, live: Option<&Progress>) -> Value {
    let spec: Value = serde_json::from_str(&record.spec).unwrap_or(Value::Null);
    let results: Value = record
        .results
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null);
    let (hands_done, hands_per_sec, eta, cost, tokens) = match live {
        Some(p) => (
            p.hands_done,
            json!(p.hands_per_sec),
            json!(p.eta_secs),
            json!(p.cost_usd),
            json!(p.tokens),
        ),
        None => (
            record.hands_done,
            results.get("hands_per_sec").cloned().unwrap_or(json!(0.0)),
            Value::Null,
            results.get("cost_usd").cloned().unwrap_or(json!(0.0)),
            results.get("tokens").cloned().unwrap_or(json!(0)),
        ),
    };
    json!({
        "id": record.id,
        "name": spec.get("name").cloned().unwrap_or(Value::Null),
        "status": record.status.name(),
        "hands_done": hands_done,
        "hands_total": record.hands_total,
        // Hands in the store (with the last checkpoint); `hands_done` may be ahead while it runs.
        "hands_saved": record.hands_done,
        "hands_per_sec": hands_per_sec,
        "eta_secs": eta,
        "cost_usd": cost,
        "tokens": tokens,
        "created_at_ms": record.created_at_ms,
        "updated_at_ms": record.updated_at_ms,
    })
}

impl Experiments {
    /// No experiments running yet; each will use `deps`.
    pub fn new(deps: ExperimentDeps) -> Experiments {
        Experiments(Arc::new(ExperimentsInner {
            deps,
            active: Mutex::new(HashMap::new()),
            meters: Mutex::new(HashMap::new()),
            updates: broadcast::channel(256).0,
            usage_counted: AtomicU64::new(0),
        }))
    }

    /// Waits (up to `within`) until every LLM usage record sent so far has
    /// been counted into the meters: an experiment's last decisions return
    /// before the usage drain has read their records.
    pub async fn usage_settled(&self, within: Duration) -> bool {
        let target = self.deps.usage.sent();
        let deadline = tokio::time::Instant::now() + within;
        while self.usage_counted.load(Ordering::Acquire) < target {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Receives `{"type":"experiment","experiment":{...}}` lines on every change.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.updates.subscribe()
    }

    fn publish(&self, info: Value) {
        let line = ServerMessage::Experiment { experiment: &info }.text();
        let _ = self.updates.send(line);
    }

    fn live_progress(&self, id: &str) -> Option<Progress> {
        self.active.lock().get(id).and_then(|a| a.progress.clone())
    }

    /// Counts an LLM call against its experiment's budget (called by the
    /// usage drain with every usage record, in order).
    pub fn record_usage(&self, record: &UsageRecord) {
        if let Some(id) = record.context.experiment_id.as_deref()
            && let Some(meter) = self.meters.lock().get(id)
        {
            meter.record(record);
        }
        self.usage_counted.fetch_add(1, Ordering::Release);
    }

    /// The list line of one experiment.
    pub async fn info(&self, id: &str) -> Result<Value, ExperimentError> {
        let record = self.deps.repo.load_experiment(id).await?;
        Ok(info_json(&record, self.live_progress(id).as_ref()))
    }

    /// Every experiment, oldest first.
    pub async fn list(&self) -> Result<Vec<Value>, ExperimentError> {
        let records = self.deps.repo.list_experiments().await?;
        Ok(records
            .iter()
            .map(|r| info_json(r, self.live_progress(&r.id).as_ref()))
            .collect())
    }

    /// One experiment with its results (`null` until the first checkpoint).
    pub async fn details(&self, id: &str) -> Result<Value, ExperimentError> {
        let record = self.deps.repo.load_experiment(id).await?;
        let mut value = info_json(&record, self.live_progress(id).as_ref());
        let mut results: Value = record
            .results
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or(Value::Null);
        // The curve has its own endpoint.
        let curve = results.as_object_mut().and_then(|r| r.remove("curve"));
        value["results"] = results;
        value["spec"] = serde_json::from_str(&record.spec).unwrap_or(Value::Null);
        value["has_curve"] = json!(curve.is_some());
        Ok(value)
    }

    /// Cumulative winnings per agent over hands.
    pub async fn curve(&self, id: &str) -> Result<Value, ExperimentError> {
        let record = self.deps.repo.load_experiment(id).await?;
        let curve = record
            .results
            .as_deref()
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
            .and_then(|mut r| r.get_mut("curve").map(Value::take));
        Ok(curve.unwrap_or_else(|| json!({"agents": [], "big_blind": 0, "points": []})))
    }

    /// Validates and stores a spec, then starts it.
    pub async fn create(&self, spec: ExperimentSpec) -> Result<Value, ExperimentError> {
        if *self.deps.shutdown.borrow() {
            return Err(ExperimentError::ShuttingDown);
        }
        for seat in &spec.seats {
            if AgentSpec::kind_of(&seat.agent) == SeatKind::Bot {
                SeatAgent::build(&seat.agent, &self.deps.agents, 0)?;
            } else {
                self.deps.agents.validate(&seat.agent)?;
            }
        }
        let now = now_ms();
        let record = ExperimentRecord {
            id: crate::auth::new_id("x"),
            spec: serde_json::to_string(&spec).map_err(ExperimentError::Encode)?,
            status: ExperimentStatus::Running,
            hands_done: 0,
            hands_total: spec.deals() * spec.hands_per_deal(),
            results: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.deps.repo.create_experiment(&record).await?;
        info!(experiment = %record.id, hands = record.hands_total, "experiment created");
        self.start(&record.id, spec, fresh_checkpoint(&record_spec(&record)?));
        self.info(&record.id).await
    }

    /// Pauses a running experiment (it saves its checkpoint and stops).
    pub async fn pause(&self, id: &str) -> Result<Value, ExperimentError> {
        let record = self.deps.repo.load_experiment(id).await?;
        if record.status != ExperimentStatus::Running {
            return Err(state_error(&record, "pause"));
        }
        self.stop(id, Intent::Pause).await;
        if !self.active.lock().contains_key(id) {
            // Not running here (e.g. it was running when the server stopped
            // and has not been restored): record the pause.
            let r = self.deps.repo.load_experiment(id).await?;
            if r.status == ExperimentStatus::Running {
                self.deps
                    .repo
                    .update_experiment(id, ExperimentStatus::Paused, r.hands_done, None, now_ms())
                    .await?;
            }
        }
        let info = self.info(id).await?;
        self.publish(info.clone());
        Ok(info)
    }

    /// Cancels an experiment that has not finished (its results so far stay).
    pub async fn cancel(&self, id: &str) -> Result<Value, ExperimentError> {
        let record = self.deps.repo.load_experiment(id).await?;
        if record.status.is_final() {
            return Err(state_error(&record, "cancel"));
        }
        self.stop(id, Intent::Cancel).await;
        let r = self.deps.repo.load_experiment(id).await?;
        if !r.status.is_final() {
            self.deps
                .repo
                .update_experiment(id, ExperimentStatus::Cancelled, r.hands_done, None, now_ms())
                .await?;
        }
        let info = self.info(id).await?;
        self.publish(info.clone());
        Ok(info)
    }

    /// Resumes a paused (or failed) experiment from its last checkpoint.
    pub async fn resume(&self, id: &str) -> Result<Value, ExperimentError> {
        if *self.deps.shutdown.borrow() {
            return Err(ExperimentError::ShuttingDown);
        }
        let record = self.deps.repo.load_experiment(id).await?;
        if !matches!(record.status, ExperimentStatus::Paused | ExperimentStatus::Failed)
            || self.active.lock().contains_key(id)
        {
            return Err(state_error(&record, "resume"));
        }
        self.deps
            .repo
            .update_experiment(id, ExperimentStatus::Running, record.hands_done, None, now_ms())
            .await?;
        self.restart(&record).await?;
        let info = self.info(id).await?;
        self.publish(info.clone());
        Ok(info)
    }

    /// Starts every experiment that was running when the server stopped.
    pub async fn restore_all(&self) -> Result<usize, StoreError> {
        let mut restored = 0;
        for record in self.deps.repo.list_experiments().await? {
            if record.status != ExperimentStatus::Running {
                continue;
            }
            match self.restart(&record).await {
                Ok(()) => restored += 1,
                Err(e) => {
                    warn!(experiment = %record.id, "cannot resume the experiment: {e}");
                    let _ = self
                        .deps
                        .repo
                        .update_experiment(
                            &record.id,
                            ExperimentStatus::Failed,
                            record.hands_done,
                            None,
                            now_ms(),
                        )
                        .await;
                }
            }
        }
        Ok(restored)
    }

    /// Stops every run, leaving them `running` so the next start resumes
    /// them; waits (up to 10 s) for their last checkpoint.
    pub async fn shutdown(&self) {
        let waits: Vec<watch::Receiver<bool>> = self
            .active
            .lock()
            .values_mut()
            .map(|run| {
                if run.intent == Intent::Run {
                    run.intent = Intent::Shutdown;
                }
                let _ = run.stop.send(true);
                run.finished.clone()
            })
            .collect();
        let all = async {
            for mut finished in waits {
                let _ = finished.wait_for(|f| *f).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), all).await.is_err() {
            warn!("experiments did not save their checkpoint within 10 s");
        }
    }

    /// Asks a run to stop and waits until it has saved.
    async fn stop(&self, id: &str, intent: Intent) {
        let finished = {
            let mut active = self.active.lock();
            let Some(run) = active.get_mut(id) else {
                return;
            };
            if run.intent == Intent::Run {
                run.intent = intent;
            }
            let _ = run.stop.send(true);
            run.finished.clone()
        };
        let mut finished = finished;
        let _ = finished.wait_for(|f| *f).await;
    }

    async fn restart(&self, record: &ExperimentRecord) -> Result<(), ExperimentError> {
        let spec = record_spec(record)?;
        let checkpoint = match self.deps.repo.experiment_checkpoint(&record.id).await? {
            Some(text) => serde_json::from_str::<Checkpoint>(&text)
                .map_err(ExperimentError::StoredCheckpointUnreadable)?,
            None => fresh_checkpoint(&spec),
        };
        info!(experiment = %record.id, hands_done = checkpoint.hands_done, "experiment resumes");
        self.start(&record.id, spec, checkpoint);
        Ok(())
    }

    /// Spawns the run's task.
    fn start(&self, id: &str, spec: ExperimentSpec, checkpoint: Checkpoint) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (finished_tx, finished_rx) = watch::channel(false);
        self.active.lock().insert(
            id.to_owned(),
            Active {
                stop: stop_tx,
                intent: Intent::Run,
                progress: None,
                finished: finished_rx,
            },
        );
        let meter = Arc::new(UsageMeter::default());
        if !spec.bots_only() {
            self.meters.lock().insert(id.to_owned(), meter.clone());
        }
        let task = play(
            self.clone(),
            id.to_owned(),
            spec.clone(),
            checkpoint,
            meter,
            stop_rx,
            finished_tx,
        );
        match bulk_runtime().filter(|_| spec.bots_only()) {
            Some(runtime) => {
                runtime.spawn(task);
            }
            None => {
                tokio::spawn(task);
            }
        }
    }

    fn set_progress(&self, id: &str, progress: &Progress) {
        if let Some(run) = self.active.lock().get_mut(id) {
            run.progress = Some(progress.clone());
        }
    }

    fn intent(&self, id: &str) -> Intent {
        self.active.lock().get(id).map_or(Intent::Run, |a| a.intent)
    }

    fn forget(&self, id: &str) {
        self.active.lock().remove(id);
        self.meters.lock().remove(id);
    }
}

fn state_error(record: &ExperimentRecord, action: &'static str) -> ExperimentError {
    ExperimentError::WrongState {
        action,
        id: record.id.clone(),
        status: record.status.name(),
    }
}

fn record_spec(record: &ExperimentRecord) -> Result<ExperimentSpec, ExperimentError> {
    ExperimentSpec::parse(&record.spec).map_err(|e| ExperimentError::StoredSpecInvalid(e.to_string()))
}

fn fresh_checkpoint(spec: &ExperimentSpec) -> Checkpoint {
    Checkpoint {
        stats: if spec.duplicate {
            stats::StatsAccumulator::new()
        } else {
            stats::StatsAccumulator::without_deals()
        },
        ..Checkpoint::default()
    }
}

/// Plays one experiment until it ends, pauses, is cancelled or the server stops.
async fn play(
    experiments: Experiments,
    id: String,
    spec: ExperimentSpec,
    checkpoint: Checkpoint,
    meter: Arc<UsageMeter>,
    stop: watch::Receiver<bool>,
    finished: watch::Sender<bool>,
) {
    let spec = Arc::new(spec);
    let outcome = play_inner(&experiments, &id, &spec, checkpoint, &meter, stop).await;
    let intent = experiments.intent(&id);
    let (status, results) = match outcome {
        Ok((reason, checkpoint)) => {
            let status = match (reason, intent) {
                (StopReason::Done, _) => ExperimentStatus::Done,
                (StopReason::Budget, _) => ExperimentStatus::BudgetReached,
                (StopReason::Degraded, _) => ExperimentStatus::Degraded,
                (StopReason::Stopped, Intent::Cancel) => ExperimentStatus::Cancelled,
                (StopReason::Stopped, Intent::Shutdown) => ExperimentStatus::Running,
                (StopReason::Stopped, _) => ExperimentStatus::Paused,
            };
            let models = (!spec.bots_only()).then(|| meter.models());
            let mut summary = summary(&spec, &checkpoint, status.name(), models);
            if reason == StopReason::Degraded {
                let why = crate::experiment::degraded_reason(&spec, &checkpoint, &experiments.deps.agents);
                warn!(experiment = %id, "experiment degraded: {why}");
                summary["degraded"] = serde_json::json!(why);
            }
            (status, Some(summary.to_string()))
        }
        Err(e) => {
            warn!(experiment = %id, "experiment failed: {e}");
            (ExperimentStatus::Failed, None)
        }
    };
    let hands_done = match experiments.deps.repo.load_experiment(&id).await {
        Ok(r) => r.hands_done,
        Err(_) => 0,
    };
    if let Err(e) = experiments
        .deps
        .repo
        .update_experiment(&id, status, hands_done, results.as_deref(), now_ms())
        .await
    {
        warn!(experiment = %id, "cannot record the experiment's status: {e}");
    }
    info!(experiment = %id, status = status.name(), hands_done, "experiment stopped");
    experiments.forget(&id);
    if let Ok(info) = experiments.info(&id).await {
        experiments.publish(info);
    }
    let _ = finished.send(true);
}

async fn play_inner(
    experiments: &Experiments,
    id: &str,
    spec: &Arc<ExperimentSpec>,
    checkpoint: Checkpoint,
    meter: &Arc<UsageMeter>,
    stop: watch::Receiver<bool>,
) -> Result<(StopReason, Checkpoint), ExperimentError> {
    let agents = spec
        .seats
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let agent = if spec.capture {
                crate::experiment::with_capture(&s.agent)
            } else {
                s.agent.clone()
            };
            SeatAgent::build(&agent, &experiments.deps.agents, mix(&[spec.seed, i as u64]))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let plan = runner::Plan {
        spec: spec.clone(),
        agents: Arc::new(agents),
        experiment_id: id.to_owned(),
        cost: meter.clone(),
    };
    let mut sink = StoreSink {
        repo: experiments.deps.repo.clone(),
        id: id.to_owned(),
        spec: spec.clone(),
        meter: (!spec.bots_only()).then(|| meter.clone()),
        hands: Vec::new(),
        decisions: Vec::new(),
        agents_json: Vec::new(),
    };
    let mut last_published = std::time::Instant::now() - Duration::from_secs(1);
    let progress = |p: &Progress| {
        experiments.set_progress(id, p);
        if last_published.elapsed() >= Duration::from_millis(500) {
            last_published = std::time::Instant::now();
            let record = ExperimentRecord {
                id: id.to_owned(),
                spec: String::new(),
                status: ExperimentStatus::Running,
                hands_done: p.hands_done,
                hands_total: p.hands_total,
                results: None,
                created_at_ms: 0,
                updated_at_ms: now_ms(),
            };
            let mut info = info_json(&record, Some(p));
            info["name"] = json!(spec.name);
            // Only the store knows what is saved; the REST views carry it.
            if let Some(info) = info.as_object_mut() {
                info.remove("hands_saved");
            }
            experiments.publish(info);
        }
    };
    let (reason, mut checkpoint) = runner::run(plan, checkpoint, &mut sink, stop, progress).await?;
    // This session's LLM spending, counted once the last usage records are in.
    if !spec.bots_only() {
        if !experiments.usage_settled(Duration::from_secs(5)).await {
            warn!(experiment = %id, "LLM usage records still queued after 5 s: the final cost may miss some");
        }
        let (cost, tokens) = runner::CostMeter::spent(&**meter);
        checkpoint.cost_usd += cost;
        checkpoint.tokens += tokens;
        sink.checkpoint(&checkpoint).await?;
    }
    Ok((reason, checkpoint))
}

/// Saves hands, decisions and checkpoints of a server run to the store.
struct StoreSink {
    repo: AnyRepo,
    id: String,
    spec: Arc<ExperimentSpec>,
    meter: Option<Arc<UsageMeter>>,
    hands: Vec<ExperimentHandRow>,
    decisions: Vec<DecisionRow>,
    /// The `agents` column of each seating seen (by its names' `Arc`):
    /// serialised once, not per hand.
    agents_json: Vec<(Arc<[String]>, String)>,
}

impl HandSink for StoreSink {
    fn hand(&mut self, index: u64, row: &HandRow, agents: &Arc<[String]>) -> Result<(), ExperimentError> {
        let mut nets = vec![0i64; agents.len()];
        for seat in &row.summary.seats {
            if let Some(n) = nets.get_mut(seat.seat) {
                *n = seat.net;
            }
        }
        let phh = if self.spec.write_phh {
            let names: Vec<Option<String>> = agents.iter().cloned().map(Some).collect();
            Some(
                game_core::phh::to_phh(&self.spec.table_config(), &row.events, &names)
                    .map_err(|source| ExperimentError::Phh { hand: index, source })?,
            )
        } else {
            None
        };
        self.hands.push(ExperimentHandRow {
            experiment_id: self.id.clone(),
            hand: index,
            deal: row.deal,
            rotation: row.rotation,
            table_index: row.table as u64,
            agents: match self
                .agents_json
                .iter()
                .find(|(seating, _)| Arc::ptr_eq(seating, agents))
            {
                Some((_, json)) => json.clone(),
                None => {
                    let json = to_json(agents);
                    self.agents_json.push((agents.clone(), json.clone()));
                    json
                }
            },
            nets: to_json(&nets),
            phh,
        });
        let at_ms = now_ms();
        for d in &row.decisions {
            self.decisions.push(DecisionRow {
                id: 0,
                at_ms,
                table_id: Some(format!("{}:{}", self.id, row.table)),
                hand: Some(index),
                seat: d.seat as u64,
                experiment_id: Some(self.id.clone()),
                source: d.source.clone(),
                prompt: None,
                raw_reply: None,
                parsed_action: serde_json::to_string(&d.action).ok(),
                fallback_reason: d.fallback_reason.clone(),
                reason: d.reason.clone(),
                model: d.model.clone(),
                steps: (!d.steps.is_empty())
                    .then(|| serde_json::to_string(&d.steps).ok())
                    .flatten(),
            });
        }
        Ok(())
    }

    async fn checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), ExperimentError> {
        let models = self.meter.as_ref().map(|m| m.models());
        let results = summary(&self.spec, checkpoint, "running", models);
        let batch = ExperimentBatch {
            id: self.id.clone(),
            status: None,
            hands_done: checkpoint.hands_done,
            checkpoint: serde_json::to_string(checkpoint).map_err(ExperimentError::EncodeCheckpoint)?,
            results: Some(results.to_string()),
            hands: std::mem::take(&mut self.hands),
            decisions: std::mem::take(&mut self.decisions),
            now_ms: now_ms(),
        };
        // The batch is kept until it is stored: a store outage delays the run
        // (the runner waits here) instead of losing hands.
        let started = std::time::Instant::now();
        let mut wait = Duration::from_millis(100);
        loop {
            match self.repo.save_experiment_batch(&batch).await {
                Ok(()) => return Ok(()),
                Err(e @ (StoreError::NotFound { .. } | StoreError::Duplicate { .. })) => {
                    return Err(ExperimentError::SaveRefused(e));
                }
                Err(source) if started.elapsed() >= SAVE_RETRY => {
                    return Err(ExperimentError::SaveTimedOut {
                        secs: SAVE_RETRY.as_secs(),
                        source,
                    });
                }
                Err(e) => {
                    warn!(experiment = %self.id, "saving a checkpoint failed, retrying: {e}");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

/// JSON text of a value for a store column.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}
