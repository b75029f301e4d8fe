//! A table's life beyond one hand: the turn clock and what happens to a
//! player who stops answering or disconnects, eviction and reload of idle
//! tables, chat, hand histories, and LLM seats over real HTTP with their
//! priority lane.

mod helpers;

use std::time::Duration;

use ai_players::mock::{MockConfig, MockLlm};
use helpers::TestServer;
use serde_json::{Value, json};

#[tokio::test]
async fn the_clock_acts_for_a_silent_player_and_a_gone_player_loses_the_seat_not_the_chips() {
    let server = TestServer::start_with("clock", |config| {
        config.timing.disconnect_grace = Duration::from_secs(3);
    })
    .await;
    let (_, ann) = server.register("Ann").await;
    let table = server
        .create_table(
            &ann,
            json!({
                "seats": 2, "small_blind": 5, "big_blind": 10, "pace": "auto",
                "turn_clock_ms": 1000, "time_bank_ms": 0,
                "ai_seats": [{"seat": 1, "agent": "bot:calling-station", "stack": 1000}]
            }),
        )
        .await;
    let mut client = server.connect().await;
    client.join_player(&table, &ann).await;
    let ack = client
        .request(json!({"type": "sit", "table": table, "seat": 0, "buy_in": 1000}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    // Ann never acts: the clock decides for her (check if free, else fold).
    let timed_out = client
        .until("a timed-out action", |v| {
            v["event"]["type"] == "action_taken" && v["event"]["seat"] == 0 && v["event"]["timed_out"] == true
        })
        .await;
    let action = timed_out["event"]["action"]["action"].as_str().expect("action");
    assert!(action == "fold" || action == "check", "{timed_out}");
    // Connected, she keeps playing hands.
    let after = timed_out["seq"].as_u64().expect("seq");
    client
        .until("another hand with Ann", |v| {
            v["event"]["type"] == "hand_started"
                && v["seq"].as_u64() > Some(after)
                && v["event"]["players"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["seat"] == 0))
        })
        .await;

    // Disconnected, she times out, is sat out, and after the grace period stood up with her chips.
    drop(client);
    let mut watcher = server.connect().await;
    watcher.join_spectator(&table).await;
    watcher
        .until("Ann sat out", |v| {
            v["event"]["type"] == "sat_out" && v["event"]["seat"] == 0
        })
        .await;
    let left = watcher
        .until("Ann's seat freed", |v| {
            v["event"]["type"] == "seat_left" && v["event"]["seat"] == 0
        })
        .await;
    let stack = left["event"]["stack"].as_u64().expect("stack");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let me = server.me(&ann).await;
        if me["balance"].as_u64() == Some(9_000 + stack) {
            assert_eq!(me["seats"], json!([]));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chips not returned: {me} (stack {stack})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_player_who_reconnects_within_the_grace_period_sits_in_again() {
    let server = TestServer::start_with("grace", |config| {
        config.timing.disconnect_grace = Duration::from_secs(60);
    })
    .await;
    let (_, ann) = server.register("Ann").await;
    let table = server
        .create_table(
            &ann,
            json!({
                "seats": 2, "small_blind": 5, "big_blind": 10, "pace": "auto",
                "turn_clock_ms": 1000, "time_bank_ms": 0,
                "ai_seats": [{"seat": 1, "agent": "bot:calling-station", "stack": 1000}]
            }),
        )
        .await;
    let mut client = server.connect().await;
    client.join_player(&table, &ann).await;
    client
        .request(json!({"type": "sit", "table": table, "seat": 0, "buy_in": 1000}))
        .await;
    drop(client);
    let mut watcher = server.connect().await;
    watcher.join_spectator(&table).await;
    watcher
        .until("Ann sat out", |v| {
            v["event"]["type"] == "sat_out" && v["event"]["seat"] == 0
        })
        .await;
    let mut client = server.connect().await;
    let snapshot = client.join_player(&table, &ann).await;
    assert_eq!(snapshot["you"], 0, "she still has her seat: {snapshot}");
    client
        .until("Ann sat in", |v| {
            v["event"]["type"] == "sat_in" && v["event"]["seat"] == 0
        })
        .await;
    client
        .until("a hand dealing Ann in", |v| {
            v["event"]["type"] == "hand_started"
                && v["event"]["players"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["seat"] == 0))
        })
        .await;
    server.server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn idle_tables_leave_memory_and_load_again_on_demand() {
    let server = TestServer::start_with("evict", |config| {
        config.timing.idle_ttl = Duration::from_millis(500);
    })
    .await;
    let (_, ann) = server.register("Ann").await;
    let table = server
        .create_table(
            &ann,
            json!({
                "seats": 3, "small_blind": 1, "big_blind": 2, "pace": "auto", "actions_per_sec": 50.0,
                "ai_seats": [{"agent": "bot:random"}, {"agent": "bot:calling-station"}]
            }),
        )
        .await;
    // Nobody plays or watches: the table is evicted.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let hand_before = loop {
        let (_, lobby) = server.get_json("/api/tables").await;
        let entry = lobby["tables"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["id"] == table.as_str()).cloned())
            .expect("the table stays in the lobby");
        if entry["live"] == false {
            break entry;
        }
        assert!(tokio::time::Instant::now() < deadline, "never evicted: {entry}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(hand_before["live"], false);
    let metrics = server.metrics().await;
    assert!(metrics.contains("showdown_tables_evicted_total 1"), "{metrics}");
    // The event writer no longer keeps the evicted table's log position.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = server.metrics().await;
        if metrics.contains("showdown_store_tracked_tables{backend=\"sqlite\"} 0") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still tracked: {metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A spectator brings it back from the store, where it left off.
    let mut watcher = server.connect().await;
    let snapshot = watcher.join_spectator(&table).await;
    assert!(snapshot["seq"].as_u64().expect("seq") > 0, "{snapshot}");
    let seq = snapshot["seq"].as_u64().expect("seq");
    let next = watcher.event("hand_started").await;
    assert!(
        next["seq"].as_u64().expect("seq") > seq,
        "play resumes after the stored events"
    );
    server.server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn chat_reaches_the_room_and_history_and_hand_histories_hide_unshown_cards() {
    let server = TestServer::start("chat-history").await;
    let (_, ann) = server.register("Ann").await;
    let table = server
        .create_table(
            &ann,
            json!({
                "seats": 3, "small_blind": 5, "big_blind": 10, "pace": "auto",
                "ai_seats": [{"agent": "bot:random"}, {"agent": "bot:calling-station"}]
            }),
        )
        .await;
    let mut player = server.connect().await;
    player.join_player(&table, &ann).await;
    let mut watcher = server.connect().await;
    watcher.join_spectator(&table).await;
    let ack = player
        .request(json!({"type": "chat", "table": table, "text": "  good luck  "}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let line = watcher.until("chat", |v| v["type"] == "chat").await;
    assert_eq!(
        (line["from"].as_str(), line["text"].as_str()),
        (Some("Ann"), Some("good luck"))
    );
    for _ in 0..5 {
        watcher.event("hand_ended").await;
    }
    // Chat history.
    let (status, chat) = server.get_json(&format!("/api/tables/{table}/chat")).await;
    assert_eq!(status, 200);
    assert_eq!(chat["chat"][0]["text"], "good luck", "{chat}");
    // Hand histories: public ones mask cards never shown; the admin key shows all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, hands) = server.get_json(&format!("/api/tables/{table}/hands")).await;
    assert_eq!(status, 200);
    let hands = hands["hands"].as_array().expect("hands").clone();
    assert!(hands.len() >= 4, "{hands:?}");
    let admin: Value = server
        .client
        .get(format!("{}/api/tables/{table}/hands", server.http))
        .header("x-api-key", "test-admin-key")
        .send()
        .await
        .expect("admin hands")
        .json()
        .await
        .expect("json");
    for (public, full) in hands.iter().zip(admin["hands"].as_array().expect("hands")) {
        let public_phh = public["phh"].as_str().expect("phh");
        let full_phh = full["phh"].as_str().expect("phh");
        assert!(!full_phh.contains("????"), "{full_phh}");
        assert!(public.get("seed").is_none(), "the seed is never served");
        // Three seats dealt: every unshown hand is masked in the public copy.
        let dealt = full_phh.matches("d dh p").count();
        let shown = full_phh.matches(" sm ").count();
        assert_eq!(
            public_phh.matches("????").count(),
            dealt - shown,
            "{public_phh}\n{full_phh}"
        );
        game_core::phh::from_phh(full_phh).expect("the full history replays in the engine");
    }
    let number = hands[0]["hand"].as_u64().expect("hand");
    let phh = server
        .client
        .get(format!("{}/api/tables/{table}/hands/{number}/phh", server.http))
        .send()
        .await
        .expect("phh");
    assert_eq!(phh.status(), 200);
    assert!(phh.text().await.expect("text").contains("variant = 'NT'"));
    server.server.shutdown().await.expect("shutdown");
}

async fn llm_calls(server: &TestServer, lane: &str) -> u64 {
    let metrics = server.metrics().await;
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("showdown_llm_calls_total{{lane=\"{lane}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn llm_seats_play_over_http_in_the_lane_their_table_deserves() {
    let mock = MockLlm::start(MockConfig::default()).await.expect("mock starts");
    let dir = helpers::temp_dir("llm-config");
    let config_path = dir.join("llm.toml");
    std::fs::write(
        &config_path,
        format!(
            "[[provider]]\nname = \"mock\"\nbase_url = \"{}\"\n[[provider.model]]\nname = \"mock-llm\"\nrpm = 6000\n",
            mock.base_url()
        ),
    )
    .expect("write config");
    let server = TestServer::start_with("llm", |config| config.llm_config = Some(config_path)).await;
    let (_, ann) = server.register("Ann").await;
    // An AI-only table nobody watches does not pay for model calls: it
    // waits (the bulk lane is for experiments).
    let body = json!({
        "seats": 2, "small_blind": 5, "big_blind": 10, "pace": "auto",
        "ai_seats": [{"seat": 0, "agent": "llm:mock/mock-llm?personality=patient"},
                     {"seat": 1, "agent": "bot:calling-station"}]
    });
    server.create_table(&ann, body.clone()).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        llm_calls(&server, "bulk").await,
        0,
        "no calls while nobody watches"
    );
    // With a spectator: watched.
    let watched = server.create_table(&ann, body.clone()).await;
    let mut watcher = server.connect().await;
    watcher.join_spectator(&watched).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while llm_calls(&server, "watched").await < 3 {
        assert!(tokio::time::Instant::now() < deadline, "no watched LLM calls");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // With a person seated: live.
    let live = server
        .create_table(
            &ann,
            json!({
                "seats": 2, "small_blind": 5, "big_blind": 10, "pace": "auto", "turn_clock_ms": 1000,
                "time_bank_ms": 0, "ai_seats": [{"seat": 1, "agent": "llm:mock/mock-llm"}]
            }),
        )
        .await;
    let mut player = server.connect().await;
    player.join_player(&live, &ann).await;
    player
        .request(json!({"type": "sit", "table": live, "seat": 0, "buy_in": 1000}))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while llm_calls(&server, "live").await < 1 {
        assert!(tokio::time::Instant::now() < deadline, "no live LLM calls");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The model's answers were played (not fallbacks), and the calls are accounted in the store.
    let decided = watcher
        .until("an LLM action", |v| {
            v["event"]["type"] == "action_taken" && v["event"]["seat"] == 0
        })
        .await;
    assert_eq!(decided["event"]["timed_out"], false);
    assert!(mock.stats().ok > 0);
    server.server.shutdown().await.expect("shutdown");
}
