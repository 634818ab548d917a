//! One EventStreams event: its body (a recent change, or the JSON of another stream's
//! event) and its delivery data (stream, Kafka topic, partition, offset, event id, time).

use chrono::{DateTime, Utc};
use recentchanges_core::RecentChange;
use serde_json::{Map, Value};

use super::error::EventStreamsError;

/// Where and when an event was delivered: its `meta` and its Kafka place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The stream, `meta.stream` (e.g. `mediawiki.recentchange`).
    pub stream: Option<String>,
    /// The Kafka topic, `meta.topic` (e.g. `eqiad.mediawiki.recentchange`).
    pub topic: Option<String>,
    /// The partition of the topic, `meta.partition`.
    pub partition: Option<i32>,
    /// The offset in the topic-partition, `meta.offset`.
    pub offset: Option<i64>,
    /// The event's unique id, `meta.id` (a UUID).
    pub event_id: Option<String>,
    /// When the event happened, `meta.dt`.
    pub dt: Option<DateTime<Utc>>,
    /// The wiki's domain, `meta.domain` (`canary` for EventStreams' test events).
    pub domain: Option<String>,
}

impl Delivery {
    /// `topic/partition@offset`, or the event id, or `?`: how errors name an event.
    pub fn describe(&self) -> String {
        match (&self.topic, self.partition, self.offset) {
            (Some(t), Some(p), Some(o)) => format!("{t}/{p}@{o}"),
            _ => self.event_id.clone().unwrap_or_else(|| "?".into()),
        }
    }

    /// Whether this is one of the canary events EventStreams sends to check itself.
    pub fn is_canary(&self) -> bool {
        self.domain.as_deref() == Some("canary")
    }

    /// Reads `meta`: a field of the wrong type is an error naming it (`meta.offset`...).
    pub(crate) fn from_meta(meta: Option<&Value>) -> Result<Delivery, String> {
        let Some(meta) = meta else {
            return Ok(Delivery::default());
        };
        let Value::Object(meta) = meta else {
            return Err("field `meta`: expected an object".into());
        };
        let dt = match text(meta, "dt")? {
            None => None,
            Some(s) => Some(
                DateTime::parse_from_rfc3339(&s)
                    .map_err(|e| format!("field `meta.dt`: {s:?} is not an RFC 3339 time: {e}"))?
                    .with_timezone(&Utc),
            ),
        };
        let partition = match integer(meta, "partition")? {
            None => None,
            Some(p) => Some(
                i32::try_from(p)
                    .map_err(|_| format!("field `meta.partition`: {p} is too large"))?,
            ),
        };
        Ok(Delivery {
            stream: text(meta, "stream")?,
            topic: text(meta, "topic")?,
            partition,
            offset: integer(meta, "offset")?,
            event_id: text(meta, "id")?,
            dt,
            domain: text(meta, "domain")?,
        })
    }
}

fn text(meta: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match meta.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "field `meta.{key}`: expected a string, found {other}"
        )),
    }
}

fn integer(meta: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    match meta.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(other) => Err(format!(
            "field `meta.{key}`: expected an integer, found {other}"
        )),
    }
}

/// What an event holds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Body {
    /// A recent change (stream `mediawiki.recentchange`), typed; its `meta` stays in
    /// [`RecentChange::extra`].
    Change(Box<RecentChange>),
    /// An event of another stream (`revision-create`, `page-delete`...), as its JSON.
    Other(Value),
}

/// One event: what it holds and how it was delivered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The event.
    pub body: Body,
    /// Its stream, topic, partition, offset, id and time.
    pub delivery: Delivery,
}

impl Event {
    /// The recent change, for events of the `recentchange` stream.
    pub fn change(&self) -> Option<&RecentChange> {
        match &self.body {
            Body::Change(c) => Some(c),
            Body::Other(_) => None,
        }
    }
}

/// Whether a stream's events are recent changes.
pub(crate) fn is_recentchange_stream(stream: &str) -> bool {
    stream == "mediawiki.recentchange" || stream == "recentchange"
}

/// An event whose data did not decode: what of its delivery data could be read, and why.
pub(crate) type Undecodable = Box<(Delivery, String)>;

