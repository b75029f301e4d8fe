//! The table clocks on tokio's paused time: a table built alone from its
//! [`TableDeps`] (an in-memory store, an event writer over it, bots), no
//! server, no sockets. Every wait is virtual, so each test asserts clocks to
//! the millisecond and still runs in milliseconds: the turn clock and the
//! time bank, an action just in time, a disconnected player stood up after
//! the grace period and paid, the pause between hands, idle tables leaving
//! memory.
//!
//! The store is a `MemoryRepo`: it never waits on another thread, so the
//! runtime cannot advance the clock while a query is in flight (a SQLite
//! worker thread would let it, and fire turn clocks that never ran out).
//! The writer commits without lingering, so waiting for durability takes no
//! virtual time either. A room message reaches the test at the very instant
//! the table published it: the paused clock only moves when every task
//! waits, and the test's receiver is woken by the publish.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use game_core::{Action, Event, TableConfig};
use schema::{AnyRepo, DecisionRow, EventWriter, MemoryRepo, PlayerRecord, Repository, WriterConfig};
use serde_json::Value;
use server::metrics::Metrics;
use server::table::agents::Agents;
use server::table::registry::Tables;
use server::table::{
    AiSeat, Delta, Pace, Presence, TableCommand, TableDeps, TableHandle, TableLimits, TableSettings, Timing,
};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::{Instant, sleep_until};

const MS: Duration = Duration::from_millis(1);
/// Chips every test player starts with in their account.
const BALANCE: u64 = 10_000;
/// Chips a test player buys in for.
const BUY_IN: u64 = 1_000;

/// A table registry over an in-memory store, and the handles to look inside.
struct Harness {
    repo: MemoryRepo,
    writer: EventWriter,
    tables: Tables,
    _shutdown: watch::Sender<bool>,
    _decisions: mpsc::Receiver<DecisionRow>,
}

impl Harness {
    /// Tables built from their dependencies, as `boot.rs` builds them, with
    /// these clocks.
    fn new(timing: Timing) -> Harness {
        let repo = MemoryRepo::new();
        let config = WriterConfig {
            // Commit at once: a durability wait takes no virtual time.
            flush_after: Duration::ZERO,
            ..WriterConfig::default()
        };
        let (writer, _task) = EventWriter::spawn(AnyRepo::from(repo.clone()), config);
        let (decisions, decisions_rx) = mpsc::channel(1_000);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let tables = Tables::new(TableDeps {
            repo: AnyRepo::from(repo.clone()),
            writer: writer.clone(),
            agents: Agents::new(None),
            metrics: Arc::new(Metrics::default()),
            timing,
            limits: TableLimits {
                max_tables: 10,
                max_chat_chars: 200,
            },
            decisions,
            shutdown: shutdown_rx,
            ownership: None,
            remote: None,
        });
        Harness {
            repo,
            writer,
            tables,
            _shutdown: shutdown,
            _decisions: decisions_rx,
        }
    }

    /// A new table of `seats` seats (blinds 5/10) with these settings.
    async fn table(&self, seats: usize, settings: TableSettings) -> TableHandle {
        self.tables
            .create("clock".to_owned(), TableConfig::new(seats, 5, 10), settings)
            .await
            .expect("create the table")
    }

    /// Registers `name` with [`BALANCE`] chips, connects them to the room
    /// (unless `connected` is false) and seats them with [`BUY_IN`] chips,
    /// the way a session does: buy-in reserved in the store, then `sit`.
    async fn sit(&self, table: &TableHandle, name: &str, seat: usize, connected: bool) -> String {
        let id = format!("p_{name}");
        self.repo
            .create_player(&PlayerRecord {
                id: id.clone(),
                display_name: name.to_owned(),
                token_hash: format!("hash-{name}"),
                created_at_ms: 1,
                balance: BALANCE,
            })
            .await
            .expect("register");
        if connected {
            presence(table, &id, Presence::Joined).await;
        }
        let after_seq = self.repo.last_seq(&table.id).await.expect("last seq");
        let buy_in = self
            .repo
            .reserve_buy_in(&id, &table.id, seat as u64, BUY_IN, after_seq, schema::now_ms())
            .await
            .expect("reserve the buy-in");
        let chips = table
            .request(|reply| TableCommand::Sit {
                player_id: id.clone(),
                name: name.to_owned(),
                seat,
                buy_in: Box::new(buy_in),
                reply,
            })
            .await
            .expect("sit");
        assert_eq!(chips, BUY_IN);
        id
    }

