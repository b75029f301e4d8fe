//! The live tables: created here, loaded from the store on demand (and all
//! running ones at start-up), removed when their task stops.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::FutureExt as _;
use game_core::TableConfig;
use parking_lot::Mutex;
use schema::{Fence, Repository, StoreError, TableRecord, TableStatus};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tracing::{error, warn};

use super::load::load_state;
use super::ownership::LeaseError;
use super::task::TableTask;
use super::{BROADCAST_CAPACITY, TableDeps, TableError, TableHandle, TableSettings, TableShared};
use crate::auth::{new_id, random_bytes};

/// Commands a table buffers before senders wait (and time out with `unavailable`).
const COMMAND_CAPACITY: usize = 256;
/// The live tables: a cheap handle (tables hold one to leave it when they
/// go idle).
#[derive(Clone)]
pub struct Tables(Arc<TablesInner>);

/// What [`Tables`] holds.
pub struct TablesInner {
    /// What every table uses, shared: each table task holds a pointer to
    /// it, not its own copy (a task's future lives as long as its table).
    pub deps: Arc<TableDeps>,
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
            deps: Arc::new(deps),
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

    /// The live table `id`, loading it from the store if needed. In a
    /// cluster with Redis, a table another node owns opens as a mirror
    /// here (see [`super::mirror`]).
    pub async fn open(&self, id: &str) -> Result<TableHandle, TableError> {
        if let Some(handle) = self.get(id) {
            return Ok(handle);
        }
        if id.is_empty() || id.len() > 64 {
            return Err(TableError::NotFound);
        }
        // Boxed: a load's state machine is large, and every connection's
        // future (which awaits `open` when it joins) would carry it for its
        // whole life (BENCHMARKS.md, "Memory per idle connection").
        Box::pin(self.load(id, true)).await
    }

    /// Table `id` run by this node (loading and claiming it if needed),
    /// never a mirror: for commands other nodes forward here.
    pub async fn open_owned(&self, id: &str) -> Result<TableHandle, TableError> {
        let handle = match self.get(id) {
            Some(handle) => handle,
            None if id.is_empty() || id.len() > 64 => return Err(TableError::NotFound),
            None => Box::pin(self.load(id, false)).await?,
        };
        if handle.mirror {
            return Err(TableError::Moved);
        }
        Ok(handle)
    }

    /// Loads table `id` under its load lock (unless another load won).
    async fn load(&self, id: &str, mirror: bool) -> Result<TableHandle, TableError> {
        let _guard = self.load_guard(id).await;
        if let Some(handle) = self.get(id) {
            return Ok(handle);
        }
        self.check_capacity()?;
        let record = self.deps.repo.load_table(id).await?;
        if record.status == TableStatus::Closed {
            return Err(TableError::Closed { id: id.to_owned() });
        }
        let fence = match self.lease(id).await {
            Ok(fence) => fence,
            Err(TableError::Elsewhere {
                address: Some(address),
                ..
            }) if mirror && self.deps.remote.is_some() => {
                let handle = self.start_mirror(record, address).await?;
                return Ok(handle);
            }
            Err(e) => return Err(e),
        };
        let handle = self.start_leased(record, fence).await?;
        self.deps.metrics.tables_loaded.fetch_add(1, Ordering::Relaxed);
        Ok(handle)
    }

    /// Starts a mirror of a table the node at `owner` runs.
    async fn start_mirror(&self, record: TableRecord, owner: String) -> Result<TableHandle, TableError> {
        let Some(remote) = self.deps.remote.clone() else {
            return Err(TableError::Elsewhere {
                id: record.id,
                address: Some(owner),
            });
        };
        let settings: TableSettings = serde_json::from_str(&record.settings).map_err(|e| {
            error!(table = %record.id, "corrupt table settings: {e}");
            TableError::SettingsUnreadable
        })?;
        // Subscribed before loading: nothing committed in between is missed
        // (what the load already has is skipped).
        let feed = remote.bus.subscribe(&remote.bus.table_channel(&record.id));
        let loaded = match Box::pin(load_state(
            &self.deps,
            &record.id,
            record.config.clone(),
            settings.time_bank_ms,
            None,
            false,
        ))
        .await
        {
            Ok(loaded) => loaded,
            // Dropping the subscription ends it.
            Err(e) => return Err(e),
        };
        let mut state = loaded.state;
        super::mirror::mark_connected(&mut state);
        let (shared, rx) = self.shared_table(record, settings, None, true, state)?;
        let task = super::mirror::MirrorTask {
            shared: shared.clone(),
            deps: self.deps.clone(),
            rx,
            feed,
            owner: super::mirror::Owner {
                address: owner,
                epoch: 0,
            },
        };
        let tables = self.clone();
        let supervised = shared.clone();
        let handle = tokio::spawn(async move {
            tables.deps.metrics.mirrors_live.fetch_add(1, Ordering::Relaxed);
            task.run().await;
            tables.deps.metrics.mirrors_live.fetch_sub(1, Ordering::Relaxed);
            supervised.state.lock().closed = true;
            tables.remove(&supervised);
        });
        self.live
            .lock()
            .insert(shared.id.clone(), (shared.clone(), Some(handle)));
        Ok(shared)
    }

