//! Several real `showdown` processes on one Postgres database (issue 18):
//! each table is owned by one node through a lease, a node that does not own
//! a table says which node does, and a table whose owner dies (SIGKILL),
//! freezes (SIGSTOP past its lease) or leaves (SIGTERM) goes on at a
//! survivor from its stored log, mid-hand, with every chip and every stored
//! event accounted for. A frozen owner that wakes up writes nothing more.
//!
//! Postgres only: skipped, with a notice, without `TEST_DATABASE_URL`.

mod helpers;
#[path = "helpers/play.rs"]
mod play;
#[path = "helpers/process.rs"]
mod process;
#[path = "helpers/proxy.rs"]
mod proxy;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use play::*;
use process::{PgDatabase, ServerProcess};
use proxy::{Proxy, via};
use serde_json::{Value, json};
use tokio::time::Instant;

/// Chips a new player starts with (the server's default).
const STARTING_BALANCE: u64 = 10_000;

/// Alice's buy-in.
const BUY_IN: u64 = 1_000;

/// A short node TTL, so that a dead node's tables move within seconds.
const TTL_MS: &str = "2000";

/// An HTTP client that gives up on a node that stops answering (a frozen
/// node must not hang the test).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// Starts node `name` of the cluster on `database_url`.
async fn node(database_url: &str, dir: &Path, name: &str) -> ServerProcess {
    let log = dir.join(format!("{name}.log"));
    ServerProcess::start_on(
        database_url,
        &log,
        "127.0.0.1:0",
        &["--node-id", name, "--node-ttl-ms", TTL_MS],
    )
    .await
}

