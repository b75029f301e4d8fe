//! `showdown`: the server binary.

use clap::Parser;
use server::Server;
use server::cli::{Cli, CliCommand, LogFormat};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        CliCommand::Serve(args) => {
            let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
            // Logs go to stderr: stdout carries only the start-up line below.
            let logs = tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_env_filter(filter);
            match args.log_format {
                LogFormat::Text => logs.init(),
                LogFormat::Json => logs.json().init(),
            }
            let server = Server::start(args.config()).await?;
            // The first stdout line: tests and scripts read the address from it.
            println!("Showdown is running: open http://{}/", server.addr);
            wait_for_signal().await;
            server.shutdown().await
        }
    }
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
