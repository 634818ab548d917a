//! A local directory of page texts kept in step with a wiki, for content reusers.
//!
//! The texts come from a [`TextSource`]: MediaWiki's [`Api`](crate::Api), or the WikiRPC
//! [`Client`](crate::wikirpc::Client) of a DokuWiki or JSPWiki (`getAllPages`, `getPage`,
//! `getPageInfo`; see that impl for what a deleted page is there: DokuWiki deletes a page
//! by saving it empty, so an empty text is a page that is gone and loses its file).
//!
//! One file per page, holding exactly the page's current text, named by the scheme of
//! [`file_name`] (percent-encoding; decode with [`title_of`]). The directory also holds the
//! mirror's state, [`STATE_FILE`], and briefly temporary files: every name starting with a
//! dot is the mirror's own, never a page.
//!
//! How it stays in step:
//!
//! - **Full sync** ([`Mirror::full_sync`]): every page of every mirrored namespace
//!   (MediaWiki: `generator=allpages` with the texts, 50 pages a request; WikiRPC:
//!   `getAllPages`, then each page's text) is written, and every file of a page that no
//!   longer exists is removed. Done when the mirror starts without a usable position (an
//!   empty directory, or a sync saved without the source's position).
//! - **Changes** ([`Mirror::apply`]): [`plan`] turns a batch of changes into one action
//!   per title (the last one wins): an edit or new page fetches the page, a move fetches
//!   both its old title (now a redirect, or gone) and its target (the API writes
//!   `target_title`, the feeds `target`), a deletion removes the file, an undeletion,
//!   import, upload or merge fetches again. The texts are fetched 50 titles a request
//!   (WikiRPC: one by one);
//!   a title that no longer exists loses its file. So a burst of edits to one page within
//!   a batch costs one fetch, and the outcome never depends on the order of the fetches.
//! - **Atomic, durable files**: each file is written to a temporary file, synced to the
//!   disk, and renamed over the old one (the directory synced too), so a reader, a killed
//!   mirror or a power loss never leaves half a text, nor a saved position ahead of the
//!   files it stands for.
//! - **Resume**: the change source's position is saved in [`STATE_FILE`] only after the
//!   batch it ends was applied, so a mirror killed at any point replays (and re-applies,
//!   harmlessly) what it had not finished, and loses nothing.
//!
//! [`Mirror::follow`] applies the changes of any [`ChangeFeed`] in debounced batches. With
//! the `xmpp` feature, `run` follows a wiki's XMPP room (rc-xmpp); the `recentchanges`
//! crate's `mirror::run` follows any source by name (the API itself, EventStreams, a
//! room, a DokuWiki's or JSPWiki's `getRecentChanges`), and `examples/mirror.rs` is its
//! command line.
//!
//! - **Scope**: namespaces, a title prefix, an explicit page list, or a category
//!   ([`MirrorConfig`]); a page that leaves the scope (moved out, edited out of the
//!   category) loses its file. WikiRPC wikis take a page list or a prefix (a DokuWiki
//!   namespace is a prefix: `wiki:`); namespaces and categories are MediaWiki's, and
//!   [`Mirror::open`] refuses them there with an [`Error::Config`] naming the option.
//! - **Metadata** (optional): in `.meta/FILE.json`, to check a page against the wiki:
//!   MediaWiki's title, ids, revision timestamp and SHA-1; WikiRPC's title, version,
//!   last-modified time and author ([`Page::metadata`]).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use recentchanges_core::{Kind, RecentChange};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::fsutil::{load_json, save_json, write_durable, TMP_PREFIX};
pub use crate::names::{file_name, title_of, MAX_COMPONENT};

mod texts;
pub use texts::{Page, TextSource};

/// The mirror's state file, in the mirror directory.
pub const STATE_FILE: &str = ".mirror-state.json";

/// The directory of page metadata (with [`MirrorConfig::metadata`]), in the mirror
/// directory.
pub const META_DIR: &str = ".meta";

