//! [`Ownership`]: this node's membership of a cluster and the leases of the
//! tables it runs (design: `docs/cluster.md`).
//!
//! A node registers a row in the store and renews it on the database clock.
//! It may act for a table only while it holds the table's lease, and every
//! write it makes for the table carries the lease's epoch as a
//! [`Fence`]: once another node claims the table the store refuses them.
//! Independently of the store, the node fences itself: it counts its
//! registration as valid only until `ttl` minus a margin after the moment
//! it *sent* its last successful renewal (a monotonic clock), which is
//! before the store can consider it lapsed; past that it stops every table
//! (nothing more is acknowledged) until it has registered again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use schema::{AnyRepo, Claim, Cluster, Fence, NodeRecord, StoreError};
use tokio::time::Instant;

use crate::auth::new_id;

/// How a node takes part in a cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// The operator's name for this node (unique in the cluster).
    pub node_name: String,
    /// The URL peers and clients reach this node at.
    pub advertise: String,
    /// How long a registration lives without renewal (on the database clock).
    pub ttl: Duration,
    /// How often the registration is renewed.
    pub renew_every: Duration,
    /// How often orphaned tables (of dead nodes, or handed off) are looked for.
    pub claim_every: Duration,
    /// Most tables claimed per look, so one survivor does not take them all at once.
    pub claim_batch: u64,
}

impl ClusterConfig {
    /// Defaults: a 5 s registration renewed every second, orphans looked for
    /// twice a second, four at a time.
    pub fn new(node_name: &str, advertise: &str) -> ClusterConfig {
        ClusterConfig {
            node_name: node_name.to_owned(),
            advertise: advertise.to_owned(),
            ttl: Duration::from_secs(5),
            renew_every: Duration::from_secs(1),
            claim_every: Duration::from_millis(500),
            claim_batch: 4,
        }
    }

    /// How long before the store's expiry this node stops acting on its own:
    /// a fifth of the TTL (at least 200 ms), for clock-rate differences and
    /// the time a stop takes.
    fn margin(&self) -> Duration {
        (self.ttl / 5).max(Duration::from_millis(200))
    }
}

/// What went wrong when asking for a table's lease.
#[derive(Debug)]
pub enum LeaseError {
    /// A live node holds it; its address, if known.
    Elsewhere(Option<String>),
    /// This node is not registered right now (it lost its registration and
    /// has not re-joined yet).
    NotMember,
    /// The store failed.
    Store(StoreError),
}

/// Why a node could not register.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another live node registered under this node's name from another
    /// address: two processes would keep replacing each other's rows.
    #[error("the node name {name:?} is in use by a live node at {address}; give each node its own --node-id")]
    NameTaken {
        /// The name.
        name: String,
        /// Where the other node is.
        address: String,
    },
}

/// This node's membership and table leases.
pub struct Ownership {
    repo: AnyRepo,
    config: ClusterConfig,
    /// The current instance id (a new one after every re-registration).
    instance: Mutex<String>,
    /// Until when this node may act (monotonic; `None`: not registered).
    valid_until: Mutex<Option<Instant>>,
    /// Bumped every time the node loses its registration: tables started
    /// under an older generation must stop.
    generation: AtomicU64,
    /// The instance that lost its registration, until this node has
    /// registered again and taken its tables back.
    previous: Mutex<Option<String>>,
    /// After registering again, no orphans are claimed until then: every
    /// node coming back from the same outage first takes its own tables.
    orphans_after: Mutex<Option<Instant>>,
}

