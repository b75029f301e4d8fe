//! The simulated provider, over real HTTP: legal answers, OpenAI-style
//! budgets and headers, Ollama's 503, every fault, keys and shutdown.

use std::time::{Duration, Instant};

use ai_players::mock::{
    Fault, FaultRates, Latency, Limits, MockConfig, MockLlm, MockServer, Mode, estimate_tokens,
};
use game_core::sim::SplitMix64;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

mod helpers {
    use super::*;

    /// A running mock with this config.
    pub async fn start(config: MockConfig) -> MockServer {
        MockLlm::start(config).await.expect("mock starts")
    }

    /// One turn's legal answers, as the LLM agent describes them.
    #[derive(Clone, Debug)]
    pub struct Turn {
        pub actions: Vec<&'static str>,
        pub bounds: Option<(i64, i64)>,
    }

    impl Turn {
        pub fn facing_bet() -> Turn {
            Turn {
                actions: vec!["fold", "call", "raise"],
                bounds: Some((200, 10_000)),
            }
        }

        /// A random but realistic turn.
        pub fn random(rng: &mut SplitMix64) -> Turn {
            let lo = 50 + rng.below(1000) as i64;
            let hi = lo + rng.below(3) as i64 * rng.below(20_000) as i64;
            let (actions, sized) = match rng.below(5) {
                0 => (vec!["check", "bet"], true),
                1 => (vec!["fold", "call", "raise"], true),
                2 => (vec!["fold", "call"], false),
                3 => (vec!["check"], false),
                _ => (vec!["check", "raise"], true),
            };
            Turn {
                actions,
                bounds: sized.then_some((lo, hi)),
            }
        }

        pub fn response_format(&self) -> Value {
            let mut amount = json!({"type": ["integer", "null"]});
            if let Some((lo, hi)) = self.bounds {
                amount["minimum"] = json!(lo);
                amount["maximum"] = json!(hi);
            }
            json!({"type": "json_schema", "json_schema": {"name": "decision", "strict": true, "schema": {
                "type": "object",
                "properties": {"action": {"type": "string", "enum": self.actions}, "amount": amount,
                               "reason": {"type": "string"}},
                "required": ["action", "amount", "reason"], "additionalProperties": false}}})
        }

        /// Whether `answer` is one of this turn's legal answers.
        pub fn allows(&self, answer: &Value) -> bool {
            let action = answer["action"].as_str().unwrap_or("");
            self.actions.contains(&action)
                && match (action, self.bounds) {
                    ("bet" | "raise", Some((lo, hi))) => {
                        answer["amount"].as_i64().is_some_and(|a| (lo..=hi).contains(&a))
                    }
                    _ => answer["amount"].is_null(),
                }
                && answer["reason"].is_string()
        }
    }

    pub const SYSTEM: &str = "You play No-Limit Hold'em. Answer with JSON only.";
    pub const USER: &str = "Seat 3, button. You hold As Kd. Pot 300, 200 to call.";

    /// The prompt tokens the mock reports for [`body`]'s messages.
    pub fn prompt_tokens() -> u64 {
        estimate_tokens(&format!("system{SYSTEM}user{USER}"))
    }

    /// A chat request body for `turn`.
    pub fn body(turn: &Turn, max_tokens: u64) -> Value {
        json!({
            "model": "mock-llm",
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
            "max_tokens": max_tokens,
            "temperature": 0.7,
            "response_format": turn.response_format(),
        })
    }

    /// Posts `body` to the mock's chat endpoint.
    pub async fn post(client: &Client, server: &MockServer, body: &Value) -> reqwest::Response {
        client
            .post(format!("{}/chat/completions", server.base_url()))
            .json(body)
            .send()
            .await
            .expect("the mock answers")
    }

