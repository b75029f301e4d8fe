//! The live tables: created here, loaded from the store on demand (and all
//! running ones at start-up), removed when their task stops.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::FutureExt as _;
use game_core::{Event, Table, TableConfig, TableSnapshot};
use parking_lot::Mutex;
use schema::{Repository, StoreError, TableRecord, TableStatus};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::agents::Agents;
use super::task::{TableTask, is_human};
use super::{BROADCAST_CAPACITY, Occupant, TableHandle, TableSettings, TableShared, TableState};
use crate::app::App;
use crate::auth::{new_id, random_bytes, random_u64};
use crate::transport::protocol::{ErrorCode, Failure};

/// Commands a table buffers before senders wait (and time out with `unavailable`).
const COMMAND_CAPACITY: usize = 256;
/// Events read per store query while loading a table.
const LOAD_PAGE: u64 = 5_000;

/// The live tables.
#[derive(Default)]
pub struct Tables {
    live: Mutex<HashMap<Arc<str>, LiveTable>>,
    /// One lock per table being loaded, so a table is never loaded twice at
    /// once while loads of different tables go on side by side. An entry
    /// lives while someone holds or waits for its lock.
    loading: Mutex<HashMap<Arc<str>, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds a table's load lock; the map entry goes when nobody else wants it.
struct LoadGuard<'a> {
    tables: &'a Tables,
    id: Arc<str>,
    lock: Arc<tokio::sync::Mutex<()>>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for LoadGuard<'_> {
    fn drop(&mut self) {
        self._guard = None;
        let mut loading = self.tables.loading.lock();
        // Two references: the map's and ours; anyone else waits for it.
        if Arc::strong_count(&self.lock) == 2 {
            loading.remove(&self.id);
        }
    }
}

/// A live table and its task (taken at shutdown to wait for it).
type LiveTable = (TableHandle, Option<JoinHandle<()>>);

/// A table's state rebuilt from its log.
pub(crate) struct Loaded {
    pub state: TableState,
    pub hand_log: Vec<Event>,
    pub hand_first_seq: u64,
    /// Events replayed after the snapshot (all of them without one).
    pub replayed: u64,
}

/// Maps a store error to what a client is told.
pub fn store_failure(e: &StoreError) -> Failure {
    match e {
        StoreError::NotFound { what, id } => Failure::new(
            match *what {
                "player" => ErrorCode::PlayerNotFound,
                "experiment" => ErrorCode::ExperimentNotFound,
                _ => ErrorCode::TableNotFound,
            },
            format!("{what} {id} not found"),
        ),
        other => {
            error!("store error: {other}");
            Failure::new(
                ErrorCode::Unavailable,
                "the store is unavailable; try again shortly",
            )
        }
    }
}

impl Tables {
    /// A live table, if in memory.
    pub fn get(&self, id: &str) -> Option<TableHandle> {
        self.live.lock().get(id).map(|(h, _)| h.clone())
    }

    /// All live tables.
    pub fn all(&self) -> Vec<TableHandle> {
        self.live.lock().values().map(|(h, _)| h.clone()).collect()
    }

    /// How many tables are in memory.
    pub fn len(&self) -> usize {
        self.live.lock().len()
    }

    /// Whether no table is in memory.
    pub fn is_empty(&self) -> bool {
        self.live.lock().is_empty()
    }

    pub(crate) fn remove(&self, id: &str) {
        if self.live.lock().remove(id).is_some() {
            // Counted where inserted.
        }
    }

    /// The live table `id`, loading it from the store if needed.
    pub async fn open(&self, app: &App, id: &str) -> Result<TableHandle, Failure> {
        if let Some(handle) = self.get(id) {
            return Ok(handle);
        }
        if id.is_empty() || id.len() > 64 {
            return Err(Failure::new(ErrorCode::TableNotFound, "no such table"));
        }
        let _guard = self.load_guard(id).await;
        if let Some(handle) = self.get(id) {
            return Ok(handle);
        }
        self.check_capacity(app)?;
        let record = app.repo.load_table(id).await.map_err(|e| store_failure(&e))?;
        if record.status == TableStatus::Closed {
            return Err(Failure::new(
                ErrorCode::TableNotFound,
                format!("table {id} is closed"),
            ));
        }
        let handle = self.start(app, record).await?;
        app.metrics.tables_loaded.fetch_add(1, Ordering::Relaxed);
        Ok(handle)
    }

