//! Polling `getRecentChanges`: oldest first, resumable, never the same change twice.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::Stream;
use recentchanges_core::{Filter, RecentChange};
use serde::{Deserialize, Serialize};

use super::client::Client;
use super::entry::{read_entry, Entry};
use super::error::RpcError;
use crate::error::Error;
use crate::polling::{Fetch, Polling, Start};

/// The time [`Start::Beginning`] asks from: 2001-09-09T01:46:40Z (Unix time 1000000000,
/// the oldest DokuWiki takes: it wants ten digits), before any WikiRPC server existed.
pub const BEGINNING: i64 = 1_000_000_000;

/// How many unusable entries a poller remembers so as to report each once.
const MAX_REPORTED: usize = 10_000;

/// One change already handed out at the position's timestamp.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Seen {
    /// The page name as the wiki sent it.
    pub name: String,
    /// Its version, when the wiki gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// Where a WikiRPC [`Poller`] stands: the timestamp of the newest change it handed out,
/// and the changes handed out at that second.
///
/// `getRecentChanges(t)` lists the changes at or after `t` (whole seconds): the next poll
/// asks from `timestamp` again, so a change saved later in the same second is not missed,
/// and `seen` keeps the ones of that second from being handed out twice.
///
/// ```
/// let pos: recentchanges_http::wikirpc::Position = serde_json::from_str(
///     r#"{"timestamp": "2026-11-23T12:53:22Z", "seen": [{"name": "wiki:start", "version": 1795438402}]}"#)?;
/// assert_eq!(pos.seen.len(), 1);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Timestamp of the newest change handed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
    /// The changes handed out whose timestamp is `timestamp`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub seen: BTreeSet<Seen>,
}

impl Position {
    /// Reads a position written by [`save`](Self::save); a missing file is an empty position.
    pub fn load(path: &Path) -> Result<Position, Error> {
        crate::fsutil::load_json(path)
    }

    /// Writes the position atomically (a temporary file renamed over the old one).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("rc-http-wikirpc-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("pos.json");
    /// let mut pos = recentchanges_http::wikirpc::Position::default();
    /// pos.timestamp = Some("2026-11-23T12:53:22Z".parse()?);
    /// pos.save(&path)?;
    /// assert_eq!(recentchanges_http::wikirpc::Position::load(&path)?, pos);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        crate::fsutil::save_json(path, self)
    }

    /// Whether this change was handed out already (or is older than the position).
    fn covers(&self, e: &Entry) -> bool {
        match self.timestamp {
            Some(last) if e.timestamp < last => true,
            Some(last) if e.timestamp == last => self.seen.contains(&seen_of(e)),
            _ => false,
        }
    }

    fn advance(&mut self, e: &Entry) {
        if self.timestamp.is_none_or(|t| e.timestamp > t) {
            self.timestamp = Some(e.timestamp);
            self.seen.clear();
        }
        self.seen.insert(seen_of(e));
    }
}

fn seen_of(e: &Entry) -> Seen {
    Seen {
        name: e.wire_name.clone(),
        version: e.version,
    }
}

/// What a WikiRPC [`Poller`] asks for and how often.
///
/// ```
/// use std::time::Duration;
/// let cfg = recentchanges_http::wikirpc::PollerConfig::new("mywiki")
///     .interval(Duration::from_secs(30))
///     .start(recentchanges_http::Start::Beginning);
/// assert_eq!(cfg.wiki, "mywiki");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PollerConfig {
    /// The name stamped on every change as its `wiki`.
    pub wiki: String,
    /// Time between polls.
    pub interval: Duration,
    /// Where to start without a saved position.
    pub start: Start,
    /// The newest change wanted (inclusive): once caught up past it the poller is
    /// finished and its stream ends. `None`: follow for ever.
    pub end: Option<DateTime<Utc>>,
    /// Only yield the changes this filter keeps (the others still move the position on).
    pub filter: Filter,
}

impl PollerConfig {
    /// Defaults: a poll every 60 s, start now, no filter.
    pub fn new(wiki: impl Into<String>) -> Self {
        PollerConfig {
            wiki: wiki.into(),
            interval: Duration::from_secs(60),
            start: Start::Now,
            end: None,
            filter: Filter::new(),
        }
    }

    /// Time between polls.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Where to start without a saved position.
    pub fn start(mut self, start: Start) -> Self {
        self.start = start;
        self
    }

    /// The newest change wanted: the poller finishes once caught up past it.
    pub fn end(mut self, end: DateTime<Utc>) -> Self {
        self.end = Some(end);
        self
    }

    /// Only yield the changes this filter keeps.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }
}

