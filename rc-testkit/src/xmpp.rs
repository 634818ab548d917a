//! rc-xmpp clients, publishers and subscribers for the [`Prosody`] fixture's accounts,
//! over plaintext loopback and quick to reconnect.

use std::time::Duration;

use recentchanges_xmpp::pubsub::{
    NodePublisher, NodePublisherBuilder, Subscriber, SubscriberBuilder,
};
use recentchanges_xmpp::{
    BareJid, ChangeStream, Client, ClientBuilder, Publisher, PublisherBuilder, ReconnectPolicy,
    RoomState, Status, Tls,
};

use crate::prosody::{password, room_jid, Prosody};
use crate::wait::wait_status;

/// How long [`Prosody::consumer`] waits for the join.
pub const JOIN_SECS: u64 = 15;

/// Reconnects from 100 ms to 1 s, forever: a test need not wait for the default backoff.
pub fn quick_reconnect() -> ReconnectPolicy {
    ReconnectPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        factor: 2.0,
        jitter: 0.1,
        max_attempts: None,
    }
}

/// The bare JID of room `name` ([`room_jid`]).
pub fn room_bare(name: &str) -> BareJid {
    room_jid(name).parse().expect("a room JID")
}

/// True when there are rooms and every one is joined.
pub fn all_joined(status: &Status) -> bool {
    !status.rooms.is_empty()
        && status
            .rooms
            .values()
            .all(|r| matches!(r, RoomState::Joined { .. }))
}

/// Waits until every room of the stream is joined; panics after `secs`.
pub async fn joined(stream: &ChangeStream, secs: u64) {
    wait_status(stream.status(), secs, "rooms joined", all_joined).await;
}

/// `$builder` (a `Result` of a builder) for this server over plaintext loopback, quick to
/// reconnect: the builders share these methods by name, not by a trait.
macro_rules! loopback {
    ($prosody:expr, $builder:expr) => {
        $builder
            .unwrap()
            .server(&$prosody.addr())
            .unwrap()
            .tls(Tls::PlaintextLoopback)
            .reconnect(quick_reconnect())
    };
}

impl Prosody {
    /// A client for account `user`.
    pub fn client(&self, user: &str) -> ClientBuilder {
        loopback!(
            self,
            Client::builder(&format!("{user}@localhost"), password(user))
        )
    }

    /// A client for account `user` in room `name`, with the account's name as its nick.
    pub fn room_client(&self, user: &str, name: &str) -> ClientBuilder {
        self.client(user).room(&room_jid(name), user).unwrap()
    }

    /// A connected [`room_client`](Self::room_client) that joined (within [`JOIN_SECS`]).
    pub async fn consumer(&self, user: &str, name: &str) -> ChangeStream {
        let stream = self.room_client(user, name).connect();
        joined(&stream, JOIN_SECS).await;
        stream
    }

    /// A publisher for account `user`, in no room yet.
    pub fn publisher_builder(&self, user: &str) -> PublisherBuilder {
        loopback!(
            self,
            Publisher::builder(&format!("{user}@localhost"), password(user))
        )
    }

    /// Account `publisher` posting into `rooms` (nick `xmlrc`).
    pub fn publisher(&self, rooms: &[&str]) -> Publisher {
        self.publisher_as("publisher", rooms)
    }

    /// Account `user` posting into `rooms` (nick `xmlrc`).
    pub fn publisher_as(&self, user: &str, rooms: &[&str]) -> Publisher {
        let mut b = self.publisher_builder(user);
        for name in rooms {
            b = b.room(&room_jid(name), "xmlrc").unwrap();
        }
        b.start().unwrap()
    }

    /// A PubSub publisher for account `publisher` (the service's administrator).
    pub fn node_publisher(&self) -> NodePublisherBuilder {
        loopback!(
            self,
            NodePublisher::builder("publisher@localhost", password("publisher"))
        )
    }

    /// A PubSub subscriber for account `user`.
    pub fn subscriber(&self, user: &str) -> SubscriberBuilder {
        loopback!(
            self,
            Subscriber::builder(&format!("{user}@localhost"), password(user))
        )
    }

    /// A PubSub subscriber logging in anonymously on `anon.localhost`.
    pub fn anonymous_subscriber(&self) -> SubscriberBuilder {
        loopback!(self, Subscriber::anonymous("anon.localhost"))
    }
}
