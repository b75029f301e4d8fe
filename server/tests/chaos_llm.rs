//! Chaos: 100 LLM tables play while the simulated provider answers half its
//! calls with errors, then hangs every call, then goes away for 30 s and
//! comes back. No table may stall past its turn clock, every decision the
//! model could not make is a recorded fallback, and the executor's breaker
//! opens during the outage and closes once the provider is back.

mod helpers;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ai_players::mock::{FaultRates, Latency, MockConfig, MockLlm};
use futures_util::{SinkExt, StreamExt};
use helpers::TestServer;
use schema::{RecordQuery, Repository};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const TABLES: usize = 100;
const TURN_CLOCK_MS: u64 = 1_500;

fn mock_config() -> MockConfig {
    MockConfig {
        latency: Latency {
            median_ms: 50,
            p99_ms: 150,
        },
        hang_ms: 60_000,
        ..MockConfig::default()
    }
}

/// When each table's events arrived, from one spectator connection that
/// watches every table.
async fn watch(
    ws_url: String,
    tables: Vec<String>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> HashMap<String, Vec<Instant>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .expect("connect");
    for (i, table) in tables.iter().enumerate() {
        let join = json!({"type": "join", "id": i, "table": table});
        ws.send(Message::Text(join.to_string().into()))
            .await
            .expect("join");
    }
    let mut seen: HashMap<String, Vec<Instant>> = HashMap::new();
    while !*stop.borrow() {
        let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(200), ws.next()).await
        else {
            continue;
        };
        let m: Value = serde_json::from_str(&text).expect("json");
        assert_ne!(m["type"], "error", "the spectator got an error: {m}");
        if matches!(m["type"].as_str(), Some("event" | "snapshot"))
            && let Some(table) = m["table"].as_str()
        {
            seen.entry(table.to_owned()).or_default().push(Instant::now());
        }
    }
    seen
}

