//! LLM seats at live tables against the simulated provider: the model's
//! reasons reach the room only after the hand (checked frame by frame over
//! many hands) and stay in the hand history; seats go by their label or
//! personality; a table nobody watches stops calling the model; a provider
//! that refuses `json_schema` is asked in a form it takes; usage and cost
//! by model are reported to the admin and in `/metrics`.

mod helpers;

use std::path::PathBuf;
use std::time::Duration;

use ai_players::mock::{FormatSupport, MockConfig, MockLlm, MockServer};
use helpers::{TestServer, WsClient};
use serde_json::{Value, json};

/// Every reason the simulated provider gives (`ai_players::mock`).
const MOCK_REASONS: [&str; 10] = [
    "Too expensive for this hand.",
    "Weak holding against a bet.",
    "Pot control.",
    "Taking a free card.",
    "The pot odds justify a call.",
    "Keeping their bluffs in.",
    "Betting for value.",
    "Applying pressure.",
    "Semi-bluff with outs.",
    "Feeling lucky.",
];

/// An LLM config for `mock`, written next to the test's files.
fn llm_config(mock: &MockServer, name: &str) -> PathBuf {
    let dir = helpers::temp_dir(name);
    let path = dir.join("llm.toml");
    std::fs::write(
        &path,
        format!(
            "[[provider]]\nname = \"mock\"\nbase_url = \"{}\"\nkind = \"local\"\n\
             [[provider.model]]\nname = \"mock-llm\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n",
            mock.base_url()
        ),
    )
    .expect("config");
    path
}

async fn llm_server(name: &str, mock: &MockServer) -> TestServer {
    let config = llm_config(mock, name);
    TestServer::start_with(name, |c| c.llm_config = Some(config)).await
}