/// Decodes an event's `data`. `all_changes`: every event of the connection is a recent
/// change (only `recentchange` was asked for), so it is parsed straight into one.
pub(crate) fn decode(data: &str, all_changes: bool) -> Result<Event, Undecodable> {
    if all_changes {
        return match recentchanges_core::parse_json(data) {
            Ok(change) => {
                let delivery = Delivery::from_meta(change.extra.get("meta"))
                    .map_err(|e| Box::new((meta_of(data), e)))?;
                Ok(Event {
                    body: Body::Change(Box::new(change)),
                    delivery,
                })
            }
            Err(e) => Err(Box::new((meta_of(data), e.to_string()))),
        };
    }
    let value: Value = serde_json::from_str(data)
        .map_err(|e| Box::new((Delivery::default(), format!("invalid JSON: {e}"))))?;
    let delivery =
        Delivery::from_meta(value.get("meta")).map_err(|e| Box::new((Delivery::default(), e)))?;
    if delivery
        .stream
        .as_deref()
        .is_some_and(is_recentchange_stream)
    {
        return match recentchanges_core::parse_json(data) {
            Ok(change) => Ok(Event {
                body: Body::Change(Box::new(change)),
                delivery,
            }),
            Err(e) => Err(Box::new((delivery, e.to_string()))),
        };
    }
    Ok(Event {
        body: Body::Other(value),
        delivery,
    })
}

/// The delivery data of an event whose body did not parse, as far as it can be read.
fn meta_of(data: &str) -> Delivery {
    serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|v| Delivery::from_meta(v.get("meta")).ok())
        .unwrap_or_default()
}

/// The error item for an event that did not decode.
pub(crate) fn bad_event(delivery: &Delivery, sse_id: &str, reason: String) -> EventStreamsError {
    let at = if delivery.topic.is_some() || delivery.event_id.is_some() {
        delivery.describe()
    } else if !sse_id.is_empty() {
        format!("with id {sse_id}")
    } else {
        "?".into()
    };
    EventStreamsError::BadEvent { at, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#""meta":{"uri":"http://w/wiki/A","request_id":"r","id":"u-1","dt":"2026-11-23T10:45:53.123Z","domain":"w.example","stream":"mediawiki.recentchange","topic":"eqiad.mediawiki.recentchange","partition":0,"offset":7}"#;

    #[test]
    fn a_recent_change_keeps_its_delivery_data() {
        let data = format!(
            r#"{{"$schema":"/mediawiki/recentchange/1.0.0",{META},"id":3,"type":"edit","namespace":0,"title":"A","timestamp":1795430752,"user":"U","wiki":"w"}}"#
        );
        for all in [true, false] {
            let ev = decode(&data, all).unwrap();
            assert_eq!(ev.change().unwrap().rcid, Some(3));
            assert_eq!(ev.delivery.offset, Some(7));
            assert_eq!(
                ev.delivery.topic.as_deref(),
                Some("eqiad.mediawiki.recentchange")
            );
            assert_eq!(ev.delivery.event_id.as_deref(), Some("u-1"));
            assert_eq!(
                ev.delivery.dt.unwrap().to_rfc3339(),
                "2026-11-23T10:45:53.123+00:00"
            );
            assert_eq!(ev.delivery.describe(), "eqiad.mediawiki.recentchange/0@7");
        }
    }

    #[test]
    fn another_stream_s_event_is_kept_as_json() {
        let data = r#"{"$schema":"/mediawiki/revision/create/1.1.0","meta":{"stream":"mediawiki.revision-create","topic":"eqiad.mediawiki.revision-create","partition":0,"offset":1},"rev_id":9}"#;
        let ev = decode(data, false).unwrap();
        assert!(matches!(&ev.body, Body::Other(v) if v["rev_id"] == 9));
        assert_eq!(
            ev.delivery.stream.as_deref(),
            Some("mediawiki.revision-create")
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let data = format!(
            r#"{{{META},"id":3,"type":"edit","namespace":"zero","title":"A","timestamp":1795430752}}"#
        );
        let (delivery, why) = *decode(&data, true).unwrap_err();
        assert!(why.contains("namespace"), "{why}");
        assert_eq!(
            delivery.offset,
            Some(7),
            "the place of the bad event is still known"
        );
        let (_, why) =
            *decode(r#"{"meta":{"offset":"7"},"id":1,"type":"edit"}"#, true).unwrap_err();
        assert!(why.contains("meta.offset"), "{why}");
        let (_, why) = *decode("{not json", false).unwrap_err();
        assert!(why.contains("invalid JSON"), "{why}");
    }
}
