//! Publishing Atom entries to PubSub nodes, the way dokupubsub published page edits.
//!
//! Delivery is at least once: an item stays in the outbox until the service confirms the
//! publish, and everything unconfirmed is published again, with the same item id, after a
//! reconnect (the node then keeps one copy; subscribers drop the repeated notification).
//! A node that does not exist is created (with [`max_items`](NodePublisherBuilder::max_items)
//! when set) and the items waiting for it are published in order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use minidom::Element;
use tokio::sync::{oneshot, watch};
use tokio_xmpp::jid::{BareJid, FullJid, Jid};
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;

use super::atom::AtomEntry;
use super::node_uri;
use super::stanzas as ps;
use crate::error::{ConfigError, Disconnect, PublishError};
use crate::session::account::Account;
use crate::session::connect::{self, send, Response, Session};
use crate::session::options::{self, Transport};
use crate::session::outbox::{Outbox, Posts};
use crate::session::stanzas::Ids;
use crate::session::task::{serve_session, Ended, InSession, Serve};
use crate::status::{NodeState, Status};

/// Configures a [`NodePublisher`]: the same account, server and TLS options as the client.
#[derive(Debug)]
#[must_use]
pub struct NodePublisherBuilder {
    transport: Transport,
    outbox: usize,
    max_items: Option<u32>,
}

options::transport_options!(NodePublisherBuilder => transport);

impl NodePublisherBuilder {
    /// Items held until the service confirms them; [`NodePublisher::publish`] waits when
    /// full.
    pub fn outbox(mut self, size: usize) -> Self {
        self.outbox = size.max(1);
        self
    }

    /// Nodes this publisher creates keep at most `n` items (`pubsub#max_items`); by
    /// default the service's default.
    pub fn max_items(mut self, n: u32) -> Self {
        self.max_items = Some(n);
        self
    }

    /// Starts publishing in the background. Must be called within a tokio runtime.
    pub fn start(self) -> Result<NodePublisher, ConfigError> {
        self.transport.check()?;
        let max_items = self.max_items;
        let outbox = Outbox::start(self.transport, self.outbox, |posts, status| Worker {
            max_items,
            outbox: VecDeque::new(),
            posts,
            status,
            ids: Ids::default(),
        })?;
        Ok(NodePublisher { outbox })
    }
}

/// Publishes items to PubSub nodes; see the module docs for the delivery guarantee.
///
/// ```no_run
/// use recentchanges_xmpp::pubsub::{AtomEntry, NodePublisher};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let mut publisher = NodePublisher::builder("wiki@example.org", "secret")?.start()?;
/// let service = "pubsub.example.org".parse()?;
/// let entry = AtomEntry::new("http://wiki.example.org/doku.php?id=start&rev=1", "start", chrono::Utc::now())
///     .link("http://wiki.example.org/doku.php?id=start&rev=1")
///     .author("admin")
///     .summary("typo");
/// let item_id = publisher.publish(&service, "wiki", &entry).await?;
/// assert!(publisher.flush(std::time::Duration::from_secs(10)).await, "{item_id} confirmed");
/// # Ok(()) }
/// ```
pub struct NodePublisher {
    outbox: Outbox<Post>,
}

/// One item to publish.
#[derive(Debug, Clone)]
struct Post {
    service: BareJid,
    node: String,
    item_id: String,
    payload: Element,
}

impl NodePublisher {
    /// A publisher for a registered account (it owns the nodes it creates).
    pub fn builder(
        jid: &str,
        password: impl Into<String>,
    ) -> Result<NodePublisherBuilder, ConfigError> {
        Ok(NodePublisherBuilder {
            transport: Transport::new(Account::password(jid, password)?),
            outbox: 10_000,
            max_items: None,
        })
    }

    /// Publishes an Atom entry to `node` on `service` under a new unique item id, which it
    /// returns. Returns once queued.
    pub async fn publish(
        &mut self,
        service: &BareJid,
        node: &str,
        entry: &AtomEntry,
    ) -> Result<String, PublishError> {
        self.publish_payload(service, node, None, entry.to_element())
            .await
    }

