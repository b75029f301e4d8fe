//! A client that stops reading must not slow the table or anyone else: its
//! frames pile up in its own bounded queue, it is resynced with a snapshot
//! (or dropped), and the other clients keep getting events at once.

mod helpers;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use helpers::TestServer;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A WebSocket with a tiny receive buffer, so that not reading fills it fast.
async fn tiny_buffer_client(
    addr: std::net::SocketAddr,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4_096).expect("SO_RCVBUF");
    let stream = socket.connect(addr).await.expect("connect");
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), stream)
        .await
        .expect("upgrade");
    ws
}

fn now_ms() -> i64 {
    i64::try_from(schema::now_ms()).unwrap_or(i64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_slows_nobody() {
    let server = TestServer::start("slow-client").await;
    let (_, token) = server.register("Owner").await;
    // Fast bot tables: thousands of events a second in all, more than the
    // kernel's socket buffers hold for long.
    let mut tables = Vec::new();
    for _ in 0..8 {
        let table = server
            .create_table(
                &token,
                json!({"seats": 4, "small_blind": 5, "big_blind": 10, "pace": "auto", "actions_per_sec": 200,
                    "ai_seats": [{"agent": "bot:random"}, {"agent": "bot:calling-station"},
                                 {"agent": "bot:random"}, {"agent": "bot:calling-station"}]}),
            )
            .await;
        tables.push(table);
    }
    let table = tables[0].clone();
    // The slow client joins them all, then stops reading.
    let mut slow = tiny_buffer_client(server.server.addr).await;
    for (i, t) in tables.iter().enumerate() {
        let join = json!({"type": "join", "id": i, "table": t});
        slow.send(Message::Text(join.to_string().into()))
            .await
            .expect("join");
    }
    // A normal spectator, reading everything.
    let mut fast = server.connect().await;
    fast.join_spectator(&table).await;
    fast.clear_backlog();

    let started = Instant::now();
    let mut worst_delay = 0i64;
    let mut events = 0u64;
    let mut hands = 0u64;
    let mut last_seq = None::<u64>;
    while started.elapsed() < Duration::from_secs(15) {
        let Some(m) = fast.try_recv(Duration::from_secs(2)).await else {
            panic!("the reading spectator got nothing for 2 s");
        };
        match m["type"].as_str() {
            Some("event") => {
                let seq = m["seq"].as_u64().expect("seq");
                // Strictly increasing (seats' private events skip numbers for spectators).
                if let Some(last) = last_seq {
                    assert!(
                        seq > last,
                        "a reading client sees events in order: {last} then {seq}"
                    );
                }
                last_seq = Some(seq);
                worst_delay = worst_delay.max(now_ms() - m["at_ms"].as_i64().expect("at_ms"));
                events += 1;
                if m["event"]["type"] == "hand_ended" {
                    hands += 1;
                }
            }
            Some("snapshot") => last_seq = m["seq"].as_u64(),
            _ => {}
        }
    }
    assert!(
        events > 500 && hands > 10,
        "the table kept its pace: {events} events, {hands} hands"
    );
    assert!(
        worst_delay < 1_000,
        "the reading spectator got every event within a second (worst {worst_delay} ms)"
    );
    // The slow client was never allowed to buffer without bound: when it
    // reads again, it has either been resynced with a snapshot after the
    // frames it missed, or dropped by the write timeout.
    let mut seqs = Vec::new();
    let mut resynced = false;
    let mut closed = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(2), slow.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let m: Value = serde_json::from_str(&text).expect("json");
                match m["type"].as_str() {
                    Some("snapshot") if m["table"] == json!(table) && !seqs.is_empty() => {
                        resynced = true;
                        break;
                    }
                    Some("event") if m["table"] == json!(table) => seqs.push(m["seq"].as_u64().expect("seq")),
                    _ => {}
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => {
                closed = true;
                break;
            }
            Err(_) => break,
        }
    }
    assert!(
        resynced || closed,
        "the slow client was resynced or dropped ({} events read first)",
        seqs.len()
    );
    eprintln!(
        "slow client: resynced {resynced}, closed {closed}, {} events read first",
        seqs.len()
    );
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "what it read was in order");
    server.server.shutdown().await.expect("shutdown");
}
