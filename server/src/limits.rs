//! Capacity limits and the per-connection message rate limiter. Every limit
//! answers with a documented error (protocol `error` or HTTP 503/429), never
//! a crash or a silent drop.

use std::time::Duration;

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
        RateLimiter {
            rate: f64::from(limits.messages_per_sec.max(1)),
            burst: f64::from(limits.message_burst.max(1)),
            tokens: f64::from(limits.message_burst.max(1)),
            last: Instant::now(),
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
}
