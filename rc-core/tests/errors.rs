//! Bad input gives an error that names what was wrong, where, and never panics.

use recentchanges_core::{parse, parse_json, Form, ParseError, Parser};

fn message(input: &str) -> String {
    parse(input).unwrap_err().to_string()
}

#[test]
fn bad_attribute_values_are_named_with_their_offset() {
    assert_eq!(
        message(r#"<rc type="edit" ns="main" title="A"/>"#),
        r#"<rc> element: attribute `ns` has "main", expected a namespace number (at byte 20)"#
    );
    assert_eq!(
        message(r#"<rc type="edit" timestamp="yesterday"/>"#),
        r#"<rc> element: attribute `timestamp` has "yesterday", expected an ISO 8601 timestamp like 2026-11-23T08:59:04Z (at byte 27)"#
    );
    assert_eq!(
        message(r#"<recentchange type="edit" timestamp="2026-11-23"/>"#),
        r#"<recentchange> element: attribute `timestamp` has "2026-11-23", expected a Unix timestamp in seconds (at byte 37)"#
    );
}

#[test]
fn bad_child_values_name_their_path() {
    let err = parse(r#"<recentchange type="edit"><length old="-3" new="4"/></recentchange>"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"<recentchange> element: element `length/@old` has "-3", expected an unsigned integer (at byte 0)"#
    );
}

#[test]
fn long_values_are_truncated_in_messages() {
    let long = "9".repeat(500);
    let err = parse(format!(r#"<rc type="edit" rcid="{long}x"/>"#)).unwrap_err();
    let ParseError::Invalid { value, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        value.chars().count(),
        2 + recentchanges_core::SNIPPET_CHARS + 1,
        "quoted, cut, with an ellipsis: {value}"
    );
    assert!(err.to_string().len() < 200);
}

#[test]
fn json_type_errors_name_the_field_and_position() {
    let err = parse_json(r#"{"type": "edit", "id": "four"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"JSON change: field `id` has string "four", expected an unsigned integer (at byte 28)"#
    );
    let err = parse_json(r#"{"type": "edit", "length": {"old": "x"}}"#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("JSON change: field `length` has string \"x\""),
        "{err}"
    );
}

#[test]
fn missing_type_is_reported() {
    assert_eq!(
        message(r#"<rc title="A"/>"#),
        "<rc> element: required attribute `type` is missing"
    );
    assert_eq!(
        message(r#"{"title": "A"}"#),
        "JSON change: required field `type` is missing"
    );
}

#[test]
fn malformed_documents() {
    assert_eq!(
        message(r#"<rc type="edit" title="A">"#),
        "<rc> element: malformed input at byte 26: the document ends before </rc>"
    );
    let err = parse(r#"<rc type="edit"><tags></rc>"#).unwrap_err();
    assert!(
        matches!(
            err,
            ParseError::Syntax {
                form: Form::RcXml,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("tags"),
        "names the unclosed element: {err}"
    );
    let err = parse(r#"{"type": "edit", "#).unwrap_err();
    assert!(
        matches!(
            err,
            ParseError::Syntax {
                form: Form::FeedJson,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        message(r#"<rc type="edit"/><rc type="edit"/>"#),
        "<rc> element: malformed input at byte 17: unexpected content after the root element"
    );
    assert_eq!(
        message("<rc type=\"edit\" title=\"&nbsp;\"/>"),
        message("<rc type=\"edit\" title=\"&nbsp;\"/>")
    );
    assert!(message("<rc type=\"edit\" title=\"&nbsp;\"/>").contains("nbsp"));
    assert!(
        message("<rc type=\"edit\"><tags><tag>&bogus;</tag></tags></rc>")
            .contains("undefined entity &bogus;")
    );
}

#[test]
fn dtds_and_entity_expansion_are_refused() {
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE rc [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><rc type="edit" title="&b;"/>"#;
    let err = parse_rc(bomb).unwrap_err();
    assert_eq!(
        err,
        ParseError::Dtd {
            form: Form::RcXml,
            offset: 21
        }
    );
    assert_eq!(
        err.to_string(),
        "<rc> element: DTDs and entity declarations are refused (at byte 21)"
    );
}

use recentchanges_core::parse_rc;

#[test]
fn unknown_empty_oversized_and_non_utf8_inputs() {
    assert_eq!(
        message("hello"),
        r#"not a recent change: expected <rc>, <recentchange>, an Atom <entry> or a JSON object, found "hello""#
    );
    assert_eq!(
        message("<page title=\"A\"/>"),
        r#"not a recent change: expected <rc>, <recentchange>, an Atom <entry> or a JSON object, found "<page title=\"A\"/>""#
    );
    assert_eq!(parse("  \n").unwrap_err(), ParseError::Empty);
    assert_eq!(
        parse(b"<rc type=\"edit\" title=\"\xff\"/>").unwrap_err(),
        ParseError::NotUtf8 { offset: 23 }
    );
    let huge = format!(r#"<rc type="edit" comment="{}"/>"#, "x".repeat(2 << 20));
    assert_eq!(
        parse(&huge).unwrap_err(),
        ParseError::TooLarge {
            size: huge.len(),
            limit: recentchanges_core::DEFAULT_MAX_BYTES
        }
    );
    assert!(
        Parser::new().max_bytes(4 << 20).parse(&huge).is_ok(),
        "the cap is configurable"
    );
}

#[test]
fn deep_nesting_is_refused_not_recursed() {
    let deep = format!(
        r#"<rc type="edit">{}{}</rc>"#,
        "<x>".repeat(10_000),
        "</x>".repeat(10_000)
    );
    let err = parse(&deep).unwrap_err();
    assert!(
        err.to_string().contains(
            "element `x` has nesting depth 33, expected at most 32 levels below the root"
        ),
        "{err}"
    );
}
