//! Crash recovery with the real binary: tables play (two people and two bots
//! at one, bots only at two others), the process is killed with SIGKILL
//! while hands are being played, and a new process on the same database
//! restores every table from its event log. Checked: the restored tables
//! are at least where their durable events put them and play on; the stored
//! events are exactly those clients saw; people rejoin with their token and
//! `last_seq` and act; and no chip is created or lost, per seat, per table
//! and in players' balances. Runs on SQLite, and on Postgres when
//! `TEST_DATABASE_URL` is set.

mod helpers;
#[path = "helpers/play.rs"]
mod play;
#[path = "helpers/process.rs"]
mod process;

use std::path::Path;
use std::sync::atomic::Ordering;

use play::*;
use process::{PgDatabase, ServerProcess};
use serde_json::json;

/// Chips a new player starts with (the server's default).
const STARTING_BALANCE: u64 = 10_000;

/// Each person's buy-in.
const BUY_IN: u64 = 1_000;

#[tokio::test]
async fn tables_survive_a_kill_on_sqlite() {
    let dir = helpers::temp_dir("restart-sqlite");
    let url = format!("sqlite://{}", dir.join("showdown.db").display());
    crash_and_restart(&url, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn tables_survive_a_kill_on_postgres() {
    let Some(database) = PgDatabase::create("tables_survive_a_kill_on_postgres", "showdown_restart").await
    else {
        return;
    };
    let dir = helpers::temp_dir("restart-postgres");
    crash_and_restart(&database.url, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn crash_and_restart(database_url: &str, dir: &Path) {
    let log = dir.join("showdown.log");
    let http = reqwest::Client::new();

    // ---- First process: set up and play.
    let first = ServerProcess::start(database_url, &log).await;
    let alice = register(&http, &first, "Alice").await;
    let bob = register(&http, &first, "Bob").await;
    // People and calling stations; the long turn clock lets the table wait
    // for a person as long as the test needs.
    let people = create_table(
        &http,
        &first,
        &alice.token,
        json!({
            "name": "people", "seats": 4, "small_blind": 5, "big_blind": 10,
            "pace": "auto", "turn_clock_ms": 300000,
            "ai_seats": [{"seat": 2, "agent": "bot:calling-station", "stack": 1000},
                         {"seat": 3, "agent": "bot:calling-station", "stack": 1000}]
        }),
    )
    .await;
    // Bots only; the random bot busts now and then, and busted bots re-buy.
    let small = create_table(
        &http,
        &first,
        &alice.token,
        json!({
            "name": "bots 3", "seats": 3, "small_blind": 1, "big_blind": 2,
            "pace": "auto", "actions_per_sec": 50.0,
            "ai_seats": [{"seat": 0, "agent": "bot:random", "stack": 100},
                         {"seat": 1, "agent": "bot:tight-aggressive", "stack": 200},
                         {"seat": 2, "agent": "bot:calling-station", "stack": 150}]
        }),
    )
    .await;
    let full = create_table(
        &http,
        &first,
        &alice.token,
        json!({
            "name": "bots 6", "seats": 6, "small_blind": 5, "big_blind": 10, "ante": 1,
            "pace": "auto", "actions_per_sec": 50.0,
            "ai_seats": [{"seat": 0, "agent": "bot:random", "stack": 300},
                         {"seat": 1, "agent": "bot:tight-aggressive", "stack": 1000},
                         {"seat": 2, "agent": "bot:calling-station", "stack": 500},
                         {"seat": 3, "agent": "bot:random", "stack": 400},
                         {"seat": 4, "agent": "bot:tight-aggressive", "stack": 1000},
                         {"seat": 5, "agent": "bot:calling-station", "stack": 1000}]
        }),
    )
    .await;
    let tables = [people.clone(), small.clone(), full.clone()];

    // A spectator per table sees every public event from before anyone sits.
    let mut watchers = Vec::new();
    for table in &tables {
        watchers.push(spectate(&first, table).await);
    }
    // Alice sits over WebSocket, Bob over REST.
    let mut client = connect(&first).await;
    join_as(&mut client, &people, &alice.token, None).await;
    let ack = client
        .request(json!({"type": "sit", "table": people, "seat": 0, "buy_in": BUY_IN}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let mut alice_play = Follower::spawn(client, Play::new(&people, Some(0)));
    let response = http
        .post(format!("{}/api/tables/{people}/sit", first.http))
        .bearer_auth(&bob.token)
        .json(&json!({"seat": 1, "buy_in": BUY_IN}))
        .send()
        .await
        .expect("sit");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let mut client = connect(&first).await;
    join_as(&mut client, &people, &bob.token, None).await;
    let bob_play = Follower::spawn(client, Play::new(&people, Some(1)));

    // Both people play a couple of hands; the bot tables play a few.
    watchers[0]
        .wait("two hands with both people", |log| {
            ended_hands(log, |stacks| has_seat(stacks, 0) && has_seat(stacks, 1)) >= 2
        })
        .await;
    for w in &mut watchers[1..] {
        w.wait("three hands", |log| ended_hands(log, |_| true) >= 3).await;
    }
    // Alice stops acting: her table waits for her, mid-hand.
    alice_play.hold.store(true, Ordering::SeqCst);
    alice_play
        .wait("Alice on turn and holding", |log| {
            log.iter().any(|m| m["type"] == "test:holding")
        })
        .await;
    // Two more hands at each bot table: the event writer commits in order,
    // so the waiting table's events are durable, and the bot tables are
    // caught mid-hand more often than not.
    for w in &mut watchers[1..] {
        let started = count_events(&w.log(), "hand_started");
        w.wait("two more hands", |log| {
            count_events(log, "hand_started") >= started + 2
        })
        .await;
    }
    for person in [&alice, &bob] {
        let me = get_me(&http, &first, &person.token).await;
        assert_eq!(me["balance"], STARTING_BALANCE - BUY_IN, "{me}");
    }

    // ---- SIGKILL: no shutdown, no flush.
    let bind = first.bind();
    first.kill().await;
    let mut before = Vec::new();
    for w in watchers {
        before.push(w.finish().await);
    }
    let (alice_state, alice_log) = alice_play.finish().await;
    let (bob_state, bob_log) = bob_play.finish().await;
    let stall = alice_log
        .iter()
        .rev()
        .find(|m| m["type"] == "test:holding")
        .map(seq_of)
        .expect("the turn Alice held");
    assert!(!bob_log.is_empty());

    // What each table's spectator knew: every public event, in order and
    // consistent (chips per seat), and the last seq surely durable.
    let mut known = Vec::new();
    for ((_, log), table) in before.iter().zip(&tables) {
        let ledger = Ledger::over(table, log.iter());
        let first_seq = log
            .iter()
            .find(|m| m["type"] == "snapshot")
            .map(seq_of)
            .expect("a snapshot");
        let epoch = log
            .iter()
            .rev()
            .find(|m| m["type"] == "snapshot")
            .map(|m| m["epoch"].as_u64().expect("epoch"))
            .expect("a snapshot");
        let durable = durable_seq(log);
        // The waiting table's events were all durable (see above).
        let trusted = if *table == people { stall } else { durable };
        assert!(trusted >= durable && durable > first_seq, "{table}: {durable}");
        let last_hand = ledger.last_hand_started;
        known.push(Known {
            replay_from: first_seq.max(durable.saturating_sub(500)),
            durable,
            trusted,
            epoch,
            last_hand,
        });
    }
    let people_known = &known[0];
    assert_eq!(
        ledger_at(&before[0].1, u64::MAX).seq,
        stall,
        "nothing happened after the held turn"
    );

    // ---- Second process, same database.
    // Where the first listened: the same node, back.
    let second = ServerProcess::start_on(database_url, &log, &bind, &[]).await;
    // Every table was restored at start-up, before anyone asked for it.
    let (status, lobby) = get_json(&http, &format!("{}/api/tables", second.http)).await;
    assert_eq!(status, 200, "{lobby}");
    for table in &tables {
        let line = lobby["tables"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["id"] == json!(table)))
            .unwrap_or_else(|| panic!("{table} is not listed: {lobby}"));
        assert_eq!(line["live"], true, "{table} was restored: {line}");
    }
    let mut restored = Vec::new();
    for (table, known) in tables.iter().zip(&known) {
        let (status, body) = get_json(&http, &format!("{}/api/tables/{table}", second.http)).await;
        assert_eq!(status, 200, "{body}");
        let snapshot = body["snapshot"].clone();
        assert!(
            seq_of(&snapshot) >= known.durable,
            "{table} restored at seq {} before its durable seq {}",
            seq_of(&snapshot),
            known.durable
        );
        assert_ne!(
            snapshot["epoch"], known.epoch,
            "{table}: a restart changes the epoch"
        );
        restored.push(snapshot);
    }
    // The people's table was restored mid-hand, waiting for Alice, with the
    // chips each seat had.
    let view = &restored[0]["view"];
    assert_eq!(seq_of(&restored[0]), stall, "{}", restored[0]);
    assert_eq!(view["hand_in_progress"], true, "{view}");
    assert_eq!(view["to_act"], 0, "{view}");
    assert_eq!(view["hand"], people_known.last_hand, "{view}");
    ledger_at(&before[0].1, stall).check_snapshot(&restored[0]);
    for person in [&alice, &bob] {
        let me = get_me(&http, &second, &person.token).await;
        assert_eq!(me["balance"], STARTING_BALANCE - BUY_IN, "{me}");
        assert_eq!(
            me["seats"],
            json!([{"table": people, "seat": if person.id == alice.id { 0 } else { 1 }}])
        );
    }

    // Spectators rejoin from a point they know was stored: they get the
    // stored events after it, then live ones.
    let mut watchers = Vec::new();
    for (table, known) in tables.iter().zip(&known) {
        let mut client = connect(&second).await;
        let ack = client
            .request(json!({"type": "join", "table": table,
                            "last_seq": known.replay_from, "epoch": known.epoch}))
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
        let mut play = Play::new(table, None);
        play.live = false;
        watchers.push(Follower::spawn(client, play));
    }
    // The people rejoin with their tokens, last seq and epoch, and play on:
    // Alice first of all, whose turn it still is.
    let mut players = Vec::new();
    for (person, mut state) in [(&alice, alice_state), (&bob, bob_state)] {
        let mut client = connect(&second).await;
        let ack = join_as(
            &mut client,
            &people,
            &person.token,
            Some((state.last_seq, state.epoch.expect("an epoch"))),
        )
        .await;
        assert_eq!(ack["seat"], state.seat.expect("a seat"), "{ack}");
        // A new connection: the turn held before the kill is Alice's to play now.
        state.live = false;
        state.handled = None;
        players.push(Follower::spawn(client, state));
    }
    for (w, known) in watchers.iter_mut().zip(&known) {
        w.wait("a replay", |log| start_of(log).is_some()).await;
        let log = w.log();
        let (i, start) = start_of(&log).expect("start");
        assert_eq!(start["type"], "resumed", "a replay, not a snapshot: {start}");
        assert!(seq_of(start) >= known.durable, "{start}");
        assert!(
            log[..i].iter().all(|m| m["type"] == "event"),
            "only events before resumed"
        );
        // Hands go on: a new one starts live and ends.
        let next_hand = known.last_hand + 1;
        w.wait("a new hand, started and finished live", |log| {
            let Some((i, _)) = start_of(log) else { return false };
            let started = log[i..]
                .iter()
                .position(|m| is_event(m, "hand_started") && m["event"]["hand"].as_u64() >= Some(next_hand));
            started.is_some_and(|s| log[i + s..].iter().any(|m| is_event(m, "hand_ended")))
        })
        .await;
    }
    for p in &mut players {
        p.wait("a replay or snapshot", |log| start_of(log).is_some())
            .await;
        let log = p.log();
        let (_, start) = start_of(&log).expect("start");
        // All they saw was stored (the table waited for Alice): a replay.
        assert_eq!(start["type"], "resumed", "{start}");
        p.wait("an accepted action", |log| {
            log.iter().any(|m| m["type"] == "ack" && m["of"] == "act")
        })
        .await;
    }
    // A hand with both people dealt in ends after both acted again.
    let acted_at = watchers[0].log().len();
    watchers[0]
        .wait("a hand with both people after the restart", |log| {
            log[acted_at..].iter().any(|m| {
                is_event(m, "hand_ended")
                    && has_seat(&m["event"]["stacks"], 0)
                    && has_seat(&m["event"]["stacks"], 1)
            })
        })
        .await;

    // Both stand (after the hand, if one is running) and get their chips back.
    for p in &players {
        p.hold.store(true, Ordering::SeqCst);
    }
    for person in [&alice, &bob] {
        let response = http
            .post(format!("{}/api/tables/{people}/stand", second.http))
            .bearer_auth(&person.token)
            .send()
            .await
            .expect("stand");
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }
    watchers[0]
        .wait("both people left", |log| {
            [0, 1].iter().all(|s| {
                log.iter()
                    .any(|m| is_event(m, "seat_left") && m["event"]["seat"] == *s)
            })
        })
        .await;

    // ---- The whole story per table: before the kill up to the replay
    // point, then what the second process sent.
    for (i, table) in tables.iter().enumerate() {
        let known = &known[i];
        let before_log = &before[i].1;
        let after_log = watchers[i].log();
        // What was stored is exactly what clients saw.
        let seen = events_between(before_log, known.replay_from, known.trusted);
        let replayed = events_between(&after_log, known.replay_from, known.trusted);
        assert!(!seen.is_empty(), "{table}");
        assert_eq!(
            replayed, seen,
            "{table}: the stored events are those the clients saw"
        );
        // Chips per seat, per hand and per table, across the restart.
        let story = story(before_log, known.replay_from, &after_log);
        let ledger = Ledger::over(table, story.iter().copied());
        // The snapshot taken right after the restart.
        Ledger::over(
            table,
            story
                .iter()
                .copied()
                .take_while(|m| seq_of_any(m) <= seq_of(&restored[i])),
        )
        .check_snapshot(&restored[i]);
        // And one now.
        let (status, body) = get_json(&http, &format!("{}/api/tables/{table}", second.http)).await;
        assert_eq!(status, 200, "{body}");
        let now = body["snapshot"].clone();
        let at = seq_of(&now);
        watchers[i]
            .wait("events past the last snapshot", |log| {
                log.iter().any(|m| m["type"] == "event" && seq_of(m) > at)
            })
            .await;
        let after_log = watchers[i].log();
        let story = self::story(before_log, known.replay_from, &after_log);
        Ledger::over(table, story.iter().copied().take_while(|m| seq_of_any(m) <= at)).check_snapshot(&now);
        if i == 0 {
            // Each person's balance got back exactly the stack they left with.
            for (person, seat) in [(&alice, 0), (&bob, 1)] {
                let left = ledger
                    .left
                    .iter()
                    .find(|(s, player, _)| *s == seat && *player == person.id)
                    .map(|(_, _, stack)| *stack)
                    .expect("left the table");
                let expected = STARTING_BALANCE - BUY_IN + left;
                wait_for_balance(&http, &second, &person.token, expected).await;
            }
        }
    }
    second.kill().await;
}

/// What one table's spectator stream knew before the kill.
struct Known {
    /// Where the rejoining spectator resumes from (stored for sure).
    replay_from: u64,
    /// Every event up to here was stored: a later hand had started.
    durable: u64,
    /// Every event up to here was stored (the waiting table: all of them).
    trusted: u64,
    /// The epoch of the first process.
    epoch: u64,
    /// The last hand started.
    last_hand: u64,
}