    /// The event stored at `seq` of the table's log, once everything sent is committed.
    async fn stored(&self, table: &TableHandle, seq: u64) -> Event {
        self.writer.flush().await.expect("flush the writer");
        let records = self
            .repo
            .events_since(&table.id, seq - 1, 1)
            .await
            .expect("read the log");
        let record = records.first().expect("the event is stored");
        assert_eq!(record.seq, seq);
        record.event().expect("decode the event")
    }

    async fn balance(&self, player: &str) -> u64 {
        self.repo.load_player(player).await.expect("player").balance
    }

    fn metrics(&self) -> &Metrics {
        &self.tables.deps.metrics
    }
}

/// Tells the table one of `player`'s connections joined or left its room.
async fn presence(table: &TableHandle, player: &str, change: Presence) {
    table
        .send(TableCommand::Presence {
            player_id: player.to_owned(),
            change,
        })
        .await
        .expect("presence");
}

/// Settings for a heads-up table: a human at seat 0, a calling station at seat 1.
fn heads_up(turn_clock_ms: u64, time_bank_ms: u64, pace: Pace) -> TableSettings {
    TableSettings {
        turn_clock_ms,
        time_bank_ms,
        pace,
        ai_seats: vec![bot(1, "bot:calling-station")],
        ..TableSettings::for_big_blind(10)
    }
}

fn bot(seat: usize, agent: &str) -> AiSeat {
    AiSeat {
        seat,
        agent: agent.to_owned(),
        stack: BUY_IN,
    }
}

/// An event published to the room, and when the test saw it.
struct Seen {
    seq: u64,
    event: Event,
    /// The whole message (`clock` and `legal` ride along with `turn_started`).
    json: Value,
    at: Instant,
}

/// The room's next event (other room messages are skipped). Waits at most
/// an hour of virtual time, so a table that never publishes fails the test
/// instead of hanging it.
async fn next_event(rx: &mut broadcast::Receiver<Arc<Delta>>) -> Seen {
    loop {
        let delta = tokio::time::timeout(Duration::from_secs(3600), rx.recv())
            .await
            .expect("an event within an hour")
            .unwrap_or_else(|e: RecvError| panic!("room closed or lagging: {e}"));
        if let Some(seen) = decode(&delta) {
            return seen;
        }
    }
}

/// The events already published and not yet read, without waiting.
fn published(rx: &mut broadcast::Receiver<Arc<Delta>>) -> Vec<Seen> {
    let mut seen = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(delta) => seen.extend(decode(&delta)),
            Err(TryRecvError::Empty) => return seen,
            Err(e) => panic!("room closed or lagging: {e}"),
        }
    }
}

fn decode(delta: &Delta) -> Option<Seen> {
    let seq = delta.seq?;
    let json: Value = serde_json::from_str(&delta.json).expect("a JSON message");
    let event = serde_json::from_value(json["event"].clone()).expect("an event");
    Some(Seen {
        seq,
        event,
        json,
        at: Instant::now(),
    })
}

/// Reads events until one satisfies `want`.
async fn until(rx: &mut broadcast::Receiver<Arc<Delta>>, want: impl Fn(&Event) -> bool) -> Seen {
    for _ in 0..10_000 {
        let seen = next_event(rx).await;
        if want(&seen.event) {
            return seen;
        }
    }
    panic!("no such event in 10,000");
}

fn turn_of(seat: usize) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::TurnStarted { seat: s } if *s == seat)
}

/// What the clock does for a seat out of time: check if free, else fold.
fn timeout_action(turn: &Seen) -> Action {
    if turn.json["legal"]["check"] == true {
        Action::Check
    } else {
        Action::Fold
    }
}

