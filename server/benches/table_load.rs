//! How long loading a table takes when its log holds 100,000 events: from
//! the whole log (no snapshot: how every load worked before snapshots) and
//! from its latest snapshot plus the events after it. Rounds alternate
//! between the two on one machine; the table prints each round's time, the
//! medians and their ratio.
//!
//! `cargo bench -p server --bench table_load -- --events 100000 --rounds 7`
//! (SQLite in a temporary folder; `--database-url postgres://…/DB` for an
//! existing empty Postgres database instead).

use std::time::{Duration, Instant};

use game_core::sim::{SplitMix64, random_action};
use game_core::{Command, Event, Table, TableConfig};
use schema::{AnyRepo, EventRecord, Repository, TableRecord, TableSnapshotRecord, TableStatus};
use server::{Server, ServerConfig};

struct Args {
    events: usize,
    rounds: usize,
    database_url: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        events: 100_000,
        rounds: 7,
        database_url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--events" => a.events = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.events),
            "--rounds" => a.rounds = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.rounds),
            "--database-url" => a.database_url = it.next(),
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

/// A six-seat game of random legal play until the log holds `events`
/// events and the last hand is over; also the snapshot at the last hand
/// boundary and the seq it covers.
fn play(events: usize) -> (TableConfig, Vec<Event>, (u64, String)) {
    let config = TableConfig::new(6, 5, 10);
    let mut table = Table::new(config.clone()).expect("config");
    let mut log = Vec::new();
    let mut rng = SplitMix64::new(7);
    for seat in 0..6 {
        log.extend(
            table
                .apply(Command::Sit {
                    seat,
                    player: "bot:calling-station".into(),
                    stack: 100_000,
                })
                .expect("sit"),
        );
    }
    let mut snapshot = (0, String::new());
    while log.len() < events {
        let state = table.snapshot().expect("between hands");
        snapshot = (log.len() as u64, serde_json::to_string(&state).expect("json"));
        log.extend(
            table
                .apply(Command::StartHand { seed: rng.next_u64() })
                .expect("a hand"),
        );
        while let Some(seat) = table.to_act() {
            let action = random_action(&table.legal_actions(seat), &mut rng).expect("an action");
            log.extend(table.apply(Command::Act { seat, action }).expect("legal"));
        }
        // Keep every stack playable.
        for seat in 0..6 {
            if table.stack(seat).is_some_and(|s| s < 1_000) {
                log.extend(
                    table
                        .apply(Command::AddChips {
                            seat,
                            amount: 100_000,
                        })
                        .expect("chips"),
                );
            }
        }
    }
    (config, log, snapshot)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let dir = std::env::temp_dir().join(format!("showdown-bench-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("showdown.db").display()));
    let (config, log, (snapshot_seq, snapshot_state)) = play(args.events);
    let repo = AnyRepo::open(&url).await.expect("store");
    let id = "t_bench0load00".to_owned();
    repo.create_table(&TableRecord {
        id: id.clone(),
        name: "load bench".into(),
        config,
        status: TableStatus::Open,
        created_at_ms: 0,
        // The bots sit in the log already; the settings name no AI seats.
        settings: serde_json::to_string(&server::table::TableSettings::for_big_blind(10)).expect("settings"),
        deal_key: game_core::DealKey::from_bytes([9; 32]),
    })
    .await
    .expect("table");
    for (chunk_start, chunk) in log.chunks(5_000).enumerate() {
        let records: Vec<EventRecord> = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let seq = (chunk_start * 5_000 + i + 1) as u64;
                EventRecord::new(&id, seq, 0, e).expect("encode")
            })
            .collect();
        repo.append_events(&records).await.expect("append");
    }
    println!(
        "table of {} events ({} after the snapshot), store {}",
        log.len(),
        log.len() as u64 - snapshot_seq,
        repo.backend()
    );
    repo.close().await;

    let mut whole = Vec::new();
    let mut from_snapshot = Vec::new();
    println!(
        "{:>5} {:>22} {:>22}",
        "round", "whole log (ms)", "snapshot + tail (ms)"
    );
    for round in 0..args.rounds {
        let mut pair = [0.0; 2];
        // Alternate which goes first, so drift does not favour one.
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for with_snapshot in order {
            let repo = AnyRepo::open(&url).await.expect("store");
            repo.set_table_status(&id, TableStatus::Open)
                .await
                .expect("status");
            if with_snapshot {
                repo.save_snapshot(&TableSnapshotRecord {
                    table_id: id.clone(),
                    seq: snapshot_seq,
                    state: snapshot_state.clone(),
                    taken_at_ms: 0,
                })
                .await
                .expect("snapshot");
            } else {
                drop_snapshot(&url, &id).await;
            }
            repo.close().await;
            let server = Server::start(ServerConfig {
                bind: "127.0.0.1:0".parse().expect("addr"),
                database_url: url.clone(),
                ..ServerConfig::default()
            })
            .await
            .expect("server");
            let app = server.app().clone();
            let started = Instant::now();
            app.tables.open(&id).await.expect("the table loads");
            let ms = started.elapsed().as_secs_f64() * 1e3;
            pair[usize::from(with_snapshot)] = ms;
            server.shutdown().await.expect("shutdown");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!("{round:>5} {:>22.1} {:>22.1}", pair[0], pair[1]);
        whole.push(pair[0]);
        from_snapshot.push(pair[1]);
    }
    let (a, b) = (median(&mut whole), median(&mut from_snapshot));
    println!("median {a:>21.1} {b:>22.1}   ratio {:.1}x", a / b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Deletes the table's snapshot (the load then replays the whole log).
async fn drop_snapshot(url: &str, id: &str) {
    use sqlx::Connection as _;
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.expect("postgres");
        sqlx::query("DELETE FROM table_snapshots WHERE table_id = $1")
            .bind(id)
            .execute(&mut c)
            .await
            .expect("delete");
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
        sqlx::query("DELETE FROM table_snapshots WHERE table_id = $1")
            .bind(id)
            .execute(&mut c)
            .await
            .expect("delete");
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