    /// Waits for the load lock of table `id`.
    async fn load_guard(&self, id: &str) -> LoadGuard<'_> {
        let lock = self.loading.lock().entry(Arc::from(id)).or_default().clone();
        let guard = lock.clone().lock_owned().await;
        LoadGuard {
            tables: self,
            id: Arc::from(id),
            lock,
            _guard: Some(guard),
        }
    }

    fn check_capacity(&self, app: &App) -> Result<(), Failure> {
        if app.is_shutting_down() {
            return Err(Failure::new(
                ErrorCode::ShuttingDown,
                "the server is shutting down",
            ));
        }
        let max = app.config.limits.max_tables;
        if self.len() >= max {
            return Err(Failure::new(
                ErrorCode::TooManyTables,
                format!("the server is at its limit of {max} live tables; try again later"),
            ));
        }
        Ok(())
    }

    /// Creates, stores and starts a table.
    pub async fn create(
        &self,
        app: &App,
        name: String,
        config: TableConfig,
        settings: TableSettings,
    ) -> Result<TableHandle, Failure> {
        settings.validate(&config)?;
        for ai in &settings.ai_seats {
            app.agents.validate(&ai.agent)?;
        }
        self.check_capacity(app)?;
        let settings_json = serde_json::to_string(&settings)
            .map_err(|e| Failure::new(ErrorCode::Internal, format!("cannot encode settings: {e}")))?;
        let record = TableRecord {
            id: new_id("t_"),
            name,
            config,
            status: TableStatus::Open,
            created_at_ms: schema::now_ms(),
            settings: settings_json,
            deal_key: game_core::DealKey::from_bytes(random_bytes()),
        };
        app.repo
            .create_table(&record)
            .await
            .map_err(|e| store_failure(&e))?;
        self.start(app, record).await
    }

    /// Loads every table that was running when the server stopped.
    pub async fn restore_all(&self, app: &App) -> Result<usize, StoreError> {
        let running = app.repo.list_tables(Some(TableStatus::Running)).await?;
        let mut restored = 0;
        for record in running {
            let id = record.id.clone();
            let _guard = self.load_guard(&id).await;
            if self.get(&id).is_some() {
                continue;
            }
            match self.start(app, record).await {
                Ok(_) => {
                    restored += 1;
                    app.metrics.tables_loaded.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => error!(table = %id, "cannot restore table: {}", e.message),
            }
        }
        Ok(restored)
    }

    async fn start(&self, app: &App, record: TableRecord) -> Result<TableHandle, Failure> {
        let settings: TableSettings = serde_json::from_str(&record.settings).map_err(|e| {
            error!(table = %record.id, "corrupt table settings: {e}");
            Failure::new(ErrorCode::Internal, "the table's settings are unreadable")
        })?;
        let loaded = load_state(app, &record.id, record.config.clone(), settings.time_bank_ms).await?;
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        let (commands, rx) = mpsc::channel(COMMAND_CAPACITY);
        let shared = Arc::new(TableShared {
            id: record.id.as_str().into(),
            name: record.name,
            config: record.config,
            settings,
            deal_key: record.deal_key,
            state: Mutex::new(loaded.state),
            events,
            commands,
        });
        let task = TableTask::new(
            shared.clone(),
            app.clone(),
            rx,
            loaded.hand_log,
            loaded.hand_first_seq,
            loaded.replayed,
        );
        let metrics_app = app.clone();
        let supervised = shared.clone();
        let handle = tokio::spawn(async move {
            metrics_app.metrics.tables_live.fetch_add(1, Ordering::Relaxed);
            let outcome = std::panic::AssertUnwindSafe(task.run()).catch_unwind().await;
            metrics_app.metrics.tables_live.fetch_sub(1, Ordering::Relaxed);
            if outcome.is_err() {
                // A bug in the table task must not freeze its room: drop the
                // table from memory and tell everyone to join again, which
                // reloads it from its log (only what was stored survives).
                error!(table = %supervised.id, "table task panicked; the table reloads from its log on the next join");
                supervised.state.lock().closed = true;
                metrics_app.tables.remove(&supervised.id);
                let json = serde_json::json!({
                    "type": "error", "code": ErrorCode::Unavailable, "table": &*supervised.id,
                    "message": "the table stopped after an internal error; join again",
                });
                let _ = supervised.events.send(Arc::new(super::Delta {
                    seq: None,
                    audience: super::Audience::All,
                    json: json.to_string().into(),
                    resync: false,
                    seat_change: None,
                }));
            }
        });
        self.live
            .lock()
            .insert(shared.id.clone(), (shared.clone(), Some(handle)));
        Ok(shared)
    }

    /// Stops every table: each persists what it has and ends.
    pub async fn shutdown(&self) {
        let entries: Vec<(TableHandle, Option<JoinHandle<()>>)> =
            self.live.lock().drain().map(|(_, v)| v).collect();
        for (handle, _) in &entries {
            let _ = handle.commands.try_send(super::TableCommand::Shutdown);
        }
        for (handle, join) in entries {
            if let Some(join) = join
                && tokio::time::timeout(Duration::from_secs(10), join).await.is_err()
            {
                warn!(table = %handle.id, "table did not stop within 10 s");
            }
        }
    }
}

