//! Every configurable limit, exceeded: each answers with its documented
//! error (an HTTP 503/429 JSON body or a protocol `error`, then a close code
//! where the limit closes the connection), and nothing else breaks.

mod helpers;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use helpers::{STEP, TestServer, WsClient};
use serde_json::{Value, json};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Reads until the server closes the connection: the messages before the
/// close and the close code (`None` if the socket ended without one).
async fn read_until_close(client: &mut WsClient) -> (Vec<Value>, Option<u16>) {
    let mut messages = Vec::new();
    loop {
        let frame = tokio::time::timeout(STEP, client.socket.next())
            .await
            .expect("the server closes the connection in time");
        match frame {
            Some(Ok(Message::Text(text))) => {
                messages.push(serde_json::from_str(text.as_str()).expect("JSON"));
            }
            Some(Ok(Message::Close(frame))) => return (messages, frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (messages, None),
        }
    }
}

/// Retries `attempt` for up to five seconds until it returns `Some`
/// (a slot or a place freed by a closed connection is released asynchronously).
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(done) = attempt().await {
            return done;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A table with blinds 5/10 and no AI seats.
async fn small_table(server: &TestServer, token: &str) -> String {
    server
        .create_table(token, json!({"seats": 2, "small_blind": 5, "big_blind": 10}))
        .await
}

#[tokio::test]
async fn max_connections_answers_503_on_the_upgrade() {
    let server = TestServer::start_with("limit-connections", |config| {
        config.limits.max_connections = 2;
    })
    .await;
    let first = server.connect().await;
    let mut second = server.connect().await;
    let refused = connect_async(server.ws.as_str())
        .await
        .expect_err("a third is refused");
    let WsError::Http(response) = refused else {
        panic!("expected an HTTP answer, got {refused:?}");
    };
    assert_eq!(response.status(), 503);
    let body: Value = serde_json::from_slice(response.body().as_deref().expect("a body")).expect("JSON body");
    assert_eq!(body["error"]["code"], "too_many_connections", "{body}");
    // The limit is on connections, not on the REST API.
    let (status, _) = server.get_json("/api/tables").await;
    assert_eq!(status, 200);
    // The connections in place are unaffected.
    let id = second.send(json!({"type": "ping"})).await;
    second
        .until("pong", |v| v["type"] == "pong" && v["id"] == id)
        .await;
    // A closed connection frees its slot.
    drop(first);
    let mut third = eventually("a slot frees up", || async {
        connect_async(server.ws.as_str()).await.ok()
    })
    .await
    .0;
    let hello = third.next().await.expect("hello").expect("frame");
    assert!(
        hello.to_text().expect("text").contains(r#""type":"hello""#),
        "{hello:?}"
    );
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn max_tables_answers_503() {
    let server = TestServer::start_with("limit-tables", |config| config.limits.max_tables = 1).await;
    let (_, alice) = server.register("Alice").await;
    small_table(&server, &alice).await;
    let response = server
        .client
        .post(format!("{}/api/tables", server.http))
        .bearer_auth(&alice)
        .json(&json!({"seats": 2, "small_blind": 5, "big_blind": 10}))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "too_many_tables", "{body}");
    let (_, lobby) = server.get_json("/api/tables").await;
    assert_eq!(lobby["tables"].as_array().map(Vec::len), Some(1), "{lobby}");
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn max_spectators_per_table_refuses_joins() {
    let server = TestServer::start_with("limit-spectators", |config| {
        config.limits.max_spectators_per_table = 1;
    })
    .await;
    let (_, alice) = server.register("Alice").await;
    let table = small_table(&server, &alice).await;
    let mut first = server.connect().await;
    first.join_spectator(&table).await;
    let mut second = server.connect().await;
    let refused = second.request(json!({"type": "join", "table": table})).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "spectators_full", "{refused}");
    assert_eq!(refused["table"], table.as_str(), "{refused}");
    // Players are not spectators: they still get in.
    let mut player = server.connect().await;
    player.join_player(&table, &alice).await;
    let (_, lobby) = server.get_json(&format!("/api/tables/{table}")).await;
    assert_eq!(lobby["table"]["spectators"], 1, "{lobby}");
    // The refused connection still works, and gets in once a place frees up.
    let ack = first.request(json!({"type": "leave", "table": table})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let second = &mut second;
    let table_id = table.clone();
    let mut tries = 0;
    loop {
        let reply = second.request(json!({"type": "join", "table": table_id})).await;
        if reply["type"] == "ack" {
            break;
        }
        assert_eq!(reply["code"], "spectators_full", "{reply}");
        tries += 1;
        assert!(tries < 100, "the leaving spectator's place never freed up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    second.until("snapshot", |v| v["type"] == "snapshot").await;
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn message_rate_refuses_a_burst_then_closes_a_flood() {
    let server = TestServer::start_with("limit-rate", |config| {
        config.limits.messages_per_sec = 5;
        config.limits.message_burst = 5;
        config.limits.flood_strikes = 10;
    })
    .await;
    let mut client = WsClient::connect(&server.ws).await;
    let hello = client.recv().await;
    assert_eq!(hello["limits"]["messages_per_sec"], 5, "{hello}");
    assert_eq!(hello["limits"]["message_burst"], 5, "{hello}");

    // A burst of 8: the bucket holds 5; the rest are refused, not queued.
    for _ in 0..8 {
        client.send(json!({"type": "ping"})).await;
    }
    let mut pongs = 0;
    let mut refused = 0;
    for _ in 0..8 {
        let reply = client.recv().await;
        match reply["type"].as_str() {
            Some("pong") => pongs += 1,
            Some("error") => {
                assert_eq!(reply["code"], "rate_limited", "{reply}");
                refused += 1;
            }
            _ => panic!("unexpected {reply}"),
        }
    }
    assert!(pongs >= 5 && refused >= 1, "{pongs} answered, {refused} refused");
    // Within the sustained rate the connection is usable again.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let id = client.send(json!({"type": "ping"})).await;
    let pong = client.recv().await;
    assert_eq!(pong["type"], "pong", "{pong}");
    assert_eq!(pong["id"], id);

    // A flood: `flood_strikes` refusals in a row close the connection with 1008.
    for _ in 0..40 {
        if client
            .socket
            .send(Message::Text(r#"{"type":"ping"}"#.into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let (messages, code) = read_until_close(&mut client).await;
    assert_eq!(code, Some(1008), "closed for policy: {messages:?}");
    let last = messages.last().expect("an error before the close");
    assert_eq!(last["type"], "error", "{last}");
    assert_eq!(last["code"], "rate_limited", "{last}");
    let errors = messages.iter().filter(|m| m["type"] == "error").count();
    assert!(errors >= 10, "{errors} refusals before the close: {messages:?}");
    // Other connections are not affected.
    let mut other = server.connect().await;
    let id = other.send(json!({"type": "ping"})).await;
    other
        .until("pong", |v| v["type"] == "pong" && v["id"] == id)
        .await;
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_thousand_frames_back_to_back_read_every_refusal_and_a_1008_close() {
    // Default limits: bursts of 40, 50 strikes. The client writes 1,000
    // frames before reading anything, like a script in a loop.
    let server = TestServer::start("limit-flood-1000").await;
    let mut client = WsClient::connect(&server.ws).await;
    let hello = client.recv().await;
    let burst = hello["limits"]["message_burst"].as_u64().expect("burst");
    for _ in 0..1_000 {
        if client
            .socket
            .feed(Message::Text(r#"{"type":"ping"}"#.into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = client.socket.flush().await;
    let (messages, code) = read_until_close(&mut client).await;
    assert_eq!(
        code,
        Some(1008),
        "a clean policy close, not a reset: {} messages",
        messages.len()
    );
    let pongs = messages.iter().filter(|m| m["type"] == "pong").count() as u64;
    let refusals: Vec<&Value> = messages.iter().filter(|m| m["code"] == "rate_limited").collect();
    assert!(pongs >= burst, "{pongs} pongs");
    assert_eq!(refusals.len(), 50, "every refusal arrives: {messages:?}");
    let last = messages.last().expect("messages");
    assert_eq!(last["code"], "rate_limited", "{last}");
    assert!(
        last["message"].as_str().is_some_and(|m| m.contains("closing")),
        "{last}"
    );

    // A client that never stops sending gets the same ending: the server
    // sends its close, reads and drops what follows, then closes.
    let client = WsClient::connect(&server.ws).await;
    let (mut sink, mut stream) = client.socket.split();
    let sending = tokio::spawn(async move {
        let mut sent = 0u64;
        while sink
            .send(Message::Text(r#"{"type":"ping"}"#.into()))
            .await
            .is_ok()
        {
            sent += 1;
            if sent.is_multiple_of(100) {
                tokio::task::yield_now().await;
            }
        }
        sent
    });
    let mut refusals = 0;
    let code = tokio::time::timeout(STEP, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
                    if value["code"] == "rate_limited" {
                        refusals += 1;
                    }
                }
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(code, Some(1008), "after {refusals} refusals");
    assert_eq!(refusals, 50);
    let sent = tokio::time::timeout(STEP, sending)
        .await
        .expect("the sender stops")
        .expect("sender");
    assert!(sent > 90, "the client kept sending: {sent}");

    let mut other = server.connect().await;
    still_answers(&mut other).await;
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn oversized_frames_get_frame_too_large_then_1009() {
    let server = TestServer::start_with("limit-frame", |config| config.limits.max_frame_bytes = 1024).await;
    let mut client = WsClient::connect(&server.ws).await;
    let hello = client.recv().await;
    assert_eq!(hello["limits"]["max_frame_bytes"], 1024, "{hello}");

    // Exactly at the limit is fine.
    let ping = r#"{"type":"ping","id":1}"#;
    let at_limit = format!("{ping}{}", " ".repeat(1024 - ping.len()));
    client.send_text(&at_limit).await;
    let pong = client.recv().await;
    assert_eq!(pong["type"], "pong", "{pong}");
    assert_eq!(pong["id"], 1);

    // One byte over: an error, then the close.
    client.send_text(&format!("{at_limit} ")).await;
    let (messages, code) = read_until_close(&mut client).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["type"], "error", "{messages:?}");
    assert_eq!(messages[0]["code"], "frame_too_large", "{messages:?}");
    assert_eq!(code, Some(1009));

    // The same for a binary frame.
    let mut client = server.connect().await;
    client
        .socket
        .send(Message::Binary(vec![b' '; 2048].into()))
        .await
        .expect("send");
    let (messages, code) = read_until_close(&mut client).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["code"], "frame_too_large", "{messages:?}");
    assert_eq!(code, Some(1009));

    // Far beyond the limit the socket layer refuses the frame unread: still 1009.
    let mut client = server.connect().await;
    let _ = client
        .socket
        .send(Message::Text("x".repeat(200_000).into()))
        .await;
    let (messages, code) = read_until_close(&mut client).await;
    assert!(
        messages.iter().all(|m| m["code"] == "frame_too_large"),
        "{messages:?}"
    );
    assert_eq!(code, Some(1009));

    // Other connections are not affected.
    let mut other = server.connect().await;
    let id = other.send(json!({"type": "ping"})).await;
    other
        .until("pong", |v| v["type"] == "pong" && v["id"] == id)
        .await;
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn per_connection_limits_joined_tables_and_chat_length() {
    let server = TestServer::start_with("limit-connection", |config| {
        config.limits.max_joined_tables = 1;
        config.limits.max_chat_chars = 10;
    })
    .await;
    let (_, alice) = server.register("Alice").await;
    let first = small_table(&server, &alice).await;
    let second = small_table(&server, &alice).await;
    let mut client = server.connect().await;
    client.join_player(&first, &alice).await;
    let refused = client.request(json!({"type": "join", "table": second})).await;
    assert_eq!(refused["code"], "invalid_request", "{refused}");
    // Joining the same table again replaces the subscription: not a second table.
    client.join_spectator(&first).await;
    client.join_player(&first, &alice).await;
    // Chat: 10 characters (not bytes) pass, 11 do not.
    let ok = client
        .request(json!({"type": "chat", "table": first, "text": "ééééééééé!"}))
        .await;
    assert_eq!(ok["type"], "ack", "{ok}");
    let long = client
        .request(json!({"type": "chat", "table": first, "text": "ééééééééé!!"}))
        .await;
    assert_eq!(long["code"], "invalid_request", "{long}");
    // After leaving, the other table may be joined.
    let ack = client.request(json!({"type": "leave", "table": first})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    client.join_spectator(&second).await;
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn rest_rate_limit_answers_429() {
    let server = TestServer::start("limit-rest").await;
    // State-changing calls are limited per address (10 per second, bursts of 30).
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..60 {
        let response = server
            .client
            .post(format!("{}/api/players", server.http))
            .body("{}")
            .send()
            .await
            .expect("post");
        let status = response.status().as_u16();
        statuses.push(status);
        if status == 429 && limited.is_none() {
            limited = Some(response.json::<Value>().await.expect("JSON"));
        }
    }
    let limited = limited.unwrap_or_else(|| panic!("never limited: {statuses:?}"));
    assert_eq!(limited["error"]["code"], "rate_limited", "{limited}");
    assert!(
        statuses[..30].iter().all(|s| *s == 400),
        "the burst passes: {statuses:?}"
    );
    // Reads are not limited.
    let (status, _) = server.get_json("/api/tables").await;
    assert_eq!(status, 200);
    // The bucket refills.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, token) = server.register("Patient").await;
    assert_eq!(token.len(), 64);
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn rest_rate_limit_spares_the_admin_key_only() {
    let server = TestServer::start("limit-rest-admin").await;
    let post = |key: Option<&'static str>| {
        let mut request = server
            .client
            .post(format!("{}/api/players", server.http))
            .json(&json!({"name": "Loadgen"}));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        async move { request.send().await.expect("post").status().as_u16() }
    };
    // Twice the burst with the admin key: every request passes.
    for i in 0..60 {
        assert_eq!(post(Some("test-admin-key")).await, 201, "admin request {i}");
    }
    // A wrong key is no key: the same address is still limited.
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(post(Some("not-the-key")).await);
    }
    assert!(statuses.contains(&429), "a wrong key is limited: {statuses:?}");
    assert!(
        statuses[..30].iter().all(|s| *s == 201),
        "the admin requests did not use up the bucket: {statuses:?}"
    );
    // And without a key too.
    assert_eq!(post(None).await, 429);
    server.server.shutdown().await.expect("clean shutdown");
}

/// Opens a `/ws` connection, with the admin key when `key` is given: the
/// connection, or the HTTP status and error code of the refusal.
async fn try_connect(server: &TestServer, key: Option<&str>) -> Result<WsClient, (u16, String)> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = server.ws.as_str().into_client_request().expect("request");
    if let Some(key) = key {
        request
            .headers_mut()
            .insert("x-api-key", key.parse().expect("header value"));
    }
    match connect_async(request).await {
        Ok((socket, _)) => Ok(WsClient::from_socket(socket)),
        Err(WsError::Http(response)) => {
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default()).expect("a JSON body");
            let code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
            Err((response.status().as_u16(), code))
        }
        Err(other) => panic!("expected a connection or an HTTP refusal, got {other:?}"),
    }
}

/// Checks that `client` still gets answers.
async fn still_answers(client: &mut WsClient) {
    let id = client.send(json!({"type": "ping"})).await;
    client
        .until("pong", |v| v["type"] == "pong" && v["id"] == id)
        .await;
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let server = TestServer::start_with("limit-per-ip", |config| {
        config.limits.max_connections_per_ip = 3;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            try_connect(&server, None)
                .await
                .expect("within the per-address limit"),
        );
    }
    let refused = try_connect(&server, None)
        .await
        .err()
        .expect("a fourth is refused");
    assert_eq!(refused, (503, "too_many_connections".to_owned()));
    // A wrong key is no key.
    let refused = try_connect(&server, Some("not-the-key"))
        .await
        .err()
        .expect("refused");
    assert_eq!(refused.1, "too_many_connections");
    // The operator's tools (the admin key) are not counted against the address.
    let mut admin = try_connect(&server, Some("test-admin-key"))
        .await
        .expect("admin key is exempt");
    still_answers(&mut admin).await;
    // The connections in place are unaffected, and a closed one frees its slot.
    still_answers(&mut held[0]).await;
    held.pop();
    let mut again = eventually("a slot frees up", || async {
        try_connect(&server, None).await.ok()
    })
    .await;
    still_answers(&mut again).await;
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn connecting_in_a_loop_is_refused_for_rate_and_others_play_on() {
    let server = TestServer::start_with("limit-connect-loop", |config| {
        config.limits.connects_per_ip_per_sec = 5;
    })
    .await;
    let (_, alice) = server.register("Alice").await;
    let table = server
        .create_table(
            &alice,
            json!({"seats": 2, "small_blind": 5, "big_blind": 10,
                   "ai_seats": [{"seat": 1, "agent": "bot:calling-station", "stack": 1000}]}),
        )
        .await;
    let mut player = server.connect().await;
    player.join_player(&table, &alice).await;
    let ack = player
        .request(json!({"type": "sit", "table": table, "seat": 0, "buy_in": 1000}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");

    // A client opening and closing connections as fast as it can: a burst of
    // 25 (five seconds' worth) passes, then it is refused with 429.
    let started = std::time::Instant::now();
    let (mut accepted, mut refused) = (0u32, 0u32);
    for _ in 0..80 {
        match try_connect(&server, None).await {
            Ok(client) => {
                accepted += 1;
                drop(client);
            }
            Err((status, code)) => {
                assert_eq!((status, code.as_str()), (429, "rate_limited"));
                refused += 1;
            }
        }
    }
    let allowed = 25.0 + 5.0 * started.elapsed().as_secs_f64() + 1.0;
    assert!(refused > 0, "never refused ({accepted} accepted)");
    assert!(
        f64::from(accepted) <= allowed,
        "{accepted} accepted, at most {allowed:.0} allowed"
    );
    // The player at the table plays on: it is asked to act and its act is taken.
    still_answers(&mut player).await;
    let turn = player
        .until("Alice's turn", |v| {
            v["type"] == "event" && v["event"]["type"] == "turn_started" && v["event"]["seat"] == 0
        })
        .await;
    assert_eq!(turn["table"], table.as_str());
    let ack = player
        .request(json!({"type": "act", "table": table, "action": "fold"}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    // The admin key is not limited, and the address may connect again after a pause.
    for _ in 0..10 {
        try_connect(&server, Some("test-admin-key"))
            .await
            .expect("admin key is exempt");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut later = try_connect(&server, None).await.expect("the bucket refills");
    still_answers(&mut later).await;
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_ten_megabyte_frame_is_refused_unread_and_nothing_else_is_affected() {
    // Default limits: 16 KiB frames; far larger ones are refused by the
    // socket layer from their header, without reading or buffering them.
    let server = TestServer::start("limit-10mb").await;
    let mut other = server.connect().await;
    let client = server.connect().await;
    let payload = "x".repeat(10 * 1024 * 1024);
    let (mut sink, mut stream) = client.socket.split();
    let sending = tokio::spawn(async move {
        let _ = sink.send(Message::Text(payload.into())).await;
    });
    // The server closes the connection: with 1009 when the close frame
    // arrives before the reset of the unread bytes, or with the reset.
    let ended = tokio::time::timeout(STEP, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
                    assert!(
                        value["type"] == "hello" || value["code"] == "frame_too_large",
                        "{value}"
                    );
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the server ends the connection in time");
    assert!(ended.is_none() || ended == Some(1009), "closed with {ended:?}");
    let _ = tokio::time::timeout(STEP, sending).await;
    still_answers(&mut other).await;
    let mut fresh = server.connect().await;
    still_answers(&mut fresh).await;
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn socketio_connections_count_against_the_same_address_limit() {
    use loadgen::conn::{Conn, Transport};
    use loadgen::stats::Counters;
    let server = TestServer::start_with("limit-per-ip-sio", |config| {
        config.limits.max_connections_per_ip = 1;
    })
    .await;
    let mut held = server.connect().await;
    let counters = std::sync::Arc::new(Counters::default());
    let target = server.server.addr;
    // The address already holds its one connection (over /ws): the Socket.IO
    // session is told why, then disconnected.
    let mut refused = Conn::connect(target, Transport::Socketio, None, counters.clone())
        .await
        .expect("the Socket.IO handshake completes");
    let first = tokio::time::timeout(STEP, refused.recv())
        .await
        .expect("an answer in time")
        .expect("a message before the disconnect");
    assert_eq!(first.message["type"], "error", "{}", first.message);
    assert_eq!(first.message["code"], "too_many_connections", "{}", first.message);
    let next = tokio::time::timeout(STEP, refused.recv())
        .await
        .expect("disconnected in time");
    assert!(
        next.is_none(),
        "then disconnected, got {:?}",
        next.map(|n| n.message)
    );
    // With the admin key the same address gets a session.
    let mut admin = Conn::connect(target, Transport::Socketio, Some("test-admin-key"), counters)
        .await
        .expect("the admin key is exempt");
    let hello = tokio::time::timeout(STEP, admin.recv())
        .await
        .expect("hello in time")
        .expect("hello");
    assert_eq!(hello.message["type"], "hello", "{}", hello.message);
    still_answers(&mut held).await;
    server.server.shutdown().await.expect("clean shutdown");
}