/// What a [`Mirror`] mirrors and how it batches changes.
///
/// ```
/// use std::time::Duration;
/// let cfg = recentchanges_http::mirror::MirrorConfig::default()
///     .namespaces([0, 1])
///     .debounce(Duration::from_millis(300), Duration::from_secs(3));
/// assert_eq!(cfg.max_batch, 1000);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MirrorConfig {
    /// The namespaces mirrored; `None`: all that hold pages (0 and up).
    pub namespaces: Option<BTreeSet<i32>>,
    /// Only pages whose prefixed title starts with this (e.g. `Help:` or `Manual/`).
    pub prefix: Option<String>,
    /// Only these pages (prefixed titles, as the wiki writes them).
    pub pages: Option<BTreeSet<String>>,
    /// Only the pages in this category (`Category:Name` or `Name`; members, not the
    /// members of its subcategories). A page edited out of it loses its file.
    pub category: Option<String>,
    /// Also keep each page's metadata (title, page id, revision id, timestamp, SHA-1) in
    /// `.meta/FILE.json` beside the texts, so a reuser can check a page against the wiki.
    pub metadata: bool,
    /// A batch is applied once no change came for this long...
    pub debounce: Duration,
    /// ...or this long after its first change.
    pub max_delay: Duration,
    /// ...or when it holds this many changes.
    pub max_batch: usize,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        MirrorConfig {
            namespaces: None,
            prefix: None,
            pages: None,
            category: None,
            metadata: false,
            debounce: Duration::from_millis(500),
            max_delay: Duration::from_secs(5),
            max_batch: 1000,
        }
    }
}

impl MirrorConfig {
    /// Mirrors only these namespaces.
    pub fn namespaces(mut self, ns: impl IntoIterator<Item = i32>) -> Self {
        self.namespaces = Some(ns.into_iter().collect());
        self
    }

    /// Mirrors only pages whose prefixed title starts with `prefix`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Mirrors only these pages.
    pub fn pages<I: IntoIterator<Item = S>, S: Into<String>>(mut self, titles: I) -> Self {
        self.pages = Some(titles.into_iter().map(Into::into).collect());
        self
    }

    /// Mirrors only the pages in this category.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Keeps each page's metadata beside its text (see [`MirrorConfig::metadata`]).
    pub fn metadata(mut self, keep: bool) -> Self {
        self.metadata = keep;
        self
    }

    /// Whether a title is in the mirror's scope by its name (the namespace is checked on
    /// the page the wiki returns).
    fn wants(&self, title: &str) -> bool {
        self.prefix.as_deref().is_none_or(|p| title.starts_with(p))
            && self.pages.as_ref().is_none_or(|set| set.contains(title))
    }

    /// Quiet time and longest wait before a batch is applied.
    pub fn debounce(mut self, quiet: Duration, max_delay: Duration) -> Self {
        self.debounce = quiet;
        self.max_delay = max_delay.max(quiet);
        self
    }

    /// Whether a page of this namespace is mirrored (`None`: a wiki without numbered
    /// namespaces, whose pages all are).
    fn covers(&self, ns: Option<i32>) -> bool {
        ns.is_none_or(|ns| ns >= 0 && self.namespaces.as_ref().is_none_or(|s| s.contains(&ns)))
    }
}

/// What [`STATE_FILE`] holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MirrorState {
    /// When the last full sync started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_at: Option<DateTime<Utc>>,
    /// The change source's position after the last applied batch (for rc-xmpp, its
    /// `ResumePosition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Value>,
    /// rcid of the last change applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rcid: Option<u64>,
    /// Changes applied since the directory was created.
    #[serde(default)]
    pub changes: u64,
}

/// What to do about one title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Fetch its current text: write it, or remove the file if the page is gone.
    Fetch,
    /// The page was deleted: remove its file.
    Remove,
}

