//! The task behind each kind of source: it reads the source's own stream and hands each
//! item over with the position after it. One module per transport, each behind the
//! crate feature that brings it.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Change, Message, Source, SourceError, SourceName, SourceStatus, State};

#[cfg(feature = "eventstreams")]
mod eventstreams;
mod poll;
#[cfg(feature = "wikiping")]
mod wikiping;
#[cfg(feature = "xmpp")]
mod xmpp;

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
        #[cfg(feature = "xmpp")]
        SourceName::Room(room) => xmpp::rooms(source, room, position, feed),
        #[cfg(feature = "xmpp")]
        SourceName::PubSub { service, node } => xmpp::pubsub(source, service, node, position, feed),
        #[cfg(not(feature = "xmpp"))]
        SourceName::Room(_) | SourceName::PubSub { .. } => Err(lacks("xmpp")),
        SourceName::MediaWiki(url) => poll::mediawiki(source, url, position, feed),
        SourceName::DokuWiki(url) | SourceName::JspWiki(url) => {
            poll::wikirpc(source, url, position, feed)
        }
        #[cfg(feature = "wikiping")]
        SourceName::WikiPing(addr) => Ok(tokio::spawn(wikiping::run(addr, source.filter, feed))),
        #[cfg(not(feature = "wikiping"))]
        SourceName::WikiPing(_) => Err(lacks("wikiping")),
        #[cfg(feature = "eventstreams")]
        SourceName::EventStreams(streams) => eventstreams::open(source, streams, position, feed),
        #[cfg(not(feature = "eventstreams"))]
        SourceName::EventStreams(_) => Err(lacks("eventstreams")),
    }
}

/// The error for a source whose transport this build left out.
#[allow(dead_code)]
fn lacks(feature: &str) -> SourceError {
    SourceError::Config(format!(
        "this build of recentchanges lacks the `{feature}` feature this source needs"
    ))
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