/// The seat's action, asserting who acted and whether the clock decided.
fn action_of(seen: &Seen, seat: usize, timed_out: bool) -> Action {
    match &seen.event {
        Event::ActionTaken {
            seat: s,
            action,
            timed_out: t,
            ..
        } if *s == seat && *t == timed_out => *action,
        other => panic!("expected seat {seat} to act (timed out: {timed_out}), got {other:?}"),
    }
}

/// A seat that does not act is acted for when its turn clock and then its
/// time bank run out, not a millisecond before; the bank is then spent, so
/// its next turn lasts the turn clock alone.
#[tokio::test(start_paused = true)]
async fn a_silent_player_is_timed_out_exactly_when_clock_and_bank_run_out() {
    let h = Harness::new(Timing::default());
    let table = h.table(2, heads_up(2_000, 3_000, Pace::Realtime)).await;
    let mut room = table.subscribe(None, true, None, 10).expect("watch").rx;
    let ann = h.sit(&table, "ann", 0, true).await;

    let turn = until(&mut room, turn_of(0)).await;
    assert_eq!(turn.json["clock"]["seat"], 0);
    assert_eq!(turn.json["clock"]["remaining_ms"], 2_000);
    assert_eq!(turn.json["clock"]["time_bank_ms"], 3_000);
    let deadline = turn.at + Duration::from_millis(2_000 + 3_000);

    sleep_until(deadline - MS).await;
    assert!(
        published(&mut room).is_empty(),
        "nothing happens before the deadline"
    );
    assert_eq!(h.metrics().timeouts.load(Ordering::Relaxed), 0);

    let acted = next_event(&mut room).await;
    assert_eq!(acted.at, deadline, "timed out exactly at the deadline");
    assert_eq!(action_of(&acted, 0, true), timeout_action(&turn));
    assert_eq!(
        h.stored(&table, acted.seq).await,
        acted.event,
        "the timeout is in the log"
    );
    assert_eq!(h.metrics().timeouts.load(Ordering::Relaxed), 1);
    assert_eq!(table.seat_of(&ann), Some(0), "a connected player keeps the seat");

    // The bank is spent: the next turn ends with the turn clock.
    let turn = until(&mut room, turn_of(0)).await;
    assert_eq!(turn.json["clock"]["time_bank_ms"], 0);
    let acted = next_event(&mut room).await;
    assert_eq!(acted.at - turn.at, Duration::from_millis(2_000));
    assert_eq!(action_of(&acted, 0, true), timeout_action(&turn));
    assert_eq!(h.metrics().timeouts.load(Ordering::Relaxed), 2);
}

/// An action a millisecond before the deadline stops the clock: nothing is
/// timed out at the deadline, and the time bank keeps what was not used.
#[tokio::test(start_paused = true)]
async fn acting_just_before_the_deadline_stops_the_clock() {
    let h = Harness::new(Timing::default());
    let table = h.table(2, heads_up(2_000, 3_000, Pace::Realtime)).await;
    let mut room = table.subscribe(None, true, None, 10).expect("watch").rx;
    let ann = h.sit(&table, "ann", 0, true).await;

    let turn = until(&mut room, turn_of(0)).await;
    let deadline = turn.at + Duration::from_millis(5_000);
    sleep_until(deadline - MS).await;
    let action = if turn.json["legal"]["check"] == true {
        Action::Check
    } else {
        Action::Call
    };
    let seq = table
        .request(|reply| TableCommand::Act {
            player_id: ann.clone(),
            action,
            turn: Some(turn.seq),
            reply,
        })
        .await
        .expect("act in time");
    let acted = until(&mut room, |e| matches!(e, Event::ActionTaken { .. })).await;
    assert_eq!(acted.at, deadline - MS);
    assert!(acted.seq <= seq, "acked with the last seq the action produced");
    assert_eq!(action_of(&acted, 0, false), action);

    // Up to Ann's next turn, nobody times out (every event is seen when it
    // is published, so none hides at the old deadline).
    let next = loop {
        let seen = next_event(&mut room).await;
        assert!(
            !matches!(seen.event, Event::ActionTaken { timed_out: true, .. }),
            "timed out {:?} after the action: {:?}",
            seen.at - acted.at,
            seen.event
        );
        if turn_of(0)(&seen.event) {
            break seen;
        }
    };
    // 2,999 ms of the bank were used: 1 ms is left, and the clock counts it.
    assert_eq!(next.json["clock"]["time_bank_ms"], 1);
    let timed_out = next_event(&mut room).await;
    assert_eq!(timed_out.at - next.at, Duration::from_millis(2_001));
    assert_eq!(action_of(&timed_out, 0, true), timeout_action(&next));
    assert!(
        timed_out.at > deadline,
        "the first timeout is after the old deadline"
    );
    assert_eq!(h.metrics().timeouts.load(Ordering::Relaxed), 1);
    assert_eq!(next.json["clock"]["turn"], next.seq, "a turn is named by its seq");

    // A late answer naming the turn that timed out, and a resend of the
    // action taken before, are refused: neither lands on a later turn.
    for stale in [turn.seq, next.seq] {
        let refused = table
            .request(|reply| TableCommand::Act {
                player_id: ann.clone(),
                action: Action::Fold,
                turn: Some(stale),
                reply,
            })
            .await;
        assert!(
            matches!(refused, Err(server::table::error::TableError::StaleTurn { turn, .. }) if turn == stale),
            "{refused:?}"
        );
    }
}

