//! The LLM executor and the LLM agent over real HTTP against the simulated
//! provider: rate limits, faults, deadlines, the breaker, lanes, accounting.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ai_players::agent::{Agent, DecisionSource, FallbackReason, Lane};
use ai_players::bots;
use ai_players::executor::{CallError, ChatRequest};
use ai_players::llm::{LlmAgent, LlmOptions};
use ai_players::mock::{Fault, Latency, Limits, MockConfig, Mode};
use ai_players::usage::CallOutcome;
use common::{config, drain, executor, mock, turn};
use tokio::time::{Duration, Instant};

fn agent(exec: &ai_players::executor::Executor, capture: bool) -> LlmAgent {
    let mut options = LlmOptions::new("mock", "mock-llm");
    options.capture = capture;
    LlmAgent::new(
        exec.clone(),
        options,
        bots::bot("calling-station").expect("bot"),
        7,
    )
}

#[tokio::test]
async fn answers_are_legal_model_decisions_and_every_call_is_accounted() {
    let server = mock(MockConfig::default()).await;
    let (exec, mut rx) = executor(&config(
        &server.base_url(),
        "hosted",
        "input_usd_per_mtok = 1.0",
        "",
    ));
    let player = agent(&exec, true);
    for seed in 0..20 {
        let t = turn(seed, Lane::Live, Duration::from_secs(5));
        let d = player.decide(&t).await;
        assert!(t.view.legal.allows(d.action), "{d:?}");
        assert!(
            matches!(d.source, DecisionSource::Model { repaired: false, .. }),
            "{d:?}"
        );
        assert!(d.tokens.is_some_and(|t| t.prompt > 0 && t.completion > 0));
    }
    let records = drain(&mut rx);
    assert_eq!(records.len(), 20);
    for r in &records {
        assert_eq!(r.outcome, CallOutcome::Ok);
        assert_eq!(r.lane, Lane::Live);
        assert!(r.cost_usd > 0.0);
        assert_eq!(r.context.table_id.as_deref(), Some("t1"));
        let capture = r.capture.as_ref().expect("capture on");
        assert!(capture.prompt.contains("Legal actions now"));
        assert!(capture.reply.as_deref().is_some_and(|c| c.contains("action")));
    }
}

#[tokio::test]
async fn rate_limits_are_retried_after_retry_after_and_never_fail_a_turn() {
    // The provider allows 4 requests per second window; the executor was
    // told a much larger budget, so it learns from 429s and headers.
    let server = mock(MockConfig {
        limits: Limits {
            rpm: Some(4),
            window_ms: 1000,
            ..Limits::default()
        },
        ..MockConfig::default()
    })
    .await;
    let (exec, mut rx) = executor(&config(&server.base_url(), "hosted", "rpm = 10000", ""));
    let player = Arc::new(agent(&exec, false));
    let mut tasks = Vec::new();
    for seed in 0..16 {
        let player = Arc::clone(&player);
        tasks.push(tokio::spawn(async move {
            let t = turn(seed, Lane::Bulk, Duration::from_secs(20));
            player.decide(&t).await
        }));
    }
    for task in tasks {
        let d = task.await.unwrap();
        assert!(
            matches!(d.source, DecisionSource::Model { .. }),
            "a turn fell back: {d:?}"
        );
    }
    let stats = server.stats();
    assert!(stats.rate_limited > 0, "the provider did limit: {stats:?}");
    let records = drain(&mut rx);
    assert!(records.iter().all(|r| r.outcome == CallOutcome::Ok));
    assert!(records.iter().map(|r| r.rate_limited).sum::<u32>() > 0);
}

#[tokio::test]
async fn forced_429s_wait_for_retry_after() {
    let server = mock(MockConfig::default()).await;
    let (exec, _rx) = executor(&config(&server.base_url(), "hosted", "", ""));
    server.force_next(Fault::RateLimited, 2).unwrap();
    let started = Instant::now();
    let d = agent(&exec, false)
        .decide(&turn(1, Lane::Live, Duration::from_secs(10)))
        .await;
    assert!(matches!(d.source, DecisionSource::Model { .. }), "{d:?}");
    // Each forced 429 says Retry-After: 1 (at least a second).
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.stats().rate_limited, 2);
}

