//! The Socket.IO transport against the official client: npm's
//! `socket.io-client`, run by Node through `tests/socketio-client/bridge.mjs`
//! and driven over its stdin and stdout. A full hand checked move by move
//! (`helpers::hand`, as `ws_hand.rs` plays it over `/ws`), the same deltas
//! as over `/ws`, messages handled in the order sent, and a client that
//! stalls catches up instead of going silent. Both engine.io transports are
//! used (WebSocket and HTTP long-polling), and the runtime is
//! multi-threaded like the server's, so handlers that race show up here.
//!
//! Needs `node` on PATH and the bridge's packages
//! (`npm ci --prefix server/tests/socketio-client`, which CI runs); without
//! them each test says so on stderr and returns.

mod helpers;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use helpers::client::TestClient;
use helpers::hand::MoveByMove;
use helpers::{STEP, TestServer};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The bridge's folder, or `None` (with a notice) when it cannot run here.
fn bridge_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/socketio-client");
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let installed = dir.join("node_modules/socket.io-client/package.json").is_file();
    let missing = match (node, installed) {
        (true, true) => return Some(dir),
        (false, _) => "`node` is not on PATH",
        (true, false) => "server/tests/socketio-client/node_modules is missing",
    };
    // Straight to stderr: `eprintln!` is captured (hidden) for passing tests.
    let notice = format!(
        "skipped: {missing}; to run the Socket.IO tests, install Node.js and run \
         `npm ci --prefix server/tests/socketio-client`\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
    None
}

/// Most of the bridge's stderr kept for failure messages.
const STDERR_KEPT: usize = 16 * 1024;

/// A Socket.IO client speaking the protocol, a `TestClient` like
/// `helpers::WsClient`: the official JS client in a Node child process that
/// prints every `message` it receives as a JSON line and emits every line
/// it is given.
struct SioClient {
    child: Child,
    /// `None` once closed: the bridge then disconnects and exits.
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<String>>,
    /// Every protocol message received, in order.
    received: Vec<Value>,
    /// Received but not yet taken by `until` (it skips non-matching ones).
    backlog: VecDeque<Value>,
    /// The reason the bridge gave when the connection ended.
    disconnected: Option<String>,
    next_id: u64,
}

impl SioClient {
    /// Connects with `transports` ("websocket", "polling" or
    /// "polling,websocket"); the `hello` is read and checked.
    async fn connect(dir: &Path, url: &str, transports: &str) -> SioClient {
        let mut child = Command::new("node")
            .arg(dir.join("bridge.mjs"))
            .arg(url)
            .arg(transports)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let kept = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr_lines.next_line().await {
                let mut kept = kept.lock().expect("stderr lock");
                if kept.len() < STDERR_KEPT {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
        });
        let mut client = SioClient {
            child,
            stdin: Some(stdin),
            stdout,
            stderr,
            received: Vec::new(),
            backlog: VecDeque::new(),
            disconnected: None,
            next_id: 1,
        };
        let connected = client.line(STEP).await;
        assert!(
            connected
                .as_ref()
                .is_some_and(|c| c["type"] == "bridge_connected"),
            "the bridge connects, got {connected:?}; {}",
            client.diagnosis()
        );
        let first = transports.split(',').next().unwrap_or_default();
        assert_eq!(connected.expect("checked")["transport"], first);
        let hello = client.recv().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        client
    }

    /// The next line the bridge prints, parsed; `None` on timeout or exit.
    async fn line(&mut self, wait: Duration) -> Option<Value> {
        // `next_line` is cancel safe: a timeout loses no partial line.
        let line = tokio::time::timeout(wait, self.stdout.next_line())
            .await
            .ok()?
            .expect("bridge stdout readable")?;
        let value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("bridge line not JSON ({e}): {line}"));
        Some(value)
    }

    /// Writes messages as is, all in one write (so the client may batch them).
    async fn send_lines(&mut self, messages: &[Value]) {
        let mut text = String::new();
        for message in messages {
            text.push_str(&message.to_string());
            text.push('\n');
        }
        let stdin = self.stdin.as_mut().expect("bridge not closed");
        stdin.write_all(text.as_bytes()).await.expect("write to bridge");
        stdin.flush().await.expect("flush to bridge");
    }

    /// Sends messages, each with a fresh `id`, at once; returns the ids.
    async fn send_all(&mut self, messages: impl IntoIterator<Item = Value>) -> Vec<u64> {
        let mut ids = Vec::new();
        let messages: Vec<Value> = messages
            .into_iter()
            .map(|mut message| {
                message["id"] = json!(self.next_id);
                ids.push(self.next_id);
                self.next_id += 1;
                message
            })
            .collect();
        self.send_lines(&messages).await;
        ids
    }

    /// Reads until the bridge reports the disconnection and exits; returns its reason.
    async fn disconnection(&mut self) -> String {
        while self.disconnected.is_none() {
            if self.read(STEP).await.is_none() && self.disconnected.is_none() {
                panic!("the bridge never reported a disconnection; {}", self.diagnosis());
            }
        }
        let status = tokio::time::timeout(STEP, self.child.wait())
            .await
            .expect("the bridge exits after disconnecting")
            .expect("wait for the bridge");
        assert!(status.success(), "bridge exit: {status}; {}", self.diagnosis());
        self.disconnected.clone().expect("checked")
    }

    /// Disconnects from the client side (closes the bridge's stdin).
    async fn close(mut self) {
        self.stdin = None;
        assert_eq!(self.disconnection().await, "io client disconnect");
    }
}