/// A player whose connections all closed is timed out and sat out at their
/// turn, keeps the seat through the grace period, and exactly when it ends
/// is stood up with the stack credited to their balance, once.
#[tokio::test(start_paused = true)]
async fn a_disconnected_player_is_stood_up_after_the_grace_period_and_paid() {
    let grace = Duration::from_secs(60);
    let h = Harness::new(Timing {
        disconnect_grace: grace,
        ..Timing::default()
    });
    let table = h.table(2, heads_up(2_000, 0, Pace::Realtime)).await;
    let mut room = table.subscribe(None, true, None, 10).expect("watch").rx;
    let ann = h.sit(&table, "ann", 0, true).await;
    assert_eq!(h.balance(&ann).await, BALANCE - BUY_IN);

    let turn = until(&mut room, turn_of(0)).await;
    presence(&table, &ann, Presence::Left).await;
    let gone = Instant::now();
    assert_eq!(gone, turn.at);
    let acted = next_event(&mut room).await;
    assert_eq!(acted.at - turn.at, Duration::from_millis(2_000));
    assert_eq!(action_of(&acted, 0, true), timeout_action(&turn));
    // Disconnected, she is sat out at once (after the rest of what her timeout decided).
    let sat_out = until(&mut room, |e| matches!(e, Event::SatOut { .. })).await;
    assert_eq!(sat_out.event, Event::SatOut { seat: 0 });
    assert_eq!(sat_out.at, acted.at);

    sleep_until(gone + grace - MS).await;
    let before: Vec<Event> = published(&mut room).into_iter().map(|s| s.event).collect();
    assert!(
        !before.iter().any(|e| matches!(e, Event::SeatLeft { .. })),
        "stood up before the grace period ended: {before:?}"
    );
    assert_eq!(table.seat_of(&ann), Some(0));

    let left = until(&mut room, |e| matches!(e, Event::SeatLeft { .. })).await;
    assert_eq!(
        left.at,
        gone + grace,
        "stood up exactly when the grace period ends"
    );
    let Event::SeatLeft { seat: 0, stack } = left.event else {
        panic!("expected seat 0 to leave, got {:?}", left.event);
    };
    assert!(stack > 0 && stack < 2 * BUY_IN, "stack {stack}");
    assert_eq!(table.seat_of(&ann), None);
    assert_eq!(h.stored(&table, left.seq).await, left.event);
    // The cash-out runs beside the table, once the seat's departure is stored.
    tokio::time::sleep(MS).await;
    assert_eq!(h.balance(&ann).await, BALANCE - BUY_IN + stack);
    assert!(
        !h.repo
            .cash_out(&table.id, left.seq, &ann, stack, schema::now_ms())
            .await
            .expect("cash-out"),
        "that SeatLeft is already paid"
    );
    assert!(
        h.repo
            .pending_buy_ins(&table.id)
            .await
            .expect("buy-ins")
            .is_empty()
    );
}

