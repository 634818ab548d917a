//! Polling `list=recentchanges`: oldest first, page after page, resumable, never the same
//! change twice.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::Stream;
use recentchanges_core::{Filter, RecentChange};
use serde::{Deserialize, Serialize};

use crate::api::Api;
use crate::error::Error;
use crate::polling::{Fetch, Polling, Start};
use crate::rc_list::{parse_page, Row};

/// Every `rcprop` the API knows (the `<rc>` element XMLRC posted carries all of them).
pub const RCPROP_ALL: &str = "user|userid|comment|parsedcomment|flags|timestamp|title|ids|sizes|redirect|patrolled|loginfo|tags|sha1";

/// Where a poller stands: saved, it lets a later poller continue exactly after the last
/// change this one yielded.
///
/// The next poll asks for changes from `timestamp` (minus the
/// [overlap](PollerConfig::overlap)) on, so changes saved in the same second as the last
/// one (or committed late) are not missed; `seen` lists the rcids already yielded in that
/// window, so none is yielded twice. `continue_params` is the API's continuation when a
/// poll was cut short between two pages.
///
/// ```
/// let pos: recentchanges_http::Position = serde_json::from_str(
///     r#"{"timestamp": "2026-11-23T10:45:53Z", "rcid": 8, "seen": {"7": "2026-11-23T10:45:53Z", "8": "2026-11-23T10:45:53Z"}}"#)?;
/// assert_eq!(pos.rcid, Some(8));
/// assert!(pos.continue_params.is_empty());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Timestamp of the newest change yielded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
    /// rcid of the last change yielded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcid: Option<u64>,
    /// The changes yielded whose timestamp is within the overlap window, by rcid.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seen: BTreeMap<u64, DateTime<Utc>>,
    /// The API's `continue` parameters of a poll that stopped between two pages.
    #[serde(
        default,
        rename = "continue",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub continue_params: BTreeMap<String, String>,
}

impl Position {
    /// Reads a position written by [`save`](Self::save); a missing file is an empty position,
    /// an empty or damaged one an error naming the file and saying how to start over.
    pub fn load(path: &Path) -> Result<Position, Error> {
        crate::fsutil::load_json(path)
    }

    /// Writes the position atomically and durably (a temporary file, synced, renamed over
    /// the old one, the directory synced): a crash or power loss leaves the old or the new.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("rc-http-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("poller.json");
    /// let mut pos = recentchanges_http::Position::default();
    /// pos.rcid = Some(42);
    /// pos.save(&path)?;
    /// assert_eq!(recentchanges_http::Position::load(&path)?, pos);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        crate::fsutil::save_json(path, self)
    }

    /// Records a change handed out by other means (received live from a room, say), so a
    /// poller resumed from this position does not yield it again.
    pub fn record(
        &mut self,
        rcid: Option<u64>,
        timestamp: Option<DateTime<Utc>>,
        overlap: Duration,
    ) {
        self.advance(rcid, timestamp, overlap);
    }

    /// Whether a change listed with this rcid and timestamp was yielded already (or is
    /// older than the window and so taken as yielded).
    fn covers(&self, rcid: Option<u64>, ts: Option<DateTime<Utc>>, overlap: Duration) -> bool {
        if let Some(id) = rcid {
            if self.seen.contains_key(&id) {
                return true;
            }
        }
        match (self.timestamp, ts) {
            (Some(last), Some(ts)) => ts < back(last, overlap),
            _ => false,
        }
    }

    /// Records a yielded change.
    fn advance(&mut self, rcid: Option<u64>, ts: Option<DateTime<Utc>>, overlap: Duration) {
        if let Some(ts) = ts {
            if self.timestamp.is_none_or(|t| ts > t) {
                self.timestamp = Some(ts);
            }
        }
        if let Some(id) = rcid {
            self.rcid = Some(id);
            if let Some(ts) = ts.or(self.timestamp) {
                self.seen.insert(id, ts);
            }
        }
        if let Some(last) = self.timestamp {
            let floor = back(last, overlap);
            self.seen.retain(|_, t| *t >= floor);
        }
    }
}