    /// A table's shared part and its command receiver.
    fn shared_table(
        &self,
        record: TableRecord,
        settings: TableSettings,
        fence: Option<Fence>,
        mirror: bool,
        state: super::TableState,
    ) -> Result<(TableHandle, mpsc::Receiver<super::TableCommand>), TableError> {
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        let (commands, rx) = mpsc::channel(COMMAND_CAPACITY);
        let shared = Arc::new(TableShared {
            id: record.id.as_str().into(),
            name: record.name,
            config: record.config,
            settings,
            settings_json: std::sync::OnceLock::new(),
            deal_key: record.deal_key,
            fence,
            mirror,
            state: Mutex::new(state),
            events,
            commands,
            wake: tokio::sync::Notify::new(),
        });
        Ok((shared, rx))
    }

    /// In a cluster, claims table `id` for this node: the fence its writes
    /// carry. `None` on a single node.
    async fn lease(&self, id: &str) -> Result<Option<Fence>, TableError> {
        let Some(ownership) = &self.deps.ownership else {
            return Ok(None);
        };
        match ownership.claim(id).await {
            Ok(fence) => {
                self.deps.metrics.lease_claims.fetch_add(1, Ordering::Relaxed);
                Ok(Some(fence))
            }
            Err(LeaseError::Elsewhere(address)) => Err(TableError::Elsewhere {
                id: id.to_owned(),
                address,
            }),
            Err(LeaseError::NotMember) => Err(TableError::Rejoining),
            Err(LeaseError::Store(e)) => Err(e.into()),
        }
    }

    /// Starts a table under `fence`, releasing the lease if the start fails.
    async fn start_leased(
        &self,
        record: TableRecord,
        fence: Option<Fence>,
    ) -> Result<TableHandle, TableError> {
        match self.start(record, fence.clone()).await {
            Ok(handle) => Ok(handle),
            Err(e) => {
                if let Some(fence) = fence {
                    self.release(&fence).await;
                }
                Err(e)
            }
        }
    }

    /// Gives a lease back (the table left memory or is handed to a peer).
    async fn release(&self, fence: &Fence) {
        if let Some(ownership) = &self.deps.ownership
            && let Err(e) = ownership.release(fence).await
        {
            // The lease lapses with this node's registration anyway.
            warn!(table = %fence.table_id, "cannot release the table's lease: {e}");
        }
    }

    /// Starts a table this node has just claimed as an orphan (its owner
    /// died or handed it off): loaded from its snapshot and log, mid-hand if
    /// it was, with the turn clock started afresh.
    pub async fn adopt(&self, fence: Fence) -> Result<TableHandle, TableError> {
        let _guard = self.load_guard(&fence.table_id).await;
        if let Some(live) = self.get(&fence.table_id)
            && live.mirror
        {
            // Our mirror of it: the table runs here now; its clients join again.
            self.stop_fenced(&live);
        }
        if let Some(live) = self.get(&fence.table_id) {
            let live_epoch = live.fence.as_ref().map_or(0, |f| f.epoch);
            if live_epoch > fence.epoch {
                // A load on this node claimed the table again after our
                // adoption's claim (and before it took the load guard): the
                // running instance holds the newer lease; ours is void.
                return Ok(live);
            }
            // An older instance of ours still in memory: its lease is gone.
            self.stop_fenced(&live);
        }
        let record = match self.deps.repo.load_table(&fence.table_id).await {
            Ok(record) => record,
            Err(e) => {
                self.release(&fence).await;
                return Err(e.into());
            }
        };
        let handle = self.start_leased(record, Some(fence)).await?;
        self.deps.metrics.tables_loaded.fetch_add(1, Ordering::Relaxed);
        self.deps.metrics.lease_adoptions.fetch_add(1, Ordering::Relaxed);
        Ok(handle)
    }

