//! The response cache ([`ReplyCache`]): identical temperature-0 calls
//! (same provider, same body) answered again without paying twice.

use std::collections::HashMap;

use tokio::time::{Duration, Instant};

use super::reply::ChatReply;
use crate::agent::TokenUsage;

/// A bounded response cache with a time to live, for identical
/// temperature-0 requests (same provider, same body).
pub(super) struct ReplyCache {
    capacity: usize,
    ttl: Duration,
    entries: HashMap<u64, (Instant, ChatReply)>,
    order: std::collections::VecDeque<u64>,
}

impl ReplyCache {
    pub(super) fn new(capacity: usize, ttl_secs: u64) -> ReplyCache {
        ReplyCache {
            capacity,
            ttl: Duration::from_secs(ttl_secs),
            entries: HashMap::new(),
            order: std::collections::VecDeque::new(),
        }
    }

    pub(super) fn get(&mut self, key: u64) -> Option<ChatReply> {
        let (at, reply) = self.entries.get(&key)?;
        if at.elapsed() > self.ttl {
            self.entries.remove(&key);
            return None;
        }
        let mut reply = reply.clone();
        reply.cached = true;
        reply.usage = TokenUsage::default();
        Some(reply)
    }

    pub(super) fn put(&mut self, key: u64, reply: ChatReply) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.insert(key, (Instant::now(), reply)).is_none() {
            self.order.push_back(key);
        }
        while self.entries.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
    }
}

pub(super) fn cache_key(provider: &str, body: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    provider.hash(&mut h);
    body.hash(&mut h);
    h.finish()
}
