//! Experiments from the CLI's point of view: determinism, duplicate deals,
//! resuming, budgets, and LLM seats against the simulated provider.

mod helpers;

use std::path::Path;
use std::sync::Arc;

use game_core::Event;
use serde_json::Value;
use server::experiment::runner::{SeatAgent, StopReason, TableRun, seatings};
use server::experiment::spec::ExperimentSpec;
use server::table::agents::Agents;
use tokio::sync::watch;

const SPEC: &str = r#"
    name = "tag vs the field"
    hands = 600
    small_blind = 5
    big_blind = 10
    starting_stack = 1000
    seed = 11
    tables = 3
    [[seats]]
    agent = "bot:tight-aggressive"
    [[seats]]
    agent = "bot:calling-station"
    [[seats]]
    agent = "bot:random"
"#;

async fn run(spec: Option<&str>, dir: &Path, stop_after: Option<u64>) -> (StopReason, Value) {
    let (stop_tx, stop) = watch::channel(false);
    server::experiment::run_in_dir(spec, dir, None, stop, move |p| {
        if stop_after.is_some_and(|n| p.hands_done >= n) {
            let _ = stop_tx.send(true);
        }
    })
    .await
    .expect("the run completes")
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect("results file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_spec_gives_the_same_hands_and_results() {
    let a = helpers::temp_dir("exp-a");
    let b = helpers::temp_dir("exp-b");
    let (ra, sa) = run(Some(SPEC), &a, None).await;
    let (rb, sb) = run(Some(SPEC), &b, None).await;
    assert_eq!((ra, rb), (StopReason::Done, StopReason::Done));
    assert_eq!(sa["hands_done"], 600);
    assert_eq!(sa["agents"], sb["agents"], "same per-agent results");
    assert!(
        read(&a, "hands.csv") == read(&b, "hands.csv"),
        "hands.csv differs"
    );
    assert!(
        read(&a, "hands.phhs") == read(&b, "hands.phhs"),
        "hands.phhs differs"
    );
    // Reset-stack hands depend only on the spec, the seed and the deal, not
    // on how many tables shared the work.
    let one = helpers::temp_dir("exp-one-table");
    let (_, s1) = run(Some(&SPEC.replace("tables = 3", "tables = 1")), &one, None).await;
    assert_eq!(sa["agents"], s1["agents"]);
    assert!(
        read(&a, "hands.phhs") == read(&one, "hands.phhs"),
        "hands.phhs differs"
    );
    // Chips are conserved: the agents' nets sum to zero.
    let total: i64 = sa["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|r| r["net_chips"].as_i64().expect("net"))
        .sum();
    assert_eq!(total, 0);
    // Every hand is in the CSV, one line per seat.
    assert_eq!(read(&a, "hands.csv").lines().count(), 1 + 600 * 3);
    // A different seed gives different hands.
    let c = helpers::temp_dir("exp-c");
    run(Some(&SPEC.replace("seed = 11", "seed = 12")), &c, None).await;
    assert!(
        read(&a, "hands.csv") != read(&c, "hands.csv"),
        "another seed, other hands"
    );
}

#[tokio::test]
async fn duplicate_mode_replays_each_deal_with_the_seats_rotated() {
    let spec =
        ExperimentSpec::parse(&SPEC.replace("tables = 3", "tables = 1\nduplicate = true")).expect("spec");
    let agents: Vec<SeatAgent> = spec
        .seats
        .iter()
        .map(|s| SeatAgent::build(&s.agent, &Agents::new(None), 0).expect("bot"))
        .collect();
    let mut table = TableRun {
        spec: Arc::new(spec.clone()),
        agents: Arc::new(agents),
        table: 0,
        stacks: vec![1000; 3],
        lane: ai_players::Lane::Bulk,
        experiment_id: "test".into(),
    };
    for deal in [0, 7, 42] {
        let mut cards = Vec::new();
        let mut seats_of = Vec::new();
        for rotation in 0..3 {
            let row = table.play(deal, rotation).await.expect("hand");
            let hole: Vec<(usize, String)> = row
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::HoleCardsDealt { seat, cards } => {
                        Some((*seat, format!("{}{}", cards[0], cards[1])))
                    }
                    _ => None,
                })
                .collect();
            cards.push(hole);
            seats_of.push(seatings(&table.spec)[row.seating].clone());
        }
        // The same cards at the same seats in every rotation...
        assert_eq!(cards[0], cards[1]);
        assert_eq!(cards[1], cards[2]);
        // ...while every agent sits in every seat once.
        for seat in 0..3 {
            let mut at_seat: Vec<&String> = seats_of.iter().map(|a| &a[seat]).collect();
            at_seat.sort();
            at_seat.dedup();
            assert_eq!(at_seat.len(), 3, "deal {deal} seat {seat}: {seats_of:?}");
        }
    }
    // The whole run reports the duplicate estimate.
    let dir = helpers::temp_dir("exp-dup");
    let (_, summary) = run(
        Some(&SPEC.replace("seed = 11", "seed = 11\nduplicate = true")),
        &dir,
        None,
    )
    .await;
    for agent in summary["agents"].as_array().expect("agents") {
        assert!(agent["duplicate"].is_object(), "{agent}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_equals_an_uninterrupted_one() {
    let spec = SPEC.replace("hands = 600", "hands = 6000");
    let whole = helpers::temp_dir("exp-whole");
    let (_, uninterrupted) = run(Some(&spec), &whole, None).await;
    let parts = helpers::temp_dir("exp-parts");
    let (reason, first) = run(Some(&spec), &parts, Some(1000)).await;
    assert_eq!(reason, StopReason::Stopped);
    let done = first["hands_done"].as_u64().expect("hands done");
    assert!((1000..6000).contains(&done), "{done}");
    // Something written after the checkpoint (a crash mid-batch) is cut off on resume.
    std::fs::OpenOptions::new()
        .append(true)
        .open(parts.join("hands.csv"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"999,garbage\n"))
        .expect("append");
    let (reason, resumed) = run(None, &parts, None).await;
    assert_eq!(reason, StopReason::Done);
    assert_eq!(resumed["hands_done"], 6000);
    assert_eq!(resumed["agents"], uninterrupted["agents"]);
    assert!(
        read(&parts, "hands.csv") == read(&whole, "hands.csv"),
        "hands.csv differs"
    );
    assert!(
        read(&parts, "hands.phhs") == read(&whole, "hands.phhs"),
        "hands.phhs differs"
    );
}

#[tokio::test]
async fn a_budget_stops_the_run_cleanly() {
    let dir = helpers::temp_dir("exp-budget");
    let spec = format!(
        "{}\n[budget]\nmax_wall_secs = 1\n",
        SPEC.replace("hands = 600", "hands = 100000000")
    );
    let (reason, summary) = run(Some(&spec), &dir, None).await;
    assert_eq!(reason, StopReason::Budget);
    assert_eq!(summary["status"], "budget_reached");
    let done = summary["hands_done"].as_u64().expect("hands");
    assert!(done > 0 && done < 100_000_000);
    assert_eq!(read(&dir, "hands.csv").lines().count() as u64, 1 + done * 3);
    // The summary on disk says the same.
    let on_disk: Value = serde_json::from_str(&read(&dir, "summary.json")).expect("summary");
    assert_eq!(on_disk["hands_done"], done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_seats_play_against_the_simulated_provider_and_are_accounted() {
    let mock = ai_players::mock::MockLlm::start(ai_players::mock::MockConfig::default())
        .await
        .expect("mock");
    let dir = helpers::temp_dir("exp-llm");
    let config = dir.join("llm.toml");
    std::fs::write(
        &config,
        format!(
            "[[provider]]\nname = \"mock\"\nbase_url = \"{}\"\n[[provider.model]]\nname = \"mock-llm\"\nrpm = 60000\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n",
            mock.base_url()
        ),
    )
    .expect("config");
    let spec = r#"
        hands = 20
        small_blind = 5
        big_blind = 10
        starting_stack = 1000
        tables = 2
        capture = true
        [[seats]]
        agent = "llm:mock/mock-llm?personality=tight"
        [[seats]]
        agent = "bot:calling-station"
    "#;
    let out = dir.join("out");
    let (stop_tx, stop) = watch::channel(false);
    let (reason, summary) = server::experiment::run_in_dir(Some(spec), &out, Some(&config), stop, |_| {})
        .await
        .expect("run");
    drop(stop_tx);
    assert_eq!(reason, StopReason::Done);
    let llm = &summary["llm"]["llm:mock/mock-llm?personality=tight"];
    assert!(llm["decisions"].as_u64().expect("decisions") > 0, "{summary}");
    assert_eq!(
        llm["decisions"], llm["model_decisions"],
        "no fallbacks against a healthy provider"
    );
    assert!(summary["cost_usd"].as_f64().expect("cost") > 0.0, "{summary}");
    let decisions = read(&out, "decisions.jsonl");
    assert_eq!(
        decisions.lines().count() as u64,
        llm["decisions"].as_u64().expect("n")
    );
    let calls = read(&out, "llm_calls.jsonl");
    let first: Value = serde_json::from_str(calls.lines().next().expect("a call")).expect("json");
    assert!(first["prompt"].is_string(), "captured prompt: {first}");
    assert_eq!(first["lane"], "bulk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_llm_seats_fall_back_stops_degraded_and_says_why() {
    // A server that takes no response_format, asked with json_schema only:
    // every call is refused, every decision is the fallback bot's.
    let mock = ai_players::mock::MockLlm::start(ai_players::mock::MockConfig {
        response_formats: ai_players::mock::FormatSupport::TextOnly,
        ..ai_players::mock::MockConfig::default()
    })
    .await
    .expect("mock");
    let dir = helpers::temp_dir("exp-degraded");
    let config = dir.join("llm.toml");
    std::fs::write(
        &config,
        format!(
            "[[provider]]\nname = \"mock\"\nbase_url = \"{}\"\n[[provider.model]]\nname = \"mock-llm\"\nstructured_output = \"json_schema\"\n",
            mock.base_url()
        ),
    )
    .expect("config");
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        r#"
        hands = 200
        small_blind = 5
        big_blind = 10
        starting_stack = 1000
        write_phh = false
        [[seats]]
        agent = "llm:mock/mock-llm"
        [[seats]]
        agent = "bot:calling-station"
    "#,
    )
    .expect("spec");
    let out = dir.join("out");
    let (stop_tx, stop) = watch::channel(false);
    let (reason, summary) = server::experiment::run_in_dir(
        Some(&std::fs::read_to_string(&spec).expect("spec")),
        &out,
        Some(&config),
        stop,
        |_| {},
    )
    .await
    .expect("run");
    drop(stop_tx);
    assert_eq!(reason, StopReason::Degraded, "{summary}");
    assert_eq!(summary["status"], "degraded");
    let llm = &summary["llm"]["llm:mock/mock-llm"];
    assert_eq!(llm["model_decisions"], 0, "{llm}");
    assert_eq!(llm["fallback_share"], 1.0, "{llm}");
    assert!(
        llm["fallbacks"]["rejected"].as_u64().is_some_and(|n| n >= 20),
        "{llm}"
    );
    assert!(
        summary["hands_done"].as_u64().expect("hands") < 200,
        "stopped early, not after every hand: {summary}"
    );
    let why = summary["degraded"].as_str().expect("a reason");
    assert!(
        why.contains("fallback bot") && why.contains("response_format"),
        "{why}"
    );
    let on_disk: Value = serde_json::from_str(&read(&out, "summary.json")).expect("summary");
    assert_eq!(on_disk["status"], "degraded");

    // The CLI exits non-zero and says why, once.
    let cli_out = dir.join("cli");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_showdown"))
        .args(["experiment", "run"])
        .arg(&spec)
        .arg("--out")
        .arg(&cli_out)
        .arg("--llm-config")
        .arg(&config)
        .output()
        .expect("showdown runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("degraded"), "{stderr}");
    assert_eq!(stderr.matches("the provider said").count(), 1, "{stderr}");
    assert!(stdout.contains("LLM agent"), "the LLM table is printed: {stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
