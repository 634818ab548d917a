//! A wiki's XMPP room stream with gaps filled from its web API: what the room's archive
//! does not reach back to (a consumer started from an old position, a room without an
//! archive, an outage of the bridge) comes from `list=recentchanges`, merged with the live
//! changes without gaps or duplicates.
//!
//! How it merges, for the wiki named in [`PollerConfig::wiki`]:
//!
//! 1. The room client connects first and its live changes wait in its buffer.
//! 2. Once every room is joined, a [`Poller`] catches up from the saved position (or
//!    [`PollerConfig::start`]) until the API has nothing newer: those changes are yielded
//!    as [`Merged::Backfilled`]. Anything made after the join is also in the room, so the
//!    two overlap and nothing falls between them.
//! 3. Then the room's changes are yielded as [`Merged::Live`], but for those already
//!    yielded (same rcid, kept in a window of [`BackfillConfig::dedup_window`] rcids) and
//!    replayed archive messages at or below the highest rcid yielded so far (the saved
//!    [`BackfillPosition::max_rcid`] survives restarts).
//! 4. After every reconnection of the room client, step 2 runs again from the last change
//!    yielded (live ones move the API position too).
//! 5. While joined, a room change whose rcid jumps past the next one expected (the bridge
//!    was down, a UDP packet was lost) is held while step 2 runs again: the API lists the
//!    changes in between, they are yielded in rcid order, then the held one (unless the
//!    API already gave it). The rcids are those of every change of the wiki the room
//!    carried, filtered or not, so a filter does not look like a gap.
//!
//! Changes of other wikis (other rooms of the same client) pass through (filtered). The
//! API does not list the rows of deleted pages, so a change whose page was deleted while
//! the consumer was away is not backfilled (the room's archive may still replay it); nor
//! does it list rcids the wiki never used (an insert rolled back), so a gap the API cannot
//! fill is not an error. [`BackfillStats::gap_fills`] counts the fills.
//!
//! ```no_run
//! use futures::StreamExt;
//! use recentchanges_http::backfill::{BackfillConfig, BackfillPosition, Backfilled};
//! use recentchanges_http::{Api, PollerConfig};
//! use recentchanges_xmpp::{Client, Tls};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let state = std::path::Path::new("wikidb.backfill.json");
//! let client = Client::anonymous("anon.localhost")?
//!     .server("127.0.0.1:5222")?
//!     .tls(Tls::PlaintextLoopback)
//!     .room("wikidb@conference.localhost", "reader")?;
//! let api = Api::new("http://127.0.0.1:8080/api.php")?;
//! let config = BackfillConfig::new(PollerConfig::new("wikidb"));
//! let mut changes = Backfilled::start(client, api, config, BackfillPosition::load(state)?)?;
//! while let Some(item) = changes.next().await {
//!     match item {
//!         Ok(change) => println!("{}{}", if change.is_backfilled() { "(api) " } else { "" }, *change),
//!         Err(e) => eprintln!("{e}"),
//!     }
//!     changes.position().save(state)?;
//! }
//! # Ok(()) }
//! ```

use std::ops::Deref;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use recentchanges_core::dedup::Recent;
use recentchanges_core::RecentChange;
use recentchanges_xmpp::{
    ChangeStream, ClientBuilder, Connection, ResumePosition, RoomChange, RoomState,
};
use recentchanges_xmpp::{Status, StreamError};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::api::Api;
use crate::error::Error;
use crate::poller::{Poller, PollerConfig, Position};

/// How a [`Backfilled`] stream polls and deduplicates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BackfillConfig {
    /// The wiki (its id in the room's changes), where backfill starts without a saved
    /// position, and the filter applied to both the API's and the room's changes.
    pub poller: PollerConfig,
    /// How many recent rcids are remembered to drop duplicates.
    pub dedup_window: usize,
    /// Whether a jump in the room's rcids while joined is filled from the API (default
    /// `true`; see the [module](self) documentation).
    pub fill_gaps: bool,
}

impl BackfillConfig {
    /// Backfill for `poller.wiki`, remembering the last 10,000 rcids.
    pub fn new(poller: PollerConfig) -> Self {
        BackfillConfig {
            poller,
            dedup_window: 10_000,
            fill_gaps: true,
        }
    }

    /// Whether a jump in the room's rcids while joined is filled from the API.
    pub fn fill_gaps(mut self, fill: bool) -> Self {
        self.fill_gaps = fill;
        self
    }

    /// How many recent rcids are remembered to drop duplicates.
    pub fn dedup_window(mut self, rcids: usize) -> Self {
        self.dedup_window = rcids.max(1);
        self
    }
}

/// Where a [`Backfilled`] stream stands: the room client's position, the API poller's, and
/// the highest rcid yielded. Saved after a change, it resumes just after that change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillPosition {
    /// The room client's position.
    #[serde(default)]
    pub room: ResumePosition,
    /// The API poller's position (moved by live changes too).
    #[serde(default)]
    pub api: Position,
    /// The highest rcid of the wiki accounted for: yielded, filtered out, or inside a gap
    /// already filled from the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rcid: Option<u64>,
}

