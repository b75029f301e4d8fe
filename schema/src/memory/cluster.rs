//! Node rows and table leases ([`Cluster`]), and the fence check every
//! fenced write makes first. The store's clock is the process's wall clock
//! (what the database clock is to the SQL backends).

use super::{MemoryRepo, Store, fits, missing};
use crate::cluster::{Claim, Cluster};
use crate::error::StoreError;
use crate::model::{Fence, LeaseRecord, NodeRecord, TableStatus, now_ms};
use crate::repository::StoreResult;

/// A table's lease row.
#[derive(Clone, Debug)]
pub(super) struct Lease {
    owner: Option<String>,
    epoch: u64,
}

impl Store {
    /// Whether `instance` has a registration that has not lapsed at `now`.
    fn live(&self, instance: &str, now: u64) -> bool {
        self.nodes.get(instance).is_some_and(|n| n.expires_at_ms > now)
    }

    /// `Fenced` unless every fence's lease is still at its epoch (checked
    /// before the fenced write changes anything).
    pub(super) fn check_fences<'a>(&self, fences: impl IntoIterator<Item = &'a Fence>) -> StoreResult<()> {
        for f in fences {
            fits("epoch", f.epoch)?;
            if self.leases.get(&f.table_id).is_none_or(|l| l.epoch != f.epoch) {
                return Err(StoreError::Fenced {
                    table_id: f.table_id.clone(),
                    epoch: f.epoch,
                });
            }
        }
        Ok(())
    }

    fn register_node(&mut self, node: &NodeRecord, ttl_ms: u64) -> StoreResult<u64> {
        fits("started_at_ms", node.started_at_ms)?;
        fits("ttl_ms", ttl_ms)?;
        let expires = now_ms().saturating_add(ttl_ms);
        fits("expires_at_ms", expires)?;
        self.nodes
            .retain(|instance, n| n.name != node.name && *instance != node.instance);
        let mut row = node.clone();
        row.expires_at_ms = expires;
        self.nodes.insert(row.instance.clone(), row);
        Ok(expires)
    }

    fn renew_node(&mut self, instance: &str, ttl_ms: u64) -> StoreResult<Option<u64>> {
        fits("ttl_ms", ttl_ms)?;
        let now = now_ms();
        let expires = now.saturating_add(ttl_ms);
        fits("expires_at_ms", expires)?;
        Ok(match self.nodes.get_mut(instance) {
            Some(n) if n.expires_at_ms > now => {
                n.expires_at_ms = expires;
                Some(expires)
            }
            _ => None,
        })
    }

    fn remove_node(&mut self, instance: &str) -> StoreResult<()> {
        self.nodes.remove(instance);
        Ok(())
    }

    fn live_nodes(&self) -> StoreResult<Vec<NodeRecord>> {
        let now = now_ms();
        let mut nodes: Vec<NodeRecord> = self
            .nodes
            .values()
            .filter(|n| n.expires_at_ms > now)
            .cloned()
            .collect();
        nodes.sort_by(|a, b| (&a.name, &a.instance).cmp(&(&b.name, &b.instance)));
        Ok(nodes)
    }

    /// Whether `lease` may be taken by `instance` at `now`.
    fn claimable(&self, lease: &Lease, instance: &str, now: u64) -> bool {
        match &lease.owner {
            None => true,
            Some(owner) => owner == instance || !self.live(owner, now),
        }
    }

    fn claim_table(&mut self, table_id: &str, instance: &str) -> StoreResult<Claim> {
        if !self.tables.contains_key(table_id) {
            return Err(missing("lease", "table", table_id));
        }
        let now = now_ms();
        if !self.live(instance, now) {
            return Ok(Claim::NotRegistered);
        }
        let epoch = match self.leases.get(table_id) {
            None => 1,
            Some(lease) if self.claimable(lease, instance, now) => lease.epoch + 1,
            Some(_) => {
                return Ok(self.lease(table_id)?.map_or(Claim::NotRegistered, Claim::Held));
            }
        };
        fits("epoch", epoch)?;
        self.leases.insert(
            table_id.to_owned(),
            Lease {
                owner: Some(instance.to_owned()),
                epoch,
            },
        );
        Ok(Claim::Claimed { epoch })
    }

    fn claim_orphans(&mut self, instance: &str, limit: u64) -> StoreResult<Vec<(String, u64)>> {
        let now = now_ms();
        if !self.live(instance, now) {
            return Ok(Vec::new());
        }
        let mut orphans: Vec<String> = self
            .leases
            .iter()
            .filter(|(id, lease)| {
                self.tables
                    .get(*id)
                    .is_some_and(|t| t.status == TableStatus::Running)
                    && lease.owner.as_deref().is_none_or(|owner| !self.live(owner, now))
            })
            .map(|(id, _)| id.clone())
            .collect();
        orphans.sort();
        orphans.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let mut claimed = Vec::with_capacity(orphans.len());
        for id in orphans {
            if let Some(lease) = self.leases.get_mut(&id) {
                lease.owner = Some(instance.to_owned());
                lease.epoch += 1;
                claimed.push((id, lease.epoch));
            }
        }
        Ok(claimed)
    }

    fn reclaim_tables(&mut self, previous: &str, instance: &str) -> StoreResult<Vec<(String, u64)>> {
        if !self.live(instance, now_ms()) {
            return Ok(Vec::new());
        }
        let mut claimed = Vec::new();
        for (id, lease) in &mut self.leases {
            let running = self
                .tables
                .get(id)
                .is_some_and(|t| t.status == TableStatus::Running);
            if running && lease.owner.as_deref() == Some(previous) {
                lease.owner = Some(instance.to_owned());
                lease.epoch += 1;
                claimed.push((id.clone(), lease.epoch));
            }
        }
        claimed.sort();
        Ok(claimed)
    }

    fn release_table(&mut self, fence: &Fence) -> StoreResult<bool> {
        fits("epoch", fence.epoch)?;
        Ok(match self.leases.get_mut(&fence.table_id) {
            Some(lease) if lease.epoch == fence.epoch => {
                lease.owner = None;
                true
            }
            _ => false,
        })
    }

    fn lease(&self, table_id: &str) -> StoreResult<Option<LeaseRecord>> {
        let now = now_ms();
        Ok(self.leases.get(table_id).map(|lease| {
            let node = lease.owner.as_deref().and_then(|o| self.nodes.get(o));
            let live = node.is_some_and(|n| n.expires_at_ms > now);
            LeaseRecord {
                table_id: table_id.to_owned(),
                owner: lease.owner.clone(),
                epoch: lease.epoch,
                owner_address: node.filter(|_| live).map(|n| n.address.clone()),
                owner_live: live,
            }
        }))
    }
}

