//! Plain WebSocket at `/ws` (axum). Text frames carry protocol messages;
//! the session decides everything else.

use std::sync::atomic::Ordering;
use std::time::Duration;

use std::net::SocketAddr;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use super::session::{Flow, OUTBOUND_CAPACITY, Outbound, Session};
use crate::app::{App, ConnectionSlot};
use crate::error::ApiError;
use crate::protocol::{ErrorCode, Failure, close};

/// A client that cannot take a frame for this long is disconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// After the server closes a connection, how long it keeps reading (and
/// discarding) what the client sends before it drops the socket.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes the socket layer reads at a time. tungstenite zero-fills its whole
/// read buffer on the first read, so its 128 KiB default cost 128 KiB of
/// resident memory per connection, idle or not; client frames are small, and
/// a larger one is read in several chunks.
const READ_BUFFER: usize = 4 * 1024;

/// Upgrades to a WebSocket, or answers 503 at the connection limits and 429
/// to an address that connects too fast.
pub async fn handler(
    State(app): State<App>,
    headers: HeaderMap,
    extensions: Extensions,
    upgrade: WebSocketUpgrade,
) -> Response {
    if app.is_shutting_down() {
        return ApiError(Failure::new(
            ErrorCode::ShuttingDown,
            "the server is shutting down",
        ))
        .into_response();
    }
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let slot = match app.connect(peer, app.is_admin(&headers)) {
        Ok(slot) => slot,
        Err(failure) => return ApiError(failure).into_response(),
    };
    // Frames up to 64x the protocol limit are read and answered with
    // `frame_too_large`; beyond that the socket layer refuses them outright.
    let hard_limit = app
        .config
        .limits
        .max_frame_bytes
        .saturating_mul(64)
        .max(64 * 1024);
    upgrade
        .read_buffer_size(READ_BUFFER)
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        .on_upgrade(move |socket| run(app, socket, slot))
}

async fn run(app: App, socket: WebSocket, slot: ConnectionSlot) {
    app.metrics.connections_ws.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<Outbound>(OUTBOUND_CAPACITY);
    let mut writer = tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            match frame {
                Outbound::Text(text) => {
                    let sent =
                        tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Text(text.as_ref().into())));
                    if !matches!(sent.await, Ok(Ok(()))) {
                        return;
                    }
                }
                Outbound::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
                    return;
                }
            }
        }
    });
    let mut session = Session::start(app.clone(), out.clone()).await;
    let mut shutdown = app.shutdown_signal();
    // Whether the server queued a close frame and should read what the
    // client still sends until it answers (see `drain`).
    let mut closing = false;
    loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if session.on_frame(text.as_str()).await == Flow::Close {
                        closing = true;
                        break;
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    let flow = if bytes.len() > app.config.limits.max_frame_bytes {
                        session.oversized(bytes.len()).await
                    } else {
                        match std::str::from_utf8(&bytes) {
                            Ok(text) => session.on_frame(text).await,
                            Err(_) => session.on_frame("\u{0}binary frame that is not UTF-8").await,
                        }
                    };
                    if flow == Flow::Close {
                        closing = true;
                        break;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(_)) => {
                    // Oversized beyond the hard limit, or a protocol violation.
                    let _ = out.try_send(Outbound::Close(close::MESSAGE_TOO_BIG, "frame too large or invalid".to_owned()));
                    break;
                }
            },
            () = stopped(&mut shutdown) => {
                let _ = out.send(Outbound::Close(close::GOING_AWAY, "server shutting down".to_owned())).await;
                closing = true;
                break;
            }
            _ = &mut writer => break,
        }
    }
    session.close().await;
    drop(out);
    if closing {
        drain(&mut stream).await;
    }
    if !writer.is_finished() {
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut writer).await;
        writer.abort();
    }
    app.metrics.connections_ws.fetch_sub(1, Ordering::Relaxed);
    drop(slot);
}

/// After the server queued a close frame: reads and discards whatever the
/// client still sends, until its close frame, the end of the stream or
/// [`DRAIN_TIMEOUT`]. Dropping a socket with unread data makes the kernel
/// answer with a TCP reset, which also throws away what the client has not
/// read yet: the errors and the close frame that say why it is closed.
async fn drain(stream: &mut futures_util::stream::SplitStream<WebSocket>) {
    let deadline = tokio::time::sleep(DRAIN_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            () = &mut deadline => return,
        }
    }
}

/// Resolves once shutdown begins (the watch guard is dropped inside, so the
/// caller's future stays `Send`).
pub(crate) async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
