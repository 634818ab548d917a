//! # Changes from XMPP PubSub nodes (XEP-0060), the way DokuWiki's dokupubsub published them
//!
//! dokupubsub published every page edit as an Atom `<entry>` item to a PubSub node.
//! [`Subscriber`] subscribes to one or more nodes and yields each published item, typed by
//! [`recentchanges_core::from_element`], on a plain [`futures::Stream`]: a [`NodeChange`] that
//! dereferences to the [`RecentChange`]. It shares the room client's connection handling:
//! STARTTLS policy, account or anonymous login, reconnection with backoff, keepalive
//! pings, a bounded buffer with [`Backpressure`](crate::Backpressure), a
//! [`Filter`](recentchanges_core::Filter) and a [`Status`] watch channel (with
//! [`Status::nodes`](crate::Status::nodes)).
//!
//! ```no_run
//! use futures::StreamExt;
//! use recentchanges_xmpp::pubsub::{NodeStreamError, Subscriber};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut changes = Subscriber::builder("bot@example.org", "secret")?
//!     .node("pubsub.example.org", "wiki")?
//!     .resume_from_file("wiki.pos")?   // continue where the last run stopped
//!     .connect()?;
//! while let Some(item) = changes.next().await {
//!     match item {
//!         Ok(c) => println!("{} edited {} ({})", c.user_or("?"), c.title_or("?"), c.item_id.as_deref().unwrap_or("")),
//!         Err(NodeStreamError::Fatal(e)) => return Err(e.into()),
//!         Err(e) => eprintln!("{e}"), // a bad item or a refused node; the stream goes on
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## What comes through, in which order
//!
//! Each session subscribes this session's full JID to every node, then fetches the node's
//! stored items (`<items node=.. max_items=..>`) and delivers those published after the
//! last item received, oldest first; live items arriving meanwhile are held and delivered
//! after them, those also among the stored items skipped. Prosody 0.12 honours
//! `max_items` by returning the *newest* items, listed oldest first; the catch-up asks
//! for 100 and grows the request until the last item seen is among them. On a node's
//! very first subscription (no position) nothing old is delivered (unless
//! [`last_items`](SubscriberBuilder::last_items) asks for some): its newest item becomes
//! the position, so whatever is published during a later outage is recovered; live items
//! that arrived while it was fetched are newer and delivered. (A service configured to
//! send the last published item on subscription makes that one item look live on a
//! first subscription; Prosody's default is `never`.)
//!
//! **Eviction.** A node keeps at most its `max_items` items. If the last item seen is no
//! longer among them, every item the node holds is delivered, the first one flagged
//! [`NodeChange::gap_before`], [`Status::gaps`](crate::Status::gaps) counts it, the node's
//! [`NodeState::Subscribed`] says `gap: true`, and a warning is logged: items between
//! may be lost.
//!
//! **Duplicates** are dropped by (node, item id, change time) within
//! [`dedup_window`](SubscriberBuilder::dedup_window) items: a publisher's retry is
//! dropped, while a node overwriting an item id with a newer entry is a new change.
//!
//! **The wiki.** An Atom entry names no wiki: when the change has no
//! [`wiki`](RecentChange::wiki), it is set to the node name.
//!
//! **The position** ([`NodeStream::position`]) moves when the stream yields an item
//! (a change or an error item), and also past filtered and duplicate items and with a
//! node's baseline, exactly like [`ChangeStream`](crate::ChangeStream)'s.
//!
//! **Errors** never end the stream: an item whose payload does not parse is a
//! [`NodeStreamError::BadPayload`], an item without payload a
//! [`NodeStreamError::NoPayload`], a node the service refuses (`item-not-found`,
//! `forbidden`) a [`NodeStreamError::Node`], reported once and retried every
//! [`node_retry`](SubscriberBuilder::node_retry), and a stanza from a followed service
//! that is not valid XMPP a [`NodeStreamError::InvalidStanza`] (from anyone else it is
//! logged). A node that did not exist is caught up from its first item once it does.
//! Only a [`NodeStreamError::Fatal`] ends it.
//!
//! [`NodePublisher`] publishes Atom entries ([`AtomEntry`]) to nodes, creating them if
//! missing.

