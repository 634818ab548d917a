//! Reading a `list=recentchanges&format=xml` answer: each `<rc>` element is handed, as the
//! exact slice of the answer's text, to rc-core's `<rc>` parser; the `<continue>` element
//! gives the next request's parameters.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::{Reader, XmlVersion};
use recentchanges_core::{ParseError, RecentChange};

/// One `<rc>` row of an answer.
#[derive(Debug)]
pub(crate) struct Row {
    pub rcid: Option<u64>,
    pub timestamp: Option<DateTime<Utc>>,
    pub change: Result<RecentChange, ParseError>,
}

/// One answer.
#[derive(Debug, Default)]
pub(crate) struct RcPage {
    pub rows: Vec<Row>,
    /// The `<continue>` attributes; empty when the listing is complete.
    pub cont: BTreeMap<String, String>,
}

/// Reads an answer; `Err` says why it is not a recent-changes listing.
pub(crate) fn parse_page(
    body: &str,
    parser: &recentchanges_core::Parser,
) -> Result<RcPage, String> {
    let mut reader = Reader::from_str(body);
    let mut page = RcPage::default();
    let mut stack: Vec<String> = Vec::new();
    let mut saw_query = false;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| format!("bad XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) if is_row(&stack, &e) => {
                let name = e.name().as_ref().to_owned();
                let (rcid, ts) = row_keys(&e);
                reader
                    .read_to_end(QName(&name))
                    .map_err(|e| format!("bad XML in <rc> at byte {before}: {e}"))?;
                let end = reader.buffer_position() as usize;
                page.rows.push(row(
                    parser,
                    body.get(before..end).unwrap_or_default(),
                    rcid,
                    ts,
                ));
            }
            Event::Empty(e) if is_row(&stack, &e) => {
                let (rcid, ts) = row_keys(&e);
                let end = reader.buffer_position() as usize;
                page.rows.push(row(
                    parser,
                    body.get(before..end).unwrap_or_default(),
                    rcid,
                    ts,
                ));
            }
            Event::Empty(e) if stack.len() == 1 && e.local_name().as_ref() == "continue" => {
                read_continue(&e, &mut page.cont)?;
            }
            Event::Start(e) => {
                if stack.len() == 1 && e.local_name().as_ref() == "query" {
                    saw_query = true;
                }
                if stack.len() == 1 && e.local_name().as_ref() == "continue" {
                    read_continue(&e, &mut page.cont)?;
                }
                stack.push(e.local_name().as_ref().to_owned());
            }
            Event::Empty(e) if stack.len() == 1 && e.local_name().as_ref() == "query" => {
                saw_query = true;
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_query && page.rows.is_empty() {
        return Err(format!(
            "no <query> element in the answer: {}",
            crate::api::snippet(body)
        ));
    }
    Ok(page)
}

fn read_continue(e: &BytesStart<'_>, cont: &mut BTreeMap<String, String>) -> Result<(), String> {
    for a in e.attributes().flatten() {
        let k = a.key.as_ref().to_owned();
        let v = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("bad <continue> attribute: {e}"))?;
        cont.insert(k, v.into_owned());
    }
    Ok(())
}

/// `<rc>` inside `<api><query><recentchanges>`.
fn is_row(stack: &[String], e: &BytesStart<'_>) -> bool {
    e.local_name().as_ref() == "rc"
        && stack.len() == 3
        && stack[1] == "query"
        && stack[2] == "recentchanges"
}

fn row(
    parser: &recentchanges_core::Parser,
    xml: &str,
    rcid: Option<u64>,
    timestamp: Option<DateTime<Utc>>,
) -> Row {
    Row {
        rcid,
        timestamp,
        change: parser.parse_rc(xml),
    }
}

/// The rcid and timestamp of a row, read from its start tag (so that even a row that does
/// not parse moves the position on).
fn row_keys(e: &BytesStart<'_>) -> (Option<u64>, Option<DateTime<Utc>>) {
    let attr = |name: &str| {
        e.try_get_attribute(name).ok().flatten().and_then(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
    };
    let rcid = attr("rcid").and_then(|v| v.parse().ok());
    let ts = attr("timestamp")
        .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| t.with_timezone(&Utc));
    (rcid, ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_and_continue() {
        let body = r#"<?xml version="1.0"?><api batchcomplete=""><continue rccontinue="20261123104553|8" continue="-||" /><query><recentchanges><rc type="new" ns="0" title="A &amp; B" pageid="1" revid="1" old_revid="0" rcid="1" user="U" timestamp="2026-11-23T10:45:51Z"><tags /></rc><rc type="edit" ns="0" title="X" rcid="x2" timestamp="2026-11-23T10:45:52Z" /><rc type="log" ns="2" title="User:B" rcid="3" timestamp="2026-11-23T10:45:53Z"><logparams userid="3" /><tags><tag>t</tag></tags></rc></recentchanges></query></api>"#;
        let page = parse_page(body, &recentchanges_core::Parser::new()).unwrap();
        assert_eq!(page.rows.len(), 3);
        let first = page.rows[0].change.as_ref().unwrap();
        assert_eq!(first.title.as_deref(), Some("A & B"));
        assert_eq!(first.old_rev_id, None);
        assert!(page.rows[1].change.is_err());
        assert_eq!(page.rows[1].rcid, None);
        assert_eq!(
            page.rows[1].timestamp.map(|t| t.to_rfc3339()),
            Some("2026-11-23T10:45:52+00:00".into())
        );
        assert_eq!(page.rows[2].change.as_ref().unwrap().tags, vec!["t"]);
        assert_eq!(page.cont["rccontinue"], "20261123104553|8");
        assert_eq!(page.cont["continue"], "-||");
    }

    #[test]
    fn an_empty_listing_is_fine_and_garbage_is_not() {
        let body =
            r#"<?xml version="1.0"?><api batchcomplete=""><query><recentchanges /></query></api>"#;
        let page = parse_page(body, &recentchanges_core::Parser::new()).unwrap();
        assert!(page.rows.is_empty() && page.cont.is_empty());
        assert!(parse_page("<html>oops</html>", &recentchanges_core::Parser::new()).is_err());
    }

    #[test]
    fn the_recorded_api_answer_parses_like_its_fixtures() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../rc-core/tests/fixtures/mediawiki-1.39"
        );
        let body = std::fs::read_to_string(format!("{dir}/api-recentchanges.xml")).unwrap();
        let page = parse_page(&body, &recentchanges_core::Parser::new()).unwrap();
        assert!(page.rows.len() > 50, "{}", page.rows.len());
        for row in &page.rows {
            let rc = row.change.as_ref().expect("every recorded row parses");
            assert_eq!(rc.rcid, row.rcid);
            assert_eq!(rc.timestamp, row.timestamp);
        }
    }
}
