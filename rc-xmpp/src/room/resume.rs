//! Where each room's stream stands, so a later process can continue from there.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The last change delivered from each room: the room's stanza id (XEP-0359) and its time.
///
/// Read it with [`ChangeStream::position`](crate::ChangeStream::position), store it
/// anywhere (it is serde), and hand it to
/// [`ClientBuilder::resume`](crate::ClientBuilder::resume) in a later process: rooms with
/// an archive (XEP-0313) replay exactly what came after that stanza id; others replay
/// their history since the time.
///
/// ```
/// let mut pos = recentchanges_xmpp::ResumePosition::default();
/// pos.record("enwiki@conference.example.org", Some("2f1a"), None);
/// let json = serde_json::to_string(&pos)?;
/// assert_eq!(json, r#"{"rooms":{"enwiki@conference.example.org":{"stanza_id":"2f1a"}}}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePosition {
    /// Position per room, keyed by the room's bare JID.
    pub rooms: BTreeMap<String, RoomPosition>,
}

/// Where one room's stream stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPosition {
    /// The room's stanza id of the last delivered message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stanza_id: Option<String>,
    /// When that message was sent, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
}

impl ResumePosition {
    /// Records a delivered message.
    pub fn record(&mut self, room: &str, stanza_id: Option<&str>, time: Option<DateTime<Utc>>) {
        // Once per delivered change: no allocation once the room is known and its
        // stanza ids keep their length.
        let pos = match self.rooms.get_mut(room) {
            Some(pos) => pos,
            None => self.rooms.entry(room.to_owned()).or_default(),
        };
        if let Some(id) = stanza_id {
            match &mut pos.stanza_id {
                Some(old) => {
                    old.clear();
                    old.push_str(id);
                }
                None => pos.stanza_id = Some(id.to_owned()),
            }
        }
        if time.is_some() {
            pos.time = time;
        }
    }

    /// The position of one room.
    pub fn room(&self, room: &str) -> Option<&RoomPosition> {
        self.rooms.get(room)
    }

    /// Reads a position written by [`save`](Self::save); a missing file is an empty position.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        recentchanges_core::state::load_json(path)
    }

    /// Writes the position atomically (a temporary file renamed over the old one).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        recentchanges_core::state::save_json(path, self)
    }
}