impl BackfillPosition {
    /// Reads a saved position; a missing file is an empty position.
    pub fn load(path: &Path) -> Result<BackfillPosition, Error> {
        crate::fsutil::load_json(path)
    }

    /// Writes the position atomically.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        crate::fsutil::save_json(path, self)
    }
}

/// A change from the room, or from the API where the room's archive fell short.
/// Dereferences to the [`RecentChange`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Merged {
    /// Received in the room (live or replayed from its archive).
    Live(RoomChange),
    /// Listed by the API while catching up.
    Backfilled(RecentChange),
}

impl Merged {
    /// The change.
    pub fn change(&self) -> &RecentChange {
        match self {
            Merged::Live(c) => &c.change,
            Merged::Backfilled(c) => c,
        }
    }

    /// Whether it came from the API.
    pub fn is_backfilled(&self) -> bool {
        matches!(self, Merged::Backfilled(_))
    }
}

impl Deref for Merged {
    type Target = RecentChange;
    fn deref(&self) -> &RecentChange {
        self.change()
    }
}

/// What went wrong with one item; the stream goes on (it ends after a fatal room error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackfillError {
    /// From the room client.
    #[error(transparent)]
    Room(#[from] StreamError),
    /// From the API while catching up (a bad row, or a request that failed after its
    /// retries: it is made again after [`PollerConfig::interval`]).
    #[error("backfill from the API: {0}")]
    Api(#[from] Error),
}

/// Counters of a [`Backfilled`] stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackfillStats {
    /// Catch-ups from the API run (one at the start, one after each reconnection, one per
    /// gap filled).
    pub catch_ups: u64,
    /// Catch-ups run because the room's rcids jumped while joined.
    pub gap_fills: u64,
    /// Changes yielded from the API.
    pub backfilled: u64,
    /// Room changes dropped as already yielded.
    pub duplicates: u64,
}

struct Message {
    item: Result<Merged, BackfillError>,
    position: BackfillPosition,
}

/// The merged stream: see the [module](self) documentation.
pub struct Backfilled {
    rx: mpsc::Receiver<Message>,
    position: BackfillPosition,
    status: watch::Receiver<Status>,
    stats: watch::Receiver<BackfillStats>,
    task: JoinHandle<()>,
}

impl Backfilled {
    /// Connects `client` (resumed from `position.room`) and starts merging; the config's
    /// filter applies to the room's changes and the API's. Fails only on a client
    /// configuration error.
    pub fn start(
        client: ClientBuilder,
        api: Api,
        config: BackfillConfig,
        position: BackfillPosition,
    ) -> Result<Backfilled, Error> {
        // The merger filters: it needs every rcid of the wiki to tell a gap from a change
        // the filter drops.
        let live = client
            .resume(position.room.clone())
            .connect()
            .map_err(|e| Error::Config(e.to_string()))?;
        let status = live.status();
        let (tx, rx) = mpsc::channel(256);
        let (stats_tx, stats) = watch::channel(BackfillStats::default());
        let merger = Merger {
            recent: Recent::new(config.dedup_window),
            api,
            config,
            position: position.clone(),
            tx,
            stats: stats_tx,
        };
        let task = tokio::spawn(merger.run(live));
        Ok(Backfilled {
            rx,
            position,
            status,
            stats,
            task,
        })
    }

    /// The position after the last item yielded.
    pub fn position(&self) -> &BackfillPosition {
        &self.position
    }

    /// The room client's status.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Catch-ups, backfilled changes and dropped duplicates so far.
    pub fn stats(&self) -> BackfillStats {
        self.stats.borrow().clone()
    }
}