impl Ownership {
    /// Registers this node (a new instance) in the store. A live row with
    /// the same name at another address is waited out for one TTL (a killed
    /// predecessor that listened elsewhere lapses by then); one that stays
    /// live is another process using the name, and joining fails.
    pub async fn join(repo: AnyRepo, config: ClusterConfig) -> Result<Ownership, JoinError> {
        let ownership = Ownership {
            repo,
            config,
            instance: Mutex::new(String::new()),
            valid_until: Mutex::new(None),
            generation: AtomicU64::new(0),
            previous: Mutex::new(None),
            orphans_after: Mutex::new(None),
        };
        let deadline = Instant::now() + ownership.config.ttl + ownership.config.margin();
        loop {
            match ownership.register().await {
                Err(JoinError::NameTaken { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(ownership.config.renew_every).await;
                }
                Err(e) => return Err(e),
                Ok(()) => return Ok(ownership),
            }
        }
    }

    /// Registers as a new instance (at start, or after losing the
    /// registration), unless another live node uses this node's name at
    /// another address. The same name at the same address is this node's
    /// own predecessor (a restart): its row is replaced, and its tables can
    /// be claimed at once.
    pub async fn register(&self) -> Result<(), JoinError> {
        let me = self.instance();
        let taken = self.repo.live_nodes().await?.into_iter().find(|n| {
            n.name == self.config.node_name && n.instance != me && n.address != self.config.advertise
        });
        if let Some(other) = taken {
            return Err(JoinError::NameTaken {
                name: other.name,
                address: other.address,
            });
        }
        let instance = new_id("n_");
        let sent = Instant::now();
        let node = NodeRecord {
            instance: instance.clone(),
            name: self.config.node_name.clone(),
            address: self.config.advertise.clone(),
            started_at_ms: schema::now_ms(),
            expires_at_ms: 0,
        };
        self.repo.register_node(&node, millis(self.config.ttl)).await?;
        if self.previous.lock().is_some() {
            // Back from a lapse: peers coming back from the same outage get
            // one TTL to take their own tables before this node claims any.
            *self.orphans_after.lock() = Some(Instant::now() + self.config.ttl);
        }
        *self.instance.lock() = instance;
        *self.valid_until.lock() = Some(sent + self.config.ttl - self.config.margin());
        Ok(())
    }

    /// Renews the registration. `Ok(false)`: it had lapsed (the caller stops
    /// every table and registers again).
    pub async fn renew(&self) -> Result<bool, StoreError> {
        let instance = self.instance();
        let sent = Instant::now();
        match self.repo.renew_node(&instance, millis(self.config.ttl)).await? {
            Some(_) => {
                let mut valid = self.valid_until.lock();
                // Only while still the same instance (a concurrent re-registration wins).
                if *self.instance.lock() == instance {
                    *valid = Some(sent + self.config.ttl - self.config.margin());
                }
                Ok(true)
            }
            None => {
                self.lose();
                Ok(false)
            }
        }
    }

    /// Gives up the registration at once: no table may act any more.
    pub fn lose(&self) {
        let was_valid = self.valid_until.lock().take().is_some();
        if was_valid || self.previous.lock().is_none() {
            let instance = self.instance();
            if !instance.is_empty() {
                self.previous.lock().get_or_insert(instance);
            }
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// After registering again: claims the running tables this node's
    /// previous instance still held (nobody claimed them meanwhile), first,
    /// before any peer may take them as orphans.
    pub async fn reclaim(&self) -> Result<Vec<Fence>, StoreError> {
        let Some(previous) = self.previous.lock().clone() else {
            return Ok(Vec::new());
        };
        if !self.is_valid() {
            return Ok(Vec::new());
        }
        let claimed = self.repo.reclaim_tables(&previous, &self.instance()).await?;
        *self.previous.lock() = None;
        Ok(claimed
            .into_iter()
            .map(|(table_id, epoch)| Fence { table_id, epoch })
            .collect())
    }

    /// Whether this node may act for its tables now.
    pub fn is_valid(&self) -> bool {
        self.valid_until
            .lock()
            .is_some_and(|until| Instant::now() < until)
    }

    /// When the current registration stops being valid, if it is.
    pub fn valid_until(&self) -> Option<Instant> {
        *self.valid_until.lock()
    }

    /// Tables started under another generation must stop.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The current instance id.
    pub fn instance(&self) -> String {
        self.instance.lock().clone()
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Claims table `id` for this node: the fence its writes must carry.
    pub async fn claim(&self, id: &str) -> Result<Fence, LeaseError> {
        if !self.is_valid() {
            return Err(LeaseError::NotMember);
        }
        match self.repo.claim_table(id, &self.instance()).await {
            Ok(Claim::Claimed { epoch }) => Ok(Fence {
                table_id: id.to_owned(),
                epoch,
            }),
            Ok(Claim::Held(lease)) => Err(LeaseError::Elsewhere(lease.owner_address)),
            Ok(Claim::NotRegistered) => Err(LeaseError::NotMember),
            Err(e) => Err(LeaseError::Store(e)),
        }
    }

    /// Claims up to a batch of orphaned running tables.
    pub async fn claim_orphans(&self) -> Result<Vec<Fence>, StoreError> {
        if !self.is_valid() {
            return Ok(Vec::new());
        }
        if self.orphans_after.lock().is_some_and(|at| Instant::now() < at) {
            return Ok(Vec::new());
        }
        let claimed = self
            .repo
            .claim_orphans(&self.instance(), self.config.claim_batch)
            .await?;
        Ok(claimed
            .into_iter()
            .map(|(table_id, epoch)| Fence { table_id, epoch })
            .collect())
    }

    /// Releases a table's lease (it left memory, or is handed to a peer).
    pub async fn release(&self, fence: &Fence) -> Result<bool, StoreError> {
        self.repo.release_table(fence).await
    }

    /// Leaves the cluster (a clean exit, after the tables were released).
    pub async fn leave(&self) -> Result<(), StoreError> {
        self.lose();
        self.repo.remove_node(&self.instance()).await
    }

    /// The live nodes, as the store sees them.
    pub async fn peers(&self) -> Result<Vec<NodeRecord>, StoreError> {
        self.repo.live_nodes().await
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