mod atom;
mod driver;
mod error;
mod position;
mod publisher;
pub(crate) mod stanzas;

use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use recentchanges_core::RecentChange;
use tokio::sync::watch;
use tokio_xmpp::jid::BareJid;

pub use atom::AtomEntry;
pub use error::{NodeError, NodeStreamError};
pub use position::{NodePosition, PubSubPosition};
pub use publisher::{NodePublisher, NodePublisherBuilder};

use crate::error::ConfigError;
use crate::session::account::{parse_jid, Account};
use crate::session::feed::Feed;
use crate::session::options::{self, StreamOptions};
use crate::status::{NodeState, Status};
use driver::{Driver, Item};

/// A change published to a node, with where it came from. Dereferences to the
/// [`RecentChange`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NodeChange {
    /// The change (its `wiki` set to the node name if the payload named none).
    pub change: RecentChange,
    /// The PubSub service, e.g. `pubsub.example.org`.
    pub service: BareJid,
    /// The node name.
    pub node: String,
    /// The item id the service gave (servers always give one).
    pub item_id: Option<String>,
    /// Fetched from the node's stored items after a (re)subscription, rather than
    /// received live.
    pub replayed: bool,
    /// Items before this one may be missing: the last item seen was no longer in the
    /// node when it was caught up (see the module docs on eviction).
    pub gap_before: bool,
}

impl Deref for NodeChange {
    type Target = RecentChange;
    fn deref(&self) -> &RecentChange {
        &self.change
    }
}

