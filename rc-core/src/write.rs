//! Writing a change back as the API / XMLRC `<rc>` element, the way XMLRC posted it.

use std::fmt::Write;

use quick_xml::escape::escape;
use serde_json::Value;

use crate::change::{Fields, Kind, Patrolled, RecentChange};

impl RecentChange {
    /// The change as an XMLRC `<rc>` element (the API's attribute names, `wikiid` for the
    /// wiki, and the feeds' `server_url`, `server_name`, `server_script_path` and
    /// `log_action_comment`, and this crate's `url` and `entry_id`, when known). Parsing it back gives the same values, but for
    /// the structure of `log_params` and `extra`, which XML attributes hold as text.
    ///
    /// ```
    /// let rc = recentchanges_core::parse(r#"{"id": 4, "type": "edit", "namespace": 0, "title": "A & B",
    ///     "timestamp": 1795424344, "user": "Admin", "minor": true, "wiki": "wikidb",
    ///     "length": {"old": 22, "new": 14}, "revision": {"old": 2, "new": 3}}"#)?;
    /// let xml = rc.to_rc_xml();
    /// assert_eq!(xml, r#"<rc type="edit" rcid="4" wikiid="wikidb" ns="0" title="A &amp; B" revid="3" old_revid="2" user="Admin" minor="" oldlen="22" newlen="14" timestamp="2026-11-23T08:59:04Z"><tags/></rc>"#);
    /// assert_eq!(recentchanges_core::parse_rc(&xml)?.title, rc.title);
    /// # Ok::<(), recentchanges_core::ParseError>(())
    /// ```
    pub fn to_rc_xml(&self) -> String {
        let mut s = String::with_capacity(512);
        s.push_str("<rc");
        let mut attr = |name: &str, value: &str| {
            let _ = write!(s, r#" {name}="{}""#, escape(value));
        };
        attr("type", self.kind.as_str());
        let num = |n: Option<u64>| n.map(|n| n.to_string());
        let fields: [(&str, Option<String>); 7] = [
            ("rcid", num(self.rcid)),
            ("wikiid", self.wiki.clone()),
            ("ns", self.namespace.map(|n| n.to_string())),
            ("title", self.title.clone()),
            ("pageid", num(self.page_id)),
            ("revid", num(self.rev_id)),
            ("old_revid", num(self.old_rev_id)),
        ];
        for (name, value) in &fields {
            if let Some(v) = value {
                attr(name, v);
            }
        }
        if let Some(u) = &self.user {
            attr("user", u);
        }
        if let Some(id) = self.user_id {
            attr("userid", &id.to_string());
        }
        let flags = [
            ("bot", self.bot),
            ("new", self.kind == Kind::New),
            ("minor", self.minor),
            ("anon", self.anon),
            ("redirect", self.redirect),
            (
                "patrolled",
                matches!(
                    self.patrolled,
                    Patrolled::Patrolled | Patrolled::Autopatrolled
                ),
            ),
            ("autopatrolled", self.patrolled == Patrolled::Autopatrolled),
            ("unpatrolled", self.patrolled == Patrolled::Unpatrolled),
            ("commenthidden", self.comment_hidden),
            ("userhidden", self.user_hidden),
            ("actionhidden", self.action_hidden),
            ("suppressed", self.suppressed),
        ];
        for (name, on) in flags {
            if on {
                attr(name, "");
            }
        }
        let rest: [(&str, Option<String>); 15] = [
            ("oldlen", num(self.old_len)),
            ("newlen", num(self.new_len)),
            (
                "timestamp",
                self.timestamp
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ),
            ("comment", self.comment.clone()),
            ("parsedcomment", self.parsed_comment.clone()),
            ("sha1", self.sha1.clone()),
            ("logid", num(self.log_id)),
            ("logtype", self.log_type.clone()),
            ("logaction", self.log_action.clone()),
            ("log_action_comment", self.log_action_comment.clone()),
            ("server_url", self.server_url.clone()),
            ("server_name", self.server_name.clone()),
            ("server_script_path", self.script_path.clone()),
            ("url", self.url.clone()),
            ("entry_id", self.entry_id.clone()),
        ];
        for (name, value) in &rest {
            if let Some(v) = value {
                attr(name, v);
            }
        }
        for (name, value) in &self.extra {
            if let (true, Value::String(v)) = (is_xml_name(name), value) {
                attr(name, v);
            }
        }
        s.push('>');
        if !self.log_params.is_empty() {
            write_fields(&mut s, "logparams", &self.log_params);
        }
        if self.tags.is_empty() {
            s.push_str("<tags/>");
        } else {
            s.push_str("<tags>");
            for t in &self.tags {
                let _ = write!(s, "<tag>{}</tag>", escape(t.as_str()));
            }
            s.push_str("</tags>");
        }
        s.push_str("</rc>");
        s
    }
}

fn is_xml_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A map as an element: strings as attributes, lists and maps as child elements, the way
/// the API's XML format writes `logparams`.
fn write_fields(s: &mut String, name: &str, fields: &Fields) {
    let _ = write!(s, "<{name}");
    for (k, v) in fields.iter().filter(|(k, _)| is_xml_name(k)) {
        match v {
            Value::String(t) => {
                let _ = write!(s, r#" {k}="{}""#, escape(t.as_str()));
            }
            Value::Number(n) => {
                let _ = write!(s, r#" {k}="{n}""#);
            }
            Value::Bool(true) => {
                let _ = write!(s, r#" {k}="""#);
            }
            _ => {}
        }
    }
    s.push('>');
    for (k, v) in fields.iter().filter(|(k, _)| is_xml_name(k)) {
        write_value(s, k, v);
    }
    let _ = write!(s, "</{name}>");
}

fn write_value(s: &mut String, name: &str, v: &Value) {
    match v {
        Value::Array(items) => {
            let _ = write!(s, "<{name}>");
            for item in items {
                match item {
                    Value::Object(m) => write_fields(s, "_v", m),
                    Value::String(t) => {
                        let _ = write!(s, "<_v>{}</_v>", escape(t.as_str()));
                    }
                    other => {
                        let _ = write!(s, "<_v>{other}</_v>");
                    }
                }
            }
            let _ = write!(s, "</{name}>");
        }
        Value::Object(m) => write_fields(s, name, m),
        _ => {}
    }
}