/// Polls a wiki's `getRecentChanges` every [`PollerConfig::interval`] and yields each
/// change as a [`RecentChange`], oldest first.
///
/// Each change has: `title` = the page name (decoded), `user` = `author` (`None` when
/// empty), `timestamp` = `lastModified` in UTC, `rev_id` = `version`, `new_len` = `size`
/// when it is a number, `wiki` = [`PollerConfig::wiki`], `url` = the link to the
/// revision the change saved when the entry has a `version` ([`Client::revision_url`]:
/// DokuWiki's `doku.php?id=NAME&rev=VERSION`, JSPWiki's `Wiki.jsp?page=NAME&version=N`),
/// else to the page ([`Client::page_url`]), when the endpoint's URL shows where pages
/// are; every other member (DokuWiki's `perms`, a `size` of `false` for a deleted page,
/// an empty `author`...) is in `extra` under its wire name.
///
/// `kind`: JSPWiki's version 1 is [`Kind::New`](recentchanges_core::Kind::New), later versions
/// [`Kind::Edit`](recentchanges_core::Kind::Edit). DokuWiki's `getRecentChanges` does not say whether
/// a change created, edited or deleted the page (its struct has `name`, `lastModified`,
/// `author`, `version`, `perms` and `size` only), so every DokuWiki change is an `Edit`; a
/// deleted page shows as `size: false` in `extra` and no `new_len`.
///
/// What the source guarantees: DokuWiki lists only the newest change of each page since
/// the time asked for, so revisions saved between two polls are not all listed (the
/// newest is); two saves of one page in one second are one revision there. JSPWiki lists
/// each page's current version likewise.
///
/// The [`position`](Self::position) is always just after the last change handed out:
/// save it, and [`resume`](Self::resume) a later poller from it. A change is never handed
/// out twice, also when others share its second. An unusable entry (no name, a date that
/// is not one...) is an [`RpcError::Entry`] item, once per run, and the poller goes on.
///
/// ```no_run
/// use recentchanges_http::wikirpc::{Client, Dialect, Poller, PollerConfig, Position};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new("https://wiki.example.org/lib/exe/xmlrpc.php", Dialect::DokuWiki)?;
/// let state = std::path::Path::new("dokuwiki.pos");
/// let mut poller = Poller::new(client, PollerConfig::new("mywiki")).resume(Position::load(state)?);
/// loop {
///     match poller.next().await {
///         Ok(rc) => println!("{} by {}", rc.title_or("?"), rc.user_or("?")),
///         Err(e) => eprintln!("{e}"),
///     }
///     poller.position().save(state)?;
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Poller {
    polling: Polling<RpcSource>,
}

/// The WikiRPC side of a [`Poller`]: its `getRecentChanges` calls and position.
#[derive(Debug)]
struct RpcSource {
    client: Client,
    cfg: PollerConfig,
    pos: Position,
    /// Unusable entries already reported (at most [`MAX_REPORTED`]).
    reported: HashSet<String>,
    requests: u64,
}

impl Poller {
    /// A poller of the wiki behind `client`.
    pub fn new(client: Client, cfg: PollerConfig) -> Poller {
        Poller {
            polling: Polling::new(RpcSource {
                client,
                cfg,
                pos: Position::default(),
                reported: HashSet::new(),
                requests: 0,
            }),
        }
    }

    /// Continues from a saved position (an empty one starts per [`PollerConfig::start`]).
    pub fn resume(mut self, position: Position) -> Poller {
        self.polling.clear();
        self.polling.source.pos = position;
        self.polling.source.reported.clear();
        self
    }

    /// Whether the poller reached its [`end`](PollerConfig::end) and yielded everything up
    /// to it.
    pub fn is_finished(&self) -> bool {
        self.polling.is_finished()
    }

    /// The position after the last change handed out.
    pub fn position(&self) -> &Position {
        &self.polling.source.pos
    }

    /// The configuration.
    pub fn config(&self) -> &PollerConfig {
        &self.polling.source.cfg
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.polling.source.client
    }

    /// `getRecentChanges` requests made so far.
    pub fn requests(&self) -> u64 {
        self.polling.source.requests
    }

    /// The next change, waiting (polling every [`PollerConfig::interval`]) until there is
    /// one. An `Err` is an unusable entry (the poller goes on after it) or a request that
    /// failed after its retries (made again next time).
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn next(&mut self) -> Result<RecentChange, RpcError> {
        self.polling.next().await
    }

    /// One step of [`next`](Self::next): a buffered change if there is one, else (once the
    /// interval has passed) one request and the first change it brought; `Ok(None)` when
    /// it brought nothing to hand out, or the poller [is finished](Self::is_finished).
    pub async fn step(&mut self) -> Result<Option<RecentChange>, RpcError> {
        self.polling.step().await
    }

    /// One request (or none, if changes are still buffered): what it brought, in order,
    /// with the position moved past it. Does not wait for the interval.
    pub async fn poll(&mut self) -> Result<Vec<Result<RecentChange, RpcError>>, RpcError> {
        self.polling.poll().await
    }