impl Cluster for MemoryRepo {
    async fn register_node(&self, node: &NodeRecord, ttl_ms: u64) -> StoreResult<u64> {
        self.run("register_node", |s| s.register_node(node, ttl_ms))
    }

    async fn renew_node(&self, instance: &str, ttl_ms: u64) -> StoreResult<Option<u64>> {
        self.run("renew_node", |s| s.renew_node(instance, ttl_ms))
    }

    async fn remove_node(&self, instance: &str) -> StoreResult<()> {
        self.run("remove_node", |s| s.remove_node(instance))
    }

    async fn live_nodes(&self) -> StoreResult<Vec<NodeRecord>> {
        self.run("live_nodes", |s| s.live_nodes())
    }

    async fn claim_table(&self, table_id: &str, instance: &str) -> StoreResult<Claim> {
        self.run("claim_table", |s| s.claim_table(table_id, instance))
    }

    async fn claim_orphans(&self, instance: &str, limit: u64) -> StoreResult<Vec<(String, u64)>> {
        self.run("claim_orphans", |s| s.claim_orphans(instance, limit))
    }

    async fn reclaim_tables(&self, previous: &str, instance: &str) -> StoreResult<Vec<(String, u64)>> {
        self.run("reclaim_tables", |s| s.reclaim_tables(previous, instance))
    }

    async fn release_table(&self, fence: &Fence) -> StoreResult<bool> {
        self.run("release_table", |s| s.release_table(fence))
    }

    async fn lease(&self, table_id: &str) -> StoreResult<Option<LeaseRecord>> {
        self.run("lease", |s| s.lease(table_id))
    }

    async fn db_now_ms(&self) -> StoreResult<u64> {
        self.run("db_now_ms", |_| Ok(now_ms()))
    }
}
