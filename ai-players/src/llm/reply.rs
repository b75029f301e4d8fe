//! Reading a model's answer: tolerant of prose and code fences around the
//! JSON, strict about legality.

use game_core::{Action, LegalActions};
use serde_json::Value;

/// A usable answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedReply {
    /// The legal action it names.
    pub action: Action,
    /// The model's short reason.
    pub reason: Option<String>,
    /// Something to say at the table.
    pub table_talk: Option<String>,
}

/// Why an answer is not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyProblem {
    /// No JSON object could be found or parsed.
    #[error("the reply is not a JSON object: {0}")]
    Unparsable(String),
    /// The JSON names an action that is not legal now.
    #[error("the action is not legal now: {0}")]
    Illegal(String),
}

/// Finds the JSON object in `text` (bare, in a code fence, or inside prose)
/// and checks it against `legal`.
pub fn parse_reply(text: &str, legal: &LegalActions) -> Result<ParsedReply, ReplyProblem> {
    let value = extract_json(text).ok_or_else(|| ReplyProblem::Unparsable(snippet(text)))?;
    let obj = value
        .as_object()
        .ok_or_else(|| ReplyProblem::Unparsable("expected an object".into()))?;
    let name = obj
        .get("action")
        .and_then(Value::as_str)
        .ok_or_else(|| ReplyProblem::Unparsable("no \"action\" string".into()))?
        .trim()
        .to_ascii_lowercase()
        .replace(['-', '_', ' '], "");
    let amount = match obj.get("amount") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64))
        {
            Some(a) => Some(a),
            None => return Err(ReplyProblem::Illegal(format!("amount {n} is not a chip count"))),
        },
        Some(Value::String(s)) => match s.trim().replace(',', "").parse::<u64>() {
            Ok(a) => Some(a),
            Err(_) => return Err(ReplyProblem::Illegal(format!("amount {s:?} is not a chip count"))),
        },
        Some(other) => {
            return Err(ReplyProblem::Illegal(format!(
                "amount {other} is not a chip count"
            )));
        }
    };
    let action = to_action(&name, amount, legal)?;
    let text_field = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .map(|s| s.trim().chars().take(280).collect::<String>())
            .filter(|s| !s.is_empty())
    };
    Ok(ParsedReply {
        action,
        reason: text_field("reason"),
        table_talk: text_field("table_talk").or_else(|| text_field("say")),
    })
}

fn to_action(name: &str, amount: Option<u64>, legal: &LegalActions) -> Result<Action, ReplyProblem> {
    let sized = legal.bet.or(legal.raise);
    let action = match name {
        "fold" if legal.fold => Action::Fold,
        // Folding when a check is free is what nobody means: check.
        "fold" if legal.check => Action::Check,
        "check" if legal.check => Action::Check,
        "call" if legal.call.is_some() => Action::Call,
        // "Call" with nothing to call means check.
        "call" if legal.check => Action::Check,
        "bet" | "raise" => {
            let range = sized.ok_or_else(|| ReplyProblem::Illegal(format!("{name} is not possible now")))?;
            let to = amount.ok_or_else(|| ReplyProblem::Illegal(format!("{name} needs an amount")))?;
            if !(range.min..=range.max).contains(&to) {
                return Err(ReplyProblem::Illegal(format!(
                    "{name} to {to} is outside {}..={}",
                    range.min, range.max
                )));
            }
            sized_action(legal, to)
        }
        "allin" | "shove" | "jam" => match sized {
            Some(range) => sized_action(legal, range.max),
            None if legal.call.is_some() => Action::Call,
            None => return Err(ReplyProblem::Illegal("all-in is not possible now".into())),
        },
        other => {
            return Err(ReplyProblem::Illegal(format!(
                "{other:?} is not a legal action now"
            )));
        }
    };
    debug_assert!(legal.allows(action));
    Ok(action)
}

fn sized_action(legal: &LegalActions, to: u64) -> Action {
    if legal.bet.is_some() {
        Action::Bet { to }
    } else {
        Action::Raise { to }
    }
}

