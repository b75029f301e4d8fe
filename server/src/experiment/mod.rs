//! Experiments: bulk AI-vs-AI runs with statistics, costs and every decision.
//!
//! - [`spec`]: the experiment spec (TOML or JSON).
//! - [`runner`]: plays the hands (parallel tables, deterministic, resumable).
//! - [`stats`]: per-agent results (bb/100 with confidence intervals, VPIP, PFR, ...).
//! - [`llm_stats`]: per-agent LLM decision statistics.
//! - [`output`]: the results folder of a CLI run.
//! - [`service`]: experiments run by the server, stored through the repository.
//! - [`error`]: what goes wrong, in the experiment's terms ([`ExperimentError`]).

mod csv;
pub mod error;
pub mod llm_stats;
pub mod output;
pub mod runner;
pub mod service;
pub mod spec;
pub mod stats;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ai_players::config::LlmConfig;
use ai_players::executor::Executor;
use ai_players::usage::{UsageRecord, UsageSink};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::watch;

pub use error::ExperimentError;

use crate::table::agents::Agents;
use output::{CALLS_FILE, ResultsDir};
use runner::{Checkpoint, CostMeter, NoCost, Progress, SeatAgent, StopReason};
use spec::{ExperimentSpec, mix};

/// Usage of one provider/model in a run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ModelUsage {
    /// Calls.
    pub calls: u64,
    /// Calls by outcome (`ok`, `deadline`, ...).
    pub outcomes: BTreeMap<String, u64>,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost, USD.
    pub cost_usd: f64,
    /// Total time waiting for capacity, ms.
    pub queue_wait_ms: u64,
    /// 429s seen.
    pub rate_limited: u64,
}

/// Counts LLM usage of this session (cost and tokens for budgets and progress).
#[derive(Default)]
pub struct UsageMeter {
    models: Mutex<BTreeMap<String, ModelUsage>>,
}

impl UsageMeter {
    fn record(&self, r: &UsageRecord) {
        let mut models = self.models.lock();
        let m = models.entry(format!("{}/{}", r.provider, r.model)).or_default();
        m.calls += 1;
        *m.outcomes.entry(r.outcome.name().to_owned()).or_default() += 1;
        m.prompt_tokens += r.tokens.prompt;
        m.completion_tokens += r.tokens.completion;
        m.cost_usd += r.cost_usd;
        m.queue_wait_ms += r.queue_wait_ms;
        m.rate_limited += u64::from(r.rate_limited);
    }

    /// Per-model usage so far.
    pub fn models(&self) -> BTreeMap<String, ModelUsage> {
        self.models.lock().clone()
    }
}

impl CostMeter for UsageMeter {
    fn spent(&self) -> (f64, u64) {
        let models = self.models.lock();
        models.values().fold((0.0, 0), |(c, t), m| {
            (c + m.cost_usd, t + m.prompt_tokens + m.completion_tokens)
        })
    }
}

/// Builds the seats' agents (LLM seats through one executor from `llm_config`).
/// The seats' agents, the cost meter, and (with LLM seats) the usage meter
/// and the task that drains usage records (it ends once every agent is dropped).
type BuiltAgents = (
    Vec<SeatAgent>,
    Arc<dyn CostMeter>,
    Option<(Arc<UsageMeter>, tokio::task::JoinHandle<()>)>,
    Agents,
);