    /// Status, headers and body (as text) of a response.
    pub async fn read(response: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.text().await.expect("body"))
    }

    /// The JSON of a body.
    pub fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("body is JSON")
    }

    /// `choices[0].message.content` of a completion.
    pub fn content(completion: &Value) -> &str {
        completion["choices"][0]["message"]["content"]
            .as_str()
            .expect("content is a string")
    }

    /// The first `{` to the last `}`: what a tolerant client extracts.
    pub fn embedded_json(text: &str) -> Option<Value> {
        let (start, end) = (text.find('{')?, text.rfind('}')?);
        serde_json::from_str(text.get(start..=end)?).ok()
    }

    /// A header as text.
    pub fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
        headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Parses OpenAI's duration format (`1s`, `6m0s`, `12ms`, `1m30.5s`).
    pub fn duration(text: &str) -> Duration {
        let mut total = 0.0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .expect("a unit");
            let value: f64 = rest[..digits].parse().expect("a number");
            rest = &rest[digits..];
            let unit = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            total += value
                * match &rest[..unit] {
                    "h" => 3600.0,
                    "m" => 60.0,
                    "s" => 1.0,
                    "ms" => 0.001,
                    other => panic!("unknown unit {other} in {text}"),
                };
            rest = &rest[unit..];
        }
        Duration::from_secs_f64(total)
    }

    /// Checks `usage` of a completion against the mock's estimate.
    pub fn check_usage(completion: &Value) {
        let usage = &completion["usage"];
        let (prompt, done, total) = (
            usage["prompt_tokens"].as_u64().expect("prompt_tokens"),
            usage["completion_tokens"].as_u64().expect("completion_tokens"),
            usage["total_tokens"].as_u64().expect("total_tokens"),
        );
        assert_eq!(prompt, prompt_tokens());
        assert_eq!(total, prompt + done);
        assert!(done > 0);
    }

    /// Polls until `check` holds (at most two seconds).
    pub async fn until(server: &MockServer, check: impl Fn(&ai_players::mock::MockStats) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !check(&server.stats()) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting: {:?}",
                server.stats()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

use helpers::*;

#[tokio::test]
async fn answers_are_legal_for_random_schemas_and_carry_usage() {
    let server = start(MockConfig::default()).await;
    let client = Client::new();
    let mut rng = SplitMix64::new(42);
    let mut actions_seen = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let turn = Turn::random(&mut rng);
        let (status, headers, text) = read(post(&client, &server, &body(&turn, 100)).await).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(
            header(&headers, "x-ratelimit-limit-requests").is_none(),
            "no limits, no headers"
        );
        let completion = json(&text);
        assert_eq!(completion["object"], "chat.completion");
        assert_eq!(completion["choices"][0]["finish_reason"], "stop");
        assert!(completion["choices"][0]["message"]["refusal"].is_null());
        let answer = json(content(&completion));
        assert!(turn.allows(&answer), "{turn:?} got {answer}");
        actions_seen.insert(answer["action"].as_str().unwrap_or("").to_owned());
        check_usage(&completion);
    }
    assert_eq!(
        actions_seen.len(),
        5,
        "every kind of action gets played: {actions_seen:?}"
    );
    let stats = server.stats();
    assert_eq!((stats.received, stats.ok, stats.in_flight), (300, 300, 0));
    assert_eq!(stats.prompt_tokens, 300 * prompt_tokens());
}

#[tokio::test]
async fn a_request_without_schema_still_gets_a_decision() {
    let server = start(MockConfig::default()).await;
    let body = json!({"model": "mock-llm", "messages": [{"role": "user", "content": "Your move?"}],
                      "response_format": {"type": "json_object"}});
    let (status, _, text) = read(post(&Client::new(), &server, &body).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(content(&json(&text)))["action"], "call");
}

