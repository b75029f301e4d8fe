//! Graceful shutdown of the real binary on SIGTERM: clients are told why
//! (close code 1001), the process exits cleanly, and nothing a client saw
//! is lost: after a restart every table continues from at least that point.

mod helpers;
#[path = "helpers/process.rs"]
mod process;

use futures_util::StreamExt;
use helpers::WsClient;
use process::ServerProcess;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn sigterm_closes_sockets_with_a_reason_and_loses_nothing() {
    let dir = helpers::temp_dir("sigterm");
    let url = format!("sqlite://{}", dir.join("showdown.db").display());
    let log = dir.join("server.log");
    let server = ServerProcess::start(&url, &log).await;
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!("{}/api/players", server.http))
        .json(&json!({"name": "Ann"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let token = token["token"].as_str().expect("token").to_owned();
    let table: Value = client
        .post(format!("{}/api/tables", server.http))
        .bearer_auth(&token)
        .json(&json!({
            "seats": 3, "small_blind": 1, "big_blind": 2, "pace": "auto", "actions_per_sec": 200.0,
            "ai_seats": [{"agent": "bot:random"}, {"agent": "bot:calling-station"}, {"agent": "bot:tight-aggressive"}]
        }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let table = table["id"].as_str().expect("id").to_owned();
    let mut watcher = WsClient::connect(&server.ws).await;
    watcher.until("hello", |v| v["type"] == "hello").await;
    watcher.join_spectator(&table).await;
    for _ in 0..3 {
        watcher.event("hand_ended").await;
    }
    let seen = watcher
        .received
        .iter()
        .filter_map(|v| v["seq"].as_u64())
        .max()
        .expect("events seen");

    let status = server.terminate().await;
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    // The socket was closed with "going away" and a reason.
    let mut close = None;
    while let Ok(Some(frame)) = tokio::time::timeout(helpers::STEP, watcher.socket.next()).await {
        if let Ok(Message::Close(frame)) = frame {
            close = frame;
            break;
        }
    }
    let close = close.expect("a close frame");
    assert_eq!(close.code, CloseCode::Away);
    assert_eq!(close.reason.as_str(), "server shutting down");

    // Everything the spectator saw was stored: the restarted table is at or past it.
    let server = ServerProcess::start(&url, &log).await;
    let mut watcher = WsClient::connect(&server.ws).await;
    watcher.until("hello", |v| v["type"] == "hello").await;
    let snapshot = watcher.join_spectator(&table).await;
    assert!(
        snapshot["seq"].as_u64().expect("seq") >= seen,
        "{} < {seen}",
        snapshot["seq"]
    );
    watcher.event("hand_ended").await;
    server.kill().await;
}