#[tokio::test]
async fn a_hanging_provider_ends_at_the_deadline_with_a_fallback() {
    let server = mock(MockConfig::default()).await;
    let (exec, mut rx) = executor(&config(&server.base_url(), "hosted", "", ""));
    server.force_next(Fault::Hang, 1).unwrap();
    // The model gets until 250 ms before the clock; then the fallback acts.
    let mut options = LlmOptions::new("mock", "mock-llm");
    options.fallback_margin = Duration::from_millis(250);
    let player = LlmAgent::new(exec.clone(), options, bots::bot("calling-station").unwrap(), 7);
    let started = Instant::now();
    let d = player
        .decide(&turn(2, Lane::Live, Duration::from_millis(1500)))
        .await;
    let took = started.elapsed();
    assert_eq!(
        d.source,
        DecisionSource::Fallback {
            bot: "calling-station".into(),
            reason: FallbackReason::Deadline
        }
    );
    assert!(
        took < Duration::from_millis(1500),
        "answered before the clock ran out: {took:?}"
    );
    assert!(
        took >= Duration::from_millis(1250),
        "waited for the model until the margin: {took:?}"
    );
    assert_eq!(drain(&mut rx)[0].outcome, CallOutcome::Deadline);
}

#[tokio::test]
async fn the_breaker_opens_on_failures_fails_fast_and_a_probe_closes_it() {
    let server = mock(MockConfig::default()).await;
    let (exec, _rx) = executor(&config(
        &server.base_url(),
        "hosted",
        "",
        "breaker_failures = 3\nbreaker_cooldown_ms = 300\nmax_retries = 0",
    ));
    server.force_next(Fault::Error500, 3).unwrap();
    let request = |deadline| ChatRequest {
        provider: "mock".into(),
        model: "mock-llm".into(),
        lane: Lane::Live,
        deadline,
        messages: serde_json::json!([{"role": "user", "content": "hi"}]),
        schema: None,
        temperature: 0.5,
        context: Default::default(),
        capture: false,
    };
    for _ in 0..3 {
        let r = exec
            .complete(request(Instant::now() + Duration::from_secs(2)))
            .await;
        assert!(matches!(r.reply, Err(CallError::Provider(_))), "{:?}", r.reply);
    }
    let before = server.stats().received;
    let r = exec
        .complete(request(Instant::now() + Duration::from_secs(2)))
        .await;
    assert_eq!(r.reply, Err(CallError::CircuitOpen("mock".into())));
    assert_eq!(server.stats().received, before, "an open breaker sends nothing");
    let d = agent(&exec, false)
        .decide(&turn(3, Lane::Live, Duration::from_secs(2)))
        .await;
    assert!(matches!(
        d.source,
        DecisionSource::Fallback {
            reason: FallbackReason::CircuitOpen,
            ..
        }
    ));

    tokio::time::sleep(Duration::from_millis(350)).await;
    let r = exec
        .complete(request(Instant::now() + Duration::from_secs(2)))
        .await;
    assert!(r.reply.is_ok(), "the probe goes through: {:?}", r.reply);
    let r = exec
        .complete(request(Instant::now() + Duration::from_secs(2)))
        .await;
    assert!(r.reply.is_ok(), "closed again");
}

#[tokio::test]
async fn a_live_call_behind_thousands_of_bulk_calls_is_served_next() {
    let server = mock(MockConfig {
        latency: Latency {
            median_ms: 20,
            p99_ms: 20,
        },
        ..MockConfig::default()
    })
    .await;
    let (exec, _rx) = executor(&config(
        &server.base_url(),
        "hosted",
        "max_in_flight = 4",
        "live_reserve = 0.25",
    ));
    let done_bulk = Arc::new(AtomicUsize::new(0));
    let mut bulk = Vec::new();
    for seed in 0..2000 {
        let exec = exec.clone();
        let done = Arc::clone(&done_bulk);
        bulk.push(tokio::spawn(async move {
            let player = agent(&exec, false);
            let d = player
                .decide(&turn(seed, Lane::Bulk, Duration::from_secs(600)))
                .await;
            done.fetch_add(1, Ordering::Relaxed);
            d
        }));
    }
    // Let the bulk calls queue up.
    while exec.queued("mock", "mock-llm").unwrap()[Lane::Bulk.index()] < 1900 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let d = agent(&exec, false)
        .decide(&turn(9, Lane::Live, Duration::from_secs(5)))
        .await;
    let waited = started.elapsed();
    assert!(matches!(d.source, DecisionSource::Model { .. }));
    // The bulk backlog alone would take over ten seconds to drain.
    assert!(waited < Duration::from_secs(1), "live waited {waited:?}");
    assert!(
        done_bulk.load(Ordering::Relaxed) < 100,
        "live was not served next"
    );
    for task in bulk {
        task.abort();
    }
}

