//! `mock-llm`: a simulated OpenAI-compatible (or Ollama-like) provider, to
//! try LLM players without an API key.
//!
//! ```text
//! mock-llm --bind 127.0.0.1:8090 --rpm 600 --tpm 200000 --latency-ms 1000 --p99-ms 3000 --fault-500 0.01
//! ```
//! Settings come from `--config FILE` (TOML, the fields of `MockConfig`),
//! then the flags given. Stop it with Ctrl-C: it prints its counters.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use ai_players::mock::{FormatSupport, MockConfig, MockLlm, Mode};
use clap::Parser;

/// Command line of `mock-llm`.
#[derive(Debug, Parser)]
#[command(
    name = "mock-llm",
    version,
    about = "A simulated OpenAI-compatible LLM provider that plays poker."
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: SocketAddr,
    /// TOML file with a full `MockConfig`; the flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Requests per window, per model.
    #[arg(long)]
    rpm: Option<u64>,
    /// Tokens per window, per model (prompt estimate + max_tokens are charged).
    #[arg(long)]
    tpm: Option<u64>,
    /// Rate-limit window in milliseconds (default 60000: per minute).
    #[arg(long)]
    window_ms: Option<u64>,
    /// Probability that a 429 omits Retry-After.
    #[arg(long)]
    omit_retry_after: Option<f64>,
    /// Median latency in milliseconds.
    #[arg(long)]
    latency_ms: Option<u64>,
    /// 99th-percentile latency in milliseconds (default: the median, a fixed delay).
    #[arg(long)]
    p99_ms: Option<u64>,
    /// Probability of a 500.
    #[arg(long)]
    fault_500: Option<f64>,
    /// Probability of a request that hangs (see --hang-ms).
    #[arg(long)]
    fault_hang: Option<f64>,
    /// Probability of a body or content that is not JSON.
    #[arg(long)]
    fault_malformed: Option<f64>,
    /// Probability of an illegal action or amount.
    #[arg(long)]
    fault_illegal: Option<f64>,
    /// Probability of content cut short (finish_reason "length").
    #[arg(long)]
    fault_truncated: Option<f64>,
    /// Probability of the JSON wrapped in prose or a code fence.
    #[arg(long)]
    fault_prose: Option<f64>,
    /// Probability of a refusal.
    #[arg(long)]
    fault_refusal: Option<f64>,
    /// Probability of a 429 regardless of budgets.
    #[arg(long)]
    fault_429: Option<f64>,
    /// Probability of a 503 "overloaded".
    #[arg(long)]
    fault_503: Option<f64>,
    /// How long a hanging request waits before a 504, in milliseconds.
    #[arg(long)]
    hang_ms: Option<u64>,
    /// Behave like Ollama: no rate-limit headers, 503 when the queue is full.
    #[arg(long)]
    ollama: bool,
    /// Requests in flight (queued or running) beyond which the answer is 503.
    #[arg(long)]
    max_in_flight: Option<usize>,
    /// Requests worked on at once; the others queue.
    #[arg(long)]
    parallel: Option<usize>,
    /// Environment variable holding the API key clients must send.
    #[arg(long)]
    api_key_env: Option<String>,
    /// A model to serve (repeatable); replaces the config's list.
    #[arg(long = "model")]
    models: Vec<String>,
    /// Answer 404 for models not served.
    #[arg(long)]
    reject_unknown_models: bool,
    /// Refuse `json_schema` response formats with a 500, like llama-cpp-python's server.
    #[arg(long, conflicts_with = "reject_response_format")]
    reject_json_schema: bool,
    /// Refuse every `response_format` but `text` with a 400.
    #[arg(long)]
    reject_response_format: bool,
    /// Seed of every random choice.
    #[arg(long)]
    seed: Option<u64>,
    /// Probability of betting or raising when legal.
    #[arg(long)]
    aggression: Option<f64>,
    /// Probability of folding when facing a bet.
    #[arg(long)]
    fold_to_bet: Option<f64>,
}

impl Cli {
    /// The config file (or the default) with the flags applied.
    fn config(&self) -> Result<MockConfig, String> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("bad config {}: {e}", path.display()))?
            }
            None => MockConfig::default(),
        };
        let set = |slot: &mut f64, value: Option<f64>| {
            if let Some(value) = value {
                *slot = value;
            }
        };
        config.limits.rpm = self.rpm.or(config.limits.rpm);
        config.limits.tpm = self.tpm.or(config.limits.tpm);
        config.limits.window_ms = self.window_ms.unwrap_or(config.limits.window_ms);
        set(&mut config.limits.omit_retry_after, self.omit_retry_after);
        if let Some(median) = self.latency_ms {
            config.latency.median_ms = median;
            config.latency.p99_ms = self.p99_ms.unwrap_or(median);
        } else if let Some(p99) = self.p99_ms {
            config.latency.p99_ms = p99;
        }
        let faults = &mut config.faults;
        set(&mut faults.error_500, self.fault_500);
        set(&mut faults.hang, self.fault_hang);
        set(&mut faults.malformed, self.fault_malformed);
        set(&mut faults.illegal, self.fault_illegal);
        set(&mut faults.truncated, self.fault_truncated);
        set(&mut faults.prose, self.fault_prose);
        set(&mut faults.refusal, self.fault_refusal);
        set(&mut faults.rate_limited, self.fault_429);
        set(&mut faults.overloaded, self.fault_503);
        set(&mut config.policy.aggression, self.aggression);
        set(&mut config.policy.fold_to_bet, self.fold_to_bet);
        config.hang_ms = self.hang_ms.unwrap_or(config.hang_ms);
        if self.ollama {
            config.mode = Mode::Ollama;
        }
        config.max_in_flight = self.max_in_flight.or(config.max_in_flight);
        config.parallel = self.parallel.or(config.parallel);
        if let Some(var) = &self.api_key_env {
            let key = std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?;
            config.api_key = Some(key.into());
        }
        if !self.models.is_empty() {
            config.models = self.models.clone();
        }
        config.reject_unknown_models |= self.reject_unknown_models;
        if self.reject_json_schema {
            config.response_formats = FormatSupport::NoJsonSchema;
        }
        if self.reject_response_format {
            config.response_formats = FormatSupport::TextOnly;
        }
        config.seed = self.seed.unwrap_or(config.seed);
        Ok(config)
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("mock-llm: {message}");
            return ExitCode::FAILURE;
        }
    };
    let summary = format!(
        "mode {}, models {}, rpm {}, tpm {}, latency median {} ms / p99 {} ms, api key {}",
        match config.mode {
            Mode::OpenAi => "openai",
            Mode::Ollama => "ollama",
        },
        config.models.join(","),
        config
            .limits
            .rpm
            .map_or("unlimited".to_owned(), |n| n.to_string()),
        config
            .limits
            .tpm
            .map_or("unlimited".to_owned(), |n| n.to_string()),
        config.latency.median_ms,
        config.latency.p99_ms.max(config.latency.median_ms),
        if config.api_key.is_some() {
            "required"
        } else {
            "not required"
        },
    );
    let server = match MockLlm::start_on(config, cli.bind).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("mock-llm: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("mock-llm listening; base URL: {} ({summary})", server.base_url());
    stop_requested().await;
    let stats = server.shutdown().await;
    println!(
        "mock-llm stopped: {}",
        serde_json::to_string(&stats).unwrap_or_else(|e| e.to_string())
    );
    ExitCode::SUCCESS
}