/// At a realtime table the next hand is dealt exactly `between_hands` after
/// the last one ended; at an auto-pace table, one throttle step after it.
#[tokio::test(start_paused = true)]
async fn hands_follow_each_other_after_the_pause_between_hands() {
    let pause = Duration::from_secs(7);
    let h = Harness::new(Timing {
        between_hands: pause,
        ..Timing::default()
    });
    let throttled = Duration::from_millis(250);
    for (pace, expected) in [(Pace::Realtime, pause), (Pace::Auto, throttled)] {
        let settings = TableSettings {
            pace,
            actions_per_sec: (pace == Pace::Auto).then_some(4.0),
            ai_seats: vec![bot(0, "bot:calling-station"), bot(1, "bot:tight-aggressive")],
            ..TableSettings::for_big_blind(10)
        };
        let table = h.table(2, settings).await;
        let mut room = table.subscribe(None, true, None, 10).expect("watch").rx;
        for _ in 0..3 {
            let ended = until(&mut room, |e| matches!(e, Event::HandEnded { .. })).await;
            let Event::HandEnded { hand, .. } = ended.event else {
                unreachable!()
            };
            let dealt = until(&mut room, |e| matches!(e, Event::DeckShuffled { .. })).await;
            assert!(
                matches!(dealt.event, Event::DeckShuffled { hand: next, .. } if next == hand + 1),
                "{:?}",
                dealt.event
            );
            assert_eq!(dealt.at - ended.at, expected, "{pace:?} pace after hand {hand}");
        }
    }
}

/// Nobody seated or watching: the table leaves memory exactly `idle_ttl`
/// after it was loaded. Watched, it stays; the TTL counts again from the
/// moment the last watcher leaves.
#[tokio::test(start_paused = true)]
async fn an_idle_table_leaves_memory_after_the_idle_ttl() {
    let ttl = Duration::from_secs(30);
    let h = Harness::new(Timing {
        idle_ttl: ttl,
        ..Timing::default()
    });
    let evicted = || h.metrics().tables_evicted.load(Ordering::Relaxed);

    // An empty table nobody looks at.
    let table = h.table(6, TableSettings::for_big_blind(10)).await;
    let loaded = Instant::now();
    sleep_until(loaded + ttl - MS).await;
    assert!(
        h.tables.get(&table.id).is_some(),
        "still live just before the TTL"
    );
    sleep_until(loaded + ttl + MS).await;
    assert!(h.tables.get(&table.id).is_none(), "gone just after the TTL");
    assert_eq!(evicted(), 1);

    // A table of bots playing hands: watched, it stays; the TTL counts from
    // the moment the last watcher leaves.
    let settings = TableSettings {
        ai_seats: vec![bot(0, "bot:calling-station"), bot(1, "bot:random")],
        ..TableSettings::for_big_blind(10)
    };
    let table = h.table(2, settings).await;
    let loaded = Instant::now();
    let watcher = table.subscribe(None, true, None, 10).expect("watch");
    sleep_until(loaded + 3 * ttl).await;
    assert!(h.tables.get(&table.id).is_some(), "a watched table stays");
    drop(watcher);
    let left = Instant::now();
    sleep_until(left + ttl - MS).await;
    assert!(
        h.tables.get(&table.id).is_some(),
        "the TTL counts from the last watcher"
    );
    sleep_until(left + ttl + MS).await;
    assert!(h.tables.get(&table.id).is_none());
    assert_eq!(evicted(), 2);

    // An empty table, watched for a while: nothing happens there, so only
    // the watcher leaving can start the TTL (it once waited for the task's
    // hourly wake-up, 59 minutes too late).
    let table = h.table(6, TableSettings::for_big_blind(10)).await;
    let watcher = table.subscribe(None, true, None, 10).expect("watch");
    sleep_until(Instant::now() + 3 * ttl).await;
    assert!(h.tables.get(&table.id).is_some(), "a watched table stays");
    drop(watcher);
    let left = Instant::now();
    sleep_until(left + ttl - MS).await;
    assert!(h.tables.get(&table.id).is_some());
    sleep_until(left + ttl + MS).await;
    assert!(
        h.tables.get(&table.id).is_none(),
        "gone a TTL after the last watcher left"
    );
    assert_eq!(evicted(), 3);
}