/// One action per title for a batch of changes, the last change of a title deciding.
///
/// ```
/// use recentchanges_http::mirror::{plan, Action};
/// let changes = [
///     recentchanges_core::parse(r#"<rc type="edit" ns="0" title="Alpha" rcid="1"/>"#)?,
///     recentchanges_core::parse(r#"<rc type="edit" ns="0" title="Alpha" rcid="2"/>"#)?,
///     recentchanges_core::parse(r#"<rc type="log" ns="0" title="Beta" rcid="3" logtype="move" logaction="move"><logparams target_ns="0" target_title="Gamma"/></rc>"#)?,
///     recentchanges_core::parse(r#"<rc type="log" ns="0" title="Delta" rcid="4" logtype="delete" logaction="delete"/>"#)?,
///     recentchanges_core::parse(r#"<rc type="log" ns="2" title="User:Bob" rcid="5" logtype="block" logaction="block"/>"#)?,
/// ];
/// let p = plan(&changes);
/// assert_eq!(p.into_iter().collect::<Vec<_>>(), vec![
///     ("Alpha".to_string(), Action::Fetch), ("Beta".into(), Action::Fetch),
///     ("Delta".into(), Action::Remove), ("Gamma".into(), Action::Fetch)]);
/// # Ok::<(), recentchanges_core::ParseError>(())
/// ```
pub fn plan(changes: &[RecentChange]) -> BTreeMap<String, Action> {
    let mut out = BTreeMap::new();
    for rc in changes {
        let Some(title) = rc.title.clone() else {
            continue; // the action is hidden
        };
        let special = rc.namespace.is_some_and(|n| n < 0);
        match &rc.kind {
            Kind::Edit | Kind::New if !special => {
                out.insert(title, Action::Fetch);
            }
            Kind::Log => {
                let log_type = rc.log_type.as_deref().unwrap_or_default();
                let action = rc.log_action.as_deref().unwrap_or_default();
                match (log_type, action) {
                    ("move", _) => {
                        if let Some(target) = move_target(rc) {
                            out.insert(target, Action::Fetch);
                        }
                        if !special {
                            out.insert(title, Action::Fetch);
                        }
                    }
                    ("delete", "delete" | "delete_redir" | "delete_redir2") if !special => {
                        out.insert(title, Action::Remove);
                    }
                    ("delete", "revision" | "event") => {}
                    (
                        "protect" | "block" | "newusers" | "rights" | "patrol" | "tag"
                        | "managetags" | "thanks" | "renameuser" | "gblblock" | "gblrename"
                        | "globalauth" | "abusefilter" | "spamblacklist" | "suppress" | "usermerge"
                        | "interwiki" | "create" | "pagelang" | "notifytranslators" | "massmessage"
                        | "titleblacklist" | "lock",
                        _,
                    ) => {}
                    // delete/restore, import, upload, merge, contentmodel, and log types we
                    // do not know: fetching again is always right.
                    _ if !special => {
                        out.insert(title, Action::Fetch);
                    }
                    _ => {}
                }
            }
            _ => {} // categorize, external: the page's text did not change
        }
    }
    out
}

/// The new title of a move: `target_title` in the API form, `target` in the feeds.
fn move_target(rc: &RecentChange) -> Option<String> {
    ["target_title", "target", "4::target"]
        .iter()
        .find_map(|k| rc.log_params.get(*k))
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchReport {
    /// Changes in the batch.
    pub changes: usize,
    /// Titles whose text was fetched (each once).
    pub fetched: Vec<String>,
    /// Files written (new or changed text).
    pub written: usize,
    /// Files already holding the fetched text.
    pub unchanged: usize,
    /// Files removed.
    pub removed: usize,
}

/// What a full sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Pages the wiki has in the mirrored namespaces.
    pub pages: usize,
    /// Files written (new or changed text).
    pub written: usize,
    /// Files of pages that no longer exist, removed.
    pub removed: usize,
}

/// Counters of a mirror, readable while it runs ([`Mirror::stats`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MirrorStats {
    /// Full syncs made.
    pub full_syncs: u64,
    /// Batches applied.
    pub batches: u64,
    /// Changes applied.
    pub changes: u64,
    /// Files written.
    pub written: u64,
    /// Files removed.
    pub removed: u64,
    /// Fetches per title (one page of one request each), for the
    /// [`MirrorStats::MAX_TITLES`] titles fetched most recently: the counter of the title
    /// fetched least recently is dropped to make room.
    pub fetches: BTreeMap<String, u64>,
    /// Fetches in all, of every title (also those dropped from `fetches`).
    pub fetches_total: u64,
    /// When each title of `fetches` was last counted (a sequence number), and the titles
    /// by it: which one to drop.
    recency: BTreeMap<String, u64>,
    by_recency: BTreeMap<u64, String>,
    sequence: u64,
}

impl MirrorStats {
    /// The most titles [`fetches`](Self::fetches) holds.
    pub const MAX_TITLES: usize = 10_000;

