//! `loadgen`: opens tables, players and spectators against a Showdown
//! server and reports latency, traffic, errors and the server's memory and
//! CPU. See `loadgen --help` and BENCHMARKS.md ("Fan-out and load").

use clap::Parser;
use loadgen::{Args, progress, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Ten thousand sockets need ten thousand file descriptors.
    match raise_open_files_limit() {
        Ok((soft, hard)) => progress(&format!("open files limit {soft} (hard {hard})")),
        Err(e) => progress(&format!("could not raise the open files limit: {e}")),
    }
    let report = run(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(())
}

/// Raises this process's soft limit on open files to its hard limit; returns
/// the (soft, hard) limits in force afterwards.
fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    rlimit::increase_nofile_limit(u64::MAX)?;
    rlimit::Resource::NOFILE.get()
}
