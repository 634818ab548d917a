//! Where each node's stream stands, so a later process can continue from there.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The last item delivered from each node, keyed by the node's XMPP URI
/// ([`node_uri`](crate::pubsub::node_uri): `xmpp:service?;node=name`).
///
/// Read it with [`NodeStream::position`](crate::pubsub::NodeStream::position), store it
/// anywhere (it is serde), and hand it to
/// [`SubscriberBuilder::resume`](crate::pubsub::SubscriberBuilder::resume) in a later
/// process: the items the node published after that item are fetched and delivered
/// first. A node with an entry but no item id had no items when it was first subscribed
/// to: every item it holds now is new.
///
/// ```
/// use recentchanges_xmpp::pubsub::{node_uri, PubSubPosition};
/// let mut pos = PubSubPosition::default();
/// let wiki = node_uri("pubsub.example.org", "wiki");
/// pos.record(&wiki, Some("1a2b"));
/// assert_eq!(pos.node(&wiki).and_then(|p| p.item_id.as_deref()), Some("1a2b"));
/// let json = serde_json::to_string(&pos)?;
/// assert!(json.starts_with(r#"{"nodes":{"xmpp:pubsub.example.org?;node=wiki":{"item_id":"1a2b","#));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PubSubPosition {
    /// Position per node, keyed by the node's XMPP URI.
    pub nodes: BTreeMap<String, NodePosition>,
}

/// Where one node's stream stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePosition {
    /// The id of the last item delivered (or of the newest item when the node was first
    /// subscribed to); `None` if the node had no items then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// When the position last moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
}

impl PubSubPosition {
    /// Records an item delivered from a node (or, with `None`, that the node was seen
    /// empty).
    pub fn record(&mut self, node: &str, item_id: Option<&str>) {
        let pos = self.nodes.entry(node.to_owned()).or_default();
        if let Some(id) = item_id {
            pos.item_id = Some(id.to_owned());
        }
        pos.time = Some(Utc::now());
    }

    /// The position of one node, by its URI.
    pub fn node(&self, node: &str) -> Option<&NodePosition> {
        self.nodes.get(node)
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
