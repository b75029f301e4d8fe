//! How a model is asked for its answer's shape, against the simulated
//! provider set to behave like real servers: one that refuses `json_schema`
//! with a 500 (llama-cpp-python's server), one that takes no
//! `response_format` at all. Also the context window, the daily budget and
//! the model fallback chain.

mod common;

use ai_players::agent::{Agent, DecisionSource, FallbackReason, Lane};
use ai_players::bots;
use ai_players::config::{LlmConfig, StructuredOutput};
use ai_players::executor::Executor;
use ai_players::llm::{LlmAgent, LlmOptions};
use ai_players::mock::{FormatSupport, MockConfig};
use ai_players::usage::CallOutcome;
use common::{config, drain, executor, mock, turn};
use tokio::time::Duration;

fn agent(exec: &Executor, provider: &str, model: &str) -> LlmAgent {
    LlmAgent::new(
        exec.clone(),
        LlmOptions::new(provider, model),
        bots::bot("calling-station").expect("bot"),
        7,
    )
}

#[tokio::test]
async fn auto_steps_down_once_when_json_schema_is_refused_and_the_turn_is_still_answered() {
    let server = mock(MockConfig {
        response_formats: FormatSupport::NoJsonSchema,
        ..MockConfig::default()
    })
    .await;
    let (exec, mut rx) = executor(&config(&server.base_url(), "local", "", ""));
    assert_eq!(
        exec.structured_output("mock", "mock-llm"),
        Some(StructuredOutput::JsonSchema)
    );
    let player = agent(&exec, "mock", "mock-llm");
    for seed in 0..10 {
        let t = turn(seed, Lane::Live, Duration::from_secs(5));
        let d = player.decide(&t).await;
        assert!(t.view.legal.allows(d.action), "{d:?}");
        assert!(
            matches!(d.source, DecisionSource::Model { .. }),
            "the model decided (the first turn too, within its deadline): {d:?}"
        );
    }
    assert_eq!(
        exec.structured_output("mock", "mock-llm"),
        Some(StructuredOutput::JsonObject)
    );
    assert_eq!(
        exec.format_downgrades("mock", "mock-llm"),
        1,
        "once, not per call"
    );
    // One refused request in all: the rest went out as json_object.
    assert_eq!(server.stats().server_errors, 1);
    let records = drain(&mut rx);
    assert_eq!(records.len(), 10);
    assert!(records.iter().all(|r| r.outcome == CallOutcome::Ok));
}

#[tokio::test]
async fn a_server_without_response_format_gets_the_schema_in_the_prompt() {
    let server = mock(MockConfig {
        response_formats: FormatSupport::TextOnly,
        ..MockConfig::default()
    })
    .await;
    let (exec, _rx) = executor(&config(&server.base_url(), "local", "", ""));
    let player = agent(&exec, "mock", "mock-llm");
    for seed in 0..10 {
        let t = turn(seed, Lane::Live, Duration::from_secs(5));
        let d = player.decide(&t).await;
        assert!(t.view.legal.allows(d.action), "{d:?}");
        assert!(matches!(d.source, DecisionSource::Model { .. }), "{d:?}");
    }
    // json_schema refused (400), then json_object refused (400), then none.
    assert_eq!(
        exec.structured_output("mock", "mock-llm"),
        Some(StructuredOutput::None)
    );
    assert_eq!(exec.format_downgrades("mock", "mock-llm"), 2);
    assert_eq!(server.stats().bad_requests, 2);
}

#[tokio::test]
async fn a_fixed_mode_is_never_changed_and_its_refusal_is_reported() {
    let server = mock(MockConfig {
        response_formats: FormatSupport::NoJsonSchema,
        ..MockConfig::default()
    })
    .await;
    let (exec, _rx) = executor(&config(
        &server.base_url(),
        "local",
        "structured_output = \"json_schema\"",
        "",
    ));
    let d = agent(&exec, "mock", "mock-llm")
        .decide(&turn(1, Lane::Live, Duration::from_secs(5)))
        .await;
    assert!(
        matches!(
            d.source,
            DecisionSource::Fallback {
                reason: FallbackReason::Rejected,
                ..
            }
        ),
        "a refused format is not retried as if the provider were down: {d:?}"
    );
    assert_eq!(
        exec.structured_output("mock", "mock-llm"),
        Some(StructuredOutput::JsonSchema)
    );
    let error = exec.last_error("mock", "mock-llm").expect("an error is kept");
    assert!(error.contains("response_format"), "{error}");

    // Fixed json_object works against the same server from the start.
    let (exec, _rx) = executor(&config(
        &server.base_url(),
        "local",
        "structured_output = \"json_object\"",
        "",
    ));
    let d = agent(&exec, "mock", "mock-llm")
        .decide(&turn(2, Lane::Live, Duration::from_secs(5)))
        .await;
    assert!(matches!(d.source, DecisionSource::Model { .. }), "{d:?}");
}

