//! The turn as the request's JSON schema describes it (the action `enum`,
//! the amount's `minimum`/`maximum`) and the answers the mock gives: legal
//! ones that keep games moving, and illegal ones on demand.

use game_core::sim::SplitMix64;
use serde_json::{Map, Value};

use super::config::Policy;
use super::latency::unit;

/// The five verbs of the protocol, in the order illegal answers try them.
const VERBS: [&str; 5] = ["fold", "check", "call", "bet", "raise"];

/// What one turn allows, read from `response_format.json_schema.schema`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TurnSchema {
    /// The action enum, as sent.
    actions: Vec<String>,
    /// The "to" amount's bounds, when bet or raise is legal.
    bounds: Option<(i64, i64)>,
    /// Whether the schema has an `amount` property at all.
    has_amount: bool,
    /// The other properties (`reason`, maybe `table_talk`) and their schemas.
    others: Vec<(String, Value)>,
}

impl TurnSchema {
    /// Reads the schema of a `response_format`; `None` when it has no usable
    /// action enum (then the mock answers a plain call).
    pub fn from_response_format(format: &Value) -> Option<TurnSchema> {
        // `json_schema` nests the schema; `json_object` (llama.cpp) carries it directly.
        let schema = match format.get("json_schema") {
            Some(nested) => nested.get("schema")?,
            None => format.get("schema")?,
        };
        TurnSchema::from_schema(schema)
    }

    /// Reads a schema written into the prompt after `JSON schema:` (how a
    /// client asks a server that takes no `response_format`), as a model
    /// would: the last message that has one.
    pub fn from_prompt(messages: &[Value]) -> Option<TurnSchema> {
        const MARK: &str = "JSON schema:";
        messages.iter().rev().find_map(|m| {
            let content = m.get("content")?.as_str()?;
            let at = content.rfind(MARK)? + MARK.len();
            let schema = serde_json::Deserializer::from_str(content[at..].trim_start())
                .into_iter::<Value>()
                .next()?
                .ok()?;
            TurnSchema::from_schema(&schema)
        })
    }

