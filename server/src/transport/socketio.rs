//! Socket.IO (socketioxide) on the default namespace. Clients emit
//! `message` events whose payload is a protocol message; the server emits
//! `message` events with the same JSON as the WebSocket transport.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use serde_json::value::RawValue;
use socketioxide::extract::{Data, SocketRef};
use socketioxide::layer::SocketIoLayer;
use socketioxide::{SendError, SocketError, SocketIo};
use tokio::sync::mpsc;

use super::session::{Flow, OUTBOUND_CAPACITY, Outbound, Session};
use crate::app::App;
use crate::protocol::{ErrorCode, ServerMessage, close};

/// Frames a Socket.IO client may have queued for its session before the
/// server refuses more (the rate limiter normally acts long before).
const INBOUND_CAPACITY: usize = 64;

/// A client that has not made room for a frame for this long is
/// disconnected (as over `/ws`).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a full socketioxide packet buffer is tried again.
const FULL_RETRY: Duration = Duration::from_millis(5);

/// The Socket.IO layer, mounted on the router (path `/socket.io/`).
pub fn layer(app: App) -> SocketIoLayer {
    // The same hard limit as `/ws`, on every engine.io transport: polling
    // bodies (`max_payload`) and websocket messages and frames, which the
    // socket layer refuses from their header, before reading them.
    let max_payload = app
        .config
        .limits
        .max_frame_bytes
        .saturating_mul(64)
        .max(64 * 1024);
    let (layer, io) = SocketIo::builder()
        .max_payload(max_payload as u64)
        .ws_max_message_size(max_payload)
        .ws_max_frame_size(max_payload)
        .build_layer();
    io.ns("/", move |socket: SocketRef| {
        let app = app.clone();
        async move { connect(app, socket) }
    });
    layer
}

fn emit_text(socket: &SocketRef, text: &str) -> bool {
    match RawValue::from_string(text.to_owned()) {
        Ok(raw) => socket.emit("message", &raw).is_ok(),
        Err(_) => false,
    }
}

/// Emits one message, waiting while socketioxide's bounded packet buffer is
/// full: its `emit` fails at once instead, and a burst of deltas (bots at
/// full pace) must be delayed, not lost. False once the client is gone or
/// has made no room for [`WRITE_TIMEOUT`].
async fn emit_waiting(socket: &SocketRef, text: &str) -> bool {
    let Ok(raw) = RawValue::from_string(text.to_owned()) else {
        return false;
    };
    let deadline = tokio::time::Instant::now() + WRITE_TIMEOUT;
    loop {
        match socket.emit("message", &raw) {
            Ok(()) => return true,
            Err(SendError::Socket(SocketError::InternalChannelFull))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(FULL_RETRY).await;
            }
            Err(_) => return false,
        }
    }
}

fn connect(app: App, socket: SocketRef) {
    let parts = socket.req_parts();
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let exempt = app.is_admin(&parts.headers);
    let slot = match app.connect(peer, exempt) {
        Ok(slot) => slot,
        Err(failure) => {
            let refused = ServerMessage::Error {
                id: None,
                table: None,
                code: failure.code,
                message: &failure.message,
            };
            emit_text(&socket, &refused.text());
            let _ = socket.disconnect();
            return;
        }
    };
    app.metrics.connections_socketio.fetch_add(1, Ordering::Relaxed);
    let (inbound, mut inbound_rx) = mpsc::channel::<Result<String, usize>>(INBOUND_CAPACITY);
    let (closed_tx, mut closed_rx) = tokio::sync::oneshot::channel::<()>();
    let max_frame = app.config.limits.max_frame_bytes;
    // socketioxide calls this closure in arrival order but spawns the future
    // it returns as a task of its own: the frame is queued here, not in the
    // future, so the session handles frames in the order the client sent them.
    let flood_app = app.clone();
    socket.on("message", move |s: SocketRef, Data(value): Data<Value>| {
        let text = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let item = if text.len() > max_frame {
            Err(text.len())
        } else {
            Ok(text)
        };
        // A full queue means the client floods faster than it is served:
        // the frame is refused, and the client is told so.
        if let Err(mpsc::error::TrySendError::Full(_)) = inbound.try_send(item) {
            flood_app.metrics.error(ErrorCode::RateLimited.name());
            let dropped = ServerMessage::Error {
                id: None,
                table: None,
                code: ErrorCode::RateLimited,
                message: "too many messages queued; this one was dropped",
            };
            emit_text(&s, &dropped.text());
        }
        async {}
    });
    let closed_tx = Arc::new(parking_lot::Mutex::new(Some(closed_tx)));
    socket.on_disconnect(move || {
        let closed_tx = closed_tx.clone();
        async move {
            if let Some(tx) = closed_tx.lock().take() {
                let _ = tx.send(());
            }
        }
    });
    let (out, mut out_rx) = mpsc::channel::<Outbound>(OUTBOUND_CAPACITY);
    let writer_socket = socket.clone();
    tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            match frame {
                Outbound::Text(text) => {
                    if !emit_waiting(&writer_socket, &text).await {
                        // Gone or not reading: close rather than go silent.
                        let _ = writer_socket.disconnect();
                        break;
                    }
                }
                Outbound::Close(_, _) => {
                    let _ = writer_socket.disconnect();
                    break;
                }
            }
        }
    });
    tokio::spawn(async move {
        let mut session = Session::start(app.clone(), out.clone()).await;
        let mut shutdown = app.shutdown_signal();
        loop {
            tokio::select! {
                item = inbound_rx.recv() => match item {
                    Some(Ok(text)) => {
                        if session.on_frame(&text).await == Flow::Close {
                            break;
                        }
                    }
                    Some(Err(len)) => {
                        session.oversized(len).await;
                        break;
                    }
                    None => break,
                },
                _ = &mut closed_rx => break,
                // The writer gave up on the client: end the session too (as over `/ws`).
                () = out.closed() => break,
                () = super::ws::stopped(&mut shutdown) => {
                    let _ = out.send(Outbound::Close(close::GOING_AWAY, "server shutting down".to_owned())).await;
                    break;
                }
            }
        }
        session.close().await;
        app.metrics.connections_socketio.fetch_sub(1, Ordering::Relaxed);
        drop(slot);
    });
}
