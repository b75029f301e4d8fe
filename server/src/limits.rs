//! Capacity limits and the per-connection message rate limiter. Every limit
//! answers with a documented error (protocol `error` or HTTP 503/429), never
//! a crash or a silent drop.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// The server's configurable limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Live tables held in memory (created or loaded); more answer `too_many_tables` / 503.
    pub max_tables: usize,
    /// Open client connections (WebSocket and Socket.IO together).
    pub max_connections: usize,
    /// Spectators per table.
    pub max_spectators_per_table: usize,
    /// Sustained messages per second per connection.
    pub messages_per_sec: u32,
    /// Messages a connection may send in a burst above the sustained rate.
    pub message_burst: u32,
    /// Messages refused for rate in a row before the connection is closed.
    pub flood_strikes: u32,
    /// Largest client frame accepted, in bytes; larger ones close the connection.
    pub max_frame_bytes: usize,
    /// Longest chat line, in characters.
    pub max_chat_chars: usize,
    /// Tables one connection may join at once.
    pub max_joined_tables: usize,
    /// Open connections from one client address (requests with the admin key are not counted).
    pub max_connections_per_ip: usize,
    /// New connections per second from one client address, sustained; a
    /// burst of five seconds' worth (at least 10) is allowed.
    pub connects_per_ip_per_sec: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_tables: 10_000,
            max_connections: 20_000,
            max_spectators_per_table: 5_000,
            messages_per_sec: 20,
            message_burst: 40,
            flood_strikes: 50,
            max_frame_bytes: 16 * 1024,
            max_chat_chars: 500,
            max_joined_tables: 16,
            max_connections_per_ip: 1_000,
            connects_per_ip_per_sec: 20,
        }
    }
}

/// What the rate limiter says about one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateVerdict {
    /// Within the limit.
    Allow,
    /// Over the limit: refuse this message.
    Refuse,
    /// Over the limit for too long: close the connection.
    Disconnect,
}

/// A token bucket per connection: `rate` tokens per second up to `burst`.
/// Refusals in a row count as strikes; a message within the limit clears them.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    strikes: u32,
    max_strikes: u32,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(limits: &Limits) -> RateLimiter {
        RateLimiter::new_at(limits, Instant::now())
    }

    fn new_at(limits: &Limits, now: Instant) -> RateLimiter {
        RateLimiter {
            rate: f64::from(limits.messages_per_sec.max(1)),
            burst: f64::from(limits.message_burst.max(1)),
            tokens: f64::from(limits.message_burst.max(1)),
            last: now,
            strikes: 0,
            max_strikes: limits.flood_strikes.max(1),
        }
    }

    /// Takes one token for a message arriving now.
    pub fn check(&mut self) -> RateVerdict {
        self.check_at(Instant::now())
    }

    fn check_at(&mut self, now: Instant) -> RateVerdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.strikes = 0;
            RateVerdict::Allow
        } else {
            self.strikes += 1;
            if self.strikes >= self.max_strikes {
                RateVerdict::Disconnect
            } else {
                RateVerdict::Refuse
            }
        }
    }

    /// How long until one message would be allowed again.
    pub fn retry_after(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens).max(0.0)) / self.rate)
    }
}

/// Why a new connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectRefusal {
    /// The server holds `max_connections`.
    ServerFull,
    /// This address holds `max_connections_per_ip`.
    AddressFull,
    /// This address opens connections faster than `connects_per_ip_per_sec`.
    TooFast,
}

/// Most addresses remembered; beyond, those with no open connection are
/// forgotten (a flood of addresses cannot grow memory).
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Connections per client address: how many are open, and a token bucket
/// for how fast new ones arrive (kept while the address has none open, so
/// a connect-close loop is limited too).
#[derive(Default)]
pub struct Addresses {
    map: Mutex<HashMap<IpAddr, AddressState>>,
}

struct AddressState {
    open: usize,
    attempts: RateLimiter,
}

impl Addresses {
    /// Counts a connection attempt from `ip` and takes one of its slots.
    pub fn admit(&self, ip: IpAddr, limits: &Limits) -> Result<(), ConnectRefusal> {
        self.admit_at(ip, limits, Instant::now())
    }

