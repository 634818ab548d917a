//! The items of a node stream that are not changes.

use tokio_xmpp::jid::BareJid;

use crate::error::Fatal;

/// Why the service refused a node. The other nodes carry on, and the node is tried again
/// later (see [`SubscriberBuilder::node_retry`](crate::pubsub::SubscriberBuilder::node_retry)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node does not exist (`item-not-found`).
    #[error("the node does not exist")]
    NotFound,
    /// This account may not subscribe to the node or read its items (`forbidden`,
    /// `not-authorized`, a whitelist or presence access model).
    #[error("access to the node is forbidden ({condition})")]
    Forbidden {
        /// The stanza error condition.
        condition: String,
    },
    /// The node was deleted while subscribed.
    #[error("the node was deleted")]
    Deleted,
    /// Subscribed, but the items published while away could not be fetched; live items
    /// still come through.
    #[error("the node's stored items could not be fetched ({condition}): items published while away are missing")]
    CatchUpRefused {
        /// The stanza error condition.
        condition: String,
    },
    /// Any other refusal, with the service's condition.
    #[error("the service refused the subscription: {condition}")]
    Refused {
        /// The stanza error condition.
        condition: String,
    },
}

impl NodeError {
    /// The error for a refused subscription, from the stanza error condition.
    pub(crate) fn from_condition(condition: &str) -> NodeError {
        match condition {
            "item-not-found" => NodeError::NotFound,
            "forbidden" | "not-authorized" | "not-allowed" | "registration-required" => {
                NodeError::Forbidden {
                    condition: condition.to_owned(),
                }
            }
            other => NodeError::Refused {
                condition: other.to_owned(),
            },
        }
    }
}

/// An item of a [`NodeStream`](crate::pubsub::NodeStream) that is not a change. Every
/// variant but [`NodeStreamError::Fatal`] leaves the stream running.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NodeStreamError {
    /// An item's payload is not a change the parser knows (or a malformed one).
    #[error("bad change in item {item_id:?} of node {node} on {service}: {error}")]
    BadPayload {
        /// The PubSub service.
        service: BareJid,
        /// The node.
        node: String,
        /// The item id.
        item_id: Option<String>,
        /// What is wrong with it.
        error: Box<recentchanges_core::ParseError>,
    },
    /// An item came without a payload (a node configured not to deliver payloads).
    #[error("item {item_id:?} of node {node} on {service} has no payload")]
    NoPayload {
        /// The PubSub service.
        service: BareJid,
        /// The node.
        node: String,
        /// The item id.
        item_id: Option<String>,
    },
    /// The service sent a stanza that is not valid XMPP (it may have carried an item,
    /// which is then lost: this says so).
    #[error("a stanza from {service} is not valid XMPP: {reason}")]
    InvalidStanza {
        /// The PubSub service.
        service: BareJid,
        /// What the XMPP parser refused.
        reason: String,
    },
    /// The service refused a node, or deleted it.
    #[error("node {node} on {service}: {error}")]
    Node {
        /// The PubSub service.
        service: BareJid,
        /// The node.
        node: String,
        /// Why.
        error: NodeError,
    },
    /// The client stopped for good: wrong password, no usable TLS, retries exhausted.
    #[error("{0}")]
    Fatal(#[from] Fatal),
}