/// The first JSON object in the text: the whole text, a fenced block, or
/// the span from the first `{` to its matching `}`.
fn extract_json(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(trimmed)
        && v.is_object()
    {
        return Some(v);
    }
    if let Some(start) = trimmed.find("```") {
        let after = &trimmed[start + 3..];
        let body_start = after.find('\n').map_or(0, |i| i + 1);
        if let Some(end) = after[body_start..].find("```")
            && let Ok(v) = serde_json::from_str::<Value>(after[body_start..body_start + end].trim())
            && v.is_object()
        {
            return Some(v);
        }
    }
    let bytes = trimmed.as_bytes();
    let mut search = 0;
    while let Some(offset) = trimmed[search..].find('{') {
        let start = search + offset;
        let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
        for (i, &b) in bytes.iter().enumerate().skip(start) {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        if let Ok(v) = serde_json::from_str::<Value>(&trimmed[start..=i])
                            && v.is_object()
                        {
                            return Some(v);
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
        search = start + 1;
    }
    None
}

fn snippet(text: &str) -> String {
    let s: String = text.chars().take(80).collect();
    if s.is_empty() { "(empty)".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use game_core::AmountRange;

    fn facing_bet() -> LegalActions {
        LegalActions {
            fold: true,
            check: false,
            call: Some(100),
            bet: None,
            raise: Some(AmountRange { min: 300, max: 5000 }),
        }
    }

    #[test]
    fn bare_fenced_and_prose_wrapped_json_parse() {
        let legal = facing_bet();
        for text in [
            r#"{"action":"raise","amount":600,"reason":"value"}"#,
            "```json\n{\"action\": \"raise\", \"amount\": 600, \"reason\": \"value\"}\n```",
            "I think raising is best here. {\"action\": \"Raise\", \"amount\": \"600\", \"reason\": \"value\"} Good luck!",
        ] {
            let parsed = parse_reply(text, &legal).unwrap();
            assert_eq!(parsed.action, Action::Raise { to: 600 }, "{text}");
            assert_eq!(parsed.reason.as_deref(), Some("value"));
        }
    }

    #[test]
    fn illegal_and_unparsable_replies_are_told_apart() {
        let legal = facing_bet();
        assert!(matches!(
            parse_reply("no idea", &legal),
            Err(ReplyProblem::Unparsable(_))
        ));
        assert!(matches!(
            parse_reply("{\"action\": \"raise\"", &legal),
            Err(ReplyProblem::Unparsable(_))
        ));
        assert!(matches!(
            parse_reply(r#"{"action":"check"}"#, &legal),
            Err(ReplyProblem::Illegal(_))
        ));
        assert!(matches!(
            parse_reply(r#"{"action":"raise","amount":200}"#, &legal),
            Err(ReplyProblem::Illegal(_))
        ));
        assert!(matches!(
            parse_reply(r#"{"action":"raise"}"#, &legal),
            Err(ReplyProblem::Illegal(_))
        ));
        assert!(matches!(
            parse_reply(r#"{"action":"dance"}"#, &legal),
            Err(ReplyProblem::Illegal(_))
        ));
    }

    #[test]
    fn harmless_wordings_map_to_the_legal_action() {
        let legal = facing_bet();
        assert_eq!(
            parse_reply(r#"{"action":"all-in"}"#, &legal).unwrap().action,
            Action::Raise { to: 5000 }
        );
        assert_eq!(
            parse_reply(r#"{"action":"bet","amount":400}"#, &legal)
                .unwrap()
                .action,
            Action::Raise { to: 400 }
        );
        let free = LegalActions {
            fold: false,
            check: true,
            call: None,
            bet: Some(AmountRange { min: 100, max: 5000 }),
            raise: None,
        };
        assert_eq!(
            parse_reply(r#"{"action":"fold"}"#, &free).unwrap().action,
            Action::Check
        );
        assert_eq!(
            parse_reply(r#"{"action":"call"}"#, &free).unwrap().action,
            Action::Check
        );
    }
}
