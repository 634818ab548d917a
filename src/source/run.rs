//! The task behind each kind of source: it reads the source's own stream and hands each
//! item over with the position after it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use recentchanges_core::{Kind, RecentChange};
use recentchanges_http::backfill::{BackfillConfig, BackfillPosition, Backfilled, Merged};
use recentchanges_http::eventstreams::{self as es, EventStream, EventStreams};
use recentchanges_http::wikiping::PingListener;
use recentchanges_http::wikirpc::{self as rpc, Credentials, Dialect, RpcError};
use recentchanges_http::{Api, Poller, PollerConfig};
use recentchanges_xmpp::pubsub::{NodeChange, NodeStream, PubSubPosition, Subscriber};
use recentchanges_xmpp::{
    ChangeStream, Client, ClientBuilder, Connection, ResumePosition, RoomChange,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Change, Login, Message, Source, SourceError, SourceName, SourceStatus, State};

/// Where a task sends its items and status.
pub(super) struct Feed {
    pub tx: mpsc::Sender<Message>,
    pub status: watch::Sender<SourceStatus>,
}

impl Feed {
    /// Hands one item over; `false` once the consumer is gone.
    async fn send(&self, item: Result<Change, SourceError>, position: Option<Value>) -> bool {
        self.status.send_modify(|s| match &item {
            Ok(_) => s.changes += 1,
            Err(_) => s.errors += 1,
        });
        self.tx.send(Message { item, position }).await.is_ok()
    }

    fn state(&self, state: State) {
        self.status.send_if_modified(|s| {
            let changed = s.state != state;
            s.state = state;
            changed
        });
    }
}

pub(super) fn spawn(
    source: Source,
    position: Option<Value>,
    feed: Feed,
) -> Result<JoinHandle<()>, SourceError> {
    match source.name.clone() {
        SourceName::Room(room) => {
            let mut client = xmpp_client(&source)?;
            for room in std::iter::once(&room).chain(&source.rooms) {
                client = client.room(room, &source.nick).map_err(config)?;
            }
            match &source.backfill {
                None => {
                    let stream = client
                        .resume(from_value::<ResumePosition>(position)?)
                        .try_connect()
                        .map_err(config)?;
                    Ok(tokio::spawn(rooms(stream, feed)))
                }
                Some(url) => {
                    let api = Api::new(url).map_err(config)?;
                    let wiki = source.wiki.clone().ok_or_else(|| {
                        SourceError::Config("backfill needs the room's wiki id: .wiki(...)".into())
                    })?;
                    let cfg = BackfillConfig::new(poller_config(&source, wiki));
                    let stream = Backfilled::start(
                        client,
                        api,
                        cfg,
                        from_value::<BackfillPosition>(position)?,
                    )
                    .map_err(config)?;
                    Ok(tokio::spawn(backfilled(stream, url.clone(), feed)))
                }
            }
        }
        SourceName::PubSub { service, node } => {
            let mut sub = match &source.login {
                Some(Login::Account { jid, password }) => {
                    Subscriber::builder(jid, password.clone())
                }
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
                .try_connect()
                .map_err(config)?;
            Ok(tokio::spawn(pubsub(stream, source.wiki.clone(), feed)))
        }
        SourceName::MediaWiki(url) => {
            let mut api = Api::builder(&url);
            if let Some(ua) = &source.user_agent {
                api = api.user_agent(ua.clone());
            }
            let api = api.build().map_err(config)?;
            let wiki = source.wiki.clone().unwrap_or_else(|| host_of(&url));
            let poller =
                Poller::new(api, poller_config(&source, wiki))
                    .resume(from_value::<recentchanges_http::Position>(position)?);
            Ok(tokio::spawn(mediawiki(poller, url, feed)))
        }
        SourceName::DokuWiki(url) | SourceName::JspWiki(url) => {
            let dialect = match source.name {
                SourceName::JspWiki(_) => Dialect::JspWiki,
                _ => Dialect::DokuWiki,
            };
            let mut client = rpc::Client::builder(&url, dialect);
            if let Some(ua) = &source.user_agent {
                client = client.user_agent(ua.clone());
            }
            if let Some((user, password)) = &source.credentials {
                client = client.credentials(Credentials::new(user, password));
            }
            let wiki = source.wiki.clone().unwrap_or_else(|| host_of(&url));
            let mut cfg = rpc::PollerConfig::new(wiki)
                .start(source.start)
                .filter(source.filter.clone());
            if let Some(every) = source.interval {
                cfg = cfg.interval(every);
            }
            let poller = rpc::Poller::new(client.build().map_err(config)?, cfg)
                .resume(from_value::<rpc::Position>(position)?);
            Ok(tokio::spawn(wikirpc(poller, url, feed)))
        }
        SourceName::WikiPing(addr) => Ok(tokio::spawn(wikiping(addr, source.filter, feed))),
        SourceName::EventStreams(streams) => {
            let mut cfg = EventStreams::new(&streams)
                .map_err(config)?
                .since(source.start)
                .filter(source.filter.clone())
                .resume(from_value::<es::Position>(position)?);
            if let Some(ua) = &source.user_agent {
                cfg = cfg.user_agent(ua.clone());
            }
            if let Some(t) = source.stall_timeout {
                cfg = cfg.stall_timeout(t);
            }
            let via = cfg.url().to_owned();
            let stream = cfg.connect().map_err(config)?;
            Ok(tokio::spawn(eventstreams(stream, via, feed)))
        }
    }
}

fn config(e: impl std::fmt::Display) -> SourceError {
    SourceError::Config(e.to_string())
}

fn from_value<T: DeserializeOwned + Default>(position: Option<Value>) -> Result<T, SourceError> {
    match position {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| {
            SourceError::Config(format!("the saved position is not this source's: {e}"))
        }),
    }
}

