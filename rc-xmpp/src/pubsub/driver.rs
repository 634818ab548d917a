//! The task behind a [`NodeStream`](super::NodeStream): connects, subscribes to the nodes,
//! fetches what was published while away, turns items into changes, and starts over when
//! the connection is lost.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;

use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use tokio_xmpp::jid::{BareJid, FullJid};
use tokio_xmpp::xmlstream::StreamElementError;
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::message::Message;

use super::error::{NodeError, NodeStreamError};
use super::position::PubSubPosition;
use super::stanzas::{self as ps, Event, NodeItem};
use super::{NodeChange, NodeTarget, SubConfig};
use crate::error::{Disconnect, Fatal};
use crate::session::connect::{self, send, Response, Session};
use crate::session::feed::Feeder;
use crate::session::position::Position;
use crate::session::stanzas::{condition, Ids};
use crate::session::task::{serve_session, Ended, InSession, Serve};
use crate::session::waiting::Waiting;
use crate::status::{NodeState, Status};
use recentchanges_core::dedup::Recent;

/// What a subscriber's stream yields.
pub(crate) type Item = Result<NodeChange, NodeStreamError>;

/// A delivered item's place in its node: `item_id` `None` records a node seen empty.
#[derive(Clone)]
pub(crate) struct Mark {
    pub node: String,
    pub item_id: Option<String>,
}

impl Position for PubSubPosition {
    type Mark = Mark;

    fn advance(&mut self, m: &Mark) {
        self.record(&m.node, m.item_id.as_deref());
    }

    fn load(path: &Path) -> io::Result<Self> {
        PubSubPosition::load(path)
    }
}

/// Items asked for first when catching up after a known item; the request grows by
/// `GROWTH` until the item is found or the node has no more.
const FIRST_PAGE: u32 = 100;
const GROWTH: u32 = 8;
const MAX_PAGE: u32 = 100_000;

/// Duplicate key: node URI, item id, and the change's time (a node may overwrite an item
/// id with a new version, which is a new change).
type Key = (String, String, Option<i64>);

pub(crate) struct Driver {
    cfg: SubConfig,
    out: Feeder<PubSubPosition, Item>,
    status: watch::Sender<Status>,
    dedup: Recent<Key>,
    ids: Ids,
    /// The error last reported for a node, so a node retried in vain is reported once.
    reported: HashMap<String, NodeError>,
    /// The JID of the previous session, whose subscriptions are cancelled on the next.
    previous: Option<FullJid>,
}

/// One node in one session.
pub(crate) struct Node {
    target: NodeTarget,
    phase: Phase,
    /// Live items that arrived before the catch-up ended, in arrival order; at most the
    /// stream's buffer size (see [`Driver::hold`]).
    held: Vec<NodeItem>,
    /// `held` outgrew its bound and was let go: the node is fetched again after the
    /// current fetch, from the last item received.
    refetch: bool,
    /// The subscription or fetch the node waits for.
    waiting: Waiting,
}

enum Phase {
    Subscribing {
        id: String,
    },
    /// Fetching stored items: the newest `asked` (all when `None`). `baseline`: the node
    /// had no position, so this only finds where it stands.
    Fetching {
        id: String,
        asked: Option<u32>,
        baseline: bool,
    },
    Live,
    RetryAt(Instant),
}

impl Driver {
    pub fn new(
        cfg: SubConfig,
        out: Feeder<PubSubPosition, Item>,
        status: watch::Sender<Status>,
    ) -> Self {
        let dedup = Recent::new(cfg.stream.delivery.dedup_window);
        Driver {
            cfg,
            out,
            status,
            dedup,
            ids: Ids::default(),
            reported: HashMap::new(),
            previous: None,
        }
    }

    fn set_node(&self, node: &str, state: NodeState) {
        self.status.send_modify(|s| {
            s.nodes.insert(node.to_owned(), state);
        });
    }
}

impl Serve for Driver {
    /// The consumer reads the fatal error last.
    async fn failed(&mut self, fatal: Fatal) {
        self.out.finish(Err(NodeStreamError::Fatal(fatal))).await;
    }

