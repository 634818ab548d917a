//! Wikimedia EventStreams: the public wikis' live changes over Server-Sent Events
//! (<https://stream.wikimedia.org/v2/stream/recentchange>), as a [`Stream`] that reconnects
//! and resumes by itself, never yields an event twice and never skips one it can reach.
//!
//! ```no_run
//! use futures::StreamExt;
//! use recentchanges_http::eventstreams::EventStreams;
//!
//! # async fn run() -> Result<(), recentchanges_http::eventstreams::EventStreamsError> {
//! let mut events = EventStreams::new("recentchange")?
//!     .user_agent("my-bot/1.0 (https://example.org/my-bot; me@example.org)")
//!     .connect()?;
//! while let Some(item) = events.next().await {
//!     match item {
//!         Ok(ev) => if let Some(rc) = ev.change() { println!("{rc}") },
//!         Err(e) if e.is_fatal() => return Err(e),
//!         Err(e) => eprintln!("skipped: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! What it does, and why:
//!
//! - **Framing**: the WHATWG event-stream rules (`event`, multi-line `data`, `id`,
//!   `retry`, comments, LF / CR / CRLF, a leading BOM, events split across reads) by the
//!   [`sse-parse`](https://docs.rs/sse-parse) crate: a sans-IO, linear-time parser that
//!   caps the bytes of one event (`max_buffer`) and counts what it drops, so an oversized
//!   event becomes an error item instead of unbounded memory. (`eventsource-stream`, the
//!   other common choice, has no such cap and has not been released since 2022.)
//! - **Resume**: every event's `id` is a JSON array of `{topic, partition, offset}` (or
//!   `timestamp`) for each topic-partition read; the [`Position`] keeps the newest place
//!   of each and is sent as `Last-Event-ID` on every reconnect; `since` is sent only when
//!   there is no position. Events already covered by the position (by offset) or seen in
//!   the last few thousand (by `meta.id`) are dropped as duplicates and counted.
//! - **Canaries** (`meta.domain == "canary"`), the service's own test events, are dropped
//!   and counted.
//! - **Reconnects**: at once after the server closes the connection cleanly (it does every
//!   few minutes), or after the server's `retry:` time; after errors with exponential
//!   backoff and jitter; after `429` / `503` never before `Retry-After`. No bytes (not even
//!   a heartbeat comment) for [`stall_timeout`](EventStreams::stall_timeout) is a silent
//!   stall: the connection is dropped and made again.
//! - **Bad events** (invalid JSON, a field of the wrong type, an oversized event) are error
//!   items naming what was wrong; the stream goes on.

mod connection;
mod error;
mod event;
mod position;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::Stream;
use recentchanges_core::Filter;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use error::EventStreamsError;
pub use event::{Body, Delivery, Event};
pub use position::{Assignment, At, Position};

use crate::polling::Start;

/// The base URL of Wikimedia's public EventStreams.
pub const WIKIMEDIA: &str = "https://stream.wikimedia.org/v2/stream/";

/// What to follow and how: build it with [`EventStreams::new`], then
/// [`connect`](Self::connect).
#[derive(Debug, Clone)]
pub struct EventStreams {
    url: String,
    all_changes: bool,
    start: Start,
    position: Position,
    user_agent: String,
    max_event_bytes: usize,
    stall_timeout: Duration,
    backoff: (Duration, Duration),
    filter: Filter,
}

impl EventStreams {
    /// Streams by name, comma-separated (`recentchange`, `recentchange,page-delete`), read
    /// from Wikimedia's service; or the full URL of a stream on a self-hosted EventStreams
    /// (`https://host/v2/stream/recentchange`).
    pub fn new(streams: &str) -> Result<EventStreams, EventStreamsError> {
        let streams = streams.trim();
        let url = if streams.starts_with("http://") || streams.starts_with("https://") {
            streams.to_owned()
        } else {
            let names: Vec<&str> = streams.split(',').map(str::trim).collect();
            if names.iter().any(|n| {
                n.is_empty()
                    || !n
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            }) {
                return Err(EventStreamsError::Config(format!(
                    "{streams:?}: expected stream names separated by commas (e.g. recentchange,page-delete) or an http(s) URL"
                )));
            }
            format!("{WIKIMEDIA}{}", names.join(","))
        };
        let names = url
            .split(['?', '#'])
            .next()
            .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
            .unwrap_or_default();
        let all_changes = names
            .split(',')
            .all(|n| event::is_recentchange_stream(n.trim()));
        Ok(EventStreams {
            url,
            all_changes,
            start: Start::Now,
            position: Position::default(),
            user_agent: crate::http::DEFAULT_USER_AGENT.to_owned(),
            max_event_bytes: 1 << 20,
            stall_timeout: Duration::from_secs(60),
            backoff: (Duration::from_secs(1), Duration::from_secs(60)),
            filter: Filter::new(),
        })
    }

