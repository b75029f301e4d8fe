//! `EventWriter`: one task that appends the events of every table, batching
//! them into one transaction per flush (group commit).
//!
//! Tables send their events on a bounded channel and get a [`Receipt`] that
//! resolves once the events are committed. The writer collects requests until
//! it has `max_batch` events or `flush_after` has passed since the first one,
//! then commits them all at once, so a thousand tables cost one transaction
//! per batch instead of one each. While a commit runs, new requests wait in
//! the channel; when it is full, `append` waits too (backpressure: memory
//! stays bounded however slow the database is).
//!
//! Sequence numbers are assigned by the caller (the table task). The writer
//! keeps each table's next expected seq (read from the store the first time
//! it sees a table) and, per request, atomically:
//! - skips events whose seq is already stored or already accepted (so a
//!   restarted writer, or a caller re-sending after an error, is idempotent),
//! - rejects the whole request with [`StoreError::SequenceGap`] if it would
//!   leave a hole.
//!
//! Hence a successful receipt for seq N means every seq up to N of that table
//! is durable: after a failed commit the table's position is re-read from
//! the store, so later requests that depended on the lost ones fail as gaps.
//!
//! The per-table positions are bounded: a table's entry goes when the server
//! says the table left memory ([`EventWriter::forget`]) and, failing that,
//! once the table has not appended for [`WriterConfig::forget_idle_after`].
//! Dropping an entry never weakens the checks: between batches every
//! accepted event is committed, so the store's last seq *is* the table's
//! position, and it is read back the next time the table appends (one query).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::StoreError;
use crate::model::{EventRecord, Fence, HandRecord};
use crate::repository::{Repository, StoreResult};

/// Called with the events of every committed batch, in commit order, after
/// the commit (so only durable events are seen); it must not block.
#[derive(Clone)]
pub struct CommitHook(pub Arc<CommitFn>);

/// What a [`CommitHook`] calls.
pub type CommitFn = dyn Fn(&[EventRecord]) + Send + Sync;

impl std::fmt::Debug for CommitHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitHook")
    }
}

/// How the writer batches.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Requests (appends) that may wait in the channel; `append` waits beyond.
    pub capacity: usize,
    /// Commit as soon as a batch holds this many events.
    pub max_batch: usize,
    /// Commit at the latest this long after the first request of a batch arrived.
    pub flush_after: Duration,
    /// Forget a table's position once it has appended nothing for this long
    /// (it is read back from the store if the table appends again), so the
    /// bookkeeping stays bounded even if nobody calls [`EventWriter::forget`].
    pub forget_idle_after: Duration,
    /// Told about every batch once it is durable (a cluster node publishes
    /// them to the nodes that mirror the tables); `None` by default.
    pub on_commit: Option<CommitHook>,
}

impl Default for WriterConfig {
    /// 4,096 pending requests, batches of up to 4,096 events, 2 ms linger;
    /// positions of tables idle for 10 minutes are forgotten.
    fn default() -> WriterConfig {
        WriterConfig {
            capacity: 4096,
            max_batch: 4096,
            flush_after: Duration::from_millis(2),
            forget_idle_after: Duration::from_secs(600),
            on_commit: None,
        }
    }
}

/// Counters of what the writer has committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed (successful batches).
    pub batches: u64,
    /// Events committed.
    pub events: u64,
    /// Batches that failed.
    pub failed_batches: u64,
    /// Tables whose position the writer currently keeps (a gauge: it falls
    /// when tables are forgotten).
    pub tracked_tables: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    events: AtomicU64,
    failed_batches: AtomicU64,
    tracked_tables: AtomicU64,
}

/// One append: a table's events, the histories of hands they finish, and
/// where to say when they are durable.
struct Request {
    events: Vec<EventRecord>,
    hands: Vec<HandRecord>,
    /// The lease the appending table holds (cluster mode), checked in the
    /// batch's transaction even when every event was stored already.
    fence: Option<Fence>,
    done: oneshot::Sender<StoreResult<()>>,
}

/// The sending side of the writer. Cheap to clone: every table holds one.
#[derive(Clone, Debug)]
pub struct EventWriter {
    tx: mpsc::Sender<Request>,
    /// Tables that left memory (see [`EventWriter::forget`]).
    forget_tx: mpsc::UnboundedSender<String>,
    counters: Arc<Counters>,
}

/// Resolves when the events of one append are committed (or failed).
#[derive(Debug)]
#[must_use = "a receipt does nothing unless awaited; drop it to not wait"]
pub struct Receipt {
    rx: oneshot::Receiver<StoreResult<()>>,
}

impl Receipt {
    /// Waits until the events are durable; `WriterClosed` if the writer died first.
    pub async fn durable(self) -> StoreResult<()> {
        self.rx.await.map_err(|_| StoreError::WriterClosed)?
    }
}

