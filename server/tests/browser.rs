//! The web client in a real browser: headless Chromium (Debian's
//! `chromium`) driven by `playwright-core` from `web/e2e/play.mjs`, against
//! the real `showdown` binary on a temporary SQLite file. A player creates a
//! table against three bots in the lobby and plays hands by clicking; a
//! spectator watches the same board and never receives a hole card before
//! showdown; then this test kills the server (SIGKILL) and starts it again
//! on the same port and database, and both pages recover without a reload.
//! Screenshots go to `target/browser-artifacts/`.
//!
//! Needs `node`, `/usr/bin/chromium` (or `SHOWDOWN_CHROMIUM`) and
//! `npm ci --prefix web/e2e` (CI installs all three and sets
//! `SHOWDOWN_BROWSER_REQUIRED`); without them the test says so on stderr and
//! returns.

#[path = "helpers/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use process::ServerProcess;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Set (by CI) to make missing prerequisites fail the test instead of skipping it.
const REQUIRED_ENV: &str = "SHOWDOWN_BROWSER_REQUIRED";

/// The whole browser run, restart included, must finish within this.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Server flags: a short pause between hands keeps the run quick while a
/// hand's result stays on screen long enough to be read.
const SERVER_FLAGS: &[&str] = &["--between-hands-ms", "1500"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate sits in the workspace")
        .to_owned()
}

/// What the browser run needs, or `None` (with a notice) when it cannot run here.
fn prerequisites() -> Option<(PathBuf, PathBuf)> {
    let e2e = workspace().join("web/e2e");
    let chromium = std::env::var_os("SHOWDOWN_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let missing = if !node {
        "`node` is not on PATH".to_owned()
    } else if !chromium.is_file() {
        format!("{} is missing (apt-get install chromium)", chromium.display())
    } else if !e2e.join("node_modules/playwright-core/package.json").is_file() {
        "web/e2e/node_modules is missing".to_owned()
    } else {
        return Some((e2e, chromium));
    };
    // CI installs everything: there a missing piece is a failure, not a skip.
    assert!(
        std::env::var_os(REQUIRED_ENV).is_none(),
        "{REQUIRED_ENV} is set but the browser test cannot run: {missing}"
    );
    // Straight to stderr: `eprintln!` is captured (hidden) for passing tests.
    let notice = format!(
        "browser: skipped: {missing}; to run the browser test, install Node.js and \
         Debian's chromium, and run `npm ci --prefix web/e2e`\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plays_watches_and_recovers_from_a_restart_in_chromium() {
    let Some((e2e, chromium)) = prerequisites() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "showdown-browser-{}-{}",
        std::process::id(),
        server::auth::random_u64()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let database = format!("sqlite://{}", dir.join("showdown.db").display());
    let log = dir.join("server.log");
    let artifacts = std::env::var_os("SHOWDOWN_BROWSER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/browser-artifacts"));
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    for entry in std::fs::read_dir(&artifacts).expect("artifacts dir").flatten() {
        if entry.path().extension().is_some_and(|e| e == "png") {
            let _ = std::fs::remove_file(entry.path());
        }
    }

    let mut server = Some(ServerProcess::start_on(&database, &log, "127.0.0.1:0", SERVER_FLAGS).await);
    let http = server.as_ref().expect("started").http.clone();
    let bind = http.trim_start_matches("http://").to_owned();

    let mut node = Command::new("node")
        .arg(e2e.join("play.mjs"))
        .arg(&http)
        .arg(&artifacts)
        .current_dir(&e2e)
        .env("SHOWDOWN_CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut stdin = node.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(node.stdout.take().expect("piped stdout")).lines();
    let mut stderr = BufReader::new(node.stderr.take().expect("piped stderr")).lines();
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        while let Ok(Some(line)) = stderr.next_line().await {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });

    let mut transcript = String::new();
    let mut restarts = 0;
    let run = async {
        while let Some(line) = stdout.next_line().await.expect("read node's stdout") {
            transcript.push_str(&line);
            transcript.push('\n');
            if line == "RESTART" {
                server.take().expect("a running server").kill().await;
                server = Some(ServerProcess::start_on(&database, &log, &bind, SERVER_FLAGS).await);
                restarts += 1;
                stdin.write_all(b"RESTARTED\n").await.expect("write to node");
                stdin.flush().await.expect("flush");
            }
        }
        node.wait().await.expect("node exits")
    };
    let status = tokio::time::timeout(RUN_TIMEOUT, run).await;
    let errors = stderr_task.await.unwrap_or_default();
    let status = status
        .unwrap_or_else(|_| panic!("the browser run took over {RUN_TIMEOUT:?}\n{transcript}\n{errors}"));
    assert!(
        status.success(),
        "the browser run failed ({status}); screenshots in {}\n--- transcript ---\n{transcript}--- stderr ---\n{errors}",
        artifacts.display()
    );
    assert_eq!(restarts, 1, "the run asked for one restart:\n{transcript}");
    for shot in [
        "lobby.png",
        "table-mid-hand.png",
        "spectator.png",
        "table-phone.png",
    ] {
        assert!(artifacts.join(shot).is_file(), "{shot} was saved");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
