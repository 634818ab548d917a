//! The structs of WikiRPC answers: a `getRecentChanges` entry as a [`RecentChange`], and
//! [`PageInfo`].

use chrono::{DateTime, Utc};
use recentchanges_core::{Fields, Kind, RecentChange};

use super::client::Dialect;
use super::xmlrpc::Value;

/// What `getPageInfo` says about a page version.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PageInfo {
    /// The canonical page name, decoded.
    pub name: String,
    /// When the version was saved, UTC.
    pub last_modified: Option<DateTime<Utc>>,
    /// Its author, decoded; `None` when the wiki does not know one.
    pub author: Option<String>,
    /// The version (DokuWiki: the revision's Unix timestamp).
    pub version: Option<i64>,
    /// The other members, by wire name.
    pub extra: Fields,
}

impl PageInfo {
    pub(crate) fn from_value(d: Dialect, v: &Value) -> Result<PageInfo, String> {
        let Value::Struct(members) = v else {
            return Err(format!("a {} instead of a struct", v.type_name()));
        };
        let mut info = PageInfo {
            name: String::new(),
            last_modified: None,
            author: None,
            version: None,
            extra: Fields::new(),
        };
        let mut name = None;
        for (k, v) in members {
            match (k.as_str(), v) {
                ("name", Value::String(s)) => name = Some(d.decode_name(s)),
                ("lastModified", Value::DateTime(t)) => info.last_modified = Some(*t),
                ("author", Value::String(s)) if !s.is_empty() => {
                    info.author = Some(d.decode_name(s))
                }
                ("version", Value::Int(i)) => info.version = Some(*i),
                _ => {
                    info.extra.insert(k.clone(), v.to_json());
                }
            }
        }
        info.name = name.ok_or("no page name")?;
        Ok(info)
    }
}

/// One `getRecentChanges` entry, read.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The page name as sent (the key, with `version`, of a change).
    pub(crate) wire_name: String,
    pub(crate) version: Option<i64>,
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) change: RecentChange,
}

/// Reads one entry: `name` (string) and `lastModified` (date) are required; `author`
/// (string), `version` and `size` (int) are typed when present; everything else lands in
/// `extra` under its wire name.
pub(crate) fn read_entry(d: Dialect, v: &Value) -> Result<Entry, (Option<String>, String)> {
    let Value::Struct(members) = v else {
        return Err((
            None,
            format!("a value of type {} instead of a struct", v.type_name()),
        ));
    };
    let mut rc = RecentChange::new(Kind::Edit);
    let mut wire_name = None;
    let mut timestamp = None;
    let mut version = None;
    let mut problem: Option<String> = None;
    for (k, val) in members {
        match (k.as_str(), val) {
            ("name", Value::String(s)) if !s.is_empty() => wire_name = Some(s.clone()),
            ("name", other) => problem = Some(format!("`name` is {}", describe(other))),
            ("lastModified", Value::DateTime(t)) => timestamp = Some(*t),
            ("lastModified", other) => {
                problem = Some(format!("`lastModified` is {}, not a date", describe(other)))
            }
            ("author", Value::String(s)) if !s.is_empty() => rc.user = Some(d.decode_name(s)),
            ("version", v) if v.as_i64().is_some_and(|i| i >= 0) => {
                let i = v.as_i64().unwrap_or_default();
                version = Some(i);
                rc.rev_id = u64::try_from(i).ok();
            }
            ("version", other) => {
                problem = Some(format!(
                    "`version` is {}, not a version number",
                    describe(other)
                ))
            }
            ("size", Value::Int(i)) if *i >= 0 => rc.new_len = u64::try_from(*i).ok(),
            _ => {
                rc.extra.insert(k.clone(), val.to_json());
            }
        }
    }
    let title = wire_name.as_deref().map(|n| d.decode_name(n));
    if let Some(p) = problem {
        return Err((title, p));
    }
    let Some(wire_name) = wire_name else {
        return Err((None, "no `name`".into()));
    };
    let Some(timestamp) = timestamp else {
        return Err((title, "no `lastModified`".into()));
    };
    rc.title = title;
    rc.timestamp = Some(timestamp);
    if d == Dialect::JspWiki && version == Some(1) {
        rc.kind = Kind::New;
    }
    Ok(Entry {
        wire_name,
        version,
        timestamp,
        change: rc,
    })
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "an empty string".into(),
        Value::String(s) => format!("the string {:?}", crate::api::snippet(s)),
        other => format!("a value of type {}", other.type_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(members: &[(&str, Value)]) -> Value {
        Value::Struct(
            members
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn t() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_438_402, 0).unwrap()
    }

    #[test]
    fn a_dokuwiki_entry_is_typed_and_keeps_the_rest() {
        let e = read_entry(
            Dialect::DokuWiki,
            &entry(&[
                ("name", "wiki:start".into()),
                ("lastModified", Value::DateTime(t())),
                ("author", "editor".into()),
                ("version", Value::Int(1_795_438_402)),
                ("perms", Value::Int(8)),
                ("size", Value::Int(7)),
            ]),
        )
        .unwrap();
        let rc = e.change;
        assert_eq!(rc.kind, Kind::Edit);
        assert_eq!(rc.title.as_deref(), Some("wiki:start"));
        assert_eq!(rc.user.as_deref(), Some("editor"));
        assert_eq!(rc.timestamp, Some(t()));
        assert_eq!((rc.rev_id, rc.new_len), (Some(1_795_438_402), Some(7)));
        assert_eq!(rc.extra["perms"], 8);
    }

    #[test]
    fn a_deleted_dokuwiki_page_has_no_size() {
        let e = read_entry(
            Dialect::DokuWiki,
            &entry(&[
                ("name", "gone".into()),
                ("lastModified", Value::DateTime(t())),
                ("author", "".into()),
                ("size", Value::Bool(false)),
            ]),
        )
        .unwrap();
        assert_eq!(e.change.new_len, None);
        assert_eq!(e.change.user, None);
        assert_eq!(e.change.extra["size"], false);
        assert_eq!(e.change.extra["author"], "");
    }

    #[test]
    fn jspwiki_names_are_decoded_and_version_1_is_new() {
        let e = read_entry(
            Dialect::JspWiki,
            &entry(&[
                ("name", "P%C3%A4ge+One".into()),
                ("lastModified", Value::DateTime(t())),
                ("author", "J%C3%BCrgen".into()),
                ("version", Value::Int(1)),
            ]),
        )
        .unwrap();
        assert_eq!(e.change.title.as_deref(), Some("Päge One"));
        assert_eq!(e.wire_name, "P%C3%A4ge+One");
        assert_eq!(e.change.user.as_deref(), Some("Jürgen"));
        assert_eq!(e.change.kind, Kind::New);
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let no_name = read_entry(
            Dialect::DokuWiki,
            &entry(&[("lastModified", Value::DateTime(t()))]),
        );
        assert_eq!(no_name.unwrap_err(), (None, "no `name`".to_owned()));
        let bad_date = read_entry(
            Dialect::DokuWiki,
            &entry(&[("name", "a".into()), ("lastModified", "yesterday".into())]),
        );
        assert_eq!(
            bad_date.unwrap_err(),
            (
                Some("a".into()),
                "`lastModified` is the string \"yesterday\", not a date".into()
            )
        );
        let not_struct = read_entry(Dialect::DokuWiki, &Value::Int(3));
        assert_eq!(
            not_struct.unwrap_err().1,
            "a value of type int instead of a struct"
        );
    }
}
