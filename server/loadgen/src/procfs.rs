//! Resident memory and CPU time of a local process, from `/proc` (Linux).

use std::time::Instant;

/// One reading of a process.
#[derive(Clone, Copy, Debug)]
pub struct ProcSample {
    /// Resident set size, KiB (`VmRSS`).
    pub rss_kb: u64,
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// When it was read.
    pub at: Instant,
}

impl ProcSample {
    /// Reads `/proc/PID/status` and `/proc/PID/stat`; `None` if the process
    /// is gone or this is not Linux.
    pub fn read(pid: u32) -> Option<ProcSample> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some(ProcSample {
            rss_kb: rss_kb(&status)?,
            cpu_ticks: cpu_ticks(&stat)?,
            at: Instant::now(),
        })
    }

    /// CPU use between two readings, in percent of one core.
    pub fn cpu_percent_since(&self, earlier: &ProcSample) -> f64 {
        let secs = self.at.duration_since(earlier.at).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        let ticks = self.cpu_ticks.saturating_sub(earlier.cpu_ticks) as f64;
        ticks / clock_ticks_per_sec() / secs * 100.0
    }
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// `VmRSS:    12345 kB` in `/proc/PID/status`.
fn rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `utime + stime` (fields 14 and 15) of `/proc/PID/stat`. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted from the
/// last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_cpu_ticks() {
        let status = "Name:\tshowdown\nVmPeak:\t  99999 kB\nVmRSS:\t   51234 kB\nThreads:\t3\n";
        assert_eq!(rss_kb(status), Some(51_234));
        assert_eq!(rss_kb("Name:\tx\n"), None);
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 2800 0 0 0 731 129 0 0 20 0 3 0 100 0 0";
        assert_eq!(cpu_ticks(stat), Some(731 + 129));
        let this = ProcSample::read(std::process::id()).expect("this process");
        assert!(this.rss_kb > 0);
    }
}