#[tokio::test]
async fn the_request_budget_answers_429_and_refills_continuously() {
    let server = start(MockConfig {
        limits: Limits {
            rpm: Some(3),
            window_ms: 1000,
            ..Limits::default()
        },
        ..MockConfig::default()
    })
    .await;
    let client = Client::new();
    let turn = Turn::facing_bet();
    for left in ["2", "1", "0"] {
        let (status, headers, _) = read(post(&client, &server, &body(&turn, 50)).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "x-ratelimit-limit-requests"), Some("3"));
        assert_eq!(header(&headers, "x-ratelimit-remaining-requests"), Some(left));
        let reset = duration(header(&headers, "x-ratelimit-reset-requests").expect("reset"));
        assert!(
            reset > Duration::ZERO && reset <= Duration::from_secs(1),
            "{reset:?}"
        );
        assert!(
            header(&headers, "x-ratelimit-limit-tokens").is_none(),
            "no token limit"
        );
    }
    let (status, headers, text) = read(post(&client, &server, &body(&turn, 50)).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&headers, "retry-after"), Some("1"));
    assert_eq!(header(&headers, "x-ratelimit-remaining-requests"), Some("0"));
    assert!(header(&headers, "x-ratelimit-reset-requests").is_some());
    let error = &json(&text)["error"];
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("requests"), Some("rate_limit_exceeded"))
    );
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Rate limit reached for requests"))
    );

    // One request comes back every third of a second.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        post(&client, &server, &body(&turn, 50)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        post(&client, &server, &body(&turn, 50)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // A full window later the bucket is full: three again, not more.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(post(&client, &server, &body(&turn, 50)).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let stats = server.stats();
    assert_eq!((stats.ok, stats.rate_limited), (7, 3));
}

#[tokio::test]
async fn the_token_budget_charges_prompt_plus_max_tokens_and_429s_cost_nothing() {
    let server = start(MockConfig {
        limits: Limits {
            tpm: Some(1000),
            // Ten minutes: the budget refills by less than a token between requests.
            window_ms: 600_000,
            ..Limits::default()
        },
        ..MockConfig::default()
    })
    .await;
    let client = Client::new();
    let turn = Turn::facing_bet();
    let cost = prompt_tokens() + 400;
    for n in 1..=2 {
        let (status, headers, _) = read(post(&client, &server, &body(&turn, 400)).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "x-ratelimit-limit-tokens"), Some("1000"));
        let remaining = (1000 - n * cost).to_string();
        assert_eq!(
            header(&headers, "x-ratelimit-remaining-tokens"),
            Some(remaining.as_str())
        );
        assert!(
            header(&headers, "x-ratelimit-limit-requests").is_none(),
            "no request limit"
        );
    }
    for _ in 0..2 {
        let (status, headers, text) = read(post(&client, &server, &body(&turn, 400)).await).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(json(&text)["error"]["type"], "tokens");
        // The first 429 charged nothing: the second sees the same (refilling) budget.
        let remaining: u64 = header(&headers, "x-ratelimit-remaining-tokens")
            .and_then(|r| r.parse().ok())
            .expect("remaining");
        assert!(remaining < cost, "{remaining}");
        let retry: u64 = header(&headers, "retry-after")
            .and_then(|r| r.parse().ok())
            .expect("retry-after");
        assert!((1..=600).contains(&retry), "{retry}");
    }
    // A request larger than the whole budget can never fit: no Retry-After.
    let (status, headers, text) = read(post(&client, &server, &body(&turn, 5000)).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&headers, "retry-after").is_none());
    assert!(
        json(&text)["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Request too large"))
    );
    let stats = server.stats();
    assert_eq!(
        (stats.ok, stats.rate_limited, stats.tokens_charged),
        (2, 3, 2 * cost)
    );
}

#[tokio::test]
async fn retry_after_can_be_omitted_and_limits_change_at_runtime() {
    let server = start(MockConfig::default()).await;
    let client = Client::new();
    let turn = Turn::facing_bet();
    server
        .set_limits(Limits {
            rpm: Some(1),
            omit_retry_after: 1.0,
            ..Limits::default()
        })
        .expect("valid limits");
    assert_eq!(
        post(&client, &server, &body(&turn, 50)).await.status(),
        StatusCode::OK
    );
    let response = post(&client, &server, &body(&turn, 50)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_none());
    // The reset header says when the bucket is full again: about a minute.
    let reset = duration(header(response.headers(), "x-ratelimit-reset-requests").expect("reset"));
    assert!(
        reset > Duration::from_secs(59) && reset <= Duration::from_secs(60),
        "{reset:?}"
    );
    assert!(
        server
            .set_limits(Limits {
                rpm: Some(0),
                ..Limits::default()
            })
            .is_err()
    );
}