    /// Reads a JSON schema's action enum and amount bounds.
    fn from_schema(schema: &Value) -> Option<TurnSchema> {
        let properties = schema.get("properties")?.as_object()?;
        let action = properties.get("action")?;
        let actions: Vec<String> = match (action.get("enum"), action.get("const")) {
            (Some(Value::Array(values)), _) => values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            (None, Some(Value::String(only))) => vec![only.clone()],
            _ => return None,
        };
        if actions.is_empty() {
            return None;
        }
        let amount = properties.get("amount");
        Some(TurnSchema {
            actions,
            bounds: amount.and_then(bounds),
            has_amount: amount.is_some(),
            others: properties
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "action" | "amount"))
                .map(|(name, schema)| (name.clone(), schema.clone()))
                .collect(),
        })
    }

    fn allows(&self, action: &str) -> bool {
        self.actions.iter().any(|a| a == action)
    }

    /// A legal answer: mostly check/call, bet or raise with probability
    /// `policy.aggression`, fold facing a bet with probability `policy.fold_to_bet`.
    pub fn legal(&self, policy: &Policy, rng: &mut SplitMix64) -> Value {
        let sized = self
            .bounds
            .and_then(|_| ["bet", "raise"].into_iter().find(|a| self.allows(a)));
        let passive = ["check", "call"].into_iter().find(|a| self.allows(a));
        let facing_bet = !self.allows("check");
        let r = unit(rng);
        let action = match (sized, passive) {
            (Some(sized), _) if r <= policy.aggression => sized.to_owned(),
            _ if facing_bet && self.allows("fold") && r > 1.0 - policy.fold_to_bet => "fold".to_owned(),
            (_, Some(passive)) => passive.to_owned(),
            _ => self.actions[rng.below(self.actions.len() as u64) as usize].clone(),
        };
        let amount = match self.bounds {
            Some((lo, hi)) if matches!(action.as_str(), "bet" | "raise") => Some(match rng.below(20) {
                0..=9 => lo,
                10..=16 => lo + rng.below((hi - lo) as u64 + 1) as i64,
                _ => hi,
            }),
            _ => None,
        };
        self.answer(&action, amount, rng)
    }

    /// An illegal answer: a verb outside the enum (never the twin of a legal
    /// one, which a lenient client might map: check/call, bet/raise) or an
    /// amount outside the bounds.
    pub fn illegal(&self, rng: &mut SplitMix64) -> Value {
        let twin = |verb: &str| match verb {
            "check" => "call",
            "call" => "check",
            "bet" => "raise",
            "raise" => "bet",
            _ => "",
        };
        let verbs: Vec<&str> = VERBS
            .into_iter()
            .filter(|v| !self.allows(v) && !self.allows(twin(v)))
            .collect();
        let sized = self
            .bounds
            .zip(["bet", "raise"].into_iter().find(|a| self.allows(a)));
        let use_amount = match (verbs.is_empty(), sized.is_some()) {
            (_, false) => false,
            (true, true) => true,
            (false, true) => rng.below(2) == 0,
        };
        if let (true, Some(((lo, hi), verb))) = (use_amount, sized) {
            let amount = if lo > 0 && rng.below(2) == 0 {
                lo - 1
            } else {
                hi + 1 + rng.below(hi.max(1) as u64) as i64
            };
            return self.answer(verb, Some(amount), rng);
        }
        match verbs.is_empty() {
            false => {
                let verb = verbs[rng.below(verbs.len() as u64) as usize];
                let amount = matches!(verb, "bet" | "raise").then_some(self.bounds.map_or(100, |(_, hi)| hi));
                self.answer(verb, amount, rng)
            }
            true => self.answer("shove", None, rng),
        }
    }

    /// The answer object: `action`, `amount` (if the schema has it) and every
    /// other property, filled in by type.
    fn answer(&self, action: &str, amount: Option<i64>, rng: &mut SplitMix64) -> Value {
        let mut object = Map::new();
        object.insert("action".to_owned(), Value::from(action));
        if self.has_amount {
            object.insert("amount".to_owned(), amount.map_or(Value::Null, Value::from));
        }
        for (name, schema) in &self.others {
            let value = if name == "reason" {
                Value::from(reason(action, rng))
            } else {
                filler(schema)
            };
            object.insert(name.clone(), value);
        }
        Value::Object(object)
    }
}

/// The answer when the request carries no usable schema.
pub(crate) fn unschematic(rng: &mut SplitMix64, legal: bool) -> Value {
    let action = if legal { "call" } else { "shove" };
    let mut object = Map::new();
    object.insert("action".to_owned(), Value::from(action));
    object.insert("amount".to_owned(), Value::Null);
    object.insert("reason".to_owned(), Value::from(reason(action, rng)));
    Value::Object(object)
}

/// The amount's `minimum`/`maximum`, on the property itself or in one of its
/// `anyOf`/`oneOf` branches (strict schemas often write `anyOf: [integer, null]`).
fn bounds(amount: &Value) -> Option<(i64, i64)> {
    let own = |schema: &Value| {
        let min = schema
            .get("minimum")
            .and_then(Value::as_f64)
            .map(|m| m.ceil() as i64);
        let max = schema
            .get("maximum")
            .and_then(Value::as_f64)
            .map(|m| m.floor() as i64);
        let (lo, hi) = match (min, max) {
            (None, None) => return None,
            (lo, hi) => (lo.or(hi)?, hi.or(lo)?),
        };
        Some((lo, hi.max(lo)))
    };
    own(amount).or_else(|| {
        ["anyOf", "oneOf"]
            .iter()
            .filter_map(|key| amount.get(key)?.as_array())
            .flatten()
            .find_map(own)
    })
}

