//! Wikimedia EventStreams.

use futures::StreamExt;
use recentchanges_core::{Kind, RecentChange};
use recentchanges_http::eventstreams::{self as es, EventStream, EventStreams};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{config, from_value, to_value, Feed};
use crate::source::{Change, Source, SourceError, State};

/// The streams named (or the URL), from the source's position or start.
pub(super) fn open(
    source: Source,
    streams: String,
    position: Option<Value>,
    feed: Feed,
) -> Result<JoinHandle<()>, SourceError> {
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
    Ok(tokio::spawn(follow(stream, via, feed)))
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

async fn follow(mut stream: EventStream, via: String, feed: Feed) {
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
