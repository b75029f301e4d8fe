//! The real `showdown` binary as a child process, for tests that kill it
//! (SIGKILL) and start it again on the same database; and a Postgres
//! database of its own for such a test. Declared by the tests that use it
//! with `#[path = "helpers/process.rs"] mod process;`.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the binary may take to open the store, restore tables and bind.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The admin key the process is started with.
pub const ADMIN_KEY: &str = "test-admin-key";

/// What the binary prints first on stdout once it listens.
const BANNER: &str = "Showdown is running: open http://";

/// A running `showdown serve`. Killed (SIGKILL) when dropped; its log is
/// printed when the test panics.
pub struct ServerProcess {
    child: Child,
    /// `http://ADDR`.
    pub http: String,
    /// `ws://ADDR/ws`.
    pub ws: String,
    /// stdout and stderr of the process.
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts the binary on `database_url`, appending its output to `log`,
    /// and waits for the line that says where it listens.
    pub async fn start(database_url: &str, log: &Path) -> ServerProcess {
        ServerProcess::start_on(database_url, log, "127.0.0.1:0", &[]).await
    }

    /// Like [`ServerProcess::start`], listening on `bind` (an address a
    /// killed process used, to start again where clients reconnect) with
    /// `extra` flags.
    pub async fn start_on(database_url: &str, log: &Path, bind: &str, extra: &[&str]) -> ServerProcess {
        let stderr = log_file(log);
        let mut child = Command::new(env!("CARGO_BIN_EXE_showdown"))
            .args(["serve", "--bind", bind, "--database-url", database_url])
            // A person's seat and an AI table both outlive the test.
            .args(["--disconnect-grace-secs", "600", "--idle-ttl-secs", "600"])
            .args(["--api-key", ADMIN_KEY])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("the showdown binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(START_TIMEOUT, lines.next_line())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "showdown printed nothing in {START_TIMEOUT:?}; see {}",
                    log.display()
                )
            })
            .expect("read stdout")
            .unwrap_or_else(|| panic!("showdown exited before listening; see {}", log.display()));
        let addr = first
            .strip_prefix(BANNER)
            .and_then(|rest| rest.strip_suffix('/'))
            .unwrap_or_else(|| panic!("the first stdout line is not the banner: {first:?}"))
            .to_owned();
        // Keep reading stdout so the process never blocks on a full pipe.
        let mut sink = log_file(log);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(sink, "stdout: {line}");
            }
        });
        ServerProcess {
            child,
            http: format!("http://{addr}"),
            ws: format!("ws://{addr}/ws"),
            log: log.to_owned(),
        }
    }

    /// The address it listens on (`127.0.0.1:PORT`): start the next process
    /// there to restart "the same node" (in a cluster, a node that comes back
    /// at its address replaces its old registration at once).
    pub fn bind(&self) -> String {
        self.http.trim_start_matches("http://").to_owned()
    }

    /// Kills the process with SIGKILL (no shutdown, no flush) and reaps it.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the killed process exits")
            .expect("wait");
        assert!(!status.success(), "killed, not exited: {status}");
    }
    /// Sends `signal` (`STOP`, `CONT`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running");
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "SIG{signal} sent");
    }

    /// Sends SIGTERM (graceful shutdown) and waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        assert!(sent.success(), "SIGTERM sent");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the process exits after SIGTERM")
            .expect("wait")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(80)..].join("\n");
            eprintln!("--- last lines of {} ---\n{tail}", self.log.display());
        }
    }
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the process log")
}

/// A name no other test (or test process) uses: lowercase, digits and `_`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The variable naming the Postgres server tests may use.
pub const PG_ENV: &str = "TEST_DATABASE_URL";

/// A fresh Postgres database on the `TEST_DATABASE_URL` server, dropped
/// (even if the test panics) when this guard is dropped.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl PgDatabase {
    /// Creates a database named after `prefix`, or returns `None` (saying
    /// so on stderr) when `TEST_DATABASE_URL` is not set.
    pub async fn create(test: &str, prefix: &str) -> Option<PgDatabase> {
        let admin_url = match std::env::var(PG_ENV) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                // Past libtest's capture, so a skip is visible in every run.
                let line = format!("{test}: skipped: {PG_ENV} not set\n");
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
                return None;
            }
        };
        let name = unique_name(prefix);
        let mut admin = connect(&admin_url).await;
        run(&mut admin, format!("CREATE DATABASE {name}")).await;
        let url = with_database(&admin_url, &name);
        Some(PgDatabase { admin_url, name, url })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A runtime of its own: drop may run inside (or after) the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut admin = connect(&admin_url).await;
                run(&mut admin, sql).await;
            });
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("could not drop the test database {}", self.name);
        }
    }
}

async fn connect(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection as _;
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {PG_ENV}: {e}"))
}

async fn run(connection: &mut sqlx::PgConnection, sql: String) {
    use sqlx::Executor as _;
    connection
        .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// `url` with its database name replaced by `name` (query kept).
fn with_database(url: &str, name: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((main, query)) => (main, Some(query)),
        None => (url, None),
    };
    let authority_start = main.find("://").map_or(0, |i| i + 3);
    let base = match main[authority_start..].find('/') {
        Some(slash) => &main[..authority_start + slash],
        None => main,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_name() {
        use super::with_database;
        assert_eq!(
            with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