#[tokio::test]
async fn bad_replies_get_one_repair_then_a_fallback_and_are_recorded() {
    let server = mock(MockConfig::default()).await;
    let (exec, mut rx) = executor(&config(&server.base_url(), "hosted", "", ""));
    let player = agent(&exec, true);
    for (fault, count, expect_model) in [
        (Fault::Illegal, 1, true),
        (Fault::Malformed, 1, true),
        (Fault::Truncated, 1, true),
        (Fault::Illegal, 2, false),
        (Fault::Malformed, 2, false),
    ] {
        server.force_next(fault, count).unwrap();
        let t = turn(4, Lane::Live, Duration::from_secs(5));
        let d = player.decide(&t).await;
        assert!(t.view.legal.allows(d.action));
        if expect_model {
            assert!(
                matches!(d.source, DecisionSource::Model { repaired: true, .. }),
                "{fault:?}: {d:?}"
            );
        } else {
            assert!(
                matches!(d.source, DecisionSource::Fallback { .. }),
                "{fault:?}: {d:?}"
            );
        }
        let records = drain(&mut rx);
        assert_eq!(
            records.len(),
            2,
            "{fault:?}: the first call and the repair are both accounted"
        );
        assert!(records.iter().all(|r| r.capture.is_some()));
    }
    server.force_next(Fault::Illegal, 2).unwrap();
    let d = player.decide(&turn(5, Lane::Live, Duration::from_secs(5))).await;
    assert_eq!(
        d.source,
        DecisionSource::Fallback {
            bot: "calling-station".into(),
            reason: FallbackReason::Illegal
        }
    );
    server.force_next(Fault::Refusal, 1).unwrap();
    let d = player.decide(&turn(6, Lane::Live, Duration::from_secs(5))).await;
    assert!(matches!(
        d.source,
        DecisionSource::Fallback {
            reason: FallbackReason::Refusal,
            ..
        }
    ));
    server.force_next(Fault::Prose, 1).unwrap();
    let d = player.decide(&turn(7, Lane::Live, Duration::from_secs(5))).await;
    assert!(
        matches!(d.source, DecisionSource::Model { repaired: false, .. }),
        "prose is tolerated"
    );
}

#[tokio::test]
async fn the_api_key_never_appears_in_errors_records_or_debug_output() {
    let secret = "sk-test-VERY-SECRET-1234567890";
    // SAFETY of the test: this variable name is used by no other test.
    unsafe { std::env::set_var("SHOWDOWN_TEST_KEY_A", secret) };
    let server = mock(MockConfig {
        api_key: Some("another-key".to_string().into()),
        ..MockConfig::default()
    })
    .await;
    let base = server.base_url();
    let config = ai_players::config::LlmConfig::from_toml(&format!(
        "[[provider]]\nname = \"mock\"\nbase_url = \"{base}\"\napi_key_env = \"SHOWDOWN_TEST_KEY_A\"\n\
         [[provider.model]]\nname = \"mock-llm\"\n"
    ))
    .unwrap();
    let (exec, mut rx) = executor(&config);
    let d = agent(&exec, true)
        .decide(&turn(8, Lane::Live, Duration::from_secs(5)))
        .await;
    assert!(matches!(
        d.source,
        DecisionSource::Fallback {
            reason: FallbackReason::Rejected,
            ..
        }
    ));
    let records = drain(&mut rx);
    let everything = format!(
        "{exec:?} {d:?} {records:?} {}",
        serde_json::to_string(&records).unwrap()
    );
    assert!(!everything.contains(secret), "the key leaked");
    assert!(!everything.contains("SECRET"), "part of the key leaked");
    assert_eq!(records[0].status, Some(401));
}

