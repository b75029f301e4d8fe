//! The live tables: created here, loaded from the store on demand (and all
//! running ones at start-up), removed when their task stops.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::FutureExt as _;
use game_core::TableConfig;
use parking_lot::Mutex;
use schema::{Repository, StoreError, TableRecord, TableStatus};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tracing::{error, warn};

use super::load::load_state;
use super::task::TableTask;
use super::{BROADCAST_CAPACITY, TableDeps, TableHandle, TableSettings, TableShared};
use crate::auth::{new_id, random_bytes};
use crate::protocol::{ErrorCode, Failure, ServerMessage};

/// Commands a table buffers before senders wait (and time out with `unavailable`).
const COMMAND_CAPACITY: usize = 256;
/// The live tables: a cheap handle (tables hold one to leave it when they
/// go idle).
#[derive(Clone)]
pub struct Tables(Arc<TablesInner>);

/// What [`Tables`] holds.
pub struct TablesInner {
    /// What every table uses.
    pub deps: TableDeps,
    live: Mutex<HashMap<Arc<str>, LiveTable>>,
    /// One lock per table being loaded, so a table is never loaded twice at
    /// once while loads of different tables go on side by side. An entry
    /// lives while someone holds or waits for its lock.
    loading: Mutex<HashMap<Arc<str>, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::ops::Deref for Tables {
    type Target = TablesInner;
    fn deref(&self) -> &TablesInner {
        &self.0
    }
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

impl Tables {
    /// No tables yet; each will use `deps`.
    pub fn new(deps: TableDeps) -> Tables {
        Tables(Arc::new(TablesInner {
            deps,
            live: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
        }))
    }

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

    /// Drops `table` from memory, if that instance is still the live one.
    fn remove(&self, table: &TableHandle) {
        let mut live = self.live.lock();
        if live.get(&table.id).is_some_and(|(h, _)| Arc::ptr_eq(h, table)) {
            live.remove(&table.id);
            // The writer keeps each table's log position; it reads it back
            // from the store if the table writes again.
            self.deps.writer.forget(&table.id);
        }
    }

    /// The live table `id`, loading it from the store if needed.
    pub async fn open(&self, id: &str) -> Result<TableHandle, Failure> {
        if let Some(handle) = self.get(id) {
            return Ok(handle);
        }
        if id.is_empty() || id.len() > 64 {
            return Err(Failure::new(ErrorCode::TableNotFound, "no such table"));
        }
        // Boxed: a load's state machine is large, and every connection's
        // future (which awaits `open` when it joins) would carry it for its
        // whole life (BENCHMARKS.md, "Memory per idle connection").
        Box::pin(self.load(id)).await
    }

    /// Loads table `id` under its load lock (unless another load won).
    async fn load(&self, id: &str) -> Result<TableHandle, Failure> {
        let _guard = self.load_guard(id).await;
        if let Some(handle) = self.get(id) {
            return Ok(handle);
        }
        self.check_capacity()?;
        let record = self.deps.repo.load_table(id).await.map_err(Failure::from)?;
        if record.status == TableStatus::Closed {
            return Err(Failure::new(
                ErrorCode::TableNotFound,
                format!("table {id} is closed"),
            ));
        }
        let handle = self.start(record).await?;
        self.deps.metrics.tables_loaded.fetch_add(1, Ordering::Relaxed);
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

    fn check_capacity(&self) -> Result<(), Failure> {
        if self.deps.is_shutting_down() {
            return Err(Failure::new(
                ErrorCode::ShuttingDown,
                "the server is shutting down",
            ));
        }
        let max = self.deps.limits.max_tables;
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
        name: String,
        config: TableConfig,
        settings: TableSettings,
    ) -> Result<TableHandle, Failure> {
        settings.validate(&config)?;
        for ai in &settings.ai_seats {
            self.deps.agents.validate(&ai.agent)?;
        }
        self.check_capacity()?;
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
        self.deps
            .repo
            .create_table(&record)
            .await
            .map_err(Failure::from)?;
        self.start(record).await
    }

    /// Loads every table that was running when the server stopped.
    pub async fn restore_all(&self) -> Result<usize, StoreError> {
        let running = self.deps.repo.list_tables(Some(TableStatus::Running)).await?;
        let mut restored = 0;
        for record in running {
            let id = record.id.clone();
            let _guard = self.load_guard(&id).await;
            if self.get(&id).is_some() {
                continue;
            }
            match self.start(record).await {
                Ok(_) => {
                    restored += 1;
                    self.deps.metrics.tables_loaded.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => error!(table = %id, "cannot restore table: {}", e.message),
            }
        }
        Ok(restored)
    }

    async fn start(&self, record: TableRecord) -> Result<TableHandle, Failure> {
        let settings: TableSettings = serde_json::from_str(&record.settings).map_err(|e| {
            error!(table = %record.id, "corrupt table settings: {e}");
            Failure::new(ErrorCode::Internal, "the table's settings are unreadable")
        })?;
        let loaded = Box::pin(load_state(
            &self.deps,
            &record.id,
            record.config.clone(),
            settings.time_bank_ms,
        ))
        .await?;
        let settings_json = serde_json::value::to_raw_value(&settings)
            .map_err(|e| Failure::new(ErrorCode::Internal, format!("cannot encode settings: {e}")))?;
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        let (commands, rx) = mpsc::channel(COMMAND_CAPACITY);
        let shared = Arc::new(TableShared {
            id: record.id.as_str().into(),
            name: record.name,
            config: record.config,
            settings,
            settings_json,
            deal_key: record.deal_key,
            state: Mutex::new(loaded.state),
            events,
            commands,
            wake: tokio::sync::Notify::new(),
        });
        let task = TableTask::new(
            shared.clone(),
            self.deps.clone(),
            rx,
            loaded.hand_log,
            loaded.hand_first_seq,
            loaded.replayed,
        );
        let tables = self.clone();
        let supervised = shared.clone();
        let handle = tokio::spawn(async move {
            tables.deps.metrics.tables_live.fetch_add(1, Ordering::Relaxed);
            let outcome = std::panic::AssertUnwindSafe(task.run()).catch_unwind().await;
            tables.deps.metrics.tables_live.fetch_sub(1, Ordering::Relaxed);
            // Stopped, evicted or failed: the table leaves memory (a later
            // join loads it again from the store).
            supervised.state.lock().closed = true;
            tables.remove(&supervised);
            if outcome.is_err() {
                // A bug in the table task must not freeze its room: tell
                // everyone to join again, which reloads the table from its
                // log (only what was stored survives).
                error!(table = %supervised.id, "table task panicked; the table reloads from its log on the next join");
                supervised.publish_room(&ServerMessage::Error {
                    id: None,
                    table: Some(&supervised.id),
                    code: ErrorCode::Unavailable,
                    message: "the table stopped after an internal error; join again",
                });
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