    /// The poller as a [`Stream`] that never ends (see [`next`](Self::next)).
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// # async fn run(client: recentchanges_http::wikirpc::Client) {
    /// let poller = recentchanges_http::wikirpc::Poller::new(client, recentchanges_http::wikirpc::PollerConfig::new("mywiki"));
    /// let mut changes = Box::pin(poller.into_stream());
    /// while let Some(item) = changes.next().await {
    ///     match item {
    ///         Ok(rc) => println!("{}", rc.title_or("?")),
    ///         Err(e) => eprintln!("{e}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn into_stream(self) -> impl Stream<Item = Result<RecentChange, RpcError>> {
        self.polling.into_stream()
    }
}

impl Fetch for RpcSource {
    /// A change, or an unusable entry to report.
    type Row = Result<Entry, RpcError>;
    type Error = RpcError;

    fn settings(&self) -> (&str, &Filter) {
        (&self.cfg.wiki, &self.cfg.filter)
    }

    fn end(&self) -> Option<DateTime<Utc>> {
        self.cfg.end
    }

    /// One request; the interval follows (an answer lists every change since the time asked).
    async fn fetch(
        &mut self,
        rows: &mut VecDeque<Self::Row>,
    ) -> Result<Option<Duration>, RpcError> {
        if self.pos.timestamp.is_none() {
            match self.cfg.start {
                Start::Now => {
                    self.start_now().await?;
                    return Ok(None);
                }
                Start::Beginning => self.pos.timestamp = DateTime::from_timestamp(BEGINNING, 0),
                Start::At(t) => self.pos.timestamp = Some(t),
            }
        }
        let since = self.pos.timestamp.unwrap_or_default();
        self.requests += 1;
        let items = self.client.recent_changes(since).await?;
        let d = self.client.dialect();
        let mut good = Vec::with_capacity(items.len());
        for (index, v) in items.iter().enumerate() {
            match read_entry(d, v) {
                Ok(e) if self.pos.covers(&e) => {}
                Ok(e) => good.push(e),
                Err((name, reason)) => {
                    if self.reported.len() >= MAX_REPORTED {
                        self.reported.clear();
                    }
                    if self.reported.insert(format!("{v:?}")) {
                        tracing::warn!(index, ?name, "unusable change: {reason}");
                        rows.push_back(Err(RpcError::Entry {
                            index,
                            name,
                            reason,
                        }));
                    }
                }
            }
        }
        // Oldest first; the wiki's order within a second.
        good.sort_by_key(|e| e.timestamp);
        rows.extend(good.into_iter().map(Ok));
        Ok(Some(self.cfg.interval))
    }

    fn hand_out(&mut self, row: Self::Row, _last: bool) -> Result<RecentChange, RpcError> {
        let entry = row?;
        self.pos.advance(&entry);
        let mut rc = entry.change;
        if rc.url.is_none() {
            rc.url = rc.title.as_deref().and_then(|t| match entry.version {
                Some(v) => self.client.revision_url(t, v),
                None => self.client.page_url(t),
            });
        }
        Ok(rc)
    }
}

impl RpcSource {
    /// Without a position, starting now: the newest change of the last hour becomes the
    /// position (with the others of its second), or else this machine's clock.
    async fn start_now(&mut self) -> Result<(), RpcError> {
        let now = Utc::now();
        self.requests += 1;
        let items = self
            .client
            .recent_changes(now - chrono::TimeDelta::hours(1))
            .await?;
        let d = self.client.dialect();
        let entries: Vec<Entry> = items.iter().filter_map(|v| read_entry(d, v).ok()).collect();
        match entries.iter().map(|e| e.timestamp).max() {
            Some(newest) => {
                for e in entries.iter().filter(|e| e.timestamp == newest) {
                    self.pos.advance(e);
                }
            }
            None => self.pos.timestamp = Some(now - chrono::TimeDelta::seconds(1)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use recentchanges_core::Kind;

    fn e(name: &str, secs: i64) -> Entry {
        Entry {
            wire_name: name.into(),
            version: Some(secs),
            timestamp: DateTime::from_timestamp(secs, 0).unwrap(),
            change: RecentChange::new(Kind::Edit),
        }
    }

    #[test]
    fn the_last_second_is_remembered_and_older_ones_are_covered() {
        let mut p = Position::default();
        assert!(!p.covers(&e("a", 10)));
        p.advance(&e("a", 10));
        p.advance(&e("b", 10));
        assert!(p.covers(&e("a", 10)) && p.covers(&e("b", 10)));
        assert!(!p.covers(&e("c", 10)), "same second, another page");
        p.advance(&e("c", 11));
        assert_eq!(p.seen.len(), 1);
        assert!(p.covers(&e("a", 10)), "older than the position");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"timestamp":"1970-01-01T00:00:11Z","seen":[{"name":"c","version":11}]}"#
        );
        assert_eq!(serde_json::from_str::<Position>(&json).unwrap(), p);
    }
}
