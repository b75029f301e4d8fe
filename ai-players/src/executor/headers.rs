//! Reading a provider's rate-limit answer: `x-ratelimit-*` headers (OpenAI
//! writes durations like `1s`, `6m0s`, `12ms`, `1m30.5s`) and `Retry-After`.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// What the provider said about its budgets in one response.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RateLimitInfo {
    /// The request budget per window.
    pub limit_requests: Option<u64>,
    /// The token budget per window.
    pub limit_tokens: Option<u64>,
    /// Requests left in the current window.
    pub remaining_requests: Option<u64>,
    /// Tokens left in the current window.
    pub remaining_tokens: Option<u64>,
    /// Time until the request budget is back to full ("resets to its
    /// initial state", as OpenAI documents it).
    pub reset_requests: Option<Duration>,
    /// Time until the token budget is replenished.
    pub reset_tokens: Option<Duration>,
    /// `Retry-After`, if sent.
    pub retry_after: Option<Duration>,
}

impl RateLimitInfo {
    /// Reads the headers of a response.
    pub fn from_headers(headers: &HeaderMap) -> RateLimitInfo {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        RateLimitInfo {
            limit_requests: text("x-ratelimit-limit-requests").and_then(|v| v.parse().ok()),
            limit_tokens: text("x-ratelimit-limit-tokens").and_then(|v| v.parse().ok()),
            remaining_requests: text("x-ratelimit-remaining-requests").and_then(|v| v.parse().ok()),
            remaining_tokens: text("x-ratelimit-remaining-tokens").and_then(|v| v.parse().ok()),
            reset_requests: text("x-ratelimit-reset-requests").and_then(parse_duration),
            reset_tokens: text("x-ratelimit-reset-tokens").and_then(parse_duration),
            retry_after: text("retry-after").and_then(parse_retry_after),
        }
    }

    /// How long until one more request may be sent, when the provider says
    /// none are left: the time to a full budget spread over the budget.
    pub fn next_request_in(&self) -> Option<Duration> {
        if self.remaining_requests != Some(0) {
            return None;
        }
        let full = self.reset_requests.unwrap_or(Duration::from_secs(1));
        Some(match self.limit_requests {
            Some(limit) if limit > 0 => full / u32::try_from(limit).unwrap_or(u32::MAX),
            _ => full,
        })
    }

    /// Whether any rate-limit information was present.
    pub fn is_empty(&self) -> bool {
        *self == RateLimitInfo::default()
    }
}

/// Parses `Retry-After` given in seconds (integer or decimal). The HTTP-date
/// form is not used by LLM providers and is ignored.
pub fn parse_retry_after(text: &str) -> Option<Duration> {
    let secs: f64 = text.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

/// Parses a Go-style duration as OpenAI sends it: a sequence of number+unit
/// pairs with units `h`, `m`, `s`, `ms`, `us`/`µs`, `ns` (`6m0s`, `1.5s`,
/// `12ms`). A bare number is taken as seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0.0f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if number_len == 0 {
            return None;
        }
        let value: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_durations_parse() {
        assert_eq!(parse_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_duration("12ms"), Some(Duration::from_millis(12)));
        assert_eq!(parse_duration("1m30.5s"), Some(Duration::from_millis(90_500)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0.25"), Some(Duration::from_millis(250)));
        for bad in ["", "s", "1x", "-1s", "1s2", "abc"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-2"), None);
    }

    #[test]
    fn headers_are_read() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining-requests", "0".parse().unwrap());
        h.insert("x-ratelimit-reset-requests", "2s".parse().unwrap());
        h.insert("x-ratelimit-remaining-tokens", "1500".parse().unwrap());
        h.insert("retry-after", "2".parse().unwrap());
        h.insert("x-ratelimit-limit-requests", "60".parse().unwrap());
        let info = RateLimitInfo::from_headers(&h);
        assert_eq!(info.limit_requests, Some(60));
        // The budget is empty and refills fully in 2 s: one request in 2 s / 60.
        assert_eq!(info.next_request_in(), Some(Duration::from_nanos(33_333_333)));
        assert_eq!(info.remaining_requests, Some(0));
        assert_eq!(info.remaining_tokens, Some(1500));
        assert_eq!(info.reset_requests, Some(Duration::from_secs(2)));
        assert_eq!(info.retry_after, Some(Duration::from_secs(2)));
        assert!(RateLimitInfo::from_headers(&HeaderMap::new()).is_empty());
    }
}