/// The writer task; join it after dropping every [`EventWriter`] to be sure
/// the last batch is committed.
#[derive(Debug)]
pub struct WriterTask {
    handle: JoinHandle<()>,
}

impl WriterTask {
    /// Waits for the task to finish (it does once every sender is dropped).
    pub async fn join(self) -> StoreResult<()> {
        self.handle.await.map_err(|_| StoreError::WriterClosed)
    }

    /// Stops the task at once; pending receipts resolve to `WriterClosed`.
    pub fn abort(&self) {
        self.handle.abort();
    }
}

impl EventWriter {
    /// Starts the writer task for `repo` on the current tokio runtime.
    pub fn spawn<R: Repository>(repo: R, config: WriterConfig) -> (EventWriter, WriterTask) {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let (forget_tx, forget_rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let handle = tokio::spawn(run(repo, rx, forget_rx, config, counters.clone()));
        (
            EventWriter {
                tx,
                forget_tx,
                counters,
            },
            WriterTask { handle },
        )
    }

    /// Drops the writer's bookkeeping for `table_id` (call it when the table
    /// leaves memory). It never waits and is always safe: appends already
    /// queued are handled as usual, and if the table appends again its
    /// position is read back from the store, with the same gap checks.
    pub fn forget(&self, table_id: &str) {
        // Fails only once the writer task is gone, and then there is nothing to forget.
        let _ = self.forget_tx.send(table_id.to_owned());
    }

    /// Queues `events` (waiting while the channel is full) and returns a
    /// receipt for their durability. Events of one table must be sent in seq
    /// order, from one task.
    pub async fn append(&self, events: Vec<EventRecord>) -> StoreResult<Receipt> {
        self.append_with_hands(events, Vec::new()).await
    }

    /// Like [`EventWriter::append`], with the histories of the hands these
    /// events finish: they are committed in the same transaction as the
    /// events, so a stored `hand_ended` always has its history. If the
    /// request's events were all stored already, the histories are still
    /// written (unless recorded already).
    pub async fn append_with_hands(
        &self,
        events: Vec<EventRecord>,
        hands: Vec<HandRecord>,
    ) -> StoreResult<Receipt> {
        self.append_fenced(events, hands, None).await
    }

    /// Like [`EventWriter::append_with_hands`], for a table held through a
    /// lease: the batch's transaction checks `fence` (see
    /// [`Repository::append_fenced`]) and the receipt fails with `Fenced`,
    /// nothing stored, if the lease moved on. A fenced request is always
    /// checked in the store, even when all its events were stored before:
    /// "already stored" is only trusted while the lease is still ours.
    pub async fn append_fenced(
        &self,
        events: Vec<EventRecord>,
        hands: Vec<HandRecord>,
        fence: Option<Fence>,
    ) -> StoreResult<Receipt> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Request {
                events,
                hands,
                fence,
                done,
            })
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        Ok(Receipt { rx })
    }

    /// Appends and waits until durable.
    pub async fn append_durable(&self, events: Vec<EventRecord>) -> StoreResult<()> {
        self.append(events).await?.durable().await
    }

    /// Waits until everything sent before this call is committed (or failed).
    pub async fn flush(&self) -> StoreResult<()> {
        self.append_durable(Vec::new()).await
    }

    /// What has been committed so far.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            events: self.counters.events.load(Ordering::Relaxed),
            failed_batches: self.counters.failed_batches.load(Ordering::Relaxed),
            tracked_tables: self.counters.tracked_tables.load(Ordering::Relaxed),
        }
    }
}

/// Where one table stands, as the writer knows it.
#[derive(Clone, Copy, Debug)]
struct Position {
    /// The next seq the table may append.
    next: u64,
    /// When the table last appended (or was looked up).
    touched: Instant,
}

/// Every known table's position; bounded by [`Positions::forget`] and [`Positions::sweep`].
#[derive(Debug)]
struct Positions {
    map: HashMap<String, Position>,
    /// Where the map's size is published (before any receipt it affects resolves).
    counters: Arc<Counters>,
    /// Positions untouched for this long are dropped by a sweep.
    idle_after: Duration,
    /// When the last sweep ran.
    swept: Instant,
}

impl Positions {
    fn new(idle_after: Duration, counters: Arc<Counters>) -> Positions {
        Positions {
            map: HashMap::new(),
            counters,
            idle_after,
            swept: Instant::now(),
        }
    }

    fn get(&self, table_id: &str) -> Option<u64> {
        self.map.get(table_id).map(|p| p.next)
    }

    fn set(&mut self, table_id: String, next: u64, now: Instant) {
        self.map.insert(table_id, Position { next, touched: now });
        self.publish();
    }

    fn forget(&mut self, table_id: &str) {
        if self.map.remove(table_id).is_some() {
            self.publish();
        }
    }