    /// Stops a table at once because this node no longer holds its lease:
    /// nothing more is written or acknowledged, and its room is told to join
    /// again (which finds the table's new owner).
    pub fn stop_fenced(&self, table: &TableHandle) {
        table.state.lock().closed = true;
        table.publish_room_error(TableError::Moved);
        let entry = {
            let mut live = self.live.lock();
            match live.get(&table.id) {
                Some((h, _)) if Arc::ptr_eq(h, table) => live.remove(&table.id),
                _ => None,
            }
        };
        if let Some((_, Some(join))) = entry {
            if table.mirror {
                // A mirror ends by itself (and says so in its gauge).
                let _ = table.commands.try_send(super::TableCommand::Shutdown);
            } else {
                join.abort();
            }
        }
        if !table.mirror {
            self.deps.writer.forget(&table.id);
            self.deps.metrics.lease_fenced.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Stops every table (this node lost its registration).
    pub fn stop_all_fenced(&self) -> usize {
        let all = self.all();
        for table in &all {
            self.stop_fenced(table);
        }
        all.len()
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

    fn check_capacity(&self) -> Result<(), TableError> {
        if self.deps.is_shutting_down() {
            return Err(TableError::ShuttingDown);
        }
        let max = self.deps.limits.max_tables;
        if self.len() >= max {
            return Err(TableError::TooManyTables { max });
        }
        Ok(())
    }

    /// Creates, stores and starts a table.
    pub async fn create(
        &self,
        name: String,
        config: TableConfig,
        settings: TableSettings,
    ) -> Result<TableHandle, TableError> {
        settings.validate(&config)?;
        for ai in &settings.ai_seats {
            self.deps.agents.validate(&ai.agent)?;
        }
        self.check_capacity()?;
        let settings_json = serde_json::to_string(&settings).map_err(TableError::EncodeSettings)?;
        let record = TableRecord {
            id: new_id("t_"),
            name,
            config,
            status: TableStatus::Open,
            created_at_ms: schema::now_ms(),
            settings: settings_json,
            deal_key: game_core::DealKey::from_bytes(random_bytes()),
        };
        self.deps.repo.create_table(&record).await?;
        let fence = self.lease(&record.id).await?;
        self.start_leased(record, fence).await
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
            let fence = match self.lease(&id).await {
                Ok(fence) => fence,
                Err(TableError::Elsewhere { .. }) => continue,
                Err(e) => {
                    error!(table = %id, "cannot claim table: {e}");
                    continue;
                }
            };
            match self.start_leased(record, fence).await {
                Ok(_) => {
                    restored += 1;
                    self.deps.metrics.tables_loaded.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => error!(table = %id, "cannot restore table: {e}"),
            }
        }
        Ok(restored)
    }

    async fn start(&self, record: TableRecord, fence: Option<Fence>) -> Result<TableHandle, TableError> {
        let settings: TableSettings = serde_json::from_str(&record.settings).map_err(|e| {
            error!(table = %record.id, "corrupt table settings: {e}");
            TableError::SettingsUnreadable
        })?;
        let loaded = Box::pin(load_state(
            &self.deps,
            &record.id,
            record.config.clone(),
            settings.time_bank_ms,
            fence.as_ref(),
            true,
        ))
        .await?;
        let (shared, rx) = self.shared_table(record, settings, fence, false, loaded.state)?;
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
            // Released for the next loader (a peer, at once, if the table
            // still runs: a handoff). A lease another node took since is
            // left alone (the release names our epoch).
            if let Some(fence) = &supervised.fence {
                tables.release(fence).await;
            }
            if outcome.is_err() {
                // A bug in the table task must not freeze its room: tell
                // everyone to join again, which reloads the table from its
                // log (only what was stored survives).
                error!(table = %supervised.id, "table task panicked; the table reloads from its log on the next join");
                supervised.publish_room_error(TableError::Crashed);
            }
        });
        self.live
            .lock()
            .insert(shared.id.clone(), (shared.clone(), Some(handle)));
        Ok(shared)
    }

    /// Stops every table: each persists what it has and ends. In a
    /// cluster, tables are handed over one by one (each stops, then its
    /// lease is released and a peer claims it), so each is unavailable only
    /// for about the time a peer takes to load it.
    pub async fn shutdown(&self) {
        let entries: Vec<(TableHandle, Option<JoinHandle<()>>)> =
            self.live.lock().drain().map(|(_, v)| v).collect();
        if self.deps.ownership.is_some() {
            for (handle, join) in entries {
                let _ = handle.commands.try_send(super::TableCommand::Shutdown);
                if let Some(join) = join
                    && tokio::time::timeout(Duration::from_secs(10), join).await.is_err()
                {
                    warn!(table = %handle.id, "table did not stop within 10 s");
                }
                if !handle.mirror {
                    self.deps.metrics.lease_handoffs.fetch_add(1, Ordering::Relaxed);
                }
            }
            return;
        }
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