    /// Runs one session until it ends.
    async fn serve(&mut self, session: Session, shutdown: &mut oneshot::Receiver<()>) -> Ended {
        serve_session(self, session, shutdown).await
    }
}

impl InSession for Driver {
    /// The nodes of one session.
    type State = Vec<Node>;
    type Work = std::convert::Infallible;

    /// Subscribes to every node, and ends the previous session's subscriptions.
    async fn start(
        &mut self,
        stream: &mut connect::Stream,
        jid: &FullJid,
    ) -> Result<Vec<Node>, Ended> {
        let mut nodes: Vec<Node> = Vec::with_capacity(self.cfg.nodes.len());
        for target in self.cfg.nodes.clone() {
            let mut node = Node {
                target,
                phase: Phase::Live,
                held: Vec::new(),
                refetch: false,
                waiting: Waiting::default(),
            };
            self.subscribe(stream, jid, &mut node)
                .await
                .map_err(Ended::Lost)?;
            nodes.push(node);
        }
        // The previous session's subscriptions would only collect events nobody reads.
        if let Some(old) = self.previous.replace(jid.clone()).filter(|o| o != jid) {
            for node in &nodes {
                let id = self.ids.next("unsub-old");
                let iq = ps::unsubscribe(&node.target.service, &node.target.node, &old, &id);
                send(stream, Stanza::Iq(iq)).await.map_err(Ended::Lost)?;
            }
        }
        Ok(nodes)
    }

    /// Subscribes again to the nodes whose retry is due.
    async fn tick(
        &mut self,
        nodes: &mut Vec<Node>,
        stream: &mut connect::Stream,
        jid: &FullJid,
        now: Instant,
    ) -> Result<(), Ended> {
        for node in nodes.iter_mut() {
            let uri = &node.target.uri;
            let request = match &node.phase {
                Phase::Subscribing { id } => Some(format!("the subscription {id} to {uri}")),
                Phase::Fetching { id, .. } => Some(format!("the items request {id} of {uri}")),
                _ => None,
            };
            node.waiting
                .check(request, now, self.cfg.stream.transport.request_timeout)
                .map_err(Ended::Lost)?;
            if matches!(node.phase, Phase::RetryAt(at) if at <= now) {
                self.subscribe(stream, jid, node)
                    .await
                    .map_err(Ended::Lost)?;
            }
        }
        Ok(())
    }

    async fn stanza(
        &mut self,
        nodes: &mut Vec<Node>,
        stream: &mut connect::Stream,
        jid: &FullJid,
        stanza: Stanza,
    ) -> Result<(), Ended> {
        match stanza {
            Stanza::Message(m) => self.on_message(nodes, m).await,
            Stanza::Iq(iq) => self.on_iq(stream, nodes, jid, iq).await,
            Stanza::Presence(_) => Ok(()),
        }
    }

    /// From a service we follow: an error item (it may have carried an item); from
    /// anyone else: not ours, logged.
    async fn invalid(
        &mut self,
        nodes: &mut Vec<Node>,
        from: Option<BareJid>,
        error: StreamElementError,
    ) -> Result<(), Ended> {
        match from.filter(|f| nodes.iter().any(|n| n.target.service == *f)) {
            Some(service) => {
                let item = Err(NodeStreamError::InvalidStanza {
                    service,
                    reason: error.to_string(),
                });
                self.out.deliver(item, None).await
            }
            None => {
                tracing::warn!("skipping a stanza that is not valid XMPP: {error}");
                Ok(())
            }
        }
    }

    /// Ends the subscriptions.
    async fn goodbye(&mut self, nodes: &Vec<Node>, stream: &mut connect::Stream, jid: &FullJid) {
        for node in nodes
            .iter()
            .filter(|n| !matches!(n.phase, Phase::RetryAt(_)))
        {
            let id = self.ids.next("unsub");
            let iq = ps::unsubscribe(&node.target.service, &node.target.node, jid, &id);
            let _ = send(stream, Stanza::Iq(iq)).await;
        }
    }

    fn consumer_gone(&self) -> bool {
        self.out.is_closed()
    }

    fn ids(&mut self) -> &mut Ids {
        &mut self.ids
    }
}