    fn publish(&self) {
        self.counters
            .tracked_tables
            .store(self.map.len() as u64, Ordering::Relaxed);
    }

    /// When the next sweep is due (`None`: never, for a huge `idle_after`).
    fn sweep_due(&self) -> Option<Instant> {
        self.swept.checked_add(self.idle_after / 2)
    }

    /// Drops positions idle for `idle_after`, at most every `idle_after / 2`
    /// (so an entry lives at most 1.5 times `idle_after` past its last use).
    fn sweep(&mut self, now: Instant) {
        if self.sweep_due().is_none_or(|due| now < due) {
            return;
        }
        self.swept = now;
        let idle_after = self.idle_after;
        self.map
            .retain(|_, p| now.saturating_duration_since(p.touched) < idle_after);
        self.publish();
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The writer loop: gather a batch, commit it, answer every request in it.
async fn run<R: Repository>(
    repo: R,
    mut rx: mpsc::Receiver<Request>,
    mut forget_rx: mpsc::UnboundedReceiver<String>,
    config: WriterConfig,
    counters: Arc<Counters>,
) {
    let mut next = Positions::new(config.forget_idle_after, counters.clone());
    let max_batch = config.max_batch.max(1);
    loop {
        // While idle, still forget tables and drop idle positions.
        let first = loop {
            let sweep_at = if next.is_empty() { None } else { next.sweep_due() };
            tokio::select! {
                biased;
                Some(table_id) = forget_rx.recv() => next.forget(&table_id),
                request = rx.recv() => break request,
                () = sleep_until_some(sweep_at) => next.sweep(Instant::now()),
            }
        };
        let Some(first) = first else { break };
        let deadline = Instant::now() + config.flush_after;
        let mut size = first.events.len();
        let mut batch = vec![first];
        let mut closed = false;
        while size < max_batch {
            let request = match rx.try_recv() {
                Ok(r) => r,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(r)) => r,
                        Ok(None) => {
                            closed = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
            };
            size += request.events.len();
            batch.push(request);
        }
        commit(&repo, &mut next, batch, &counters, config.on_commit.as_ref()).await;
        // Tables that left memory while the batch ran; their appends sent
        // before are in it (or in a later batch, which reads them back).
        while let Ok(table_id) = forget_rx.try_recv() {
            next.forget(&table_id);
        }
        next.sweep(Instant::now());
        if closed {
            break;
        }
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A request whose events passed the sequence check: its slices of the batch.
struct Accepted {
    range: Range<usize>,
    hands: Range<usize>,
    fence: Option<Fence>,
    tables: Vec<String>,
    done: oneshot::Sender<StoreResult<()>>,
}

/// Checks, commits and answers one batch.
async fn commit<R: Repository>(
    repo: &R,
    next: &mut Positions,
    batch: Vec<Request>,
    counters: &Counters,
    on_commit: Option<&CommitHook>,
) {
    let now = Instant::now();
    // Learn where unseen (or forgotten) tables stand.
    for request in &batch {
        for event in &request.events {
            if next.get(&event.table_id).is_some() {
                continue;
            }
            match repo.last_seq(&event.table_id).await {
                Ok(last) => {
                    next.set(event.table_id.clone(), last + 1, now);
                }
                Err(e) => {
                    counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                    for request in batch {
                        let _ = request.done.send(Err(e.clone()));
                    }
                    return;
                }
            }
        }
    }

    let mut events = Vec::with_capacity(batch.iter().map(|r| r.events.len()).sum());
    let mut hands = Vec::new();
    let mut fences: Vec<Fence> = Vec::new();
    let mut accepted = Vec::with_capacity(batch.len());
    for request in batch {
        match check(|t| next.get(t), &request.events) {
            Ok((keep, updates)) => {
                let start = events.len();
                let hands_start = hands.len();
                hands.extend(request.hands);
                let mut tables = Vec::with_capacity(updates.len());
                for (table, seq) in updates {
                    next.set(table.clone(), seq, now);
                    tables.push(table);
                }
                events.extend(
                    request
                        .events
                        .into_iter()
                        .zip(keep)
                        .filter_map(|(e, k)| k.then_some(e)),
                );
                if let Some(f) = &request.fence
                    && !fences.contains(f)
                {
                    fences.push(f.clone());
                }
                accepted.push(Accepted {
                    range: start..events.len(),
                    hands: hands_start..hands.len(),
                    fence: request.fence,
                    tables,
                    done: request.done,
                });
            }
            Err(gap) => {
                let _ = request.done.send(Err(gap));
            }
        }
    }
    if events.is_empty() && hands.is_empty() && fences.is_empty() {
        for a in accepted {
            let _ = a.done.send(Ok(()));
        }
        return;
    }

    match repo.append_fenced(&events, &hands, &fences).await {
        Ok(()) => {
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.events.fetch_add(events.len() as u64, Ordering::Relaxed);
            if let Some(hook) = on_commit
                && !events.is_empty()
            {
                (hook.0)(&events);
            }
            for a in accepted {
                let _ = a.done.send(Ok(()));
            }
        }
        Err(
            err @ (StoreError::Duplicate { .. }
            | StoreError::MissingReference { .. }
            | StoreError::Fenced { .. }),
        ) => {
            // One request's fault (an unknown table, a row written behind the
            // writer's back, a lease another node took): commit the others
            // one by one so only it fails.
            counters.failed_batches.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err, "event batch rejected; retrying its appends one by one");
            let mut failed: HashMap<String, StoreError> = HashMap::new();
            for a in accepted {
                if let Some(e) = a.tables.iter().find_map(|t| failed.get(t)) {
                    let _ = a.done.send(Err(e.clone()));
                    continue;
                }
                let result = repo
                    .append_fenced(
                        &events[a.range.clone()],
                        &hands[a.hands.clone()],
                        a.fence.as_slice(),
                    )
                    .await;
                if let Err(e) = &result {
                    for t in &a.tables {
                        failed.insert(t.clone(), e.clone());
                    }
                } else {
                    counters.batches.fetch_add(1, Ordering::Relaxed);
                    counters.events.fetch_add(a.range.len() as u64, Ordering::Relaxed);
                    if let Some(hook) = on_commit
                        && !a.range.is_empty()
                    {
                        (hook.0)(&events[a.range.clone()]);
                    }
                }
                let _ = a.done.send(result);
            }
            for t in failed.keys() {
                next.forget(t);
            }
        }
        Err(err) => {
            counters.failed_batches.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err, events = events.len(), "event batch failed");
            for a in accepted {
                for t in &a.tables {
                    next.forget(t);
                }
                let _ = a.done.send(Err(err.clone()));
            }
        }
    }
}

/// The sequence check of one request against the tables' next expected seqs:
/// which events are new, and where each table stands after them.
type Checked = (Vec<bool>, Vec<(String, u64)>);

/// Checks one request atomically: stored or repeated seqs are skipped, a hole fails it all.
fn check(next: impl Fn(&str) -> Option<u64>, events: &[EventRecord]) -> StoreResult<Checked> {
    // Usually one table per request: a short list beats a map.
    let mut local: Vec<(&str, u64)> = Vec::new();
    let mut keep = Vec::with_capacity(events.len());
    for e in events {
        if e.seq == 0 {
            return Err(StoreError::Encode {
                what: "event",
                detail: format!("table {:?}: seqs start at 1, got 0", e.table_id),
            });
        }
        let pos = local.iter().position(|(t, _)| *t == e.table_id);
        let expected = match pos {
            Some(i) => local[i].1,
            None => next(&e.table_id).unwrap_or(1),
        };
        if e.seq < expected {
            keep.push(false);
            continue;
        }
        if e.seq > expected {
            return Err(StoreError::SequenceGap {
                table_id: e.table_id.clone(),
                expected,
                got: e.seq,
            });
        }
        keep.push(true);
        match pos {
            Some(i) => local[i].1 = expected + 1,
            None => local.push((e.table_id.as_str(), expected + 1)),
        }
    }
    Ok((keep, local.into_iter().map(|(t, s)| (t.to_owned(), s)).collect()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use game_core::Event;

    use super::check;
    use crate::error::StoreError;
    use crate::model::EventRecord;

    fn ev(table: &str, seq: u64) -> EventRecord {
        EventRecord::new(table, seq, 1, &Event::SatIn { seat: 0 }).expect("encode")
    }

    #[test]
    fn check_skips_stored_accepts_next_and_rejects_holes() {
        let next = HashMap::from([("a".to_owned(), 3), ("b".to_owned(), 1)]);
        let next = |t: &str| next.get(t).copied();
        let (keep, updates) = check(
            next,
            &[ev("a", 1), ev("a", 2), ev("a", 3), ev("b", 1), ev("a", 4)],
        )
        .expect("valid");
        assert_eq!(keep, vec![false, false, true, true, true]);
        assert_eq!(updates, vec![("a".to_owned(), 5), ("b".to_owned(), 2)]);
        // A repeat inside one request is skipped like a stored one.
        let (keep, _) = check(next, &[ev("a", 3), ev("a", 3)]).expect("valid");
        assert_eq!(keep, vec![true, false]);
        assert!(matches!(
            check(next, &[ev("a", 3), ev("a", 5)]),
            Err(StoreError::SequenceGap {
                expected: 4,
                got: 5,
                ..
            })
        ));
        assert!(matches!(
            check(next, &[ev("b", 0)]),
            Err(StoreError::Encode { .. })
        ));
    }
}