#[tokio::test]
async fn each_forced_fault_shows_as_promised() {
    let server = start(MockConfig {
        limits: Limits {
            rpm: Some(10_000),
            ..Limits::default()
        },
        ..MockConfig::default()
    })
    .await;
    let client = Client::new();
    let turn = Turn::facing_bet();

    server.force_next(Fault::Error500, 2).expect("queued");
    for _ in 0..2 {
        let (status, headers, text) = read(post(&client, &server, &body(&turn, 100)).await).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json(&text)["error"]["type"], "server_error");
        assert!(header(&headers, "x-ratelimit-remaining-requests").is_some());
    }

    server.force_next(Fault::Malformed, 8).expect("queued");
    let (mut bad_bodies, mut bad_contents) = (0, 0);
    for _ in 0..8 {
        let (status, _, text) = read(post(&client, &server, &body(&turn, 100)).await).await;
        assert_eq!(status, StatusCode::OK);
        match serde_json::from_str::<Value>(&text) {
            Err(_) => bad_bodies += 1,
            Ok(completion) => {
                assert!(embedded_json(content(&completion)).is_none(), "{completion}");
                check_usage(&completion);
                bad_contents += 1;
            }
        }
    }
    assert!(bad_bodies > 0 && bad_contents > 0, "{bad_bodies} {bad_contents}");

    server.force_next(Fault::Illegal, 20).expect("queued");
    for _ in 0..20 {
        let completion = json(&read(post(&client, &server, &body(&turn, 100)).await).await.2);
        let answer = json(content(&completion));
        assert!(!turn.allows(&answer), "{answer}");
    }

    server.force_next(Fault::Truncated, 1).expect("queued");
    let completion = json(&read(post(&client, &server, &body(&turn, 100)).await).await.2);
    assert_eq!(completion["choices"][0]["finish_reason"], "length");
    assert!(serde_json::from_str::<Value>(content(&completion)).is_err());
    assert_eq!(completion["usage"]["completion_tokens"], 100);

    server.force_next(Fault::Prose, 6).expect("queued");
    for _ in 0..6 {
        let completion = json(&read(post(&client, &server, &body(&turn, 100)).await).await.2);
        let text = content(&completion);
        assert!(
            serde_json::from_str::<Value>(text).is_err(),
            "not bare JSON: {text}"
        );
        assert!(embedded_json(text).is_some_and(|a| turn.allows(&a)), "{text}");
    }

    server.force_next(Fault::Refusal, 1).expect("queued");
    let completion = json(&read(post(&client, &server, &body(&turn, 100)).await).await.2);
    let message = &completion["choices"][0]["message"];
    assert!(
        message["content"].is_null() && message["refusal"].is_string(),
        "{message}"
    );

    server.force_next(Fault::RateLimited, 1).expect("queued");
    server.force_next(Fault::Overloaded, 1).expect("queued");
    let (status, headers, _) = read(post(&client, &server, &body(&turn, 100)).await).await;
    assert_eq!(
        (status, header(&headers, "retry-after")),
        (StatusCode::TOO_MANY_REQUESTS, Some("1"))
    );
    assert_eq!(
        post(&client, &server, &body(&turn, 100)).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    server.force_next(Fault::Hang, 1).expect("queued");
    let gave_up = client
        .post(format!("{}/chat/completions", server.base_url()))
        .json(&body(&turn, 100))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .expect_err("no answer");
    assert!(gave_up.is_timeout());

    // Forced faults are used up: back to legal answers.
    let completion = json(&read(post(&client, &server, &body(&turn, 100)).await).await.2);
    assert!(turn.allows(&json(content(&completion))));
    let stats = server.stats();
    for (fault, n) in [
        (Fault::Error500, 2),
        (Fault::Malformed, 8),
        (Fault::Illegal, 20),
        (Fault::Truncated, 1),
        (Fault::Prose, 6),
        (Fault::Refusal, 1),
        (Fault::RateLimited, 1),
        (Fault::Overloaded, 1),
        (Fault::Hang, 1),
    ] {
        assert_eq!(stats.fault(fault), n, "{fault:?}");
    }
    assert_eq!(
        (
            stats.server_errors,
            stats.rate_limited,
            stats.overloaded,
            stats.hangs
        ),
        (2, 1, 1, 1)
    );
    // The client that gave up took its hanging request with it.
    until(&server, |s| s.in_flight == 0).await;
}