/// Waits until one of `nodes` serves `table` (answers its REST view with
/// 200) and returns its index and the view; checks that every other live
/// node answers `table_elsewhere` naming the owner's address.
async fn owner(http: &reqwest::Client, nodes: &[&ServerProcess], table: &str) -> (usize, Value) {
    let deadline = Instant::now() + WAIT;
    loop {
        for (i, node) in nodes.iter().enumerate() {
            let (status, body) = get_json(http, &format!("{}/api/tables/{table}", node.http)).await;
            if status == 200 {
                for (j, other) in nodes.iter().enumerate() {
                    if j != i {
                        assert_elsewhere(http, other, table, &node.http).await;
                    }
                }
                return (i, body["snapshot"].clone());
            }
            // Not served here: another node holds it, or its lease has not
            // lapsed yet (its owner just died).
            assert!(
                status == 421 || status == 503,
                "{table} on {}: {status} {body}",
                node.http
            );
        }
        assert!(
            Instant::now() < deadline,
            "no node serves {table} within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `node` does not serve `table`: it answers 421 `table_elsewhere` over REST
/// and WebSocket, naming `owner_http`.
async fn assert_elsewhere(http: &reqwest::Client, node: &ServerProcess, table: &str, owner_http: &str) {
    let (status, body) = get_json(http, &format!("{}/api/tables/{table}", node.http)).await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["error"]["code"], "table_elsewhere", "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.contains(owner_http), "{message} names {owner_http}");
    let mut client = connect(node).await;
    let reply = client.request(json!({"type": "join", "table": table})).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "table_elsewhere", "{reply}");
}

/// The value of an unlabelled metric in a node's Prometheus text.
async fn metric(http: &reqwest::Client, node: &ServerProcess, name: &str) -> i64 {
    let text = http
        .get(format!("{}/metrics", node.http))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

/// A bot-only table with fast bots.
fn bot_table(name: &str) -> Value {
    json!({
        "name": name, "seats": 4, "small_blind": 5, "big_blind": 10,
        "pace": "auto", "actions_per_sec": 40.0,
        "ai_seats": [{"seat": 0, "agent": "bot:random", "stack": 400},
                     {"seat": 1, "agent": "bot:tight-aggressive", "stack": 1000},
                     {"seat": 2, "agent": "bot:calling-station", "stack": 600},
                     {"seat": 3, "agent": "bot:random", "stack": 500}]
    })
}

/// Joins `table` on `node` as a spectator resuming from `from` (stored for
/// sure) at `epoch`, and follows it.
async fn rejoin_spectator(node: &ServerProcess, table: &str, from: u64, epoch: u64) -> Follower {
    let mut client = connect(node).await;
    let ack = client
        .request(json!({"type": "join", "table": table, "last_seq": from, "epoch": epoch}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let mut play = Play::new(table, None);
    play.live = false;
    Follower::spawn(client, play)
}

/// The epoch of the last snapshot in a stream.
fn epoch_of(log: &[Value]) -> u64 {
    log.iter()
        .rev()
        .find(|m| m["type"] == "snapshot" || m["type"] == "resumed")
        .and_then(|m| m["epoch"].as_u64())
        .expect("a snapshot with an epoch")
}

/// Checks that what a table's clients saw across a move is one story:
/// the events stored up to `trusted` are those the first owner's client
/// saw, the chips add up event by event, and the new owner's view now
/// agrees with the ledger.
async fn check_story(
    http: &reqwest::Client,
    owner: &ServerProcess,
    table: &str,
    before: &[Value],
    from: u64,
    trusted: u64,
    after: &mut Follower,
) {
    let at = {
        let (status, body) = get_json(http, &format!("{}/api/tables/{table}", owner.http)).await;
        assert_eq!(status, 200, "{body}");
        let now = body["snapshot"].clone();
        let at = seq_of(&now);
        after
            .wait("events past the latest snapshot", |log| {
                log.iter().any(|m| m["type"] == "event" && seq_of(m) > at)
            })
            .await;
        let log = after.log();
        let story = story(before, from, &log);
        Ledger::over(table, story.iter().copied().take_while(|m| seq_of_any(m) <= at)).check_snapshot(&now);
        at
    };
    let log = after.log();
    let seen = events_between(before, from, trusted);
    let stored = events_between(&log, from, trusted);
    assert!(!seen.is_empty(), "{table}: events between {from} and {trusted}");
    assert_eq!(
        stored, seen,
        "{table}: the stored events are those the clients saw"
    );
    // The whole story replays with chips conserved (Ledger asserts as it goes).
    let story = story(before, from, &log);
    let ledger = Ledger::over(table, story.iter().copied());
    assert!(
        ledger.seq > at,
        "{table}: the story ends at {} before the snapshot at {at}; last messages: {:?}",
        ledger.seq,
        &log[log.len().saturating_sub(6)..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_tables_move_to_the_survivors() {
    let Some(database) =
        PgDatabase::create("a_killed_node_s_tables_move_to_the_survivors", "showdown_cluster").await
    else {
        return;
    };
    let dir = helpers::temp_dir("cluster-kill");
    let http = client();
    let a = node(&database.url, &dir, "a").await;
    let b = node(&database.url, &dir, "b").await;
    let c = node(&database.url, &dir, "c").await;

    // Alice plays on A against two calling stations; bots play on A too.
    let alice = register(&http, &a, "Alice").await;
    let people = create_table(
        &http,
        &a,
        &alice.token,
        json!({
            "name": "people", "seats": 3, "small_blind": 5, "big_blind": 10,
            "pace": "auto", "turn_clock_ms": 300000,
            "ai_seats": [{"seat": 1, "agent": "bot:calling-station", "stack": 1000},
                         {"seat": 2, "agent": "bot:calling-station", "stack": 1000}]
        }),
    )
    .await;
    let bots = create_table(&http, &a, &alice.token, bot_table("bots")).await;
    let tables = [people.clone(), bots.clone()];
    // A serves them; B and C say so.
    for table in &tables {
        let (i, _) = owner(&http, &[&a, &b, &c], table).await;
        assert_eq!(i, 0, "{table} is served where it was created");
    }
    // The lobby is the same on every node (it is read from the database).
    for n in [&b, &c] {
        let (status, lobby) = get_json(&http, &format!("{}/api/tables", n.http)).await;
        assert_eq!(status, 200, "{lobby}");
        for table in &tables {
            assert!(
                lobby["tables"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["id"] == json!(table))),
                "{table} listed on {}: {lobby}",
                n.http
            );
        }
    }

    let mut watchers = Vec::new();
    for table in &tables {
        watchers.push(spectate(&a, table).await);
    }
    let mut client = connect(&a).await;
    join_as(&mut client, &people, &alice.token, None).await;
    let ack = client
        .request(json!({"type": "sit", "table": people, "seat": 0, "buy_in": BUY_IN}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let mut alice_play = Follower::spawn(client, Play::new(&people, Some(0)));
    watchers[0]
        .wait("two hands with Alice", |log| {
            ended_hands(log, |stacks| has_seat(stacks, 0)) >= 2
        })
        .await;
    // Alice stops acting: her table waits for her, mid-hand.
    alice_play.hold.store(true, Ordering::SeqCst);
    alice_play
        .wait("Alice on turn and holding", |log| {
            log.iter().any(|m| m["type"] == "test:holding")
        })
        .await;
    let started = count_events(&watchers[1].log(), "hand_started");
    watchers[1]
        .wait("three more hands at the bot table", |log| {
            count_events(log, "hand_started") >= started + 3
        })
        .await;

    // ---- A dies: no shutdown, no flush, no release.
    a.kill().await;
    let mut before = Vec::new();
    for w in watchers {
        before.push(w.finish().await.1);
    }
    let (alice_state, alice_log) = alice_play.finish().await;
    let stall = alice_log
        .iter()
        .rev()
        .find(|m| m["type"] == "test:holding")
        .map(seq_of)
        .expect("the turn Alice held");

    // ---- A survivor serves each table, from where its log left it.
    let survivors = [&b, &c];
    let mut owners = Vec::new();
    for (table, log) in tables.iter().zip(&before) {
        let (i, snapshot) = owner(&http, &survivors, table).await;
        let durable = if *table == people { stall } else { durable_seq(log) };
        assert!(
            seq_of(&snapshot) >= durable,
            "{table} resumed at {} before its durable seq {durable}",
            seq_of(&snapshot)
        );
        assert_ne!(
            snapshot["epoch"],
            epoch_of(log),
            "{table}: a new owner, a new epoch"
        );
        owners.push((i, durable, snapshot));
    }
    // Alice's table waits for her mid-hand at the new owner, chips in place.
    let (people_owner, _, people_now) = &owners[0];
    let view = &people_now["view"];
    assert_eq!(seq_of(people_now), stall, "nothing happened after the held turn");
    assert_eq!(view["hand_in_progress"], true, "{view}");
    assert_eq!(view["to_act"], 0, "{view}");
    ledger_at(&before[0], stall).check_snapshot(people_now);
    let lead = survivors[*people_owner];
    for n in survivors {
        let me = get_me(&http, n, &alice.token).await;
        assert_eq!(me["balance"], STARTING_BALANCE - BUY_IN, "{me}");
    }
    let adoptions: i64 = [
        metric(&http, &b, "showdown_lease_adoptions_total").await,
        metric(&http, &c, "showdown_lease_adoptions_total").await,
    ]
    .iter()
    .sum();
    let claims: i64 = [
        metric(&http, &b, "showdown_lease_claims_total").await,
        metric(&http, &c, "showdown_lease_claims_total").await,
    ]
    .iter()
    .sum();
    assert!(
        adoptions + claims >= 2,
        "the survivors took both tables: {adoptions} adopted, {claims} claimed"
    );

    // Spectators and Alice rejoin at the new owners with what they had.
    let mut after = Vec::new();
    for ((table, log), (i, durable, _)) in tables.iter().zip(&before).zip(&owners) {
        let from = durable.saturating_sub(200).max(seq_of(
            log.iter().find(|m| m["type"] == "snapshot").expect("a snapshot"),
        ));
        let w = rejoin_spectator(survivors[*i], table, from, epoch_of(log)).await;
        after.push((w, from));
    }
    let mut client = connect(lead).await;
    let ack = join_as(
        &mut client,
        &people,
        &alice.token,
        Some((alice_state.last_seq, alice_state.epoch.expect("an epoch"))),
    )
    .await;
    assert_eq!(ack["seat"], 0, "{ack}");
    let mut state = alice_state;
    state.live = false;
    state.handled = None;
    let mut alice_play = Follower::spawn(client, state);
    alice_play
        .wait("Alice acts at the new owner", |log| {
            log.iter().any(|m| m["type"] == "ack" && m["of"] == "act")
        })
        .await;
    // Her turn kept its identity across the move, and once she has acted a
    // resend of that act (as after a lost ack) is refused, not applied to a
    // later turn.
    let mut resend = connect(lead).await;
    join_as(&mut resend, &people, &alice.token, None).await;
    let refused = resend
        .request(json!({"type": "act", "table": people, "action": "call", "turn": stall}))
        .await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "stale_turn", "{refused}");
    drop(resend);
    for ((w, _), table) in after.iter_mut().zip(&tables) {
        w.wait("a replay", |log| start_of(log).is_some()).await;
        let log = w.log();
        let (_, start) = start_of(&log).expect("start");
        assert_eq!(
            start["type"], "resumed",
            "{table}: a replay, not a snapshot: {start}"
        );
        w.wait("a new hand ends at the new owner", |log| {
            let Some((i, _)) = start_of(log) else { return false };
            let from = log[i..].iter().position(|m| is_event(m, "hand_started"));
            from.is_some_and(|s| log[i + s..].iter().any(|m| is_event(m, "hand_ended")))
        })
        .await;
    }
    for (i, table) in tables.iter().enumerate() {
        let trusted = owners[i].1;
        let (w, from) = &mut after[i];
        check_story(
            &http,
            survivors[owners[i].0],
            table,
            &before[i],
            *from,
            trusted,
            w,
        )
        .await;
    }

    // Alice leaves and gets exactly her stack back.
    alice_play.hold.store(true, Ordering::SeqCst);
    let response = http
        .post(format!("{}/api/tables/{people}/stand", lead.http))
        .bearer_auth(&alice.token)
        .send()
        .await
        .expect("stand");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    after[0]
        .0
        .wait("Alice left", |log| {
            log.iter()
                .any(|m| is_event(m, "seat_left") && m["event"]["seat"] == 0)
        })
        .await;
    let people_log = after[0].0.log();
    let story = story(&before[0], after[0].1, &people_log);
    let ledger = Ledger::over(&people, story.iter().copied());
    let left = ledger
        .left
        .iter()
        .find(|(seat, player, _)| *seat == 0 && *player == alice.id)
        .map(|(_, _, stack)| *stack)
        .expect("Alice left");
    let expected = STARTING_BALANCE - BUY_IN + left;
    wait_for_balance(&http, &b, &alice.token, expected).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_is_fenced_and_a_leaving_one_hands_off() {
    let Some(database) = PgDatabase::create(
        "a_frozen_owner_is_fenced_and_a_leaving_one_hands_off",
        "showdown_cluster",
    )
    .await
    else {
        return;
    };
    let dir = helpers::temp_dir("cluster-freeze");
    let http = client();
    let a = node(&database.url, &dir, "a").await;
    let b = node(&database.url, &dir, "b").await;
    let someone = register(&http, &a, "Host").await;
    let table = create_table(&http, &a, &someone.token, bot_table("frozen")).await;
    let mut on_a = spectate(&a, &table).await;
    on_a.wait("two hands on A", |log| ended_hands(log, |_| true) >= 2)
        .await;

    // ---- A freezes (SIGSTOP) for longer than its lease: B takes the table.
    a.signal("STOP");
    let (i, snapshot) = owner(&http, &[&b], &table).await;
    assert_eq!(i, 0);
    let taken_at = seq_of(&snapshot);
    let mut on_b = spectate(&b, &table).await;
    on_b.wait("a hand on B", |log| ended_hands(log, |_| true) >= 1)
        .await;
    assert_ne!(
        snapshot["epoch"],
        epoch_of(&on_a.log()),
        "B took the table over: a new epoch"
    );

    // ---- A wakes up. Whatever it was about to write is refused; its room is
    // told that the table moved, and it stops serving the table.
    a.signal("CONT");
    on_a.wait("A's spectator told that the table moved", |log| {
        log.iter().any(|m| {
            m["type"] == "error"
                && m["code"] == "unavailable"
                && m["message"].as_str().is_some_and(|t| t.contains("moved"))
        })
    })
    .await;
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, _) = get_json(&http, &format!("{}/api/tables/{table}", a.http)).await;
        if status == 421 {
            break;
        }
        assert!(Instant::now() < deadline, "A still serves {table}: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_elsewhere(&http, &a, &table, &b.http).await;
    // A joined the cluster again (as a new instance).
    while metric(&http, &a, "showdown_node_member").await != 1 {
        assert!(Instant::now() < deadline, "A did not join again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // B's table played on undisturbed: what B's spectator saw since it
    // joined is exactly what is stored (nothing of A's slipped in).
    let on_b_log = on_b.log();
    let joined = seq_of(
        on_b_log
            .iter()
            .find(|m| m["type"] == "snapshot")
            .expect("a snapshot"),
    );
    assert!(joined >= taken_at);
    let mut replay = rejoin_spectator(&b, &table, joined, epoch_of(&on_b_log)).await;
    on_b.wait("two more hands on B", |log| ended_hands(log, |_| true) >= 3)
        .await;
    let upto = durable_seq(&on_b.log());
    replay
        .wait("the replay reaches B's durable events", |log| {
            log.iter().any(|m| m["type"] == "event" && seq_of(m) >= upto)
        })
        .await;
    assert_eq!(
        events_between(&replay.log(), joined, upto),
        events_between(&on_b.log(), joined, upto),
        "the stored log is what B's clients saw"
    );
    // A's spectator saw a consistent story up to the move (Ledger asserts).
    Ledger::over(&table, on_a.log().iter());

    // ---- B leaves (SIGTERM): it hands the table to A and exits cleanly.
    let status = b.terminate().await;
    assert!(status.success(), "B exits cleanly: {status}");
    let last_on_b = durable_seq(&on_b.finish().await.1);
    drop(replay);
    let (i, snapshot) = owner(&http, &[&a], &table).await;
    assert_eq!(i, 0);
    assert!(
        seq_of(&snapshot) >= last_on_b,
        "A goes on from everything B stored"
    );
    let mut back_on_a = spectate(&a, &table).await;
    back_on_a
        .wait("hands go on at A", |log| ended_hands(log, |_| true) >= 1)
        .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_from_the_database_stops_and_its_tables_move() {
    let Some(database) = PgDatabase::create(
        "a_node_cut_from_the_database_stops_and_its_tables_move",
        "showdown_cluster",
    )
    .await
    else {
        return;
    };
    let dir = helpers::temp_dir("cluster-cut");
    let http = client();
    // A reaches the database through a proxy the test cuts; B directly.
    let (_, upstream) = via(&database.url, "127.0.0.1:1".parse().expect("addr"));
    let proxy = Proxy::start(upstream).await;
    let (through_proxy, _) = via(&database.url, proxy.addr);
    let a = node(&through_proxy, &dir, "a").await;
    let b = node(&database.url, &dir, "b").await;
    let host = register(&http, &a, "Host").await;
    let table = create_table(&http, &a, &host.token, bot_table("cut")).await;
    let mut on_a = spectate(&a, &table).await;
    on_a.wait("two hands on A", |log| ended_hands(log, |_| true) >= 2)
        .await;

    // ---- A loses the database. It cannot renew: it stops its table
    // before its registration lapses, and tells the room; B takes over.
    proxy.cut();
    on_a.wait("A's room told the table stopped", |log| {
        log.iter()
            .any(|m| m["type"] == "error" && m["code"] == "unavailable")
    })
    .await;
    let (_, snapshot) = owner(&http, &[&b], &table).await;
    let seen_on_a = on_a.log();
    let durable = durable_seq(&seen_on_a);
    assert!(
        seq_of(&snapshot) >= durable,
        "B resumed at {} before A's durable seq {durable}",
        seq_of(&snapshot)
    );
    // Nothing A's clients saw after the cut is in the store unless it was
    // stored before: B's log agrees with A's stream wherever both have a seq.
    let from = seq_of(
        seen_on_a
            .iter()
            .find(|m| m["type"] == "snapshot")
            .expect("a snapshot"),
    );
    let mut replay = rejoin_spectator(&b, &table, from, epoch_of(&seen_on_a)).await;
    replay
        .wait("a hand ends at B", |log| {
            let Some((i, _)) = start_of(log) else { return false };
            log[i..].iter().any(|m| is_event(m, "hand_ended"))
        })
        .await;
    let stored = replay.log();
    assert_eq!(
        events_between(&stored, from, durable),
        events_between(&seen_on_a, from, durable),
        "the stored log holds what A's clients saw"
    );
    check_story(&http, &b, &table, &seen_on_a, from, durable, &mut replay).await;

    // ---- The database comes back for A: it joins again as a new member and
    // sends clients of the table to B.
    proxy.restore();
    let deadline = Instant::now() + WAIT;
    while metric(&http, &a, "showdown_node_member").await != 1 {
        assert!(Instant::now() < deadline, "A did not join again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_elsewhere(&http, &a, &table, &b.http).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client following one table across nodes: everything its connections
/// received so far, and the live one.
struct Tracker {
    table: String,
    /// A player's token (`None`: a spectator).
    token: Option<String>,
    /// The node it is connected to.
    node: &'static str,
    /// What earlier connections received, in order.
    earlier: Vec<Value>,
    live: Follower,
}

impl Tracker {
    /// Everything received, earlier connections first.
    fn log(&self) -> Vec<Value> {
        let mut log = self.earlier.clone();
        log.extend(self.live.log());
        log
    }

    /// After the node it was on left: collects the closed connection's log
    /// and rejoins the table's new owner with `last_seq` and `epoch`.
    async fn follow_the_table(
        self,
        http: &reqwest::Client,
        nodes: &[(&'static str, ServerProcess)],
    ) -> Tracker {
        let Tracker {
            table,
            token,
            mut earlier,
            live,
            ..
        } = self;
        let (mut play, log) = live.finish().await;
        earlier.extend(log);
        let processes: Vec<&ServerProcess> = nodes.iter().map(|(_, p)| p).collect();
        let (i, _) = owner(http, &processes, &table).await;
        let mut client = connect(processes[i]).await;
        let epoch = play.epoch.expect("an epoch");
        let ack =
            match &token {
                Some(token) => join_as(&mut client, &table, token, Some((play.last_seq, epoch))).await,
                None => client
                    .request(
                        json!({"type": "join", "table": table, "last_seq": play.last_seq, "epoch": epoch}),
                    )
                    .await,
            };
        assert_eq!(ack["type"], "ack", "{ack}");
        play.live = false;
        play.handled = None;
        let mut live = Follower::spawn(client, play);
        live.wait("a replay after the move", |log| start_of(log).is_some())
            .await;
        let first = start_of(&live.log()).map(|(_, m)| m.clone()).expect("a start");
        assert_eq!(
            first["type"], "resumed",
            "{table}: rejoined with a replay: {first}"
        );
        Tracker {
            table,
            token,
            node: nodes[i].0,
            earlier,
            live,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_loses_no_table_action_or_chip() {
    let Some(database) = PgDatabase::create(
        "a_rolling_restart_loses_no_table_action_or_chip",
        "showdown_cluster",
    )
    .await
    else {
        return;
    };
    let dir = helpers::temp_dir("cluster-rolling");
    let http = client();
    let names = ["a", "b", "c"];
    let mut nodes: Vec<(&'static str, ServerProcess)> = Vec::new();
    for name in names {
        nodes.push((name, node(&database.url, &dir, name).await));
    }
    let alice = register(&http, &nodes[0].1, "Alice").await;
    let people = create_table(
        &http,
        &nodes[0].1,
        &alice.token,
        json!({
            "name": "people", "seats": 3, "small_blind": 5, "big_blind": 10,
            "pace": "auto", "turn_clock_ms": 300000,
            "ai_seats": [{"seat": 1, "agent": "bot:calling-station", "stack": 1000},
                         {"seat": 2, "agent": "bot:calling-station", "stack": 1000}]
        }),
    )
    .await;
    let bots_b = create_table(&http, &nodes[1].1, &alice.token, bot_table("bots on b")).await;
    let bots_c = create_table(&http, &nodes[2].1, &alice.token, bot_table("bots on c")).await;
    let mut trackers = Vec::new();
    for (table, at) in [(&people, 0), (&bots_b, 1), (&bots_c, 2)] {
        let mut client = connect(&nodes[at].1).await;
        let ack = client.request(json!({"type": "join", "table": table})).await;
        assert_eq!(ack["type"], "ack", "{ack}");
        trackers.push(Tracker {
            table: table.clone(),
            token: None,
            node: names[at],
            earlier: Vec::new(),
            live: Follower::spawn(client, Play::new(table, None)),
        });
    }
    let mut client = connect(&nodes[0].1).await;
    join_as(&mut client, &people, &alice.token, None).await;
    let ack = client
        .request(json!({"type": "sit", "table": people, "seat": 0, "buy_in": BUY_IN}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    trackers.push(Tracker {
        table: people.clone(),
        token: Some(alice.token.clone()),
        node: "a",
        earlier: Vec::new(),
        live: Follower::spawn(client, Play::new(&people, Some(0))),
    });
    for t in &mut trackers[..3] {
        t.live
            .wait("two hands", |log| ended_hands(log, |_| true) >= 2)
            .await;
    }

    // ---- Every node in turn: SIGTERM, its tables move, it comes back.
    for (i, name) in names.iter().enumerate() {
        let (_, leaving) = nodes.remove(i);
        let status = leaving.terminate().await;
        assert!(status.success(), "{name} exits cleanly: {status}");
        let mut moved = Vec::new();
        for t in trackers.drain(..) {
            if t.node == *name {
                moved.push(t.follow_the_table(&http, &nodes).await);
            } else {
                moved.push(t);
            }
        }
        trackers = moved;
        for t in trackers.iter_mut().filter(|t| t.token.is_none()) {
            let seen = t.live.log().len();
            t.live
                .wait("a hand after the restart", |log| {
                    log[seen.min(log.len())..]
                        .iter()
                        .any(|m| is_event(m, "hand_ended"))
                })
                .await;
        }
        nodes.insert(i, (name, node(&database.url, &dir, name).await));
    }

    // ---- Every table is served; what clients saw is what is stored, chips
    // are conserved across every move, and every acknowledged action of
    // Alice's is in the log.
    let all: Vec<&ServerProcess> = nodes.iter().map(|(_, p)| p).collect();
    for t in &trackers[..3] {
        let (i, _) = owner(&http, &all, &t.table).await;
        let log = t.log();
        Ledger::over(&t.table, log.iter());
        let first = log.iter().find(|m| m["type"] == "snapshot").expect("a snapshot");
        let from = seq_of(first);
        let upto = durable_seq(&log);
        let mut replay =
            rejoin_spectator(all[i], &t.table, from, first["epoch"].as_u64().expect("epoch")).await;
        replay
            .wait("the replay", |log| {
                log.iter().any(|m| m["type"] == "event" && seq_of(m) >= upto)
            })
            .await;
        let stored = events_between(&replay.log(), from, upto);
        assert_eq!(
            stored,
            events_between(&log, from, upto),
            "{}: stored = seen",
            t.table
        );
    }
    let alice_log = trackers[3].log();
    let acked = alice_log
        .iter()
        .filter(|m| m["type"] == "ack" && m["of"] == "act")
        .count();
    let people_log = trackers[0].log();
    let acted = people_log
        .iter()
        .filter(|m| {
            is_event(m, "action_taken") && m["event"]["seat"] == 0 && m["event"]["timed_out"] == false
        })
        .count();
    assert!(acked > 0, "Alice played");
    assert!(
        acted >= acked && acted <= acked + names.len(),
        "{acked} actions acknowledged, {acted} stored (at most one unacknowledged per move)"
    );
    trackers[3].live.hold.store(true, Ordering::SeqCst);
    let (i, _) = owner(&http, &all, &people).await;
    let response = http
        .post(format!("{}/api/tables/{people}/stand", all[i].http))
        .bearer_auth(&alice.token)
        .send()
        .await
        .expect("stand");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    trackers[0]
        .live
        .wait("Alice left", |log| {
            log.iter()
                .any(|m| is_event(m, "seat_left") && m["event"]["seat"] == 0)
        })
        .await;
    let ledger = Ledger::over(&people, trackers[0].log().iter());
    let left = ledger
        .left
        .iter()
        .find(|(seat, player, _)| *seat == 0 && *player == alice.id)
        .map(|(_, _, stack)| *stack)
        .expect("Alice left");
    let expected = STARTING_BALANCE - BUY_IN + left;
    wait_for_balance(&http, all[0], &alice.token, expected).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A second process started under a live node's name (say, two nodes on one
/// host, both named after it) does not join: it would replace the first
/// node's row and each would keep taking the other's tables. It exits with
/// an error naming the option to set; the first node serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_with_the_same_name_is_refused() {
    let Some(database) =
        PgDatabase::create("a_second_node_with_the_same_name_is_refused", "showdown_cluster").await
    else {
        return;
    };
    let dir = helpers::temp_dir("cluster-name");
    let http = client();
    let first = node(&database.url, &dir, "same").await;
    let host = register(&http, &first, "Host").await;
    let table = create_table(&http, &first, &host.token, bot_table("named")).await;
    let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_showdown"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url", &database.url])
        .args(["--node-id", "same", "--node-ttl-ms", TTL_MS])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WAIT, second)
        .await
        .expect("the second node gives up within a TTL or so")
        .expect("run showdown");
    assert!(!output.status.success(), "the second node exits with an error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--node-id") && stderr.contains(&first.http),
        "the error names the other node and the option: {stderr}"
    );
    // The first node kept its registration and its table all along.
    assert_eq!(metric(&http, &first, "showdown_node_member").await, 1);
    assert_eq!(metric(&http, &first, "showdown_lease_fenced_total").await, 0);
    let (i, _) = owner(&http, &[&first], &table).await;
    assert_eq!(i, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Postgres out of reach of every node for longer than a registration
/// lives: nothing is acknowledged meanwhile (every node fences itself), and
/// when it is back each node takes its own tables back before any node may
/// claim another's, so no table changes nodes for an outage that hit all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_postgres_returns_for_all_each_node_takes_its_own_tables_back() {
    let Some(database) = PgDatabase::create("postgres_down_for_all", "showdown_cluster").await else {
        return;
    };
    let dir = helpers::temp_dir("cluster-pg-down");
    let http = client();
    let (_, upstream) = via(&database.url, "127.0.0.1:1".parse().expect("addr"));
    let proxy_a = Proxy::start(upstream.clone()).await;
    let proxy_b = Proxy::start(upstream).await;
    let a = node(&via(&database.url, proxy_a.addr).0, &dir, "a").await;
    let b = node(&via(&database.url, proxy_b.addr).0, &dir, "b").await;
    let host = register(&http, &a, "Host").await;
    let on_a = create_table(&http, &a, &host.token, bot_table("on a")).await;
    let on_b = create_table(&http, &b, &host.token, bot_table("on b")).await;
    let mut watch_a = spectate(&a, &on_a).await;
    let mut watch_b = spectate(&b, &on_b).await;
    for w in [&mut watch_a, &mut watch_b] {
        w.wait("two hands", |log| ended_hands(log, |_| true) >= 2).await;
    }

    // ---- The database goes away for everyone, for two TTLs.
    proxy_a.cut();
    proxy_b.cut();
    for w in [&mut watch_a, &mut watch_b] {
        w.wait("the room told the table stopped", |log| {
            log.iter()
                .any(|m| m["type"] == "error" && m["code"] == "unavailable" && m["id"].is_null())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(2 * TTL_MS.parse::<u64>().expect("ttl"))).await;
    proxy_a.restore();
    proxy_b.restore();

    // ---- Each table is back at the node that ran it.
    for (table, expected) in [(&on_a, 0), (&on_b, 1)] {
        let (i, _) = owner(&http, &[&a, &b], table).await;
        assert_eq!(i, expected, "{table} is back at its own node");
    }
    // And plays on there.
    let mut again = spectate(&b, &on_b).await;
    again
        .wait("play goes on at B", |log| count_events(log, "hand_started") >= 2)
        .await;
}
