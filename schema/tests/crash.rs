//! Crash test: a child process appends events for many tables through the
//! `EventWriter` and is killed with SIGKILL mid-stream. After reopening, every
//! table's log must be a gap-free prefix of what was sent and hold everything
//! the child was told was durable; a new writer then resumes without
//! duplicates.
//!
//! The child is this test binary re-executed with `SCHEMA_CRASH_CHILD` set,
//! running the ignored `crash_child` test.

mod helpers;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use helpers::{PgSchema, TempDb, event, events, log, table};
use schema::{EventWriter, PgConfig, PgRepo, Repository, SqliteRepo, WriterConfig};

const TABLES: usize = 100;
/// Hands acknowledged before the kill (across all tables).
const ACKS_BEFORE_KILL: usize = 400;
const EVENTS_PER_HAND: u64 = 10;

fn table_id(t: usize) -> String {
    format!("crash{t}")
}

/// The child's role: append forever, printing one line per durable hand.
#[test]
#[ignore = "child role of the crash tests, started by them"]
fn crash_child() {
    let Ok(backend) = std::env::var("SCHEMA_CRASH_CHILD") else {
        return;
    };
    let target = std::env::var("SCHEMA_CRASH_TARGET").expect("SCHEMA_CRASH_TARGET");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        match backend.as_str() {
            "sqlite" => child_body(SqliteRepo::open(&target).await.expect("open")).await,
            _ => {
                let mut config = PgConfig::new(&target);
                config.schema = std::env::var("SCHEMA_CRASH_SCHEMA").ok();
                child_body(PgRepo::connect_with(&config).await.expect("connect")).await
            }
        }
    });
}

async fn child_body<R: Repository>(repo: R) {
    let (writer, _task) = EventWriter::spawn(repo, WriterConfig::default());
    let mut tasks = Vec::new();
    for t in 0..TABLES {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            let id = table_id(t);
            let mut seq = 0;
            loop {
                let mut last = None;
                for _ in 0..EVENTS_PER_HAND {
                    seq += 1;
                    last = Some(writer.append(vec![event(&id, seq)]).await.expect("append"));
                }
                if let Some(receipt) = last {
                    receipt.durable().await.expect("durable");
                }
                // One line per write: the parent reads acks as they happen.
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "DURABLE {t} {seq}");
                let _ = out.flush();
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Runs the child against `target`, kills it, and returns the highest
/// acknowledged seq per table and how long the child ran.
fn run_and_kill(backend: &str, target: &str, schema: Option<&str>) -> (HashMap<usize, u64>, Duration) {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.args([
        "--ignored",
        "--exact",
        "crash_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("SCHEMA_CRASH_CHILD", backend)
    .env("SCHEMA_CRASH_TARGET", target)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    if let Some(s) = schema {
        cmd.env("SCHEMA_CRASH_SCHEMA", s);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let acks: Arc<Mutex<HashMap<usize, u64>>> = Arc::default();
    let count = Arc::new(Mutex::new(0usize));
    let reader = {
        let acks = acks.clone();
        let count = count.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split_whitespace();
                if parts.next() != Some("DURABLE") {
                    continue;
                }
                let t: usize = parts.next().and_then(|p| p.parse().ok()).expect("table index");
                let seq: u64 = parts.next().and_then(|p| p.parse().ok()).expect("seq");
                let mut acks = acks.lock().expect("acks");
                let e = acks.entry(t).or_default();
                *e = (*e).max(seq);
                *count.lock().expect("count") += 1;
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if *count.lock().expect("count") >= ACKS_BEFORE_KILL {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("child exited early with {status}");
        }
        assert!(Instant::now() < deadline, "child too slow to acknowledge");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL child");
    let status = child.wait().expect("wait child");
    let ran = started.elapsed();
    assert!(!status.success(), "child was killed, not finished: {status}");
    reader.join().expect("reader thread");
    let acks = acks.lock().expect("acks").clone();
    (acks, ran)
}

/// Checks the logs after the crash, then resumes with a new writer.
async fn verify_and_resume<R: Repository>(repo: R, acks: &HashMap<usize, u64>, backend: &str, ran: Duration) {
    let mut stored_total = 0;
    let mut beyond_ack = 0;
    for t in 0..TABLES {
        let id = table_id(t);
        let log = repo.events_since(&id, 0, u64::MAX / 2).await.expect("read log");
        let k = log.len() as u64;
        assert_eq!(
            log,
            events(&id, 1, k),
            "{id}: not a gap-free prefix of what was sent"
        );
        let acked = acks.get(&t).copied().unwrap_or(0);
        assert!(k >= acked, "{id}: acknowledged seq {acked} but only {k} stored");
        stored_total += k;
        beyond_ack += k - acked;
    }
    let acked_total: u64 = acks.values().sum();
    log(format!(
        "crash test ({backend}): child killed after {ran:?}; {acked_total} events acknowledged, \
         {stored_total} stored ({beyond_ack} committed but not yet acknowledged), all {TABLES} logs gap-free"
    ));

    // A new writer resumes: the tables re-send from their last ack.
    let (writer, task) = EventWriter::spawn(repo.clone(), WriterConfig::default());
    let mut ends = HashMap::new();
    for t in 0..TABLES {
        let id = table_id(t);
        let acked = acks.get(&t).copied().unwrap_or(0);
        let end = repo.last_seq(&id).await.expect("last seq") + 5;
        writer
            .append_durable(events(&id, acked + 1, end))
            .await
            .expect("resume");
        ends.insert(t, end);
    }
    drop(writer);
    task.join().await.expect("writer");
    for t in 0..TABLES {
        let id = table_id(t);
        let log = repo.events_since(&id, 0, u64::MAX / 2).await.expect("read log");
        assert_eq!(log, events(&id, 1, ends[&t]), "{id} after resume");
    }
}

async fn create_tables<R: Repository>(repo: &R) {
    for t in 0..TABLES {
        repo.create_table(&table(&table_id(t)))
            .await
            .expect("create table");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_sqlite() {
    let db = TempDb::new();
    let repo = SqliteRepo::open(&db.path).await.expect("open");
    create_tables(&repo).await;
    repo.close().await;
    let path = db.path.to_string_lossy().into_owned();
    let (acks, ran) = tokio::task::spawn_blocking(move || run_and_kill("sqlite", &path, None))
        .await
        .expect("child run");
    let repo = SqliteRepo::open(&db.path).await.expect("reopen");
    verify_and_resume(repo.clone(), &acks, "sqlite", ran).await;
    repo.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_postgres() {
    let Some(pg) = PgSchema::new("crash_postgres") else {
        return;
    };
    let repo = pg.connect().await;
    create_tables(&repo).await;
    repo.close().await;
    let (url, schema) = (pg.url.clone(), pg.schema.clone());
    let (acks, ran) = tokio::task::spawn_blocking(move || run_and_kill("postgres", &url, Some(&schema)))
        .await
        .expect("child run");
    let repo = pg.connect().await;
    verify_and_resume(repo.clone(), &acks, "postgres", ran).await;
    repo.close().await;
}