#[tokio::test]
async fn fault_probabilities_apply_and_can_change_at_runtime() {
    let server = start(MockConfig {
        faults: FaultRates {
            error_500: 1.0,
            ..FaultRates::default()
        },
        ..MockConfig::default()
    })
    .await;
    let client = Client::new();
    let turn = Turn::facing_bet();
    assert_eq!(
        post(&client, &server, &body(&turn, 100)).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    server
        .set_faults(FaultRates {
            refusal: 0.5,
            ..FaultRates::default()
        })
        .expect("valid");
    let mut refusals = 0;
    for _ in 0..100 {
        let completion = json(&read(post(&client, &server, &body(&turn, 100)).await).await.2);
        refusals += usize::from(completion["choices"][0]["message"]["refusal"].is_string());
    }
    assert!((30..=70).contains(&refusals), "{refusals}");
}

#[tokio::test]
async fn ollama_mode_answers_503_past_max_in_flight_and_sends_no_rate_limit_headers() {
    let server = start(MockConfig {
        mode: Mode::Ollama,
        max_in_flight: Some(2),
        limits: Limits {
            rpm: Some(100),
            ..Limits::default()
        },
        ..MockConfig::default()
    })
    .await;
    let client = Client::new();
    let turn = Turn::facing_bet();
    let response = post(&client, &server, &body(&turn, 100)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !response
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("x-ratelimit"))
    );

    server.force_next(Fault::Hang, 2).expect("queued");
    let mut hanging = Vec::new();
    for _ in 0..2 {
        let (client, url, body) = (
            client.clone(),
            format!("{}/chat/completions", server.base_url()),
            body(&turn, 100),
        );
        hanging.push(tokio::spawn(
            async move { client.post(url).json(&body).send().await },
        ));
    }
    until(&server, |s| s.in_flight == 2).await;
    let started = Instant::now();
    let response = post(&client, &server, &body(&turn, 100)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_millis(500), "at once");
    assert!(
        !response
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("x-ratelimit"))
    );
    let stats = server.shutdown().await;
    for request in hanging {
        let answer = request.await.expect("joins");
        assert!(answer.is_err() || answer.is_ok_and(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE));
    }
    assert_eq!(
        (stats.ok, stats.overloaded, stats.shutdown_aborts, stats.in_flight),
        (1, 1, 2, 0)
    );
}

#[tokio::test]
async fn ollama_parallel_slots_queue_the_rest() {
    let server = start(MockConfig {
        mode: Mode::Ollama,
        parallel: Some(1),
        latency: Latency {
            median_ms: 150,
            p99_ms: 150,
        },
        ..MockConfig::default()
    })
    .await;
    let client = Client::new();
    let started = Instant::now();
    let mut requests = Vec::new();
    for _ in 0..3 {
        let (client, url, body) = (
            client.clone(),
            format!("{}/chat/completions", server.base_url()),
            body(&Turn::facing_bet(), 100),
        );
        requests.push(tokio::spawn(
            async move { client.post(url).json(&body).send().await },
        ));
    }
    for request in requests {
        assert_eq!(
            request.await.expect("joins").expect("answers").status(),
            StatusCode::OK
        );
    }
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "one at a time: {:?}",
        started.elapsed()
    );
    assert_eq!(server.stats().max_in_flight, 3);
}