fn build_agents(
    spec: &ExperimentSpec,
    llm_config: Option<&Path>,
    dir: &Path,
) -> Result<BuiltAgents, ExperimentError> {
    if spec.bots_only() {
        let agents = Agents::new(None);
        let seats = spec
            .seats
            .iter()
            .enumerate()
            .map(|(i, s)| SeatAgent::build(&s.agent, &agents, mix(&[spec.seed, i as u64])))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((seats, Arc::new(NoCost), None, agents));
    }
    let path = llm_config.ok_or(ExperimentError::NoLlmConfig)?;
    let config = LlmConfig::from_file(&path.to_string_lossy()).map_err(ExperimentError::LlmConfig)?;
    let (sink, mut usage) = UsageSink::bounded(100_000);
    let executor = Executor::new(&config, sink).map_err(ExperimentError::LlmExecutor)?;
    let meter = Arc::new(UsageMeter::default());
    let drain_meter = meter.clone();
    let calls_path = dir.join(CALLS_FILE);
    let capture = spec.capture;
    let drain = tokio::spawn(async move {
        let mut file = std::fs::OpenOptions::new().append(true).open(&calls_path).ok();
        while let Some(record) = usage.recv().await {
            drain_meter.record(&record);
            if let Some(file) = file.as_mut() {
                let mut line = json!({
                    "at_ms": record.at_ms, "provider": record.provider, "model": record.model,
                    "lane": record.lane.name(), "outcome": record.outcome.name(), "status": record.status,
                    "prompt_tokens": record.tokens.prompt, "completion_tokens": record.tokens.completion,
                    "cost_usd": record.cost_usd, "latency_ms": record.latency_ms,
                    "queue_wait_ms": record.queue_wait_ms, "retries": record.retries,
                    "table": record.context.table_id, "hand": record.context.hand,
                });
                if capture && let Some(c) = &record.capture {
                    line["prompt"] = json!(c.prompt);
                    line["reply"] = json!(c.reply);
                }
                let _ = writeln!(file, "{line}");
            }
        }
    });
    let agents = Agents::new(Some(executor));
    let mut seats = Vec::new();
    for (i, s) in spec.seats.iter().enumerate() {
        let agent = if capture {
            with_capture(&s.agent)
        } else {
            s.agent.clone()
        };
        seats.push(SeatAgent::build(&agent, &agents, mix(&[spec.seed, i as u64]))?);
    }
    let cost: Arc<dyn CostMeter> = meter.clone();
    Ok((seats, cost, Some((meter, drain)), agents))
}

/// An LLM seat's spec with `capture` on (other specs as they are).
pub fn with_capture(agent: &str) -> String {
    match agent.parse::<ai_players::AgentSpec>() {
        Ok(ai_players::AgentSpec::Llm(mut llm)) => {
            llm.capture = true;
            ai_players::AgentSpec::Llm(llm).to_string()
        }
        _ => agent.to_owned(),
    }
}

