//! Shared helpers for ai-players' integration tests.
#![allow(dead_code)]

use ai_players::agent::{CallContext, Lane, Turn};
use ai_players::config::LlmConfig;
use ai_players::executor::Executor;
use ai_players::mock::{MockConfig, MockLlm, MockServer};
use ai_players::usage::{UsageRecord, UsageSink};
use game_core::sim::seated_table;
use game_core::{Command, TableConfig, Viewer};
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};

/// A running mock provider with this config.
pub async fn mock(config: MockConfig) -> MockServer {
    MockLlm::start(config).await.expect("mock starts")
}

/// An executor config with one provider at `base_url` and model `mock-llm`;
/// `extra` is appended inside the model table, `executor` in `[executor]`.
pub fn config(base_url: &str, kind: &str, model: &str, executor: &str) -> LlmConfig {
    LlmConfig::from_toml(&format!(
        "[executor]\nbackoff_base_ms = 20\nbackoff_max_ms = 200\n{executor}\n\
         [[provider]]\nname = \"mock\"\nbase_url = \"{base_url}\"\nkind = \"{kind}\"\n\
         [[provider.model]]\nname = \"mock-llm\"\n{model}\n"
    ))
    .expect("valid config")
}

/// An executor over `config` and the receiving end of its usage records.
pub fn executor(config: &LlmConfig) -> (Executor, mpsc::Receiver<UsageRecord>) {
    let (sink, rx) = UsageSink::bounded(100_000);
    (Executor::new(config, sink).expect("executor builds"), rx)
}

/// Everything received so far.
pub fn drain(rx: &mut mpsc::Receiver<UsageRecord>) -> Vec<UsageRecord> {
    let mut out = Vec::new();
    while let Ok(r) = rx.try_recv() {
        out.push(r);
    }
    out
}

/// A real turn: a 6-max hand just dealt, the first seat to act.
pub fn turn(seed: u64, lane: Lane, within: Duration) -> Turn {
    let mut t = seated_table(TableConfig::new(6, 50, 100), 10_000).expect("config");
    t.apply(Command::StartHand { seed }).expect("start");
    let seat = t.to_act().expect("someone acts");
    Turn {
        seat,
        view: t.view(Viewer::Seat(seat)),
        deadline: Instant::now() + within,
        lane,
        context: CallContext {
            table_id: Some("t1".into()),
            hand: Some(1),
            experiment_id: None,
            seat: None,
        },
    }
}
