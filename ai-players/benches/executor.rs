//! The executor under a provider's rate limit, against the naive way.
//!
//! Many simulated tables send decisions to the simulated provider, limited
//! like a low API tier (600 RPM by default) with about 1 s latency. First
//! through the executor (lanes, budgets, Retry-After), then, on a fresh
//! provider, the way the systems it replaces did it: an HTTP client per
//! agent, calls as soon as a turn comes, a fixed 1 s retry on 429 up to 3
//! times, then the turn fails over to a bot. Prints one table.
//!
//! `cargo bench -p ai-players --bench executor -- [--tables N] [--decisions N]
//! [--rpm N] [--latency-ms N] [--live-tables N] [--watched-tables N] [--skip-naive]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ai_players::agent::{Agent, CallContext, DecisionSource, Lane, Turn};
use ai_players::bots;
use ai_players::config::LlmConfig;
use ai_players::executor::Executor;
use ai_players::llm::{LlmAgent, LlmOptions};
use ai_players::mock::{Latency, Limits, MockConfig, MockLlm};
use ai_players::usage::{UsageRecord, UsageSink};
use game_core::sim::{SplitMix64, seated_table};
use game_core::{Command, TableConfig, Viewer};
use parking_lot::Mutex;
use tokio::time::{Duration, Instant};

#[derive(Clone, Copy)]
struct Load {
    tables: usize,
    decisions: u64,
    rpm: u64,
    latency_ms: u64,
    live: usize,
    watched: usize,
    naive: bool,
}

fn parse_args() -> Load {
    let mut load = Load {
        tables: 1000,
        decisions: 10_000,
        rpm: 600,
        latency_ms: 1000,
        live: 10,
        watched: 10,
        naive: true,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match args[i].as_str() {
            "--tables" => load.tables = value().unwrap_or(1000) as usize,
            "--decisions" => load.decisions = value().unwrap_or(10_000),
            "--rpm" => load.rpm = value().unwrap_or(600),
            "--latency-ms" => load.latency_ms = value().unwrap_or(1000),
            "--live-tables" => load.live = value().unwrap_or(10) as usize,
            "--watched-tables" => load.watched = value().unwrap_or(10) as usize,
            "--skip-naive" => {
                load.naive = false;
                i -= 1;
            }
            _ => {
                i -= 1; // cargo bench passes --bench; ignore unknown flags
            }
        }
        i += 2;
    }
    load
}

/// A real turn from a fresh 6-max hand.
fn turn(seed: u64, lane: Lane, clock: Duration, table: usize) -> Turn {
    let mut t = seated_table(TableConfig::new(6, 50, 100), 10_000).expect("config");
    t.apply(Command::StartHand { seed }).expect("start");
    let seat = t.to_act().expect("to act");
    Turn {
        seat,
        view: t.view(Viewer::Seat(seat)),
        deadline: Instant::now() + clock,
        lane,
        context: CallContext {
            table_id: Some(format!("bench-{table}")),
            hand: Some(seed),
            experiment_id: None,
            seat: None,
        },
    }
}

fn lane_of(table: usize, load: &Load) -> (Lane, Duration, Duration) {
    // (lane, turn clock, pause between this table's decisions)
    if table < load.live {
        (Lane::Live, Duration::from_secs(15), Duration::from_secs(3))
    } else if table < load.live + load.watched {
        // Watched AI tables are throttled so spectators can follow them.
        (Lane::Watched, Duration::from_secs(60), Duration::from_secs(3))
    } else {
        (Lane::Bulk, Duration::from_secs(3600), Duration::ZERO)
    }
}

#[derive(Default)]
struct Tally {
    model: AtomicU64,
    fallback: AtomicU64,
    waits: Mutex<[Vec<u64>; 3]>,
}