#[tokio::test]
async fn a_dropped_call_is_recorded_as_cancelled_and_frees_its_slot() {
    let server = mock(MockConfig::default()).await;
    let (exec, mut rx) = executor(&config(&server.base_url(), "hosted", "max_in_flight = 1", ""));
    server.force_next(Fault::Hang, 1).unwrap();
    let player = agent(&exec, false);
    let t = turn(10, Lane::Live, Duration::from_secs(30));
    let _ = tokio::time::timeout(Duration::from_millis(200), player.decide(&t)).await;
    let records = drain(&mut rx);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, CallOutcome::Cancelled);
    // The only slot is free again: the next call goes through.
    let d = player.decide(&turn(11, Lane::Live, Duration::from_secs(5))).await;
    assert!(matches!(d.source, DecisionSource::Model { .. }), "{d:?}");
}

#[tokio::test]
async fn a_local_server_that_answers_503_when_full_is_backpressure_not_failure() {
    let server = mock(MockConfig {
        mode: Mode::Ollama,
        max_in_flight: Some(2),
        latency: Latency {
            median_ms: 50,
            p99_ms: 50,
        },
        ..MockConfig::default()
    })
    .await;
    // The executor thinks it may send 8 at once; the server takes 2.
    let (exec, _rx) = executor(&config(&server.base_url(), "local", "max_in_flight = 8", ""));
    let mut tasks = Vec::new();
    for seed in 0..24 {
        let exec = exec.clone();
        tasks.push(tokio::spawn(async move {
            agent(&exec, false)
                .decide(&turn(seed, Lane::Watched, Duration::from_secs(20)))
                .await
        }));
    }
    for task in tasks {
        let d = task.await.unwrap();
        assert!(matches!(d.source, DecisionSource::Model { .. }), "{d:?}");
    }
    let stats = server.stats();
    assert!(stats.overloaded > 0, "the server did push back: {stats:?}");
}

#[tokio::test]
async fn identical_temperature_zero_calls_are_cached_and_share_one_flight() {
    let server = mock(MockConfig {
        latency: Latency {
            median_ms: 100,
            p99_ms: 100,
        },
        ..MockConfig::default()
    })
    .await;
    let (exec, mut rx) = executor(&config(&server.base_url(), "hosted", "", "cache_entries = 100"));
    let mut options = LlmOptions::new("mock", "mock-llm");
    options.temperature = 0.0;
    let player = Arc::new(LlmAgent::new(
        exec.clone(),
        options,
        bots::bot("calling-station").unwrap(),
        1,
    ));
    // Ten seats in the very same situation at once: one provider call.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let player = Arc::clone(&player);
        tasks.push(tokio::spawn(async move {
            player.decide(&turn(42, Lane::Live, Duration::from_secs(5))).await
        }));
    }
    let mut actions = Vec::new();
    for task in tasks {
        let d = task.await.unwrap();
        assert!(matches!(d.source, DecisionSource::Model { .. }));
        actions.push(d.action);
    }
    assert!(
        actions.windows(2).all(|w| w[0] == w[1]),
        "all got the same answer"
    );
    assert_eq!(server.stats().received, 1, "one flight for ten identical calls");
    // Later, the same situation comes from the cache.
    let d = player.decide(&turn(42, Lane::Live, Duration::from_secs(5))).await;
    assert_eq!(d.action, actions[0]);
    assert_eq!(server.stats().received, 1);
    let records = drain(&mut rx);
    assert_eq!(records.len(), 11);
    assert_eq!(records.iter().filter(|r| r.outcome == CallOutcome::Ok).count(), 1);
    assert_eq!(
        records
            .iter()
            .filter(|r| r.outcome == CallOutcome::Cached)
            .count(),
        10
    );
    assert!(
        records
            .iter()
            .filter(|r| r.outcome == CallOutcome::Cached)
            .all(|r| r.cost_usd == 0.0)
    );
}
