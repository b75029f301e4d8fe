//! Shared test helpers: fresh databases for each test and deterministic events.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use game_core::{Event, TableConfig};
use schema::{EventRecord, PgConfig, PgRepo, SqliteRepo, TableRecord, TableStatus};

/// The variable naming the Postgres server for tests.
pub const PG_ENV: &str = "TEST_DATABASE_URL";

/// A name no other test (or test process) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A SQLite file in the temp dir, deleted (with its WAL) when dropped.
pub struct TempDb {
    pub path: PathBuf,
}

impl TempDb {
    pub fn new() -> TempDb {
        TempDb {
            path: std::env::temp_dir().join(format!("{}.db", unique_name("showdown_schema"))),
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A fresh SQLite store and the file behind it.
pub async fn sqlite_repo() -> (SqliteRepo, TempDb) {
    let db = TempDb::new();
    let repo = SqliteRepo::open(&db.path).await.expect("open sqlite");
    (repo, db)
}

/// A Postgres schema of its own, dropped when this guard is dropped (even on panic).
pub struct PgSchema {
    pub url: String,
    pub schema: String,
}

impl PgSchema {
    /// A fresh schema name on the test server, or `None` (with a notice) when
    /// `TEST_DATABASE_URL` is not set.
    pub fn new(test: &str) -> Option<PgSchema> {
        match std::env::var(PG_ENV) {
            Ok(url) if !url.is_empty() => Some(PgSchema {
                url,
                schema: unique_name("test"),
            }),
            _ => {
                // Written to the real stderr, past libtest's capture, so a
                // skipped test is visible in every run, not a silent pass.
                let line = format!("{test}: skipped: {PG_ENV} not set\n");
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
                None
            }
        }
    }

    pub fn config(&self) -> PgConfig {
        let mut config = PgConfig::new(&self.url);
        config.schema = Some(self.schema.clone());
        config
    }

    pub async fn connect(&self) -> PgRepo {
        PgRepo::connect_with(&self.config())
            .await
            .expect("connect postgres")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let schema = self.schema.clone();
        // Drop may run inside a runtime: clean up from a thread with its own.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(rt) = rt
                && let Err(e) = rt.block_on(PgRepo::drop_schema(&url, &schema))
            {
                eprintln!("could not drop schema {schema}: {e}");
            }
        });
        let _ = cleanup.join();
    }
}

/// The deterministic event at `seq` of a test table.
pub fn event(table_id: &str, seq: u64) -> EventRecord {
    let e = if seq % 10 == 1 {
        Event::DeckShuffled {
            hand: seq / 10 + 1,
            seed: seq.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    } else {
        Event::ChipsAdded {
            seat: (seq % 9) as usize,
            amount: seq,
            stack: seq * 10,
        }
    };
    EventRecord::new(table_id, seq, seq / 10 + 1, &e).expect("encode event")
}

/// Events `from..=to` of a test table.
pub fn events(table_id: &str, from: u64, to: u64) -> Vec<EventRecord> {
    (from..=to).map(|s| event(table_id, s)).collect()
}

/// A table record with default stakes and empty settings.
pub fn table(id: &str) -> TableRecord {
    TableRecord {
        id: id.to_owned(),
        name: format!("Table {id}"),
        config: TableConfig::new(6, 1, 2),
        status: TableStatus::Open,
        created_at_ms: 1_700_000_000_000,
        settings: "{}".to_owned(),
        deal_key: game_core::DealKey::from_bytes([7; 32]),
    }
}

/// Prints a test's summary line when `TEST_LOG` is set (tests stay quiet otherwise).
pub fn log(line: String) {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = std::io::stderr().lock().write_all(format!("{line}\n").as_bytes());
    }
}