    fn admit_at(&self, ip: IpAddr, limits: &Limits, now: Instant) -> Result<(), ConnectRefusal> {
        let mut map = self.map.lock();
        if map.len() >= MAX_TRACKED_ADDRESSES && !map.contains_key(&ip) {
            map.retain(|_, state| state.open > 0);
        }
        let state = map.entry(ip).or_insert_with(|| {
            let rate = limits.connects_per_ip_per_sec.max(1);
            let bucket = Limits {
                messages_per_sec: rate,
                message_burst: rate.saturating_mul(5).max(10),
                flood_strikes: u32::MAX,
                ..limits.clone()
            };
            AddressState {
                open: 0,
                attempts: RateLimiter::new_at(&bucket, now),
            }
        });
        if state.attempts.check_at(now) != RateVerdict::Allow {
            return Err(ConnectRefusal::TooFast);
        }
        if state.open >= limits.max_connections_per_ip {
            return Err(ConnectRefusal::AddressFull);
        }
        state.open += 1;
        Ok(())
    }

    /// Gives back a slot taken by [`Addresses::admit`].
    pub fn release(&self, ip: IpAddr) {
        if let Some(state) = self.map.lock().get_mut(&ip) {
            state.open = state.open.saturating_sub(1);
        }
    }

    /// Open connections from `ip`.
    pub fn open(&self, ip: IpAddr) -> usize {
        self.map.lock().get(&ip).map_or(0, |s| s.open)
    }
}

/// Raises this process's soft limit on open files to its hard limit, so that
/// one process can hold ten thousand sockets; returns the (soft, hard) limits
/// in force afterwards.
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` through a valid pointer.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: setrlimit reads one `rlimit` through a valid pointer.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit = raised;
        }
        Ok((limit.rlim_cur, limit.rlim_max))
    }
    #[cfg(not(unix))]
    {
        Err(std::io::Error::other("not supported on this platform"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refuses_then_disconnects() {
        let limits = Limits {
            messages_per_sec: 10,
            message_burst: 5,
            flood_strikes: 3,
            ..Limits::default()
        };
        let mut limiter = RateLimiter::new(&limits);
        let t0 = limiter.last;
        for _ in 0..5 {
            assert_eq!(limiter.check_at(t0), RateVerdict::Allow);
        }
        assert_eq!(limiter.check_at(t0), RateVerdict::Refuse);
        assert_eq!(limiter.check_at(t0), RateVerdict::Refuse);
        // A tenth of a second later one token is back and the strikes reset.
        let later = t0 + Duration::from_millis(100);
        assert_eq!(limiter.check_at(later), RateVerdict::Allow);
        assert_eq!(limiter.check_at(later), RateVerdict::Refuse);
        assert_eq!(limiter.check_at(later), RateVerdict::Refuse);
        assert_eq!(limiter.check_at(later), RateVerdict::Disconnect);
    }

    #[test]
    fn addresses_limit_open_connections_and_connect_rate() {
        let limits = Limits {
            max_connections_per_ip: 3,
            connects_per_ip_per_sec: 2,
            ..Limits::default()
        };
        let addresses = Addresses::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(addresses.admit_at(a, &limits, t0), Ok(()));
        }
        assert_eq!(
            addresses.admit_at(a, &limits, t0),
            Err(ConnectRefusal::AddressFull)
        );
        // Another address is not affected.
        assert_eq!(addresses.admit_at(b, &limits, t0), Ok(()));
        // A closed connection frees its slot.
        addresses.release(a);
        assert_eq!(addresses.open(a), 2);
        assert_eq!(addresses.admit_at(a, &limits, t0), Ok(()));
        // The burst (at least 10 attempts, refused ones included) is spent:
        // connecting and closing in a loop is refused for rate.
        for _ in 0..3 {
            addresses.release(a);
        }
        for _ in 0..5 {
            let _ = addresses.admit_at(a, &limits, t0);
            addresses.release(a);
        }
        assert_eq!(addresses.admit_at(a, &limits, t0), Err(ConnectRefusal::TooFast));
        // Half a second later one attempt is allowed again.
        let later = t0 + Duration::from_millis(500);
        assert_eq!(addresses.admit_at(a, &limits, later), Ok(()));
        assert_eq!(
            addresses.admit_at(a, &limits, later),
            Err(ConnectRefusal::TooFast)
        );
    }
}
