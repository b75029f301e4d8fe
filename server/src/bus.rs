//! The cluster's message bus on Redis: what may be lost (design:
//! `docs/cluster.md`). Nodes publish committed events to one channel per
//! table and send each other forwarded commands on one channel per node;
//! nothing here is an authority: a mirror that misses a message reads the
//! table's log from Postgres.
//!
//! One connection publishes (redis-rs' `ConnectionManager`, which
//! reconnects by itself), one subscribes. Subscriptions are kept here, so
//! after the subscriber reconnects every channel is subscribed again and
//! each subscriber is told ([`BusMessage::Reconnected`]) to catch up from
//! the store. Publishing never waits: messages queue up to a bound and are
//! dropped beyond it (counted), which a mirror notices as a gap.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Messages waiting to be published; beyond, they are dropped.
const PUBLISH_QUEUE: usize = 8_192;
/// Messages a subscriber may have waiting before the bus drops its messages.
const SUBSCRIBER_QUEUE: usize = 1_024;
/// Waits between attempts to reach Redis again.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// What a subscriber receives.
#[derive(Debug)]
pub enum BusMessage {
    /// A message published on its channel.
    Payload(Vec<u8>),
    /// The subscription was down for a while (messages may be lost): catch
    /// up from the store.
    Reconnected,
}

enum SubOp {
    Subscribe(String),
    Unsubscribe(String),
}

/// Counters the metrics read.
#[derive(Debug, Default)]
pub struct BusCounters {
    /// Messages published.
    pub published: AtomicU64,
    /// Messages dropped (queue full or Redis unreachable).
    pub dropped: AtomicU64,
    /// Messages received for a subscriber.
    pub received: AtomicU64,
}

/// A handle to the bus (cheap to clone).
#[derive(Clone)]
pub struct Bus(Arc<BusInner>);

/// What [`Bus`] holds.
pub struct BusInner {
    prefix: String,
    publish_tx: mpsc::Sender<(String, Vec<u8>)>,
    /// Per channel: the subscription's token and where its messages go.
    subscribers: Mutex<HashMap<String, (u64, mpsc::Sender<BusMessage>)>>,
    next_token: AtomicU64,
    ops: mpsc::UnboundedSender<SubOp>,
    up: AtomicBool,
    /// Counters.
    pub counters: BusCounters,
}

impl std::ops::Deref for Bus {
    type Target = BusInner;
    fn deref(&self) -> &BusInner {
        &self.0
    }
}

impl Bus {
    /// Connects to Redis at `url` (channel names start with `prefix`) and
    /// starts the publisher and the subscriber. Fails only if the URL is
    /// malformed: an unreachable Redis is retried in the background (the
    /// cluster runs without it, its mirrors reading the store).
    pub fn start(url: &str, prefix: &str) -> Result<Bus, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let (publish_tx, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        let (ops, ops_rx) = mpsc::unbounded_channel();
        let bus = Bus(Arc::new(BusInner {
            prefix: prefix.to_owned(),
            publish_tx,
            subscribers: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            ops,
            up: AtomicBool::new(false),
            counters: BusCounters::default(),
        }));
        tokio::spawn(publisher(bus.clone(), client.clone(), publish_rx));
        tokio::spawn(subscriber(bus.clone(), client, ops_rx));
        Ok(bus)
    }

    /// The channel of table `id` (its committed events and room messages).
    pub fn table_channel(&self, id: &str) -> String {
        format!("{}t:{id}", self.prefix)
    }

    /// The channel of the node reachable at `address` (forwarded commands
    /// and their replies).
    pub fn node_channel(&self, address: &str) -> String {
        format!("{}n:{address}", self.prefix)
    }