fn percentile(values: &mut [u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let idx = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[idx]
}

fn mock_config(load: &Load) -> MockConfig {
    MockConfig {
        limits: Limits {
            rpm: Some(load.rpm),
            window_ms: 60_000,
            ..Limits::default()
        },
        latency: Latency {
            median_ms: load.latency_ms,
            p99_ms: load.latency_ms * 2,
        },
        ..MockConfig::default()
    }
}

struct Row {
    name: &'static str,
    seconds: f64,
    answered: u64,
    fallbacks: u64,
    rate_limited: u64,
    goodput: f64,
    per_minute: f64,
    waits: [(u64, u64, usize); 3],
}

async fn run_executor(load: Load) -> Row {
    let server = MockLlm::start(mock_config(&load)).await.expect("mock");
    let config = LlmConfig::from_toml(&format!(
        "[executor]\nmax_in_flight = 512\nlive_reserve = 0.1\n\
         [[provider]]\nname = \"mock\"\nbase_url = \"{}\"\n\
         [[provider.model]]\nname = \"mock-llm\"\nrpm = {}\nmax_in_flight = 128\n",
        server.base_url(),
        load.rpm
    ))
    .expect("config");
    let (sink, mut records) = UsageSink::bounded(1_000_000);
    let exec = Executor::new(&config, sink).expect("executor");
    let issued = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for table in 0..load.tables {
        let (lane, clock, pause) = lane_of(table, &load);
        let exec = exec.clone();
        let issued = Arc::clone(&issued);
        let tally = Arc::clone(&tally);
        tasks.push(tokio::spawn(async move {
            let player = LlmAgent::new(
                exec,
                LlmOptions::new("mock", "mock-llm"),
                bots::bot("calling-station").expect("bot"),
                table as u64,
            );
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= load.decisions {
                    return;
                }
                let t = turn(n, lane, clock, table);
                let d = player.decide(&t).await;
                match d.source {
                    DecisionSource::Model { .. } => tally.model.fetch_add(1, Ordering::Relaxed),
                    _ => tally.fallback.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(pause).await;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut waits: [Vec<u64>; 3] = Default::default();
    while let Ok(r) = records.try_recv() {
        let r: UsageRecord = r;
        waits[r.lane.index()].push(r.queue_wait_ms);
    }
    let stats = server.shutdown().await;
    let answered = tally.model.load(Ordering::Relaxed);
    let mut out = [(0, 0, 0); 3];
    for (i, w) in waits.iter_mut().enumerate() {
        out[i] = (percentile(w, 0.5), percentile(w, 0.99), w.len());
    }
    Row {
        name: "executor",
        seconds,
        answered,
        fallbacks: tally.fallback.load(Ordering::Relaxed),
        rate_limited: stats.rate_limited,
        goodput: answered as f64 / (seconds / 60.0 * load.rpm as f64),
        per_minute: answered as f64 / (seconds / 60.0),
        waits: out,
    }
}

async fn run_naive(load: Load) -> Row {
    let server = MockLlm::start(mock_config(&load)).await.expect("mock");
    let url = format!("{}/chat/completions", server.base_url());
    let issued = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for table in 0..load.tables {
        let (lane, clock, pause) = lane_of(table, &load);
        let url = url.clone();
        let issued = Arc::clone(&issued);
        let tally = Arc::clone(&tally);
        tasks.push(tokio::spawn(async move {
            // The old way: a client per agent, no shared limiter.
            let client = reqwest::Client::new();
            let fallback = bots::bot("calling-station").expect("bot");
            let mut rng = SplitMix64::new(table as u64);
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= load.decisions {
                    return;
                }
                let t = turn(n, lane, clock, table);
                let body = serde_json::json!({
                    "model": "mock-llm",
                    "messages": [
                        {"role": "system", "content": ai_players::llm::prompt::system_message("")},
                        {"role": "user", "content": ai_players::llm::prompt::situation(&t.view, t.seat)},
                    ],
                    "max_tokens": 160,
                    "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": ai_players::llm::prompt::answer_schema(&t.view.legal)}},
                });
                let asked = Instant::now();
                let mut answered = false;
                for _attempt in 0..4 {
                    let sent = client.post(&url).json(&body).send();
                    match tokio::time::timeout_at(t.deadline, sent).await {
                        Ok(Ok(r)) if r.status().is_success() => {
                            let text = r.text().await.unwrap_or_default();
                            answered = ai_players::llm::reply::parse_reply(
                                &serde_json::from_str::<serde_json::Value>(&text)
                                    .ok()
                                    .and_then(|v| {
                                        v["choices"][0]["message"]["content"].as_str().map(String::from)
                                    })
                                    .unwrap_or_default(),
                                &t.view.legal,
                            )
                            .is_ok();
                            break;
                        }
                        Ok(Ok(r)) if r.status().as_u16() == 429 => {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        _ => break,
                    }
                }
                tally.waits.lock()[lane.index()].push(asked.elapsed().as_millis() as u64);
                if answered {
                    tally.model.fetch_add(1, Ordering::Relaxed);
                } else {
                    let _ = fallback.act(t.seat, &t.view, &mut rng);
                    tally.fallback.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(pause).await;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let stats = server.shutdown().await;
    let answered = tally.model.load(Ordering::Relaxed);
    let mut waits = std::mem::take(&mut *tally.waits.lock());
    let mut out = [(0, 0, 0); 3];
    for (i, w) in waits.iter_mut().enumerate() {
        out[i] = (percentile(w, 0.5), percentile(w, 0.99), w.len());
    }
    Row {
        name: "naive (no executor)",
        seconds,
        answered,
        fallbacks: tally.fallback.load(Ordering::Relaxed),
        rate_limited: stats.rate_limited,
        goodput: answered as f64 / (seconds / 60.0 * load.rpm as f64),
        per_minute: answered as f64 / (seconds / 60.0),
        waits: out,
    }
}

#[tokio::main]
async fn main() {
    let load = parse_args();
    println!(
        "{} tables ({} live, {} watched, the rest bulk), {} decisions, provider limit {} RPM, latency median {} ms",
        load.tables, load.live, load.watched, load.decisions, load.rpm, load.latency_ms
    );
    let mut rows = vec![run_executor(load).await];
    if load.naive {
        rows.push(run_naive(load).await);
    }
    println!();
    println!(
        "| path | wall s | model answers | failed turns (fallbacks) | 429s | answers/min | goodput / limit | live wait p50/p99 ms | watched p50/p99 ms | bulk p50/p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let w = |i: usize| format!("{}/{} (n={})", r.waits[i].0, r.waits[i].1, r.waits[i].2);
        println!(
            "| {} | {:.0} | {} | {} | {} | {:.0} | {:.1}% | {} | {} | {} |",
            r.name,
            r.seconds,
            r.answered,
            r.fallbacks,
            r.rate_limited,
            r.per_minute,
            r.goodput * 100.0,
            w(0),
            w(1),
            w(2)
        );
    }
    println!();
    println!("executor rows: waits are queue waits (time before the call could be sent);");
    println!("naive rows: waits are the whole time to an answer or a failure (it has no queue).");
    println!("The provider's budget starts full (one minute's worth), so a short run can exceed 100%.");
}