    /// Counts one fetch of `title`, dropping the counter of the title fetched least
    /// recently when [`MAX_TITLES`](Self::MAX_TITLES) are counted.
    pub(crate) fn count_fetch(&mut self, title: &str) {
        self.fetches_total += 1;
        self.sequence += 1;
        if let Some(old) = self.recency.insert(title.to_owned(), self.sequence) {
            self.by_recency.remove(&old);
        }
        self.by_recency.insert(self.sequence, title.to_owned());
        *self.fetches.entry(title.to_owned()).or_default() += 1;
        while self.fetches.len() > Self::MAX_TITLES {
            let Some((_, oldest)) = self.by_recency.pop_first() else {
                break;
            };
            self.recency.remove(&oldest);
            self.fetches.remove(&oldest);
        }
    }
}

/// A directory of page texts kept in step with a wiki. See the [module](self) docs.
///
/// ```no_run
/// use recentchanges_http::mirror::{Mirror, MirrorConfig};
///
/// # async fn run(changes: Vec<recentchanges_core::RecentChange>) -> Result<(), recentchanges_http::Error> {
/// let api = recentchanges_http::Api::new("http://127.0.0.1:8080/api.php")?;
/// let mut mirror = Mirror::open(api, "pages", MirrorConfig::default())?;
/// if mirror.needs_full_sync() {
///     mirror.full_sync(None).await?;
/// }
/// let report = mirror.apply(&changes).await?;
/// mirror.commit(None)?; // with the change source's position
/// println!("{} texts fetched", report.fetched.len());
/// assert_eq!(mirror.read("Main Page")?.is_some(), mirror.pages()?.contains_key("Main Page"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Mirror {
    texts: Box<dyn TextSource>,
    dir: PathBuf,
    cfg: MirrorConfig,
    state: MirrorState,
    stats: Arc<Mutex<MirrorStats>>,
}

impl Mirror {
    /// Opens (creating it if needed) the mirror directory, reads its state and removes
    /// temporary files a killed mirror left. The texts come from `texts`: MediaWiki's
    /// [`Api`](crate::Api), or a [`wikirpc::Client`](crate::wikirpc::Client) of a DokuWiki
    /// or JSPWiki. A scope the wiki cannot express (namespaces or a category on WikiRPC) is
    /// an [`Error::Config`] naming the option.
    pub fn open(
        texts: impl TextSource + 'static,
        dir: impl Into<PathBuf>,
        cfg: MirrorConfig,
    ) -> Result<Mirror, Error> {
        texts.check(&cfg)?;
        let texts: Box<dyn TextSource> = Box::new(texts);
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let state_path = dir.join(STATE_FILE);
        let state: MirrorState = load_json(&state_path)?;
        let mirror = Mirror {
            texts,
            dir,
            cfg,
            state,
            stats: Arc::default(),
        };
        mirror.walk(&mut |path, name| {
            if name.starts_with(TMP_PREFIX) {
                let _ = std::fs::remove_file(path);
            }
        })?;
        Ok(mirror)
    }

    /// The mirror directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The saved state.
    pub fn state(&self) -> &MirrorState {
        &self.state
    }

    /// The configuration.
    pub fn config(&self) -> &MirrorConfig {
        &self.cfg
    }

    /// Where the texts come from.
    pub fn texts(&self) -> &dyn TextSource {
        self.texts.as_ref()
    }