/// Why a run stopped as `degraded`, in a line or two: per LLM agent over
/// the limit, its fallback share and reasons, and the provider's last
/// error (once) when there is one.
pub fn degraded_reason(spec: &ExperimentSpec, checkpoint: &Checkpoint, agents: &Agents) -> String {
    let names = spec.agent_names();
    let mut lines = Vec::new();
    let mut said = std::collections::BTreeSet::new();
    for (name, stats) in runner::over_fallback_limit(&checkpoint.llm, spec.max_fallback_rate, 1) {
        let reasons: Vec<String> = stats.fallbacks.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let mut line = format!(
            "{name}: {} of {} decisions were made by the fallback bot ({:.0}%, the limit is {:.0}%): {}",
            stats.bot_fallbacks(),
            stats.decisions,
            100.0 * stats.fallback_share(),
            100.0 * spec.max_fallback_rate,
            reasons.join(", ")
        );
        let agent = names
            .iter()
            .position(|n| n == name)
            .and_then(|i| spec.seats.get(i))
            .map(|s| s.agent.as_str());
        if let Some(error) = agent.and_then(|a| agents.last_error(a))
            && said.insert(error.clone())
        {
            line.push_str(&format!("; the provider said: {error}"));
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// The summary written at the end (and when stopped).
pub fn summary(
    spec: &ExperimentSpec,
    checkpoint: &Checkpoint,
    status: &str,
    models: Option<BTreeMap<String, ModelUsage>>,
) -> Value {
    let secs = checkpoint.elapsed_ms as f64 / 1000.0;
    let llm: BTreeMap<&String, Value> = checkpoint.llm.iter().map(|(k, v)| (k, v.summary())).collect();
    json!({
        "name": spec.name,
        "status": status,
        "hands_done": checkpoint.hands_done,
        "hands_total": spec.deals() * spec.hands_per_deal(),
        "elapsed_secs": secs,
        "hands_per_sec": if secs > 0.0 { checkpoint.hands_done as f64 / secs } else { 0.0 },
        "cost_usd": checkpoint.cost_usd,
        "tokens": checkpoint.tokens,
        "agents": checkpoint.stats.results(),
        "llm": llm,
        "models": models,
        "curve": checkpoint.curve.to_json(spec.big_blind),
        "spec": spec,
    })
}

/// Runs (or resumes) a CLI experiment into `dir`; stops cleanly when `stop` turns true.
pub async fn run_in_dir(
    spec_text: Option<&str>,
    dir: &Path,
    llm_config: Option<&Path>,
    stop: watch::Receiver<bool>,
    progress: impl FnMut(&Progress),
) -> Result<(StopReason, Value), ExperimentError> {
    let (mut out, checkpoint) = match spec_text {
        Some(text) => {
            let spec = ExperimentSpec::parse(text)?;
            // Outside duplicate mode every deal is one hand: no per-deal sums to keep.
            let stats = if spec.duplicate {
                stats::StatsAccumulator::new()
            } else {
                stats::StatsAccumulator::without_deals()
            };
            let checkpoint = Checkpoint {
                stats,
                ..Checkpoint::default()
            };
            (ResultsDir::create(dir, &spec)?, checkpoint)
        }
        None => ResultsDir::resume(dir)?,
    };
    let spec = Arc::new(out.spec().clone());
    let (agents, cost, meter, factory) = build_agents(&spec, llm_config, dir)?;
    let id = format!(
        "exp_{:016x}",
        mix(&[spec.seed, spec.hands, spec.seats.len() as u64])
    );
    let plan = runner::Plan {
        spec: spec.clone(),
        agents: Arc::new(agents),
        experiment_id: id,
        cost: cost.clone(),
    };
    let (reason, mut checkpoint) = runner::run(plan, checkpoint, &mut out, stop, progress).await?;
    let degraded = (reason == StopReason::Degraded).then(|| degraded_reason(&spec, &checkpoint, &factory));
    drop(factory);
    // Every agent (and so every executor handle) is gone: the usage drain
    // ends once it has counted the last records.
    let models = match meter {
        Some((meter, drain)) => {
            if tokio::time::timeout(std::time::Duration::from_secs(10), drain)
                .await
                .is_err()
            {
                tracing::warn!("LLM usage records still arriving; the summary may miss the last ones");
            }
            Some(meter.models())
        }
        None => None,
    };
    let (cost_usd, tokens) = cost.spent();
    checkpoint.cost_usd += cost_usd;
    checkpoint.tokens += tokens;
    runner::HandSink::checkpoint(&mut out, &checkpoint).await?;
    let status = match reason {
        StopReason::Done => "done",
        StopReason::Stopped => "stopped",
        StopReason::Budget => "budget_reached",
        StopReason::Degraded => "degraded",
    };
    let mut summary = summary(&spec, &checkpoint, status, models);
    if let Some(why) = degraded {
        summary["degraded"] = json!(why);
    }
    out.write_summary(&summary)?;
    Ok((reason, summary))
}

/// A table of what each LLM agent's decisions came to (model share and
/// fallbacks by reason), for the end of a CLI run; empty without LLM seats.
pub fn llm_table(summary: &Value) -> String {
    let Some(llm) = summary["llm"].as_object().filter(|l| !l.is_empty()) else {
        return String::new();
    };
    let mut out = format!(
        "{:<32} {:>9} {:>12} {:>12} {:>12}  fallbacks by reason\n",
        "LLM agent", "decisions", "by model", "other model", "by bot"
    );
    let percent = |n: u64, of: u64| {
        if of == 0 {
            "-".to_owned()
        } else {
            format!("{n} ({:.0}%)", 100.0 * n as f64 / of as f64)
        }
    };
    for (name, s) in llm {
        let decisions = s["decisions"].as_u64().unwrap_or(0);
        let other: u64 = s["other_model_decisions"]
            .as_object()
            .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
        let reasons: Vec<String> = s["fallbacks"]
            .as_object()
            .map(|m| m.iter().map(|(r, n)| format!("{r} {n}")).collect())
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<32} {:>9} {:>12} {:>12} {:>12}  {}\n",
            name.chars().take(32).collect::<String>(),
            decisions,
            percent(s["model_decisions"].as_u64().unwrap_or(0), decisions),
            percent(other, decisions),
            percent(s["fallback_decisions"].as_u64().unwrap_or(0), decisions),
            if reasons.is_empty() {
                "-".to_owned()
            } else {
                reasons.join(", ")
            }
        ));
    }
    out
}

/// The default results folder for a spec file: `results/<file stem>-<unix seconds>`.
pub fn default_dir(spec_path: &Path) -> PathBuf {
    let stem = spec_path
        .file_stem()
        .map_or_else(|| "experiment".into(), |s| s.to_string_lossy());
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from("results").join(format!("{stem}-{secs}"))
}

/// A progress line for a terminal: hands, rate, ETA, cost.
pub fn progress_line(p: &Progress) -> String {
    let pct = if p.hands_total > 0 {
        100.0 * p.hands_done as f64 / p.hands_total as f64
    } else {
        0.0
    };
    let eta = p.eta_secs.map_or_else(|| "?".to_owned(), format_secs);
    format!(
        "{}/{} hands ({pct:.1}%)  {:.0} hands/s  ETA {eta}  ${:.4}  {} tokens",
        p.hands_done, p.hands_total, p.hands_per_sec, p.cost_usd, p.tokens
    )
}

fn format_secs(s: f64) -> String {
    let s = s.max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
