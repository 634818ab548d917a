//! The RC feed JSON object (`JSONRCFeedFormatter`), also Wikimedia EventStreams'
//! `recentchange` events with their `meta`. Fields are read straight into the typed change
//! by a hand-written visitor: no intermediate `serde_json::Value` for known fields.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::change::{Kind, Patrolled, RecentChange};
use crate::error::{snippet, Form, ParseError};

use super::draft::Draft;
use super::values::unix_timestamp;

/// Parses one JSON change.
pub(crate) fn parse(input: &[u8]) -> Result<RecentChange, ParseError> {
    let mut problem = None;
    let mut de = serde_json::Deserializer::from_slice(input);
    let result = ChangeSeed {
        problem: &mut problem,
    }
    .deserialize(&mut de)
    .and_then(|draft| de.end().map(|()| draft));
    match result {
        Ok(draft) => draft.finish(Form::FeedJson),
        Err(e) => Err(match problem {
            Some(mut p) => {
                if let ParseError::Invalid { offset, .. } = &mut p {
                    *offset = Some(position(input, &e));
                }
                p
            }
            None => syntax(input, &e),
        }),
    }
}

fn syntax(input: &[u8], e: &serde_json::Error) -> ParseError {
    ParseError::Syntax {
        form: Form::FeedJson,
        offset: position(input, e),
        message: without_position(e),
    }
}

/// Byte offset of serde_json's line and column.
fn position(input: &[u8], e: &serde_json::Error) -> u64 {
    line_offset(input, e.line()) + e.column().saturating_sub(1) as u64
}

/// Byte offset of the start of a 1-based line.
fn line_offset(input: &[u8], line: usize) -> u64 {
    if line <= 1 {
        return 0;
    }
    input
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .nth(line - 2)
        .map_or(input.len() as u64, |(i, _)| i as u64 + 1)
}

/// serde_json's message without its trailing " at line L column C".
fn without_position(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

struct ChangeSeed<'p> {
    problem: &'p mut Option<ParseError>,
}

impl<'de> DeserializeSeed<'de> for ChangeSeed<'_> {
    type Value = Draft;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Draft, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChangeSeed<'_> {
    type Value = Draft;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object describing a recent change")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Draft, A::Error> {
        let mut d = Draft::new();
        while let Some(key) = map.next_key::<KeyStr<'de>>()? {
            let key = key.as_str();
            if let Err(e) = field(&mut d, key, &mut map) {
                if self.problem.is_none() {
                    *self.problem = Some(invalid_field(key, &e.to_string()));
                }
                return Err(e);
            }
        }
        Ok(d)
    }
}

/// Turns serde's "invalid type: string \"x\", expected u64 at line 1 column 9" about a
/// field into a structured error naming the field.
fn invalid_field(key: &str, message: &str) -> ParseError {
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    let body = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .unwrap_or(message);
    let (value, expected) = match body.rsplit_once(", expected ") {
        Some((value, expected)) => (snippet(value), plain_expectation(expected).to_owned()),
        None => (String::from("a value"), snippet(body)),
    };
    ParseError::Invalid {
        form: Form::FeedJson,
        what: "field",
        name: snippet(key),
        value,
        expected,
        offset: None,
    }
}

/// serde's Rust type names in words.
fn plain_expectation(expected: &str) -> &str {
    match expected {
        "u64" => "an unsigned integer",
        "i32" | "i64" => "an integer",
        other => other,
    }
}

/// Applies one field. A wrongly typed value fails with serde's description of it.
fn field<'de, A: MapAccess<'de>>(d: &mut Draft, key: &str, map: &mut A) -> Result<(), A::Error> {
    let rc = &mut d.rc;
    match key {
        "type" => d.kind = Some(Kind::from_wire(&map.next_value::<KeyStr<'de>>()?.0)),
        "id" => rc.rcid = map.next_value()?,
        "wiki" => rc.wiki = map.next_value()?,
        "namespace" => rc.namespace = map.next_value()?,
        "title" => rc.title = map.next_value()?,
        "user" => rc.user = map.next_value()?,
        "comment" => rc.comment = map.next_value()?,
        "parsedcomment" => rc.parsed_comment = map.next_value()?,
        "bot" => rc.bot = map.next_value::<Option<bool>>()?.unwrap_or(false),
        "minor" => rc.minor = map.next_value::<Option<bool>>()?.unwrap_or(false),
        "patrolled" => {
            rc.patrolled = match map.next_value::<Option<bool>>()? {
                Some(true) => Patrolled::Patrolled,
                Some(false) => Patrolled::Unpatrolled,
                None => Patrolled::Unknown,
            }
        }
        "timestamp" => {
            rc.timestamp = match map.next_value::<Option<i64>>()? {
                Some(secs) => Some(
                    unix_timestamp(key, secs)
                        .map_err(|b| de::Error::custom(format!("{} ({})", b.expected, b.value)))?,
                ),
                None => None,
            }
        }
        "length" => {
            let OldNew { old, new } = map.next_value::<Option<OldNew>>()?.unwrap_or_default();
            rc.old_len = old;
            rc.new_len = new;
        }
        "revision" => {
            let OldNew { old, new } = map.next_value::<Option<OldNew>>()?.unwrap_or_default();
            rc.old_rev_id = old;
            rc.rev_id = new;
        }
        "log_id" => rc.log_id = map.next_value()?,
        "log_type" => rc.log_type = map.next_value()?,
        "log_action" => rc.log_action = map.next_value()?,
        "log_action_comment" => rc.log_action_comment = map.next_value()?,
        "log_params" => match map.next_value::<Value>()? {
            Value::Object(fields) => rc.log_params = fields,
            // PHP writes an empty array for "no parameters".
            Value::Array(items) if items.is_empty() => {}
            Value::Null => {}
            // Legacy or list-shaped parameters: kept as they came.
            other => d.extra(key, other),
        },
        "server_url" => rc.server_url = map.next_value()?,
        "server_name" => rc.server_name = map.next_value()?,
        "server_script_path" => rc.script_path = map.next_value()?,
        _ => {
            let value = map.next_value::<Value>()?;
            d.extra(key, value);
        }
    }
    Ok(())
}

/// `{"old": 22, "new": 14}` of `length` and `revision`; `null` or absent members are `None`.
#[derive(Default, Deserialize)]
struct OldNew {
    #[serde(default)]
    old: Option<u64>,
    #[serde(default)]
    new: Option<u64>,
}

/// A key or short string, borrowed from the input when it has no escapes.
struct KeyStr<'de>(std::borrow::Cow<'de, str>);

impl KeyStr<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for KeyStr<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyStr(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyStr(v.to_owned().into()))
            }
        }
        d.deserialize_str(V)
    }
}
