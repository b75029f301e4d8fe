//! The conformance suite: one generic body per feature, run against SQLite,
//! the in-memory store and (when `TEST_DATABASE_URL` is set) Postgres.

mod helpers;

use std::time::Duration;

use game_core::{Event, Visibility};
use helpers::{PgSchema, event, events, sqlite_repo, table};
use schema::{
    ChatMessage, DecisionRow, EventWriter, ExperimentBatch, ExperimentHandRow, ExperimentRecord,
    ExperimentStatus, HandRecord, PlayerRecord, RecordQuery, Repository, RowKind, StoreError, TableStatus,
    UsageRow, WriterConfig,
};

/// Instantiates `$body(repo)` once per backend.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (repo, _db) = super::sqlite_repo().await;
                    super::$name(repo).await;
                }
            )*
        }
        /// The in-memory store under tokio's paused time: every wait of the
        /// suite (the writer's linger, its idle sweep, the tests' sleeps)
        /// passes on the virtual clock, which a store that never leaves the
        /// runtime keeps exact.
        mod memory {
            $(
                #[tokio::test(start_paused = true)]
                async fn $name() {
                    super::$name(schema::MemoryRepo::new()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(pg) = super::PgSchema::new(concat!("postgres::", stringify!($name))) else {
                        return;
                    };
                    let repo = pg.connect().await;
                    super::$name(repo.clone()).await;
                    repo.close().await;
                }
            )*
        }
    };
}

conformance!(
    players,
    tables,
    tables_page_by_id,
    events_round_trip,
    events_are_unique_and_need_a_table,
    writer_batches_many_tables,
    writer_rejects_gaps_and_skips_resends,
    writer_restart_resumes,
    writer_isolates_a_bad_append,
    writer_forgets_tables,
    writer_forgets_idle_tables,
    hands,
    histories_commit_with_their_events,
    tables_keep_their_deal_key,
    snapshots_keep_the_latest,
    chat,
    usage,
    decisions_and_retention,
    experiments,
    experiment_batches,
    closed_store_reports_errors,
    balances,
    table_settings,
    reserve_buy_in,
    concurrent_buy_ins_never_overdraw,
    confirm_buy_in_is_idempotent,
    refund_buy_in_credits_once,
    pending_buy_ins_by_table,
    cash_out_exactly_once,
);

fn player(id: &str, token_hash: &str) -> PlayerRecord {
    PlayerRecord {
        id: id.to_owned(),
        display_name: format!("Player {id}"),
        token_hash: token_hash.to_owned(),
        created_at_ms: 1,
        balance: 0,
    }
}

/// A player holding `balance` chips in their account.
fn rich_player(id: &str, balance: u64) -> PlayerRecord {
    PlayerRecord {
        balance,
        ..player(id, &format!("hash-{id}"))
    }
}

/// A player's balance, as the store reads it back.
async fn balance_of<R: Repository>(repo: &R, id: &str) -> u64 {
    repo.load_player(id).await.unwrap().balance
}

async fn players<R: Repository>(repo: R) {
    repo.create_player(&player("p1", "h1")).await.unwrap();
    repo.create_player(&player("p2", "h2")).await.unwrap();
    assert!(matches!(
        repo.create_player(&player("p1", "h3")).await,
        Err(StoreError::Duplicate { what: "player", .. })
    ));
    assert!(matches!(
        repo.create_player(&player("p3", "h1")).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(
        repo.player_by_token_hash("h2").await.unwrap(),
        Some(player("p2", "h2"))
    );
    assert_eq!(repo.player_by_token_hash("nope").await.unwrap(), None);
    assert_eq!(repo.load_player("p1").await.unwrap(), player("p1", "h1"));
    assert!(matches!(
        repo.load_player("p9").await,
        Err(StoreError::NotFound {
            kind: RowKind::Player,
            ..
        })
    ));
}

async fn tables<R: Repository>(repo: R) {
    let mut a = table("a");
    let mut b = table("b");
    b.created_at_ms += 1;
    b.config.ante = 1;
    repo.create_table(&a).await.unwrap();
    repo.create_table(&b).await.unwrap();
    assert!(matches!(
        repo.create_table(&a).await,
        Err(StoreError::Duplicate { what: "table", .. })
    ));
    assert_eq!(repo.load_table("b").await.unwrap(), b);
    assert_eq!(repo.list_tables(None).await.unwrap(), vec![a.clone(), b.clone()]);
    repo.set_table_status("a", TableStatus::Running).await.unwrap();
    a.status = TableStatus::Running;
    assert_eq!(
        repo.list_tables(Some(TableStatus::Running)).await.unwrap(),
        vec![a]
    );
    assert_eq!(repo.list_tables(Some(TableStatus::Open)).await.unwrap(), vec![b]);
    assert!(matches!(
        repo.set_table_status("zz", TableStatus::Closed).await,
        Err(StoreError::NotFound {
            kind: RowKind::Table,
            ..
        })
    ));
    assert!(matches!(
        repo.load_table("zz").await,
        Err(StoreError::NotFound { .. })
    ));
}

/// The ids of a page of tables.
fn ids(tables: &[schema::TableRecord]) -> Vec<&str> {
    tables.iter().map(|t| t.id.as_str()).collect()
}

async fn tables_page_by_id<R: Repository>(repo: R) {
    // Created out of id order, and one of them closed: pages follow the id.
    for (n, id) in ["pc", "pa", "pe", "pb", "pd", "pbb"].into_iter().enumerate() {
        let mut t = table(id);
        t.created_at_ms += n as u64;
        repo.create_table(&t).await.unwrap();
    }
    repo.set_table_status("pbb", TableStatus::Closed).await.unwrap();
    repo.set_table_status("pd", TableStatus::Running).await.unwrap();
    assert!(
        repo.list_tables_page(None, 10, false)
            .await
            .unwrap()
            .iter()
            .all(|t| t.status != TableStatus::Closed)
    );

    // Walk the lobby two at a time, each page starting after the last id seen.
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = repo.list_tables_page(after.as_deref(), 2, false).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        pages.push(ids(&page).into_iter().map(str::to_owned).collect::<Vec<_>>());
    }
    assert_eq!(pages, vec![vec!["pa", "pb"], vec!["pc", "pd"], vec!["pe"]]);
    // Whole records, as `load_table` reads them.
    let first = repo.list_tables_page(None, 1, false).await.unwrap();
    assert_eq!(first, vec![repo.load_table("pa").await.unwrap()]);
    // Closed tables only when asked for.
    assert_eq!(
        ids(&repo.list_tables_page(Some("pb"), 2, true).await.unwrap()),
        vec!["pbb", "pc"]
    );
    assert_eq!(
        ids(&repo.list_tables_page(Some("pb"), 2, false).await.unwrap()),
        vec!["pc", "pd"]
    );
    // The cursor is a position, not a stored id.
    assert_eq!(
        ids(&repo.list_tables_page(Some("pbz"), 10, false).await.unwrap()),
        vec!["pc", "pd", "pe"]
    );
    assert!(
        repo.list_tables_page(Some("pe"), 10, true)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        repo.list_tables_page(Some("zz"), 10, true)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(repo.list_tables_page(None, 0, true).await.unwrap().is_empty());
    assert_eq!(
        repo.list_tables_page(None, u64::MAX, true).await.unwrap().len(),
        6
    );
    // A table created behind the cursor shows up on a later page, not twice.
    repo.create_table(&table("pf")).await.unwrap();
    assert_eq!(
        ids(&repo.list_tables_page(Some("pd"), 10, false).await.unwrap()),
        vec!["pe", "pf"]
    );
}

async fn events_round_trip<R: Repository>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    repo.create_table(&table("u")).await.unwrap();
    assert_eq!(repo.last_seq("t").await.unwrap(), 0);
    let sent = events("t", 1, 300);
    repo.append_events(&sent).await.unwrap();
    repo.append_events(&events("u", 1, 5)).await.unwrap();
    repo.append_events(&[]).await.unwrap();
    assert_eq!(repo.last_seq("t").await.unwrap(), 300);
    assert_eq!(repo.events_since("t", 0, 1000).await.unwrap(), sent);
    assert_eq!(
        repo.events_since("t", 290, 5).await.unwrap(),
        sent[290..295].to_vec()
    );
    assert!(repo.events_since("t", 300, 10).await.unwrap().is_empty());
    assert!(repo.events_since("nobody", 0, 10).await.unwrap().is_empty());

    let stored = &repo.events_since("t", 0, 1).await.unwrap()[0];
    assert_eq!(stored.kind, "deck_shuffled");
    assert_eq!(stored.visibility, "server");
    assert!(matches!(stored.event().unwrap(), Event::DeckShuffled { .. }));
    let second = &repo.events_since("t", 1, 1).await.unwrap()[0];
    assert_eq!(second.kind, "chips_added");
    assert_eq!(second.visibility, "public");
    assert_eq!(second.event().unwrap().visibility(), Visibility::Public);
}

async fn events_are_unique_and_need_a_table<R: Repository>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    repo.append_events(&events("t", 1, 3)).await.unwrap();
    // A batch holding one stored (table, seq) fails as a whole.
    assert!(matches!(
        repo.append_events(&events("t", 3, 6)).await,
        Err(StoreError::Duplicate { what: "event", .. })
    ));
    assert_eq!(repo.last_seq("t").await.unwrap(), 3);
    assert!(matches!(
        repo.append_events(&events("ghost", 1, 2)).await,
        Err(StoreError::MissingReference { what: "event", .. })
    ));
}

