//! Forwarders: the task per joined room that sends a client the table's
//! snapshot or the events it missed, then the live deltas it may see
//! (resyncing it when it falls behind), and the task that streams
//! experiment progress to a client watching experiments.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use game_core::Event;
use schema::Repository;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};
use tracing::debug;

use crate::app::App;
use crate::protocol::{ErrorCode, ServerMessage};
use crate::table::{Audience, Delta, JoinStart, TableHandle};

/// A frame for the transport to write.
#[derive(Debug)]
pub enum Outbound {
    /// A JSON message.
    Text(Arc<str>),
    /// Close the connection with a code and reason.
    Close(u16, String),
}

/// Sends every experiment's line, then each change as it happens (the whole
/// list again if this client fell behind).
pub(super) async fn forward_experiments(
    app: App,
    list: Vec<Value>,
    mut updates: broadcast::Receiver<Arc<str>>,
    out: mpsc::Sender<Outbound>,
) {
    let send_list = |list: Vec<Value>| {
        let out = out.clone();
        async move {
            for info in list {
                let line = ServerMessage::Experiment { experiment: &info }.text();
                if out.send(Outbound::Text(line)).await.is_err() {
                    return false;
                }
            }
            true
        }
    };
    if !send_list(list).await {
        return;
    }
    loop {
        match updates.recv().await {
            Ok(line) => {
                app.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
                if out.send(Outbound::Text(line)).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => match app.experiments.list().await {
                Ok(list) => {
                    if !send_list(list).await {
                        return;
                    }
                }
                Err(_) => continue,
            },
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Sends a room's deltas to one client: first the snapshot or the missed
/// events, then live deltas it may see; resyncs with a snapshot when it falls behind.
pub(super) async fn forward(
    app: App,
    handle: TableHandle,
    player: Option<Arc<str>>,
    subscription: crate::table::Subscription,
    out: mpsc::Sender<Outbound>,
) {
    let crate::table::Subscription { mut rx, start, guard } = subscription;
    // Held until the forwarder ends: the client stays counted in the room.
    let _guard = guard;
    let send = |text: Arc<str>| {
        let out = out.clone();
        let app = app.clone();
        async move {
            app.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
            out.send(Outbound::Text(text)).await.is_ok()
        }
    };
    match start {
        JoinStart::Snapshot(json) => {
            if !send(json).await {
                return;
            }
        }
        JoinStart::Replay {
            store_after,
            ring_from,
            ring,
            seq,
            epoch,
            seat,
        } => {
            let missed = missed_events(
                &app,
                &handle,
                player.as_deref(),
                store_after,
                ring_from,
                &ring,
                seat,
            )
            .await;
            match missed {
                Some(frames) => {
                    for frame in frames {
                        if !send(frame).await {
                            return;
                        }
                    }
                    let resumed = ServerMessage::Resumed {
                        table: &handle.id,
                        seq,
                        epoch,
                    }
                    .text();
                    if !send(resumed).await {
                        return;
                    }
                }
                None => {
                    let (new_rx, snapshot) = handle.resync(player.as_deref());
                    rx = new_rx;
                    if !send(snapshot).await {
                        return;
                    }
                }
            }
        }
    }
    loop {
        match rx.recv().await {
            Ok(delta) => {
                if delta.resync {
                    let (new_rx, snapshot) = handle.resync(player.as_deref());
                    rx = new_rx;
                    if !send(snapshot).await {
                        return;
                    }
                } else if delta.visible_to(player.as_deref()) && !send(delta.json.clone()).await {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                debug!(table = %handle.id, skipped, "subscriber fell behind; resyncing");
                app.metrics.broadcast_lag_resyncs.fetch_add(1, Ordering::Relaxed);
                let (new_rx, snapshot) = handle.resync(player.as_deref());
                rx = new_rx;
                if !send(snapshot).await {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => {
                let stopped = ServerMessage::Error {
                    id: None,
                    table: Some(&handle.id),
                    code: ErrorCode::Unavailable,
                    message: "the table stopped; join again",
                }
                .text();
                let _ = send(stopped).await;
                return;
            }
        }
    }
}

/// The frames a resuming client missed: stored events (seq in
/// `(after, ring_from)`) then `ring`. `None` if the store cannot provide
/// them all (a snapshot is sent instead).
async fn missed_events(
    app: &App,
    handle: &TableHandle,
    player: Option<&str>,
    after: u64,
    ring_from: u64,
    ring: &[Arc<Delta>],
    seat: Option<usize>,
) -> Option<Vec<Arc<str>>> {
    let stored_count = ring_from.saturating_sub(after + 1);
    let mut frames = Vec::new();
    if stored_count > 0 {
        // The last events may still be on their way to the store (a table
        // nobody watches keeps no deltas in memory, and the event writer
        // commits every few milliseconds): read again a few times before
        // falling back to a snapshot.
        let mut wait = Duration::from_millis(20);
        let records = loop {
            let records = tokio::time::timeout(
                Duration::from_secs(5),
                app.repo.events_since(&handle.id, after, stored_count),
            )
            .await
            .ok()?
            .ok()?;
            if records.len() as u64 == stored_count {
                break records;
            }
            if wait > Duration::from_millis(400) {
                return None;
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        };
        let mut events = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            if record.seq != after + 1 + i as u64 {
                return None;
            }
            events.push(record.event().ok()?);
        }
        // Hole cards of the player's seat are sent only while that seat was
        // provably theirs: from their own `seat_taken`, or throughout when
        // nobody sat down or left there in the whole range.
        let changed = seat.is_some_and(|s| {
            ring.iter().any(|d| d.seat_change == Some(s))
                || events.iter().any(|e| {
                    matches!(e, Event::SeatTaken { seat, .. } | Event::SeatLeft { seat, .. } if *seat == s)
                })
        });
        let mut owner: Option<bool> = None;
        for (record, event) in records.iter().zip(&events) {
            match event {
                Event::SeatTaken {
                    seat: s, player: p, ..
                } if Some(*s) == seat => {
                    owner = Some(Some(p.as_str()) == player);
                }
                Event::SeatLeft { seat: s, .. } if Some(*s) == seat => owner = Some(false),
                _ => {}
            }
            // Hole cards of the player's seat, only while it was provably theirs.
            let holder = |s: usize| {
                (Some(s) == seat && owner.unwrap_or(!changed))
                    .then(|| player.map(Arc::from))
                    .flatten()
            };
            let visible = Audience::of(event, holder).admits(player);
            if visible {
                let message = ServerMessage::Event {
                    table: &handle.id,
                    seq: record.seq,
                    at_ms: None,
                    event,
                    clock: None,
                    legal: None,
                    player: None,
                };
                frames.push(message.encode().ok()?);
            }
        }
    }
    frames.extend(
        ring.iter()
            .filter(|d| d.visible_to(player))
            .map(|d| d.json.clone()),
    );
    Some(frames)
}
