//! The command line ([`Args`], [`Pace`]) and the bounds every run keeps
//! (loopback targets, at most an hour, at most 50,000 connections).

use std::net::SocketAddr;

use anyhow::bail;

use crate::conn::Transport;

/// Longest run, whatever `--duration-secs` says.
pub const MAX_DURATION_SECS: u64 = 3_600;

/// Connections opened by the load generator, at most.
pub const MAX_CONNECTIONS: usize = 50_000;

/// Pace of the tables the load generator creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Pace {
    /// Pauses between hands, AI seats take at least 0.6 s.
    Realtime,
    /// As fast as agents answer.
    Auto,
}

/// `loadgen` options.
#[derive(Debug, clap::Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator for a Showdown server: N tables, P players and S spectators per table, \
             over WebSocket or Socket.IO; reports latency, traffic, errors and the server's memory and CPU.",
    after_help = "Only loopback targets are allowed unless --allow-remote is given. \
                  The run stops by itself: setup has a deadline, the ramp may last at most an hour, \
                  the measured window at most --duration-secs (3600 at most)."
)]
pub struct Args {
    /// Server address, IP:PORT. Must be a loopback address unless --allow-remote is given.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub target: SocketAddr,
    /// Cluster: open the connections at these nodes instead (repeat the
    /// flag; connections go round-robin), while tables and players are set
    /// up at --target. With tables created at one node and connections at
    /// the others, every client is on a node that does not run its table.
    #[arg(long = "connect", value_name = "IP:PORT")]
    pub connect: Vec<SocketAddr>,
    /// Allow a --target that is not a loopback address (only for a server you run).
    #[arg(long)]
    pub allow_remote: bool,
    /// Transport of every connection.
    #[arg(long, value_enum, default_value_t = Transport::Ws)]
    pub transport: Transport,
    /// Tables to create.
    #[arg(long, default_value_t = 1)]
    pub tables: usize,
    /// Human-like players per table, each with its own token and connection; they sit in seats 0.. and act.
    #[arg(long, default_value_t = 1)]
    pub players: usize,
    /// Heuristic bot seats per table (played by the server: no connection), after the players' seats.
    #[arg(long, default_value_t = 1)]
    pub bots: usize,
    /// Agent of the bot seats.
    #[arg(long, default_value = "bot:calling-station")]
    pub bot_agent: String,
    /// Spectator connections per table.
    #[arg(long, default_value_t = 10)]
    pub spectators: usize,
    /// Connections opened per second during the ramp.
    #[arg(long, default_value_t = 500.0)]
    pub ramp_per_sec: f64,
    /// Seconds to measure after the ramp (1 to 3600); the whole run is bounded by setup + ramp + this.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=MAX_DURATION_SECS))]
    pub duration_secs: u64,
    /// Seconds between the end of the ramp and the start of the measurement (memory and queues settle).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=60))]
    pub settle_secs: u64,
    /// Shortest think time of a player before acting, ms.
    #[arg(long, default_value_t = 500)]
    pub think_min_ms: u64,
    /// Longest think time of a player before acting, ms.
    #[arg(long, default_value_t = 2_000)]
    pub think_max_ms: u64,
    /// Pace of the created tables.
    #[arg(long, value_enum, default_value_t = Pace::Realtime)]
    pub pace: Pace,
    /// Turn clock of the created tables, ms.
    #[arg(long, default_value_t = 20_000)]
    pub turn_clock_ms: u64,
    /// The server's admin key: creates tables without a player token, and skips the per-IP REST
    /// limit and the per-address connection limits (without it, one address may open 100
    /// connections at once, then 20 a second, and hold at most 1,000 by default).
    #[arg(long, env = "SHOWDOWN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// PID of the server when it runs on this machine: its RSS and CPU are read from /proc.
    #[arg(long)]
    pub pid: Option<u32>,
    /// More server PIDs on this machine (a cluster's other nodes; repeat
    /// the flag): their CPU in the measured window is reported too.
    #[arg(long = "also-pid", value_name = "PID")]
    pub also_pid: Vec<u32>,
    /// One spectator of the first table re-joins after every action to measure a full snapshot
    /// (for the delta-size comparison); its own events are not counted as deltas.
    #[arg(long)]
    pub snapshot_probe: bool,
    /// Print the report as JSON (progress lines still go to stderr).
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn check_args(args: &Args) -> anyhow::Result<()> {
    for target in std::iter::once(&args.target).chain(&args.connect) {
        if !target.ip().is_loopback() && !args.allow_remote {
            bail!(
                "{target} is not a loopback address: pass --allow-remote to load a server you run elsewhere"
            );
        }
    }
    let seats = args.players + args.bots;
    if seats > 10 {
        bail!("players + bots must be at most 10 (a table has 2 to 10 seats)");
    }
    let connections = args.tables * (args.players + args.spectators);
    if connections > MAX_CONNECTIONS {
        bail!("{connections} connections: at most {MAX_CONNECTIONS}");
    }
    if args.tables == 0 {
        bail!("--tables must be at least 1");
    }
    if args.ramp_per_sec.is_nan() || args.ramp_per_sec <= 0.0 {
        bail!("--ramp-per-sec must be positive");
    }
    if connections as f64 / args.ramp_per_sec > MAX_DURATION_SECS as f64 {
        bail!("the ramp would take over {MAX_DURATION_SECS} s: raise --ramp-per-sec");
    }
    if args.think_min_ms > args.think_max_ms {
        bail!("--think-min-ms is above --think-max-ms");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn refuses_remote_targets_without_the_flag_and_caps_the_duration() {
        let parse = |line: &str| Args::try_parse_from(line.split_whitespace());
        let args = parse("loadgen").expect("defaults");
        assert_eq!(args.target, "127.0.0.1:8080".parse().expect("addr"));
        assert!(check_args(&args).is_ok());
        let remote = parse("loadgen --target 10.0.0.5:8080").expect("parses");
        assert!(check_args(&remote).is_err());
        let allowed = parse("loadgen --target 10.0.0.5:8080 --allow-remote").expect("parses");
        assert!(check_args(&allowed).is_ok());
        assert!(check_args(&parse("loadgen --target [::1]:80").expect("parses")).is_ok());
        let spread = parse("loadgen --connect 127.0.0.1:1 --connect 127.0.0.1:2").expect("parses");
        assert_eq!(spread.connect.len(), 2);
        assert!(check_args(&spread).is_ok());
        assert!(check_args(&parse("loadgen --connect 10.0.0.5:80").expect("parses")).is_err());
        assert!(parse("loadgen --duration-secs 3601").is_err());
        assert!(parse("loadgen --duration-secs 0").is_err());
        assert!(check_args(&parse("loadgen --players 8 --bots 3").expect("parses")).is_err());
        // Every phase is bounded: the ramp, the settling, the window.
        assert!(check_args(&parse("loadgen --spectators 10000 --ramp-per-sec 1").expect("parses")).is_err());
        assert!(parse("loadgen --settle-secs 61").is_err());
    }
}