#[tokio::test]
async fn prompts_are_shortened_to_the_context_window_or_refused_before_sending() {
    let server = mock(MockConfig::default()).await;
    // Room for the prompt and max_tokens (the estimate is cautious: 3 characters a token).
    let (exec, _rx) = executor(&config(
        &server.base_url(),
        "hosted",
        "max_tokens = 100\ncontext_tokens = 520",
        "",
    ));
    let t = turn(3, Lane::Live, Duration::from_secs(5));
    let d = agent(&exec, "mock", "mock-llm").decide(&t).await;
    assert!(matches!(d.source, DecisionSource::Model { .. }), "{d:?}");
    // No room at all: nothing is sent and the reason says why.
    let (exec, mut rx) = executor(&config(
        &server.base_url(),
        "hosted",
        "max_tokens = 100\ncontext_tokens = 120",
        "",
    ));
    let before = server.stats().received;
    let d = agent(&exec, "mock", "mock-llm").decide(&t).await;
    assert!(
        matches!(
            d.source,
            DecisionSource::Fallback {
                reason: FallbackReason::PromptTooLong,
                ..
            }
        ),
        "{d:?}"
    );
    assert_eq!(server.stats().received, before, "nothing was sent");
    assert!(drain(&mut rx).is_empty());
}

#[tokio::test]
async fn the_daily_budget_stops_calls_with_a_clear_reason() {
    let server = mock(MockConfig::default()).await;
    let (exec, _rx) = executor(&config(
        &server.base_url(),
        "hosted",
        "input_usd_per_mtok = 1000.0\noutput_usd_per_mtok = 1000.0",
        "daily_budget_usd = 0.5",
    ));
    let player = agent(&exec, "mock", "mock-llm");
    let mut budget = 0;
    for seed in 0..20 {
        let d = player
            .decide(&turn(seed, Lane::Live, Duration::from_secs(5)))
            .await;
        if let DecisionSource::Fallback { reason, .. } = d.source {
            assert_eq!(reason, FallbackReason::Budget, "{d:?}");
            budget += 1;
        }
    }
    assert!(exec.spent_today() >= 0.5, "{}", exec.spent_today());
    assert!(budget > 0, "the budget stopped calls");
    let error = exec.last_error("mock", "mock-llm").expect("said why");
    assert!(error.contains("daily LLM budget"), "{error}");
}

#[tokio::test]
async fn a_fallback_model_answers_before_a_bot_and_the_step_is_recorded() {
    let broken = mock(MockConfig {
        response_formats: FormatSupport::TextOnly,
        ..MockConfig::default()
    })
    .await;
    let working = mock(MockConfig::default()).await;
    let config = LlmConfig::from_toml(&format!(
        "[executor]\nbackoff_base_ms = 20\nbackoff_max_ms = 200\n\
         [[provider]]\nname = \"cloud\"\nbase_url = \"{}\"\n\
         [[provider.model]]\nname = \"mock-llm\"\nstructured_output = \"json_schema\"\n\
         fallback_models = [\"local/mock-llm\"]\n\
         [[provider]]\nname = \"local\"\nbase_url = \"{}\"\nkind = \"local\"\n\
         [[provider.model]]\nname = \"mock-llm\"\n",
        broken.base_url(),
        working.base_url()
    ))
    .expect("valid");
    let (exec, _rx) = executor(&config);
    let d = agent(&exec, "cloud", "mock-llm")
        .decide(&turn(4, Lane::Live, Duration::from_secs(5)))
        .await;
    match &d.source {
        DecisionSource::Model { provider, .. } => assert_eq!(provider, "local"),
        other => panic!("the fallback model decided, not {other:?}"),
    }
    assert_eq!(d.steps.len(), 1);
    assert_eq!(d.steps[0].model, "cloud/mock-llm");
    assert_eq!(d.steps[0].reason, FallbackReason::Rejected);
}