/// A plausible value for a property the mock knows nothing about.
fn filler(schema: &Value) -> Value {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"null") {
        Value::Null
    } else if types.contains(&"string") {
        Value::from("gl")
    } else if types.contains(&"integer") || types.contains(&"number") {
        Value::from(0)
    } else if types.contains(&"boolean") {
        Value::from(false)
    } else {
        Value::Null
    }
}

fn reason(action: &str, rng: &mut SplitMix64) -> &'static str {
    let choices: &[&str] = match action {
        "fold" => &["Too expensive for this hand.", "Weak holding against a bet."],
        "check" => &["Pot control.", "Taking a free card."],
        "call" => &["The pot odds justify a call.", "Keeping their bluffs in."],
        "bet" | "raise" => &[
            "Betting for value.",
            "Applying pressure.",
            "Semi-bluff with outs.",
        ],
        _ => &["Feeling lucky."],
    };
    choices[rng.below(choices.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn format(actions: &[&str], bounds: Option<(i64, i64)>) -> Value {
        let mut amount = json!({"type": ["integer", "null"]});
        if let Some((lo, hi)) = bounds {
            amount["minimum"] = json!(lo);
            amount["maximum"] = json!(hi);
        }
        json!({"type": "json_schema", "json_schema": {"name": "decision", "strict": true, "schema": {
            "type": "object",
            "properties": {"action": {"type": "string", "enum": actions}, "amount": amount,
                           "reason": {"type": "string"}},
            "required": ["action", "amount", "reason"], "additionalProperties": false}}})
    }

    fn is_legal(answer: &Value, actions: &[&str], bounds: Option<(i64, i64)>) -> bool {
        let action = answer["action"].as_str().unwrap_or("");
        let amount = answer["amount"].as_i64();
        actions.contains(&action)
            && match (action, bounds) {
                ("bet" | "raise", Some((lo, hi))) => amount.is_some_and(|a| (lo..=hi).contains(&a)),
                _ => answer["amount"].is_null(),
            }
            && answer["reason"].is_string()
    }

    #[test]
    fn answers_are_legal_and_illegal_as_asked() {
        type Case = (&'static [&'static str], Option<(i64, i64)>);
        let turns: [Case; 5] = [
            (&["fold", "call", "raise"], Some((200, 10_000))),
            (&["check", "bet"], Some((100, 100))),
            (&["fold", "call"], None),
            (&["check"], None),
            (&["fold", "call", "raise"], Some((0, 50))),
        ];
        let mut rng = SplitMix64::new(3);
        for (actions, bounds) in turns {
            let schema = TurnSchema::from_response_format(&format(actions, bounds)).expect("usable");
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..500 {
                let answer = schema.legal(&Policy::default(), &mut rng);
                assert!(is_legal(&answer, actions, bounds), "{actions:?} {answer}");
                seen.insert(answer["action"].as_str().unwrap_or("").to_owned());
                let wrong = schema.illegal(&mut rng);
                assert!(!is_legal(&wrong, actions, bounds), "{actions:?} {wrong}");
            }
            assert_eq!(
                seen.len(),
                actions.len(),
                "every legal verb gets played: {seen:?}"
            );
        }
    }

    #[test]
    fn bounds_inside_any_of_and_extra_properties() {
        let format = json!({"json_schema": {"schema": {"properties": {
            "action": {"enum": ["check", "bet"]},
            "amount": {"anyOf": [{"type": "integer", "minimum": 40, "maximum": 90}, {"type": "null"}]},
            "reason": {"type": "string"},
            "table_talk": {"type": ["string", "null"]}}}}});
        let schema = TurnSchema::from_response_format(&format).expect("usable");
        assert_eq!(schema.bounds, Some((40, 90)));
        let answer = schema.legal(&Policy::default(), &mut SplitMix64::new(1));
        assert!(answer["table_talk"].is_null());
        assert!(TurnSchema::from_response_format(&json!({"type": "json_object"})).is_none());
    }
}
