//! What the two pollers, [`Poller`](crate::Poller) of the MediaWiki API and
//! [`wikirpc::Poller`](crate::wikirpc::Poller), do the same way: where they start
//! ([`Start`]), and how they hand changes out. A request's changes are buffered; they are
//! handed out one by one, each moving the position on, stamped with the configured wiki
//! and passed through the filter; when none is left, the next request is made once the
//! poll interval has passed. What differs (the request, reading its answer, the position)
//! is each poller's [`Fetch`].

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::Stream;
use recentchanges_core::{Filter, RecentChange};
use tokio::time::Instant;

/// Where a poller without a saved position starts.
///
/// ```
/// let since: chrono::DateTime<chrono::Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
/// let cfg = recentchanges_http::PollerConfig::new("wikidb").start(recentchanges_http::Start::At(since));
/// assert_eq!(cfg.start, recentchanges_http::Start::At(since));
/// assert_eq!(recentchanges_http::Start::default(), recentchanges_http::Start::Now);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Start {
    /// With the changes made from now on.
    #[default]
    Now,
    /// With the oldest change the wiki still lists (`$wgRCMaxAge`, 90 days by default).
    Beginning,
    /// With the changes made at or after this time.
    At(DateTime<Utc>),
}

/// The part of a poller that differs between sources: its requests and its position.
pub(crate) trait Fetch {
    /// One buffered item of an answer.
    type Row;
    /// Why a request, or one item, failed.
    type Error;

    /// The wiki id stamped on every change, and the filter changes must pass.
    fn settings(&self) -> (&str, &Filter);

    /// The newest time asked for: once a request made after it has nothing more to list,
    /// the poller is finished (`None`: it never is).
    fn end(&self) -> Option<DateTime<Utc>> {
        None
    }

    /// Makes one request and appends what is new to `rows`. Answers how long to wait
    /// before the next request: `None` when more is waiting (a listing cut into pages).
    fn fetch(
        &mut self,
        rows: &mut VecDeque<Self::Row>,
    ) -> impl Future<Output = Result<Option<Duration>, Self::Error>> + Send;

    /// Moves the position past `row` (`last`: no other row is buffered) and returns its
    /// change, or why the row is unusable.
    fn hand_out(&mut self, row: Self::Row, last: bool) -> Result<RecentChange, Self::Error>;
}

/// A [`Fetch`] with the buffer of rows not handed out yet and the time of the next request.
#[derive(Debug)]
pub(crate) struct Polling<F: Fetch> {
    pub(crate) source: F,
    rows: VecDeque<F::Row>,
    next_poll: Option<Instant>,
    /// Requests failed in a row (after their own retries): the next one waits
    /// [`failure_pause`] first.
    failures: u32,
    /// A request made after the [end](Fetch::end) was caught up: nothing more will come
    /// once the rows are handed out.
    ended: bool,
}

/// The pause after the `n`th request in a row that failed (after its own retries): 1 s,
/// doubling, at most 5 minutes, give or take a fifth. Without it a request that fails at
/// once and for good (HTTP 500, an HTML page instead of the API) would be repeated in a
/// tight loop by [`Polling::next`] and `into_stream`.
pub(crate) fn failure_pause(n: u32) -> Duration {
    let secs = 1u64 << n.saturating_sub(1).min(9);
    crate::http::jitter(Duration::from_secs(secs).min(MAX_FAILURE_PAUSE))
}

/// The longest pause between two failed requests.
pub(crate) const MAX_FAILURE_PAUSE: Duration = Duration::from_secs(300);

impl<F: Fetch> Polling<F> {
    pub(crate) fn new(source: F) -> Self {
        Polling {
            source,
            rows: VecDeque::new(),
            next_poll: None,
            failures: 0,
            ended: false,
        }
    }

    /// Forgets the buffered rows (the position they came from is being replaced).
    pub(crate) fn clear(&mut self) {
        self.rows.clear();
    }

