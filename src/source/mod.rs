//! One way to follow any source of recent changes: name it, set the options that apply,
//! and read one [`Stream`] of [`Change`]s with the same filter, status and resume
//! position whatever the source.
//!
//! ```no_run
//! use futures::StreamExt;
//! use recentchanges::source::Source;
//! use recentchanges::Filter;
//!
//! # async fn run() -> Result<(), recentchanges::source::SourceError> {
//! let mut changes = Source::new("dokuwiki:https://wiki.example/lib/exe/xmlrpc.php")?
//!     .wiki("examplewiki")
//!     .filter(Filter::new().namespace(0))
//!     .resume_from_file("examplewiki.pos")
//!     .open()?;
//! while let Some(item) = changes.next().await {
//!     match item {
//!         Ok(change) => println!("{change}"),
//!         Err(e) if e.is_fatal() => return Err(e),
//!         Err(e) => eprintln!("skipped: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Which options each source uses:
//!
//! | option | EventStreams | rooms | PubSub | MediaWiki | DokuWiki / JSPWiki | WikiPing |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | [`account`](Source::account) / [`anonymous`](Source::anonymous), [`server`](Source::server), [`tls`](Source::tls) | | yes | yes | | | |
//! | [`nick`](Source::nick), [`room`](Source::room) | | yes | | | | |
//! | [`backfill`](Source::backfill) | | yes | | | | |
//! | [`wiki`](Source::wiki) | | with backfill | default for entries without one | yes | yes | |
//! | [`credentials`](Source::credentials) | | | | | yes | |
//! | [`start`](Source::start) | yes (`since`) | a time (from the archive) | | yes | yes | |
//! | [`interval`](Source::interval), [`end`](Source::end) | | | | yes | yes | |
//! | [`user_agent`](Source::user_agent) | yes | | | yes | yes | |
//! | [`stall_timeout`](Source::stall_timeout) | yes | | | | | |
//! | [`filter`](Source::filter), [`resume`](Source::resume), [`resume_from_file`](Source::resume_from_file) | yes | yes | yes | yes | yes | yes (no position) |

mod name;
mod run;

use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Utc};

use futures::Stream;
use recentchanges_core::state::Committer;
use recentchanges_core::{Filter, RecentChange};
#[cfg(feature = "eventstreams")]
use recentchanges_http::eventstreams::{Delivery, EventStreamsError};
use recentchanges_http::mirror::TextSource;
use recentchanges_http::Start;
#[cfg(feature = "xmpp")]
use recentchanges_xmpp::Tls;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use name::SourceName;

/// A source of recent changes and the options to follow it with. See the
/// [module](self) documentation for which option applies where.
#[derive(Clone)]
pub struct Source {
    name: SourceName,
    rooms: Vec<String>,
    login: Option<Login>,
    server: Option<String>,
    #[cfg(feature = "xmpp")]
    tls: Tls,
    nick: String,
    wiki: Option<String>,
    backfill: Option<String>,
    credentials: Option<(String, String)>,
    interval: Option<Duration>,
    start: Start,
    end: Option<DateTime<Utc>>,
    user_agent: Option<String>,
    stall_timeout: Option<Duration>,
    filter: Filter,
    resume: Option<Value>,
    resume_file: Option<PathBuf>,
}

