//! An LLM experiment against a rate-limited provider, next to a live table.
//!
//! Starts the simulated OpenAI-compatible provider (`mock-llm`) limited to
//! `--rpm` requests per minute, a server (in-process, SQLite) whose executor
//! knows that limit, and a live table where a simulated person (a WebSocket
//! client that thinks 1-2 s per action) plays two LLM seats. After
//! `--baseline-secs` of the live table alone, it starts an experiment with
//! four LLM seats over the REST API and waits for it to finish, then prints:
//! hands, calls, failed turns, 429s, calls per minute against the limit, and
//! the live table's LLM queue wait and decision latency before and during
//! the experiment.
//!
//! `cargo bench -p server --bench llm_experiment -- --hands 10000`
//! (flags: `--hands`, `--rpm`, `--latency-ms`, `--tables`, `--baseline-secs`,
//! `--fold-to-bet`, `--aggression`).

use std::time::{Duration, Instant};

use ai_players::mock::{Latency, Limits, MockConfig, MockLlm, Policy};
use futures_util::{SinkExt, StreamExt};
use schema::{RecordQuery, Repository, UsageRow};
use serde_json::{Value, json};
use server::{Server, ServerConfig, Timing};
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "bench-admin-key";

struct Args {
    hands: u64,
    rpm: u64,
    latency_ms: u64,
    tables: u64,
    baseline_secs: u64,
    fold_to_bet: f64,
    aggression: f64,
}

