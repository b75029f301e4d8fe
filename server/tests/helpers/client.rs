//! What a test needs of a protocol client, whatever carries it: the plain
//! WebSocket client (`helpers::WsClient`) and the Socket.IO one
//! (`SioClient` in `socketio.rs`) implement [`TestClient`], so checks
//! written against it (such as `helpers::hand`) run over both transports.
//!
//! A transport provides sending, reading the next message off its
//! connection and the two lists every client keeps (all messages received,
//! and those received but not yet taken); waiting for a matching message,
//! requests and joins are written here once, on top of those.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{Value, json};

use super::STEP;

/// A client speaking the protocol over some transport.
pub trait TestClient {
    /// Sends a message with a fresh `id`; returns the id.
    async fn send(&mut self, message: Value) -> u64;

    /// The next message off the connection (not the backlog), also pushed
    /// onto [`received`](TestClient::received); `None` on timeout or once
    /// the connection has ended.
    async fn read(&mut self, wait: Duration) -> Option<Value>;

    /// Every message received, in order.
    fn received(&self) -> &[Value];

    /// Received but not yet taken by [`until`](TestClient::until) (it skips
    /// non-matching ones).
    fn backlog(&mut self) -> &mut VecDeque<Value>;

    /// The connection's state, for failure messages.
    fn diagnosis(&self) -> String {
        format!("last: {:?}", self.received().last())
    }

    /// The next message (panics after [`STEP`]).
    async fn recv(&mut self) -> Value {
        match self.try_recv(STEP).await {
            Some(v) => v,
            None => panic!("no message within the step timeout; {}", self.diagnosis()),
        }
    }

    /// The next message (backlog first), or `None` on timeout or when the
    /// connection ended.
    async fn try_recv(&mut self, wait: Duration) -> Option<Value> {
        if let Some(v) = self.backlog().pop_front() {
            return Some(v);
        }
        self.read(wait).await
    }

    /// The first message (backlog first) that matches; the others stay in
    /// the backlog for later calls.
    async fn until(&mut self, what: &str, mut pred: impl FnMut(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog().iter().position(&mut pred) {
            return self.backlog().remove(i).expect("index in range");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read(left.min(STEP)).await {
                Some(v) if pred(&v) => return v,
                Some(v) => self.backlog().push_back(v),
                None => panic!("no message matching {what}; {}", self.diagnosis()),
            }
        }
    }

    /// Drops everything not yet taken.
    fn clear_backlog(&mut self) {
        self.backlog().clear();
    }

    /// Sends a request and waits for its `ack` or `error` (by id).
    async fn request(&mut self, message: Value) -> Value {
        let id = self.send(message).await;
        self.until(&format!("reply to request {id}"), |v| {
            (v["type"] == "ack" || v["type"] == "error") && v["id"] == json!(id)
        })
        .await
    }

    /// Joins a table as a player; returns the snapshot.
    async fn join_player(&mut self, table: &str, token: &str) -> Value {
        let ack = self
            .request(json!({"type": "join", "table": table, "as": "player", "token": token}))
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
        self.until("snapshot", |v| v["type"] == "snapshot").await
    }

    /// Joins a table as a spectator; returns the snapshot.
    async fn join_spectator(&mut self, table: &str) -> Value {
        let ack = self.request(json!({"type": "join", "table": table})).await;
        assert_eq!(ack["type"], "ack", "{ack}");
        self.until("snapshot", |v| v["type"] == "snapshot").await
    }

    /// Waits for the next event of `kind` (e.g. `turn_started`).
    async fn event(&mut self, kind: &str) -> Value {
        self.until(kind, |v| v["type"] == "event" && v["event"]["type"] == kind)
            .await
    }
}
