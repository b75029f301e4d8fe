//! Failover time of a cluster (issue 18): three real `showdown` nodes on one
//! fresh Postgres database; a bot table plays on one node, which is killed
//! with SIGKILL; the time from the kill to the first live event a spectator
//! receives from the table's new owner is measured. The killed node is
//! started again (same name) and the next round kills the new owner.
//!
//! `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!  cargo bench -p server --bench failover -- [ROUNDS] [TTL_MS]`
//!
//! Defaults: 20 rounds, the default node TTL (5000 ms). Prints one line per
//! round and a table of p50, p90, p99 and max.

#[path = "../tests/helpers/mod.rs"]
mod helpers;
#[path = "../tests/helpers/process.rs"]
mod process;

use std::time::{Duration, Instant};

use helpers::WsClient;
use process::{PgDatabase, ServerProcess};
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let ttl_ms: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let Some(database) = PgDatabase::create("failover bench", "showdown_failover").await else {
        return;
    };
    let dir = helpers::temp_dir("failover-bench");
    let ttl = ttl_ms.to_string();
    let start = |name: &'static str| {
        let url = database.url.clone();
        let log = dir.join(format!("{name}.log"));
        let ttl = ttl.clone();
        async move {
            ServerProcess::start_on(
                &url,
                &log,
                "127.0.0.1:0",
                &["--node-id", name, "--node-ttl-ms", &ttl],
            )
            .await
        }
    };
    let names = ["a", "b", "c"];
    let mut nodes: Vec<(&'static str, ServerProcess)> = Vec::new();
    for name in names {
        nodes.push((name, start(name).await));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let token = register(&http, &nodes[0].1).await;
    let table = create_table(&http, &nodes[0].1, &token).await;
    println!("failover: {rounds} rounds, node TTL {ttl_ms} ms, 3 nodes, 1 bot table (20 actions/s)");
    let mut times = Vec::new();
    for round in 1..=rounds {
        let owner = owner_of(&http, &nodes, &table).await;
        // The table is playing at its owner.
        let mut watcher = connect(&nodes[owner].1).await;
        let ack = watcher.request(json!({"type": "join", "table": table})).await;
        assert_eq!(ack["type"], "ack", "{ack}");
        wait_live_event(&mut watcher).await;
        drop(watcher);
        let (name, victim) = nodes.remove(owner);
        let killed_at = Instant::now();
        victim.kill().await;
        // A client of the dead node looks for the table at the others.
        let survivor = owner_of(&http, &nodes, &table).await;
        let mut client = connect(&nodes[survivor].1).await;
        let ack = client.request(json!({"type": "join", "table": table})).await;
        assert_eq!(ack["type"], "ack", "{ack}");
        wait_live_event(&mut client).await;
        let took = killed_at.elapsed();
        println!(
            "round {round:>3}: {name} killed, {} took over in {:>5} ms",
            nodes[survivor].0,
            took.as_millis()
        );
        times.push(took);
        nodes.push((name, start(name).await));
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!();
    println!("| rounds | node TTL | p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {ttl_ms} ms | {:.2} s | {:.2} s | {:.2} s | {:.2} s |",
        times.len(),
        at(0.5).as_secs_f64(),
        at(0.9).as_secs_f64(),
        at(0.99).as_secs_f64(),
        times.last().map_or(0.0, Duration::as_secs_f64)
    );
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Polls the nodes until one serves `table`; its index.
async fn owner_of(http: &reqwest::Client, nodes: &[(&str, ServerProcess)], table: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        for (i, (_, node)) in nodes.iter().enumerate() {
            let url = format!("{}/api/tables/{table}", node.http);
            if let Ok(response) = http.get(&url).send().await
                && response.status() == 200
            {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no node serves {table}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for an event the table publishes live (replayed events carry no `at_ms`).
async fn wait_live_event(client: &mut WsClient) {
    loop {
        let message = client.recv().await;
        if message["type"] == "event" && message["at_ms"].is_u64() {
            return;
        }
    }
}

async fn connect(node: &ServerProcess) -> WsClient {
    let mut client = WsClient::connect(&node.ws).await;
    let hello = client.recv().await;
    assert_eq!(hello["type"], "hello", "{hello}");
    client
}

async fn register(http: &reqwest::Client, node: &ServerProcess) -> String {
    let body: Value = http
        .post(format!("{}/api/players", node.http))
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    body["token"].as_str().expect("token").to_owned()
}

async fn create_table(http: &reqwest::Client, node: &ServerProcess, token: &str) -> String {
    let body: Value = http
        .post(format!("{}/api/tables", node.http))
        .bearer_auth(token)
        .json(&json!({
            "name": "failover", "seats": 4, "small_blind": 5, "big_blind": 10,
            "pace": "auto", "actions_per_sec": 20.0,
            "ai_seats": [{"seat": 0, "agent": "bot:random", "stack": 1000},
                         {"seat": 1, "agent": "bot:tight-aggressive", "stack": 1000},
                         {"seat": 2, "agent": "bot:calling-station", "stack": 1000},
                         {"seat": 3, "agent": "bot:random", "stack": 1000}]
        }))
        .send()
        .await
        .expect("create table")
        .json()
        .await
        .expect("json");
    body["id"].as_str().expect("table id").to_owned()
}
