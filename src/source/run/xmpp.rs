//! XMPP rooms (optionally completed from the API: backfill) and PubSub nodes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use recentchanges_http::backfill::{BackfillConfig, BackfillPosition, Backfilled, Merged};
use recentchanges_http::{Api, Start};
use recentchanges_xmpp::pubsub::{NodeChange, NodeStream, PubSubPosition, Subscriber};
use recentchanges_xmpp::{
    ChangeStream, Client, ClientBuilder, Connection, ResumePosition, RoomChange,
};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::poll::poller_config;
use super::{config, from_value, to_value, Feed};
use crate::source::{Change, Login, Source, SourceError, State};

/// A room stream (with the source's other rooms), or with backfill the merged stream.
pub(super) fn rooms(
    source: Source,
    room: String,
    position: Option<Value>,
    feed: Feed,
) -> Result<JoinHandle<()>, SourceError> {
    let mut client = xmpp_client(&source)?;
    for room in std::iter::once(&room).chain(&source.rooms) {
        client = client.room(room, &source.nick).map_err(config)?;
    }
    match &source.backfill {
        None => {
            let mut resume = from_value::<ResumePosition>(position)?;
            if let (true, Start::At(t)) = (resume.rooms.is_empty(), source.start) {
                // No saved position: every room catches up from that time.
                for room in std::iter::once(&room).chain(&source.rooms) {
                    resume.record(room, None, Some(t));
                }
            }
            let stream = client
                .filter(source.filter.clone())
                .resume(resume)
                .connect()
                .map_err(config)?;
            Ok(tokio::spawn(follow_rooms(stream, feed)))
        }
        Some(url) => {
            let api = Api::new(url).map_err(config)?;
            let wiki = source.wiki.clone().ok_or_else(|| {
                SourceError::Config("backfill needs the room's wiki id: .wiki(...)".into())
            })?;
            // The source's filter goes to the merger (in the poller's config), which
            // must see every rcid of the room to tell a gap from a filtered change.
            let cfg = BackfillConfig::new(poller_config(&source, wiki));
            let stream =
                Backfilled::start(client, api, cfg, from_value::<BackfillPosition>(position)?)
                    .map_err(config)?;
            Ok(tokio::spawn(backfilled(stream, url.clone(), feed)))
        }
    }
}

/// A PubSub node's stream.
pub(super) fn pubsub(
    source: Source,
    service: String,
    node: String,
    position: Option<Value>,
    feed: Feed,
) -> Result<JoinHandle<()>, SourceError> {
    let mut sub = match &source.login {
        Some(Login::Account { jid, password }) => Subscriber::builder(jid, password.clone()),
        Some(Login::Anonymous { domain }) => Subscriber::anonymous(domain),
        None => {
            return Err(SourceError::Config(format!(
                "{}: an XMPP source needs .account(jid, password) or .anonymous(domain)",
                source.name
            )))
        }
    }
    .map_err(config)?
    .node(&service, &node)
    .map_err(config)?;
    if let Some(addr) = &source.server {
        sub = sub.server(addr).map_err(config)?;
    }
    let stream = sub
        .tls(source.tls.clone())
        .filter(source.filter.clone())
        .resume(from_value::<PubSubPosition>(position)?)
        .connect()
        .map_err(config)?;
    Ok(tokio::spawn(follow_pubsub(
        stream,
        source.wiki.clone(),
        feed,
    )))
}

fn xmpp_client(source: &Source) -> Result<ClientBuilder, SourceError> {
    let mut client = match &source.login {
        Some(Login::Account { jid, password }) => Client::builder(jid, password.clone()),
        Some(Login::Anonymous { domain }) => Client::anonymous(domain),
        None => {
            return Err(SourceError::Config(format!(
                "{}: an XMPP source needs .account(jid, password) or .anonymous(domain)",
                source.name
            )))
        }
    }
    .map_err(config)?;
    if let Some(addr) = &source.server {
        client = client.server(addr).map_err(config)?;
    }
    Ok(client.tls(source.tls.clone()))
}

fn room_change(c: RoomChange) -> Change {
    Change {
        via: c.room.to_string(),
        id: c.stanza_id.clone(),
        replayed: c.replayed,
        #[cfg(feature = "eventstreams")]
        delivery: None,
        change: c.change,
    }
}