async fn ai_table(server: &TestServer) -> String {
    let response = server
        .client
        .post(format!("{}/api/tables", server.http))
        .header("x-api-key", "test-admin-key")
        .json(&json!({
            "seats": 3, "small_blind": 5, "big_blind": 10, "pace": "auto", "actions_per_sec": 100,
            "ai_seats": [
                {"seat": 0, "agent": "llm:mock/mock-llm?label=Ada", "stack": 1000},
                {"seat": 1, "agent": "llm:mock/mock-llm?personality=cautious+grinder", "stack": 1000},
                {"seat": 2, "agent": "bot:calling-station", "stack": 1000}
            ]
        }))
        .send()
        .await
        .expect("create");
    let body: Value = response.json().await.expect("json");
    body["id"].as_str().expect("table id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasons_reach_the_room_only_after_the_hand_and_stay_in_its_history() {
    let mock = MockLlm::start(MockConfig::default()).await.expect("mock");
    let server = llm_server("llm-reasons", &mock).await;
    let (_, token) = server.register("Watcher").await;
    let table = ai_table(&server).await;
    // A spectator and a registered player who does not sit: neither may see
    // a reason before its hand is over.
    let mut spectator = server.connect().await;
    let ack = spectator.request(json!({"type": "join", "table": table})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let mut player = server.connect().await;
    let ack = player
        .request(json!({"type": "join", "table": table, "as": "player", "token": token}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    const HANDS: usize = 40;
    let mut reasons_seen = 0;
    for client in [&mut spectator, &mut player] {
        let snapshot = client.until("snapshot", |m| m["type"] == "snapshot").await;
        let text = snapshot.to_string();
        assert!(
            text.contains("\"Ada\"") && text.contains("\"Cautious grinder\""),
            "seat names: {text}"
        );
        assert!(!text.contains("mock/mock-llm #"), "{text}");
    }
    for client in [&mut spectator, &mut player] {
        let mut in_hand: Option<u64> = None;
        let mut last_ended = 0;
        let mut ended = 0;
        while ended < HANDS {
            let frame = client.recv().await;
            let text = frame.to_string();
            if frame["type"] == "reasons" {
                assert_eq!(in_hand, None, "reasons while a hand is played: {frame}");
                assert_eq!(
                    frame["hand"], last_ended,
                    "the reasons of the hand just ended: {frame}"
                );
                for r in frame["reasons"].as_array().expect("reasons") {
                    assert!(MOCK_REASONS.contains(&r["reason"].as_str().expect("text")), "{r}");
                    assert!(r["seat"].as_u64().is_some_and(|s| s < 2), "only LLM seats: {r}");
                }
                reasons_seen += 1;
                continue;
            }
            for reason in MOCK_REASONS {
                assert!(
                    !text.contains(reason),
                    "a reason in a frame before its hand ended: {text}"
                );
            }
            match frame["event"]["type"].as_str() {
                Some("hand_started") => in_hand = frame["event"]["hand"].as_u64(),
                Some("hand_ended") => {
                    last_ended = frame["event"]["hand"].as_u64().expect("hand");
                    in_hand = None;
                    ended += 1;
                }
                _ => {}
            }
        }
    }
    assert!(
        reasons_seen > HANDS,
        "reasons arrived after most hands: {reasons_seen}"
    );

    // The history keeps them, in its JSON and as PHH commentary.
    let hands: Value = server
        .client
        .get(format!("{}/api/tables/{table}/hands?limit=100", server.http))
        .send()
        .await
        .expect("hands")
        .json()
        .await
        .expect("json");
    let with_reasons: Vec<&Value> = hands["hands"]
        .as_array()
        .expect("hands")
        .iter()
        .filter(|h| h["reasons"].as_array().is_some_and(|r| !r.is_empty()))
        .collect();
    assert!(!with_reasons.is_empty(), "{hands}");
    for hand in with_reasons {
        let first = &hand["reasons"][0];
        let phh = hand["phh"].as_str().expect("phh");
        let comment = format!(
            "# seat {}: {}",
            first["seat"],
            first["reason"].as_str().expect("reason")
        );
        assert!(phh.contains(&comment), "{comment} in {phh}");
        let seq = first["seq"].as_u64().expect("seq");
        assert!(
            (hand["first_seq"].as_u64().expect("first")..=hand["last_seq"].as_u64().expect("last"))
                .contains(&seq)
        );
    }

    // Usage and cost by model: for the admin only, and in /metrics.
    let refused = server
        .client
        .get(format!("{}/api/usage", server.http))
        .send()
        .await
        .expect("usage");
    assert_eq!(refused.status(), 401);
    let usage: Value = server
        .client
        .get(format!("{}/api/usage", server.http))
        .header("x-api-key", "test-admin-key")
        .send()
        .await
        .expect("usage")
        .json()
        .await
        .expect("json");
    let model = &usage["models"][0];
    assert_eq!(
        (model["provider"].as_str(), model["model"].as_str()),
        (Some("mock"), Some("mock-llm")),
        "{usage}"
    );
    assert!(model["calls"].as_u64().is_some_and(|n| n > 0), "{usage}");
    assert!(model["cost_usd"].as_f64().is_some_and(|c| c > 0.0), "{usage}");
    assert_eq!(model["structured_output"], "json_schema");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("showdown_llm_model_calls_total{provider=\"mock\",model=\"mock-llm\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("showdown_llm_tokens_total{provider=\"mock\",model=\"mock-llm\",kind=\"prompt\"}")
    );
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_of_ai_seats_nobody_watches_stops_calling_the_model() {
    let mock = MockLlm::start(MockConfig::default()).await.expect("mock");
    let server = llm_server("llm-unwatched", &mock).await;
    let table = ai_table(&server).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(mock.stats().received, 0, "no call while nobody watches");

    let mut spectator: WsClient = server.connect().await;
    let ack = spectator.request(json!({"type": "join", "table": table})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    for _ in 0..3 {
        spectator
            .until("a hand ends", |m| m["event"]["type"] == "hand_ended")
            .await;
    }
    assert!(mock.stats().received > 0, "the model plays while watched");
    let ack = spectator.request(json!({"type": "leave", "table": table})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    // The hand in play finishes; then the calls stop.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let after_leaving = mock.stats().received;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        mock.stats().received,
        after_leaving,
        "calls stopped once nobody watched"
    );
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_refuses_json_schema_is_asked_in_a_form_it_takes() {
    let mock = MockLlm::start(MockConfig {
        response_formats: FormatSupport::NoJsonSchema,
        ..MockConfig::default()
    })
    .await
    .expect("mock");
    let server = llm_server("llm-downgrade", &mock).await;
    let table = ai_table(&server).await;
    let mut spectator = server.connect().await;
    let ack = spectator.request(json!({"type": "join", "table": table})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    for _ in 0..5 {
        spectator
            .until("a hand ends", |m| m["event"]["type"] == "hand_ended")
            .await;
    }
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("showdown_llm_format_downgrades_total{provider=\"mock\",model=\"mock-llm\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "showdown_llm_structured_output{provider=\"mock\",model=\"mock-llm\",mode=\"json_object\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        !metrics.contains("showdown_ai_fallbacks_total{"),
        "no decision fell back: {metrics}"
    );
    assert_eq!(mock.stats().server_errors, 1, "one refused request");
    server.server.shutdown().await.expect("clean shutdown");
}