#[tokio::test]
async fn latency_is_applied() {
    let server = start(MockConfig {
        latency: Latency {
            median_ms: 150,
            p99_ms: 0,
        },
        ..MockConfig::default()
    })
    .await;
    let started = Instant::now();
    assert_eq!(
        post(&Client::new(), &server, &body(&Turn::facing_bet(), 100))
            .await
            .status(),
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_wrong_or_missing_key_gets_401_without_echoing_it() {
    let server = start(MockConfig {
        api_key: Some("sk-right-key".into()),
        ..MockConfig::default()
    })
    .await;
    let client = Client::new();
    let url = format!("{}/chat/completions", server.base_url());
    let body = body(&Turn::facing_bet(), 100);
    let sent = "sk-wrong-secret-8d1f";
    for request in [client.post(&url).bearer_auth(sent), client.post(&url)] {
        let (status, _, text) = read(request.json(&body).send().await.expect("answers")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(!text.contains(sent) && !text.contains("sk-right-key"), "{text}");
        let error = &json(&text)["error"];
        assert_eq!(
            (error["type"].as_str(), error["code"].as_str()),
            (Some("invalid_request_error"), Some("invalid_api_key"))
        );
    }
    let models = client
        .get(format!("{}/models", server.base_url()))
        .send()
        .await
        .expect("answers");
    assert_eq!(models.status(), StatusCode::UNAUTHORIZED);
    let ok = client
        .post(&url)
        .bearer_auth("sk-right-key")
        .json(&body)
        .send()
        .await
        .expect("answers");
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(server.stats().unauthorized, 2);
}

#[tokio::test]
async fn shutdown_ends_hanging_requests() {
    let server = start(MockConfig {
        hang_ms: 60_000,
        ..MockConfig::default()
    })
    .await;
    server.force_next(Fault::Hang, 1).expect("queued");
    let (client, url, body) = (
        Client::new(),
        format!("{}/chat/completions", server.base_url()),
        body(&Turn::facing_bet(), 100),
    );
    let hanging = tokio::spawn(async move { client.post(url).json(&body).send().await });
    until(&server, |s| s.hangs == 1 && s.in_flight == 1).await;
    let started = Instant::now();
    let stats = server.shutdown().await;
    let answer = hanging.await.expect("joins");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(answer.is_err() || answer.is_ok_and(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!((stats.shutdown_aborts, stats.in_flight), (1, 0));
}

#[tokio::test]
async fn bad_requests_get_openai_style_errors() {
    let server = start(MockConfig {
        reject_unknown_models: true,
        ..MockConfig::default()
    })
    .await;
    let client = Client::new();
    let url = format!("{}/chat/completions", server.base_url());
    for raw in [
        "{not json",
        "[]",
        r#"{"model": "mock-llm"}"#,
        r#"{"model": "mock-llm", "messages": "hi"}"#,
    ] {
        let response = client.post(&url).body(raw).send().await.expect("answers");
        let (status, _, text) = read(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}");
        assert_eq!(json(&text)["error"]["type"], "invalid_request_error");
    }
    let mut unknown = body(&Turn::facing_bet(), 100);
    unknown["model"] = json!("gpt-imaginary");
    let (status, _, text) = read(post(&client, &server, &unknown).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json(&text)["error"]["code"], "model_not_found");
    assert_eq!(server.stats().bad_requests, 5);
}

#[tokio::test]
async fn models_health_and_stats_endpoints() {
    let server = start(MockConfig {
        models: vec!["small".into(), "large".into()],
        ..MockConfig::default()
    })
    .await;
    let client = Client::new();
    let models = json(
        &client
            .get(format!("{}/models", server.base_url()))
            .send()
            .await
            .expect("answers")
            .text()
            .await
            .expect("body"),
    );
    let ids: Vec<&str> = models["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["small", "large"]);
    let health = client
        .get(format!("http://{}/health", server.addr()))
        .send()
        .await
        .expect("answers");
    assert_eq!(health.status(), StatusCode::OK);
    let stats = client
        .get(format!("http://{}/mock/stats", server.addr()))
        .send()
        .await
        .expect("answers");
    assert_eq!(json(&stats.text().await.expect("body"))["received"], 0);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_answers() {
    async fn contents(seed: u64) -> Vec<String> {
        let server = start(MockConfig {
            seed,
            ..MockConfig::default()
        })
        .await;
        let client = Client::new();
        let mut out = Vec::new();
        for _ in 0..30 {
            let completion = json(
                &read(post(&client, &server, &body(&Turn::facing_bet(), 100)).await)
                    .await
                    .2,
            );
            out.push(content(&completion).to_owned());
        }
        out
    }
    assert_eq!(contents(7).await, contents(7).await);
    assert_ne!(contents(7).await, contents(8).await);
}
