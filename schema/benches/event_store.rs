//! Event store benchmark: 1,000 concurrent tables append through one
//! `EventWriter`; prints events per second and send-to-durable latency for
//! SQLite and (when `TEST_DATABASE_URL` is set) Postgres.
//!
//! Each table plays "hands" of 10 events: one `append` per event, then it
//! awaits the receipts in order, as the server does at the end of a hand.
//! An event's latency is from its `append` call until its table sees the
//! receipt resolve (an upper bound on when it became durable).
//!
//! Run: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p schema --bench event_store`

use std::time::{Duration, Instant};

use game_core::{Event, TableConfig};
use schema::{
    EventRecord, EventWriter, PgConfig, PgRepo, Repository, SqliteRepo, TableRecord, TableStatus,
    WriterConfig,
};

const TABLES: usize = 1000;
const HANDS: u64 = 30;
const EVENTS_PER_HAND: u64 = 10;
/// Hands per table in the paced run (one every 500 ms: 20,000 events/s offered).
const PACED_HANDS: u64 = 8;

struct Outcome {
    events: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    batches: u64,
    load: String,
}

fn record(table_id: &str, seq: u64) -> EventRecord {
    let event = Event::ChipsAdded {
        seat: (seq % 9) as usize,
        amount: seq,
        stack: seq * 10,
    };
    match EventRecord::new(table_id, seq, seq / EVENTS_PER_HAND + 1, &event) {
        Ok(r) => r,
        Err(e) => panic!("encoding a benchmark event: {e}"),
    }
}

/// Creates the benchmark's tables.
async fn create_tables<R: Repository>(repo: &R) -> Result<(), schema::StoreError> {
    for t in 0..TABLES {
        repo.create_table(&TableRecord {
            id: format!("bench{t}"),
            name: format!("Bench {t}"),
            config: TableConfig::new(6, 1, 2),
            status: TableStatus::Running,
            created_at_ms: 0,
            settings: "{}".to_owned(),
            deal_key: game_core::DealKey::from_bytes([7; 32]),
        })
        .await?;
    }
    Ok(())
}