async fn writer_batches_many_tables<R: Repository>(repo: R) {
    const TABLES: usize = 50;
    const EVENTS: u64 = 40;
    for t in 0..TABLES {
        repo.create_table(&table(&format!("w{t}"))).await.unwrap();
    }
    let (writer, task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
    let mut tasks = Vec::new();
    for t in 0..TABLES {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("w{t}");
            for seq in 1..=EVENTS {
                let receipt = writer.append(vec![event(&id, seq)]).await.unwrap();
                if seq % 10 == 0 {
                    // The end of a hand: wait until it is durable.
                    receipt.durable().await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    writer.flush().await.unwrap();
    let stats = writer.stats();
    assert_eq!(stats.events, TABLES as u64 * EVENTS);
    assert!(
        stats.batches < stats.events / 4,
        "group commit should batch: {stats:?}"
    );
    drop(writer);
    task.join().await.unwrap();
    for t in 0..TABLES {
        let id = format!("w{t}");
        assert_eq!(
            repo.events_since(&id, 0, 1000).await.unwrap(),
            events(&id, 1, EVENTS)
        );
    }
}

async fn writer_rejects_gaps_and_skips_resends<R: Repository>(repo: R) {
    repo.create_table(&table("g")).await.unwrap();
    let (writer, _task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
    writer.append_durable(events("g", 1, 5)).await.unwrap();
    let gap = writer.append_durable(events("g", 7, 8)).await;
    assert!(
        matches!(gap, Err(StoreError::SequenceGap { ref table_id, expected: 6, got: 7 }) if table_id == "g"),
        "{gap:?}"
    );
    // A request that overlaps what is stored only adds the new part.
    writer.append_durable(events("g", 3, 8)).await.unwrap();
    // A request with a hole in the middle is rejected as a whole.
    let mut holed = events("g", 9, 10);
    holed.push(event("g", 12));
    assert!(matches!(
        writer.append_durable(holed).await,
        Err(StoreError::SequenceGap {
            expected: 11,
            got: 12,
            ..
        })
    ));
    assert!(matches!(
        writer.append_durable(vec![event("g", 0)]).await,
        Err(StoreError::Encode { .. })
    ));
    assert_eq!(repo.events_since("g", 0, 100).await.unwrap(), events("g", 1, 8));
}

async fn writer_restart_resumes<R: Repository>(repo: R) {
    repo.create_table(&table("r")).await.unwrap();
    let (writer, task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
    writer.append_durable(events("r", 1, 20)).await.unwrap();
    drop(writer);
    task.join().await.unwrap();
    // A new writer knows nothing; the caller re-sends from its last ack.
    let (writer, _task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
    writer.append_durable(events("r", 15, 30)).await.unwrap();
    assert!(matches!(
        writer.append_durable(events("r", 32, 33)).await,
        Err(StoreError::SequenceGap { expected: 31, .. })
    ));
    assert_eq!(repo.events_since("r", 0, 100).await.unwrap(), events("r", 1, 30));
}

async fn writer_isolates_a_bad_append<R: Repository>(repo: R) {
    repo.create_table(&table("ok1")).await.unwrap();
    repo.create_table(&table("ok2")).await.unwrap();
    // Long linger so the three appends share one batch. The commit hook
    // (what a cluster node publishes to its peers) sees exactly the events
    // that were stored, never the rejected ones.
    let committed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = committed.clone();
    let config = WriterConfig {
        flush_after: Duration::from_millis(50),
        on_commit: Some(schema::CommitHook(std::sync::Arc::new(
            move |events: &[schema::EventRecord]| {
                seen.lock()
                    .unwrap()
                    .extend(events.iter().map(|e| (e.table_id.clone(), e.seq)));
            },
        ))),
        ..WriterConfig::default()
    };
    let (writer, _task) = EventWriter::spawn(repo.clone(), config);
    let a = writer.append(events("ok1", 1, 3)).await.unwrap();
    let bad = writer.append(events("missing", 1, 3)).await.unwrap();
    let b = writer.append(events("ok2", 1, 3)).await.unwrap();
    a.durable().await.unwrap();
    assert!(matches!(
        bad.durable().await,
        Err(StoreError::MissingReference { .. })
    ));
    b.durable().await.unwrap();
    assert_eq!(repo.last_seq("ok1").await.unwrap(), 3);
    assert_eq!(repo.last_seq("ok2").await.unwrap(), 3);
    let mut committed = committed.lock().unwrap().clone();
    committed.sort();
    let expected: Vec<(String, u64)> = ["ok1", "ok2"]
        .iter()
        .flat_map(|t| (1..=3).map(move |seq| (t.to_string(), seq)))
        .collect();
    assert_eq!(committed, expected, "the hook saw what was committed, once");
}

/// Waits (up to 5 s) until the writer keeps exactly `n` table positions.
async fn tracked_tables_become(writer: &EventWriter, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while writer.stats().tracked_tables != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the writer keeps {} tables, expected {n}",
            writer.stats().tracked_tables
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// After `forget`, a table's position is dropped; a table that appends again
/// gets its position back from the store, with the same checks as before.
async fn writer_forgets_tables<R: Repository>(repo: R) {
    const TABLES: u64 = 6;
    for t in 0..TABLES {
        repo.create_table(&table(&format!("f{t}"))).await.unwrap();
    }
    let (writer, _task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
    for t in 0..TABLES {
        writer
            .append_durable(events(&format!("f{t}"), 1, 3))
            .await
            .unwrap();
    }
    assert_eq!(writer.stats().tracked_tables, TABLES);
    for t in 0..TABLES / 2 {
        writer.forget(&format!("f{t}"));
    }
    writer.forget("never-written");
    tracked_tables_become(&writer, TABLES / 2).await;
    // Written again: resumes where the store stands.
    writer.append_durable(events("f0", 4, 5)).await.unwrap();
    assert_eq!(writer.stats().tracked_tables, TABLES / 2 + 1);
    // Resends are still skipped and holes still rejected.
    writer.forget("f0");
    writer.forget("f1");
    tracked_tables_become(&writer, TABLES / 2).await;
    writer.append_durable(events("f0", 2, 6)).await.unwrap();
    let gap = writer.append_durable(events("f1", 5, 6)).await;
    assert!(
        matches!(gap, Err(StoreError::SequenceGap { ref table_id, expected: 4, got: 5 }) if table_id == "f1"),
        "{gap:?}"
    );
    writer.append_durable(events("f1", 4, 4)).await.unwrap();
    assert_eq!(repo.events_since("f0", 0, 100).await.unwrap(), events("f0", 1, 6));
    assert_eq!(repo.events_since("f1", 0, 100).await.unwrap(), events("f1", 1, 4));
    // Forgetting every table empties the bookkeeping.
    for t in 0..TABLES {
        writer.forget(&format!("f{t}"));
    }
    tracked_tables_become(&writer, 0).await;
}

/// Without `forget`, positions of tables that stopped appending go after
/// `forget_idle_after`, even while nothing else is written; live tables keep theirs.
async fn writer_forgets_idle_tables<R: Repository>(repo: R) {
    for id in ["i0", "i1", "busy"] {
        repo.create_table(&table(id)).await.unwrap();
    }
    let config = WriterConfig {
        forget_idle_after: Duration::from_millis(500),
        ..WriterConfig::default()
    };
    let (writer, _task) = EventWriter::spawn(repo.clone(), config);
    writer.append_durable(events("i0", 1, 3)).await.unwrap();
    writer.append_durable(events("i1", 1, 3)).await.unwrap();
    assert_eq!(writer.stats().tracked_tables, 2);
    // `busy` appends every 50 ms for 1.5 s: it stays while the others go.
    for seq in 1..=30 {
        writer.append_durable(vec![event("busy", seq)]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(writer.stats().tracked_tables, 1, "only the busy table is kept");
    // Nothing is written now: the idle sweep still empties it.
    tracked_tables_become(&writer, 0).await;
    // Idle tables come back with their stored position.
    let gap = writer.append_durable(events("i0", 5, 5)).await;
    assert!(
        matches!(
            gap,
            Err(StoreError::SequenceGap {
                expected: 4,
                got: 5,
                ..
            })
        ),
        "{gap:?}"
    );
    writer.append_durable(events("i0", 1, 6)).await.unwrap();
    writer.append_durable(events("busy", 31, 31)).await.unwrap();
    assert_eq!(repo.events_since("i0", 0, 100).await.unwrap(), events("i0", 1, 6));
    assert_eq!(repo.events_since("i1", 0, 100).await.unwrap(), events("i1", 1, 3));
    assert_eq!(
        repo.events_since("busy", 0, 100).await.unwrap(),
        events("busy", 1, 31)
    );
}

fn hand(table_id: &str, hand: u64) -> HandRecord {
    HandRecord {
        table_id: table_id.to_owned(),
        hand,
        seed: u64::MAX - hand,
        players: r#"[{"seat":0,"stack":200},{"seat":1,"stack":200}]"#.to_owned(),
        pots: r#"[{"amount":40}]"#.to_owned(),
        winners: r#"[{"seat":1,"amount":40}]"#.to_owned(),
        phh: "variant = 'NT'\nactions = ['d dh p1 AsKd']\n".to_owned(),
        first_seq: hand * 10,
        last_seq: hand * 10 + 9,
        ended_at_ms: 5,
        reasons: format!(r#"[{{"seat":1,"seq":{},"reason":"pot odds"}}]"#, hand * 10 + 3),
    }
}

async fn hands<R: Repository>(repo: R) {
    repo.create_table(&table("h")).await.unwrap();
    for n in 1..=5 {
        repo.record_hand(&hand("h", n)).await.unwrap();
    }
    assert!(matches!(
        repo.record_hand(&hand("h", 2)).await,
        Err(StoreError::Duplicate { what: "hand", .. })
    ));
    assert_eq!(repo.load_hand("h", 3).await.unwrap(), hand("h", 3));
    assert!(matches!(
        repo.load_hand("h", 9).await,
        Err(StoreError::NotFound { .. })
    ));
    let listed = repo.list_hands("h", 2, 2).await.unwrap();
    assert_eq!(listed, vec![hand("h", 3), hand("h", 4)]);
    assert!(matches!(
        repo.record_hand(&hand("nope", 1)).await,
        Err(StoreError::MissingReference { .. })
    ));
}

/// A `hand_ended` event of hand `hand` at `seq`.
fn hand_end(table_id: &str, seq: u64, hand: u64) -> schema::EventRecord {
    let e = Event::HandEnded {
        hand,
        stacks: game_core::event::SeatList::new(),
    };
    schema::EventRecord::new(table_id, seq, hand, &e).expect("encode event")
}

async fn histories_commit_with_their_events<R: Repository>(repo: R) {
    repo.create_table(&table("h")).await.unwrap();
    let mut first = events("h", 1, 4);
    first.push(hand_end("h", 5, 1));
    repo.append_batch(&first, &[hand("h", 1)]).await.unwrap();
    assert_eq!(repo.load_hand("h", 1).await.unwrap(), hand("h", 1));
    assert_eq!(repo.unrecorded_hands(10).await.unwrap(), vec![]);

    // A batch that fails (a duplicate seq) stores neither events nor history.
    let mut bad = events("h", 5, 6);
    bad.push(hand_end("h", 7, 2));
    assert!(matches!(
        repo.append_batch(&bad, &[hand("h", 2)]).await,
        Err(StoreError::Duplicate { what: "event", .. })
    ));
    assert!(matches!(
        repo.load_hand("h", 2).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(repo.last_seq("h").await.unwrap(), 5);

    // A history already recorded is kept when a batch carries it again.
    let mut changed = hand("h", 1);
    changed.phh = "changed".to_owned();
    repo.append_batch(&events("h", 6, 6), &[changed]).await.unwrap();
    assert_eq!(repo.load_hand("h", 1).await.unwrap(), hand("h", 1));

    // Hands ended in the log without a history are found, in order, across tables.
    repo.create_table(&table("g")).await.unwrap();
    repo.append_events(&[hand_end("h", 7, 3), hand_end("h", 8, 2)])
        .await
        .unwrap();
    repo.append_events(&[hand_end("g", 1, 1)]).await.unwrap();
    assert_eq!(
        repo.unrecorded_hands(10).await.unwrap(),
        vec![("g".to_owned(), 1), ("h".to_owned(), 2), ("h".to_owned(), 3)]
    );
    assert_eq!(repo.unrecorded_hands(1).await.unwrap().len(), 1);
    // Histories alone (no events) are written too.
    repo.append_batch(&[], &[hand("g", 1), hand("h", 2)])
        .await
        .unwrap();
    assert_eq!(
        repo.unrecorded_hands(10).await.unwrap(),
        vec![("h".to_owned(), 3)]
    );

    // Through the writer: events and histories land together.
    let (writer, task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
    writer
        .append_with_hands(vec![hand_end("h", 9, 4)], vec![hand("h", 4), hand("h", 3)])
        .await
        .unwrap()
        .durable()
        .await
        .unwrap();
    // A resend of stored events still writes the histories it carries.
    let mut five = hand("h", 5);
    five.first_seq = 1;
    writer
        .append_with_hands(vec![hand_end("h", 9, 4)], vec![five.clone()])
        .await
        .unwrap()
        .durable()
        .await
        .unwrap();
    drop(writer);
    task.join().await.unwrap();
    assert_eq!(repo.load_hand("h", 4).await.unwrap(), hand("h", 4));
    assert_eq!(repo.load_hand("h", 5).await.unwrap(), five);
    assert_eq!(repo.unrecorded_hands(10).await.unwrap(), vec![]);
}

async fn snapshots_keep_the_latest<R: Repository>(repo: R) {
    repo.create_table(&table("s")).await.unwrap();
    assert_eq!(repo.latest_snapshot("s").await.unwrap(), None);
    let snapshot = |seq: u64| schema::TableSnapshotRecord {
        table_id: "s".to_owned(),
        seq,
        state: format!(r#"{{"seats":[],"button":null,"hands_started":{seq}}}"#),
        taken_at_ms: seq * 10,
    };
    repo.save_snapshot(&snapshot(100)).await.unwrap();
    assert_eq!(repo.latest_snapshot("s").await.unwrap(), Some(snapshot(100)));
    repo.save_snapshot(&snapshot(250)).await.unwrap();
    // A late, older snapshot does not replace a newer one.
    repo.save_snapshot(&snapshot(180)).await.unwrap();
    assert_eq!(repo.latest_snapshot("s").await.unwrap(), Some(snapshot(250)));
    let mut ghost = snapshot(1);
    ghost.table_id = "ghost".to_owned();
    assert!(matches!(
        repo.save_snapshot(&ghost).await,
        Err(StoreError::MissingReference { .. })
    ));
}

async fn tables_keep_their_deal_key<R: Repository>(repo: R) {
    let mut t = table("k");
    t.deal_key = game_core::DealKey::from_bytes([0xa5; 32]);
    repo.create_table(&t).await.unwrap();
    let loaded = repo.load_table("k").await.unwrap();
    assert_eq!(loaded.deal_key, t.deal_key);
    assert_eq!(loaded.deal_key.hand_seed(9), t.deal_key.hand_seed(9));
}

async fn chat<R: Repository>(repo: R) {
    repo.create_table(&table("c")).await.unwrap();
    repo.create_player(&player("p1", "h1")).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5u64 {
        let m = ChatMessage {
            id: 0,
            table_id: "c".to_owned(),
            player_id: (i % 2 == 0).then(|| "p1".to_owned()),
            author: format!("author {i}"),
            body: format!("gg {i} — ünïcode"),
            at_ms: 100 + i,
        };
        ids.push(repo.add_chat(&m).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let last = repo.recent_chat("c", 3).await.unwrap();
    assert_eq!(last.len(), 3);
    assert_eq!(last[0].body, "gg 2 — ünïcode");
    assert_eq!(last[2].id, ids[4]);
    assert_eq!(last[0].player_id.as_deref(), Some("p1"));
    assert_eq!(last[1].player_id, None);
    let ghost = ChatMessage {
        id: 0,
        table_id: "c".to_owned(),
        player_id: Some("ghost".to_owned()),
        author: "x".to_owned(),
        body: "x".to_owned(),
        at_ms: 1,
    };
    assert!(matches!(
        repo.add_chat(&ghost).await,
        Err(StoreError::MissingReference { .. })
    ));
}

fn usage_row(i: u64, experiment: Option<&str>) -> UsageRow {
    UsageRow {
        at_ms: 1000 + i,
        provider: "openai".to_owned(),
        model: "gpt-test".to_owned(),
        lane: if experiment.is_some() { "bulk" } else { "live" }.to_owned(),
        prompt_tokens: 100 + i,
        completion_tokens: 10,
        cost_usd: 0.25,
        latency_ms: 300,
        queue_wait_ms: 4,
        retries: (i % 3) as u32,
        rate_limited: 1,
        outcome: "ok".to_owned(),
        http_status: Some(200),
        table_id: Some("t1".to_owned()),
        hand: Some(i),
        experiment_id: experiment.map(str::to_owned),
    }
}

async fn usage<R: Repository>(repo: R) {
    let rows: Vec<UsageRow> = (0..6).map(|i| usage_row(i, (i < 4).then_some("x1"))).collect();
    repo.record_usage(&rows).await.unwrap();
    let mut odd = usage_row(9, None);
    odd.http_status = None;
    odd.table_id = None;
    odd.hand = None;
    odd.outcome = "deadline".to_owned();
    repo.record_usage(std::slice::from_ref(&odd)).await.unwrap();

    let all = repo.list_usage(&RecordQuery::default()).await.unwrap();
    assert_eq!(all.len(), 7);
    assert_eq!(all[..6], rows[..]);
    assert_eq!(all[6], odd);
    let x1 = RecordQuery {
        experiment_id: Some("x1".to_owned()),
        ..RecordQuery::default()
    };
    assert_eq!(repo.list_usage(&x1).await.unwrap(), rows[..4].to_vec());
    let limited = RecordQuery {
        table_id: Some("t1".to_owned()),
        limit: Some(2),
        ..RecordQuery::default()
    };
    assert_eq!(repo.list_usage(&limited).await.unwrap(), rows[..2].to_vec());
    let mut other = usage_row(7, None);
    other.provider = "local".to_owned();
    other.model = "smollm2".to_owned();
    other.latency_ms = 900;
    repo.record_usage(std::slice::from_ref(&other)).await.unwrap();
    let by_model = repo.usage_by_model(None).await.unwrap();
    assert_eq!(by_model.len(), 2);
    assert_eq!(
        (by_model[0].provider.as_str(), by_model[0].model.as_str()),
        ("local", "smollm2")
    );
    assert_eq!(by_model[0].calls, 1);
    assert_eq!(by_model[0].max_latency_ms, 900);
    let openai = &by_model[1];
    assert_eq!((openai.calls, openai.failed), (7, 1));
    assert_eq!(openai.completion_tokens, 70);
    assert!((openai.cost_usd - 1.75).abs() < 1e-9);
    assert!((openai.mean_latency_ms - 300.0).abs() < 1e-9);
    let recent = repo.usage_by_model(Some(1004)).await.unwrap();
    assert_eq!(
        recent.iter().map(|m| m.calls).sum::<u64>(),
        4,
        "rows at 1004, 1005, 1007, 1009"
    );
    let totals = repo.usage_totals(&x1).await.unwrap();
    assert_eq!(totals.calls, 4);
    assert_eq!(totals.prompt_tokens, 100 + 101 + 102 + 103);
    assert_eq!(totals.completion_tokens, 40);
    assert!((totals.cost_usd - 1.0).abs() < 1e-9);
    let none = RecordQuery {
        experiment_id: Some("nothing".to_owned()),
        ..RecordQuery::default()
    };
    assert_eq!(repo.usage_totals(&none).await.unwrap().calls, 0);
}

fn decision(at_ms: u64, fallback: bool) -> DecisionRow {
    DecisionRow {
        id: 0,
        at_ms,
        table_id: Some("t1".to_owned()),
        hand: Some(3),
        seat: 2,
        experiment_id: None,
        source: if fallback { "fallback" } else { "model" }.to_owned(),
        prompt: Some(r#"[{"role":"user","content":"your turn"}]"#.to_owned()),
        raw_reply: Some(r#"{"action":"raise","amount":12}"#.to_owned()),
        parsed_action: (!fallback).then(|| r#"{"raise":12}"#.to_owned()),
        fallback_reason: fallback.then(|| "deadline".to_owned()),
        reason: (!fallback).then(|| "strong hand — ünïcode".to_owned()),
        model: (!fallback).then(|| "mock/mock-llm".to_owned()),
        steps: (!fallback).then(|| r#"[{"model":"cloud/big","reason":"rejected"}]"#.to_owned()),
    }
}

async fn decisions_and_retention<R: Repository>(repo: R) {
    let day = 86_400_000;
    let now = 100 * day;
    let rows = vec![
        decision(now - 10 * day, false),
        decision(now - 2 * day, true),
        decision(now, false),
    ];
    repo.record_decisions(&rows).await.unwrap();
    let stored = repo.list_decisions(&RecordQuery::default()).await.unwrap();
    assert_eq!(stored.len(), 3);
    for (s, r) in stored.iter().zip(&rows) {
        assert_eq!(DecisionRow { id: 0, ..s.clone() }, *r);
    }
    // No retention set: captures are kept.
    assert_eq!(repo.capture_retention().await.unwrap(), None);
    assert_eq!(repo.prune_captures(now).await.unwrap(), 0);

    repo.set_capture_retention(Some(Duration::from_millis(7 * day)))
        .await
        .unwrap();
    repo.set_capture_retention(Some(Duration::from_millis(3 * day)))
        .await
        .unwrap();
    assert_eq!(
        repo.capture_retention().await.unwrap(),
        Some(Duration::from_millis(3 * day))
    );
    assert_eq!(repo.prune_captures(now).await.unwrap(), 1);
    assert_eq!(repo.prune_captures(now).await.unwrap(), 0);
    let after = repo.list_decisions(&RecordQuery::default()).await.unwrap();
    assert_eq!(after[0].prompt, None);
    assert_eq!(after[0].raw_reply, None);
    assert_eq!(
        after[0].parsed_action, rows[0].parsed_action,
        "the decision itself stays"
    );
    assert_eq!(after[1].prompt, rows[1].prompt);
    repo.set_capture_retention(None).await.unwrap();
    assert_eq!(repo.capture_retention().await.unwrap(), None);
    let by_table = RecordQuery {
        table_id: Some("t1".to_owned()),
        limit: Some(1),
        ..RecordQuery::default()
    };
    assert_eq!(repo.list_decisions(&by_table).await.unwrap().len(), 1);
}

fn experiment_hand(id: &str, hand: u64) -> ExperimentHandRow {
    ExperimentHandRow {
        experiment_id: id.to_owned(),
        hand,
        deal: hand / 2,
        rotation: hand % 2,
        table_index: 0,
        agents: r#"["a","b"]"#.to_owned(),
        nets: format!("[{hand},-{hand}]"),
        phh: (hand == 0).then(|| "variant = 'NT'".to_owned()),
    }
}

/// A checkpoint, its hands and decisions land together or not at all.
async fn experiment_batches<R: Repository>(repo: R) {
    let x = ExperimentRecord {
        id: "xb".to_owned(),
        spec: "{}".to_owned(),
        status: ExperimentStatus::Running,
        hands_done: 0,
        hands_total: 4,
        results: None,
        created_at_ms: 1,
        updated_at_ms: 1,
    };
    repo.create_experiment(&x).await.unwrap();
    assert_eq!(repo.experiment_checkpoint("xb").await.unwrap(), None);
    let decision = DecisionRow {
        id: 0,
        at_ms: 5,
        table_id: Some("xb:0".to_owned()),
        hand: Some(1),
        seat: 1,
        experiment_id: Some("xb".to_owned()),
        source: "fallback".to_owned(),
        prompt: None,
        raw_reply: None,
        parsed_action: Some(r#"{"type":"fold"}"#.to_owned()),
        fallback_reason: Some("deadline".to_owned()),
        reason: None,
        model: None,
        steps: None,
    };
    let first = ExperimentBatch {
        id: "xb".to_owned(),
        status: None,
        hands_done: 2,
        checkpoint: r#"{"next_deal":1}"#.to_owned(),
        results: None,
        hands: vec![experiment_hand("xb", 0), experiment_hand("xb", 1)],
        decisions: vec![decision.clone()],
        now_ms: 5,
    };
    repo.save_experiment_batch(&first).await.unwrap();
    let loaded = repo.load_experiment("xb").await.unwrap();
    assert_eq!(
        (loaded.status, loaded.hands_done, loaded.updated_at_ms),
        (ExperimentStatus::Running, 2, 5)
    );
    assert_eq!(
        repo.experiment_checkpoint("xb").await.unwrap().as_deref(),
        Some(r#"{"next_deal":1}"#)
    );
    // A batch repeating a stored hand changes nothing at all.
    let clash = ExperimentBatch {
        hands_done: 3,
        checkpoint: r#"{"next_deal":2}"#.to_owned(),
        hands: vec![experiment_hand("xb", 2), experiment_hand("xb", 1)],
        decisions: vec![decision.clone()],
        now_ms: 6,
        ..first.clone()
    };
    assert!(matches!(
        repo.save_experiment_batch(&clash).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(
        repo.experiment_checkpoint("xb").await.unwrap().as_deref(),
        Some(r#"{"next_deal":1}"#)
    );
    assert_eq!(repo.load_experiment("xb").await.unwrap().hands_done, 2);
    let by_experiment = RecordQuery {
        experiment_id: Some("xb".to_owned()),
        ..RecordQuery::default()
    };
    assert_eq!(repo.list_decisions(&by_experiment).await.unwrap().len(), 1);
    let last = ExperimentBatch {
        status: Some(ExperimentStatus::BudgetReached),
        hands_done: 4,
        checkpoint: r#"{"next_deal":2}"#.to_owned(),
        results: Some(r#"{"agents":[]}"#.to_owned()),
        hands: vec![experiment_hand("xb", 2), experiment_hand("xb", 3)],
        decisions: vec![],
        now_ms: 7,
        ..first.clone()
    };
    repo.save_experiment_batch(&last).await.unwrap();
    let done = repo.load_experiment("xb").await.unwrap();
    assert_eq!(done.status, ExperimentStatus::BudgetReached);
    assert!(done.status.is_final());
    assert_eq!(done.results.as_deref(), Some(r#"{"agents":[]}"#));
    let hands = repo.experiment_hands("xb", 1, 2).await.unwrap();
    assert_eq!(hands, vec![experiment_hand("xb", 1), experiment_hand("xb", 2)]);
    assert_eq!(repo.experiment_hands("xb", 0, 100).await.unwrap().len(), 4);
    assert_eq!(
        repo.experiment_hands("xb", 0, 100).await.unwrap()[0]
            .phh
            .as_deref(),
        Some("variant = 'NT'")
    );
    // Paused is a status of its own (the migration widened the check).
    repo.update_experiment("xb", ExperimentStatus::Paused, 4, None, 8)
        .await
        .unwrap();
    assert_eq!(
        repo.load_experiment("xb").await.unwrap().status,
        ExperimentStatus::Paused
    );
    assert!(matches!(
        repo.save_experiment_batch(&ExperimentBatch {
            id: "nope".to_owned(),
            ..last
        })
        .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        repo.experiment_checkpoint("nope").await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn experiments<R: Repository>(repo: R) {
    let x = ExperimentRecord {
        id: "x1".to_owned(),
        spec: r#"{"hands":1000,"agents":["llm","tag"]}"#.to_owned(),
        status: ExperimentStatus::Pending,
        hands_done: 0,
        hands_total: 1000,
        results: None,
        created_at_ms: 10,
        updated_at_ms: 10,
    };
    repo.create_experiment(&x).await.unwrap();
    assert!(matches!(
        repo.create_experiment(&x).await,
        Err(StoreError::Duplicate {
            what: "experiment",
            ..
        })
    ));
    repo.update_experiment("x1", ExperimentStatus::Running, 250, None, 20)
        .await
        .unwrap();
    let loaded = repo.load_experiment("x1").await.unwrap();
    assert_eq!(loaded.status, ExperimentStatus::Running);
    assert_eq!(loaded.hands_done, 250);
    assert_eq!(loaded.updated_at_ms, 20);
    assert_eq!(loaded.results, None);
    repo.update_experiment("x1", ExperimentStatus::Done, 1000, Some(r#"{"bb100":12.5}"#), 30)
        .await
        .unwrap();
    // Progress without results keeps the results already stored.
    repo.update_experiment("x1", ExperimentStatus::Done, 1000, None, 31)
        .await
        .unwrap();
    let done = repo.load_experiment("x1").await.unwrap();
    assert_eq!(done.results.as_deref(), Some(r#"{"bb100":12.5}"#));
    assert_eq!(repo.list_experiments().await.unwrap(), vec![done]);
    assert!(matches!(
        repo.update_experiment("x9", ExperimentStatus::Failed, 0, None, 1)
            .await,
        Err(StoreError::NotFound {
            kind: RowKind::Experiment,
            ..
        })
    ));
    assert!(matches!(
        repo.load_experiment("x9").await,
        Err(StoreError::NotFound { .. })
    ));
}

/// Calls on a store that went away fail with an error that names the operation.
async fn closed_store_reports_errors<R: Repository>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    let (writer, _task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
    writer.append_durable(events("t", 1, 3)).await.unwrap();
    close(&repo).await;
    let err = writer.append_durable(events("t", 4, 5)).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Database {
                op: "append_events",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("append_events"), "{err}");
    let err = repo.load_table("t").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Database { op: "load_table", .. }),
        "{err:?}"
    );
}

/// Closes whichever backend this is.
async fn close<R: Repository>(repo: &R) {
    let any: &dyn std::any::Any = repo;
    if let Some(r) = any.downcast_ref::<schema::SqliteRepo>() {
        r.close().await;
    } else if let Some(r) = any.downcast_ref::<schema::PgRepo>() {
        r.close().await;
    } else if let Some(r) = any.downcast_ref::<schema::MemoryRepo>() {
        r.close();
    } else {
        panic!("unknown backend");
    }
}

async fn balances<R: Repository>(repo: R) {
    let rich = rich_player("p1", 1234);
    repo.create_player(&rich).await.unwrap();
    assert_eq!(repo.load_player("p1").await.unwrap(), rich);
    assert_eq!(repo.player_by_token_hash("hash-p1").await.unwrap(), Some(rich));
    assert_eq!(repo.credit_balance("p1", 766).await.unwrap(), 2000);
    assert_eq!(repo.credit_balance("p1", 0).await.unwrap(), 2000);
    assert_eq!(balance_of(&repo, "p1").await, 2000);
    assert!(matches!(
        repo.credit_balance("ghost", 5).await,
        Err(StoreError::NotFound {
            kind: RowKind::Player,
            ..
        })
    ));
    // The column is signed 64-bit: a credit that would overflow it changes nothing.
    let top = i64::MAX as u64;
    assert_eq!(repo.credit_balance("p1", top - 2000).await.unwrap(), top);
    let err = repo.credit_balance("p1", 1).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Encode { what: "balance", .. }),
        "{err:?}"
    );
    assert!(matches!(
        repo.credit_balance("p1", u64::MAX).await,
        Err(StoreError::Encode { .. })
    ));
    assert_eq!(balance_of(&repo, "p1").await, top);
}

async fn table_settings<R: Repository>(repo: R) {
    let plain = table("plain");
    let mut tuned = table("tuned");
    tuned.created_at_ms += 1;
    tuned.settings = r#"{"buy_in":{"min":40,"max":200},"clock_ms":15000,"ai_seats":[2,5]}"#.to_owned();
    repo.create_table(&plain).await.unwrap();
    repo.create_table(&tuned).await.unwrap();
    assert_eq!(repo.load_table("tuned").await.unwrap(), tuned);
    assert_eq!(repo.load_table("plain").await.unwrap().settings, "{}");
    assert_eq!(repo.list_tables(None).await.unwrap(), vec![plain, tuned]);
}

async fn reserve_buy_in<R: Repository>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    repo.create_player(&rich_player("p1", 500)).await.unwrap();
    let b = repo.reserve_buy_in("p1", "t", 3, 200, 17, 99).await.unwrap();
    assert_eq!(
        (
            b.player_id.as_str(),
            b.table_id.as_str(),
            b.seat,
            b.amount,
            b.after_seq,
            b.created_at_ms
        ),
        ("p1", "t", 3, 200, 17, 99)
    );
    assert_eq!(balance_of(&repo, "p1").await, 300);
    assert_eq!(repo.pending_buy_ins("t").await.unwrap(), vec![b.clone()]);

    // Not enough: refused with the current balance, nothing changes.
    let err = repo.reserve_buy_in("p1", "t", 4, 301, 17, 100).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientBalance { ref player, balance: 300, needed: 301 } if player == "p1"),
        "{err:?}"
    );
    assert_eq!(balance_of(&repo, "p1").await, 300);
    assert_eq!(repo.pending_buy_ins("t").await.unwrap(), vec![b.clone()]);

    assert!(matches!(
        repo.reserve_buy_in("ghost", "t", 1, 10, 0, 1).await,
        Err(StoreError::NotFound {
            kind: RowKind::Player,
            ..
        })
    ));
    // An unknown table rolls the debit back.
    assert!(matches!(
        repo.reserve_buy_in("p1", "nowhere", 1, 100, 0, 1).await,
        Err(StoreError::MissingReference { .. })
    ));
    assert_eq!(balance_of(&repo, "p1").await, 300);
    assert!(matches!(
        repo.reserve_buy_in("p1", "t", 1, u64::MAX, 0, 1).await,
        Err(StoreError::Encode { .. })
    ));

    // The whole balance can be bought in.
    let all = repo.reserve_buy_in("p1", "t", 5, 300, 18, 101).await.unwrap();
    assert!(all.id > b.id);
    assert_eq!(balance_of(&repo, "p1").await, 0);
    assert_eq!(repo.pending_buy_ins("t").await.unwrap(), vec![b, all]);
}

async fn concurrent_buy_ins_never_overdraw<R: Repository>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    repo.create_player(&rich_player("p1", 100)).await.unwrap();
    let tries: Vec<_> = (0..10u64)
        .map(|seat| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.reserve_buy_in("p1", "t", seat, 30, 0, 1).await })
        })
        .collect();
    let mut won = 0;
    for t in tries {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::InsufficientBalance {
                needed: 30, balance, ..
            }) => assert!(balance < 30),
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(won, 3);
    assert_eq!(balance_of(&repo, "p1").await, 10);
    assert_eq!(repo.pending_buy_ins("t").await.unwrap().len(), 3);
}

async fn confirm_buy_in_is_idempotent<R: Repository>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    repo.create_player(&rich_player("p1", 500)).await.unwrap();
    let b = repo.reserve_buy_in("p1", "t", 0, 200, 0, 1).await.unwrap();
    assert!(repo.confirm_buy_in(b.id).await.unwrap());
    assert!(!repo.confirm_buy_in(b.id).await.unwrap());
    assert!(repo.pending_buy_ins("t").await.unwrap().is_empty());
    // Confirmed chips are at the table: a late refund must not return them.
    assert!(!repo.refund_buy_in(b.id).await.unwrap());
    assert_eq!(balance_of(&repo, "p1").await, 300);
    assert!(!repo.confirm_buy_in(b.id + 1000).await.unwrap());
}

async fn refund_buy_in_credits_once<R: Repository>(repo: R) {
    repo.create_table(&table("t")).await.unwrap();
    repo.create_player(&rich_player("p1", 500)).await.unwrap();
    let b = repo.reserve_buy_in("p1", "t", 0, 200, 0, 1).await.unwrap();
    assert!(repo.refund_buy_in(b.id).await.unwrap());
    assert_eq!(balance_of(&repo, "p1").await, 500);
    assert!(!repo.refund_buy_in(b.id).await.unwrap());
    assert!(!repo.confirm_buy_in(b.id).await.unwrap());
    assert_eq!(balance_of(&repo, "p1").await, 500);
    assert!(repo.pending_buy_ins("t").await.unwrap().is_empty());

    // Two refunds racing: one credits, the other finds nothing.
    for round in 0..5 {
        let b = repo.reserve_buy_in("p1", "t", round, 120, 0, 1).await.unwrap();
        assert_eq!(balance_of(&repo, "p1").await, 380);
        let (first, second) = tokio::join!(repo.refund_buy_in(b.id), repo.refund_buy_in(b.id));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first != second, "exactly one refund wins: {first} {second}");
        assert_eq!(balance_of(&repo, "p1").await, 500);
    }
    // On separate tasks too (both backends run them in parallel).
    let b = repo.reserve_buy_in("p1", "t", 9, 500, 0, 1).await.unwrap();
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.refund_buy_in(b.id).await })
        })
        .collect();
    let mut wins = 0;
    for r in racers {
        wins += usize::from(r.await.unwrap().unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(balance_of(&repo, "p1").await, 500);
}

async fn pending_buy_ins_by_table<R: Repository>(repo: R) {
    repo.create_table(&table("a")).await.unwrap();
    repo.create_table(&table("b")).await.unwrap();
    repo.create_player(&rich_player("p1", 1000)).await.unwrap();
    repo.create_player(&rich_player("p2", 1000)).await.unwrap();
    let a1 = repo.reserve_buy_in("p1", "a", 0, 100, 5, 10).await.unwrap();
    let b1 = repo.reserve_buy_in("p1", "b", 0, 100, 0, 11).await.unwrap();
    let a2 = repo.reserve_buy_in("p2", "a", 1, 150, 6, 12).await.unwrap();
    let a3 = repo.reserve_buy_in("p1", "a", 2, 50, 7, 13).await.unwrap();
    assert_eq!(
        repo.pending_buy_ins("a").await.unwrap(),
        vec![a1.clone(), a2.clone(), a3.clone()]
    );
    assert_eq!(repo.pending_buy_ins("b").await.unwrap(), vec![b1]);
    assert!(repo.pending_buy_ins("none").await.unwrap().is_empty());
    assert!(repo.confirm_buy_in(a2.id).await.unwrap());
    assert!(repo.refund_buy_in(a1.id).await.unwrap());
    assert_eq!(repo.pending_buy_ins("a").await.unwrap(), vec![a3]);
    assert_eq!(balance_of(&repo, "p1").await, 1000 - 100 - 50);
    assert_eq!(balance_of(&repo, "p2").await, 1000 - 150);
}

async fn cash_out_exactly_once<R: Repository>(repo: R) {
    repo.create_player(&rich_player("p1", 10)).await.unwrap();
    repo.create_player(&rich_player("p2", 0)).await.unwrap();
    assert!(repo.cash_out("t", 40, "p1", 250, 1).await.unwrap());
    assert_eq!(balance_of(&repo, "p1").await, 260);
    // The same SeatLeft again (a retry, a replay after a crash) pays nothing,
    // whatever it claims.
    assert!(!repo.cash_out("t", 40, "p1", 250, 2).await.unwrap());
    assert!(!repo.cash_out("t", 40, "p2", 999, 2).await.unwrap());
    assert_eq!(balance_of(&repo, "p1").await, 260);
    assert_eq!(balance_of(&repo, "p2").await, 0);
    // Another seq, or the same seq at another table, is another cash-out.
    assert!(repo.cash_out("t", 41, "p1", 40, 3).await.unwrap());
    assert!(repo.cash_out("u", 40, "p2", 70, 3).await.unwrap());
    assert_eq!(balance_of(&repo, "p1").await, 300);
    assert_eq!(balance_of(&repo, "p2").await, 70);
    // Leaving with nothing is recorded (and still only once).
    assert!(repo.cash_out("t", 50, "p2", 0, 4).await.unwrap());
    assert!(!repo.cash_out("t", 50, "p2", 0, 4).await.unwrap());
    assert_eq!(balance_of(&repo, "p2").await, 70);
    assert!(matches!(
        repo.cash_out("t", 60, "ghost", 5, 5).await,
        Err(StoreError::NotFound {
            kind: RowKind::Player,
            ..
        })
    ));
    // A failed cash-out records nothing: the seq is still free.
    assert!(repo.cash_out("t", 60, "p1", 5, 5).await.unwrap());
    assert_eq!(balance_of(&repo, "p1").await, 305);

    let (first, second) = tokio::join!(
        repo.cash_out("t", 70, "p1", 100, 6),
        repo.cash_out("t", 70, "p1", 100, 6)
    );
    assert!(first.unwrap() != second.unwrap(), "exactly one racer pays");
    assert_eq!(balance_of(&repo, "p1").await, 405);
}
