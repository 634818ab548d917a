//! XML-RPC documents: method calls, responses and faults, read and written with quick-xml.
//!
//! Lenient where wikis differ from the spec: an untyped `<value>` is a string; `<int>`,
//! `<i4>` and `<i8>` are integers; `dateTime.iso8601` is read with or without dashes and
//! with an optional zone (`Z`, `+01:00`, `+0100`): DokuWiki writes
//! `2026-11-23T12:53:22+00:00`, JSPWiki and the spec `20261123T12:53:22` (no zone: UTC is
//! assumed). Written dates use the spec's form without a zone, in UTC.

use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use quick_xml::events::Event;
use quick_xml::Reader;

/// Elements nested deeper than this are refused (a struct in an array in a struct... is
/// 3 levels per value).
const MAX_DEPTH: usize = 64;

/// One XML-RPC value.
///
/// ```
/// use recentchanges_http::wikirpc::Value;
/// let v = Value::Struct(vec![("name".into(), Value::from("Alpha")), ("version".into(), Value::Int(3))]);
/// assert_eq!(v.member("NAME").and_then(Value::as_str), Some("Alpha"));
/// assert_eq!(v.member("version").and_then(Value::as_i64), Some(3));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<int>`, `<i4>` or `<i8>`.
    Int(i64),
    /// `<boolean>`.
    Bool(bool),
    /// `<string>`, or a `<value>` without a type.
    String(String),
    /// `<double>`.
    Double(f64),
    /// `<dateTime.iso8601>`, in UTC (a date without a zone is taken as UTC).
    DateTime(DateTime<Utc>),
    /// `<base64>`, decoded.
    Base64(Vec<u8>),
    /// `<struct>`: its members in document order.
    Struct(Vec<(String, Value)>),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<nil/>` (an extension).
    Nil,
}

impl Value {
    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// An integer value (also a string of digits, as some servers send numbers untyped).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A struct's member by name, compared ASCII case-insensitively (the first one).
    pub fn member(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(m) => m
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The XML-RPC type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Bool(_) => "boolean",
            Value::String(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Struct(_) => "struct",
            Value::Array(_) => "array",
            Value::Nil => "nil",
        }
    }

    /// The value as JSON, for [`RecentChange::extra`](recentchanges_core::RecentChange::extra): dates
    /// as RFC 3339 strings, base64 as its decoded text when that is UTF-8 (else base64).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Int(i) => J::from(*i),
            Value::Bool(b) => J::Bool(*b),
            Value::String(s) => J::String(s.clone()),
            Value::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
            Value::DateTime(t) => J::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            Value::Base64(b) => match std::str::from_utf8(b) {
                Ok(s) => J::String(s.to_owned()),
                Err(_) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
            },
            Value::Struct(m) => {
                J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Nil => J::Null,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// What a method response held.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Response {
    /// `<params><param><value>`.
    Value(Value),
    /// `<fault>`: faultCode and faultString.
    Fault(i64, String),
}

/// A method call: its name and parameters.
#[cfg_attr(not(feature = "wikiping"), allow(dead_code))] // the listener's side
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub(crate) method: String,
    pub(crate) params: Vec<Value>,
}

// ------------------------------------------------------------------------------ writing

/// `<?xml ...?><methodCall>` for `method` with `params`.
pub(crate) fn write_call(method: &str, params: &[Value]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodCall><methodName>");
    out.push_str(&quick_xml::escape::escape(method));
    out.push_str("</methodName><params>");
    for p in params {
        out.push_str("<param>");
        write_value(&mut out, p);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>\n");
    out
}

/// A `<methodResponse>` holding one value.
#[cfg_attr(not(feature = "wikiping"), allow(dead_code))] // the listener's side
pub(crate) fn write_response(value: &Value) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse><params><param>");
    write_value(&mut out, value);
    out.push_str("</param></params></methodResponse>\n");
    out
}

/// A `<methodResponse>` holding a fault.
#[cfg_attr(not(feature = "wikiping"), allow(dead_code))] // the listener's side
pub(crate) fn write_fault(code: i64, message: &str) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse><fault>");
    write_value(
        &mut out,
        &Value::Struct(vec![
            ("faultCode".into(), Value::Int(code)),
            ("faultString".into(), Value::from(message)),
        ]),
    );
    out.push_str("</fault></methodResponse>\n");
    out
}

fn write_value(out: &mut String, v: &Value) {
    out.push_str("<value>");
    match v {
        Value::Int(i) if i32::try_from(*i).is_ok() => {
            let _ = write!(out, "<int>{i}</int>");
        }
        Value::Int(i) => {
            let _ = write!(out, "<i8>{i}</i8>");
        }
        Value::Bool(b) => {
            let _ = write!(out, "<boolean>{}</boolean>", u8::from(*b));
        }
        Value::String(s) => {
            out.push_str("<string>");
            out.push_str(&quick_xml::escape::escape(s.as_str()));
            out.push_str("</string>");
        }
        Value::Double(d) => {
            let _ = write!(out, "<double>{d}</double>");
        }
        Value::DateTime(t) => {
            let _ = write!(
                out,
                "<dateTime.iso8601>{}</dateTime.iso8601>",
                t.format("%Y%m%dT%H:%M:%S")
            );
        }
        Value::Base64(b) => {
            out.push_str("<base64>");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push_str("</base64>");
        }
        Value::Struct(m) => {
            out.push_str("<struct>");
            for (k, v) in m {
                out.push_str("<member><name>");
                out.push_str(&quick_xml::escape::escape(k.as_str()));
                out.push_str("</name>");
                write_value(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Array(a) => {
            out.push_str("<array><data>");
            for v in a {
                write_value(out, v);
            }
            out.push_str("</data></array>");
        }
        Value::Nil => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

// ------------------------------------------------------------------------------ reading

/// An element: its local name, its text (all text, CDATA and references inside it, not
/// in its children) and its child elements.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn only_child(&self, name: &str, what: &str) -> Result<&Node, String> {
        let mut it = self.children.iter();
        match (it.next(), it.next()) {
            (Some(c), None) if c.name == name => Ok(c),
            (None, _) => Err(format!("{what}: no <{name}>")),
            _ => Err(format!(
                "{what}: expected one <{name}>, found {}",
                names(&self.children)
            )),
        }
    }
}

fn names(nodes: &[Node]) -> String {
    let v: Vec<String> = nodes.iter().map(|n| format!("<{}>", n.name)).collect();
    v.join(", ")
}

/// Parses a document into its root element.
fn parse_tree(xml: &str) -> Result<Node, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "not well-formed XML at byte {}: {e}",
                reader.error_position()
            )
        })?;
        let depth = stack.len();
        let Some(top) = stack.last_mut() else {
            return Err("unbalanced elements".into());
        };
        match event {
            Event::Start(_) | Event::Empty(_) if depth > MAX_DEPTH => {
                return Err(format!("elements nested deeper than {MAX_DEPTH} levels"));
            }
            Event::Start(e) => stack.push(Node {
                name: e.local_name().as_ref().to_owned(),
                ..Node::default()
            }),
            Event::Empty(e) => top.children.push(Node {
                name: e.local_name().as_ref().to_owned(),
                ..Node::default()
            }),
            Event::End(_) => {
                let done = stack.pop().ok_or("unbalanced elements")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Err("unbalanced elements".into()),
                }
            }
            Event::Text(t) => top.text.push_str(&t.xml10_content()),
            Event::CData(t) => top.text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => top.text.push(c),
                Ok(None) => match quick_xml::escape::resolve_predefined_entity(&r) {
                    Some(s) => top.text.push_str(s),
                    None => return Err(format!("undefined entity &{};", &*r)),
                },
                Err(e) => return Err(format!("bad character reference: {e}")),
            },
            Event::DocType(_) => return Err("a DTD is not allowed".into()),
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::Eof => {
                if stack.len() != 1 {
                    return Err("the document ends inside an element".into());
                }
                let mut root = stack.pop().unwrap_or_default();
                return match root.children.len() {
                    1 => Ok(root.children.remove(0)),
                    0 => Err("no XML element".into()),
                    _ => Err("more than one root element".into()),
                };
            }
        }
    }
}

/// Reads a `<methodResponse>`.
pub(crate) fn read_response(xml: &str) -> Result<Response, String> {
    let root = parse_tree(xml)?;
    if root.name != "methodResponse" {
        return Err(format!("<{}> instead of <methodResponse>", root.name));
    }
    if let Some(fault) = root.child("fault") {
        let v = value(fault.only_child("value", "<fault>")?)?;
        let code = v.member("faultCode").and_then(Value::as_i64).unwrap_or(0);
        let msg = v
            .member("faultString")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        return Ok(Response::Fault(code, msg));
    }
    let params = root.only_child("params", "<methodResponse>")?;
    let param = params.only_child("param", "<params>")?;
    Ok(Response::Value(value(
        param.only_child("value", "<param>")?,
    )?))
}

/// Reads a `<methodCall>`.
#[cfg_attr(not(feature = "wikiping"), allow(dead_code))] // the listener's side
pub(crate) fn read_call(xml: &str) -> Result<Call, String> {
    let root = parse_tree(xml)?;
    if root.name != "methodCall" {
        return Err(format!("<{}> instead of <methodCall>", root.name));
    }
    let method = root
        .child("methodName")
        .ok_or("<methodCall> without <methodName>")?
        .text
        .trim()
        .to_owned();
    if method.is_empty() {
        return Err("empty <methodName>".into());
    }
    let mut params = Vec::new();
    if let Some(ps) = root.child("params") {
        for p in &ps.children {
            if p.name != "param" {
                return Err(format!("<{}> in <params>", p.name));
            }
            params.push(value(p.only_child("value", "<param>")?)?);
        }
    }
    Ok(Call { method, params })
}

fn value(node: &Node) -> Result<Value, String> {
    let Some(typed) = node.children.first() else {
        // <value>text</value>: a string, kept as it is.
        return Ok(Value::String(node.text.clone()));
    };
    if node.children.len() > 1 {
        return Err(format!("<value> holds {}", names(&node.children)));
    }
    let text = typed.text.trim();
    let bad = |what: &str| format!("<{}> holds {text:?}, not {what}", typed.name);
    Ok(match typed.name.as_str() {
        "string" => Value::String(typed.text.clone()),
        "int" | "i4" | "i8" => Value::Int(text.parse().map_err(|_| bad("an integer"))?),
        "boolean" => match text {
            "1" | "true" => Value::Bool(true),
            "0" | "false" => Value::Bool(false),
            _ => return Err(bad("0 or 1")),
        },
        "double" => Value::Double(text.parse().map_err(|_| bad("a number"))?),
        "dateTime.iso8601" => Value::DateTime(parse_datetime(text).ok_or_else(|| bad("a date"))?),
        "base64" => {
            let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            Value::Base64(
                base64::engine::general_purpose::STANDARD
                    .decode(clean)
                    .map_err(|_| bad("base64"))?,
            )
        }
        "struct" => {
            let mut members = Vec::with_capacity(typed.children.len());
            for m in &typed.children {
                if m.name != "member" {
                    return Err(format!("<{}> in <struct>", m.name));
                }
                let name = m.child("name").ok_or("<member> without <name>")?;
                let v = m
                    .child("value")
                    .ok_or_else(|| format!("<member> {:?} without <value>", name.text.trim()))?;
                members.push((name.text.trim().to_owned(), value(v)?));
            }
            Value::Struct(members)
        }
        "array" => {
            let data = typed.only_child("data", "<array>")?;
            let mut items = Vec::with_capacity(data.children.len());
            for v in &data.children {
                if v.name != "value" {
                    return Err(format!("<{}> in <data>", v.name));
                }
                items.push(value(v)?);
            }
            Value::Array(items)
        }
        "nil" => Value::Nil,
        other => return Err(format!("unknown value type <{other}>")),
    })
}

/// `20261123T12:53:22`, `2026-11-23T12:53:22`, with an optional `Z` or `±hh[:]mm` zone;
/// without one the time is taken as UTC.
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let compact: String = match s.find('T') {
        Some(t) => {
            let (date, time) = s.split_at(t);
            date.replace('-', "") + time
        }
        None => return None,
    };
    let body = compact.strip_suffix('Z').unwrap_or(&compact);
    // A zone after the seconds: the last '+' or '-' (the date part has no '-' left).
    if let Some(i) = body.rfind(['+', '-']) {
        let (naive, zone) = body.split_at(i);
        let zone = zone.replace(':', "");
        let full = format!("{naive}{zone}");
        return DateTime::parse_from_str(&full, "%Y%m%dT%H:%M:%S%z")
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(body, "%Y%m%dT%H:%M:%S")
        .ok()
        .map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dokuwiki_and_spec_dates() {
        let t = DateTime::from_timestamp(1_795_438_402, 0).unwrap();
        assert_eq!(parse_datetime("2026-11-23T12:53:22+00:00"), Some(t));
        assert_eq!(parse_datetime("2026-11-23T13:53:22+01:00"), Some(t));
        assert_eq!(parse_datetime("20261123T12:53:22"), Some(t));
        assert_eq!(parse_datetime("20261123T12:53:22Z"), Some(t));
        assert_eq!(parse_datetime("20261123T07:53:22-0500"), Some(t));
        assert_eq!(parse_datetime("yesterday"), None);
        assert_eq!(parse_datetime("20261123T25:00:00"), None);
    }

    #[test]
    fn a_call_round_trips() {
        let params = vec![
            Value::from("Alpha & <Beta>"),
            Value::Int(-3),
            Value::Int(1 << 40),
            Value::Bool(true),
            Value::Base64("wörld".as_bytes().to_vec()),
            Value::DateTime(DateTime::from_timestamp(1_795_438_402, 0).unwrap()),
            Value::Struct(vec![(
                "a".into(),
                Value::Array(vec![Value::Nil, Value::Double(1.5)]),
            )]),
        ];
        let xml = write_call("wiki.getPage", &params);
        assert_eq!(
            read_call(&xml).unwrap(),
            Call {
                method: "wiki.getPage".into(),
                params
            }
        );
    }

    #[test]
    fn untyped_values_are_strings_and_whitespace_between_elements_is_ignored() {
        let xml = "<?xml version=\"1.0\"?>\n<methodResponse>\n <params>\n  <param>\n   <value>\n   <struct>\n    <member><name>n</name><value> a &amp; b </value></member>\n    <member><name>i</name><value><i4> 7 </i4></value></member>\n   </struct>\n   </value>\n  </param>\n </params>\n</methodResponse>";
        let Response::Value(v) = read_response(xml).unwrap() else {
            panic!("not a value")
        };
        assert_eq!(v.member("n"), Some(&Value::from(" a & b ")));
        assert_eq!(v.member("i"), Some(&Value::Int(7)));
    }

    #[test]
    fn faults_and_bad_documents() {
        assert_eq!(
            read_response(&write_fault(321, "none")).unwrap(),
            Response::Fault(321, "none".into())
        );
        for (bad, says) in [
            ("garbage", "no XML element"),
            ("<methodCall/>", "instead of <methodResponse>"),
            ("<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>", "not an integer"),
            ("<methodResponse><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodResponse>", "without <value>"),
            ("<!DOCTYPE x [<!ENTITY a 'b'>]><methodResponse/>", "DTD"),
            ("<methodResponse><params>", "ends inside"),
        ] {
            let err = read_response(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