    /// Publishes any payload, under `item_id` or a new unique one (returned). Publishing an
    /// existing item id replaces that item (XEP-0060 §7.1.2).
    pub async fn publish_payload(
        &mut self,
        service: &BareJid,
        node: &str,
        item_id: Option<&str>,
        payload: Element,
    ) -> Result<String, PublishError> {
        let item_id = match item_id {
            Some(id) => id.to_owned(),
            None => new_item_id(),
        };
        let post = Post {
            service: service.clone(),
            node: node.to_owned(),
            item_id: item_id.clone(),
            payload,
        };
        self.outbox.send(post).await?;
        Ok(item_id)
    }

    /// Waits until the service settled everything published so far, or `timeout` passes.
    /// Returns whether everything published since the previous flush was confirmed (a
    /// refused item, e.g. `forbidden`, makes it false; see [`rejected`](Self::rejected)).
    pub async fn flush(&mut self, timeout: Duration) -> bool {
        self.outbox.flush(timeout).await
    }

    /// The publisher's state: the connection, and each node it published to.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.outbox.status()
    }

    /// Items the service confirmed so far.
    pub fn confirmed(&self) -> u64 {
        self.outbox.confirmed()
    }

    /// Items the service refused for good so far (logged with the reason, and the node's
    /// state in [`status`](Self::status) says why).
    pub fn rejected(&self) -> u64 {
        self.outbox.rejected()
    }

    /// Disconnects; unconfirmed items are dropped.
    pub async fn close(mut self) {
        self.outbox.close().await;
    }
}

/// A new item id: the time in microseconds and a random suffix, so ids sort by time.
fn new_item_id() -> String {
    let micros = chrono::Utc::now().timestamp_micros();
    format!("{micros}-{:08x}", rand::random::<u32>())
}

/// The task behind a publisher.
struct Worker {
    max_items: Option<u32>,
    /// Waiting or sent, not yet confirmed; `Some(iq id)` once sent on this connection.
    outbox: VecDeque<(Option<String>, Post)>,
    /// What the application posts.
    posts: Posts<Post>,
    status: watch::Sender<Status>,
    ids: Ids,
}

impl Worker {
    fn set_node(&self, post: &Post, state: NodeState) {
        let uri = node_uri(post.service.as_str(), &post.node);
        self.status.send_modify(|s| {
            s.nodes.insert(uri, state);
        });
    }

    /// Drops the entries at these outbox positions as refused.
    fn reject(&mut self, mut positions: Vec<usize>, reason: &str) {
        positions.sort_unstable();
        for pos in positions.into_iter().rev() {
            if let Some((_, post)) = self.outbox.remove(pos) {
                tracing::error!(node = %node_uri(post.service.as_str(), &post.node), item = %post.item_id, %reason, "the service refused the item");
                self.set_node(
                    &post,
                    NodeState::Failed {
                        reason: reason.to_owned(),
                    },
                );
                self.posts.rejected();
            }
        }
    }
}

impl Serve for Worker {
    /// Sends what waits in the outbox, and settles it as the service confirms it.
    async fn serve(&mut self, session: Session, stop: &mut oneshot::Receiver<()>) -> Ended {
        serve_session(self, session, stop).await
    }
}

/// Node creations in flight in one session: node URI -> iq id.
type Creating = HashMap<String, String>;

impl InSession for Worker {
    type State = Creating;
    type Work = Post;

    /// Everything in the outbox is sent again on this connection.
    async fn start(
        &mut self,
        _stream: &mut connect::Stream,
        _jid: &FullJid,
    ) -> Result<Creating, Ended> {
        for entry in self.outbox.iter_mut() {
            entry.0 = None;
        }
        Ok(HashMap::new())
    }

    /// Publishes what waits, in order, except for nodes being created.
    async fn flush(
        &mut self,
        creating: &mut Creating,
        stream: &mut connect::Stream,
    ) -> Result<(), Ended> {
        for i in 0..self.outbox.len() {
            let (sent, post) = &self.outbox[i];
            if sent.is_some() || creating.contains_key(&node_uri(post.service.as_str(), &post.node))
            {
                continue;
            }
            let post = post.clone();
            let id = self.ids.next("pub");
            let iq = ps::publish(&post.service, &post.node, &post.item_id, post.payload, &id);
            send(stream, Stanza::Iq(iq)).await.map_err(Ended::Lost)?;
            self.outbox[i].0 = Some(id);
        }
        Ok(())
    }

    /// The next post, while the outbox has room.
    async fn next_work(&mut self) -> Option<Post> {
        if !self.posts.room_for_more(self.outbox.len()) {
            std::future::pending::<()>().await;
        }
        self.posts.recv().await
    }