fn overlap_delta(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

/// `t - overlap`, saturating at the earliest time chrono knows (never a panic, whatever
/// the overlap or a timestamp the server sent).
fn back(t: DateTime<Utc>, overlap: Duration) -> DateTime<Utc> {
    t.checked_sub_signed(overlap_delta(overlap))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `t + overlap`, saturating at the latest time chrono knows.
fn forward(t: DateTime<Utc>, overlap: Duration) -> DateTime<Utc> {
    t.checked_add_signed(overlap_delta(overlap))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// How far back each poll looks again by default: 2 minutes.
///
/// MediaWiki inserts rows late, with a timestamp older than rows already listed:
/// `categorize` rows are written by the job queue with the timestamp of the edit that
/// caused them (seconds after it, or minutes when the queue is busy), and concurrent saves
/// commit out of timestamp order (a save's timestamp is taken when it starts; Wikimedia
/// lets a web request run 60 s). Two minutes covers a slow save twice over and a job queue
/// that keeps up; a row inserted later than that behind the newest change is not seen (set
/// a longer [`PollerConfig::overlap`] for a wiki whose queue lags). The cost: each poll
/// lists the window's rows again (one page of 500 on a wiki with up to 4 changes a
/// second), and a saved position keeps their rcids.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(120);

/// What a [`Poller`] asks for and how often.
///
/// ```
/// use std::time::Duration;
/// let cfg = recentchanges_http::PollerConfig::new("enwiki")
///     .interval(Duration::from_secs(10))
///     .start(recentchanges_http::Start::Beginning);
/// assert_eq!(cfg.limit, 500);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PollerConfig {
    /// The wiki id stamped on every change (`wiki`; XMLRC's `wikiid`), which routes it to
    /// its room.
    pub wiki: String,
    /// Changes per request (`rclimit`; 500 is the limit without `apihighlimits`).
    pub limit: u32,
    /// Time between polls once caught up.
    pub interval: Duration,
    /// How far back each poll looks again, for changes committed late with an older
    /// timestamp (0: only changes of the last second are looked at again). Default
    /// [`DEFAULT_OVERLAP`] (2 minutes); the rcids yielded in the window are kept in the
    /// [`Position`] (`seen`), so none is yielded twice.
    pub overlap: Duration,
    /// Where to start without a saved position.
    pub start: Start,
    /// The newest change wanted (inclusive, sent as `rcend`): once caught up past it the
    /// poller is finished and [`Poller::into_stream`] ends. `None`: follow for ever.
    pub end: Option<DateTime<Utc>>,
    /// Only yield the changes this filter keeps (the others still move the position on).
    /// What it requires of every change (namespaces, kinds, bot / minor / anonymous flags,
    /// one user, one tag) is also asked of the API (`rcnamespace`, `rctype`, `rcshow`,
    /// `rcuser`, `rctag`), so less is downloaded; the result is the same.
    pub filter: Filter,
}

impl PollerConfig {
    /// Defaults: 500 per request, a poll every 5 s, an overlap of [`DEFAULT_OVERLAP`],
    /// start now, no filter.
    pub fn new(wiki: impl Into<String>) -> Self {
        PollerConfig {
            wiki: wiki.into(),
            limit: 500,
            interval: Duration::from_secs(5),
            overlap: DEFAULT_OVERLAP,
            start: Start::Now,
            end: None,
            filter: Filter::new(),
        }
    }

    /// Changes per request.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit.clamp(1, 5000);
        self
    }

    /// Time between polls once caught up.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How far back each poll looks again.
    pub fn overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap;
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

/// The `list=recentchanges` parameters that select what `filter` requires: namespaces,
/// kinds, flags, a single user, a single tag (see [`Filter::requirements`]).
fn filter_params(filter: &Filter) -> Vec<(&'static str, String)> {
    use recentchanges_core::Kind;
    let r = filter.requirements();
    let mut p = Vec::new();
    if let Some(ns) = r.namespaces {
        let list: Vec<String> = ns.iter().map(i32::to_string).collect();
        p.push(("rcnamespace", list.join("|")));
    }
    if let Some(kinds) = r.kinds {
        let known: Option<Vec<&str>> = kinds
            .iter()
            .map(|k| match k {
                Kind::Other(_) => None,
                k => Some(k.as_str()),
            })
            .collect();
        if let Some(known) = known {
            p.push(("rctype", known.join("|")));
        }
    }
    let mut show = Vec::new();
    for (flag, name) in [(r.bot, "bot"), (r.minor, "minor"), (r.anon, "anon")] {
        match flag {
            Some(true) => show.push(name.to_owned()),
            Some(false) => show.push(format!("!{name}")),
            None => {}
        }
    }
    if !show.is_empty() {
        p.push(("rcshow", show.join("|")));
    }
    if let Some([user]) = r.users.as_deref() {
        p.push(("rcuser", user.clone()));
    }
    if let Some(tag) = r.tag {
        p.push(("rctag", tag));
    }
    p
}

/// Polls a wiki's `list=recentchanges` (XML, every `rcprop`, oldest first) and yields each
/// change typed by rc-core, with [`PollerConfig::wiki`] as its `wiki`.
///
/// [`next`](Self::next) yields one change at a time and waits for more; [`poll`](Self::poll)
/// makes one request and returns what it brought. [`position`](Self::position) is always
/// just after the last change handed out: save it, and [`resume`](Self::resume) a later
/// poller from it.
///
/// Without the patrol right the API refuses `rcprop=patrolled`: the poller then asks
/// without it (the changes' `patrolled` stays unknown); [`Api::login`] as a patroller or
/// bot to get it.
///
/// ```no_run
/// use recentchanges_http::{Api, Poller, PollerConfig, Position};
///
/// # async fn run() -> Result<(), recentchanges_http::Error> {
/// let api = Api::new("http://127.0.0.1:8080/api.php")?;
/// let state = std::path::Path::new("poller.json");
/// let mut poller = Poller::new(api, PollerConfig::new("wikidb")).resume(Position::load(state)?);
/// loop {
///     let rc = poller.next().await?;
///     println!("{}", rc.human_line(None));
///     poller.position().save(state)?;
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Poller {
    polling: Polling<ApiSource>,
}

/// The MediaWiki side of a [`Poller`]: its `list=recentchanges` requests and position.
#[derive(Debug)]
struct ApiSource {
    api: Api,
    cfg: PollerConfig,
    pos: Position,
    parser: recentchanges_core::Parser,
    /// The continuation of the page after the buffered rows (empty: the poll is complete).
    next_continue: BTreeMap<String, String>,
    /// Whether the last request completed a poll (no continuation).
    caught_up: bool,
    rcprop: &'static str,
    requests: u64,
}

impl Poller {
    /// A poller of the wiki behind `api`.
    pub fn new(api: Api, cfg: PollerConfig) -> Poller {
        Poller {
            polling: Polling::new(ApiSource {
                api,
                cfg,
                pos: Position::default(),
                parser: recentchanges_core::Parser::new(),
                next_continue: BTreeMap::new(),
                caught_up: false,
                rcprop: RCPROP_ALL,
                requests: 0,
            }),
        }
    }

    /// Continues from a saved position (an empty one starts per [`PollerConfig::start`]).
    pub fn resume(mut self, position: Position) -> Poller {
        self.polling.clear();
        self.polling.source.pos = position;
        self.polling.source.next_continue.clear();
        self
    }

    /// The position after the last change handed out.
    pub fn position(&self) -> &Position {
        &self.polling.source.pos
    }

    /// The configuration.
    pub fn config(&self) -> &PollerConfig {
        &self.polling.source.cfg
    }

    /// The API client.
    pub fn api(&self) -> &Api {
        &self.polling.source.api
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.polling.source.requests
    }

    /// Whether the last request reached the newest change (nothing more to page through).
    pub fn caught_up(&self) -> bool {
        self.polling.source.caught_up && self.polling.is_empty()
    }

    /// Whether the poller reached its [`end`](PollerConfig::end) and yielded everything up
    /// to it: [`step`](Self::step) answers `Ok(None)` from then on without a request.
    pub fn is_finished(&self) -> bool {
        self.polling.is_finished()
    }

    /// The next change, waiting (polling every [`PollerConfig::interval`]) until there is
    /// one. An `Err` is either a row that did not parse (the poller goes on after it) or
    /// a request that failed after its retries (the same request is made again next time).
    ///
    /// Cancel-safe: dropping the future loses nothing. After the
    /// [`end`](PollerConfig::end) there is no next change: it waits forever (use
    /// [`step`](Self::step) or [`into_stream`](Self::into_stream), which ends).
    pub async fn next(&mut self) -> Result<RecentChange, Error> {
        self.polling.next().await
    }

    /// One step of [`next`](Self::next): a buffered change if there is one, else (once the
    /// interval has passed) one request and the first change it brought; `Ok(None)` when
    /// the request succeeded with nothing to hand out (the wiki had nothing new). Lets a
    /// caller tell a quiet wiki from a failing one. Cancel-safe like `next`.
    pub async fn step(&mut self) -> Result<Option<RecentChange>, Error> {
        self.polling.step().await
    }

    /// One request (or none, if changes are still buffered): the changes it brought, in
    /// order, with the position moved past them. Does not wait for
    /// [`PollerConfig::interval`]; see [`caught_up`](Self::caught_up).
    pub async fn poll(&mut self) -> Result<Vec<Result<RecentChange, Error>>, Error> {
        self.polling.poll().await
    }

    /// The poller as a [`Stream`] of changes (see [`next`](Self::next)); it ends only at
    /// the [`end`](PollerConfig::end).
    /// (It owns the poller: use [`next`](Self::next) to save positions.)
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// # async fn run(api: recentchanges_http::Api) {
    /// let poller = recentchanges_http::Poller::new(api, recentchanges_http::PollerConfig::new("wikidb"));
    /// let mut changes = Box::pin(poller.into_stream());
    /// while let Some(Ok(rc)) = changes.next().await {
    ///     println!("{}", rc.title_or("?"));
    /// }
    /// # }
    /// ```
    pub fn into_stream(self) -> impl Stream<Item = Result<RecentChange, Error>> {
        self.polling.into_stream()
    }
}

impl Fetch for ApiSource {
    type Row = Row;
    type Error = Error;

    fn settings(&self) -> (&str, &Filter) {
        (&self.cfg.wiki, &self.cfg.filter)
    }

    fn end(&self) -> Option<DateTime<Utc>> {
        self.cfg.end
    }

    /// One request; the interval follows once it reached the newest change.
    async fn fetch(&mut self, rows: &mut VecDeque<Row>) -> Result<Option<Duration>, Error> {
        if self.pos.timestamp.is_none() && self.pos.continue_params.is_empty() {
            match self.cfg.start {
                Start::Now => {
                    self.start_now().await?;
                    return Ok(None);
                }
                Start::Beginning => {}
                Start::At(t) => {
                    // Changes at or after t: everything older counts as seen.
                    self.pos.timestamp = Some(t);
                    if self.cfg.overlap > Duration::ZERO {
                        self.pos.timestamp = Some(forward(t, self.cfg.overlap));
                    }
                }
            }
        }
        let rcstart = self
            .pos
            .timestamp
            .map(|t| back(t, self.cfg.overlap).to_rfc3339_opts(SecondsFormat::Secs, true));
        let limit = self.cfg.limit.to_string();
        let cont = self.pos.continue_params.clone();
        let body = self
            .list(rcstart.as_deref(), "newer", &limit, &cont)
            .await?;
        let page = parse_page(&body, &self.parser).map_err(|reason| Error::Response {
            url: self.api.url_for_errors(),
            reason,
        })?;
        let overlap = self.cfg.overlap;
        let mut new: VecDeque<Row> = page
            .rows
            .into_iter()
            .filter(|r| !self.pos.covers(r.rcid, r.timestamp, overlap))
            .collect();
        self.caught_up = page.cont.is_empty();
        if new.is_empty() {
            self.pos.continue_params = page.cont;
        } else {
            self.next_continue = page.cont;
            rows.append(&mut new);
        }
        Ok(self.caught_up.then_some(self.cfg.interval))
    }

    fn hand_out(&mut self, row: Row, last: bool) -> Result<RecentChange, Error> {
        self.pos.advance(row.rcid, row.timestamp, self.cfg.overlap);
        if last {
            // The page is handed out: the position continues with the next one.
            self.pos.continue_params = std::mem::take(&mut self.next_continue);
        }
        row.change.map_err(|e| Error::Parse {
            rcid: row.rcid,
            source: Box::new(e),
        })
    }
}

impl ApiSource {
    /// Without a position, starting now: the newest changes become the position.
    async fn start_now(&mut self) -> Result<(), Error> {
        let limit = self.cfg.limit.to_string();
        let body = self.list(None, "older", &limit, &BTreeMap::new()).await?;
        let page = parse_page(&body, &self.parser).map_err(|reason| Error::Response {
            url: self.api.url_for_errors(),
            reason,
        })?;
        let newest = page.rows.iter().filter_map(|r| r.timestamp).max();
        let Some(newest) = newest else {
            // An empty wiki: everything from now on.
            self.pos.timestamp = Some(Utc::now() - chrono::TimeDelta::seconds(1));
            return Ok(());
        };
        let floor = back(newest, self.cfg.overlap);
        self.pos.timestamp = Some(newest);
        for r in &page.rows {
            if let (Some(id), Some(ts)) = (r.rcid, r.timestamp) {
                if ts >= floor {
                    self.pos.seen.insert(id, ts);
                    self.pos.rcid = Some(self.pos.rcid.map_or(id, |r| r.max(id)));
                }
            }
        }
        self.caught_up = true;
        Ok(())
    }

    /// One `list=recentchanges` request, without `rcprop=patrolled` if it is refused.
    async fn list(
        &mut self,
        rcstart: Option<&str>,
        dir: &str,
        limit: &str,
        cont: &BTreeMap<String, String>,
    ) -> Result<String, Error> {
        let rcend = self
            .cfg
            .end
            .filter(|_| dir == "newer")
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
        let selection = filter_params(&self.cfg.filter);
        for _ in 0..2 {
            let mut p: Vec<(&str, &str)> = vec![
                ("action", "query"),
                ("list", "recentchanges"),
                ("rcprop", self.rcprop),
                ("rcdir", dir),
                ("rclimit", limit),
            ];
            if let Some(s) = rcstart {
                p.push(("rcstart", s));
            }
            if let Some(e) = &rcend {
                p.push(("rcend", e));
            }
            p.extend(selection.iter().map(|(k, v)| (*k, v.as_str())));
            p.extend(cont.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            self.requests += 1;
            match self.api.get_xml(&p).await {
                Err(e) if e.api_code() == Some("permissiondenied") && self.rcprop == RCPROP_ALL => {
                    tracing::warn!(
                        "the wiki does not show this user the patrolled flag; polling without it"
                    );
                    self.rcprop = RCPROP_NO_PATROL;
                }
                other => return other,
            }
        }
        unreachable!("the second attempt returns")
    }
}

const RCPROP_NO_PATROL: &str =
    "user|userid|comment|parsedcomment|flags|timestamp|title|ids|sizes|redirect|loginfo|tags|sha1";

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + i64::from(s), 0).unwrap()
    }

    #[test]
    fn the_same_second_is_looked_at_again_and_seen_rows_are_skipped() {
        let mut p = Position::default();
        let z = Duration::ZERO;
        assert!(!p.covers(Some(1), Some(t(0)), z));
        p.advance(Some(1), Some(t(0)), z);
        p.advance(Some(2), Some(t(1)), z);
        assert_eq!(p.seen.keys().copied().collect::<Vec<_>>(), vec![2]);
        assert!(p.covers(Some(1), Some(t(0)), z), "older than the window");
        assert!(p.covers(Some(2), Some(t(1)), z), "seen");
        assert!(!p.covers(Some(3), Some(t(1)), z), "same second, new rcid");
        p.advance(Some(3), Some(t(1)), z);
        assert_eq!(p.seen.len(), 2);
        assert_eq!((p.rcid, p.timestamp), (Some(3), Some(t(1))));
    }

    #[test]
    fn an_overlap_keeps_a_longer_window() {
        let mut p = Position::default();
        let o = Duration::from_secs(5);
        for (id, s) in [(1, 0), (2, 3), (3, 6), (4, 10)] {
            p.advance(Some(id), Some(t(s)), o);
        }
        assert_eq!(p.seen.keys().copied().collect::<Vec<_>>(), vec![3, 4]);
        assert!(
            !p.covers(Some(9), Some(t(6)), o),
            "late commit inside the window"
        );
        assert!(p.covers(Some(9), Some(t(4)), o), "outside the window");
    }

    #[test]
    fn by_default_late_rows_inside_two_minutes_are_taken_and_seen_stays_bounded() {
        let o = PollerConfig::new("w").overlap;
        assert_eq!(o, DEFAULT_OVERLAP);
        let mut p = Position::default();
        for s in 0..1000 {
            p.advance(Some(u64::from(s)), Some(t(s)), o);
        }
        assert_eq!(p.seen.len(), 121, "the rcids of the last 2 minutes only");
        assert!(p.covers(Some(990), Some(t(990)), o), "seen");
        assert!(
            !p.covers(Some(5000), Some(t(900)), o),
            "late, inside the window"
        );
        assert!(
            p.covers(Some(5001), Some(t(870)), o),
            "older than the window"
        );
    }

    #[test]
    fn positions_round_trip_through_json() {
        let mut p = Position::default();
        p.advance(Some(7), Some(t(0)), Duration::ZERO);
        p.continue_params
            .insert("rccontinue".into(), "20261123104553|8".into());
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""continue":{"rccontinue":"#), "{json}");
        assert_eq!(serde_json::from_str::<Position>(&json).unwrap(), p);
    }
}