    /// Whether the subscriber is connected now.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Queues `payload` for `channel`; dropped (and counted) if the queue is full.
    pub fn publish(&self, channel: String, payload: Vec<u8>) {
        if self.publish_tx.try_send((channel, payload)).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Subscribes to `channel`; a second subscription to the same channel
    /// replaces the first (whose receiver then ends).
    pub fn subscribe(&self, channel: &str) -> Subscription {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let fresh = self
            .subscribers
            .lock()
            .insert(channel.to_owned(), (token, tx))
            .is_none();
        if fresh {
            let _ = self.ops.send(SubOp::Subscribe(channel.to_owned()));
        }
        Subscription {
            rx,
            bus: self.clone(),
            channel: channel.to_owned(),
            token,
        }
    }

    /// Ends subscription `token` to `channel` (unless a newer one replaced it).
    fn unsubscribe(&self, channel: &str, token: u64) {
        let mut subscribers = self.subscribers.lock();
        if subscribers.get(channel).is_some_and(|(t, _)| *t == token) {
            subscribers.remove(channel);
            let _ = self.ops.send(SubOp::Unsubscribe(channel.to_owned()));
        }
    }

    fn deliver(&self, channel: &str, payload: Vec<u8>) {
        let subscribers = self.subscribers.lock();
        if let Some((_, tx)) = subscribers.get(channel) {
            self.counters.received.fetch_add(1, Ordering::Relaxed);
            // A full queue loses the message: the subscriber finds the gap.
            let _ = tx.try_send(BusMessage::Payload(payload));
        }
    }

    fn tell_all_reconnected(&self) {
        for (_, tx) in self.subscribers.lock().values() {
            let _ = tx.try_send(BusMessage::Reconnected);
        }
    }
}

/// A subscription to one channel: its messages, until dropped.
pub struct Subscription {
    rx: mpsc::Receiver<BusMessage>,
    bus: Bus,
    channel: String,
    token: u64,
}

impl Subscription {
    /// The next message; `None` once a newer subscription replaced this one.
    pub async fn recv(&mut self) -> Option<BusMessage> {
        self.rx.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.bus.unsubscribe(&self.channel, self.token);
    }
}

async fn publisher(bus: Bus, client: redis::Client, mut rx: mpsc::Receiver<(String, Vec<u8>)>) {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_number_of_retries(1);
    let mut conn: Option<ConnectionManager> = None;
    let mut warned = false;
    while let Some((channel, payload)) = rx.recv().await {
        if conn.is_none() {
            match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    if !warned {
                        warn!("cannot reach Redis to publish (mirrors read the store meanwhile): {e}");
                        warned = true;
                    }
                    bus.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let result: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async(c)
            .await;
        match result {
            Ok(_) => {
                warned = false;
                bus.counters.published.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                bus.counters.dropped.fetch_add(1, Ordering::Relaxed);
                if !warned {
                    warn!("publishing to Redis failed (mirrors read the store meanwhile): {e}");
                    warned = true;
                }
            }
        }
    }
}

async fn subscriber(bus: Bus, client: redis::Client, mut ops: mpsc::UnboundedReceiver<SubOp>) {
    let mut first = true;
    loop {
        let pubsub = match tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub()).await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                debug!("cannot reach Redis to subscribe: {e}");
                drain_ops(&mut ops);
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
            Err(_) => {
                debug!("connecting to Redis timed out");
                drain_ops(&mut ops);
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        // Subscribe everything wanted now; later changes come as ops.
        drain_ops(&mut ops);
        let channels: Vec<String> = bus.subscribers.lock().keys().cloned().collect();
        let mut ok = true;
        for channel in &channels {
            if let Err(e) = sink.subscribe(channel).await {
                warn!("cannot subscribe to {channel}: {e}");
                ok = false;
                break;
            }
        }
        if !ok {
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        }
        bus.up.store(true, Ordering::Relaxed);
        if first {
            info!("connected to Redis");
        } else {
            info!("reconnected to Redis; mirrors catch up from the store");
        }
        // Whatever was published while we were away is lost: catch up.
        if !first {
            bus.tell_all_reconnected();
        }
        first = false;
        loop {
            tokio::select! {
                op = ops.recv() => {
                    let result = match op {
                        Some(SubOp::Subscribe(channel)) => sink.subscribe(&channel).await,
                        Some(SubOp::Unsubscribe(channel)) => sink.unsubscribe(&channel).await,
                        None => return,
                    };
                    if let Err(e) = result {
                        warn!("Redis subscription change failed: {e}");
                        break;
                    }
                }
                message = stream.next() => match message {
                    Some(message) => {
                        let channel = message.get_channel_name().to_owned();
                        bus.deliver(&channel, message.get_payload_bytes().to_vec());
                    }
                    None => break,
                },
            }
        }
        bus.up.store(false, Ordering::Relaxed);
        warn!("lost the Redis subscription; mirrors poll the store until it is back");
        // Subscribers poll the store faster while the bus is down.
        bus.tell_all_reconnected();
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

/// Drops queued subscription changes: the full set is subscribed from
/// `subscribers` on (re)connection.
fn drain_ops(ops: &mut mpsc::UnboundedReceiver<SubOp>) {
    while ops.try_recv().is_ok() {}
}