/// A node's XMPP URI (RFC 5122, XEP-0060 §12.21), the key of [`PubSubPosition`] and
/// [`Status::nodes`](crate::Status::nodes): `xmpp:service?;node=name`, the node name
/// percent-encoded where URIs need it.
///
/// ```
/// assert_eq!(recentchanges_xmpp::pubsub::node_uri("pubsub.example.org", "wiki/start"), "xmpp:pubsub.example.org?;node=wiki/start");
/// assert_eq!(recentchanges_xmpp::pubsub::node_uri("ps.example.org", "a b;c"), "xmpp:ps.example.org?;node=a%20b%3Bc");
/// ```
pub fn node_uri(service: &str, node: &str) -> String {
    let mut uri = format!("xmpp:{service}?;node=");
    for b in node.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$'()*+,".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

/// One node to subscribe to.
#[derive(Debug, Clone)]
pub(crate) struct NodeTarget {
    pub service: BareJid,
    pub node: String,
    pub uri: String,
}

/// Everything the subscriber needs.
#[derive(Debug, Clone)]
pub(crate) struct SubConfig {
    pub stream: StreamOptions<PubSubPosition>,
    pub nodes: Vec<NodeTarget>,
    pub last_items: u32,
    pub node_retry: Duration,
}

impl SubConfig {
    /// At least one node, and stream options that can work.
    fn check(&self) -> Result<(), ConfigError> {
        if self.nodes.is_empty() {
            return Err(ConfigError::NoNodes);
        }
        self.stream.check()
    }
}

impl AsRef<StreamOptions<PubSubPosition>> for SubConfig {
    fn as_ref(&self) -> &StreamOptions<PubSubPosition> {
        &self.stream
    }
}

/// The entry point: [`Subscriber::builder`] for an account, [`Subscriber::anonymous`] for
/// SASL ANONYMOUS.
pub struct Subscriber;

impl Subscriber {
    /// A subscriber for a registered account.
    ///
    /// ```
    /// let b = recentchanges_xmpp::pubsub::Subscriber::builder("bot@example.org", "secret")?;
    /// assert!(!format!("{b:?}").contains("secret"));
    /// # Ok::<(), recentchanges_xmpp::ConfigError>(())
    /// ```
    pub fn builder(
        jid: &str,
        password: impl Into<String>,
    ) -> Result<SubscriberBuilder, ConfigError> {
        Ok(SubscriberBuilder::new(Account::password(jid, password)?))
    }

    /// A subscriber logging in anonymously on `domain` (SASL ANONYMOUS).
    pub fn anonymous(domain: &str) -> Result<SubscriberBuilder, ConfigError> {
        Ok(SubscriberBuilder::new(Account::anonymous(domain)?))
    }
}

/// Configures a [`NodeStream`]. Defaults as [`ClientBuilder`](crate::ClientBuilder)'s
/// (STARTTLS required, backoff from 0.5 s to 60 s, a buffer of 10,000 items that waits
/// when full, pings after 15 s of silence with 10 s to answer), no old items on a first subscription, refused
/// nodes retried every 30 s.
#[derive(Debug)]
#[must_use]
pub struct SubscriberBuilder {
    cfg: SubConfig,
}

impl SubscriberBuilder {
    fn new(account: Account) -> Self {
        SubscriberBuilder {
            cfg: SubConfig {
                stream: StreamOptions::new(account),
                nodes: Vec::new(),
                last_items: 0,
                node_retry: Duration::from_secs(30),
            },
        }
    }

    /// Subscribes to `node` on the PubSub `service` (e.g. `pubsub.example.org`).
    pub fn node(mut self, service: &str, node: &str) -> Result<Self, ConfigError> {
        let service = parse_jid(service)?;
        if node.is_empty() {
            return Err(ConfigError::InvalidJid {
                jid: format!("{service} (node \"\")"),
                reason: "the node name is empty".into(),
            });
        }
        let uri = node_uri(service.as_str(), node);
        if !self.cfg.nodes.iter().any(|n| n.uri == uri) {
            self.cfg.nodes.push(NodeTarget {
                service,
                node: node.to_owned(),
                uri,
            });
        }
        Ok(self)
    }

    /// On a node's first subscription (no saved position), also deliver its newest `n`
    /// stored items, flagged [`replayed`](NodeChange::replayed). Default 0.
    pub fn last_items(mut self, n: u32) -> Self {
        self.cfg.last_items = n;
        self
    }

    /// How long to wait before subscribing again to a node the service refused.
    pub fn node_retry(mut self, every: Duration) -> Self {
        self.cfg.node_retry = every;
        self
    }

    /// Starts the subscriber and returns its stream at once; the connection is made in the
    /// background. Fails on a configuration that cannot work (no node, plaintext to a
    /// remote server...) or outside a tokio runtime; never panics.
    pub fn connect(self) -> Result<NodeStream, ConfigError> {
        let cfg = self.cfg;
        cfg.check()?;
        let mut initial = Status::default();
        for node in &cfg.nodes {
            initial
                .nodes
                .insert(node.uri.clone(), NodeState::Subscribing);
        }
        Ok(NodeStream {
            feed: Feed::start(cfg, initial, Driver::new)?,
        })
    }
}

options::transport_options!(SubscriberBuilder => cfg.stream.transport);
options::stream_options!(
    SubscriberBuilder => cfg.stream,
    PubSubPosition,
    NodeStream,
    "by node, item id and change time"
);

/// The changes published to the subscribed nodes: `Ok` for a change, `Err` for an item
/// that is not one, a node that was refused, or (last) why the subscriber stopped for
/// good. Ends only after a [`NodeStreamError::Fatal`] or [`close`](Self::close).
pub struct NodeStream {
    feed: Feed<PubSubPosition, Item>,
}

impl NodeStream {
    /// The subscriber's state, updated as it changes.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.feed.status()
    }

    /// The position after the last item this stream yielded: persist it to continue there.
    pub fn position(&self) -> PubSubPosition {
        self.feed.position().clone()
    }

    /// Items buffered and not yet read.
    pub fn backlog(&self) -> usize {
        self.feed.backlog()
    }

    /// Unsubscribes, closes the connection, and saves the resume file.
    pub async fn close(self) {
        self.feed.close().await;
    }
}

impl Stream for NodeStream {
    type Item = Result<NodeChange, NodeStreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().feed.poll_item(cx)
    }
}
