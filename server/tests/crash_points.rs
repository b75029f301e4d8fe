//! Kills at chosen points of a hand, with the real binary: SIGKILL a few
//! milliseconds (0 to 20) after a `hand_started` or a `hand_ended` reached a
//! spectator, then start again on the same database, many times over.
//! Checked after every run of kills:
//! - a hand's deal never changes: a player's hole cards for hand N are the
//!   same before and after a kill, also when the kill landed before anything
//!   of hand N was stored and the hand is dealt again (which must happen at
//!   least once per backend);
//! - every hand whose `hand_ended` is stored has its history, with the seqs
//!   of its `hand_started` and `hand_ended`;
//! - histories missing from a store (as an older version could leave them)
//!   are rebuilt from the log at start-up, identical to the originals.
//!
//! Runs on SQLite, and on Postgres when `TEST_DATABASE_URL` is set.

mod helpers;
#[path = "helpers/process.rs"]
mod process;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use helpers::WsClient;
use process::{ADMIN_KEY, PgDatabase, ServerProcess};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// How long any one condition may take on a slow, busy machine.
const WAIT: Duration = Duration::from_secs(60);

/// Milliseconds between the trigger reaching the spectator and the kill.
const OFFSETS_MS: [u64; 8] = [0, 1, 2, 3, 5, 8, 12, 20];

/// Extra kills right at `hand_started` until one lands before the hand was stored.
const REDEAL_ATTEMPTS: usize = 12;