/// An empty table for `config` (a table without a usable snapshot).
fn fresh_table(id: &str, config: &TableConfig) -> Result<Table, Failure> {
    Table::new(config.clone()).map_err(|e| {
        error!(table = %id, "unplayable table config: {e}");
        Failure::new(ErrorCode::Internal, "the table's config is unplayable")
    })
}

/// Rebuilds a table's state from its latest snapshot and the events after
/// it (the whole log when it has no snapshot), and settles money the log
/// decides: pending buy-ins (confirmed if the seat was taken, else refunded)
/// and cash-outs of every `SeatLeft` since the snapshot (exactly once, keyed
/// by seq).
pub(crate) async fn load_state(
    app: &App,
    id: &str,
    config: TableConfig,
    time_bank_ms: u64,
) -> Result<Loaded, Failure> {
    let repo = &app.repo;
    // The latest snapshot, if any and usable: then only the events after it
    // are read and replayed.
    let (start, base) = match repo.latest_snapshot(id).await.map_err(|e| store_failure(&e))? {
        Some(record) => match serde_json::from_str::<TableSnapshot>(&record.state)
            .map_err(|e| e.to_string())
            .and_then(|s| Table::restore(config.clone(), s).map_err(|e| e.to_string()))
        {
            Ok(table) => (table, record.seq),
            Err(e) => {
                warn!(table = %id, "unusable snapshot at seq {} ({e}); replaying the whole log", record.seq);
                (fresh_table(id, &config)?, 0)
            }
        },
        None => (fresh_table(id, &config)?, 0),
    };
    // `events[i]` is the event at seq `base + 1 + i`.
    let mut events = Vec::new();
    let mut after = base;
    loop {
        let page = repo
            .events_since(id, after, LOAD_PAGE)
            .await
            .map_err(|e| store_failure(&e))?;
        let n = page.len() as u64;
        for record in page {
            if record.seq != after + 1 {
                error!(table = %id, "event log has a gap at {}", after + 1);
                return Err(Failure::new(
                    ErrorCode::Internal,
                    "the table's event log is damaged",
                ));
            }
            after = record.seq;
            events.push(record.event().map_err(|e| store_failure(&e))?);
        }
        if n < LOAD_PAGE {
            break;
        }
    }
    let seq = after;
    // Who sat where when the snapshot was taken, for the cash-outs below.
    let mut owners: Vec<Option<String>> = start
        .seats()
        .iter()
        .map(|s| s.as_ref().map(|s| s.player.clone()))
        .collect();
    let engine = Table::replay_onto(start, &events).map_err(|e| {
        error!(table = %id, "event log does not replay: {e}");
        Failure::new(ErrorCode::Internal, "the table's event log does not replay")
    })?;

    // Money the log decides. A snapshot is only taken while the table has
    // no buy-in or cash-out left to settle (see `TableTask::snapshot`), so
    // what is still pending concerns seats taken or left after it.
    let pending = repo.pending_buy_ins(id).await.map_err(|e| store_failure(&e))?;
    for buy_in in pending {
        let in_tail = events.iter().enumerate().any(|(i, e)| {
            base + (i as u64) + 1 > buy_in.after_seq
                && matches!(e, Event::SeatTaken { seat, player, .. }
                    if *seat as u64 == buy_in.seat && *player == buy_in.player_id)
        });
        let in_snapshot = buy_in.after_seq < base
            && usize::try_from(buy_in.seat)
                .ok()
                .and_then(|seat| owners.get(seat))
                .is_some_and(|o| o.as_deref() == Some(buy_in.player_id.as_str()));
        let seated = in_tail || in_snapshot;
        let result = if seated {
            repo.confirm_buy_in(buy_in.id).await
        } else {
            info!(table = %id, player = %buy_in.player_id, "refunding a buy-in whose seat was never taken");
            repo.refund_buy_in(buy_in.id).await
        };
        result.map_err(|e| store_failure(&e))?;
    }
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::SeatTaken { seat, player, .. } => {
                if let Some(owner) = owners.get_mut(*seat) {
                    *owner = Some(player.clone());
                }
            }
            Event::SeatLeft { seat, stack } => {
                if let Some(player) = owners
                    .get_mut(*seat)
                    .and_then(Option::take)
                    .filter(|p| is_human(p))
                {
                    repo.cash_out(id, base + i as u64 + 1, &player, *stack, schema::now_ms())
                        .await
                        .map_err(|e| store_failure(&e))?;
                }
            }
            _ => {}
        }
    }

    // Who sits where, with names.
    let mut occupants: Vec<Option<Occupant>> = vec![None; config.seats];
    for (seat, s) in engine.seats().iter().enumerate() {
        let Some(s) = s else { continue };
        let (name, kind, bank) = if is_human(&s.player) {
            let name = match repo.load_player(&s.player).await {
                Ok(p) => p.display_name,
                Err(e) => {
                    warn!(table = %id, player = %s.player, "cannot load player name: {e}");
                    s.player.clone()
                }
            };
            (name, "human", time_bank_ms)
        } else {
            (
                app.agents.display_name(&s.player, seat),
                Agents::kind(&s.player),
                0,
            )
        };
        occupants[seat] = Some(Occupant {
            id: s.player.as_str().into(),
            name,
            kind,
            connections: 0,
            disconnected_at: if kind == "human" {
                Some(tokio::time::Instant::now())
            } else {
                None
            },
            bank_ms: bank,
            leaving: false,
        });
    }

    // The hand in progress, for its history at the end.
    let (hand_log, hand_first_seq) = if engine.hand_in_progress() {
        let start = events
            .iter()
            .rposition(|e| matches!(e, Event::HandStarted { .. }))
            .unwrap_or(0);
        let from = start.saturating_sub(1);
        (events[from..].to_vec(), base + start as u64 + 1)
    } else {
        (Vec::new(), 0)
    };

    let state = TableState {
        engine,
        seq,
        epoch: random_u64() >> 12,
        loaded_seq: seq,
        ring: VecDeque::new(),
        ring_from: seq + 1,
        occupants,
        chat: VecDeque::new(),
        clock: None,
        watchers: 0,
        spectators: 0,
        present: HashMap::new(),
        idle_since: Some(tokio::time::Instant::now()),
        closed: false,
    };
    Ok(Loaded {
        state,
        hand_log,
        hand_first_seq,
        replayed: seq - base,
    })
}
