//! Backpressure: while the database is stuck, the writer's bounded channel
//! fills up and `append` waits instead of buffering without bound; once the
//! database moves again, everything that was sent is committed in order.

mod helpers;

use std::time::Duration;

use helpers::{PgSchema, TempDb, event, events, table};
use schema::{EventWriter, Repository, SqliteRepo, WriterConfig};
use sqlx::{ConnectOptions, Connection};

/// Appends to table `bp` until one `append` call blocks (the caller holds a
/// lock that stops commits), then calls `release` and checks the log.
async fn fills_then_drains<R: Repository>(repo: R, release: impl AsyncFnOnce()) {
    let config = WriterConfig {
        capacity: 4,
        max_batch: 1,
        flush_after: Duration::ZERO,
        ..WriterConfig::default()
    };
    let (writer, _task) = EventWriter::spawn(repo.clone(), config);
    let mut receipts = Vec::new();
    let mut seq = 0;
    let blocked = loop {
        seq += 1;
        assert!(seq < 100, "append never waited: the channel is not bounded");
        match tokio::time::timeout(Duration::from_millis(100), writer.append(vec![event("bp", seq)])).await {
            Ok(receipt) => receipts.push(receipt.unwrap()),
            Err(_) => break seq,
        }
    };
    // One request in the stuck commit (or about to be taken), four waiting in the channel.
    assert!(
        (5..=6).contains(&blocked),
        "append {blocked} was the first to wait; expected the 5th or 6th"
    );
    release().await;
    writer
        .append_durable(events("bp", blocked, blocked + 2))
        .await
        .unwrap();
    for r in receipts {
        r.durable().await.unwrap();
    }
    assert_eq!(
        repo.events_since("bp", 0, 100).await.unwrap(),
        events("bp", 1, blocked + 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_append_waits_while_the_database_is_locked() {
    let db = TempDb::new();
    let repo = SqliteRepo::open(&db.path).await.unwrap();
    repo.create_table(&table("bp")).await.unwrap();
    // Another connection holds SQLite's write lock.
    let mut locker = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db.path)
        .connect()
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut locker).await.unwrap();
    let repo2 = repo.clone();
    let run = tokio::spawn(async move {
        fills_then_drains(repo2, async move || {
            sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
            locker.close().await.unwrap();
        })
        .await;
    });
    run.await.unwrap();
    repo.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_append_waits_while_the_table_is_locked() {
    let Some(pg) = PgSchema::new("postgres_append_waits_while_the_table_is_locked") else {
        return;
    };
    let repo = pg.connect().await;
    repo.create_table(&table("bp")).await.unwrap();
    let mut locker = sqlx::postgres::PgConnection::connect(&pg.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    let sql = format!("LOCK TABLE {}.table_events IN ACCESS EXCLUSIVE MODE", pg.schema);
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut locker)
        .await
        .unwrap();
    fills_then_drains(repo.clone(), async move || {
        sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
        locker.close().await.unwrap();
    })
    .await;
    repo.close().await;
}
