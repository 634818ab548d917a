//! The task behind each kind of source: it reads the source's own stream and hands each
//! item over with the position after it. One module per transport, each behind the
//! crate feature that brings it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Change, Message, Source, SourceError, SourceName, SourceStatus, State};

#[cfg(feature = "eventstreams")]
mod eventstreams;
pub(super) mod poll;
#[cfg(feature = "wikiping")]
mod wikiping;
#[cfg(feature = "xmpp")]
mod xmpp;

/// Where a task sends its items and status.
pub(super) struct Feed {
    pub tx: mpsc::Sender<Message>,
    pub status: watch::Sender<SourceStatus>,
    /// Set once a fatal item was handed over: the task's end is explained.
    pub said_why: Arc<AtomicBool>,
}

impl Feed {
    /// Hands one item over; `false` once the consumer is gone.
    async fn send(&self, item: Result<Change, SourceError>, position: Option<Value>) -> bool {
        self.status.send_modify(|s| match &item {
            Ok(_) => s.changes += 1,
            Err(_) => s.errors += 1,
        });
        if matches!(&item, Err(e) if e.is_fatal()) {
            self.said_why.store(true, Ordering::Relaxed);
        }
        self.tx
            .send(Message {
                item: Some(item),
                position,
            })
            .await
            .is_ok()
    }

    /// Hands over only a position (a poll that brought nothing new); `false` once the
    /// consumer is gone.
    async fn position(&self, position: Option<Value>) -> bool {
        self.tx
            .send(Message {
                item: None,
                position,
            })
            .await
            .is_ok()
    }

    fn state(&self, state: State) {
        self.status.send_if_modified(|s| {
            let changed = s.state != state;
            s.state = state;
            changed
        });
    }
}

/// Starts the source's task under a supervisor: a task that panics, or ends while the
/// consumer still reads without having said why (a fatal item, or its end), ends the
/// stream with a fatal [`SourceError::Stopped`] and the state
/// [`Failed`](State::Failed), never silently.
pub(super) fn spawn(
    source: Source,
    position: Option<Value>,
    feed: Feed,
) -> Result<JoinHandle<()>, SourceError> {
    let (tx, status, said_why) = (feed.tx.clone(), feed.status.clone(), feed.said_why.clone());
    let task = open(source, position, feed)?;
    Ok(tokio::spawn(supervise(
        AbortOnDrop(task),
        tx,
        status,
        said_why,
    )))
}

/// Aborts the task when dropped: aborting the supervisor stops the source too.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn supervise(
    mut task: AbortOnDrop,
    tx: mpsc::Sender<Message>,
    status: watch::Sender<SourceStatus>,
    said_why: Arc<AtomicBool>,
) {
    let why = match (&mut task.0).await {
        Err(e) if e.is_panic() => {
            let panic = e.into_panic();
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            format!("the source's task panicked: {what}")
        }
        Err(_) => return, // aborted: the stream was closed
        Ok(()) => {
            let said_why = said_why.load(Ordering::Relaxed)
                || matches!(
                    status.borrow().state,
                    State::Failed { .. } | State::Finished
                );
            if said_why || tx.is_closed() {
                return;
            }
            "the source's task ended without saying why".into()
        }
    };
    tracing::error!("{why}");
    status.send_modify(|s| {
        s.errors += 1;
        s.state = State::Failed {
            reason: why.clone(),
        };
    });
    let _ = tx
        .send(Message {
            item: Some(Err(SourceError::Stopped(why))),
            position: None,
        })
        .await;
}

fn open(
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn supervised(task: impl std::future::Future<Output = ()> + Send + 'static) -> Message {
        let (tx, mut rx) = mpsc::channel(4);
        let (status, watch) = watch::channel(SourceStatus::default());
        let said_why = Arc::default();
        tokio::spawn(supervise(
            AbortOnDrop(tokio::spawn(task)),
            tx,
            status,
            said_why,
        ));
        let msg = rx.recv().await.expect("a message");
        assert!(matches!(watch.borrow().state, State::Failed { .. }));
        msg
    }

    #[tokio::test]
    async fn a_task_that_panics_ends_the_stream_with_a_fatal_error_saying_so() {
        let msg = supervised(async { panic!("lag is NaN") }).await;
        let err = msg.item.unwrap().unwrap_err();
        assert!(err.is_fatal());
        assert_eq!(err.to_string(), "the source's task panicked: lag is NaN");
    }

    #[tokio::test]
    async fn a_task_that_ends_without_a_word_is_reported() {
        let msg = supervised(async {}).await;
        assert!(msg
            .item
            .unwrap()
            .unwrap_err()
            .to_string()
            .contains("without saying why"));
    }
}
