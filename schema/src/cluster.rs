//! [`Cluster`]: what several nodes on one store share: who is alive (node
//! rows renewed on the database clock) and who owns which table (leases
//! with an epoch that every fenced write checks, see
//! [`Repository::append_fenced`](crate::Repository::append_fenced)).
//!
//! Every time in these rows is the database's clock, never a node's: nodes
//! may disagree about the time, the store decides. Both backends implement
//! it with the same statements (a SQLite store serves one node, so there it
//! is only exercised by the conformance suite).

use std::future::Future;

use crate::model::{Fence, LeaseRecord, NodeRecord};
use crate::repository::StoreResult;

/// The outcome of claiming a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The lease is ours at this epoch (one above any earlier holder's).
    Claimed {
        /// The new epoch.
        epoch: u64,
    },
    /// A live node holds it.
    Held(LeaseRecord),
    /// Our own node row has lapsed (or was never registered): we may not claim.
    NotRegistered,
}

/// Membership and table ownership in the store.
pub trait Cluster: Clone + Send + Sync + 'static {
    /// Registers a node (one row per process start) live for `ttl_ms` from
    /// now on the database clock, replacing any earlier instance with the
    /// same name (a restarted node: its tables become claimable at once).
    /// Returns when the registration lapses (database clock, ms).
    fn register_node(&self, node: &NodeRecord, ttl_ms: u64) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Extends a live registration to `ttl_ms` from now; `None` if it had
    /// already lapsed or is gone (the node must stop acting for its tables
    /// and register again as a new instance).
    fn renew_node(
        &self,
        instance: &str,
        ttl_ms: u64,
    ) -> impl Future<Output = StoreResult<Option<u64>>> + Send;
    /// Removes a node's row (a clean exit, after releasing its tables).
    fn remove_node(&self, instance: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// The nodes whose registration has not lapsed, by name.
    fn live_nodes(&self) -> impl Future<Output = StoreResult<Vec<NodeRecord>>> + Send;
    /// Claims table `table_id` for `instance` if nobody live holds it (no
    /// lease yet, released, its holder's row lapsed, or `instance` itself):
    /// the epoch goes up by one. `MissingReference` for an unknown table.
    fn claim_table(&self, table_id: &str, instance: &str) -> impl Future<Output = StoreResult<Claim>> + Send;
    /// Claims up to `limit` running tables whose holder's row has lapsed or
    /// that were released, skipping rows another claimer has locked, and
    /// returns them with their new epochs.
    fn claim_orphans(
        &self,
        instance: &str,
        limit: u64,
    ) -> impl Future<Output = StoreResult<Vec<(String, u64)>>> + Send;
    /// Moves the running tables whose lease `previous` (an earlier instance
    /// of this node, which lost its registration) still holds to
    /// `instance`, raising each epoch: a node that comes back takes its own
    /// tables before anyone else may (see `docs/cluster.md`).
    fn reclaim_tables(
        &self,
        previous: &str,
        instance: &str,
    ) -> impl Future<Output = StoreResult<Vec<(String, u64)>>> + Send;
    /// Releases a lease still at the fence's epoch (a clean handoff or an
    /// idle table leaving memory); `false` if it had moved on already.
    fn release_table(&self, fence: &Fence) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Who holds `table_id`, if it has a lease row.
    fn lease(&self, table_id: &str) -> impl Future<Output = StoreResult<Option<LeaseRecord>>> + Send;
    /// The database clock, in ms since the Unix epoch.
    fn db_now_ms(&self) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Expands `impl Cluster for $repo`. `$clock` is the backend's SQL for the
/// database clock in ms (a BIGINT), `$skip_locked` its row-locking clause for
/// a claim's subquery (empty where the backend serialises writers anyway).
macro_rules! impl_cluster {
    ($repo:ty, $db:ty, clock_ms = $clock:literal, skip_locked = $skip_locked:literal) => {
        impl $crate::cluster::Cluster for $repo {
            async fn register_node(&self, node: &$crate::model::NodeRecord, ttl_ms: u64) -> StoreResult<u64> {
                let op = "register_node";
                let mut tx = self.write.begin().await.map_err(StoreError::op(op))?;
                sqlx::query("DELETE FROM nodes WHERE name = $1 OR instance = $2")
                    .bind(&node.name)
                    .bind(&node.instance)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::op(op))?;
                let expires: i64 = sqlx::query_scalar(concat!(
                    "INSERT INTO nodes (instance, name, address, started_at_ms, expires_at_ms) \
                     VALUES ($1, $2, $3, $4, ",
                    $clock,
                    " + $5) RETURNING expires_at_ms"
                ))
                .bind(&node.instance)
                .bind(&node.name)
                .bind(&node.address)
                .bind(to_i64("started_at_ms", node.started_at_ms)?)
                .bind(to_i64("ttl_ms", ttl_ms)?)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::op(op))?;
                tx.commit().await.map_err(StoreError::op(op))?;
                to_u64("expires_at_ms", expires)
            }

            async fn renew_node(&self, instance: &str, ttl_ms: u64) -> StoreResult<Option<u64>> {
                let expires: Option<i64> = sqlx::query_scalar(concat!(
                    "UPDATE nodes SET expires_at_ms = ",
                    $clock,
                    " + $2 WHERE instance = $1 AND expires_at_ms > ",
                    $clock,
                    " RETURNING expires_at_ms"
                ))
                .bind(instance)
                .bind(to_i64("ttl_ms", ttl_ms)?)
                .fetch_optional(&self.write)
                .await
                .map_err(StoreError::op("renew_node"))?;
                expires.map(|e| to_u64("expires_at_ms", e)).transpose()
            }

            async fn remove_node(&self, instance: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM nodes WHERE instance = $1")
                    .bind(instance)
                    .execute(&self.write)
                    .await
                    .map_err(StoreError::op("remove_node"))?;
                Ok(())
            }

            async fn live_nodes(&self) -> StoreResult<Vec<$crate::model::NodeRecord>> {
                let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(concat!(
                    "SELECT instance, name, address, started_at_ms, expires_at_ms FROM nodes \
                     WHERE expires_at_ms > ",
                    $clock,
                    " ORDER BY name, instance"
                ))
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("live_nodes"))?;
                rows.into_iter()
                    .map(|(instance, name, address, started, expires)| {
                        Ok($crate::model::NodeRecord {
                            instance,
                            name,
                            address,
                            started_at_ms: to_u64("started_at_ms", started)?,
                            expires_at_ms: to_u64("expires_at_ms", expires)?,
                        })
                    })
                    .collect()
            }

            async fn claim_table(&self, table_id: &str, instance: &str) -> StoreResult<$crate::cluster::Claim> {
                let op = "claim_table";
                // An upsert: a new lease at epoch 1, or the next epoch of one
                // nobody live holds. The conflicting row is locked, so a claim
                // waits for a fenced write in flight and vice versa.
                let epoch: Option<i64> = sqlx::query_scalar(concat!(
                    "INSERT INTO table_leases (table_id, owner, epoch, claimed_at_ms) \
                     SELECT $1, $2, 1, ",
                    $clock,
                    " WHERE EXISTS (SELECT 1 FROM nodes me WHERE me.instance = $2 AND me.expires_at_ms > ",
                    $clock,
                    ") ON CONFLICT (table_id) DO UPDATE SET owner = excluded.owner, \
                     epoch = table_leases.epoch + 1, claimed_at_ms = excluded.claimed_at_ms \
                     WHERE table_leases.owner IS NULL OR table_leases.owner = excluded.owner \
                     OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.instance = table_leases.owner AND n.expires_at_ms > ",
                    $clock,
                    ") RETURNING epoch"
                ))
                .bind(table_id)
                .bind(instance)
                .fetch_optional(&self.write)
                .await
                .map_err(|e| StoreError::db(op, "lease", table_id, e))?;
                if let Some(epoch) = epoch {
                    return Ok($crate::cluster::Claim::Claimed { epoch: to_u64("epoch", epoch)? });
                }
                match self.lease(table_id).await? {
                    Some(lease) if lease.owner_live && lease.owner.as_deref() != Some(instance) => {
                        Ok($crate::cluster::Claim::Held(lease))
                    }
                    _ => Ok($crate::cluster::Claim::NotRegistered),
                }
            }

            async fn claim_orphans(&self, instance: &str, limit: u64) -> StoreResult<Vec<(String, u64)>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(concat!(
                    "UPDATE table_leases SET owner = $1, epoch = epoch + 1, claimed_at_ms = ",
                    $clock,
                    " WHERE table_id IN (SELECT l.table_id FROM table_leases l \
                     JOIN poker_tables t ON t.id = l.table_id \
                     WHERE t.status = 'running' \
                     AND (l.owner IS NULL OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.instance = l.owner AND n.expires_at_ms > ",
                    $clock,
                    ")) AND EXISTS (SELECT 1 FROM nodes me WHERE me.instance = $1 AND me.expires_at_ms > ",
                    $clock,
                    ") ORDER BY l.table_id LIMIT $2 ",
                    $skip_locked,
                    ") RETURNING table_id, epoch"
                ))
                .bind(instance)
                .bind(to_i64("limit", limit.min(i64::MAX as u64))?)
                .fetch_all(&self.write)
                .await
                .map_err(StoreError::op("claim_orphans"))?;
                let mut claimed = rows
                    .into_iter()
                    .map(|(table, epoch)| Ok((table, to_u64("epoch", epoch)?)))
                    .collect::<StoreResult<Vec<_>>>()?;
                claimed.sort();
                Ok(claimed)
            }

            async fn reclaim_tables(&self, previous: &str, instance: &str) -> StoreResult<Vec<(String, u64)>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(concat!(
                    "UPDATE table_leases SET owner = $2, epoch = epoch + 1, claimed_at_ms = ",
                    $clock,
                    " WHERE owner = $1 AND table_id IN (SELECT id FROM poker_tables WHERE status = 'running') \
                     AND EXISTS (SELECT 1 FROM nodes me WHERE me.instance = $2 AND me.expires_at_ms > ",
                    $clock,
                    ") RETURNING table_id, epoch"
                ))
                .bind(previous)
                .bind(instance)
                .fetch_all(&self.write)
                .await
                .map_err(StoreError::op("reclaim_tables"))?;
                let mut claimed = rows
                    .into_iter()
                    .map(|(table, epoch)| Ok((table, to_u64("epoch", epoch)?)))
                    .collect::<StoreResult<Vec<_>>>()?;
                claimed.sort();
                Ok(claimed)
            }

            async fn release_table(&self, fence: &$crate::model::Fence) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE table_leases SET owner = NULL WHERE table_id = $1 AND epoch = $2")
                    .bind(&fence.table_id)
                    .bind(to_i64("epoch", fence.epoch)?)
                    .execute(&self.write)
                    .await
                    .map_err(StoreError::op("release_table"))?;
                Ok(done.rows_affected() > 0)
            }

            async fn lease(&self, table_id: &str) -> StoreResult<Option<$crate::model::LeaseRecord>> {
                let row: Option<(String, Option<String>, i64, Option<String>, i64, i64)> = sqlx::query_as(concat!(
                    "SELECT l.table_id, l.owner, l.epoch, n.address, COALESCE(n.expires_at_ms, 0), ",
                    $clock,
                    " FROM table_leases l LEFT JOIN nodes n ON n.instance = l.owner WHERE l.table_id = $1"
                ))
                .bind(table_id)
                .fetch_optional(&self.read)
                .await
                .map_err(StoreError::op("lease"))?;
                row.map(|(table_id, owner, epoch, address, expires, now)| {
                    let live = owner.is_some() && expires > now;
                    Ok($crate::model::LeaseRecord {
                        table_id,
                        owner,
                        epoch: to_u64("epoch", epoch)?,
                        owner_address: if live { address } else { None },
                        owner_live: live,
                    })
                })
                .transpose()
            }

            async fn db_now_ms(&self) -> StoreResult<u64> {
                let now: i64 = sqlx::query_scalar(concat!("SELECT ", $clock))
                    .fetch_one(&self.read)
                    .await
                    .map_err(StoreError::op("db_now_ms"))?;
                to_u64("now", now)
            }
        }
    };
}

pub(crate) use impl_cluster;
