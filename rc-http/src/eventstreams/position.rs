//! Where an EventStreams consumer stands: the `Last-Event-ID` it sends when it reconnects.

use serde::{Deserialize, Serialize};

/// One Kafka topic-partition's place, as EventStreams writes it in every event's `id:`:
/// `{"topic": "eqiad.mediawiki.recentchange", "partition": 0, "offset": 4242}` (the
/// next offset to read) or `{..., "timestamp": 1795430752001}` (read from that time on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The Kafka topic, e.g. `eqiad.mediawiki.recentchange`.
    pub topic: String,
    /// The partition of the topic.
    pub partition: i32,
    /// Where in it.
    #[serde(flatten)]
    pub at: At,
}

/// Where in a topic-partition: an offset or a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum At {
    /// The next offset to read.
    Offset(i64),
    /// Milliseconds since the epoch: read the messages from this time on.
    Timestamp(i64),
}

/// The newest place of every topic-partition seen, sent back as `Last-Event-ID`.
///
/// EventStreams writes, as each event's `id`, a JSON array with one [`Assignment`] per
/// topic-partition the connection reads (one per datacenter's topic, several for several
/// streams). A consumer that keeps only the last `id` it saw can send a stale one (an
/// entry that an earlier event had already moved on, e.g. after a reconnect that assigned
/// a topic by time again); this position keeps, for every topic-partition, the newest
/// place any event said, and never goes back.
///
/// It serialises as that array, so a saved position is the header itself:
///
/// ```
/// use recentchanges_http::eventstreams::{At, Position};
/// let pos = Position::from_last_event_id(
///     r#"[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":42},
///         {"topic":"codfw.mediawiki.recentchange","partition":0,"timestamp":1795430752001}]"#)?;
/// assert_eq!(pos.assignments()[0].at, At::Offset(42));
/// assert_eq!(pos.last_event_id().unwrap(),
///     r#"[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":42},{"topic":"codfw.mediawiki.recentchange","partition":0,"timestamp":1795430752001}]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Position(Vec<Assignment>);

impl Position {
    /// Reads a `Last-Event-ID` value (the JSON array of an event's `id`).
    pub fn from_last_event_id(id: &str) -> Result<Position, serde_json::Error> {
        serde_json::from_str(id).map(Position)
    }

    /// The `Last-Event-ID` header to send, `None` before any event.
    pub fn last_event_id(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        serde_json::to_string(&self.0).ok()
    }

    /// Every topic-partition's place.
    pub fn assignments(&self) -> &[Assignment] {
        &self.0
    }

    /// Whether no event has been seen.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the message at `offset` of this topic-partition was read already (the
    /// position is past it by offset).
    pub(crate) fn covers(&self, topic: &str, partition: i32, offset: i64) -> bool {
        self.find(topic, partition)
            .is_some_and(|a| matches!(a.at, At::Offset(next) if offset < next))
    }

    /// Takes in the places an event's `id` says. Per topic-partition the newest place of
    /// the same kind wins; an entry of the other kind (a time where an offset was known)
    /// replaces the known one only for the event's own topic-partition (`own`), the one
    /// the server has surely read on.
    pub(crate) fn advance(&mut self, id: &[Assignment], own: Option<(&str, i32)>) {
        for new in id {
            let is_own = own == Some((new.topic.as_str(), new.partition));
            match self.find_mut(&new.topic, new.partition) {
                None => self.0.push(new.clone()),
                Some(cur) => match (cur.at, new.at) {
                    (At::Offset(a), At::Offset(b)) if b > a => cur.at = new.at,
                    (At::Timestamp(a), At::Timestamp(b)) if b > a => cur.at = new.at,
                    (At::Offset(_), At::Timestamp(_)) | (At::Timestamp(_), At::Offset(_))
                        if is_own =>
                    {
                        cur.at = new.at
                    }
                    _ => {}
                },
            }
        }
    }

    fn find(&self, topic: &str, partition: i32) -> Option<&Assignment> {
        self.0
            .iter()
            .find(|a| a.partition == partition && a.topic == topic)
    }

    fn find_mut(&mut self, topic: &str, partition: i32) -> Option<&mut Assignment> {
        self.0
            .iter_mut()
            .find(|a| a.partition == partition && a.topic == topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(topic: &str, at: At) -> Assignment {
        Assignment {
            topic: topic.into(),
            partition: 0,
            at,
        }
    }

    #[test]
    fn the_position_keeps_the_newest_place_of_every_topic_and_never_goes_back() {
        let mut pos = Position::default();
        pos.advance(
            &[at("eqiad.rc", At::Offset(5)), at("codfw.rc", At::Offset(2))],
            Some(("eqiad.rc", 0)),
        );
        // A later event that carries an older place for codfw (stale) does not move it back.
        pos.advance(
            &[at("eqiad.rc", At::Offset(6)), at("codfw.rc", At::Offset(1))],
            Some(("eqiad.rc", 0)),
        );
        assert_eq!(
            pos.assignments(),
            &[at("eqiad.rc", At::Offset(6)), at("codfw.rc", At::Offset(2))]
        );
        // A time for a topic whose offset is known replaces it only for the event's own.
        pos.advance(&[at("codfw.rc", At::Timestamp(9))], Some(("eqiad.rc", 0)));
        assert_eq!(pos.assignments()[1].at, At::Offset(2));
        pos.advance(&[at("codfw.rc", At::Timestamp(9))], Some(("codfw.rc", 0)));
        assert_eq!(pos.assignments()[1].at, At::Timestamp(9));
        assert!(pos.covers("eqiad.rc", 0, 5));
        assert!(!pos.covers("eqiad.rc", 0, 6));
        assert!(!pos.covers("other", 0, 0));
    }

    #[test]
    fn a_last_event_id_without_offset_or_timestamp_is_refused() {
        assert!(Position::from_last_event_id(r#"[{"topic":"t","partition":0}]"#).is_err());
        assert!(Position::from_last_event_id("not json").is_err());
        assert_eq!(Position::default().last_event_id(), None);
    }
}
