//! The cluster supervisor of a node on Postgres: renews the node's
//! registration, fences the node itself when it cannot (every table stops
//! before the store could consider the node dead), and takes over orphaned
//! tables (a dead node's, or those a leaving node handed off) a few at a
//! time. Ownership itself is [`crate::table::ownership`]; the guarantees are
//! in `docs/cluster.md`.

pub mod served;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tracing::{error, info, warn};

use crate::table::ownership::{JoinError, Ownership};
use crate::table::registry::Tables;

/// Starts the supervisor; it ends when `shutdown` turns true.
pub fn spawn(ownership: Arc<Ownership>, tables: Tables, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(run(ownership, tables, shutdown))
}

async fn run(ownership: Arc<Ownership>, tables: Tables, mut shutdown: watch::Receiver<bool>) {
    let config = ownership.config().clone();
    let metrics = tables.deps.metrics.clone();
    metrics.node_member.store(1, Ordering::Relaxed);
    let mut next_renew = Instant::now() + config.renew_every;
    let mut next_claim = Instant::now();
    loop {
        // Wake for the next renewal, the next look for orphans, or the
        // moment the registration stops being valid, whichever is first.
        let fence_at = ownership
            .valid_until()
            .unwrap_or_else(|| Instant::now() + config.renew_every);
        let wake = next_renew.min(next_claim).min(fence_at);
        tokio::select! {
            () = sleep_until(wake) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let now = Instant::now();
        if now >= next_renew {
            next_renew = now + config.renew_every;
            // A hung store must not hold the loop past the fencing moment.
            match timeout(config.ttl / 2, ownership.renew()).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => {
                    warn!("this node's registration lapsed; stopping its tables and joining again");
                    lost(&ownership, &tables);
                    rejoin(&ownership, &tables).await;
                }
                Ok(Err(e)) => warn!("cannot renew this node's registration: {e}"),
                Err(_) => warn!("renewing this node's registration timed out"),
            }
        }
        if !ownership.is_valid() {
            if ownership.valid_until().is_some() {
                // Valid no longer: stop acting before anyone may claim.
                error!("this node could not renew its registration in time; stopping its tables");
                ownership.lose();
            }
            lost(&ownership, &tables);
            metrics.node_member.store(0, Ordering::Relaxed);
            rejoin(&ownership, &tables).await;
            continue;
        }
        metrics.node_member.store(1, Ordering::Relaxed);
        // A reclaim that failed right after rejoining is tried again.
        reclaim(&ownership, &tables).await;
        if Instant::now() >= next_claim {
            next_claim = Instant::now() + config.claim_every;
            adopt_orphans(&ownership, &tables).await;
        }
    }
}

/// Stops every table this node runs: it may no longer act for them.
fn lost(ownership: &Ownership, tables: &Tables) {
    let stopped = tables.stop_all_fenced();
    if stopped > 0 {
        warn!(
            stopped,
            generation = ownership.generation(),
            "tables stopped: this node lost its registration"
        );
    }
}

/// Registers again as a new instance (if the store answers).
async fn rejoin(ownership: &Ownership, tables: &Tables) {
    match timeout(ownership.config().ttl / 2, ownership.register()).await {
        Ok(Ok(())) => {
            info!(instance = %ownership.instance(), "joined the cluster again");
            reclaim(ownership, tables).await;
        }
        Ok(Err(e @ JoinError::NameTaken { .. })) => error!("cannot join the cluster again: {e}"),
        Ok(Err(e)) => warn!("cannot join the cluster again yet: {e}"),
        Err(_) => warn!("joining the cluster again timed out"),
    }
}

/// Takes back the tables this node ran before it lost its registration
/// (those nobody claimed meanwhile) and starts them here.
async fn reclaim(ownership: &Ownership, tables: &Tables) {
    match ownership.reclaim().await {
        Ok(claimed) => {
            if !claimed.is_empty() {
                info!(tables = claimed.len(), "taking back this node's tables");
            }
            for fence in claimed {
                let id = fence.table_id.clone();
                if let Err(e) = Box::pin(tables.adopt(fence)).await {
                    warn!(table = %id, "cannot take the table back: {e}");
                }
            }
        }
        Err(e) => warn!("cannot take this node's tables back yet: {e}"),
    }
}

/// Claims a few orphaned tables and starts them here.
async fn adopt_orphans(ownership: &Ownership, tables: &Tables) {
    let claimed = match ownership.claim_orphans().await {
        Ok(claimed) => claimed,
        Err(e) => {
            warn!("cannot look for orphaned tables: {e}");
            return;
        }
    };
    for fence in claimed {
        let id = fence.table_id.clone();
        let epoch = fence.epoch;
        match Box::pin(tables.adopt(fence)).await {
            Ok(_) => info!(table = %id, epoch, "took over the table"),
            Err(e) => warn!(table = %id, "cannot take over the table: {e}"),
        }
    }
}