#[derive(Clone)]
#[cfg_attr(not(feature = "xmpp"), allow(dead_code))]
enum Login {
    Account { jid: String, password: String },
    Anonymous { domain: String },
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let login = match &self.login {
            Some(Login::Account { jid, .. }) => format!("account {jid} (password redacted)"),
            Some(Login::Anonymous { domain }) => format!("anonymous at {domain}"),
            None => "none".into(),
        };
        f.debug_struct("Source")
            .field("name", &self.name.to_string())
            .field("rooms", &self.rooms)
            .field("login", &login)
            .field("server", &self.server)
            .field("wiki", &self.wiki)
            .field("backfill", &self.backfill)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(u, _)| format!("{u} (password redacted)")),
            )
            .field("start", &self.start)
            .field("resume_file", &self.resume_file)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// A source by name (see [`SourceName`] for the forms).
    pub fn new(name: &str) -> Result<Source, SourceError> {
        Ok(Source::from_name(name.parse()?))
    }

    /// A source from a parsed name.
    pub fn from_name(name: SourceName) -> Source {
        Source {
            name,
            rooms: Vec::new(),
            login: None,
            server: None,
            #[cfg(feature = "xmpp")]
            tls: Tls::Required,
            nick: "recentchanges".into(),
            wiki: None,
            backfill: None,
            credentials: None,
            interval: None,
            start: Start::Now,
            end: None,
            user_agent: None,
            stall_timeout: None,
            filter: Filter::new(),
            resume: None,
            resume_file: None,
        }
    }

    /// The source's name.
    pub fn name(&self) -> &SourceName {
        &self.name
    }

    /// XMPP: log in with an account.
    pub fn account(mut self, jid: &str, password: impl Into<String>) -> Self {
        self.login = Some(Login::Account {
            jid: jid.to_owned(),
            password: password.into(),
        });
        self
    }

    /// XMPP: log in anonymously (SASL ANONYMOUS) on this domain.
    pub fn anonymous(mut self, domain: &str) -> Self {
        self.login = Some(Login::Anonymous {
            domain: domain.to_owned(),
        });
        self
    }

    /// XMPP: connect to this `host:port` instead of looking the domain up.
    pub fn server(mut self, addr: &str) -> Self {
        self.server = Some(addr.to_owned());
        self
    }

    /// XMPP: the TLS policy (STARTTLS required by default).
    #[cfg(feature = "xmpp")]
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = tls;
        self
    }

    /// Rooms: the nickname to join with (default `recentchanges`).
    pub fn nick(mut self, nick: &str) -> Self {
        self.nick = nick.to_owned();
        self
    }

    /// Rooms: one more room to follow with the same client.
    pub fn room(mut self, room: &str) -> Self {
        self.rooms.push(room.to_owned());
        self
    }

    /// The wiki id stamped on changes that do not carry one (the API's and WikiRPC's;
    /// default: the URL's host). With [`backfill`](Self::backfill), the wiki whose
    /// room changes are completed from the API.
    pub fn wiki(mut self, wiki: &str) -> Self {
        self.wiki = Some(wiki.to_owned());
        self
    }

    /// Rooms: fill what the room's archive does not reach back to from this MediaWiki
    /// `api.php` (see [`recentchanges_http::backfill`]).
    pub fn backfill(mut self, api_url: &str) -> Self {
        self.backfill = Some(api_url.to_owned());
        self
    }

    /// WikiRPC: HTTP basic-auth credentials.
    pub fn credentials(mut self, user: &str, password: impl Into<String>) -> Self {
        self.credentials = Some((user.to_owned(), password.into()));
        self
    }

    /// Polling sources: time between polls once caught up.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Where to start without a saved position (default: now): polling sources ask for
    /// changes from then on, EventStreams sends it as `since`, rooms catch up from their
    /// archive (or history) since a time ([`Start::At`]; without backfill).
    pub fn start(mut self, start: Start) -> Self {
        self.start = start;
        self
    }

    /// Whether [`start`](Self::start) at a time reaches back for changes already made
    /// (EventStreams within its retention, rooms within their archive's, polling sources).
    pub fn can_start_at_a_time(&self) -> bool {
        match &self.name {
            SourceName::EventStreams(_)
            | SourceName::MediaWiki(_)
            | SourceName::DokuWiki(_)
            | SourceName::JspWiki(_) => true,
            SourceName::Room(_) => self.backfill.is_none(),
            SourceName::PubSub { .. } | SourceName::WikiPing(_) => false,
        }
    }

    /// Polling sources (MediaWiki, WikiRPC): the newest change wanted (inclusive); the
    /// stream ends once it has yielded every change up to it (state
    /// [`Finished`](State::Finished)). With [`start`](Self::start), a time range.
    pub fn end(mut self, end: DateTime<Utc>) -> Self {
        self.end = Some(end);
        self
    }

    /// HTTP sources (EventStreams, MediaWiki, WikiRPC): the `User-Agent` sent. Name your
    /// tool and a contact, as Wikimedia's User-Agent policy asks; the default
    /// ([`DEFAULT_USER_AGENT`](recentchanges_http::DEFAULT_USER_AGENT)) names this SDK.
    pub fn user_agent(mut self, ua: &str) -> Self {
        self.user_agent = Some(ua.to_owned());
        self
    }

    /// EventStreams: reconnect when nothing at all (no event, no heartbeat) arrived for
    /// this long (default 60 s).
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = Some(timeout);
        self
    }

    /// Only yield the changes this filter keeps (the others still move the position).
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Continue from a position saved from [`Changes::position`].
    pub fn resume(mut self, position: Value) -> Self {
        self.resume = Some(position);
        self
    }

    /// Continue from the position in this file (if it exists), and keep it saved there:
    /// committed each time the consumer asks for the next change (the one before is handled
    /// then), and when the stream is closed or dropped. A process killed while handling a
    /// change (even with SIGKILL) sees again at most that change; commits are flushed to
    /// the disk at most once a second and on close
    /// ([`Committer`](recentchanges_core::state::Committer)).
    pub fn resume_from_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.resume_file = Some(path.into());
        self
    }

    /// Where a [mirror](crate::mirror) of this source's wiki can read page texts: the API
    /// of a `mediawiki:` source, the WikiRPC endpoint of a `dokuwiki:` or `jspwiki:` one
    /// (with the source's [`credentials`](Self::credentials) and
    /// [`user_agent`](Self::user_agent)); `None` for sources that are not a wiki's own
    /// (rooms, PubSub, EventStreams, WikiPing: give the mirror the wiki's API).
    ///
    /// ```
    /// use recentchanges::source::Source;
    /// let doku = Source::new("dokuwiki:http://127.0.0.1:8090/lib/exe/xmlrpc.php")?;
    /// assert!(doku.texts()?.is_some());
    /// assert!(Source::new("eventstreams:recentchange")?.texts()?.is_none());
    /// # Ok::<(), recentchanges::source::SourceError>(())
    /// ```
    pub fn texts(&self) -> Result<Option<Box<dyn TextSource>>, SourceError> {
        Ok(match &self.name {
            SourceName::MediaWiki(url) => Some(Box::new(run::poll::api_client(self, url)?)),
            SourceName::DokuWiki(url) | SourceName::JspWiki(url) => {
                Some(Box::new(run::poll::rpc_client(self, url)?))
            }
            _ => None,
        })
    }

    /// Starts following the source (in a tokio task: call it inside a runtime). Fails on
    /// a configuration error (a missing login, a bad URL, an unreadable position file);
    /// everything after that arrives on the stream.
    pub fn open(self) -> Result<Changes, SourceError> {
        let mut position = self.resume.clone();
        if let Some(path) = &self.resume_file {
            if position.is_none() {
                position = load_position(path)?;
            }
        }
        let (tx, rx) = mpsc::channel(256);
        let (status_tx, status) = watch::channel(SourceStatus::default());
        let feed = run::Feed {
            tx,
            status: status_tx,
            said_why: Default::default(),
        };
        let resume_file = self.resume_file.clone();
        let name = self.name.clone();
        let task = run::spawn(self, position.clone(), feed)?;
        Ok(Changes {
            name,
            rx,
            position: position.unwrap_or(Value::Null),
            status,
            resume_file: resume_file.map(Committer::new),
            dirty: false,
            task,
        })
    }
}

