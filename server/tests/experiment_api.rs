//! Experiments run by the server: the REST API (admin key, pause, resume,
//! cancel), progress over the WebSocket, results stored through the
//! repository, LLM seats through the server's executor, and a run that
//! survives the server being killed.

mod helpers;
#[path = "helpers/process.rs"]
mod process;

use std::time::Duration;

use helpers::{TestServer, WsClient};
use schema::Repository;
use serde_json::{Value, json};
use tokio::sync::watch;

const KEY: &str = "test-admin-key";

/// Fast bots only, many hands: long enough to pause and kill mid-run.
fn bots_spec(hands: u64) -> Value {
    json!({
        "name": "bots",
        "seats": [{"agent": "bot:random"}, {"agent": "bot:calling-station"}, {"agent": "bot:random", "name": "random-2"}],
        "hands": hands,
        "small_blind": 1,
        "big_blind": 2,
        "starting_stack": 200,
        "seed": 99,
        "tables": 2,
        "write_phh": false,
    })
}

async fn post(client: &reqwest::Client, url: &str, key: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = client.post(url).body(body.to_owned());
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls an experiment until `pred` holds (60 s at most).
async fn wait_for(
    client: &reqwest::Client,
    http: &str,
    id: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (status, x) = get(client, &format!("{http}/api/experiments/{id}")).await;
        assert_eq!(status, 200, "{x}");
        if pred(&x) {
            return x;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {x}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The per-agent results of the same spec run by the CLI runner.
async fn cli_results(spec: &Value) -> Value {
    let dir = helpers::temp_dir("exp-api-cli").join("out");
    let (_stop_tx, stop) = watch::channel(false);
    let (_, summary) = server::experiment::run_in_dir(Some(&spec.to_string()), &dir, None, stop, |_| {})
        .await
        .expect("the CLI run completes");
    summary["agents"].clone()
}

#[tokio::test]
async fn changing_experiments_needs_the_admin_key_and_a_valid_spec() {
    let server = TestServer::start("exp-api-auth").await;
    let c = &server.client;
    let url = format!("{}/api/experiments", server.http);
    let spec = bots_spec(10).to_string();
    let (status, body) = post(c, &url, None, &spec).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    let (status, _) = post(c, &url, Some("wrong-key"), &spec).await;
    assert_eq!(status, 401);
    let (status, body) = post(c, &url, Some(KEY), "{\"seats\": [").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("malformed_json")),
        "{body}"
    );
    let (status, body) = post(c, &url, Some(KEY), "[1, 2]").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let mut unknown_field = bots_spec(10);
    unknown_field["handz"] = json!(5);
    let (status, body) = post(c, &url, Some(KEY), &unknown_field.to_string()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let mut zero = bots_spec(10);
    zero["hands"] = json!(0);
    let (status, body) = post(c, &url, Some(KEY), &zero.to_string()).await;
    assert_eq!(status, 400, "{body}");
    let mut unknown_bot = bots_spec(10);
    unknown_bot["seats"][0]["agent"] = json!("bot:nobody");
    let (status, body) = post(c, &url, Some(KEY), &unknown_bot.to_string()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("unknown_agent")),
        "{body}"
    );
    let mut llm_without_config = bots_spec(10);
    llm_without_config["seats"][0]["agent"] = json!("llm:mock/mock-llm");
    let (status, body) = post(c, &url, Some(KEY), &llm_without_config.to_string()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("unknown_agent")),
        "{body}"
    );
    // Nothing was created by the refused requests.
    let (_, list) = get(c, &url).await;
    assert_eq!(list["experiments"], json!([]));
    let (status, body) = get(c, &format!("{url}/x_nope")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("experiment_not_found")),
        "{body}"
    );
    for action in ["pause", "resume", "cancel"] {
        let (status, body) = post(c, &format!("{url}/x_nope/{action}"), Some(KEY), "").await;
        assert_eq!(status, 404, "{action}: {body}");
        let (status, _) = post(c, &format!("{url}/x_nope/{action}"), None, "").await;
        assert_eq!(status, 401, "{action} without the key");
    }
    for path in ["hands", "decisions", "curve"] {
        let (status, body) = get(c, &format!("{url}/x_nope/{path}")).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    server.server.shutdown().await.expect("shutdown");

    // Without an admin key configured, experiments cannot be started at all.
    let keyless = TestServer::start_with("exp-api-keyless", |c| c.api_key = None).await;
    let (status, body) = post(
        &keyless.client,
        &format!("{}/api/experiments", keyless.http),
        Some(KEY),
        &spec,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    keyless.server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_cancel_over_the_api_and_results_equal_an_uninterrupted_run() {
    let server = TestServer::start("exp-api-pause").await;
    let c = &server.client;
    let http = &server.http;
    let spec = bots_spec(20_000);
    let (status, created) = post(
        c,
        &format!("{http}/api/experiments"),
        Some(KEY),
        &spec.to_string(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "running");
    assert_eq!(created["hands_total"], 20_000);
    let id = created["id"].as_str().expect("id").to_owned();
    wait_for(c, http, &id, "first hands", |x| {
        x["hands_done"].as_u64() > Some(0)
    })
    .await;

    let (status, paused) = post(c, &format!("{http}/api/experiments/{id}/pause"), Some(KEY), "").await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["status"], "paused");
    let at_pause = paused["hands_done"].as_u64().expect("hands_done");
    assert!(at_pause < 20_000, "paused before the end: {paused}");
    // Paused means paused: no hands are played, and the store holds exactly
    // the hands the checkpoint counts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, later) = get(c, &format!("{http}/api/experiments/{id}")).await;
    assert_eq!(
        (later["status"].as_str(), later["hands_done"].as_u64()),
        (Some("paused"), Some(at_pause))
    );
    let stored = server
        .server
        .app()
        .repo
        .experiment_hands(&id, 0, u64::MAX)
        .await
        .expect("hands");
    assert_eq!(stored.len() as u64, at_pause);
    assert!(stored.iter().enumerate().all(|(i, h)| h.hand == i as u64));
    let (status, body) = post(c, &format!("{http}/api/experiments/{id}/pause"), Some(KEY), "").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("experiment_state")),
        "{body}"
    );

    let (status, resumed) = post(c, &format!("{http}/api/experiments/{id}/resume"), Some(KEY), "").await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["status"], "running");
    let done = wait_for(c, http, &id, "the end", |x| x["status"] == "done").await;
    assert_eq!(done["hands_done"], 20_000);
    // The interrupted run's results are those of an uninterrupted one.
    assert_eq!(done["results"]["agents"], cli_results(&spec).await);
    let hands: u64 = done["results"]["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| a["hands"].as_u64().expect("hands"))
        .sum();
    assert_eq!(hands, 3 * 20_000, "every seat-hand counted once");
    let (status, body) = post(c, &format!("{http}/api/experiments/{id}/resume"), Some(KEY), "").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("experiment_state")),
        "{body}"
    );

    // Hands and the winnings curve are readable.
    let (_, page) = get(
        c,
        &format!("{http}/api/experiments/{id}/hands?from=19998&limit=5"),
    )
    .await;
    let rows = page["hands"].as_array().expect("hands");
    assert_eq!(rows.len(), 2, "{page}");
    assert_eq!(page["next"], Value::Null);
    assert_eq!(rows[1]["hand"], 19_999);
    let net: i64 = rows[1]["nets"]
        .as_array()
        .expect("nets")
        .iter()
        .filter_map(Value::as_i64)
        .sum();
    assert_eq!(net, 0, "chips are conserved in a hand: {page}");
    let (_, curve) = get(c, &format!("{http}/api/experiments/{id}/curve")).await;
    let points = curve["points"].as_array().expect("points");
    let last = points.last().expect("a point");
    assert_eq!(last["hands"], 20_000);
    for (i, agent) in curve["agents"].as_array().expect("agents").iter().enumerate() {
        let result = done["results"]["agents"]
            .as_array()
            .expect("agents")
            .iter()
            .find(|a| a["agent"] == *agent)
            .expect("the agent's results");
        assert_eq!(
            last["net"][i], result["net_chips"],
            "the curve ends at the agent's net"
        );
    }

    // Cancel: a second run stops for good and keeps what it played.
    let (_, second) = post(
        c,
        &format!("{http}/api/experiments"),
        Some(KEY),
        &bots_spec(5_000_000).to_string(),
    )
    .await;
    let second = second["id"].as_str().expect("id").to_owned();
    wait_for(c, http, &second, "first hands", |x| {
        x["hands_done"].as_u64() > Some(0)
    })
    .await;
    let (status, cancelled) = post(
        c,
        &format!("{http}/api/experiments/{second}/cancel"),
        Some(KEY),
        "",
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let (_, details) = get(c, &format!("{http}/api/experiments/{second}")).await;
    assert!(
        details["results"]["agents"].is_array(),
        "partial results stay: {details}"
    );
    for action in ["pause", "resume", "cancel"] {
        let (status, _) = post(
            c,
            &format!("{http}/api/experiments/{second}/{action}"),
            Some(KEY),
            "",
        )
        .await;
        assert_eq!(status, 409, "{action} after cancel");
    }
    let (_, list) = get(c, &format!("{http}/api/experiments")).await;
    let statuses: Vec<&str> = list["experiments"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x["status"].as_str())
        .collect();
    assert_eq!(statuses, ["done", "cancelled"]);
    server.server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_pushed_to_websocket_watchers() {
    let server = TestServer::start("exp-api-ws").await;
    let mut ws = WsClient::connect(&server.ws).await;
    let ack = ws.request(json!({"type": "watch_experiments"})).await;
    assert_eq!(
        (ack["type"].as_str(), ack["count"].as_u64()),
        (Some("ack"), Some(0)),
        "{ack}"
    );
    let (status, created) = post(
        &server.client,
        &format!("{}/api/experiments", server.http),
        Some(KEY),
        &bots_spec(30_000).to_string(),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().expect("id").to_owned();
    let mut seen = Vec::new();
    let last = ws
        .until("the experiment's last progress", |m| {
            helpers::experiment_progress(m, &id, &mut seen)
        })
        .await;
    helpers::assert_progress(&last, &seen, 30_000);
    // Unwatching stops the messages.
    let ack = ws.request(json!({"type": "unwatch_experiments"})).await;
    assert_eq!(ack["of"], "unwatch_experiments");
    // Lines queued before the ack were read with it; only later ones count.
    ws.clear_backlog();
    post(
        &server.client,
        &format!("{}/api/experiments", server.http),
        Some(KEY),
        &bots_spec(2_000).to_string(),
    )
    .await;
    assert!(
        ws.try_recv(Duration::from_millis(500)).await.is_none(),
        "no progress after unwatch_experiments"
    );
    server.server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_seats_run_through_the_server_executor_and_are_stored() {
    let mock = ai_players::mock::MockLlm::start(ai_players::mock::MockConfig::default())
        .await
        .expect("mock");
    let dir = helpers::temp_dir("exp-api-llm-config");
    let config_path = dir.join("llm.toml");
    std::fs::write(
        &config_path,
        format!(
            "[[provider]]\nname = \"mock\"\nbase_url = \"{}\"\n[[provider.model]]\nname = \"mock-llm\"\nrpm = 60000\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n",
            mock.base_url()
        ),
    )
    .expect("config");
    let server = TestServer::start_with("exp-api-llm", |c| c.llm_config = Some(config_path)).await;
    let spec = json!({
        "seats": [{"agent": "llm:mock/mock-llm?personality=tight"}, {"agent": "bot:calling-station"}],
        "hands": 12, "small_blind": 5, "big_blind": 10, "starting_stack": 1000, "tables": 2,
        "capture": true,
    });
    let c = &server.client;
    let http = &server.http;
    let (status, created) = post(
        c,
        &format!("{http}/api/experiments"),
        Some(KEY),
        &spec.to_string(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let done = wait_for(c, http, &id, "the end", |x| x["status"] == "done").await;
    let llm = &done["results"]["llm"]["llm:mock/mock-llm?personality=tight"];
    let decisions = llm["decisions"].as_u64().expect("decisions");
    assert!(decisions > 0, "{done}");
    assert_eq!(llm["decisions"], llm["model_decisions"], "no fallbacks: {done}");
    assert!(done["cost_usd"].as_f64().expect("cost") > 0.0, "{done}");
    assert!(done["tokens"].as_u64().expect("tokens") > 0, "{done}");
    // Captured exchanges reach the store through the usage drain, just after the run.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let stored = loop {
        let (_, stored) = get(c, &format!("{http}/api/experiments/{id}/decisions?limit=1000")).await;
        let calls = stored["decisions"].as_array().map_or(0, |r| {
            r.iter().filter(|d| d["source"] == "llm_call").count() as u64
        });
        if calls >= decisions || tokio::time::Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rows = stored["decisions"].as_array().expect("decisions");
    let made: Vec<&Value> = rows.iter().filter(|d| d["source"] == "model").collect();
    assert_eq!(made.len() as u64, decisions, "every decision is stored: {stored}");
    assert!(made.iter().all(|d| d["action"].is_object()), "{stored}");
    let calls: Vec<&Value> = rows.iter().filter(|d| d["source"] == "llm_call").collect();
    assert!(
        calls.len() as u64 >= decisions,
        "every call's exchange is captured: {stored}"
    );
    // Prompts and replies are private: only the admin key reads them.
    assert!(calls.iter().all(|d| d["prompt"].is_null()), "{stored}");
    let admin: Value = c
        .get(format!("{http}/api/experiments/{id}/decisions?limit=1000"))
        .header("x-api-key", KEY)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let captured = admin["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["source"] == "llm_call")
        .expect("a captured call");
    assert!(
        captured["prompt"].as_str().is_some_and(|p| p.contains("legal")),
        "{captured}"
    );
    assert!(captured["raw_reply"].is_string(), "{captured}");
    assert!(
        stored["usage"]["calls"].as_u64().expect("calls") >= decisions,
        "{stored}"
    );
    // Booked to the bulk lane, never the live one. And the run's totals count
    // every call in the usage log (the last calls' records are waited for
    // before the final checkpoint); the log is stored just after the count,
    // so it is read until it holds at least the run's tokens.
    let reported_tokens = done["tokens"].as_u64().expect("tokens");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let usage = loop {
        let usage = server
            .server
            .app()
            .repo
            .list_usage(&schema::RecordQuery {
                experiment_id: Some(id.clone()),
                ..Default::default()
            })
            .await
            .expect("usage");
        let tokens: u64 = usage.iter().map(|u| u.prompt_tokens + u.completion_tokens).sum();
        if tokens >= reported_tokens || tokio::time::Instant::now() > deadline {
            break usage;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        !usage.is_empty() && usage.iter().all(|u| u.lane == "bulk"),
        "{usage:?}"
    );
    let tokens: u64 = usage.iter().map(|u| u.prompt_tokens + u.completion_tokens).sum();
    let cost: f64 = usage.iter().map(|u| u.cost_usd).sum();
    assert_eq!(reported_tokens, tokens, "{done}");
    let reported = done["cost_usd"].as_f64().expect("cost");
    assert!(
        (reported - cost).abs() <= 1e-9 * cost.max(1.0),
        "{reported} against {cost}"
    );
    server.server.shutdown().await.expect("shutdown");
}

/// Kills the server mid-run (SIGKILL), starts it again on the same store,
/// and checks the run resumes and ends with the results of an uninterrupted one.
async fn survives_a_kill(database_url: &str, name: &str) {
    let log = helpers::temp_dir(name).join("server.log");
    let client = reqwest::Client::new();
    let spec = bots_spec(60_000);
    let first = process::ServerProcess::start(database_url, &log).await;
    let (status, created) = post(
        &client,
        &format!("{}/api/experiments", first.http),
        Some(process::ADMIN_KEY),
        &spec.to_string(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let before = wait_for(&client, &first.http, &id, "a checkpoint", |x| {
        x["hands_saved"].as_u64() >= Some(1_000)
    })
    .await;
    assert_eq!(before["status"], "running");
    let bind = first.bind();
    first.kill().await;

    let second = process::ServerProcess::start_on(database_url, &log, &bind, &[]).await;
    let (_, after_restart) = get(&client, &format!("{}/api/experiments/{id}", second.http)).await;
    assert!(
        matches!(after_restart["status"].as_str(), Some("running" | "done")),
        "resumed on start: {after_restart}"
    );
    // Hands played after the last checkpoint are played again; those saved are kept.
    assert!(
        after_restart["hands_saved"].as_u64() >= before["hands_saved"].as_u64(),
        "{after_restart}"
    );
    let done = wait_for(&client, &second.http, &id, "the end", |x| x["status"] == "done").await;
    assert_eq!(done["hands_done"], 60_000);
    assert_eq!(
        done["results"]["agents"],
        cli_results(&spec).await,
        "resumed == uninterrupted"
    );
    let repo = schema::AnyRepo::open(database_url).await.expect("open the store");
    let stored = repo.experiment_hands(&id, 0, u64::MAX).await.expect("hands");
    assert_eq!(stored.len(), 60_000);
    assert!(
        stored.iter().enumerate().all(|(i, h)| h.hand == i as u64),
        "no gap, no repeat"
    );
    second.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_resumes_its_experiment_sqlite() {
    let dir = helpers::temp_dir("exp-api-kill");
    let url = format!("sqlite://{}", dir.join("showdown.db").display());
    survives_a_kill(&url, "exp-api-kill-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_resumes_its_experiment_postgres() {
    let Some(db) =
        process::PgDatabase::create("a_killed_server_resumes_its_experiment_postgres", "exp_kill").await
    else {
        return;
    };
    survives_a_kill(&db.url, "exp-api-kill-pg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_ends_a_server_run_with_its_results() {
    let server = TestServer::start("exp-api-budget").await;
    let mut spec = bots_spec(50_000_000);
    spec["budget"] = json!({"max_wall_secs": 1});
    let (status, created) = post(
        &server.client,
        &format!("{}/api/experiments", server.http),
        Some(KEY),
        &spec.to_string(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let done = wait_for(&server.client, &server.http, &id, "the budget", |x| {
        x["status"] != "running"
    })
    .await;
    assert_eq!(done["status"], "budget_reached", "{done}");
    let played = done["hands_done"].as_u64().expect("hands_done");
    assert!(played > 0 && played < 50_000_000, "{done}");
    assert_eq!(done["hands_saved"], played, "every hand played is saved");
    assert_eq!(done["results"]["status"], "budget_reached");
    let (status, body) = post(
        &server.client,
        &format!("{}/api/experiments/{id}/resume", server.http),
        Some(KEY),
        "",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("experiment_state")),
        "{body}"
    );
    server.server.shutdown().await.expect("shutdown");
}