    /// Whether every buffered row was handed out.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether the poller reached its [end](Fetch::end) and handed out every change.
    pub(crate) fn is_finished(&self) -> bool {
        self.ended && self.rows.is_empty()
    }

    /// The next change, waiting for the interval and requesting until there is one.
    /// Cancel-safe: dropping the future loses nothing. A finished poller has nothing more:
    /// it waits forever (`into_stream` ends instead).
    pub(crate) async fn next(&mut self) -> Result<RecentChange, F::Error> {
        loop {
            if let Some(rc) = self.step().await? {
                return Ok(rc);
            }
            if self.is_finished() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// A buffered change if there is one, else (once the interval has passed) one request
    /// and the first change it brought; `Ok(None)` when it brought nothing to hand out.
    pub(crate) async fn step(&mut self) -> Result<Option<RecentChange>, F::Error> {
        if let Some(item) = self.pop_kept() {
            return item.map(Some);
        }
        if self.ended {
            return Ok(None);
        }
        if let Some(at) = self.next_poll {
            tokio::time::sleep_until(at).await;
        }
        self.fetch().await?;
        self.pop_kept().transpose()
    }

    /// One request (none while rows are buffered), without waiting for the interval: what
    /// it brought, in order, with the position moved past it.
    pub(crate) async fn poll(&mut self) -> Result<Vec<Result<RecentChange, F::Error>>, F::Error> {
        if self.rows.is_empty() {
            self.fetch().await?;
        }
        let mut out = Vec::with_capacity(self.rows.len());
        while let Some(item) = self.pop() {
            out.extend(item);
        }
        Ok(out)
    }

    /// [`next`](Self::next) as a stream, which ends once the poller is finished.
    pub(crate) fn into_stream(self) -> impl Stream<Item = Result<RecentChange, F::Error>> {
        futures::stream::unfold(self, |mut p| async move {
            loop {
                match p.step().await {
                    Ok(Some(rc)) => return Some((Ok(rc), p)),
                    Ok(None) if p.is_finished() => return None,
                    Ok(None) => {}
                    Err(e) => return Some((Err(e), p)),
                }
            }
        })
    }

    /// One request; after a failure the next one waits (see [`failure_pause`]).
    async fn fetch(&mut self) -> Result<(), F::Error> {
        let asked_at = Utc::now();
        match self.source.fetch(&mut self.rows).await {
            Ok(wait) => {
                // Caught up (an interval to wait) with a request made after the end.
                if wait.is_some() && self.source.end().is_some_and(|end| asked_at > end) {
                    self.ended = true;
                }
                self.failures = 0;
                self.next_poll = wait.map(|w| crate::http::deadline(Instant::now(), w));
                Ok(())
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let pause = failure_pause(self.failures);
                self.next_poll = Some(crate::http::deadline(Instant::now(), pause));
                Err(e)
            }
        }
    }

    /// The next buffered item the filter keeps, or `None` when none is left.
    fn pop_kept(&mut self) -> Option<Result<RecentChange, F::Error>> {
        loop {
            if let Some(item) = self.pop()? {
                return Some(item);
            }
        }
    }

    /// Hands out the next buffered row: `None` when the buffer is empty, `Some(None)` for
    /// a change the filter drops.
    #[allow(clippy::option_option)]
    fn pop(&mut self) -> Option<Option<Result<RecentChange, F::Error>>> {
        let row = self.rows.pop_front()?;
        let last = self.rows.is_empty();
        let end = self.source.end();
        Some(match self.source.hand_out(row, last) {
            Ok(mut rc) => {
                let (wiki, filter) = self.source.settings();
                rc.wiki = Some(wiki.to_owned());
                let in_range = match (end, rc.timestamp) {
                    (Some(end), Some(t)) => t <= end,
                    _ => true,
                };
                (in_range && filter.matches(&rc)).then_some(Ok(rc))
            }
            Err(e) => Some(Err(e)),
        })
    }
}
