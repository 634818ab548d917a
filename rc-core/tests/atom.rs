//! Atom entries (DokuWiki's dokupubsub payloads): every part of an entry reaches the change.

use recentchanges_core::{parse, parse_atom, Form, Kind, ParseError};
use serde_json::json;

/// An entry the way DokuWiki's Atom feed writes a page change, with the parts RFC 4287
/// allows beside them.
const ENTRY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<entry xmlns="http://www.w3.org/2005/Atom" xml:lang="de">
  <title>wiki:café</title>
  <link rel="alternate" type="text/html" href="http://127.0.0.1:8080/doku.php?id=wiki:caf%C3%A9&amp;rev=1795424344"/>
  <link rel="edit" href="http://127.0.0.1:8080/doku.php?id=wiki:caf%C3%A9&amp;do=edit"/>
  <id>http://127.0.0.1:8080/doku.php?id=wiki:caf%C3%A9&amp;rev=1795424344</id>
  <published>2026-11-23T08:00:00Z</published>
  <updated>2026-11-23T09:59:04+01:00</updated>
  <author><name>alice</name><email>alice@example.org</email></author>
  <summary>fixed a typo &amp; a link</summary>
  <content type="html">&lt;p&gt;Hello&lt;/p&gt;</content>
  <category term="wiki"/>
  <category term="draft" scheme="http://127.0.0.1:8080/tags" label="Draft"/>
  <rights>CC BY-SA</rights>
</entry>"#;

#[test]
fn every_part_of_an_entry_is_kept() {
    let rc = parse_atom(ENTRY).unwrap();
    assert_eq!(rc.kind, Kind::Edit);
    assert_eq!(rc.title.as_deref(), Some("wiki:café"));
    assert_eq!(
        rc.url.as_deref(),
        Some("http://127.0.0.1:8080/doku.php?id=wiki:caf%C3%A9&rev=1795424344")
    );
    assert_eq!(rc.entry_id, rc.url);
    assert_eq!(
        rc.timestamp.unwrap().to_rfc3339(),
        "2026-11-23T08:59:04+00:00"
    );
    assert_eq!(rc.user.as_deref(), Some("alice"));
    assert_eq!(rc.comment.as_deref(), Some("fixed a typo & a link"));
    assert_eq!(rc.tags, ["wiki", "draft"]);
    let extra = serde_json::Value::Object(rc.extra.clone());
    assert_eq!(extra["@lang"], "de");
    assert_eq!(extra["published"], "2026-11-23T08:00:00Z");
    assert_eq!(
        extra["content"],
        json!({"type": "html", "text": "<p>Hello</p>"})
    );
    assert_eq!(
        extra["link"],
        json!([{"rel": "edit", "href": "http://127.0.0.1:8080/doku.php?id=wiki:caf%C3%A9&do=edit"}])
    );
    assert_eq!(
        extra["author"],
        json!([{"name": "alice", "email": "alice@example.org"}])
    );
    assert_eq!(
        extra["category"],
        json!([{"term": "draft", "scheme": "http://127.0.0.1:8080/tags", "label": "Draft"}])
    );
    assert_eq!(extra["rights"], "CC BY-SA");
    assert_eq!(rc.extra.len(), 7, "{:?}", rc.extra);
}

#[test]
fn parse_detects_an_entry_and_display_uses_its_link() {
    let rc = parse(ENTRY).unwrap();
    assert_eq!(rc.title.as_deref(), Some("wiki:café"));
    assert_eq!(
        recentchanges_core::detect(ENTRY.as_bytes()),
        Some(Form::Atom)
    );
    assert_eq!(
        rc.to_string(),
        "[[wiki:café]]  http://127.0.0.1:8080/doku.php?id=wiki:caf%C3%A9&rev=1795424344 * alice * fixed a typo & a link"
    );
}

#[test]
fn a_minimal_entry_and_xhtml_text() {
    let rc = parse_atom(
        r#"<entry xmlns="http://www.w3.org/2005/Atom"><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Start <b>page</b></div></title></entry>"#,
    )
    .unwrap();
    assert_eq!(rc.title.as_deref(), Some("Start page"));
    assert_eq!((rc.url, rc.user, rc.timestamp), (None, None, None));
    assert!(rc.extra.is_empty(), "{:?}", rc.extra);
}

#[test]
fn published_stands_in_for_a_missing_updated() {
    let rc =
        parse_atom("<entry><title>a</title><published>2026-11-23T08:00:00Z</published></entry>")
            .unwrap();
    assert_eq!(
        rc.timestamp.unwrap().to_rfc3339(),
        "2026-11-23T08:00:00+00:00"
    );
    assert!(rc.extra.is_empty());
}

#[test]
fn repeated_unknown_elements_become_a_list() {
    let rc = parse_atom("<entry><title>a</title><x>1</x><x>2</x><x>3</x><y>4</y></entry>").unwrap();
    assert_eq!(rc.extra["x"], json!(["1", "2", "3"]));
    assert_eq!(rc.extra["y"], json!("4"));
}

#[test]
fn bad_entries_say_what_is_wrong() {
    let err = parse_atom("<entry><id>x</id></entry>").unwrap_err();
    assert_eq!(
        err,
        ParseError::Missing {
            form: Form::Atom,
            what: "element",
            name: "title"
        }
    );
    assert_eq!(
        err.to_string(),
        "Atom entry: required element `title` is missing"
    );

    let err =
        parse_atom("<entry><title>a</title><updated>yesterday</updated></entry>").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Atom entry: element `updated` has "yesterday", expected an RFC 3339 date"#
    );

    let err = parse_atom(r#"<rc type="edit"/>"#).unwrap_err();
    assert!(
        matches!(
            err,
            ParseError::WrongRoot {
                form: Form::Atom,
                ..
            }
        ),
        "{err}"
    );

    let err = parse_atom("<entry><title>a</title>").unwrap_err();
    assert!(err.to_string().contains("ends before </entry>"), "{err}");
}

#[test]
fn an_entry_written_as_rc_keeps_link_and_id() {
    let rc = parse_atom(ENTRY).unwrap();
    let back = recentchanges_core::parse_rc(rc.to_rc_xml()).unwrap();
    assert_eq!((back.url, back.entry_id), (rc.url, rc.entry_id));
}

#[cfg(feature = "minidom")]
#[test]
fn an_entry_inside_a_pubsub_item_parses_without_reserialising() {
    let item: minidom::Element = format!(
        r#"<item xmlns="http://jabber.org/protocol/pubsub#event" id="i1">{}</item>"#,
        ENTRY
            .trim_start_matches(r#"<?xml version="1.0" encoding="utf-8"?>"#)
            .trim()
    )
    .parse()
    .unwrap();
    let entry = item.children().next().unwrap();
    let from_element = recentchanges_core::from_element(entry).unwrap();
    assert_eq!(from_element, parse_atom(ENTRY).unwrap());
}
