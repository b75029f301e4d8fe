//! One client connection over either transport: the same protocol messages
//! in and out, every frame counted.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

use super::engineio::{self, Packet, SocketPacket};
use super::stats::Counters;

/// Which transport the load uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Plain WebSocket at `/ws`.
    Ws,
    /// Socket.IO (engine.io v4 over its WebSocket transport) at `/socket.io/`.
    Socketio,
}

/// A received protocol message and the size of the frame that carried it.
pub struct Incoming {
    /// The message.
    pub message: Value,
    /// The frame's payload size in bytes, engine.io framing included.
    pub wire_bytes: usize,
}

/// An open connection, past its handshake.
pub struct Conn {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    transport: Transport,
    counters: Arc<Counters>,
}

/// Client-side buffers: small, since ten thousand of these share one process
/// with the server under test (tungstenite's defaults are 128 KiB each).
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
}

impl Conn {
    /// Connects and completes the transport's handshake (for Socket.IO: the
    /// open packet and the namespace connect). The error is a short reason.
    pub async fn connect(
        target: SocketAddr,
        transport: Transport,
        api_key: Option<&str>,
        counters: Arc<Counters>,
    ) -> Result<Conn, String> {
        let url = match transport {
            Transport::Ws => format!("ws://{target}/ws"),
            Transport::Socketio => format!("ws://{target}/socket.io/?EIO=4&transport=websocket"),
        };
        let mut request = url.into_client_request().map_err(|e| format!("request: {e}"))?;
        if let Some(key) = api_key {
            let value = HeaderValue::from_str(key).map_err(|_| "api key: not a header value".to_owned())?;
            request.headers_mut().insert("x-api-key", value);
        }
        let (socket, _) = connect_async_with_config(request, Some(socket_config()), true)
            .await
            .map_err(|e| match e {
                WsError::Http(response) => format!("http_{}", response.status().as_u16()),
                WsError::Io(e) => format!("io_{:?}", e.kind()),
                other => format!("handshake: {other}"),
            })?;
        let mut conn = Conn {
            socket,
            transport,
            counters,
        };
        if transport == Transport::Socketio {
            match conn.next_text().await {
                Some(text) if matches!(engineio::parse(&text), Ok(Packet::Open(_))) => {}
                _ => return Err("engineio_open".to_owned()),
            }
            conn.send_raw(engineio::CONNECT.to_owned()).await?;
            loop {
                let text = conn.next_text().await.ok_or("socketio_connect")?;
                match engineio::parse(&text) {
                    Ok(Packet::Message(SocketPacket::Connect)) => break,
                    Ok(Packet::Ping) => conn.send_raw(engineio::PONG.to_owned()).await?,
                    Ok(Packet::Message(SocketPacket::ConnectError(_))) => {
                        return Err("socketio_connect_error".to_owned());
                    }
                    _ => return Err("socketio_connect".to_owned()),
                }
            }
        }
        Ok(conn)
    }

    /// Sends one protocol message.
    pub async fn send(&mut self, message: &Value) -> Result<(), String> {
        let text = message.to_string();
        let frame = match self.transport {
            Transport::Ws => text,
            Transport::Socketio => engineio::message_event(&text),
        };
        self.send_raw(frame).await
    }

    async fn send_raw(&mut self, frame: String) -> Result<(), String> {
        Counters::bump(&self.counters.frames_out);
        Counters::add(&self.counters.bytes_out, frame.len());
        self.socket
            .send(Message::text(frame))
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// The next text frame, counted; `None` once the connection is closed.
    async fn next_text(&mut self) -> Option<String> {
        loop {
            match self.socket.next().await? {
                Ok(Message::Text(text)) => {
                    Counters::bump(&self.counters.frames_in);
                    Counters::add(&self.counters.bytes_in, text.len());
                    return Some(text.as_str().to_owned());
                }
                Ok(Message::Binary(bytes)) => {
                    Counters::bump(&self.counters.frames_in);
                    Counters::add(&self.counters.bytes_in, bytes.len());
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next protocol message (engine.io heartbeats are answered here);
    /// `None` once the connection is closed.
    pub async fn recv(&mut self) -> Option<Incoming> {
        loop {
            let text = self.next_text().await?;
            let wire_bytes = text.len();
            match self.transport {
                Transport::Ws => match serde_json::from_str(&text) {
                    Ok(message) => return Some(Incoming { message, wire_bytes }),
                    Err(_) => self.counters.error("loadgen_bad_json"),
                },
                Transport::Socketio => match engineio::parse(&text) {
                    Ok(Packet::Message(SocketPacket::Event { payload, .. })) => {
                        return Some(Incoming {
                            message: payload,
                            wire_bytes,
                        });
                    }
                    Ok(Packet::Ping) => self.send_raw(engineio::PONG.to_owned()).await.ok()?,
                    Ok(Packet::Close | Packet::Message(SocketPacket::Disconnect)) => return None,
                    Ok(_) => {}
                    Err(_) => self.counters.error("loadgen_bad_packet"),
                },
            }
        }
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