/// Mirrors the XMPP client's status into the source's.
/// `merged`: duplicates dropped above the client (by backfill), added to the client's own.
fn watch_xmpp(
    mut status: watch::Receiver<recentchanges_xmpp::Status>,
    feed: &Feed,
    merged: Arc<AtomicU64>,
) -> JoinHandle<()> {
    let out = feed.status.clone();
    tokio::spawn(async move {
        let mut was_live = false;
        loop {
            let s = status.borrow_and_update().clone();
            let state = match &s.connection {
                // Live once every room is joined and every node subscribed (or refused):
                // from then on, what is published reaches the stream.
                Connection::Online { .. } => match unsettled(&s) {
                    None => State::Live,
                    Some(Err(failed)) => failed,
                    Some(Ok(_)) if !was_live => State::Starting,
                    Some(Ok(what)) => State::Retrying { reason: what },
                },
                Connection::Failed { reason } => State::Failed {
                    reason: reason.clone(),
                },
                Connection::Connecting if s.connections == 0 => State::Starting,
                Connection::Disconnected { reason } => State::Retrying {
                    reason: reason.to_string(),
                },
                Connection::Closed => State::Failed {
                    reason: "closed".into(),
                },
                other => State::Retrying {
                    reason: format!("{other:?}"),
                },
            };
            was_live |= state == State::Live;
            out.send_modify(|o| {
                o.state = state;
                o.duplicates = s.duplicates + merged.load(Ordering::Relaxed);
                o.dropped = s.dropped;
            });
            if status.changed().await.is_err() {
                return;
            }
        }
    })
}

/// What keeps an online XMPP source from being live: `Ok` the first room or node still
/// joining or subscribing, `Err` a failed state when every room was given up on (banned,
/// destroyed...) and there are no nodes, so nothing can come any more.
fn unsettled(s: &recentchanges_xmpp::Status) -> Option<Result<String, State>> {
    use recentchanges_xmpp::{NodeState, RoomState};
    let room = s.rooms.iter().find_map(|(room, state)| match state {
        RoomState::Joining => Some(format!("joining {room}")),
        RoomState::Rejoining { reason } => Some(format!("rejoining {room}: {reason}")),
        _ => None,
    });
    let node = || {
        s.nodes.iter().find_map(|(node, state)| match state {
            NodeState::Subscribing => Some(format!("subscribing to {node}")),
            NodeState::CatchingUp => Some(format!("catching up on {node}")),
            _ => None,
        })
    };
    if let Some(what) = room.or_else(node) {
        return Some(Ok(what));
    }
    let failed = |r: &RoomState| matches!(r, RoomState::Failed { .. });
    if s.nodes.is_empty() && !s.rooms.is_empty() && s.rooms.values().all(failed) {
        let reasons: Vec<String> = s
            .rooms
            .iter()
            .filter_map(|(room, state)| match state {
                RoomState::Failed { reason } => Some(format!("{room}: {reason}")),
                _ => None,
            })
            .collect();
        let reason = format!("every room failed ({})", reasons.join("; "));
        return Some(Err(State::Failed { reason }));
    }
    None
}

async fn follow_rooms(mut stream: ChangeStream, feed: Feed) {
    let watcher = watch_xmpp(stream.status(), &feed, Arc::default());
    while let Some(item) = stream.next().await {
        let position = to_value(&stream.position());
        if !feed
            .send(item.map(room_change).map_err(Into::into), position)
            .await
        {
            break;
        }
    }
    watcher.abort();
}

async fn follow_pubsub(mut stream: NodeStream, wiki: Option<String>, feed: Feed) {
    let watcher = watch_xmpp(stream.status(), &feed, Arc::default());
    while let Some(item) = stream.next().await {
        let position = to_value(&stream.position());
        let item = item.map_err(SourceError::from).map(|c: NodeChange| {
            let mut change = c.change;
            // The subscriber names a wiki-less entry after its node; `.wiki()` says better.
            if let (Some(w), true) = (&wiki, change.wiki.as_deref() == Some(c.node.as_str())) {
                change.wiki = Some(w.clone());
            }
            Change {
                via: recentchanges_xmpp::pubsub::node_uri(c.service.as_str(), &c.node),
                id: c.item_id,
                replayed: c.replayed,
                #[cfg(feature = "eventstreams")]
                delivery: None,
                change,
            }
        });
        if !feed.send(item, position).await {
            break;
        }
    }
    watcher.abort();
}

async fn backfilled(mut stream: Backfilled, api_url: String, feed: Feed) {
    let merged = Arc::new(AtomicU64::new(0));
    let watcher = watch_xmpp(stream.status(), &feed, merged.clone());
    while let Some(item) = stream.next().await {
        let position = to_value(stream.position());
        let item = item.map_err(SourceError::from).map(|m| match m {
            Merged::Live(c) => room_change(c),
            Merged::Backfilled(change) => Change {
                change,
                via: api_url.clone(),
                id: None,
                replayed: true,
                #[cfg(feature = "eventstreams")]
                delivery: None,
            },
            other => Change {
                change: other.change().clone(),
                via: api_url.clone(),
                id: None,
                replayed: true,
                #[cfg(feature = "eventstreams")]
                delivery: None,
            },
        });
        merged.store(stream.stats().duplicates, Ordering::Relaxed);
        let client = stream.status().borrow().duplicates;
        feed.status
            .send_modify(|s| s.duplicates = client + merged.load(Ordering::Relaxed));
        if !feed.send(item, position).await {
            break;
        }
    }
    watcher.abort();
}