/// Every table sends `hands` hands; with `pace`, each table starts one hand
/// per `pace` (start times spread evenly), else as fast as it can.
async fn run<R: Repository>(
    repo: R,
    config: WriterConfig,
    start_seq: u64,
    hands: u64,
    pace: Option<Duration>,
) -> Result<Outcome, schema::StoreError> {
    let (writer, task) = EventWriter::spawn(repo, config);
    let started = Instant::now();
    let mut tables = Vec::with_capacity(TABLES);
    for t in 0..TABLES {
        let writer = writer.clone();
        tables.push(tokio::spawn(async move {
            let id = format!("bench{t}");
            let mut latencies = Vec::with_capacity((hands * EVENTS_PER_HAND) as usize);
            let mut seq = start_seq;
            let mut ticks = pace.map(|p| {
                let offset = p.mul_f64(t as f64 / TABLES as f64);
                tokio::time::interval_at(tokio::time::Instant::now() + offset, p)
            });
            for _ in 0..hands {
                if let Some(ticks) = ticks.as_mut() {
                    ticks.tick().await;
                }
                let mut pending = Vec::with_capacity(EVENTS_PER_HAND as usize);
                for _ in 0..EVENTS_PER_HAND {
                    seq += 1;
                    let sent = Instant::now();
                    pending.push((sent, writer.append(vec![record(&id, seq)]).await?));
                }
                for (sent, receipt) in pending {
                    receipt.durable().await?;
                    latencies.push(sent.elapsed());
                }
            }
            Ok::<_, schema::StoreError>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(TABLES * (hands * EVENTS_PER_HAND) as usize);
    for t in tables {
        match t.await {
            Ok(l) => latencies.extend(l?),
            Err(e) => panic!("table task failed: {e}"),
        }
    }
    let elapsed = started.elapsed();
    let stats = writer.stats();
    drop(writer);
    task.join().await?;
    latencies.sort_unstable();
    Ok(Outcome {
        events: stats.events,
        elapsed,
        latencies,
        batches: stats.batches,
        load: match pace {
            Some(p) => format!(
                "{:.0} ev/s offered",
                (TABLES as u64 * EVENTS_PER_HAND) as f64 / p.as_secs_f64()
            ),
            None => "saturated".to_owned(),
        },
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn print_row(backend: &str, o: &Outcome) {
    let backend = format!("{backend}, {}", o.load);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {backend:<22} | {:>7} | {:>6.2} | {:>10.0} | {:>8.1} | {:>6.1} | {:>6.1} | {:>6.1} |",
        o.events,
        o.elapsed.as_secs_f64(),
        o.events as f64 / o.elapsed.as_secs_f64(),
        o.events as f64 / o.batches.max(1) as f64,
        ms(percentile(&o.latencies, 0.5)),
        ms(percentile(&o.latencies, 0.99)),
        ms(percentile(&o.latencies, 1.0)),
    );
}

/// The saturated run, then a paced one at 20,000 events/s offered.
async fn scenarios<R: Repository>(backend: &str, repo: &R) {
    if let Err(e) = create_tables(repo).await {
        println!("| {backend} | cannot create tables: {e} |");
        return;
    }
    match run(repo.clone(), WriterConfig::default(), 0, HANDS, None).await {
        Ok(o) => print_row(backend, &o),
        Err(e) => println!("| {backend} | failed: {e} |"),
    }
    // The tables continue their logs: sequence numbers go on from HANDS.
    match run(
        repo.clone(),
        WriterConfig::default(),
        HANDS * EVENTS_PER_HAND,
        PACED_HANDS,
        Some(Duration::from_millis(500)),
    )
    .await
    {
        Ok(o) => print_row(backend, &o),
        Err(e) => println!("| {backend} | failed: {e} |"),
    }
}

fn main() {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    rt.block_on(async {
        if std::env::var("BENCH_RAW").is_ok() {
            raw().await;
            return;
        }
        println!(
            "{TABLES} tables, {EVENTS_PER_HAND} events per hand (one append each, durable awaited per hand); \
             saturated: {HANDS} hands per table as fast as possible; paced: {PACED_HANDS} hands per table, \
             one every 500 ms"
        );
        println!(
            "| backend, load          |  events |    s   |  events/s  | ev/batch | p50 ms | p99 ms | max ms |"
        );
        println!(
            "|------------------------|---------|--------|------------|----------|--------|--------|--------|"
        );

        let path = std::env::temp_dir().join(format!("showdown_bench_{}.db", std::process::id()));
        match SqliteRepo::open(&path).await {
            Ok(repo) => scenarios("sqlite", &repo).await,
            Err(e) => println!("| sqlite   | cannot open: {e} |"),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }

        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) => {
                let schema = format!("bench_{}", std::process::id());
                let mut config = PgConfig::new(&url);
                config.schema = Some(schema.clone());
                match PgRepo::connect_with(&config).await {
                    Ok(repo) => {
                        scenarios("postgres", &repo).await;
                        repo.close().await;
                    }
                    Err(e) => println!("| postgres | cannot connect: {e} |"),
                }
                if let Err(e) = PgRepo::drop_schema(&url, &schema).await {
                    eprintln!("could not drop {schema}: {e}");
                }
            }
            Err(_) => println!("| postgres | skipped: TEST_DATABASE_URL not set |"),
        }
    });
}

/// Direct `append_events` of writer-sized batches, without the writer (diagnostics).
async fn raw() {
    let path = std::env::temp_dir().join(format!("showdown_raw_{}.db", std::process::id()));
    let Ok(repo) = SqliteRepo::open(&path).await else {
        return;
    };
    for t in 0..TABLES {
        let _ = repo
            .create_table(&TableRecord {
                id: format!("bench{t}"),
                name: String::new(),
                config: TableConfig::new(6, 1, 2),
                status: TableStatus::Running,
                created_at_ms: 0,
                settings: "{}".to_owned(),
                deal_key: game_core::DealKey::from_bytes([7; 32]),
            })
            .await;
    }
    let started = Instant::now();
    let mut encode = Duration::ZERO;
    let mut n = 0;
    for round in 0..75u64 {
        let e0 = Instant::now();
        let batch: Vec<EventRecord> = (0..4000u64)
            .map(|i| record(&format!("bench{}", i % 1000), round * 4 + i / 1000 + 1))
            .collect();
        encode += e0.elapsed();
        n += batch.len();
        if let Err(e) = repo.append_events(&batch).await {
            println!("raw append failed: {e}");
            return;
        }
    }
    let el = started.elapsed();
    println!(
        "raw sqlite: {n} events in {el:?} ({:.0}/s), encoding {encode:?}",
        n as f64 / el.as_secs_f64()
    );
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