impl Driver {
    async fn subscribe(
        &mut self,
        stream: &mut connect::Stream,
        jid: &FullJid,
        node: &mut Node,
    ) -> Result<(), Disconnect> {
        let id = self.ids.next("sub");
        node.phase = Phase::Subscribing { id: id.clone() };
        node.held.clear();
        self.set_node(&node.target.uri, NodeState::Subscribing);
        let iq = ps::subscribe(&node.target.service, &node.target.node, jid, &id);
        send(stream, Stanza::Iq(iq)).await
    }

    /// Asks for the node's stored items: to find where a new node stands, or what it
    /// published after the last item received.
    async fn fetch(
        &mut self,
        stream: &mut connect::Stream,
        node: &mut Node,
        asked: Option<u32>,
        baseline: bool,
    ) -> Result<(), Ended> {
        let id = self.ids.next("items");
        node.phase = Phase::Fetching {
            id: id.clone(),
            asked,
            baseline,
        };
        self.set_node(&node.target.uri, NodeState::CatchingUp);
        let iq = ps::items(&node.target.service, &node.target.node, asked, &id);
        send(stream, Stanza::Iq(iq)).await.map_err(Ended::Lost)
    }

    async fn on_iq(
        &mut self,
        stream: &mut connect::Stream,
        nodes: &mut [Node],
        me: &FullJid,
        iq: Iq,
    ) -> Result<(), Ended> {
        let Some(iq) = connect::answer_requests(stream, iq)
            .await
            .map_err(Ended::Lost)?
        else {
            return Ok(());
        };
        // Every request went to a node's service: the answer must come from there.
        let from_service =
            |node: &Node| iq.is_from(&tokio_xmpp::jid::Jid::from(node.target.service.clone()), me);
        let ours: Vec<bool> = nodes.iter().map(from_service).collect();
        match iq {
            Response::Result {
                id, mut payload, ..
            } => {
                for (node, _) in nodes.iter_mut().zip(ours).filter(|(_, ours)| *ours) {
                    match &node.phase {
                        Phase::Subscribing { id: s } if *s == id => {
                            tracing::debug!(node = %node.target.uri, "subscribed");
                            let (asked, baseline) = match self
                                .out
                                .received()
                                .node(&node.target.uri)
                                .map(|p| &p.item_id)
                            {
                                None => (Some(self.cfg.last_items.max(1)), true),
                                Some(Some(_)) => (Some(FIRST_PAGE), false),
                                Some(None) => (None, false),
                            };
                            self.fetch(stream, node, asked, baseline).await?;
                        }
                        Phase::Fetching { id: f, .. } if *f == id => {
                            let items = ps::retrieved(payload.take());
                            self.on_items(stream, node, items).await?;
                        }
                        _ => {}
                    }
                }
            }
            Response::Error { id, error, .. } => {
                let condition = condition(&error);
                for (node, _) in nodes.iter_mut().zip(ours).filter(|(_, ours)| *ours) {
                    match &node.phase {
                        Phase::Subscribing { id: s } if *s == id => {
                            self.node_failed(node, NodeError::from_condition(&condition))
                                .await?;
                        }
                        Phase::Fetching { id: f, .. } if *f == id => {
                            tracing::warn!(node = %node.target.uri, %condition, "the node's items could not be fetched");
                            let error = NodeError::CatchUpRefused { condition };
                            self.report(&node.target, error).await?;
                            let held = std::mem::take(&mut node.held);
                            for item in held {
                                self.accept(&node.target, item, false, false).await?;
                            }
                            node.phase = Phase::Live;
                            self.set_node(
                                &node.target.uri,
                                NodeState::Subscribed {
                                    recovered: 0,
                                    gap: true,
                                },
                            );
                            break;
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Keeps live items until the catch-up is over, at most the stream's buffer size of
    /// them: beyond it they are let go and the node is fetched again once the current
    /// fetch is handled (the node stores them; if it no longer holds the last item
    /// received, that fetch reports the gap). Memory stays bounded, nothing is dropped
    /// without a word.
    fn hold(&mut self, node: &mut Node, items: Vec<NodeItem>) {
        let limit = self.cfg.stream.delivery.buffer.max(1);
        if node.held.len() + items.len() > limit {
            tracing::debug!(node = %node.target.uri, limit, "live items held during the catch-up let go: the node is fetched again");
            let let_go = node.held.len() as u64;
            self.status.send_modify(|s| s.refetched += let_go);
            node.held.clear();
            node.refetch = true;
        }
        node.held.extend(items);
    }

    /// The node's stored items arrived (oldest first, as Prosody lists them): deliver
    /// those after the last item received, then the live items held meanwhile.
    async fn on_items(
        &mut self,
        stream: &mut connect::Stream,
        node: &mut Node,
        items: Vec<NodeItem>,
    ) -> Result<(), Ended> {
        let Phase::Fetching {
            asked, baseline, ..
        } = node.phase
        else {
            return Ok(());
        };
        let uri = node.target.uri.clone();
        let mut gap = false;
        // Live items arrived after the subscription took effect: new, whatever the fetch says.
        let held = std::mem::take(&mut node.held);
        let held_ids: HashSet<String> = held.iter().filter_map(|i| i.id.clone()).collect();
        let start = if baseline {
            if self.cfg.last_items == 0 || items.is_empty() {
                // The newest item published before the subscription; later ones are held.
                let newest = items
                    .iter()
                    .rev()
                    .filter_map(|i| i.id.clone())
                    .find(|id| !held_ids.contains(id));
                if newest.is_some() || held.is_empty() {
                    self.out
                        .advance(Mark {
                            node: uri.clone(),
                            item_id: newest,
                        })
                        .await?;
                }
                items.len()
            } else {
                items.len().saturating_sub(self.cfg.last_items as usize)
            }
        } else {
            let last = self
                .out
                .received()
                .node(&uri)
                .and_then(|p| p.item_id.clone());
            match last {
                None => 0,
                Some(last) => match items.iter().position(|i| i.id.as_deref() == Some(&last)) {
                    Some(i) => i + 1,
                    None => {
                        if let Some(n) = asked.filter(|&n| items.len() >= n as usize) {
                            if n < MAX_PAGE {
                                let more = n.saturating_mul(GROWTH).min(MAX_PAGE);
                                return self.fetch(stream, node, Some(more), false).await;
                            }
                        }
                        tracing::warn!(node = %uri, last_seen = %last, available = items.len(),
                            "the last item seen is no longer in the node: items may have been missed");
                        self.status.send_modify(|s| s.gaps += 1);
                        gap = true;
                        0
                    }
                },
            }
        };
        let fetched: HashSet<String> = items.iter().filter_map(|i| i.id.clone()).collect();
        let mut recovered = 0;
        let mut flag = gap;
        for item in items.into_iter().skip(start) {
            if baseline && item.id.as_ref().is_some_and(|id| held_ids.contains(id)) {
                continue; // live: delivered below, in arrival order
            }
            if self.accept(&node.target, item, true, flag).await? {
                recovered += 1;
                flag = false;
            }
        }
        if std::mem::take(&mut node.refetch) {
            // Live items were let go: the node has them after what was just delivered.
            // (`held` is what came after that; the next fetch has it too.) A first
            // subscription cannot tell the items published since it from older ones
            // among those: a gap, reported.
            if baseline {
                tracing::warn!(node = %uri, "more live items than the buffer during a first subscription: some may be missing");
                self.status.send_modify(|s| s.gaps += 1);
            }
            self.status.send_modify(|s| s.recovered += recovered);
            return self.fetch(stream, node, Some(FIRST_PAGE), false).await;
        }
        for item in held {
            if !baseline && item.id.as_ref().is_some_and(|id| fetched.contains(id)) {
                continue; // stored too: delivered above, or older than the position
            }
            self.accept(&node.target, item, false, false).await?;
        }
        node.phase = Phase::Live;
        self.reported.remove(&uri);
        tracing::info!(node = %uri, recovered, gap, "subscribed");
        self.status.send_modify(|s| {
            s.recovered += recovered;
            s.nodes
                .insert(uri.clone(), NodeState::Subscribed { recovered, gap });
        });
        Ok(())
    }

    async fn on_message(&mut self, nodes: &mut [Node], m: Message) -> Result<(), Ended> {
        let Some(from) = m.from.as_ref() else {
            return Ok(());
        };
        let service = from.to_bare();
        for event in ps::events(&m.payloads) {
            let name = match &event {
                Event::Items { node, .. } | Event::Deleted { node } | Event::Purged { node } => {
                    node.clone()
                }
            };
            let Some(node) = nodes
                .iter_mut()
                .find(|n| n.target.service == service && n.target.node == name)
            else {
                continue;
            };
            match event {
                Event::Items { items, .. } => match node.phase {
                    Phase::Subscribing { .. } | Phase::Fetching { .. } => self.hold(node, items),
                    Phase::Live => {
                        for item in items {
                            self.accept(&node.target, item, false, false).await?;
                        }
                    }
                    Phase::RetryAt(_) => {}
                },
                Event::Deleted { .. } => self.node_failed(node, NodeError::Deleted).await?,
                Event::Purged { .. } => {
                    tracing::info!(node = %node.target.uri, "the node was purged")
                }
            }
        }
        Ok(())
    }

    /// The service refused the node: report it (once until it recovers) and try again later.
    async fn node_failed(&mut self, node: &mut Node, error: NodeError) -> Result<(), Ended> {
        let uri = node.target.uri.clone();
        tracing::warn!(node = %uri, %error, retry_in = ?self.cfg.node_retry, "node unavailable");
        node.phase = Phase::RetryAt(Instant::now() + self.cfg.node_retry);
        node.held.clear();
        self.set_node(
            &uri,
            NodeState::Failed {
                reason: error.to_string(),
            },
        );
        if matches!(error, NodeError::NotFound) && self.out.received().node(&uri).is_none() {
            // Whatever a node created later publishes is new to us.
            self.out
                .advance(Mark {
                    node: uri,
                    item_id: None,
                })
                .await?;
        }
        self.report(&node.target, error).await
    }

    async fn report(&mut self, target: &NodeTarget, error: NodeError) -> Result<(), Ended> {
        if self.reported.get(&target.uri) == Some(&error) {
            return Ok(());
        }
        self.reported.insert(target.uri.clone(), error.clone());
        let item = Err(NodeStreamError::Node {
            service: target.service.clone(),
            node: target.node.clone(),
            error,
        });
        self.out.deliver(item, None).await
    }

    /// Turns one item into a stream item: parses its payload, drops duplicates, filters,
    /// delivers. Returns whether a change was delivered.
    async fn accept(
        &mut self,
        target: &NodeTarget,
        item: NodeItem,
        replayed: bool,
        gap_before: bool,
    ) -> Result<bool, Ended> {
        let NodeItem { id, payload } = item;
        let mark = id.as_ref().map(|id| Mark {
            node: target.uri.clone(),
            item_id: Some(id.clone()),
        });
        let parsed = payload.as_ref().map(recentchanges_core::from_element);
        let stamp = match &parsed {
            Some(Ok(change)) => change.timestamp.map(|t| t.timestamp_micros()),
            _ => None,
        };
        if let Some(id) = &id {
            if !self
                .dedup
                .first_time((target.uri.clone(), id.clone(), stamp))
            {
                tracing::debug!(node = %target.uri, item = %id, "duplicate item dropped");
                self.status.send_modify(|s| s.duplicates += 1);
                self.out.advance(mark).await?;
                return Ok(false);
            }
        }
        let item = match parsed {
            None => Err(NodeStreamError::NoPayload {
                service: target.service.clone(),
                node: target.node.clone(),
                item_id: id,
            }),
            Some(Err(error)) => Err(NodeStreamError::BadPayload {
                service: target.service.clone(),
                node: target.node.clone(),
                item_id: id,
                error: Box::new(error),
            }),
            Some(Ok(mut change)) => {
                if change.wiki.is_none() {
                    change.wiki = Some(target.node.clone());
                }
                if !self.cfg.stream.delivery.filter.matches(&change) {
                    self.out.advance(mark).await?;
                    return Ok(false);
                }
                Ok(NodeChange {
                    change,
                    service: target.service.clone(),
                    node: target.node.clone(),
                    item_id: id,
                    replayed,
                    gap_before,
                })
            }
        };
        let delivered = item.is_ok();
        self.out.deliver(item, mark).await?;
        Ok(delivered)
    }
}