    /// The stream URL requested.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where to start without a position: [`Start::Now`] (the default: new events only),
    /// [`Start::At`] a time (sent as `since`), or [`Start::Beginning`] (the oldest the
    /// service keeps, about a week on Wikimedia's).
    pub fn since(mut self, start: Start) -> Self {
        self.start = start;
        self
    }

    /// Continue after a saved [`Position`] (from [`EventStream::position`]); it wins over
    /// [`since`](Self::since).
    pub fn resume(mut self, position: Position) -> Self {
        self.position = position;
        self
    }

    /// The `User-Agent` sent: your tool and a contact, as Wikimedia's User-Agent policy
    /// asks (the default names this SDK and says how to set one).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// The largest event read (default 1 MiB); a larger one is an error item.
    pub fn max_event_bytes(mut self, limit: usize) -> Self {
        self.max_event_bytes = limit.max(1);
        self
    }

    /// Reconnect when nothing at all (no event, no heartbeat comment) arrived for this long
    /// (default 60 s).
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The delay before the first reconnect after an error, doubled (with jitter) up to
    /// `max` (defaults 1 s and 60 s).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff = (initial, max.max(initial));
        self
    }

    /// Only yield the recent changes this filter keeps (events of other streams pass); the
    /// others still move the position on.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Starts following (in a tokio task: call it inside a runtime). Fails only on a bad
    /// URL or User-Agent; everything later arrives on the stream or in its status.
    pub fn connect(self) -> Result<EventStream, EventStreamsError> {
        let (tx, rx) = mpsc::channel(256);
        let (status_tx, status) = watch::channel(Status::default());
        let position = self.position.clone();
        let task = connection::spawn(self, tx, status_tx)?;
        Ok(EventStream {
            rx,
            position,
            status,
            task,
        })
    }
}

/// How an [`EventStream`] is doing.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Status {
    /// Connected, waiting to reconnect, or given up.
    pub state: State,
    /// Connections made (answered with 200).
    pub connections: u64,
    /// Events yielded.
    pub events: u64,
    /// Canary events dropped.
    pub canaries: u64,
    /// Events dropped because they were read before.
    pub duplicates: u64,
    /// Error items yielded.
    pub errors: u64,
    /// Answers `429 Too Many Requests` received.
    pub throttled: u64,
    /// Connections dropped because nothing arrived for the stall timeout.
    pub stalls: u64,
    /// `meta.dt` of the newest event read.
    pub last_event_at: Option<DateTime<Utc>>,
}

/// The state of an [`EventStream`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Connecting.
    #[default]
    Connecting,
    /// Connected and reading.
    Live,
    /// Lost the connection or refused: waiting before the next attempt.
    Waiting {
        /// Why.
        reason: String,
        /// How long.
        delay: Duration,
    },
    /// Stopped for good.
    Failed {
        /// Why.
        reason: String,
    },
}

/// What the connection task hands over: an item (or nothing, for an event that was
/// dropped: canary, duplicate, filtered) and the position after it.
struct Message {
    item: Option<Result<Event, EventStreamsError>>,
    position: Option<Position>,
}

/// The events: see [`EventStreams::connect`]. Stops the connection when dropped.
pub struct EventStream {
    rx: mpsc::Receiver<Message>,
    position: Position,
    status: watch::Receiver<Status>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("position", &self.position)
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// The position after the last item yielded: give it to [`EventStreams::resume`].
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// The stream's status, updated as it changes.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stream for EventStream {
    type Item = Result<Event, EventStreamsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Message { item, position })) => {
                    if let Some(p) = position {
                        self.position = p;
                    }
                    if let Some(item) = item {
                        return Poll::Ready(Some(item));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