    async fn work(&mut self, _creating: &mut Creating, post: Post) -> Result<(), Ended> {
        self.outbox.push_back((None, post));
        Ok(())
    }

    /// The service's answers; anything else is not for a publisher.
    async fn stanza(
        &mut self,
        creating: &mut Creating,
        stream: &mut connect::Stream,
        jid: &FullJid,
        stanza: Stanza,
    ) -> Result<(), Ended> {
        match stanza {
            Stanza::Iq(iq) => self
                .on_iq(stream, creating, jid, iq)
                .await
                .map_err(Ended::Lost),
            Stanza::Message(_) | Stanza::Presence(_) => Ok(()),
        }
    }

    async fn invalid(
        &mut self,
        _creating: &mut Creating,
        _from: Option<BareJid>,
        _error: tokio_xmpp::xmlstream::StreamElementError,
    ) -> Result<(), Ended> {
        Ok(())
    }

    /// Nothing to leave: the stream footer follows.
    async fn goodbye(
        &mut self,
        _creating: &Creating,
        _stream: &mut connect::Stream,
        _jid: &FullJid,
    ) {
    }

    /// The application going away ends [`next_work`](Self::next_work) instead.
    fn consumer_gone(&self) -> bool {
        false
    }

    fn ids(&mut self) -> &mut Ids {
        &mut self.ids
    }
}

impl Worker {
    async fn on_iq(
        &mut self,
        stream: &mut connect::Stream,
        creating: &mut HashMap<String, String>,
        me: &FullJid,
        iq: Iq,
    ) -> Result<(), Disconnect> {
        let Some(iq) = connect::answer_requests(stream, iq).await? else {
            return Ok(());
        };
        // Every request went to a post's service: the answer must come from there.
        let services: HashSet<BareJid> = self
            .outbox
            .iter()
            .map(|(_, p)| p.service.clone())
            .filter(|s| iq.is_from(&Jid::from(s.clone()), me))
            .collect();
        let from_service = |post: &Post| services.contains(&post.service);
        let created_by = |uri: &str| {
            self.outbox
                .iter()
                .any(|(_, p)| node_uri(p.service.as_str(), &p.node) == uri && from_service(p))
        };
        match iq {
            Response::Result { id, .. } => {
                if let Some(uri) = creating
                    .iter()
                    .find(|(u, c)| **c == id && created_by(u))
                    .map(|(u, _)| u.clone())
                {
                    tracing::info!(node = %uri, "node created");
                    creating.remove(&uri);
                } else if let Some(pos) = self
                    .outbox
                    .iter()
                    .position(|(s, p)| s.as_deref() == Some(&id) && from_service(p))
                {
                    if let Some((_, post)) = self.outbox.remove(pos) {
                        self.set_node(&post, NodeState::Ready);
                        self.posts.confirmed();
                    }
                }
            }
            Response::Error { id, error, .. } => {
                let condition = crate::session::stanzas::condition(&error);
                if let Some(uri) = creating
                    .iter()
                    .find(|(u, c)| **c == id && created_by(u))
                    .map(|(u, _)| u.clone())
                {
                    creating.remove(&uri);
                    if condition != "conflict" {
                        // The node cannot be created: its items cannot be published.
                        let doomed = self
                            .outbox
                            .iter()
                            .enumerate()
                            .filter(|(_, (_, p))| node_uri(p.service.as_str(), &p.node) == uri)
                            .map(|(i, _)| i)
                            .collect();
                        self.reject(doomed, &format!("cannot create the node: {condition}"));
                    }
                } else if let Some(pos) = self
                    .outbox
                    .iter()
                    .position(|(s, p)| s.as_deref() == Some(&id) && from_service(p))
                {
                    if condition == "item-not-found" {
                        self.outbox[pos].0 = None;
                        let post = self.outbox[pos].1.clone();
                        let uri = node_uri(post.service.as_str(), &post.node);
                        if let std::collections::hash_map::Entry::Vacant(slot) = creating.entry(uri)
                        {
                            let cid = self.ids.next("create");
                            tracing::info!(node = %slot.key(), "creating the node");
                            self.set_node(&post, NodeState::Subscribing);
                            let iq = ps::create(&post.service, &post.node, self.max_items, &cid);
                            slot.insert(cid);
                            send(stream, Stanza::Iq(iq)).await?;
                        }
                    } else {
                        self.reject(vec![pos], &condition);
                    }
                }
            }
        }
        Ok(())
    }
}
