//! The client's state, observable without touching the change stream.

use std::collections::BTreeMap;
use std::time::Duration;

/// A snapshot of the client's state, published on a watch channel
/// ([`ChangeStream::status`](crate::ChangeStream::status)) each time it changes.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Status {
    /// The connection to the server.
    pub connection: Connection,
    /// Each room's state, by bare JID.
    pub rooms: BTreeMap<String, RoomState>,
    /// Changes recovered from room archives or history after (re)joins, in total.
    pub recovered: u64,
    /// Items dropped because the consumer was too slow ([`Backpressure::DropOldest`](crate::Backpressure)).
    pub dropped: u64,
    /// Duplicate changes (same wiki and rcid) dropped.
    pub duplicates: u64,
    /// Successful connections so far (1 after the first).
    pub connections: u64,
    /// Each PubSub node's state, keyed by its XMPP URI (`xmpp:service?;node=name`); only
    /// a [`NodeStream`](crate::pubsub::NodeStream) or
    /// [`NodePublisher`](crate::pubsub::NodePublisher) fills it.
    pub nodes: BTreeMap<String, NodeState>,
    /// Catch-ups after which items may be missing: the last item seen was no longer in
    /// the node (the node's `max_items` evicted it, or the node was purged).
    pub gaps: u64,
    /// Live changes (rooms) or items (nodes) that came during a catch-up beyond what the
    /// stream's buffer holds, and were let go to keep memory bounded: the room's archive
    /// replays them, the node is fetched again. None is lost; each costs a second read.
    pub refetched: u64,
}

impl Status {
    /// A new session is online: every room is joined again and every subscription made
    /// again, so none of them counts as joined or subscribed until the session says so.
    /// (Nodes a publisher found ready, and nodes refused before, keep their state.)
    pub(crate) fn new_session(&mut self) {
        for room in self.rooms.values_mut() {
            *room = RoomState::Joining;
        }
        for node in self.nodes.values_mut() {
            if matches!(node, NodeState::Subscribed { .. } | NodeState::CatchingUp) {
                *node = NodeState::Subscribing;
            }
        }
    }
}

/// The connection's state.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Connection {
    /// Connecting, `attempt` 0 for the first try.
    #[default]
    Connecting,
    /// Logged in as this full JID.
    Online {
        /// The bound JID.
        jid: String,
    },
    /// The connection was lost.
    Disconnected {
        /// Why.
        reason: crate::Disconnect,
    },
    /// Waiting before the next attempt.
    Reconnecting {
        /// Failed attempts in a row so far.
        attempt: u32,
        /// How long until the next one.
        delay: Duration,
    },
    /// Stopped for good (see the stream's last item).
    Failed {
        /// Why.
        reason: String,
    },
    /// Closed by the consumer.
    Closed,
}

/// One room's state.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RoomState {
    /// Join sent, waiting for the room.
    Joining,
    /// Joined with this nick; `recovered` changes came from its archive or history.
    Joined {
        /// The nick in use.
        nick: String,
        /// Changes recovered on this join.
        recovered: u64,
    },
    /// Left involuntarily; a rejoin is scheduled.
    Rejoining {
        /// Why it was left.
        reason: String,
    },
    /// Given up on (banned, destroyed, members-only...).
    Failed {
        /// Why.
        reason: String,
    },
}

/// One PubSub node's state.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NodeState {
    /// Subscription (or node creation) requested, waiting for the service.
    Subscribing,
    /// Subscribed; fetching the items published while away before going live.
    CatchingUp,
    /// Subscribed and live; `recovered` items came from the node's stored items on this
    /// subscription, `gap` is true if the last item seen before was no longer there.
    Subscribed {
        /// Items recovered on this subscription.
        recovered: u64,
        /// Whether items may have been missed (see [`Status::gaps`]).
        gap: bool,
    },
    /// The node is usable for publishing (a [`NodePublisher`](crate::pubsub::NodePublisher)).
    Ready,
    /// The service refused the node (it does not exist, access is forbidden...); it is
    /// tried again later.
    Failed {
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_session_joins_and_subscribes_again() {
        let mut s = Status::default();
        let joined = RoomState::Joined {
            nick: "reader".into(),
            recovered: 0,
        };
        s.rooms.insert("a@conference.example".into(), joined);
        s.rooms.insert(
            "b@conference.example".into(),
            RoomState::Failed {
                reason: "banned".into(),
            },
        );
        s.nodes.insert(
            "xmpp:pubsub.example?;node=wiki".into(),
            NodeState::Subscribed {
                recovered: 0,
                gap: false,
            },
        );
        s.nodes
            .insert("xmpp:pubsub.example?;node=out".into(), NodeState::Ready);
        s.new_session();
        assert!(s.rooms.values().all(|r| *r == RoomState::Joining));
        assert_eq!(
            s.nodes["xmpp:pubsub.example?;node=wiki"],
            NodeState::Subscribing
        );
        assert_eq!(
            s.nodes["xmpp:pubsub.example?;node=out"],
            NodeState::Ready,
            "a publisher's ready node stays ready"
        );
    }
}
