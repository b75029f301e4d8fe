//! Setup through the REST API: the tables (with their bot seats) and one
//! player per human seat, a few requests at a time, waiting out rate limits.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::time::Duration;

use crate::args::{Args, Pace};

/// Blinds of the created tables.
const SMALL_BLIND: u64 = 5;
pub(crate) const BIG_BLIND: u64 = 10;

/// REST requests in flight during setup.
const SETUP_CONCURRENCY: usize = 8;

/// Creates the tables and one player per seat; returns table ids and tokens
/// (table by table, seat by seat).
pub(crate) async fn setup(
    args: &Args,
    http: &reqwest::Client,
    base: &str,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let key = args.api_key.clone().filter(|k| !k.is_empty());
    let owner = match &key {
        Some(_) => None,
        None => Some(register(http, base, None, "loadgen owner").await?),
    };
    let seats = (args.players + args.bots).max(2);
    let ai_seats: Vec<Value> = (0..args.bots)
        .map(|b| json!({"seat": args.players + b, "agent": args.bot_agent}))
        .collect();
    let pace = match args.pace {
        Pace::Realtime => "realtime",
        Pace::Auto => "auto",
    };
    let body = json!({
        "seats": seats, "small_blind": SMALL_BLIND, "big_blind": BIG_BLIND, "pace": pace,
        "turn_clock_ms": args.turn_clock_ms, "ai_seats": ai_seats,
    });
    let tables = in_parallel(args.tables, |i| {
        let mut body = body.clone();
        body["name"] = format!("load {i}").into();
        let (http, base, key, owner) = (http.clone(), base.to_owned(), key.clone(), owner.clone());
        async move {
            let mut request = http.post(format!("{base}/api/tables")).json(&body);
            request = match (&key, &owner) {
                (Some(key), _) => request.header("x-api-key", key),
                (None, Some(token)) => request.bearer_auth(token),
                (None, None) => request,
            };
            let created = send_json(request).await?;
            created["id"].as_str().map(str::to_owned).context("table id")
        }
    })
    .await?;
    let tokens = in_parallel(args.tables * args.players, |i| {
        let (http, base, key) = (http.clone(), base.to_owned(), key.clone());
        async move { register(&http, &base, key.as_deref(), &format!("load {i}")).await }
    })
    .await?;
    Ok((tables, tokens))
}

async fn register(
    http: &reqwest::Client,
    base: &str,
    key: Option<&str>,
    name: &str,
) -> anyhow::Result<String> {
    let mut request = http
        .post(format!("{base}/api/players"))
        .json(&json!({"name": name}));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let player = send_json(request).await?;
    player["token"]
        .as_str()
        .map(str::to_owned)
        .context("player token")
}

/// Sends a request, waiting out 429s (without the admin key the per-IP
/// limit applies) up to 60 times.
async fn send_json(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    for _ in 0..60 {
        let attempt = request.try_clone().context("request body")?;
        let response = attempt.send().await.context("REST request")?;
        let status = response.status();
        if status.as_u16() == 429 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let body: Value = response.json().await.context("REST body")?;
        if !status.is_success() {
            bail!("REST {status}: {body}");
        }
        return Ok(body);
    }
    bail!("still rate limited after 60 s (pass --api-key)")
}

/// Runs `make(i)` for i in 0..n, [`SETUP_CONCURRENCY`] at a time, in order.
async fn in_parallel<F, Fut>(n: usize, make: F) -> anyhow::Result<Vec<String>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<String>> + Send + 'static,
{
    let mut out = vec![String::new(); n];
    let mut running = tokio::task::JoinSet::new();
    let mut next = 0;
    while next < n || !running.is_empty() {
        while next < n && running.len() < SETUP_CONCURRENCY {
            let fut = make(next);
            let i = next;
            running.spawn(async move { (i, fut.await) });
            next += 1;
        }
        if let Some(done) = running.join_next().await {
            let (i, result) = done.context("setup task")?;
            out[i] = result?;
        }
    }
    Ok(out)
}