fn load_position(path: &Path) -> Result<Option<Value>, SourceError> {
    recentchanges_core::state::load_json(path)
        .map_err(|e| SourceError::Config(format!("position file {}: {e}", path.display())))
}

/// A change and where it came from. Dereferences to the [`RecentChange`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Change {
    /// The change.
    pub change: RecentChange,
    /// Where it arrived: the room or node JID, the API or RPC URL, the pinging peer.
    pub via: String,
    /// The transport's id for it: the room's stanza id, the PubSub item id.
    pub id: Option<String>,
    /// Replayed from an archive or fetched while catching up, rather than received live.
    pub replayed: bool,
    /// EventStreams: the event's stream, Kafka topic, partition, offset, id and time.
    #[cfg(feature = "eventstreams")]
    pub delivery: Option<Delivery>,
}

impl Deref for Change {
    type Target = RecentChange;
    fn deref(&self) -> &RecentChange {
        &self.change
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.change.fmt(f)
    }
}

/// What went wrong: a configuration error from [`Source::open`], or one item of the
/// stream (which goes on, unless [`is_fatal`](Self::is_fatal)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The source or its options are wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The source's task stopped unexpectedly (a panic, or an end without a reason): the
    /// stream ends.
    #[error("{0}")]
    Stopped(String),
    /// From an XMPP room or node.
    #[cfg(feature = "xmpp")]
    #[error(transparent)]
    Xmpp(#[from] recentchanges_xmpp::StreamError),
    /// From MediaWiki's API or a WikiRPC / WikiPing endpoint.
    #[error(transparent)]
    Http(#[from] recentchanges_http::Error),
    /// From a room stream with backfill.
    #[cfg(feature = "xmpp")]
    #[error(transparent)]
    Backfill(#[from] recentchanges_http::backfill::BackfillError),
    /// From a PubSub node.
    #[cfg(feature = "xmpp")]
    #[error(transparent)]
    PubSub(#[from] recentchanges_xmpp::pubsub::NodeStreamError),
    /// From a WikiRPC endpoint (DokuWiki, JSPWiki).
    #[error(transparent)]
    Rpc(#[from] recentchanges_http::wikirpc::RpcError),
    /// From the WikiPing listener (a refused request, or the address cannot be bound).
    #[cfg(feature = "wikiping")]
    #[error(transparent)]
    Ping(#[from] recentchanges_http::wikiping::PingError),
    /// From EventStreams (a bad or oversized event, a refused stream).
    #[cfg(feature = "eventstreams")]
    #[error(transparent)]
    EventStreams(#[from] EventStreamsError),
}

impl SourceError {
    /// Whether the stream ends after it (a wrong password, retries exhausted, an address
    /// that cannot be bound...).
    pub fn is_fatal(&self) -> bool {
        use recentchanges_http::wikirpc::RpcError;
        match self {
            SourceError::Config(_)
            | SourceError::Stopped(_)
            | SourceError::Rpc(RpcError::Auth { .. }) => true,
            #[cfg(feature = "wikiping")]
            SourceError::Ping(recentchanges_http::wikiping::PingError::Bind { .. }) => true,
            #[cfg(feature = "xmpp")]
            SourceError::Xmpp(recentchanges_xmpp::StreamError::Fatal(_))
            | SourceError::PubSub(recentchanges_xmpp::pubsub::NodeStreamError::Fatal(_))
            | SourceError::Backfill(recentchanges_http::backfill::BackfillError::Room(
                recentchanges_xmpp::StreamError::Fatal(_),
            )) => true,
            #[cfg(feature = "eventstreams")]
            SourceError::EventStreams(e) => e.is_fatal(),
            _ => false,
        }
    }
}

/// How a source is doing.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct SourceStatus {
    /// Connected, waiting, or given up.
    pub state: State,
    /// Changes handed to the stream.
    pub changes: u64,
    /// Error items handed to the stream.
    pub errors: u64,
    /// Duplicates dropped (rooms, nodes, backfill, EventStreams).
    pub duplicates: u64,
    /// EventStreams' canary events (its own test events) dropped.
    pub canaries: u64,
    /// Changes dropped because the consumer was too slow (rooms with a drop-oldest buffer).
    pub dropped: u64,
}

/// The state of a source.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub enum State {
    /// Connecting, or making the first request.
    #[default]
    Starting,
    /// Following: connected with every room joined and every PubSub node subscribed (a
    /// refused node is retried meanwhile), or the wiki answering, or listening.
    Live,
    /// Lost the connection or a request failed: trying again.
    Retrying {
        /// Why.
        reason: String,
    },
    /// Stopped for good.
    Failed {
        /// Why.
        reason: String,
    },
    /// Reached its [`end`](Source::end): every change up to it was handed over.
    Finished,
}

/// An item with the position after it, or (`item: None`) only a position: where a
/// polling source stands after a request that brought nothing to hand out.
struct Message {
    item: Option<Result<Change, SourceError>>,
    position: Option<Value>,
}

/// The changes of a source: see [`Source::open`].
pub struct Changes {
    name: SourceName,
    rx: mpsc::Receiver<Message>,
    position: Value,
    status: watch::Receiver<SourceStatus>,
    /// The position file, committed when the consumer asks for the next item.
    resume_file: Option<Committer>,
    dirty: bool,
    task: JoinHandle<()>,
}

impl fmt::Debug for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Changes")
            .field("name", &self.name.to_string())
            .field("status", &*self.status.borrow())
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl Changes {
    /// The source's name.
    pub fn name(&self) -> &SourceName {
        &self.name
    }

    /// The position after the last item yielded: give it to [`Source::resume`] to continue
    /// there. Polling sources (MediaWiki, WikiRPC) also move it after a request that
    /// brought nothing new, once the stream is read past it, so a consumer stopped before
    /// any change still has where it stood; other sources leave it `null` before their
    /// first item.
    pub fn position(&self) -> &Value {
        &self.position
    }

    /// The source's status, updated as it changes.
    pub fn status(&self) -> watch::Receiver<SourceStatus> {
        self.status.clone()
    }

    /// Stops following and saves the position file.
    pub fn close(mut self) {
        self.save();
        self.task.abort();
    }

    /// Writes the position if it moved since the last write (atomically; durably at most
    /// once a second). It stays dirty until flushed, for [`save`](Self::save).
    fn commit(&mut self) {
        if let (Some(file), true) = (&mut self.resume_file, self.dirty) {
            match file.commit(&self.position) {
                Ok(()) => self.dirty = file.unflushed(),
                Err(e) => {
                    tracing::error!(path = %file.path().display(), "cannot save the position: {e}")
                }
            }
        }
    }

    /// Writes the position durably (closing, or the end).
    fn save(&mut self) {
        if let (Some(file), true) = (&mut self.resume_file, self.dirty) {
            match file.close(&self.position) {
                Ok(()) => self.dirty = false,
                Err(e) => {
                    tracing::error!(path = %file.path().display(), "cannot save the position: {e}")
                }
            }
        }
    }
}

impl Drop for Changes {
    fn drop(&mut self) {
        self.save();
        self.task.abort();
    }
}

impl Stream for Changes {
    type Item = Result<Change, SourceError>;

    /// Asking for the next item commits the position (the item before is handled): a
    /// consumer killed and restarted from the position file sees again at most the item
    /// it was handling.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.commit();
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Message { item, position })) => {
                    if let Some(p) = position {
                        if p != self.position {
                            self.position = p;
                            self.dirty = true;
                        }
                    }
                    match item {
                        Some(item) => return Poll::Ready(Some(item)),
                        // Only a position (a poll that brought nothing): nothing is being
                        // handled, so it is committed at once.
                        None => self.commit(),
                    }
                }
                Poll::Ready(None) => {
                    self.save();
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
