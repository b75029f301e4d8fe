//! Engine.IO v4 and Socket.IO v5 packets over a WebSocket, as far as the
//! load generator needs them: the open packet, ping/pong, connecting to the
//! default namespace and `message` events. (A client crate would bring its
//! own HTTP stack and polling transport; the load must be plain WebSocket.)

use serde_json::Value;

/// The Socket.IO connect packet for the default namespace.
pub const CONNECT: &str = "40";

/// The engine.io pong, the answer to the server's ping (`2`).
pub const PONG: &str = "3";

/// One engine.io packet, as the server sends it.
#[derive(Debug, PartialEq)]
pub enum Packet {
    /// `0{...}`: the handshake, with the session's parameters.
    Open(Value),
    /// `1`: the server closes the session.
    Close,
    /// `2`: a heartbeat the client must answer with [`PONG`].
    Ping,
    /// `3`.
    Pong,
    /// `4...`: a Socket.IO packet.
    Message(SocketPacket),
    /// `5`, `6` or anything this client does not use.
    Other,
}

/// A Socket.IO packet inside an engine.io message.
#[derive(Debug, PartialEq)]
pub enum SocketPacket {
    /// `0`: the namespace is connected.
    Connect,
    /// `1`: the namespace is disconnected.
    Disconnect,
    /// `2["name", payload]`: an event.
    Event {
        /// The event name (`message` for protocol messages).
        name: String,
        /// Its first argument (`Null` if none).
        payload: Value,
    },
    /// `4{...}`: the connection to the namespace was refused.
    ConnectError(Value),
    /// Acks and binary packets, which the protocol does not use.
    Other,
}

/// Why a packet could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The frame was empty.
    #[error("empty engine.io packet")]
    Empty,
    /// The JSON part did not parse.
    #[error("bad engine.io packet JSON: {0}")]
    Json(String),
}

/// Reads one engine.io packet from a WebSocket text frame.
pub fn parse(frame: &str) -> Result<Packet, PacketError> {
    let mut chars = frame.chars();
    let kind = chars.next().ok_or(PacketError::Empty)?;
    let rest = chars.as_str();
    Ok(match kind {
        '0' => Packet::Open(json(rest)?),
        '1' => Packet::Close,
        '2' => Packet::Ping,
        '3' => Packet::Pong,
        '4' => Packet::Message(parse_socket(rest)?),
        _ => Packet::Other,
    })
}

fn json(text: &str) -> Result<Value, PacketError> {
    serde_json::from_str(text).map_err(|e| PacketError::Json(e.to_string()))
}

/// `TYPE[ATTACHMENTS-][/NAMESPACE,][ACK_ID][JSON]`.
fn parse_socket(packet: &str) -> Result<SocketPacket, PacketError> {
    let mut chars = packet.chars();
    let kind = chars.next().ok_or(PacketError::Empty)?;
    let mut rest = chars.as_str();
    if rest.starts_with('/') {
        // A namespace other than the default one: skip its name.
        rest = rest.split_once(',').map_or("", |(_, after)| after);
    }
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    Ok(match kind {
        '0' => SocketPacket::Connect,
        '1' => SocketPacket::Disconnect,
        '2' => {
            let mut args = match json(rest)? {
                Value::Array(args) => args.into_iter(),
                _ => return Err(PacketError::Json("an event is a JSON array".to_owned())),
            };
            let name = match args.next() {
                Some(Value::String(name)) => name,
                _ => return Err(PacketError::Json("an event starts with its name".to_owned())),
            };
            SocketPacket::Event {
                name,
                payload: args.next().unwrap_or(Value::Null),
            }
        }
        '4' => SocketPacket::ConnectError(if rest.is_empty() { Value::Null } else { json(rest)? }),
        _ => SocketPacket::Other,
    })
}

/// A `message` event carrying one protocol message (JSON text).
pub fn message_event(json: &str) -> String {
    format!("42[\"message\",{json}]")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_handshake_heartbeats_and_events() {
        let open = parse(r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#);
        assert_eq!(
            open,
            Ok(Packet::Open(
                json!({"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000})
            ))
        );
        assert_eq!(parse("2"), Ok(Packet::Ping));
        assert_eq!(parse("3"), Ok(Packet::Pong));
        assert_eq!(parse("1"), Ok(Packet::Close));
        assert_eq!(parse("6"), Ok(Packet::Other));
        assert_eq!(
            parse(r#"40{"sid":"xyz"}"#),
            Ok(Packet::Message(SocketPacket::Connect))
        );
        assert_eq!(
            parse(r#"42["message",{"type":"hello","protocol":1}]"#),
            Ok(Packet::Message(SocketPacket::Event {
                name: "message".to_owned(),
                payload: json!({"type":"hello","protocol":1}),
            }))
        );
        // An ack id and a namespace are skipped.
        assert_eq!(
            parse(r#"42/admin,17["message","text"]"#),
            Ok(Packet::Message(SocketPacket::Event {
                name: "message".to_owned(),
                payload: json!("text"),
            }))
        );
        assert_eq!(
            parse(r#"44{"message":"refused"}"#),
            Ok(Packet::Message(SocketPacket::ConnectError(
                json!({"message":"refused"})
            )))
        );
        assert_eq!(parse("41"), Ok(Packet::Message(SocketPacket::Disconnect)));
    }

    #[test]
    fn refuses_broken_packets_and_round_trips_events() {
        assert_eq!(parse(""), Err(PacketError::Empty));
        assert!(matches!(parse("42[\"message\","), Err(PacketError::Json(_))));
        assert!(matches!(parse("42{\"a\":1}"), Err(PacketError::Json(_))));
        assert!(matches!(parse("42[1,2]"), Err(PacketError::Json(_))));
        let text = message_event(r#"{"type":"ping","id":3}"#);
        assert_eq!(text, r#"42["message",{"type":"ping","id":3}]"#);
        assert_eq!(
            parse(&text),
            Ok(Packet::Message(SocketPacket::Event {
                name: "message".to_owned(),
                payload: json!({"type":"ping","id":3}),
            }))
        );
    }
}