fn args() -> Args {
    let mut a = Args {
        hands: 10_000,
        rpm: 600,
        latency_ms: 1_000,
        tables: 32,
        baseline_secs: 60,
        fold_to_bet: 0.15,
        aggression: 0.2,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        let int = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{} needs a number", argv[i]))
        };
        let float = || {
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{} needs a number", argv[i]))
        };
        match argv[i].as_str() {
            "--hands" => a.hands = int(),
            "--rpm" => a.rpm = int(),
            "--latency-ms" => a.latency_ms = int(),
            "--tables" => a.tables = int(),
            "--baseline-secs" => a.baseline_secs = int(),
            "--fold-to-bet" => a.fold_to_bet = float(),
            "--aggression" => a.aggression = float(),
            // `cargo bench` passes `--bench`.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn percentile(values: &mut [u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// p50/p99 of queue wait and latency, and the count.
fn lane_line(rows: &[&UsageRow]) -> String {
    let mut wait: Vec<u64> = rows.iter().map(|r| r.queue_wait_ms).collect();
    let mut latency: Vec<u64> = rows.iter().map(|r| r.latency_ms).collect();
    format!(
        "{}/{} | {}/{} | {}",
        percentile(&mut wait, 0.5),
        percentile(&mut wait, 0.99),
        percentile(&mut latency, 0.5),
        percentile(&mut latency, 0.99),
        rows.len()
    )
}

/// A person at the live table: joins, sits, and on each turn thinks 1-2 s,
/// then checks, or calls, or folds; buys in again when broke.
async fn person(ws_url: String, table: String, token: String, stop: tokio::sync::watch::Receiver<bool>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .expect("connect");
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(
        json!({"type": "join", "id": 1, "table": table, "as": "player", "token": token}),
    ))
    .await
    .expect("join");
    ws.send(send(
        json!({"type": "sit", "id": 2, "table": table, "seat": 0, "buy_in": 2000}),
    ))
    .await
    .expect("sit");
    let mut next_id = 10u64;
    let mut pending: Vec<&str> = Vec::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    while !*stop.borrow() {
        let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(500), ws.next()).await
        else {
            continue;
        };
        let m: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let event = &m["event"];
        if m["type"] == "event" && event["type"] == "turn_started" && event["seat"] == 0 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            tokio::time::sleep(Duration::from_millis(1_000 + rng % 1_000)).await;
            pending = vec!["fold", "call", "check"];
        } else if m["type"] == "error" && m["code"] == "illegal_action" && !pending.is_empty() {
            // Try the next action.
        } else if m["type"] == "event" && event["type"] == "hand_ended" {
            let broke = event["stacks"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["seat"] == 0 && s["stack"] == 0));
            if broke {
                ws.send(send(json!({"type": "stand", "table": table}))).await.ok();
                ws.send(send(
                    json!({"type": "sit", "table": table, "seat": 0, "buy_in": 2000}),
                ))
                .await
                .ok();
            }
            continue;
        } else {
            continue;
        }
        if let Some(action) = pending.pop() {
            next_id += 1;
            ws.send(send(
                json!({"type": "act", "id": next_id, "table": table, "action": action}),
            ))
            .await
            .ok();
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = args();
    let mock = MockLlm::start(MockConfig {
        limits: Limits {
            rpm: Some(a.rpm),
            window_ms: 60_000,
            ..Limits::default()
        },
        latency: Latency {
            median_ms: a.latency_ms,
            p99_ms: a.latency_ms * 2,
        },
        policy: Policy {
            aggression: a.aggression,
            fold_to_bet: a.fold_to_bet,
        },
        ..MockConfig::default()
    })
    .await
    .expect("the simulated provider starts");
    let dir = std::env::temp_dir().join(format!("showdown-llm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let llm = dir.join("llm.toml");
    std::fs::write(
        &llm,
        format!(
            "[[provider]]\nname = \"mock\"\nbase_url = \"{}\"\n[[provider.model]]\nname = \"mock-llm\"\nrpm = {}\ninput_usd_per_mtok = 0.15\noutput_usd_per_mtok = 0.6\n",
            mock.base_url(),
            a.rpm
        ),
    )
    .expect("config");
    let server = Server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        database_url: format!("sqlite://{}", dir.join("bench.db").display()),
        llm_config: Some(llm),
        api_key: Some(KEY.to_owned()),
        timing: Timing::default(),
        ..ServerConfig::default()
    })
    .await
    .expect("server starts");
    let http = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let player: Value = client
        .post(format!("{http}/api/players"))
        .body(r#"{"name":"Person"}"#)
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let token = player["token"].as_str().expect("token").to_owned();
    let table: Value = client
        .post(format!("{http}/api/tables"))
        .bearer_auth(&token)
        .body(
            json!({"name": "live", "seats": 3, "small_blind": 5, "big_blind": 10,
                "ai_seats": [{"seat": 1, "agent": "llm:mock/mock-llm"}, {"seat": 2, "agent": "llm:mock/mock-llm"}]})
            .to_string(),
        )
        .send()
        .await
        .expect("create table")
        .json()
        .await
        .expect("json");
    let table_id = table["id"].as_str().expect("table id").to_owned();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let person = tokio::spawn(person(
        format!("ws://{}/ws", server.addr),
        table_id.clone(),
        token,
        stop_rx,
    ));

    eprintln!("live table alone for {} s ...", a.baseline_secs);
    tokio::time::sleep(Duration::from_secs(a.baseline_secs)).await;
    let experiment_start_ms = schema::now_ms();
    let spec = json!({
        "name": "four LLM seats",
        "seats": [
            {"agent": "llm:mock/mock-llm?personality=tight", "name": "tight"},
            {"agent": "llm:mock/mock-llm?personality=loose", "name": "loose"},
            {"agent": "llm:mock/mock-llm?personality=patient", "name": "patient"},
            {"agent": "llm:mock/mock-llm", "name": "plain"},
        ],
        "hands": a.hands, "small_blind": 1, "big_blind": 2, "starting_stack": 200,
        "tables": a.tables, "seed": 1, "write_phh": false, "decision_timeout_ms": 600_000,
    });
    let started = Instant::now();
    let created: Value = client
        .post(format!("{http}/api/experiments"))
        .header("x-api-key", KEY)
        .body(spec.to_string())
        .send()
        .await
        .expect("create experiment")
        .json()
        .await
        .expect("json");
    let id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no experiment: {created}"))
        .to_owned();
    let done = loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let x: Value = client
            .get(format!("{http}/api/experiments/{id}"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        eprintln!(
            "{:>6.0} s  {}/{} hands  {:.2} hands/s",
            started.elapsed().as_secs_f64(),
            x["hands_done"],
            x["hands_total"],
            x["hands_per_sec"].as_f64().unwrap_or(0.0)
        );
        if x["status"] != "running" {
            break x;
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let _ = person.await;
    let repo = &server.app().repo;
    let experiment_rows = repo
        .list_usage(&RecordQuery {
            experiment_id: Some(id.clone()),
            ..RecordQuery::default()
        })
        .await
        .expect("usage");
    let live_rows = repo
        .list_usage(&RecordQuery {
            table_id: Some(table_id.clone()),
            ..RecordQuery::default()
        })
        .await
        .expect("usage");
    let ok = experiment_rows.iter().filter(|r| r.outcome == "ok").count();
    let rate_limited: u64 = experiment_rows.iter().map(|r| u64::from(r.rate_limited)).sum();
    let live_ok = live_rows
        .iter()
        .filter(|r| r.outcome == "ok" && r.at_ms >= experiment_start_ms)
        .count();
    let llm = &done["results"]["llm"];
    let (mut decisions, mut fallbacks) = (0, 0);
    for agent in llm.as_object().into_iter().flat_map(|o| o.values()) {
        decisions += agent["decisions"].as_u64().unwrap_or(0);
        fallbacks +=
            agent["decisions"].as_u64().unwrap_or(0) - agent["model_decisions"].as_u64().unwrap_or(0);
    }
    let per_minute = (ok + live_ok) as f64 / (wall / 60.0);
    let before: Vec<&UsageRow> = live_rows
        .iter()
        .filter(|r| r.at_ms < experiment_start_ms)
        .collect();
    let during: Vec<&UsageRow> = live_rows
        .iter()
        .filter(|r| r.at_ms >= experiment_start_ms)
        .collect();
    let stats = mock.stats();
    println!("\n## LLM experiment at {} RPM next to a live table\n", a.rpm);
    println!(
        "hands {} ({}), wall {:.0} s, {:.2} hands/s, LLM decisions {decisions} ({:.2} per hand), failed turns (fallbacks) {fallbacks}",
        done["hands_done"],
        done["status"],
        wall,
        done["hands_done"].as_f64().unwrap_or(0.0) / wall,
        decisions as f64 / done["hands_done"].as_f64().unwrap_or(1.0).max(1.0),
    );
    println!(
        "provider answers/min during the run {per_minute:.1} (experiment {ok} + live {live_ok}) = {:.1}% of the {} RPM limit; 429s seen by the executor {rate_limited}, by the provider {}",
        100.0 * per_minute / a.rpm as f64,
        a.rpm,
        stats.rate_limited
    );
    println!("\n| live table LLM calls | queue wait p50/p99 ms | latency p50/p99 ms | calls |");
    println!("|---|---|---|---|");
    println!("| alone ({} s) | {} |", a.baseline_secs, lane_line(&before));
    println!("| during the experiment | {} |", lane_line(&during));
    let bulk: Vec<&UsageRow> = experiment_rows.iter().collect();
    println!("| (experiment, bulk lane) | {} |", lane_line(&bulk));
    println!("\ncost: {} USD, tokens {}", done["cost_usd"], done["tokens"]);
    server.shutdown().await.expect("shutdown");
}
