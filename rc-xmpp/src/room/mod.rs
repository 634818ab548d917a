//! The room client: joins MUC rooms (XEP-0045) and yields their changes as a
//! [`ChangeStream`]; and the [`Publisher`](crate::Publisher) that posts changes into rooms.

pub(crate) mod config;
mod dedup;
mod driver;
pub(crate) mod publisher;
pub(crate) mod resume;
pub(crate) mod stanzas;

use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::Stream;
use recentchanges_core::RecentChange;
use tokio::sync::watch;
use tokio_xmpp::jid::BareJid;

use crate::error::{ConfigError, StreamError};
use crate::session::account::{Account, Secret};
use crate::session::feed::Feed;
use crate::status::{RoomState, Status};
use config::{Config, History, RoomConfig};
use driver::{Driver, Item};
use resume::ResumePosition;

/// A change, with where and how it arrived. Dereferences to the [`RecentChange`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RoomChange {
    /// The change.
    pub change: RecentChange,
    /// The room it was posted in.
    pub room: BareJid,
    /// The room's stanza id for the message (XEP-0359), when the server gives one.
    pub stanza_id: Option<String>,
    /// Replayed from the room's archive or history, rather than received live.
    pub replayed: bool,
    /// When the message was originally sent, if the server stamped it (XEP-0203).
    pub sent_at: Option<DateTime<Utc>>,
}

impl Deref for RoomChange {
    type Target = RecentChange;
    fn deref(&self) -> &RecentChange {
        &self.change
    }
}

/// The entry point: [`Client::builder`] for an account, [`Client::anonymous`] for
/// SASL ANONYMOUS.
pub struct Client;

impl Client {
    /// A client for a registered account.
    pub fn builder(jid: &str, password: impl Into<String>) -> Result<ClientBuilder, ConfigError> {
        Ok(ClientBuilder::new(Account::password(jid, password)?))
    }

    /// A client logging in anonymously on `domain` (SASL ANONYMOUS).
    pub fn anonymous(domain: &str) -> Result<ClientBuilder, ConfigError> {
        Ok(ClientBuilder::new(Account::anonymous(domain)?))
    }
}

/// Configures a [`ChangeStream`]. Defaults: STARTTLS required, no history on a first join,
/// backoff from 0.5 s to 60 s with 20 % jitter forever, a buffer of 10,000 items that
/// waits when full, pings after 15 s of silence with 10 s to answer (a silently dead
/// connection is replaced within 25 s), a self-ping (XEP-0410) of every room each minute.
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    cfg: Config,
}

impl ClientBuilder {
    fn new(account: Account) -> Self {
        ClientBuilder {
            cfg: Config::new(account),
        }
    }

    /// Joins a room with this nick.
    pub fn room(mut self, room: &str, nick: &str) -> Result<Self, ConfigError> {
        self.cfg.rooms.push(RoomConfig::new(room, nick, None)?);
        Ok(self)
    }

    /// Joins a password-protected room.
    pub fn room_with_password(
        mut self,
        room: &str,
        nick: &str,
        password: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let password = Some(Secret::new(password));
        self.cfg.rooms.push(RoomConfig::new(room, nick, password)?);
        Ok(self)
    }

    /// What to ask for on a first join (rooms with a resume position continue from it).
    pub fn history(mut self, history: History) -> Self {
        self.cfg.history = history;
        self
    }

    /// How often to check room membership with a self-ping (XEP-0410; default each
    /// minute): a room that dropped this client while the connection stays up (its MUC
    /// service restarted) is rejoined within that time.
    pub fn self_ping_interval(mut self, every: Duration) -> Self {
        self.cfg.self_ping_interval = every;
        self
    }

    /// How long to wait before rejoining a room after being kicked.
    pub fn rejoin_delay(mut self, delay: Duration) -> Self {
        self.cfg.rejoin_delay = delay;
        self
    }

    /// Test hook: pretends this machine's clock is `offset` ahead of the true time
    /// (behind when negative). Positions and `since` use the server's time, so a skewed
    /// client clock must change nothing.
    #[doc(hidden)]
    pub fn local_clock_offset(mut self, offset: chrono::TimeDelta) -> Self {
        self.cfg.local_clock_offset = offset;
        self
    }

    /// Starts the client and returns its stream at once; the connection is made in the
    /// background. Fails on a configuration that cannot work (no room, plaintext to a
    /// remote server...) or outside a tokio runtime; never panics.
    pub fn connect(self) -> Result<ChangeStream, ConfigError> {
        self.cfg.check()?;
        let mut initial = Status::default();
        for room in &self.cfg.rooms {
            initial
                .rooms
                .insert(room.jid.to_string(), RoomState::Joining);
        }
        Ok(ChangeStream {
            feed: Feed::start(self.cfg, initial, Driver::new)?,
        })
    }
}

crate::session::options::transport_options!(ClientBuilder => cfg.stream.transport);
crate::session::options::stream_options!(
    ClientBuilder => cfg.stream,
    ResumePosition,
    ChangeStream,
    "by wiki and rcid"
);

/// The changes of the joined rooms: `Ok` for a change, `Err` for a message that is not one,
/// a room that failed, or (last) why the client stopped for good. Ends only after a
/// [`StreamError::Fatal`] or [`close`](Self::close).
pub struct ChangeStream {
    feed: Feed<ResumePosition, Item>,
}

impl ChangeStream {
    /// The client's state, updated as it changes.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.feed.status()
    }

    /// The position after the last item this stream yielded: persist it to continue there.
    pub fn position(&self) -> ResumePosition {
        self.feed.position().clone()
    }

    /// Items buffered and not yet read.
    pub fn backlog(&self) -> usize {
        self.feed.backlog()
    }

    /// Leaves the rooms, closes the connection, and saves the resume file.
    pub async fn close(self) {
        self.feed.close().await;
    }
}

impl Stream for ChangeStream {
    type Item = Result<RoomChange, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().feed.poll_item(cx)
    }
}