#[tokio::test]
async fn kills_around_hand_starts_and_ends_on_sqlite() {
    let dir = helpers::temp_dir("crash-points-sqlite");
    let path = dir.join("showdown.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::Sqlite(path.display().to_string());
    kill_at_hand_boundaries(&url, &store, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn kills_around_hand_starts_and_ends_on_postgres() {
    let Some(database) =
        PgDatabase::create("kills_around_hand_starts_and_ends_on_postgres", "showdown_crash").await
    else {
        return;
    };
    let dir = helpers::temp_dir("crash-points-postgres");
    let store = Store::Postgres(database.url.clone());
    kill_at_hand_boundaries(&database.url, &store, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Where the test reads the store directly.
enum Store {
    Sqlite(String),
    Postgres(String),
}

/// One history row, as compared before and after a rebuild.
#[derive(Clone, Debug, PartialEq, Eq)]
struct History {
    hand: i64,
    seed: String,
    players: String,
    pots: String,
    winners: String,
    phh: String,
    first_seq: i64,
    last_seq: i64,
}

impl Store {
    /// `(hand, seq)` of every stored event of `kind` at `table`.
    async fn events(&self, table: &str, kind: &str) -> Vec<(i64, i64)> {
        let sql = "SELECT hand, seq FROM table_events WHERE table_id = $1 AND kind = $2 ORDER BY seq";
        match self {
            Store::Sqlite(path) => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
                    .await
                    .expect("sqlite");
                let rows = sqlx::query_as(sql).bind(table).bind(kind).fetch_all(&pool).await;
                pool.close().await;
                rows.expect("events")
            }
            Store::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.expect("postgres");
                let rows = sqlx::query_as(sql).bind(table).bind(kind).fetch_all(&pool).await;
                pool.close().await;
                rows.expect("events")
            }
        }
    }

    /// Every history of `table`, by hand.
    async fn histories(&self, table: &str) -> Vec<History> {
        type Row = (i64, String, String, String, String, String, i64, i64);
        let sql = "SELECT hand, seed, players, pots, winners, phh, first_seq, last_seq FROM hands \
                   WHERE table_id = $1 ORDER BY hand";
        let rows: Vec<Row> = match self {
            Store::Sqlite(path) => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
                    .await
                    .expect("sqlite");
                let rows = sqlx::query_as(sql).bind(table).fetch_all(&pool).await;
                pool.close().await;
                rows.expect("hands")
            }
            Store::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.expect("postgres");
                let rows = sqlx::query_as(sql).bind(table).fetch_all(&pool).await;
                pool.close().await;
                rows.expect("hands")
            }
        };
        rows.into_iter()
            .map(
                |(hand, seed, players, pots, winners, phh, first_seq, last_seq)| History {
                    hand,
                    seed,
                    players,
                    pots,
                    winners,
                    phh,
                    first_seq,
                    last_seq,
                },
            )
            .collect()
    }

    /// Deletes the histories of `hands` (what a crash under an older
    /// version could leave behind).
    async fn forget(&self, table: &str, hands: &[i64]) {
        for &hand in hands {
            let sql = "DELETE FROM hands WHERE table_id = $1 AND hand = $2";
            match self {
                Store::Sqlite(path) => {
                    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
                        .await
                        .expect("sqlite");
                    sqlx::query(sql)
                        .bind(table)
                        .bind(hand)
                        .execute(&pool)
                        .await
                        .expect("delete");
                    pool.close().await;
                }
                Store::Postgres(url) => {
                    let pool = sqlx::PgPool::connect(url).await.expect("postgres");
                    sqlx::query(sql)
                        .bind(table)
                        .bind(hand)
                        .execute(&pool)
                        .await
                        .expect("delete");
                    pool.close().await;
                }
            }
        }
    }
}

/// What the player saw: hole cards by hand number, and any hand whose
/// cards changed.
#[derive(Default)]
struct Seen {
    cards: BTreeMap<u64, Vec<String>>,
    changed: Vec<String>,
}

impl Seen {
    fn record(&mut self, hand: u64, cards: &Value) {
        let Some(cards) = cards.as_array() else { return };
        let cards: Vec<String> = cards
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        if cards.len() != 2 {
            return;
        }
        match self.cards.get(&hand) {
            Some(before) if *before != cards => self.changed.push(format!(
                "hand {hand}: {before:?} before the kill, {cards:?} after"
            )),
            Some(_) => {}
            None => {
                self.cards.insert(hand, cards);
            }
        }
    }
}

async fn kill_at_hand_boundaries(database_url: &str, store: &Store, dir: &Path) {
    let log = dir.join("showdown.log");
    let http = reqwest::Client::new();
    let mut server = ServerProcess::start(database_url, &log).await;
    let token = register(&http, &server, "Alice").await;
    let table = post(
        &http,
        &server,
        "/api/tables",
        Some(&token),
        json!({
            "name": "crash points", "seats": 2, "small_blind": 5, "big_blind": 10,
            "pace": "auto", "actions_per_sec": 200.0, "turn_clock_ms": 300000,
            "ai_seats": [{"seat": 1, "agent": "bot:calling-station", "stack": 2000}]
        }),
    )
    .await["id"]
        .as_str()
        .expect("table id")
        .to_owned();
    post(
        &http,
        &server,
        &format!("/api/tables/{table}/sit"),
        Some(&token),
        json!({"seat": 0, "buy_in": 2000}),
    )
    .await;
    let seen = Arc::new(Mutex::new(Seen::default()));

    let mut schedule: Vec<(&str, u64)> = Vec::new();
    for offset in OFFSETS_MS {
        schedule.push(("hand_started", offset));
        schedule.push(("hand_ended", offset));
    }
    let mut redeals = 0;
    let mut extra = 0;
    let mut kills = 0;
    let mut step = 0;
    while step < schedule.len() || (redeals == 0 && extra < REDEAL_ATTEMPTS) {
        let (trigger, offset) = match schedule.get(step) {
            Some(&planned) => planned,
            None => {
                extra += 1;
                ("hand_started", 0)
            }
        };
        step += 1;
        let player = Player::spawn(&server, &table, &token, seen.clone()).await;
        let mut spectator = WsClient::connect(&server.ws).await;
        let ack = spectator.request(json!({"type": "join", "table": table})).await;
        assert_eq!(ack["type"], "ack", "{ack}");
        let snapshot = spectator.until("snapshot", |m| m["type"] == "snapshot").await;
        let after = snapshot["seq"].as_u64().expect("seq");
        let event = spectator
            .until(trigger, |m| {
                m["type"] == "event" && m["seq"].as_u64() > Some(after) && m["event"]["type"] == trigger
            })
            .await;
        tokio::time::sleep(Duration::from_millis(offset)).await;
        let bind = server.bind();
        server.kill().await;
        kills += 1;
        player.stop().await;
        let hand = event["event"]["hand"].as_u64().unwrap_or(0);
        // Whether the player had its cards of that hand before the kill.
        let had_cards = seen.lock().expect("seen").cards.contains_key(&hand);
        server = ServerProcess::start_on(database_url, &log, &bind, &[]).await;
        // After the restart the hand that was starting is either resumed
        // (it was stored) or dealt again: the player sees its start again.
        let player = Player::spawn(&server, &table, &token, seen.clone()).await;
        let restarted = player.wait_for_hand_after(hand).await;
        if trigger == "hand_started" && had_cards && restarted.contains(&hand) {
            redeals += 1;
        }
        player.stop().await;
        let changed = seen.lock().expect("seen").changed.clone();
        assert!(changed.is_empty(), "a deal changed after a kill: {changed:?}");
    }
    assert!(
        redeals > 0,
        "no kill landed before a started hand was stored in {kills} kills; the re-deal was never tested"
    );
    if std::env::var_os("TEST_LOG").is_some() {
        eprintln!(
            "{kills} kills, {redeals} hands dealt again with the same cards, {} hands seen",
            seen.lock().expect("seen").cards.len()
        );
    }

    // Every finished hand in the log has its history, with the right seqs.
    server.kill().await;
    let ended = store.events(&table, "hand_ended").await;
    let started = store.events(&table, "hand_started").await;
    let histories = store.histories(&table).await;
    assert!(ended.len() >= kills, "{} hands ended", ended.len());
    let recorded: Vec<i64> = histories.iter().map(|h| h.hand).collect();
    let finished: Vec<i64> = ended.iter().map(|(hand, _)| *hand).collect();
    assert_eq!(
        recorded, finished,
        "every finished hand has its history, and only those"
    );
    for history in &histories {
        let start = started
            .iter()
            .find(|(h, _)| *h == history.hand)
            .map(|(_, seq)| *seq);
        let end = ended
            .iter()
            .find(|(h, _)| *h == history.hand)
            .map(|(_, seq)| *seq);
        assert_eq!(Some(history.first_seq), start, "hand {}: first_seq", history.hand);
        assert_eq!(Some(history.last_seq), end, "hand {}: last_seq", history.hand);
        assert!(
            history.phh.contains("variant = 'NT'"),
            "hand {}: {}",
            history.hand,
            history.phh
        );
    }

    // Histories lost from the store are rebuilt from the log at start-up.
    let lost: Vec<i64> = [0, histories.len() / 2, histories.len() - 1]
        .iter()
        .map(|&i| histories[i].hand)
        .collect();
    store.forget(&table, &lost).await;
    assert_eq!(store.histories(&table).await.len(), histories.len() - lost.len());
    let server = ServerProcess::start(database_url, &log).await;
    // (The table plays on after the start: at most a hand more may end.)
    let rebuilt = store.histories(&table).await;
    assert_eq!(rebuilt[..histories.len()], histories[..], "rebuilt exactly");
    for hand in &lost {
        let response = http
            .get(format!("{}/api/tables/{table}/hands/{hand}/phh", server.http))
            .header("x-api-key", ADMIN_KEY)
            .send()
            .await
            .expect("phh");
        assert_eq!(response.status(), 200);
        let text = response.text().await.expect("phh text");
        let original = histories.iter().find(|h| h.hand == *hand).expect("hand");
        assert_eq!(text, original.phh, "hand {hand}");
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("rebuilding them from the event log"),
        "the start-up check reports what it repaired"
    );
    server.kill().await;
}

async fn register(http: &reqwest::Client, server: &ServerProcess, name: &str) -> String {
    let body = post(http, server, "/api/players", None, json!({"name": name})).await;
    body["token"].as_str().expect("token").to_owned()
}

async fn post(
    http: &reqwest::Client,
    server: &ServerProcess,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut request = http.post(format!("{}{path}", server.http)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// The person at seat 0: joins, records every hole card it is dealt by
/// hand number, and answers every turn at once from the `legal` actions
/// its `turn_started` carries (check if free, else call).
struct Player {
    task: JoinHandle<()>,
    started: Arc<Mutex<Vec<u64>>>,
}

impl Player {
    async fn spawn(server: &ServerProcess, table: &str, token: &str, seen: Arc<Mutex<Seen>>) -> Player {
        let mut client = WsClient::connect(&server.ws).await;
        let ack = client
            .request(json!({"type": "join", "table": table, "as": "player", "token": token}))
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
        let started = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(play(client, table.to_owned(), seen, started.clone()));
        Player { task, started }
    }

    /// Waits until a hand numbered above `hand` starts; returns every hand
    /// this connection saw start.
    async fn wait_for_hand_after(&self, hand: u64) -> Vec<u64> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let started = self.started.lock().expect("started").clone();
            if started.iter().any(|&h| h > hand) {
                return started;
            }
            assert!(!self.task.is_finished(), "the player's connection ended");
            assert!(
                tokio::time::Instant::now() < deadline,
                "no hand after {hand} started"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops playing; returns the hands this connection saw start.
    async fn stop(self) -> Vec<u64> {
        self.task.abort();
        let _ = self.task.await;
        self.started.lock().expect("started").clone()
    }
}

async fn play(mut client: WsClient, table: String, seen: Arc<Mutex<Seen>>, started: Arc<Mutex<Vec<u64>>>) {
    let mut hand = 0;
    while let Some(Ok(frame)) = client.socket.next().await {
        let Message::Text(text) = frame else { continue };
        let Ok(message) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        let legal = match message["type"].as_str() {
            Some("snapshot") => {
                let view = &message["view"];
                hand = view["hand"].as_u64().unwrap_or(0);
                if view["hand_in_progress"] == true {
                    seen.lock()
                        .expect("seen")
                        .record(hand, &view["seats"][0]["cards"]);
                }
                (view["to_act"] == 0).then(|| view["legal"].clone())
            }
            Some("event") => {
                let event = &message["event"];
                match event["type"].as_str() {
                    Some("hand_started") => {
                        hand = event["hand"].as_u64().unwrap_or(0);
                        started.lock().expect("started").push(hand);
                        None
                    }
                    Some("hole_cards_dealt") if event["seat"] == 0 => {
                        seen.lock().expect("seen").record(hand, &event["cards"]);
                        None
                    }
                    Some("turn_started") if event["seat"] == 0 => {
                        let legal = message["legal"].clone();
                        assert!(
                            legal.is_object(),
                            "turn_started carries the legal actions: {message}"
                        );
                        Some(legal)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(legal) = legal {
            let action = if legal["check"] == true { "check" } else { "call" };
            let act = json!({"type": "act", "table": table, "action": action});
            if client
                .socket
                .send(Message::Text(act.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}
