//! [`AgentSpec`]: who plays a seat, as written in table settings,
//! experiment specs and the engine's player strings: `human`, `bot:NAME`
//! or `llm:PROVIDER/MODEL?key=value&…` (options `personality`,
//! `temperature`, `capture`, `label`; values percent-encoded). This is the
//! one place such text is parsed; everything else works with the types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What kind of player sits in a seat, as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatKind {
    /// A person.
    Human,
    /// A heuristic bot.
    Bot,
    /// An LLM player.
    Llm,
}

impl SeatKind {
    /// The kind's name (`human`, `bot`, `llm`).
    pub fn name(self) -> &'static str {
        match self {
            SeatKind::Human => "human",
            SeatKind::Bot => "bot",
            SeatKind::Llm => "llm",
        }
    }
}

/// Longest personality, in characters.
pub const MAX_PERSONALITY_CHARS: usize = 500;
/// Longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 32;

/// An LLM seat: which model, and how it plays.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmSpec {
    /// The provider's name in the LLM config.
    pub provider: String,
    /// The model's name in the LLM config.
    pub model: String,
    /// A personality for the system prompt.
    pub personality: Option<String>,
    /// Sampling temperature, 0 to 2.
    pub temperature: Option<f32>,
    /// Keep every prompt and reply with the decisions.
    pub capture: bool,
    /// The name the seat goes by.
    pub label: Option<String>,
}

/// Who plays a seat.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentSpec {
    /// A person (`human`).
    Human,
    /// A heuristic bot (`bot:NAME`; the name is checked where bots are built).
    Bot(String),
    /// An LLM player (`llm:PROVIDER/MODEL?…`).
    Llm(LlmSpec),
}

/// Why a spec does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Neither `human`, `bot:` nor `llm:`.
    #[error("agent spec {0:?} must start with bot: or llm: (e.g. bot:tight-aggressive)")]
    UnknownKind(String),
    /// `bot:` with no name.
    #[error("agent spec {0:?} names no bot")]
    NoBotName(String),
    /// `llm:` without `PROVIDER/MODEL`.
    #[error("LLM spec {0:?} must be llm:PROVIDER/MODEL")]
    NoModel(String),
    /// An option this build does not know.
    #[error("unknown LLM option {0:?}")]
    UnknownOption(String),
    /// An option's value is out of range.
    #[error("{0}")]
    BadValue(&'static str),
}

impl AgentSpec {
    /// The kind of player it is.
    pub fn kind(&self) -> SeatKind {
        match self {
            AgentSpec::Human => SeatKind::Human,
            AgentSpec::Bot(_) => SeatKind::Bot,
            AgentSpec::Llm(_) => SeatKind::Llm,
        }
    }

    /// The kind of an AI spec's text without parsing its options (a stored
    /// player string: anything not `llm:` is a bot).
    pub fn kind_of(spec: &str) -> SeatKind {
        if spec.starts_with("llm:") {
            SeatKind::Llm
        } else if spec == "human" {
            SeatKind::Human
        } else {
            SeatKind::Bot
        }
    }

    /// The bot's name, for a bot.
    pub fn bot_name(&self) -> Option<&str> {
        match self {
            AgentSpec::Bot(name) => Some(name),
            _ => None,
        }
    }

    /// The LLM seat's spec, for an LLM seat.
    pub fn llm(&self) -> Option<&LlmSpec> {
        match self {
            AgentSpec::Llm(llm) => Some(llm),
            _ => None,
        }
    }
}

impl FromStr for AgentSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<AgentSpec, SpecError> {
        if text == "human" {
            return Ok(AgentSpec::Human);
        }
        if let Some(name) = text.strip_prefix("bot:") {
            if name.is_empty() {
                return Err(SpecError::NoBotName(text.to_owned()));
            }
            return Ok(AgentSpec::Bot(name.to_owned()));
        }
        let Some(rest) = text.strip_prefix("llm:") else {
            return Err(SpecError::UnknownKind(text.to_owned()));
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (provider, model) = path
            .split_once('/')
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
            .ok_or_else(|| SpecError::NoModel(text.to_owned()))?;
        let mut llm = LlmSpec {
            provider: provider.to_owned(),
            model: model.to_owned(),
            ..LlmSpec::default()
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode_query(value);
            match key {
                "personality" => {
                    if value.chars().count() > MAX_PERSONALITY_CHARS {
                        return Err(SpecError::BadValue("personality may be at most 500 characters"));
                    }
                    llm.personality = Some(value).filter(|p| !p.trim().is_empty());
                }
                "temperature" => {
                    let t = value
                        .parse::<f32>()
                        .ok()
                        .filter(|t| (0.0..=2.0).contains(t))
                        .ok_or(SpecError::BadValue("temperature must be a number from 0 to 2"))?;
                    llm.temperature = Some(t);
                }
                "capture" => llm.capture = value == "true" || value == "1",
                "label" => {
                    if value.trim().is_empty() || value.chars().count() > MAX_LABEL_CHARS {
                        return Err(SpecError::BadValue("label must be 1 to 32 characters"));
                    }
                    llm.label = Some(value.trim().to_owned());
                }
                other => return Err(SpecError::UnknownOption(other.to_owned())),
            }
        }
        Ok(AgentSpec::Llm(llm))
    }
}

