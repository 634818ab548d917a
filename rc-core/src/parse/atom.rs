//! Atom entries (RFC 4287): what DokuWiki's dokupubsub published to XMPP PubSub nodes, one
//! `<entry>` per page change.
//!
//! | Atom | field |
//! | --- | --- |
//! | `title` (required) | `title` |
//! | first `link` with `rel="alternate"` or no `rel` | `url` |
//! | `id` | `entry_id` |
//! | `updated` (else `published`) | `timestamp` |
//! | first `author`'s `name` | `user` |
//! | `summary` | `comment` |
//! | `category/@term` | `tags` |
//!
//! Everything else lands in `extra` by element name: other links (`link`, a list of their
//! attributes), `content` (`{type, src, text}`), `published` when `updated` is there, the
//! authors when there are several or they carry more than a name (`author`), categories
//! with a `scheme` or `label` (`category`), and any other element. An entry does not say
//! whether the page is new, so the kind is [`Kind::Edit`].

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::change::{Kind, RecentChange};
use crate::error::{Form, ParseError};

use super::node::{fields_of, value_of, XmlNode};

/// Reads an `<entry>` element already split into nodes.
pub(crate) fn from_node<N: XmlNode>(entry: &N) -> Result<RecentChange, ParseError> {
    let mut rc = RecentChange::new(Kind::Edit);
    let mut title = None;
    let mut published = None;
    let mut links = Vec::new();
    let mut authors: Vec<&N> = Vec::new();
    let mut categories = Vec::new();
    let mut others: Vec<&N> = Vec::new();
    for (name, value) in entry.attrs() {
        rc.extra
            .insert(format!("@{name}"), Value::String(value.to_owned()));
    }
    for child in entry.children() {
        match child.name() {
            "title" => title = Some(text_construct(child)),
            "id" => rc.entry_id = Some(child.text().trim().to_owned()),
            "updated" => rc.timestamp = Some(date(child)?),
            "published" => published = Some(child),
            "summary" => rc.comment = Some(text_construct(child)),
            "link" => links.push(child),
            "author" => authors.push(child),
            "category" => categories.push(child),
            "content" => {
                let mut content = Map::new();
                for (name, value) in child.attrs() {
                    content.insert(name.to_owned(), Value::String(value.to_owned()));
                }
                content.insert("text".into(), Value::String(text_construct(child)));
                rc.extra.insert("content".into(), Value::Object(content));
            }
            _ => others.push(child),
        }
    }
    for (i, other) in others.iter().enumerate() {
        let name = other.name();
        if others[..i].iter().any(|o| o.name() == name) {
            continue;
        }
        let same: Vec<Value> = others[i..]
            .iter()
            .filter(|o| o.name() == name)
            .map(|o| value_of(*o))
            .collect();
        let value = match <[Value; 1]>::try_from(same) {
            Ok([one]) => one,
            Err(many) => Value::Array(many),
        };
        rc.extra.insert(name.to_owned(), value);
    }
    rc.title = Some(title.ok_or(ParseError::Missing {
        form: Form::Atom,
        what: "element",
        name: "title",
    })?);
    if let Some(published) = published {
        match rc.timestamp {
            None => rc.timestamp = Some(date(published)?),
            Some(_) => {
                rc.extra.insert("published".into(), value_of(published));
            }
        }
    }
    let alternate = links.iter().position(|l| {
        matches!(l.attr("rel"), None | Some("alternate")) && l.attr("href").is_some()
    });
    if let Some(i) = alternate {
        rc.url = links.remove(i).attr("href").map(str::to_owned);
    }
    for link in links {
        push_list(&mut rc.extra, "link", Value::Object(fields_of(link)));
    }
    rc.user = authors.first().and_then(|a| {
        a.children()
            .find(|c| c.name() == "name")
            .map(|n| n.text().trim().to_owned())
    });
    let plain_author =
        |a: &&N| a.children().all(|c| c.name() == "name") && a.attrs().next().is_none();
    if authors.len() > 1 || !authors.iter().all(plain_author) {
        let all = authors
            .iter()
            .map(|a| Value::Object(fields_of(*a)))
            .collect();
        rc.extra.insert("author".into(), Value::Array(all));
    }
    for category in categories {
        if let Some(term) = category.attr("term") {
            rc.tags.push(term.to_owned());
        }
        if category.attrs().any(|(n, _)| n != "term") {
            push_list(
                &mut rc.extra,
                "category",
                Value::Object(fields_of(category)),
            );
        }
    }
    Ok(rc)
}

/// An Atom text construct: its text, or for `type="xhtml"` the text of its markup.
fn text_construct<N: XmlNode>(node: &N) -> String {
    match node.attr("type") {
        Some("xhtml") => {
            let mut text = String::new();
            deep_text(node, &mut text);
            text.trim().to_owned()
        }
        _ => node.text(),
    }
}

fn deep_text<N: XmlNode>(node: &N, out: &mut String) {
    out.push_str(&node.text());
    for child in node.children() {
        deep_text(child, out);
    }
}

fn date<N: XmlNode>(node: &N) -> Result<DateTime<Utc>, ParseError> {
    let text = node.text();
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| ParseError::Invalid {
            form: Form::Atom,
            what: "element",
            name: node.name().to_owned(),
            value: format!("{:?}", crate::error::snippet(text)),
            expected: "an RFC 3339 date".into(),
            offset: None,
        })
}

/// Appends a value to the list under `name`.
fn push_list(extra: &mut Map<String, Value>, name: &str, value: Value) {
    match extra.get_mut(name) {
        Some(Value::Array(items)) => items.push(value),
        _ => {
            extra.insert(name.to_owned(), Value::Array(vec![value]));
        }
    }
}
