//! `loadgen`: opens tables, players and spectators against a Showdown
//! server and reports latency, traffic, errors and the server's memory and
//! CPU. See `loadgen --help` and BENCHMARKS.md ("Fan-out and load").

use clap::Parser;
use server::loadgen::{Args, progress, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Ten thousand sockets need ten thousand file descriptors.
    match server::limits::raise_open_files_limit() {
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