    /// The change source's saved position, read as `T` (`None` if there is none or it
    /// does not read as `T`).
    pub fn source_position<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_value(self.state.position.clone()?).ok()
    }

    /// Whether changes alone cannot bring the directory up to date: it was never synced,
    /// or no change source position was saved since (changes made meanwhile are unknown).
    pub fn needs_full_sync(&self) -> bool {
        self.state.synced_at.is_none() || self.state.position.is_none()
    }

    /// The counters, shared: read them while the mirror runs.
    pub fn stats(&self) -> Arc<Mutex<MirrorStats>> {
        self.stats.clone()
    }

    /// Makes the directory hold exactly the wiki's pages (of the mirrored scope), then
    /// saves the state with `position`: the change source's position taken *before* the
    /// sync started (so that nothing made during the sync is missed), or `None` if it has
    /// none yet (the next start syncs fully again).
    pub async fn full_sync(&mut self, position: Option<Value>) -> Result<SyncReport, Error> {
        let started = Utc::now();
        let mut report = SyncReport::default();
        let mut wanted: BTreeSet<PathBuf> = BTreeSet::new();
        let mut listing = self.texts.all_pages(&self.cfg);
        for _ in 0..100_000_000u64 {
            let Some(batch) = listing.next().await.transpose()? else {
                break;
            };
            for page in &batch {
                if !(self.cfg.covers(page.namespace) && self.cfg.wants(&page.title)) {
                    continue;
                }
                report.pages += 1;
                wanted.insert(file_name(&page.title));
                if self.write_page(page)? {
                    report.written += 1;
                }
            }
        }
        drop(listing);
        let mut extra = Vec::new();
        self.walk(&mut |path, _| {
            if let Ok(rel) = path.strip_prefix(&self.dir) {
                if title_of(rel).is_some() && !wanted.contains(rel) {
                    extra.push(path.to_owned());
                }
            }
        })?;
        for path in extra {
            self.remove_path(&path)?;
            report.removed += 1;
        }
        self.state.synced_at = Some(started);
        self.commit(position)?;
        let mut stats = self.stats.lock().expect("stats lock");
        stats.full_syncs += 1;
        stats.written += report.written as u64;
        stats.removed += report.removed as u64;
        tracing::info!(
            pages = report.pages,
            written = report.written,
            removed = report.removed,
            "full sync done"
        );
        Ok(report)
    }

    /// Applies a batch of changes (see [`plan`]): fetches what changed, each title once,
    /// and writes or removes files. Does not save the state: [`commit`](Self::commit) after.
    pub async fn apply(&mut self, changes: &[RecentChange]) -> Result<BatchReport, Error> {
        let mut report = BatchReport {
            changes: changes.len(),
            ..BatchReport::default()
        };
        // Titles out of scope are not fetched; a file they may have (a page that left the
        // scope) is removed.
        let actions: BTreeMap<String, Action> = plan(changes)
            .into_iter()
            .map(|(t, a)| {
                let a = if self.cfg.wants(&t) {
                    a
                } else {
                    Action::Remove
                };
                (t, a)
            })
            .collect();
        let fetch: Vec<&str> = actions
            .iter()
            .filter(|(_, a)| **a == Action::Fetch)
            .map(|(t, _)| t.as_str())
            .collect();
        let texts = if fetch.is_empty() {
            BTreeMap::new()
        } else {
            self.texts.fetch(&fetch, self.cfg.metadata).await?
        };
        // With a category scope, a fetched page that is not in it (any more) is removed.
        let members = match &self.cfg.category {
            Some(category) if !fetch.is_empty() => {
                Some(self.texts.in_category(&fetch, category).await?)
            }
            _ => None,
        };
        let in_scope = |title: &str| members.as_ref().is_none_or(|m| m.contains(title));
        for (title, action) in &actions {
            match action {
                Action::Remove => {
                    if self.remove_page(title)? {
                        report.removed += 1;
                    }
                }
                Action::Fetch => {
                    report.fetched.push(title.clone());
                    match texts.get(title).cloned().flatten() {
                        Some(page) if self.cfg.covers(page.namespace) && in_scope(&page.title) => {
                            if page.title != *title && self.remove_page(title)? {
                                report.removed += 1;
                            }
                            if self.write_page(&page)? {
                                report.written += 1;
                            } else {
                                report.unchanged += 1;
                            }
                        }
                        _ => {
                            if self.remove_page(title)? {
                                report.removed += 1;
                            }
                        }
                    }
                }
            }
        }
        if let Some(last) = changes.iter().filter_map(|c| c.rcid).max() {
            self.state.last_rcid = Some(self.state.last_rcid.map_or(last, |l| l.max(last)));
        }
        self.state.changes += changes.len() as u64;
        let mut stats = self.stats.lock().expect("stats lock");
        stats.batches += 1;
        stats.changes += changes.len() as u64;
        stats.written += report.written as u64;
        stats.removed += report.removed as u64;
        for t in &report.fetched {
            stats.count_fetch(t);
        }
        tracing::debug!(
            changes = report.changes,
            fetched = report.fetched.len(),
            written = report.written,
            removed = report.removed,
            "batch applied"
        );
        Ok(report)
    }

    /// Saves the state with the change source's position after the applied changes.
    pub fn commit(&mut self, position: Option<Value>) -> Result<(), Error> {
        if position.is_some() {
            self.state.position = position;
        }
        save_json(&self.dir.join(STATE_FILE), &self.state)
    }

    /// The pages the directory holds: title to file.
    pub fn pages(&self) -> Result<BTreeMap<String, PathBuf>, Error> {
        let mut out = BTreeMap::new();
        self.walk(&mut |path, _| {
            if let Some(t) = path.strip_prefix(&self.dir).ok().and_then(title_of) {
                out.insert(t, path.to_owned());
            }
        })?;
        Ok(out)
    }

    /// The text the directory holds for a page.
    pub fn read(&self, title: &str) -> Result<Option<String>, Error> {
        let path = self.dir.join(file_name(title));
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Writes a page's file unless it already holds that text (and its metadata, if
    /// kept); `true` if the text was written.
    fn write_page(&self, page: &Page) -> Result<bool, Error> {
        if self.cfg.metadata {
            self.write_metadata(page)?;
        }
        let path = self.dir.join(file_name(&page.title));
        if let Ok(old) = std::fs::read(&path) {
            if old == page.text.as_bytes() {
                return Ok(false);
            }
        }
        if let Some(parent) = path.parent() {
            if parent != self.dir {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
        }
        write_durable(&path, page.text.as_bytes())?;
        Ok(true)
    }

    /// The metadata file of a page.
    fn metadata_path(&self, title: &str) -> PathBuf {
        let mut name = file_name(title).into_os_string();
        name.push(".json");
        self.dir.join(META_DIR).join(name)
    }

    fn write_metadata(&self, page: &Page) -> Result<(), Error> {
        let path = self.metadata_path(&page.title);
        let bytes = serde_json::to_vec_pretty(&page.metadata).expect("JSON of plain values");
        if std::fs::read(&path).is_ok_and(|old| old == bytes) {
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        write_durable(&path, &bytes)
    }

    /// The metadata the directory holds for a page (with [`MirrorConfig::metadata`]).
    pub fn read_metadata(&self, title: &str) -> Result<Option<Value>, Error> {
        let path = self.metadata_path(title);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::Response {
                    url: path.display().to_string(),
                    reason: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Removes a page's file (and its metadata); `true` if there was one.
    fn remove_page(&self, title: &str) -> Result<bool, Error> {
        if self.cfg.metadata {
            let meta = self.metadata_path(title);
            if meta.exists() {
                std::fs::remove_file(&meta).map_err(|e| Error::io(&meta, e))?;
            }
        }
        let path = self.dir.join(file_name(title));
        if path.exists() {
            self.remove_path(&path)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn remove_path(&self, path: &Path) -> Result<(), Error> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
        // Directories of long names, once empty.
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.dir && d.starts_with(&self.dir)) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }

    /// Calls `f(path, file name)` for every file of the directory, descending into the
    /// directories of long names.
    fn walk(&self, f: &mut dyn FnMut(&Path, &str)) -> Result<(), Error> {
        let mut dirs = vec![self.dir.clone()];
        let mut visited = 0usize;
        while let Some(d) = dirs.pop() {
            visited += 1;
            if visited > 10_000_000 {
                break;
            }
            let entries = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&d, e))?;
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let ft = entry.file_type().map_err(|e| Error::io(&path, e))?;
                if ft.is_dir() {
                    if name.ends_with('~') {
                        dirs.push(path);
                    }
                } else {
                    f(&path, &name);
                }
            }
        }
        Ok(())
    }
}

#[cfg(feature = "xmpp")]
pub use follow::{run, MirrorOptions};

#[cfg(feature = "xmpp")]
mod follow {
    use recentchanges_xmpp::{ChangeStream, ClientBuilder, ResumePosition, RoomState, StreamError};

    use super::*;
    use crate::api::Api;

    /// What [`run`] needs.
    #[non_exhaustive]
    pub struct MirrorOptions {
        /// The wiki's API.
        pub api: Api,
        /// The mirror directory.
        pub dir: PathBuf,
        /// The XMPP client, with the wiki's room (resumed from the mirror's own state:
        /// do not give it `resume_from_file`).
        pub client: ClientBuilder,
        /// What is mirrored, and how changes are batched.
        pub config: MirrorConfig,
    }

    impl MirrorOptions {
        /// Options with the default [`MirrorConfig`].
        pub fn new(api: Api, dir: impl Into<PathBuf>, client: ClientBuilder) -> Self {
            MirrorOptions {
                api,
                dir: dir.into(),
                client,
                config: MirrorConfig::default(),
            }
        }

        /// What is mirrored, and how changes are batched.
        pub fn config(mut self, config: MirrorConfig) -> Self {
            self.config = config;
            self
        }
    }

    /// Keeps `opts.dir` in step with the wiki whose changes are posted in the room, until
    /// `shutdown` completes (then the pending batch is applied and saved) or something
    /// fails for good.
    ///
    /// It joins the room (resuming from the saved position: the room's archive replays
    /// what was missed), makes a full sync if [`Mirror::needs_full_sync`], then applies
    /// the changes in debounced batches, saving the position after each.
    ///
    /// The position is kept in the mirror's state rather than with rc-xmpp's
    /// `resume_from_file`, which saves it when a change is *received*: a mirror killed
    /// before writing that change's page would then skip it for good.
    ///
    /// ```no_run
    /// use recentchanges_http::mirror::{run, MirrorOptions};
    /// use recentchanges_xmpp::{Client, Tls};
    ///
    /// # async fn go() -> Result<(), Box<dyn std::error::Error>> {
    /// let api = recentchanges_http::Api::new("http://127.0.0.1:8080/api.php")?;
    /// let client = Client::builder("mirror@localhost", "secret")?
    ///     .server("127.0.0.1:5222")?
    ///     .tls(Tls::PlaintextLoopback)
    ///     .room("wikidb@conference.localhost", "mirror")?;
    /// run(MirrorOptions::new(api, "pages", client), async {
    ///     let _ = tokio::signal::ctrl_c().await;
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn run(opts: MirrorOptions, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        tokio::pin!(shutdown);
        let mut mirror = Mirror::open(opts.api, opts.dir, opts.config)?;
        let mut client = opts.client;
        if let Some(pos) = mirror.source_position::<ResumePosition>() {
            client = client.resume(pos);
        }
        let mut stream = client.connect().map_err(|e| Error::Config(e.to_string()))?;
        tokio::select! {
            joined = wait_joined(&stream) => joined?,
            _ = &mut shutdown => {
                stream.close().await;
                return Ok(());
            }
        }
        if mirror.needs_full_sync() {
            tracing::info!(dir = %mirror.dir().display(), "full sync");
            let position = position_of(&stream);
            mirror.full_sync(position).await?;
        }
        let result = mirror.follow(&mut stream, shutdown).await;
        stream.close().await;
        result
    }

    async fn wait_joined(stream: &ChangeStream) -> Result<(), Error> {
        let mut status = stream.status();
        let s = status
            .wait_for(|s| {
                s.rooms
                    .values()
                    .all(|r| matches!(r, RoomState::Joined { .. } | RoomState::Failed { .. }))
                    || matches!(s.connection, recentchanges_xmpp::Connection::Failed { .. })
            })
            .await
            .map_err(|_| Error::Source("the XMPP client stopped".into()))?;
        if let recentchanges_xmpp::Connection::Failed { reason } = &s.connection {
            return Err(Error::Source(reason.clone()));
        }
        for (room, state) in &s.rooms {
            if let RoomState::Failed { reason } = state {
                return Err(Error::Source(format!("{room}: {reason}")));
            }
        }
        Ok(())
    }

    fn position_of(stream: &ChangeStream) -> Option<Value> {
        let pos = stream.position();
        if pos.rooms.is_empty() {
            None
        } else {
            serde_json::to_value(pos).ok()
        }
    }

    impl ChangeFeed for ChangeStream {
        fn classify(
            item: Result<recentchanges_xmpp::RoomChange, StreamError>,
        ) -> Result<Option<RecentChange>, Error> {
            match item {
                Ok(c) => Ok(Some(c.change)),
                Err(StreamError::Fatal(e)) => Err(Error::Source(e.to_string())),
                Err(e) => {
                    tracing::warn!("not a change: {e}");
                    Ok(None)
                }
            }
        }

        fn position(&self) -> Option<Value> {
            position_of(self)
        }
    }
}

/// A stream of changes a [`Mirror`] can follow: [`Mirror::follow`] batches its changes and
/// saves its position after each batch is applied.
pub trait ChangeFeed: futures::Stream + Unpin {
    /// A change (`Ok(Some)`), an item that is not one and is skipped (`Ok(None)`, logged),
    /// or a failure that ends the mirror (`Err`).
    fn classify(item: Self::Item) -> Result<Option<RecentChange>, Error>;

    /// The position after the items read so far, to resume from (`None`: none yet).
    fn position(&self) -> Option<Value>;
}

/// Attempts at applying one batch while the wiki fails (about 16 hours at most).
const MAX_BATCH_ATTEMPTS: u32 = 1000;

use futures::StreamExt as _;
use tokio::time::Instant;

impl Mirror {
    /// Applies the changes of `stream` in debounced batches, saving its position after
    /// each, until `shutdown` completes or the stream fails for good.
    pub async fn follow<F: ChangeFeed>(
        &mut self,
        stream: &mut F,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        tokio::pin!(shutdown);
        loop {
            let mut batch: Vec<RecentChange> = Vec::new();
            let first = tokio::select! {
                item = stream.next() => item,
                _ = &mut shutdown => return Ok(()),
            };
            if !take::<F>(first, &mut batch)? {
                continue;
            }
            let started = Instant::now();
            let hard = crate::http::deadline(started, self.cfg.max_delay);
            let mut quiet = crate::http::deadline(started, self.cfg.debounce);
            let mut stop = false;
            while batch.len() < self.cfg.max_batch {
                tokio::select! {
                    item = stream.next() => {
                        if take::<F>(item, &mut batch)? {
                            quiet = crate::http::deadline(Instant::now(), self.cfg.debounce);
                        }
                    }
                    _ = tokio::time::sleep_until(quiet.min(hard)) => break,
                    _ = &mut shutdown => {
                        stop = true;
                        break;
                    }
                }
            }
            let position = stream.position();
            // The wiki may be down for longer than the API's retries: try the batch
            // again (it is idempotent) rather than give up; only the disk is fatal.
            let mut delay = Duration::from_secs(1);
            for attempt in 1..=MAX_BATCH_ATTEMPTS {
                match self.apply(&batch).await {
                    Ok(_) => break,
                    Err(e @ Error::Io { .. }) => return Err(e),
                    Err(e) if attempt == MAX_BATCH_ATTEMPTS => return Err(e),
                    Err(e) => {
                        tracing::warn!(
                            attempt,
                            "applying a batch failed: {e}; retrying in {delay:?}"
                        );
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            // Not applied, not saved: the next run replays it.
                            _ = &mut shutdown => return Ok(()),
                        }
                        delay = (delay * 2).min(Duration::from_secs(60));
                    }
                }
            }
            self.commit(position)?;
            if stop {
                return Ok(());
            }
        }
    }
}

