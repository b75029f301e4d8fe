//! `showdown`: the server binary and the experiment runner.

use std::io::Write as _;
use std::path::Path;

use clap::Parser;
use server::Server;
use server::cli::{Cli, CliCommand, ExperimentCommand, LogFormat};
use server::experiment::runner::StopReason;
use server::protocol::Failure;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match cli.command {
        CliCommand::Serve(args) => {
            // Logs go to stderr: stdout carries only the start-up line below.
            let logs = tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_env_filter(filter());
            match args.log_format {
                LogFormat::Text => logs.init(),
                LogFormat::Json => logs.json().init(),
            }
            // Each connection is a file descriptor: use all the system allows.
            match server::limits::raise_open_files_limit() {
                Ok((soft, hard)) => tracing::info!(soft, hard, "open files limit"),
                Err(e) => tracing::warn!("could not raise the open files limit: {e}"),
            }
            let server = Server::start(args.config()).await?;
            // The first stdout line: tests and scripts read the address from it.
            println!("Showdown is running: open http://{}/", server.addr);
            wait_for_signal().await;
            server.shutdown().await
        }
        CliCommand::Experiment(command) => {
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
                .init();
            let (spec_text, dir, llm_config) = match command {
                ExperimentCommand::Run {
                    spec,
                    out,
                    llm_config,
                } => {
                    let text = std::fs::read_to_string(&spec)
                        .map_err(|e| anyhow::anyhow!("reading {}: {e}", spec.display()))?;
                    let dir = out.unwrap_or_else(|| server::experiment::default_dir(&spec));
                    (Some(text), dir, llm_config)
                }
                ExperimentCommand::Resume { dir, llm_config } => (None, dir, llm_config),
            };
            experiment(spec_text.as_deref(), &dir, llm_config.as_deref()).await
        }
    }
}

/// Runs an experiment with a progress line on stderr; Ctrl-C stops it cleanly.
async fn experiment(spec: Option<&str>, dir: &Path, llm_config: Option<&Path>) -> anyhow::Result<()> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("\nstopping after the hands in play (run `showdown experiment resume` to continue)");
        let _ = stop_tx.send(true);
    });
    let result = server::experiment::run_in_dir(spec, dir, llm_config, stop, |p| {
        eprint!("\r{}   ", server::experiment::progress_line(p));
        let _ = std::io::stderr().flush();
    })
    .await;
    eprintln!();
    // The CLI is an edge too: it prints what a client would read.
    let (reason, summary) = result.map_err(|e| anyhow::anyhow!("{}", Failure::from(e).message))?;
    println!("{}", serde_json::to_string_pretty(&summary["agents"])?);
    print!("{}", server::experiment::llm_table(&summary));
    match reason {
        StopReason::Done => println!("done: results in {}", dir.display()),
        StopReason::Budget => println!("budget reached: results in {}", dir.display()),
        StopReason::Stopped => println!(
            "stopped: resume with `showdown experiment resume {}`",
            dir.display()
        ),
        StopReason::Degraded => {
            let why = summary["degraded"]
                .as_str()
                .unwrap_or("LLM seats fell back to bots");
            anyhow::bail!(
                "degraded: the results would show bot play as the model's (results in {}):\n{why}",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