fn to_value(position: &impl Serialize) -> Option<Value> {
    serde_json::to_value(position).ok()
}

/// The host of a URL, the default wiki id of API and RPC sources.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_owned()
}

fn poller_config(source: &Source, wiki: String) -> PollerConfig {
    let mut cfg = PollerConfig::new(wiki)
        .start(source.start)
        .filter(source.filter.clone());
    if let Some(every) = source.interval {
        cfg = cfg.interval(every);
    }
    cfg
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
    Ok(client.tls(source.tls.clone()).filter(source.filter.clone()))
}

fn room_change(c: RoomChange) -> Change {
    Change {
        via: c.room.to_string(),
        id: c.stanza_id.clone(),
        replayed: c.replayed,
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
                    reason: reason.clone(),
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

async fn rooms(mut stream: ChangeStream, feed: Feed) {
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

async fn pubsub(mut stream: NodeStream, wiki: Option<String>, feed: Feed) {
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
                delivery: None,
            },
            other => Change {
                change: other.change().clone(),
                via: api_url.clone(),
                id: None,
                replayed: true,
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

async fn mediawiki(mut poller: Poller, url: String, feed: Feed) {
    loop {
        let item = match poller.step().await {
            Ok(None) => {
                feed.state(State::Live); // answered, nothing new
                continue;
            }
            Ok(Some(change)) => Ok(change),
            Err(e) => Err(e),
        };
        let position = to_value(poller.position());
        let failed_request =
            matches!(&item, Err(e) if !matches!(e, recentchanges_http::Error::Parse { .. }));
        match &item {
            Ok(_) => feed.state(State::Live),
            Err(e) if failed_request => feed.state(State::Retrying {
                reason: e.to_string(),
            }),
            Err(_) => {}
        }
        let item = item.map_err(SourceError::from).map(|change| Change {
            change,
            via: url.clone(),
            id: None,
            replayed: false,
            delivery: None,
        });
        if !feed.send(item, position).await {
            return;
        }
        if failed_request {
            tokio::time::sleep(poller.config().interval).await;
        }
    }
}

async fn wikirpc(mut poller: rpc::Poller, url: String, feed: Feed) {
    loop {
        let item = poller.next().await;
        let position = to_value(poller.position());
        let failed_request = matches!(
            &item,
            Err(RpcError::Http(_) | RpcError::Fault { .. } | RpcError::Response { .. })
        );
        match &item {
            Ok(_) => feed.state(State::Live),
            Err(RpcError::Auth { .. }) => feed.state(State::Failed {
                reason: "authentication refused".into(),
            }),
            Err(e) if failed_request => feed.state(State::Retrying {
                reason: e.to_string(),
            }),
            Err(_) => {}
        }
        let fatal = matches!(&item, Err(RpcError::Auth { .. }));
        let item = item.map_err(SourceError::from).map(|change| Change {
            change,
            via: url.clone(),
            id: None,
            replayed: false,
            delivery: None,
        });
        if !feed.send(item, position).await || fatal {
            return;
        }
        if failed_request {
            tokio::time::sleep(poller.config().interval).await;
        }
    }
}

async fn wikiping(addr: std::net::SocketAddr, filter: recentchanges_core::Filter, feed: Feed) {
    let mut listener = match PingListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            feed.state(State::Failed {
                reason: e.to_string(),
            });
            feed.send(Err(e.into()), None).await;
            return;
        }
    };
    feed.state(State::Live);
    let via = format!("wikiping:{}", listener.local_addr());
    while let Some(item) = listener.next().await {
        let item = match item {
            Ok(change) if !filter.matches(&change) => continue,
            Ok(change) => Ok(Change {
                change,
                via: via.clone(),
                id: None,
                replayed: false,
                delivery: None,
            }),
            Err(e) => Err(e.into()),
        };
        if !feed.send(item, None).await {
            return;
        }
    }
}

/// Mirrors an EventStreams status into the source's.
fn watch_eventstreams(mut status: watch::Receiver<es::Status>, feed: &Feed) -> JoinHandle<()> {
    let out = feed.status.clone();
    tokio::spawn(async move {
        loop {
            let s = status.borrow_and_update().clone();
            let state = match &s.state {
                es::State::Live => State::Live,
                es::State::Connecting if s.connections == 0 => State::Starting,
                es::State::Connecting => State::Retrying {
                    reason: "reconnecting".into(),
                },
                es::State::Waiting { reason, .. } => State::Retrying {
                    reason: reason.clone(),
                },
                es::State::Failed { reason } => State::Failed {
                    reason: reason.clone(),
                },
                other => State::Retrying {
                    reason: format!("{other:?}"),
                },
            };
            out.send_modify(|o| {
                o.state = state;
                o.duplicates = s.duplicates;
                o.canaries = s.canaries;
            });
            if status.changed().await.is_err() {
                return;
            }
        }
    })
}

/// An event of a stream that is not recent changes, as a change of kind `Other(stream)`
/// (e.g. `revision-create`) holding the event's JSON in `extra`, with the fields every
/// MediaWiki event schema shares read into the typed ones (`database`, `page_title`,
/// `page_namespace`, `rev_id`, `performer.user_text`, `meta.dt`).
fn other_event(json: serde_json::Value, delivery: &es::Delivery) -> RecentChange {
    let stream = delivery.stream.as_deref().unwrap_or("event");
    let mut rc = RecentChange::new(Kind::Other(
        stream.trim_start_matches("mediawiki.").to_owned(),
    ));
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    rc.wiki = json.get("database").and_then(text);
    rc.title = json.get("page_title").and_then(text);
    rc.namespace = json
        .get("page_namespace")
        .and_then(|v| v.as_i64())
        .and_then(|n| i32::try_from(n).ok());
    rc.page_id = json.get("page_id").and_then(|v| v.as_u64());
    rc.rev_id = json.get("rev_id").and_then(|v| v.as_u64());
    rc.user = json.pointer("/performer/user_text").and_then(text);
    rc.comment = json.get("comment").and_then(text);
    rc.timestamp = delivery.dt;
    if let serde_json::Value::Object(map) = json {
        rc.extra = map;
    }
    rc
}

async fn eventstreams(mut stream: EventStream, via: String, feed: Feed) {
    let watcher = watch_eventstreams(stream.status(), &feed);
    while let Some(item) = stream.next().await {
        let position = to_value(stream.position());
        let fatal = matches!(&item, Err(e) if e.is_fatal());
        if let (true, Err(e)) = (fatal, &item) {
            feed.state(State::Failed {
                reason: e.to_string(),
            });
        }
        let item = item.map_err(SourceError::from).map(|ev| {
            let change = match ev.body {
                es::Body::Change(c) => *c,
                es::Body::Other(json) => other_event(json, &ev.delivery),
                _ => RecentChange::new(Kind::Other("event".into())),
            };
            Change {
                change,
                via: via.clone(),
                id: ev.delivery.event_id.clone(),
                replayed: false,
                delivery: Some(ev.delivery),
            }
        });
        if !feed.send(item, position).await || fatal {
            break;
        }
    }
    watcher.abort();
}
