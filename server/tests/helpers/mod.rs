//! Shared test helpers: start the real server on 127.0.0.1:0 with a fresh
//! database, register players, create tables, and talk WebSocket like a client
//! ([`WsClient`], a [`client::TestClient`]); `hand` holds checks written once
//! for every transport.

#![allow(dead_code)]

pub mod client;
pub mod hand;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use server::{Limits, Server, ServerConfig, Timing};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use client::TestClient;

/// How long a test waits for any one expected message.
pub const STEP: Duration = Duration::from_secs(10);

/// A server running in this test process on its own temporary database.
pub struct TestServer {
    pub server: Server,
    pub http: String,
    pub ws: String,
    pub dir: PathBuf,
    pub client: reqwest::Client,
}

/// A fresh temporary directory under the target dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "showdown-test-{name}-{}-{}",
        std::process::id(),
        server::auth::random_u64()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A config for tests: port 0, SQLite in `dir`, short pauses.
pub fn test_config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        database_url: format!("sqlite://{}", dir.join("showdown.db").display()),
        llm_config: None,
        api_key: Some("test-admin-key".to_owned()),
        limits: Limits::default(),
        timing: Timing {
            disconnect_grace: Duration::from_secs(60),
            idle_ttl: Duration::from_secs(300),
            between_hands: Duration::from_millis(100),
        },
        starting_balance: 10_000,
        ..ServerConfig::default()
    }
}

impl TestServer {
    /// Starts a server with the test config, adjusted by `tweak`.
    pub async fn start_with(name: &str, tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
        init_logs();
        let dir = temp_dir(name);
        let mut config = test_config(&dir);
        tweak(&mut config);
        let server = Server::start(config).await.expect("server starts");
        let addr = server.addr;
        TestServer {
            server,
            http: format!("http://{addr}"),
            ws: format!("ws://{addr}/ws"),
            dir,
            client: reqwest::Client::new(),
        }
    }

    /// Starts a server with the test config.
    pub async fn start(name: &str) -> TestServer {
        TestServer::start_with(name, |_| {}).await
    }

    /// Registers a player: (id, token).
    pub async fn register(&self, name: &str) -> (String, String) {
        let response = self
            .client
            .post(format!("{}/api/players", self.http))
            .json(&json!({ "name": name }))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.expect("json");
        (
            body["id"].as_str().expect("id").to_owned(),
            body["token"].as_str().expect("token").to_owned(),
        )
    }

    /// Creates a table with `body` as `token`'s request; returns its id.
    pub async fn create_table(&self, token: &str, body: Value) -> String {
        let response = self
            .client
            .post(format!("{}/api/tables", self.http))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("create table");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("table id").to_owned()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.http))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// The player's account (`GET /api/me`): id, name, balance, seats.
    pub async fn me(&self, token: &str) -> Value {
        self.client
            .get(format!("{}/api/me", self.http))
            .bearer_auth(token)
            .send()
            .await
            .expect("me")
            .json()
            .await
            .expect("json")
    }

    /// GET a JSON document.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.http))
            .send()
            .await
            .expect("get");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A WebSocket client connected to `/ws` (its `hello` already read).
    pub async fn connect(&self) -> WsClient {
        let mut client = WsClient::connect(&self.ws).await;
        let hello = client.recv().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        client
    }
}

/// Experiment progress as watchers see it (`watch_experiments`), for a
/// client's `until`: each `experiment` message of experiment `id` adds its
/// `hands_done` to `seen`; true for its last one (status `done`).
pub fn experiment_progress(message: &Value, id: &str, seen: &mut Vec<u64>) -> bool {
    if message["type"] == "experiment" && message["experiment"]["id"] == id {
        seen.push(message["experiment"]["hands_done"].as_u64().unwrap_or(0));
        message["experiment"]["status"] == "done"
    } else {
        false
    }
}

/// Checks what a watcher saw of an experiment of `hands` hands: its last
/// message says all of them, and progress came along the way, never going
/// back.
pub fn assert_progress(last: &Value, seen: &[u64], hands: u64) {
    assert_eq!(last["experiment"]["hands_done"], hands, "{last}");
    assert!(seen.len() >= 2, "progress arrived along the way: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress never goes back: {seen:?}"
    );
}

/// Logs go to the test output only when `TEST_LOG` is set.
pub fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_test_writer()
            .try_init();
    }
}

/// A WebSocket client speaking the protocol. Its methods are those of
/// [`TestClient`] (the checks shared with the Socket.IO client are written
/// against that), also callable without importing the trait.
pub struct WsClient {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every message received, in order.
    pub received: Vec<Value>,
    /// Received but not yet taken by `until` (it skips non-matching ones).
    backlog: VecDeque<Value>,
    next_id: u64,
}

impl WsClient {
    /// Connects (the `hello` is left unread).
    pub async fn connect(url: &str) -> WsClient {
        let (socket, _) = connect_async(url).await.expect("websocket connects");
        WsClient::from_socket(socket)
    }

    /// Wraps a connected socket (the `hello` is left unread).
    pub fn from_socket(socket: WebSocketStream<MaybeTlsStream<TcpStream>>) -> WsClient {
        WsClient {
            socket,
            received: Vec::new(),
            backlog: VecDeque::new(),
            next_id: 1,
        }
    }

    /// Sends a text frame as is.
    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::Text(text.into())).await.expect("send");
    }

    /// Sends a message with a fresh `id`; returns the id.
    pub async fn send(&mut self, message: Value) -> u64 {
        TestClient::send(self, message).await
    }

    /// The next message (panics after [`STEP`]).
    pub async fn recv(&mut self) -> Value {
        TestClient::recv(self).await
    }

    /// The next message, or `None` on timeout or close.
    pub async fn try_recv(&mut self, wait: Duration) -> Option<Value> {
        TestClient::try_recv(self, wait).await
    }

    /// The first message (backlog first) that matches; the others stay in
    /// the backlog for later calls.
    pub async fn until(&mut self, what: &str, pred: impl FnMut(&Value) -> bool) -> Value {
        TestClient::until(self, what, pred).await
    }

    /// Drops everything not yet taken.
    pub fn clear_backlog(&mut self) {
        TestClient::clear_backlog(self);
    }

    /// Sends a request and waits for its `ack` or `error` (by id).
    pub async fn request(&mut self, message: Value) -> Value {
        TestClient::request(self, message).await
    }

    /// Joins a table as a player; returns the snapshot.
    pub async fn join_player(&mut self, table: &str, token: &str) -> Value {
        TestClient::join_player(self, table, token).await
    }

    /// Joins a table as a spectator; returns the snapshot.
    pub async fn join_spectator(&mut self, table: &str) -> Value {
        TestClient::join_spectator(self, table).await
    }

    /// Waits for the next event of `kind` (e.g. `turn_started`).
    pub async fn event(&mut self, kind: &str) -> Value {
        TestClient::event(self, kind).await
    }
}

impl TestClient for WsClient {
    async fn send(&mut self, mut message: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        message["id"] = json!(id);
        self.send_text(&message.to_string()).await;
        id
    }

    async fn read(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(wait, self.socket.next()).await.ok()??;
            match frame.ok()? {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("server sends JSON");
                    self.received.push(value.clone());
                    return Some(value);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    fn received(&self) -> &[Value] {
        &self.received
    }

    fn backlog(&mut self) -> &mut VecDeque<Value> {
        &mut self.backlog
    }
}
