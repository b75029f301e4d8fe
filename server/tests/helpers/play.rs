//! Playing against a real `showdown` process from a test: registering,
//! creating tables, joining, following a table's stream (and acting on a
//! seat's turns) in a task of its own, and checking chips event by event.
//! Declared by the tests that use it with `#[path = "helpers/play.rs"] mod play;`
//! (after `mod helpers;` and `mod process;`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::helpers::WsClient;
use crate::process::ServerProcess;

/// How long any one condition may take on a slow, busy machine.
pub const WAIT: Duration = Duration::from_secs(90);

/// A registered player.
pub struct Person {
    pub id: String,
    pub token: String,
}

pub async fn register(http: &reqwest::Client, server: &ServerProcess, name: &str) -> Person {
    let response = http
        .post(format!("{}/api/players", server.http))
        .json(&json!({ "name": name }))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    Person {
        id: body["id"].as_str().expect("id").to_owned(),
        token: body["token"].as_str().expect("token").to_owned(),
    }
}

pub async fn create_table(
    http: &reqwest::Client,
    server: &ServerProcess,
    token: &str,
    body: Value,
) -> String {
    let response = http
        .post(format!("{}/api/tables", server.http))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("create table");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("table id").to_owned()
}

pub async fn get_json(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = http.get(url).send().await.expect("get");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn get_me(http: &reqwest::Client, server: &ServerProcess, token: &str) -> Value {
    let response = http
        .get(format!("{}/api/me", server.http))
        .bearer_auth(token)
        .send()
        .await
        .expect("me");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// A WebSocket client of `server` (its `hello` read).
pub async fn connect(server: &ServerProcess) -> WsClient {
    let mut client = WsClient::connect(&server.ws).await;
    let hello = client.recv().await;
    assert_eq!(hello["type"], "hello", "{hello}");
    client
}

/// Joins `table` on `server` as a spectator and follows it.
pub async fn spectate(server: &ServerProcess, table: &str) -> Follower {
    let mut client = connect(server).await;
    let ack = client.request(json!({"type": "join", "table": table})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    Follower::spawn(client, Play::new(table, None))
}

/// Waits until the player with `token` has left every table and holds
/// `expected` chips (a cash-out is settled just after the `seat_left`).
pub async fn wait_for_balance(http: &reqwest::Client, server: &ServerProcess, token: &str, expected: u64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let me = get_me(http, server, token).await;
        if me["balance"] == expected && me["seats"] == json!([]) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{me}, expected a balance of {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Joins as a player, resuming from `(last_seq, epoch)` if given; returns the ack.
pub async fn join_as(client: &mut WsClient, table: &str, token: &str, resume: Option<(u64, u64)>) -> Value {
    let mut join = json!({"type": "join", "table": table, "as": "player", "token": token});
    if let Some((last_seq, epoch)) = resume {
        join["last_seq"] = json!(last_seq);
        join["epoch"] = json!(epoch);
    }
    let ack = client.request(join).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    ack
}

pub fn is_event(message: &Value, kind: &str) -> bool {
    message["type"] == "event" && message["event"]["type"] == kind
}

pub fn seq_of(message: &Value) -> u64 {
    message["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq in {message}"))
}

/// The seq of a message that has one, else 0 (acks, presence, chat).
pub fn seq_of_any(message: &Value) -> u64 {
    message["seq"].as_u64().unwrap_or(0)
}

pub fn has_seat(stacks: &Value, seat: u64) -> bool {
    stacks
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s["seat"] == seat))
}

pub fn count_events(log: &[Value], kind: &str) -> usize {
    log.iter().filter(|m| is_event(m, kind)).count()
}

/// Hands ended whose final stacks satisfy `filter`.
pub fn ended_hands(log: &[Value], filter: impl Fn(&Value) -> bool) -> usize {
    log.iter()
        .filter(|m| is_event(m, "hand_ended") && filter(&m["event"]["stacks"]))
        .count()
}

/// Where a (re)joined stream starts: its first `snapshot` or `resumed`.
pub fn start_of(log: &[Value]) -> Option<(usize, &Value)> {
    log.iter()
        .enumerate()
        .find(|(_, m)| m["type"] == "snapshot" || m["type"] == "resumed")
}

/// The `(seq, event)` of events with a seq in `(after, upto]`.
pub fn events_between(log: &[Value], after: u64, upto: u64) -> BTreeMap<u64, Value> {
    log.iter()
        .filter(|m| m["type"] == "event" && seq_of(m) > after && seq_of(m) <= upto)
        .map(|m| (seq_of(m), m["event"].clone()))
        .collect()
}

/// A table's whole history as two connections saw it: the first up to
/// `joined` (where the second rejoined), then all the second got.
pub fn story<'a>(first: &'a [Value], joined: u64, second: &'a [Value]) -> Vec<&'a Value> {
    first
        .iter()
        .filter(|m| m["seq"].as_u64().is_some_and(|s| s <= joined))
        .chain(second)
        .collect()
}

/// The highest seq a spectator's stream proves durable: a table starts a
/// hand only once everything before it is stored, so every event seen
/// before the last `hand_started` is.
pub fn durable_seq(log: &[Value]) -> u64 {
    let mut durable = 0;
    let mut previous = None;
    for m in log {
        if m["type"] == "snapshot" {
            previous = None;
        }
        if m["type"] != "event" {
            continue;
        }
        if is_event(m, "hand_started")
            && let Some(previous) = previous
        {
            durable = previous;
        }
        previous = Some(seq_of(m));
    }
    durable
}

/// The ledger of a whole stream up to `upto`.
pub fn ledger_at(log: &[Value], upto: u64) -> Ledger {
    Ledger::over("", log.iter().take_while(|m| seq_of_any(m) <= upto))
}

/// Chips per seat, followed event by event, with every change checked:
/// hands conserve chips, a hand starts with the stacks the last one left,
/// only sitting down, leaving and re-buying change a table's total.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    pub table: String,
    pub seq: u64,
    /// Each seat's chips: its stack between hands; during a hand, the
    /// stack it started the hand with (chips in the pot included).
    pub stacks: BTreeMap<u64, u64>,
    /// Who sits where.
    pub players: BTreeMap<u64, String>,
    /// The hand being played, with the seats dealt in.
    pub hand: Option<(u64, Vec<u64>)>,
    pub last_hand_started: u64,
    /// Every `seat_left`: seat, player, chips taken.
    pub left: Vec<(u64, String, u64)>,
}

impl Ledger {
    pub fn over<'a>(table: &str, messages: impl Iterator<Item = &'a Value>) -> Ledger {
        let mut ledger = Ledger {
            table: table.to_owned(),
            ..Ledger::default()
        };
        for m in messages {
            ledger.apply(m);
        }
        ledger
    }

    pub fn apply(&mut self, message: &Value) {
        let table = self.table.clone();
        let n = |v: &Value| {
            v.as_u64()
                .unwrap_or_else(|| panic!("{table}: not a number in {message}"))
        };
        match message["type"].as_str() {
            Some("snapshot") => {
                let view = &message["view"];
                self.seq = n(&message["seq"]);
                self.stacks.clear();
                self.players.clear();
                let mut dealt = Vec::new();
                for seat in view["seats"]
                    .as_array()
                    .expect("seats")
                    .iter()
                    .filter(|s| !s.is_null())
                {
                    let s = n(&seat["seat"]);
                    self.stacks.insert(s, n(&seat["stack"]) + n(&seat["committed"]));
                    self.players
                        .insert(s, seat["player"].as_str().expect("player").to_owned());
                    if seat["in_hand"] == true {
                        dealt.push(s);
                    }
                }
                self.hand = (view["hand_in_progress"] == true).then(|| (n(&view["hand"]), dealt));
                if view["hand_in_progress"] == true {
                    self.last_hand_started = n(&view["hand"]);
                }
            }
            Some("event") => {
                let seq = n(&message["seq"]);
                assert!(seq > self.seq, "{table}: seq {seq} after {}", self.seq);
                self.seq = seq;
                let event = &message["event"];
                let seat = || n(&event["seat"]);
                match event["type"].as_str().expect("event type") {
                    "seat_taken" => {
                        let stack = n(&event["stack"]);
                        assert!(self.stacks.insert(seat(), stack).is_none(), "{table}: {message}");
                        self.players
                            .insert(seat(), event["player"].as_str().expect("player").to_owned());
                    }
                    "seat_left" => {
                        let stack = n(&event["stack"]);
                        assert_eq!(self.stacks.remove(&seat()), Some(stack), "{table}: {message}");
                        let player = self.players.remove(&seat()).expect("a player left");
                        self.left.push((seat(), player, stack));
                    }
                    "chips_added" => {
                        let had = self.stacks.get(&seat()).copied();
                        assert_eq!(
                            had.map(|h| h + n(&event["amount"])),
                            Some(n(&event["stack"])),
                            "{table}: {message}"
                        );
                        self.stacks.insert(seat(), n(&event["stack"]));
                    }
                    "hand_started" => {
                        assert!(self.hand.is_none(), "{table}: a hand within a hand: {message}");
                        let mut dealt = Vec::new();
                        for p in event["players"].as_array().expect("players") {
                            let s = n(&p["seat"]);
                            assert_eq!(
                                self.stacks.get(&s),
                                Some(&n(&p["stack"])),
                                "{table}: seat {s}: {message}"
                            );
                            dealt.push(s);
                        }
                        let hand = n(&event["hand"]);
                        self.hand = Some((hand, dealt));
                        self.last_hand_started = hand;
                    }
                    "hand_ended" => {
                        let (hand, dealt) = self
                            .hand
                            .take()
                            .unwrap_or_else(|| panic!("{table}: no hand: {message}"));
                        assert_eq!(n(&event["hand"]), hand, "{table}: {message}");
                        let stacks = event["stacks"].as_array().expect("stacks");
                        let seats: Vec<u64> = stacks.iter().map(|s| n(&s["seat"])).collect();
                        assert_eq!(seats, dealt, "{table}: {message}");
                        let before: u64 = dealt.iter().map(|s| self.stacks[s]).sum();
                        let after: u64 = stacks.iter().map(|s| n(&s["stack"])).sum();
                        assert_eq!(after, before, "{table}: hand {hand} conserves chips: {message}");
                        for s in stacks {
                            self.stacks.insert(n(&s["seat"]), n(&s["stack"]));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// The snapshot has every seat's chips where this ledger has them.
    pub fn check_snapshot(&self, snapshot: &Value) {
        let mut seats = BTreeMap::new();
        for seat in snapshot["view"]["seats"]
            .as_array()
            .expect("seats")
            .iter()
            .filter(|s| !s.is_null())
        {
            let chips =
                seat["stack"].as_u64().expect("stack") + seat["committed"].as_u64().expect("committed");
            seats.insert(seat["seat"].as_u64().expect("seat"), chips);
        }
        assert_eq!(
            seats, self.stacks,
            "{}: chips per seat at seq {} (ledger at {})",
            self.table, snapshot["seq"], self.seq
        );
    }
}

/// What a connection's task knows and does: follows the table, and for a
/// player acts on its turns (check, else call) unless told to hold.
#[derive(Clone, Debug)]
pub struct Play {
    pub table: String,
    pub seat: Option<u64>,
    /// The seat to act and the seq that gave it the turn.
    pub to_act: Option<(u64, u64)>,
    /// The last turn acted on or held.
    pub handled: Option<u64>,
    /// The id of the `check` whose answer is awaited.
    pub checking: Option<u64>,
    /// False after a join with `last_seq` until its `snapshot` or `resumed`.
    pub live: bool,
    pub last_seq: u64,
    pub epoch: Option<u64>,
}

impl Play {
    pub fn new(table: &str, seat: Option<u64>) -> Play {
        Play {
            table: table.to_owned(),
            seat,
            to_act: None,
            handled: None,
            checking: None,
            live: true,
            last_seq: 0,
            epoch: None,
        }
    }

    pub fn observe(&mut self, message: &Value) {
        match message["type"].as_str() {
            Some("snapshot") => {
                self.live = true;
                self.last_seq = seq_of(message);
                self.epoch = message["epoch"].as_u64();
                let view = &message["view"];
                self.to_act = match (view["hand_in_progress"] == true, view["to_act"].as_u64()) {
                    // A turn is named by its `turn_started` seq (`clock.turn`).
                    (true, Some(seat)) => {
                        Some((seat, message["clock"]["turn"].as_u64().unwrap_or(seq_of(message))))
                    }
                    _ => None,
                };
            }
            Some("resumed") => {
                self.live = true;
                self.last_seq = seq_of(message);
                self.epoch = message["epoch"].as_u64();
            }
            Some("event") => {
                self.last_seq = self.last_seq.max(seq_of(message));
                match message["event"]["type"].as_str() {
                    Some("turn_started") => {
                        self.to_act = message["event"]["seat"].as_u64().map(|s| (s, seq_of(message)));
                    }
                    Some("action_taken" | "hand_ended") => self.to_act = None,
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// A connection read by a task of its own: every message it receives (and
/// a `test:holding` marker when a held player lets its turn wait) lands in
/// a shared log the test waits on.
pub struct Follower {
    /// What the follower started from (to rebuild its state from the log).
    pub start: Play,
    pub log: Arc<Mutex<Vec<Value>>>,
    pub changes: watch::Receiver<usize>,
    pub hold: Arc<AtomicBool>,
    pub task: JoinHandle<Play>,
}

impl Follower {
    pub fn spawn(client: WsClient, play: Play) -> Follower {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, changes) = watch::channel(0);
        let hold = Arc::new(AtomicBool::new(false));
        let start = play.clone();
        let task = tokio::spawn(follow(client, play, log.clone(), tx, hold.clone()));
        Follower {
            start,
            log,
            changes,
            hold,
            task,
        }
    }

    pub fn log(&self) -> Vec<Value> {
        self.log.lock().expect("log").clone()
    }

    /// Waits until `condition` holds for the log.
    pub async fn wait(&mut self, what: &str, condition: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            if condition(&self.log.lock().expect("log")) {
                return;
            }
            match tokio::time::timeout_at(deadline, self.changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) if condition(&self.log.lock().expect("log")) => return,
                Ok(Err(_)) => panic!("{what}: the connection closed first"),
                Err(_) => {
                    let log = self.log.lock().expect("log");
                    let tail = &log[log.len().saturating_sub(5)..];
                    panic!("{what}: not within {WAIT:?}; last messages: {tail:?}");
                }
            }
        }
    }

    /// Stops following now (the connection is dropped): its state, as its
    /// log leaves it, and the log.
    pub async fn finish_now(self) -> (Play, Vec<Value>) {
        self.task.abort();
        let _ = self.task.await;
        let log = self.log.lock().expect("log").clone();
        let mut play = self.start;
        for message in &log {
            play.observe(message);
        }
        (play, log)
    }

    /// Waits for the connection to close (the server is gone).
    pub async fn finish(self) -> (Play, Vec<Value>) {
        let play = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the connection closes")
            .expect("the follower task");
        let log = self.log.lock().expect("log").clone();
        (play, log)
    }
}

pub async fn follow(
    mut client: WsClient,
    mut play: Play,
    log: Arc<Mutex<Vec<Value>>>,
    changes: watch::Sender<usize>,
    hold: Arc<AtomicBool>,
) -> Play {
    let record = |message: Value| {
        log.lock().expect("log").push(message);
        changes.send_modify(|n| *n += 1);
    };
    while let Some(message) = client.try_recv(Duration::from_secs(3_600)).await {
        play.observe(&message);
        let answer =
            message["type"] == "error" && message["id"].as_u64().is_some_and(|id| Some(id) == play.checking);
        record(message.clone());
        if answer {
            play.checking = None;
            if message["code"] == "illegal_action" {
                client
                    .send(json!({"type": "act", "table": play.table, "action": "call", "turn": play.handled}))
                    .await;
            } else if message["code"] == "unavailable"
                && play.to_act.is_some_and(|(_, t)| Some(t) == play.handled)
            {
                // No answer (e.g. the owner was out of reach): the act
                // names its turn, so sending it again is safe.
                tokio::time::sleep(Duration::from_millis(500)).await;
                let id = client
                    .send(
                        json!({"type": "act", "table": play.table, "action": "check", "turn": play.handled}),
                    )
                    .await;
                play.checking = Some(id);
            }
        }
        let Some(seat) = play.seat else { continue };
        let Some((to_act, turn)) = play.to_act else {
            continue;
        };
        if !play.live || to_act != seat || play.handled == Some(turn) {
            continue;
        }
        play.handled = Some(turn);
        if hold.load(Ordering::SeqCst) {
            record(json!({"type": "test:holding", "seq": turn}));
        } else {
            let id = client
                .send(json!({"type": "act", "table": play.table, "action": "check", "turn": turn}))
                .await;
            play.checking = Some(id);
        }
    }
    play
}
