//! Any node serves any table (issue 18): with Redis, a client on node B
//! joins, plays, chats and watches a table node A runs. B mirrors the
//! table (A publishes each committed batch on the table's Redis channel, B
//! reads what it missed from Postgres) and forwards commands to A, which
//! answers them as for its own clients. Checked against what A's own
//! clients see and against the stored log: the same events, no hidden card
//! through the mirror, money settled once; Redis cut from B leaves B's
//! clients following the table from the store; a killed owner's mirror
//! sends its clients to join again, and they resume where they were.
//!
//! Postgres and Redis: skipped, with a notice, without `TEST_DATABASE_URL`.

mod helpers;
#[path = "helpers/play.rs"]
mod play;
#[path = "helpers/process.rs"]
mod process;
#[path = "helpers/proxy.rs"]
mod proxy;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use play::*;
use process::{PgDatabase, ServerProcess, unique_name};
use proxy::Proxy;
use serde_json::{Value, json};

/// The machine's Redis (CI has the same).
const REDIS: &str = "127.0.0.1:6379";

/// Alice's buy-in.
const BUY_IN: u64 = 1_000;

/// Starts node `name` with Redis at `redis` (`host:port`) under `prefix`.
async fn node(database_url: &str, dir: &Path, name: &str, redis: &str, prefix: &str) -> ServerProcess {
    let log = dir.join(format!("{name}.log"));
    let url = format!("redis://{redis}");
    ServerProcess::start_on(
        database_url,
        &log,
        "127.0.0.1:0",
        &[
            "--node-id",
            name,
            "--node-ttl-ms",
            "2000",
            "--redis-url",
            &url,
            "--redis-prefix",
            prefix,
        ],
    )
    .await
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// The events (by seq) in a client's stream.
fn events(log: &[Value]) -> BTreeMap<u64, Value> {
    log.iter()
        .filter(|m| m["type"] == "event")
        .map(|m| (seq_of(m), m["event"].clone()))
        .collect()
}

/// Two viewers with the same viewpoint got the same stream: over the seqs
/// both followed, the same events, none missing on either side (events
/// hidden from the viewpoint leave the same holes in both). Returns how
/// many events they shared.
fn assert_same_events(what: &str, a: &[Value], b: &[Value]) -> usize {
    let (a, b) = (events(a), events(b));
    let lo = match (a.keys().next(), b.keys().next()) {
        (Some(x), Some(y)) => *x.max(y),
        _ => return 0,
    };
    let hi = match (a.keys().next_back(), b.keys().next_back()) {
        (Some(x), Some(y)) => *x.min(y),
        _ => return 0,
    };
    let a: BTreeMap<u64, Value> = a.range(lo..=hi).map(|(k, v)| (*k, v.clone())).collect();
    let b: BTreeMap<u64, Value> = b.range(lo..=hi).map(|(k, v)| (*k, v.clone())).collect();
    assert_eq!(a, b, "{what}: the streams differ between seq {lo} and {hi}");
    a.len()
}

/// Whether a stream deals `seat` its hole cards (only that seat's player may get them).
fn sees_hole_cards_of(log: &[Value], seat: u64) -> bool {
    log.iter().any(|m| {
        m["type"] == "event" && m["event"]["type"] == "hole_cards_dealt" && m["event"]["seat"] == seat
    })
}

/// The value of a series in a node's Prometheus text.
async fn metric(http: &reqwest::Client, node: &ServerProcess, series: &str) -> f64 {
    let text = http
        .get(format!("{}/metrics", node.http))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in the metrics"))
}

/// A table of two calling stations and a seat for a person.
fn people_table() -> Value {
    json!({
        "name": "across nodes", "seats": 3, "small_blind": 5, "big_blind": 10,
        "pace": "auto", "turn_clock_ms": 300000,
        "ai_seats": [{"seat": 1, "agent": "bot:calling-station", "stack": 1000},
                     {"seat": 2, "agent": "bot:calling-station", "stack": 1000}]
    })
}

/// A bot-only table.
fn bot_table() -> Value {
    json!({
        "name": "bots", "seats": 3, "small_blind": 5, "big_blind": 10,
        "pace": "auto", "actions_per_sec": 30.0,
        "ai_seats": [{"seat": 0, "agent": "bot:random", "stack": 500},
                     {"seat": 1, "agent": "bot:calling-station", "stack": 800},
                     {"seat": 2, "agent": "bot:tight-aggressive", "stack": 700}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_plays_and_watches_at_a_node_that_does_not_run_the_table() {
    let Some(database) = PgDatabase::create("any_node_serves_any_table", "showdown_mirror").await else {
        return;
    };
    let dir = helpers::temp_dir("mirror-play");
    let prefix = format!("{}:", unique_name("mirror"));
    let http = http();
    let a = node(&database.url, &dir, "a", REDIS, &prefix).await;
    let b = node(&database.url, &dir, "b", REDIS, &prefix).await;

    // Alice registers at B; the table is created (and runs) at A.
    let alice = register(&http, &b, "Alice").await;
    let table = create_table(&http, &a, &alice.token, people_table()).await;
    // B serves the table too (its mirror), the same view as A.
    let (status, at_b) = get_json(&http, &format!("{}/api/tables/{table}", b.http)).await;
    assert_eq!(status, 200, "B serves a table A runs: {at_b}");

    let mut watch_a = spectate(&a, &table).await;
    let mut watch_b = spectate(&b, &table).await;
    let mut client = connect(&b).await;
    join_as(&mut client, &table, &alice.token, None).await;
    // Sitting at B: A reserves the buy-in and seats her.
    let ack = client
        .request(json!({"type": "sit", "table": table, "seat": 0, "buy_in": BUY_IN}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["stack"], BUY_IN, "{ack}");
    // A wrong sit is refused with the owner's own code.
    let twice = client
        .request(json!({"type": "sit", "table": table, "seat": 1, "buy_in": BUY_IN}))
        .await;
    assert_eq!(twice["type"], "error", "{twice}");
    assert_eq!(twice["code"], "already_seated", "{twice}");
    let said = client
        .request(json!({"type": "chat", "table": table, "text": "hello from B"}))
        .await;
    assert_eq!(said["type"], "ack", "{said}");
    // Alice plays at B (checking, else calling; each act names its turn).
    let mut alice_play = Follower::spawn(client, Play::new(&table, Some(0)));
    watch_a
        .wait("three hands with Alice, seen at A", |log| {
            ended_hands(log, |stacks| has_seat(stacks, 0)) >= 3
        })
        .await;
    watch_b
        .wait("the same at B", |log| {
            ended_hands(log, |stacks| has_seat(stacks, 0)) >= 3
        })
        .await;
    alice_play
        .wait("Alice's third hand", |log| ended_hands(log, |_| true) >= 3)
        .await;
    for (who, w) in [("A", &watch_a), ("B", &watch_b)] {
        let log = w.log();
        assert!(
            log.iter()
                .any(|m| m["type"] == "chat" && m["text"] == "hello from B"),
            "the chat line reached the spectator at {who}"
        );
    }

    let at_a_log = watch_a.log();
    let at_b_log = watch_b.log();
    let alice_log = alice_play.log();
    // The same events at both nodes, gap-free; the mirror's stream replays
    // with chips conserved (the ledger checks every event).
    let common = assert_same_events("spectators at A and B", &at_a_log, &at_b_log);
    assert!(common > 20, "the spectators shared {common} events");
    Ledger::over(&table, at_b_log.iter());
    // Hidden cards: Alice sees hers through the mirror, no spectator does.
    assert!(sees_hole_cards_of(&alice_log, 0), "Alice sees her cards at B");
    assert!(
        !sees_hole_cards_of(&at_b_log, 0),
        "a spectator at B never sees Alice's cards"
    );
    assert!(!sees_hole_cards_of(&at_a_log, 0), "nor one at A");
    assert!(
        !sees_hole_cards_of(&alice_log, 1),
        "Alice never sees a bot's cards"
    );

    // A late act (a turn already answered) is refused by the owner.
    let old_turn = alice_log
        .iter()
        .find(|m| is_event(m, "turn_started") && m["event"]["seat"] == 0)
        .map(seq_of)
        .expect("a turn of Alice's");
    alice_play.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    alice_play
        .wait("Alice holding her turn", |log| {
            log.iter().any(|m| m["type"] == "test:holding")
        })
        .await;
    let (_, log_before_stand) = alice_play.finish_now().await;
    let mut client = connect(&b).await;
    join_as(&mut client, &table, &alice.token, None).await;
    let late = client
        .request(json!({"type": "act", "table": table, "action": "check", "turn": old_turn}))
        .await;
    assert_eq!(late["type"], "error", "{late}");
    assert_eq!(late["code"], "stale_turn", "{late}");
    assert!(!log_before_stand.is_empty());

    // Standing at B: she folds out of the hand and her chips go back once.
    let stood = client.request(json!({"type": "stand", "table": table})).await;
    assert_eq!(stood["type"], "ack", "{stood}");
    watch_a
        .wait("Alice leaves", |log| {
            log.iter()
                .any(|m| is_event(m, "seat_left") && m["event"]["seat"] == 0)
        })
        .await;
    let left = watch_a
        .log()
        .iter()
        .find(|m| is_event(m, "seat_left") && m["event"]["seat"] == 0)
        .map(|m| m["event"]["stack"].as_u64().expect("a stack"))
        .expect("her seat_left");
    let expected = 10_000 - BUY_IN + left;
    wait_for_balance(&http, &a, &alice.token, expected).await;
    wait_for_balance(&http, &b, &alice.token, expected).await;

    // B's metrics show the mirror and the forwarded commands.
    assert!(metric(&http, &b, "showdown_mirrors").await >= 1.0);
    assert!(metric(&http, &b, "showdown_forwarded_total{outcome=\"ok\"}").await >= 3.0);
    assert!(metric(&http, &a, "showdown_forwarded_served_total").await >= 3.0);
    assert_eq!(metric(&http, &a, "showdown_mirrors").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_follows_its_table_from_the_store_while_redis_is_cut() {
    let Some(database) = PgDatabase::create("mirror_without_redis", "showdown_mirror").await else {
        return;
    };
    let dir = helpers::temp_dir("mirror-redis-cut");
    let prefix = format!("{}:", unique_name("mirror"));
    let http = http();
    // B reaches Redis through a proxy the test cuts.
    let proxy = Proxy::start(REDIS.to_owned()).await;
    let a = node(&database.url, &dir, "a", REDIS, &prefix).await;
    let b = node(&database.url, &dir, "b", &proxy.addr.to_string(), &prefix).await;
    let alice = register(&http, &a, "Alice").await;
    let table = create_table(&http, &a, &alice.token, bot_table()).await;
    let watch_a = spectate(&a, &table).await;
    let mut watch_b = spectate(&b, &table).await;
    watch_b
        .wait("two hands through Redis", |log| {
            count_events(log, "hand_started") >= 2
        })
        .await;

    proxy.cut();
    let started = count_events(&watch_b.log(), "hand_started");
    watch_b
        .wait("three more hands with Redis cut", |log| {
            count_events(log, "hand_started") >= started + 3
        })
        .await;
    proxy.restore();
    let started = count_events(&watch_b.log(), "hand_started");
    watch_b
        .wait("two more once Redis is back", |log| {
            count_events(log, "hand_started") >= started + 2
        })
        .await;
    let log = watch_b.log();
    Ledger::over(&table, log.iter());
    // Every event it got is the one the owner's own client got.
    let common = assert_same_events("spectators at A and B", &watch_a.log(), &log);
    assert!(common > 20, "the spectators shared {common} events");
    assert!(metric(&http, &b, "showdown_mirror_backfilled_events_total").await > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_mirror_resume_after_the_owner_dies() {
    let Some(database) = PgDatabase::create("mirror_owner_dies", "showdown_mirror").await else {
        return;
    };
    let dir = helpers::temp_dir("mirror-owner-dies");
    let prefix = format!("{}:", unique_name("mirror"));
    let http = http();
    let a = node(&database.url, &dir, "a", REDIS, &prefix).await;
    let b = node(&database.url, &dir, "b", REDIS, &prefix).await;
    let alice = register(&http, &a, "Alice").await;
    let table = create_table(&http, &a, &alice.token, bot_table()).await;
    let mut watch_b = spectate(&b, &table).await;
    watch_b
        .wait("two hands at the mirror", |log| {
            count_events(log, "hand_started") >= 2
        })
        .await;

    a.kill().await;
    // The mirror sees its owner gone and tells its clients to join again.
    watch_b
        .wait("told to join again", |log| {
            log.iter()
                .any(|m| m["type"] == "error" && m["code"] == "unavailable" && m["id"].is_null())
        })
        .await;
    let (play, before) = watch_b.finish_now().await;
    // Resuming at B finds the table (now run by B) where the mirror left it.
    let mut client = connect(&b).await;
    let epoch = play.epoch.expect("an epoch");
    let ack = join_with_retry(&mut client, &table, play.last_seq, epoch).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let mut resumed = Play::new(&table, None);
    resumed.live = false;
    let mut after = Follower::spawn(client, resumed);
    let started = count_events(&before, "hand_started");
    after
        .wait("play goes on at B", |log| count_events(log, "hand_started") >= 2)
        .await;
    let log = after.log();
    // One story across the move: the ledger replays it with chips conserved.
    let story = story(&before, play.last_seq, &log);
    Ledger::over(&table, story.iter().copied());
    assert!(started >= 2);
}

/// Joins `table` resuming from `last_seq` at `epoch`, again while the
/// table is between owners.
async fn join_with_retry(client: &mut helpers::WsClient, table: &str, last_seq: u64, epoch: u64) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ack = client
            .request(json!({"type": "join", "table": table, "last_seq": last_seq, "epoch": epoch}))
            .await;
        if ack["type"] == "ack" || tokio::time::Instant::now() > deadline {
            return ack;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A Redis server of the test's own (so that it can be stopped and
/// started again on the same port), or `None` with a notice if the
/// machine has no `redis-server`.
struct OwnRedis {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl OwnRedis {
    async fn start() -> Option<OwnRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let mut redis = OwnRedis { port, child: None };
        if !redis.restart().await {
            println!("skipped: no redis-server on this machine");
            return None;
        }
        Some(redis)
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on its port; false if it cannot.
    async fn restart(&mut self) -> bool {
        let port = self.port.to_string();
        let Ok(child) = tokio::process::Command::new("redis-server")
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(self.addr()).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_goes_on_across_a_redis_restart() {
    let Some(database) = PgDatabase::create("mirror_redis_restart", "showdown_mirror").await else {
        return;
    };
    let Some(mut redis) = OwnRedis::start().await else {
        return;
    };
    let dir = helpers::temp_dir("mirror-redis-restart");
    let prefix = format!("{}:", unique_name("mirror"));
    let http = http();
    let a = node(&database.url, &dir, "a", &redis.addr(), &prefix).await;
    let b = node(&database.url, &dir, "b", &redis.addr(), &prefix).await;
    let alice = register(&http, &b, "Alice").await;
    let table = create_table(&http, &a, &alice.token, people_table()).await;
    let watch_a = spectate(&a, &table).await;
    let mut watch_b = spectate(&b, &table).await;
    let mut client = connect(&b).await;
    join_as(&mut client, &table, &alice.token, None).await;
    let ack = client
        .request(json!({"type": "sit", "table": table, "seat": 0, "buy_in": BUY_IN}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let mut alice_play = Follower::spawn(client, Play::new(&table, Some(0)));
    watch_b
        .wait("a hand with Alice", |log| {
            ended_hands(log, |s| has_seat(s, 0)) >= 1
        })
        .await;

    // Redis goes away: B's mirror follows from the store; Alice's acts get
    // no answer meanwhile (her table waits for her, nothing is lost).
    redis.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(redis.restart().await, "redis-server starts again");
    // Back: acts are forwarded again and the hands go on.
    let ended = ended_hands(&watch_b.log(), |s| has_seat(s, 0));
    alice_play
        .wait("two more hands once Redis is back", |log| {
            ended_hands(log, |s| has_seat(s, 0)) >= ended + 2
        })
        .await;
    watch_b
        .wait("the mirror's spectator too", |log| {
            ended_hands(log, |s| has_seat(s, 0)) >= ended + 2
        })
        .await;
    let at_b = watch_b.log();
    Ledger::over(&table, at_b.iter());
    let common = assert_same_events("spectators at A and B", &watch_a.log(), &at_b);
    assert!(common > 20, "the spectators shared {common} events");
    assert!(!sees_hole_cards_of(&at_b, 0), "no hidden card at B's spectator");
}