impl fmt::Display for AgentSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentSpec::Human => f.write_str("human"),
            AgentSpec::Bot(name) => write!(f, "bot:{name}"),
            AgentSpec::Llm(llm) => {
                write!(f, "llm:{}/{}", llm.provider, llm.model)?;
                let mut sep = '?';
                let mut option = |f: &mut fmt::Formatter<'_>, key: &str, value: &str| {
                    let written = write!(f, "{sep}{key}={}", encode_query(value));
                    sep = '&';
                    written
                };
                if let Some(p) = &llm.personality {
                    option(f, "personality", p)?;
                }
                if let Some(t) = llm.temperature {
                    option(f, "temperature", &t.to_string())?;
                }
                if llm.capture {
                    option(f, "capture", "true")?;
                }
                if let Some(l) = &llm.label {
                    option(f, "label", l)?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for AgentSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AgentSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AgentSpec, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Decodes a percent-encoded query value (`+` is a space); invalid escapes stay as written.
pub fn decode_query(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!("human".parse::<AgentSpec>(), Ok(AgentSpec::Human));
        assert_eq!(
            "bot:tight-aggressive".parse::<AgentSpec>(),
            Ok(AgentSpec::Bot("tight-aggressive".into()))
        );
        let spec: AgentSpec =
            "llm:mock/m1?personality=Cautious%20grinder&temperature=0.5&label=Ada&capture=1"
                .parse()
                .expect("an LLM spec");
        let llm = spec.llm().expect("llm");
        assert_eq!(llm.provider, "mock");
        assert_eq!(llm.model, "m1");
        assert_eq!(llm.personality.as_deref(), Some("Cautious grinder"));
        assert_eq!(llm.temperature, Some(0.5));
        assert_eq!(llm.label.as_deref(), Some("Ada"));
        assert!(llm.capture);
        assert_eq!(spec.kind(), SeatKind::Llm);
    }

    #[test]
    fn says_what_is_wrong() {
        assert!(matches!(
            "robot".parse::<AgentSpec>(),
            Err(SpecError::UnknownKind(_))
        ));
        assert!(matches!(
            "bot:".parse::<AgentSpec>(),
            Err(SpecError::NoBotName(_))
        ));
        assert!(matches!(
            "llm:mock".parse::<AgentSpec>(),
            Err(SpecError::NoModel(_))
        ));
        assert!(matches!(
            "llm:/m".parse::<AgentSpec>(),
            Err(SpecError::NoModel(_))
        ));
        assert!(matches!(
            "llm:a/b?colour=red".parse::<AgentSpec>(),
            Err(SpecError::UnknownOption(_))
        ));
        assert!(matches!(
            "llm:a/b?temperature=3".parse::<AgentSpec>(),
            Err(SpecError::BadValue(_))
        ));
        let long = format!("llm:a/b?label={}", "x".repeat(33));
        assert!(matches!(long.parse::<AgentSpec>(), Err(SpecError::BadValue(_))));
    }

    #[test]
    fn display_round_trips_and_serde_uses_the_text() {
        for text in [
            "human",
            "bot:random",
            "llm:openai/gpt-4o-mini",
            "llm:local/smol?personality=Likes%20to%20bluff%2C%20a%20lot&temperature=0.3&capture=true&label=Bo%C3%AB",
        ] {
            let spec: AgentSpec = text.parse().expect("parses");
            assert_eq!(spec.to_string(), text);
            assert_eq!(spec.to_string().parse::<AgentSpec>().expect("again"), spec);
            let json = serde_json::to_string(&spec).expect("json");
            assert_eq!(json, format!("{text:?}"));
            assert_eq!(serde_json::from_str::<AgentSpec>(&json).expect("back"), spec);
        }
        assert!(serde_json::from_str::<AgentSpec>("\"robot\"").is_err());
    }

    #[test]
    fn decodes_queries_leniently() {
        assert_eq!(decode_query("a+b%20c"), "a b c");
        assert_eq!(decode_query("100%"), "100%");
        assert_eq!(decode_query("%zz"), "%zz");
        assert_eq!(decode_query("%C3%A9"), "é");
    }
}