impl Drop for Backfilled {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stream for Backfilled {
    type Item = Result<Merged, BackfillError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Message { item, position })) => {
                self.position = position;
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The task behind a [`Backfilled`] stream.
struct Merger {
    api: Api,
    config: BackfillConfig,
    position: BackfillPosition,
    /// The rcids yielded lately (from the API or the room).
    recent: Recent<u64>,
    tx: mpsc::Sender<Message>,
    stats: watch::Sender<BackfillStats>,
}

impl Merger {
    async fn run(mut self, mut live: ChangeStream) {
        let mut status = live.status();
        let mut connections = 0;
        loop {
            // Wait for the rooms (the live changes wait in the client's buffer).
            let joined = status
                .wait_for(|s| {
                    s.connections > connections
                        && !s.rooms.is_empty()
                        && s.rooms.values().all(|r| {
                            matches!(r, RoomState::Joined { .. } | RoomState::Failed { .. })
                        })
                        || matches!(s.connection, Connection::Failed { .. })
                })
                .await
                .map(|s| s.connections)
                .map_err(drop);
            match joined {
                Ok(n) => connections = n,
                // The client ended: forward what it still has (its fatal error).
                Err(_) => {
                    self.drain(&mut live).await;
                    return;
                }
            }
            if !self.catch_up().await {
                return;
            }
            if !self.follow(&mut live, &mut status, connections).await {
                return;
            }
        }
    }

    /// Polls the API until it has nothing newer. `false` when the consumer is gone.
    async fn catch_up(&mut self) -> bool {
        self.stats.send_modify(|s| s.catch_ups += 1);
        let mut poller = Poller::new(self.api.clone(), self.config.poller.clone())
            .resume(self.position.api.clone());
        loop {
            match poller.poll().await {
                Ok(items) => {
                    for item in items {
                        let item = match item {
                            Ok(rc) => {
                                self.position.api = poller.position().clone();
                                if let Some(id) = rc.rcid {
                                    self.recent.first_time(id);
                                    self.position.max_rcid = self.position.max_rcid.max(Some(id));
                                }
                                self.stats.send_modify(|s| s.backfilled += 1);
                                Ok(Merged::Backfilled(rc))
                            }
                            Err(e) => {
                                self.position.api = poller.position().clone();
                                Err(e.into())
                            }
                        };
                        if !self.send(item).await {
                            return false;
                        }
                    }
                    // Filtered-out rows move the position too.
                    self.position.api = poller.position().clone();
                    if poller.caught_up() {
                        return true;
                    }
                }
                Err(e) => {
                    tracing::warn!(wiki = %self.config.poller.wiki, "backfill request failed: {e}");
                    if !self.send(Err(e.into())).await {
                        return false;
                    }
                    tokio::time::sleep(self.config.poller.interval).await;
                }
            }
        }
    }

    /// Yields the room's changes until the client reconnects (`true`) or ends (`false`).
    async fn follow(
        &mut self,
        live: &mut ChangeStream,
        status: &mut watch::Receiver<Status>,
        connections: u64,
    ) -> bool {
        loop {
            tokio::select! {
                biased;
                item = live.next() => match item {
                    None => return false,
                    Some(item) => {
                        let room = live.position();
                        if let Some(after) = self.gap_before(&item) {
                            // Fill the gap first, then the change that revealed it.
                            self.stats.send_modify(|s| s.gap_fills += 1);
                            tracing::info!(
                                wiki = %self.config.poller.wiki,
                                after,
                                next = ?item.as_ref().ok().and_then(|c| c.rcid),
                                "the room's rcids jumped: filling the gap from the API"
                            );
                            if !self.catch_up().await {
                                return false;
                            }
                        }
                        if !self.live_item(item, room).await {
                            return false;
                        }
                    }
                },
                reconnected = async {
                    status.wait_for(|s| s.connections > connections).await.is_ok()
                } => {
                    // Reconnected: catch up again (the client's own buffer keeps the
                    // room's changes meanwhile). A closed status means the client ended.
                    return reconnected || self.drain(live).await;
                }
            }
        }
    }

    /// The highest rcid accounted for, when `item` (a live change of this wiki) skips past
    /// the next one: the rcids in between are missing from the room.
    fn gap_before(&self, item: &Result<RoomChange, StreamError>) -> Option<u64> {
        let change = item.as_ref().ok()?;
        let id = change.rcid?;
        let max = self.position.max_rcid?;
        let ours = change.wiki.as_deref() == Some(self.config.poller.wiki.as_str());
        (self.config.fill_gaps && ours && id > max.saturating_add(1) && !self.recent.contains(&id))
            .then_some(max)
    }

    async fn live_item(
        &mut self,
        item: Result<RoomChange, StreamError>,
        room: ResumePosition,
    ) -> bool {
        self.position.room = room;
        let change = match item {
            Ok(change) => change,
            Err(e) => return self.send(Err(e.into())).await,
        };
        let ours = change.wiki.as_deref() == Some(self.config.poller.wiki.as_str());
        if let (true, Some(id)) = (ours, change.rcid) {
            let replayed_old = change.replayed && self.position.max_rcid.is_some_and(|m| id <= m);
            let seen = !self.recent.first_time(id);
            if seen || replayed_old {
                tracing::debug!(rcid = id, "dropped a room change already yielded");
                self.stats.send_modify(|s| s.duplicates += 1);
                return true;
            }
            self.position.max_rcid = self.position.max_rcid.max(Some(id));
            self.position
                .api
                .record(Some(id), change.timestamp, self.config.poller.overlap);
        }
        if !self.config.poller.filter.matches(&change) {
            return true;
        }
        self.send(Ok(Merged::Live(change))).await
    }

    /// Forwards what an ended client still has; always `false` (the stream ends).
    async fn drain(&mut self, live: &mut ChangeStream) -> bool {
        while let Some(item) = live.next().await {
            if !self.live_item(item, live.position()).await {
                break;
            }
        }
        false
    }

    async fn send(&mut self, item: Result<Merged, BackfillError>) -> bool {
        let message = Message {
            item,
            position: self.position.clone(),
        };
        self.tx.send(message).await.is_ok()
    }
}
