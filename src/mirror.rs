//! A local directory of a wiki's page texts kept in step by any [`Source`] of its changes:
//! the MediaWiki API (`mediawiki:`), EventStreams (`eventstreams:`, filtered to the wiki),
//! an XMLRC room (`xmpp:`), a DokuWiki's or JSPWiki's WikiRPC endpoint (`dokuwiki:`,
//! `jspwiki:`)... The texts come from a [`TextSource`]: the wiki's API, or its WikiRPC
//! endpoint ([`Source::texts`] gives the one of a wiki's own source); see
//! [`recentchanges_http::mirror`] for the directory's layout and guarantees (atomic files,
//! the position saved only after each batch is applied, a full sync when needed).
//!
//! ```no_run
//! use recentchanges::http::mirror::MirrorConfig;
//! use recentchanges::source::Source;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let source = Source::new("mediawiki:https://wiki.example/w/api.php")?;
//! let texts = source.texts()?.expect("a wiki's own source");
//! let config = MirrorConfig::default().namespaces([0]).metadata(true);
//! let stats = recentchanges::mirror::run(texts, "pages", source, config, async {
//!     tokio::signal::ctrl_c().await.ok();
//! })
//! .await?;
//! println!("{} changes applied", stats.changes);
//! # Ok(()) }
//! ```
//!
//! A DokuWiki, its texts and its changes from the same endpoint (`getAllPages`, `getPage`,
//! `getRecentChanges`); a page saved empty (DokuWiki's deletion) loses its file:
//!
//! ```no_run
//! use recentchanges::http::mirror::MirrorConfig;
//! use recentchanges::source::Source;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let source = Source::new("dokuwiki:https://wiki.example/lib/exe/xmlrpc.php")?
//!     .credentials("mirror", std::env::var("WIKI_PASSWORD")?);
//! let texts = source.texts()?.expect("a WikiRPC source");
//! let config = MirrorConfig::default().prefix("wiki:");
//! recentchanges::mirror::run(texts, "pages", source, config, std::future::pending()).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures::{FutureExt as _, StreamExt as _};
use recentchanges_core::RecentChange;
use recentchanges_http::mirror::{ChangeFeed, Mirror, MirrorConfig, MirrorStats, TextSource};
use recentchanges_http::{Error, Start};
use serde_json::Value;

use crate::source::{Change, Changes, Source, SourceError, State};

/// Keeps `dir` in step with the wiki whose page texts `texts` reads (its
/// [`Api`](recentchanges_http::Api), or its WikiRPC
/// [`Client`](recentchanges_http::wikirpc::Client); [`Source::texts`] gives the one of a
/// wiki's own source), following `source` (without a `resume_from_file`: the mirror keeps
/// the source's position in its own state) until `shutdown` completes or the source fails
/// for good; the counters at the end.
///
/// The source resumes from the mirror's saved position; without one (a new directory),
/// it is started first and, once it is live, the directory gets a full sync. The position
/// the source had reached *before* the sync is saved with it (polling sources have one
/// as soon as they answered; rooms and streams once a change arrived), so nothing changed
/// during the sync is missed, and a run stopped before any change resumes from there
/// instead of syncing fully again; a room or a stream stopped before its first change
/// follows from 5 minutes before the sync ([`Source::start`] at that time), if the sync
/// is less than a day old. After that, the position is saved after each applied batch.
pub async fn run(
    texts: impl TextSource + 'static,
    dir: impl Into<PathBuf>,
    mut source: Source,
    config: MirrorConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<MirrorStats, Error> {
    tokio::pin!(shutdown);
    let mut mirror = Mirror::open(texts, dir, config)?;
    let mut full_sync = mirror.needs_full_sync();
    match (mirror.source_position::<Value>(), mirror.state().synced_at) {
        (Some(position), _) => source = source.resume(position),
        // Synced lately, stopped before the source gave a position (a room or a stream
        // before its first change): the changes since a little before that sync.
        (None, Some(synced)) if source.can_start_at_a_time() && recent(synced) => {
            let from = synced - RESUME_MARGIN;
            tracing::info!(%synced, %from, "no position saved since the full sync: following from before it");
            source = source.start(Start::At(from));
            full_sync = false;
        }
        (None, _) => {}
    }
    let mut changes = source
        .open()
        .map_err(|e| Error::Config(format!("the change source: {e}")))?;
    if full_sync {
        let mut status = changes.status();
        tokio::select! {
            live = status.wait_for(|s| matches!(s.state, State::Live | State::Failed { .. })) => {
                if let Ok(s) = live {
                    if let State::Failed { reason } = &s.state {
                        return Err(Error::Source(reason.clone()));
                    }
                }
            }
            _ = &mut shutdown => return Ok(stats(&mirror)),
        }
        // What the source read before the sync (changes, or where a quiet poll left it):
        // the sync covers it, so its position is the one to save with the sync.
        let skipped = read_queued(&mut changes)?;
        let position = ChangeFeed::position(&changes);
        tracing::info!(
            dir = %mirror.dir().display(),
            skipped,
            position = position.is_some(),
            "full sync"
        );
        mirror.full_sync(position).await?;
    }
    let result = mirror.follow(&mut changes, shutdown).await;
    changes.close();
    result.map(|()| stats(&mirror))
}

/// How far before its last full sync a mirror without a saved source position follows a
/// source that can start at a time: room for the difference between this machine's clock
/// and the wiki's. A change applied twice costs a fetch, nothing else.
const RESUME_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// How old a full sync may be for [`RESUME_MARGIN`]'s way: well within what EventStreams
/// (7 days) and room archives (Prosody: 1 week by default) keep; older, a full sync again.
const RESUME_WITHIN: chrono::TimeDelta = chrono::TimeDelta::days(1);

fn recent(synced: DateTime<Utc>) -> bool {
    Utc::now() - synced < RESUME_WITHIN
}

/// Reads what the source has queued, without waiting: changes made before the full sync
/// that follows (which covers them); their count.
fn read_queued(changes: &mut Changes) -> Result<usize, Error> {
    let mut skipped = 0;
    for _ in 0..1_000_000 {
        match changes.next().now_or_never() {
            None => break,
            Some(None) => return Err(Error::Source("the change stream ended".into())),
            Some(Some(item)) => {
                if <Changes as ChangeFeed>::classify(item)?.is_some() {
                    skipped += 1;
                }
            }
        }
    }
    Ok(skipped)
}

fn stats(mirror: &Mirror) -> MirrorStats {
    mirror.stats().lock().expect("stats lock").clone()
}

impl ChangeFeed for Changes {
    fn classify(item: Result<Change, SourceError>) -> Result<Option<RecentChange>, Error> {
        match item {
            Ok(c) => Ok(Some(c.change)),
            Err(e) if e.is_fatal() => Err(Error::Source(e.to_string())),
            Err(e) => {
                tracing::warn!("not a change: {e}");
                Ok(None)
            }
        }
    }

    fn position(&self) -> Option<Value> {
        Some(Changes::position(self).clone()).filter(|p| !p.is_null())
    }
}