/// Adds a stream item to the batch: `Ok(true)` for a change, `Ok(false)` for an item that
/// is not one, `Err` when the stream is over or failed for good.
fn take<F: ChangeFeed>(
    item: Option<F::Item>,
    batch: &mut Vec<RecentChange>,
) -> Result<bool, Error> {
    match item {
        None => Err(Error::Source("the change stream ended".into())),
        Some(item) => Ok(match F::classify(item)? {
            Some(change) => {
                batch.push(change);
                true
            }
            None => false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fetch_counters_keep_the_most_recent_titles_only() {
        let mut stats = MirrorStats::default();
        stats.count_fetch("Hot");
        for i in 0..MirrorStats::MAX_TITLES + 500 {
            stats.count_fetch(&format!("Page {i}"));
            if i % 1000 == 0 {
                stats.count_fetch("Hot");
            }
        }
        assert_eq!(stats.fetches.len(), MirrorStats::MAX_TITLES);
        assert_eq!(
            stats.fetches_total,
            (MirrorStats::MAX_TITLES + 500) as u64 + 12
        );
        assert!(!stats.fetches.contains_key("Page 0"), "the oldest went");
        assert_eq!(stats.fetches["Hot"], 12, "a title fetched again stays");
        assert_eq!(stats.recency.len(), stats.fetches.len());
        assert_eq!(stats.by_recency.len(), stats.fetches.len());
    }
}