fn fallbacks_total(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("showdown_ai_fallbacks_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Each table's hand number, from the lobby.
fn hands_of(lobby: &Value) -> HashMap<String, u64> {
    lobby["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["id"].as_str()?.to_owned(), t["hand"].as_u64()?)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_tables_ride_out_errors_hangs_and_an_outage() {
    let mock = MockLlm::start(mock_config()).await.expect("mock");
    let addr = mock.addr();
    let dir = helpers::temp_dir("chaos-llm-config");
    let config_path = dir.join("llm.toml");
    std::fs::write(
        &config_path,
        format!(
            "[executor]\nbreaker_failures = 4\nbreaker_cooldown_ms = 1000\nrequest_timeout_ms = 1000\n\
             max_retries = 2\nbackoff_base_ms = 50\nbackoff_max_ms = 200\n\
             [[provider]]\nname = \"mock\"\nbase_url = \"{}\"\n[[provider.model]]\nname = \"mock-llm\"\nrpm = 600000\n",
            mock.base_url()
        ),
    )
    .expect("config");
    let server = TestServer::start_with("chaos-llm", |c| {
        c.llm_config = Some(config_path);
        // One spectator connection joins every table at once.
        c.limits.max_joined_tables = TABLES;
        c.limits.message_burst = 2 * TABLES as u32;
    })
    .await;
    let mut tables = Vec::new();
    while tables.len() < TABLES {
        let response = server
            .client
            .post(format!("{}/api/tables", server.http))
            .header("x-api-key", "test-admin-key")
            .json(&json!({
                "seats": 3, "small_blind": 5, "big_blind": 10, "pace": "auto", "actions_per_sec": 5,
                "turn_clock_ms": TURN_CLOCK_MS, "time_bank_ms": 0,
                "ai_seats": [{"seat": 0, "agent": "llm:mock/mock-llm"}, {"seat": 1, "agent": "llm:mock/mock-llm"},
                             {"seat": 2, "agent": "bot:calling-station"}],
            }))
            .send()
            .await
            .expect("create");
        match response.status().as_u16() {
            201 => {
                let body: Value = response.json().await.expect("json");
                tables.push(body["id"].as_str().expect("id").to_owned());
            }
            // The per-address REST limit: wait and retry.
            429 => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("creating a table: {other}"),
        }
    }
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(watch(server.ws.clone(), tables.clone(), stop));
    tokio::time::sleep(Duration::from_secs(3)).await;

    let chaos_start = Instant::now();
    let chaos_start_ms = schema::now_ms();
    mock.set_faults(FaultRates {
        error_500: 0.5,
        ..FaultRates::default()
    })
    .expect("faults");
    tokio::time::sleep(Duration::from_secs(5)).await;
    mock.set_faults(FaultRates {
        hang: 1.0,
        ..FaultRates::default()
    })
    .expect("faults");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, before_outage) = server.get_json("/api/tables").await;
    let outage_ms = schema::now_ms();
    mock.shutdown().await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let (_, after_outage) = server.get_json("/api/tables").await;
    let back_ms = schema::now_ms();
    let mock = MockLlm::start_on(mock_config(), addr)
        .await
        .expect("the provider comes back on its address");
    // Model answers come back once the breaker lets a probe through.
    let repo = &server.server.app().repo;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let usage = repo.list_usage(&RecordQuery::default()).await.expect("usage");
        if usage.iter().any(|u| u.at_ms >= back_ms && u.outcome == "ok") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no model answer after the provider came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = stop_tx.send(true);
    let seen = watcher.await.expect("watcher");

    // No table stalled: during the whole chaos a table never went longer
    // than its turn clock (plus scheduling slack) without an event.
    let slack = Duration::from_millis(TURN_CLOCK_MS + 2_000);
    for table in &tables {
        let times = seen
            .get(table)
            .unwrap_or_else(|| panic!("no events from {table}"));
        let chaos: Vec<&Instant> = times.iter().filter(|t| **t >= chaos_start).collect();
        assert!(
            chaos.len() > 10,
            "{table} played on during the chaos ({} events)",
            chaos.len()
        );
        let worst = chaos
            .windows(2)
            .map(|w| w[1].duration_since(*w[0]))
            .max()
            .unwrap_or_default();
        assert!(
            worst <= slack,
            "{table} stalled for {worst:?} (clock {TURN_CLOCK_MS} ms)"
        );
    }
    // Every table kept dealing while the provider was away.
    let (before, after) = (hands_of(&before_outage), hands_of(&after_outage));
    for table in &tables {
        assert!(
            after.get(table) > before.get(table),
            "{table} dealt no hand while the provider was away"
        );
    }
    // The breaker opened during the outage (calls failed fast) and closed after.
    let usage = repo.list_usage(&RecordQuery::default()).await.expect("usage");
    let outcomes = |from: u64, to: u64| -> HashMap<String, usize> {
        let mut n = HashMap::new();
        for u in usage.iter().filter(|u| u.at_ms >= from && u.at_ms < to) {
            *n.entry(u.outcome.clone()).or_insert(0) += 1;
        }
        n
    };
    let during_errors = outcomes(chaos_start_ms, outage_ms);
    assert!(
        during_errors.get("ok").copied().unwrap_or(0) > 0,
        "{during_errors:?}"
    );
    let during_outage = outcomes(outage_ms, back_ms);
    assert!(
        during_outage.get("circuit_open").copied().unwrap_or(0) > 0,
        "the breaker opened while the provider was away: {during_outage:?}"
    );
    assert_eq!(during_outage.get("ok"), None, "{during_outage:?}");
    let last_open = usage
        .iter()
        .filter(|u| u.outcome == "circuit_open")
        .map(|u| u.at_ms)
        .max()
        .expect("an open breaker");
    assert!(
        usage.iter().any(|u| u.outcome == "ok" && u.at_ms > last_open),
        "the breaker closed again"
    );
    // Every decision the model could not make is a recorded fallback.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics = server.metrics().await;
    let counted = fallbacks_total(&metrics);
    let decisions = repo
        .list_decisions(&RecordQuery::default())
        .await
        .expect("decisions");
    let stored: Vec<_> = decisions.iter().filter(|d| d.source == "fallback").collect();
    assert!(counted > 0, "fallbacks acted during the chaos");
    assert_eq!(stored.len() as u64, counted, "every fallback is recorded");
    assert!(
        stored
            .iter()
            .all(|d| d.fallback_reason.is_some() && d.parsed_action.is_some()),
        "each says why and what it played"
    );
    let _ = mock.shutdown().await;
    server.server.shutdown().await.expect("shutdown");
}