impl TestClient for SioClient {
    /// Sends a message with a fresh `id`; returns the id.
    async fn send(&mut self, message: Value) -> u64 {
        self.send_all([message]).await[0]
    }

    /// The next protocol message the bridge prints; `None` on timeout and
    /// once it reports the disconnection.
    async fn read(&mut self, wait: Duration) -> Option<Value> {
        let value = self.line(wait).await?;
        match value["type"].as_str() {
            Some("bridge_disconnected") => {
                self.disconnected = Some(value["reason"].as_str().unwrap_or_default().to_owned());
                None
            }
            Some(kind) if kind.starts_with("bridge_") => {
                panic!("unexpected bridge line {value}; {}", self.diagnosis())
            }
            _ => {
                self.received.push(value.clone());
                Some(value)
            }
        }
    }

    fn received(&self) -> &[Value] {
        &self.received
    }

    fn backlog(&mut self) -> &mut VecDeque<Value> {
        &mut self.backlog
    }

    /// The bridge's state.
    fn diagnosis(&self) -> String {
        let stderr = self.stderr.lock().expect("stderr lock");
        format!(
            "disconnected: {:?}, last message: {:?}, bridge stderr: {:?}",
            self.disconnected,
            self.received.last(),
            stderr.trim_end()
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_socketio_players_and_two_bots_play_a_hand_move_by_move() {
    let Some(bridge) = bridge_dir() else {
        return;
    };
    let server = TestServer::start("socketio-hand").await;
    let hand = MoveByMove::create(&server, "move by move over socket.io").await;
    // Alice upgrades to WebSocket at once; Bob stays on HTTP long-polling,
    // so the hand exercises both engine.io transports.
    let alice = SioClient::connect(&bridge, &server.http, "websocket").await;
    let bob = SioClient::connect(&bridge, &server.http, "polling").await;
    for client in hand.play(&server, alice, bob).await {
        client.close().await;
    }
    server.server.shutdown().await.expect("clean shutdown");
}

/// The events of `received` after seq `after` up to seq `end`, whole.
fn events_between(received: &[Value], after: u64, end: u64) -> Vec<&Value> {
    received
        .iter()
        .filter(|v| v["type"] == "event")
        .filter(|v| v["seq"].as_u64().is_some_and(|s| s > after && s <= end))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_and_websocket_spectators_see_the_same_deltas() {
    let Some(bridge) = bridge_dir() else {
        return;
    };
    let server = TestServer::start("socketio-spectators").await;
    let (_, host) = server.register("Host").await;
    let bots: Vec<Value> = (0..4)
        .map(|seat| json!({"seat": seat, "agent": "bot:calling-station", "stack": 1000}))
        .collect();
    let table = server
        .create_table(
            &host,
            json!({
                "name": "watched three ways", "seats": 4, "small_blind": 5, "big_blind": 10,
                "pace": "auto", "turn_clock_ms": 30000, "ai_seats": bots
            }),
        )
        .await;
    let mut ws = server.connect().await;
    let mut sio_ws = SioClient::connect(&bridge, &server.http, "websocket").await;
    let mut sio_polling = SioClient::connect(&bridge, &server.http, "polling").await;
    let mut after = ws.join_spectator(&table).await["seq"].as_u64().expect("seq");
    for client in [&mut sio_ws, &mut sio_polling] {
        let snapshot = client.join_spectator(&table).await;
        assert_eq!(snapshot["you"], Value::Null);
        after = after.max(snapshot["seq"].as_u64().expect("seq"));
    }

    // Three whole hands after everyone joined, as the WebSocket spectator saw them.
    let mut ended = 0;
    let end = loop {
        let v = ws.event("hand_ended").await;
        let seq = v["seq"].as_u64().expect("seq");
        if seq > after {
            ended += 1;
        }
        if ended == 3 {
            break seq;
        }
    };
    let reference = events_between(&ws.received, after, end);
    assert!(
        reference.iter().any(|v| v["event"]["type"] == "hand_started"),
        "whole hands are compared"
    );
    for v in &reference {
        let kind = &v["event"]["type"];
        assert!(
            kind != "hole_cards_dealt" && kind != "deck_shuffled",
            "spectators see public events only: {v}"
        );
    }
    for (transport, client) in [("websocket", &mut sio_ws), ("polling", &mut sio_polling)] {
        client
            .until("the same hand_ended", |v| v["type"] == "event" && v["seq"] == end)
            .await;
        let seen = events_between(&client.received, after, end);
        let pairs = |events: &[&Value]| -> Vec<(u64, Value)> {
            events
                .iter()
                .map(|v| (v["seq"].as_u64().expect("seq"), v["event"].clone()))
                .collect()
        };
        assert_eq!(
            pairs(&seen),
            pairs(&reference),
            "Socket.IO over {transport} carries the same (seq, event) pairs as /ws"
        );
        // Not only the events: the whole messages, clocks included, are the same.
        assert_eq!(
            seen, reference,
            "Socket.IO over {transport} carries the same messages"
        );
        let snapshots = client.received.iter().filter(|v| v["type"] == "snapshot").count();
        assert_eq!(snapshots, 1, "no resync interrupted the comparison");
    }

    // Shutting down closes the Socket.IO connections from the server side,
    // and both transports are told so (the listener stays up a moment after
    // sessions close, for the polling client's last request).
    let shutdown = tokio::spawn(server.server.shutdown());
    assert_eq!(sio_ws.disconnection().await, "io server disconnect");
    assert_eq!(sio_polling.disconnection().await, "io server disconnect");
    shutdown.await.expect("shutdown task").expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_messages_are_handled_in_the_order_sent() {
    let Some(bridge) = bridge_dir() else {
        return;
    };
    let server = TestServer::start("socketio-order").await;
    let (_, player) = server.register("Quick").await;
    let table = server
        .create_table(
            &player,
            json!({"name": "order", "seats": 2, "small_blind": 5, "big_blind": 10}),
        )
        .await;
    for transport in ["websocket", "polling"] {
        let mut client = SioClient::connect(&bridge, &server.http, transport).await;
        // Sent in one go, so the client writes them back to back (over
        // polling, in one HTTP request): each must still be handled in turn.
        let pings = client.send_all((0..30).map(|_| json!({"type": "ping"}))).await;
        let mut pongs = Vec::new();
        while pongs.len() < pings.len() {
            let pong = client.until("pong", |v| v["type"] == "pong").await;
            pongs.push(pong["id"].as_u64().expect("pong id"));
        }
        assert_eq!(
            pongs, pings,
            "pongs come back in the order of the pings over {transport}"
        );
        // A join and what needs it, without waiting in between.
        let ids = client
            .send_all([
                json!({"type": "join", "table": table, "as": "player", "token": player}),
                json!({"type": "chat", "table": table, "text": "first"}),
                json!({"type": "leave", "table": table}),
            ])
            .await;
        for (id, of) in ids.into_iter().zip(["join", "chat", "leave"]) {
            let reply = client
                .until("a reply", |v| v["type"] == "ack" || v["type"] == "error")
                .await;
            assert_eq!(reply["type"], "ack", "{of} over {transport}: {reply}");
            assert_eq!(reply["id"], id, "{of} over {transport}: {reply}");
            assert_eq!(reply["of"], of, "{reply}");
        }
        client.close().await;
    }
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socketio_client_that_stops_reading_catches_up() {
    let Some(bridge) = bridge_dir() else {
        return;
    };
    let server = TestServer::start("socketio-slow-reader").await;
    let (_, host) = server.register("Host").await;
    let bots: Vec<Value> = (0..4)
        .map(|seat| json!({"seat": seat, "agent": "bot:calling-station", "stack": 1000}))
        .collect();
    let table = server
        .create_table(
            &host,
            json!({
                "name": "firehose", "seats": 4, "small_blind": 5, "big_blind": 10,
                "pace": "auto", "turn_clock_ms": 30000, "ai_seats": bots
            }),
        )
        .await;
    for transport in ["polling", "websocket"] {
        let mut client = SioClient::connect(&bridge, &server.http, transport).await;
        client.join_spectator(&table).await;
        // Frozen while bots play at full pace: it neither reads nor polls.
        client
            .send_lines(&[json!({"type": "bridge_stall", "ms": 2000})])
            .await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let (status, now) = server.get_json(&format!("/api/tables/{table}")).await;
        assert_eq!(status, 200, "{now}");
        let now = now["snapshot"]["seq"].as_u64().expect("seq");
        // Delayed deltas, or a snapshot if it fell too far behind: never silence.
        let caught_up = client
            .until("an event after the pause", |v| {
                v["seq"].as_u64().is_some_and(|s| s > now)
            })
            .await;
        assert!(
            caught_up["type"] == "event" || caught_up["type"] == "snapshot",
            "{caught_up}"
        );
        client.close().await;
    }
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_watchers_get_experiment_progress_until_they_unwatch() {
    let Some(bridge) = bridge_dir() else {
        return;
    };
    let server = TestServer::start("socketio-experiments").await;
    let mut client = SioClient::connect(&bridge, &server.http, "websocket").await;
    let ack = client.request(json!({"type": "watch_experiments"})).await;
    assert_eq!(
        (ack["type"].as_str(), ack["count"].as_u64()),
        (Some("ack"), Some(0)),
        "{ack}"
    );
    let spec = |hands: u64| {
        json!({
            "name": "socketio progress",
            "seats": [{"agent": "bot:random"}, {"agent": "bot:calling-station"}],
            "hands": hands,
            "small_blind": 1,
            "big_blind": 2,
            "starting_stack": 200,
            "seed": 5,
            "tables": 2,
            "write_phh": false,
        })
        .to_string()
    };
    let create = |hands: u64| {
        server
            .client
            .post(format!("{}/api/experiments", server.http))
            .header("x-api-key", "test-admin-key")
            .body(spec(hands))
            .send()
    };
    let response = create(30_000).await.expect("create");
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    let mut seen = Vec::new();
    let last = client
        .until("the experiment's last progress", |m| {
            helpers::experiment_progress(m, &id, &mut seen)
        })
        .await;
    helpers::assert_progress(&last, &seen, 30_000);
    let ack = client.request(json!({"type": "unwatch_experiments"})).await;
    assert_eq!(ack["of"], "unwatch_experiments", "{ack}");
    client.clear_backlog();
    let response = create(2_000).await.expect("create");
    assert_eq!(response.status().as_u16(), 201);
    assert!(
        client.try_recv(Duration::from_millis(500)).await.is_none(),
        "no progress after unwatch_experiments"
    );
    client.close().await;
    server.server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_payloads_over_the_hard_limit_are_refused_before_the_session() {
    let Some(bridge) = bridge_dir() else {
        return;
    };
    // Default limits: frames of 16 KiB, and a hard limit of 64 × that
    // (1 MiB) on every engine.io transport.
    let server = TestServer::start("socketio-payload-limit").await;
    let mut bystander = SioClient::connect(&bridge, &server.http, "websocket").await;
    for transport in ["websocket", "polling"] {
        // Over the protocol limit, under the hard one: the session reads it
        // and says so before it disconnects.
        let mut client = SioClient::connect(&bridge, &server.http, transport).await;
        client
            .send(json!({"type": "chat", "table": "t_000000000000", "text": "x".repeat(20_000)}))
            .await;
        let error = client.until("frame_too_large", |v| v["type"] == "error").await;
        assert_eq!(error["code"], "frame_too_large", "over {transport}: {error}");
        assert_eq!(client.disconnection().await, "io server disconnect");

        // Over the hard limit: the engine refuses it (over websocket from
        // the frame header, before reading it), so the session never sees
        // it and the connection ends.
        for size in [2_000_000, 20_000_000] {
            let mut client = SioClient::connect(&bridge, &server.http, transport).await;
            client
                .send(json!({"type": "chat", "table": "t_000000000000", "text": "x".repeat(size)}))
                .await;
            let reason = client.disconnection().await;
            assert_ne!(reason, "io client disconnect", "{size} bytes over {transport}");
            assert!(
                client.received.iter().all(|m| m["code"] != "frame_too_large"),
                "{size} bytes over {transport} reached the session: {:?}",
                client.received
            );
        }
    }
    // Nobody else noticed.
    let id = bystander.send(json!({"type": "ping"})).await;
    let pong = bystander.until("pong", |v| v["type"] == "pong").await;
    assert_eq!(pong["id"], id);
    bystander.close().await;
    server.server.shutdown().await.expect("clean shutdown");
}
