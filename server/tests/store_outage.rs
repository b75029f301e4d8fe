//! The database goes away for a few seconds while a person plays: the
//! server reports errors instead of pretending, and once the database is
//! back it plays on, and every action it acknowledged is in the store.
//! Postgres behind a TCP proxy the test cuts (needs `TEST_DATABASE_URL`).

mod helpers;
#[path = "helpers/process.rs"]
mod process;
#[path = "helpers/proxy.rs"]
mod proxy;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use helpers::TestServer;
use proxy::{Proxy, via};
use schema::Repository;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_loses_no_acknowledged_action() {
    let Some(db) =
        process::PgDatabase::create("a_database_outage_loses_no_acknowledged_action", "outage").await
    else {
        return;
    };
    let (_, upstream) = via(&db.url, "127.0.0.1:1".parse().expect("addr"));
    let proxy = Proxy::start(upstream).await;
    let (proxied, _) = via(&db.url, proxy.addr);
    let server = TestServer::start_with("store-outage", |c| c.database_url = proxied.clone()).await;
    let (_, token) = server.register("Steady").await;
    let table = server
        .create_table(
            &token,
            json!({"seats": 3, "small_blind": 5, "big_blind": 10, "pace": "auto", "actions_per_sec": 20,
                "turn_clock_ms": 60_000,
                "ai_seats": [{"seat": 1, "agent": "bot:calling-station"}, {"seat": 2, "agent": "bot:calling-station"}]}),
        )
        .await;
    let mut ws = server.connect().await;
    ws.join_player(&table, &token).await;
    let sit = ws
        .request(json!({"type": "sit", "table": table, "seat": 0, "buy_in": 1000}))
        .await;
    assert_eq!(sit["type"], "ack", "{sit}");

    // Play: check or call on every turn, for 4 s, through a 3 s outage
    // (on its own clock: an action may wait for the store), then 6 s more.
    let started = Instant::now();
    let proxy = Arc::new(proxy);
    let restored = Arc::new(AtomicBool::new(false));
    let outage = {
        let (proxy, restored) = (proxy.clone(), restored.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            proxy.cut();
            tokio::time::sleep(Duration::from_secs(3)).await;
            proxy.restore();
            restored.store(true, Ordering::SeqCst);
        })
    };
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    let mut hands_after = 0;
    while started.elapsed() < Duration::from_secs(13) {
        let Some(m) = ws.try_recv(Duration::from_millis(500)).await else {
            continue;
        };
        if restored.load(Ordering::SeqCst) && m["type"] == "event" && m["event"]["type"] == "hand_ended" {
            hands_after += 1;
        }
        let my_turn = m["type"] == "event" && m["event"]["type"] == "turn_started" && m["event"]["seat"] == 0;
        let resynced_on_my_turn = m["type"] == "snapshot" && m["view"]["to_act"] == 0;
        if !(my_turn || resynced_on_my_turn) {
            continue;
        }
        for action in ["check", "call"] {
            let reply = ws
                .request(json!({"type": "act", "table": table, "action": action}))
                .await;
            if reply["type"] == "ack" {
                acked.push(reply["seq"].as_u64().expect("seq"));
                break;
            }
            if reply["code"] != "illegal_action" {
                refused.push(reply["code"].as_str().unwrap_or("").to_owned());
                break;
            }
        }
    }
    outage.await.expect("the outage ran");
    assert!(acked.len() > 5, "the person played: {} acks", acked.len());
    assert!(hands_after > 0, "hands were played after the database came back");
    let metrics = server.metrics().await;
    let failed: u64 = metrics
        .lines()
        .find(|l| l.starts_with("showdown_store_failed_batches_total"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0);
    assert!(
        failed > 0 || refused.iter().any(|c| c == "unavailable"),
        "the outage was reported (failed batches {failed}, refusals {refused:?})"
    );
    assert!(
        refused.iter().all(|c| c == "unavailable" || c == "not_your_turn"),
        "refusals say what happened: {refused:?}"
    );
    server.server.shutdown().await.expect("shutdown");

    // Every acknowledged action is in the log, which is gap-free and replays.
    let repo = schema::AnyRepo::open(&db.url).await.expect("open the store");
    let events = repo.events_since(&table, 0, u64::MAX >> 1).await.expect("events");
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert!(
        seqs.iter().enumerate().all(|(i, s)| *s == i as u64 + 1),
        "gap-free log"
    );
    let last = seqs.last().copied().unwrap_or(0);
    for seq in &acked {
        assert!(
            *seq <= last,
            "acknowledged seq {seq} is stored (log ends at {last})"
        );
    }
    let again = TestServer::start_with("store-outage-after", |c| c.database_url = db.url.clone()).await;
    let (status, body) = again.get_json(&format!("/api/tables/{table}")).await;
    assert_eq!(status, 200, "the table loads from its log: {body}");
    assert!(body["snapshot"]["seq"].as_u64() >= Some(last), "{body}");
    again.server.shutdown().await.expect("shutdown");
}
