//! Where a [`Mirror`](super::Mirror) reads page texts: the [`TextSource`] trait, with
//! MediaWiki's API ([`Api`]) and WikiRPC ([`wikirpc::Client`], DokuWiki and JSPWiki) as
//! its implementations.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::{Map, Value};

use super::MirrorConfig;
use crate::api::{AllPages, Api, PageText};
use crate::error::Error;
use crate::wikirpc::{self, Dialect, RpcError};

/// Pages fetched in one batch of a WikiRPC full sync (one or two calls each).
const RPC_BATCH: usize = 50;

/// One page as a [`TextSource`] gives it: its current text and what the wiki says about
/// its current version.
///
/// ```
/// use recentchanges_http::mirror::Page;
/// let page = Page::new("wiki:start", "Hello");
/// assert_eq!((page.title.as_str(), page.namespace), ("wiki:start", None));
/// assert_eq!(page.metadata["title"], "wiki:start");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page {
    /// The title (MediaWiki: prefixed, e.g. `Talk:Alpha`; DokuWiki: the page id, e.g.
    /// `wiki:start`; JSPWiki: the page name).
    pub title: String,
    /// MediaWiki's namespace number; `None` for wikis without numbered namespaces.
    pub namespace: Option<i32>,
    /// The current text.
    pub text: String,
    /// What the mirror keeps in `.meta/FILE.json` with [`MirrorConfig::metadata`]:
    /// `title` and, from MediaWiki, `namespace`, `page_id`, `rev_id`, `timestamp`, `sha1`;
    /// from WikiRPC, `version` (DokuWiki: the revision's Unix time; JSPWiki: the version
    /// number), `timestamp` (last modified, UTC) and `author`, when the wiki gives them.
    pub metadata: Map<String, Value>,
}

impl Page {
    /// A page with a text and no metadata but its title.
    pub fn new(title: impl Into<String>, text: impl Into<String>) -> Page {
        let title = title.into();
        let mut metadata = Map::new();
        metadata.insert("title".into(), Value::String(title.clone()));
        Page {
            title,
            namespace: None,
            text: text.into(),
            metadata,
        }
    }
}

impl From<PageText> for Page {
    fn from(p: PageText) -> Page {
        let meta = serde_json::json!({
            "title": p.title,
            "namespace": p.namespace,
            "page_id": p.page_id,
            "rev_id": p.rev_id,
            "timestamp": p.timestamp,
            "sha1": p.sha1,
        });
        Page {
            title: p.title,
            namespace: Some(p.namespace),
            text: p.text,
            metadata: match meta {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }
}

/// Where a [`Mirror`](super::Mirror) reads page texts: every page in its scope for a full
/// sync, and the current text of the pages a batch of changes names.
///
/// Implemented by [`Api`] (MediaWiki) and [`wikirpc::Client`] (DokuWiki, JSPWiki); a
/// `Box<dyn TextSource>` is one too. The methods return boxed futures and streams so that
/// the trait can be used as a trait object.
///
/// ```
/// use recentchanges_http::mirror::{MirrorConfig, TextSource};
/// use recentchanges_http::wikirpc::{Client, Dialect};
/// let doku = Client::new("http://127.0.0.1:8090/lib/exe/xmlrpc.php", Dialect::DokuWiki)?;
/// assert!(doku.check(&MirrorConfig::default().prefix("wiki:")).is_ok());
/// let err = doku.check(&MirrorConfig::default().namespaces([0])).unwrap_err();
/// assert!(err.to_string().contains("namespaces"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait TextSource: fmt::Debug + Send + Sync {
    /// Refuses a scope the wiki cannot express ([`Error::Config`] naming the option).
    fn check(&self, cfg: &MirrorConfig) -> Result<(), Error>;

    /// Every page of the scope of `cfg` with its text, in batches (a full sync). It may
    /// give pages outside the scope: the mirror checks each page itself.
    fn all_pages<'a>(&'a self, cfg: &'a MirrorConfig) -> BoxStream<'a, Result<Vec<Page>, Error>>;

    /// The current text of each title asked for (`None`: no such page now). With
    /// `metadata`, the pages' metadata too (it may cost a request more).
    fn fetch<'a>(
        &'a self,
        titles: &'a [&'a str],
        metadata: bool,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Option<Page>>, Error>>;

    /// Which of `titles` are in `category` now (only asked with a category scope).
    fn in_category<'a>(
        &'a self,
        titles: &'a [&'a str],
        category: &'a str,
    ) -> BoxFuture<'a, Result<BTreeSet<String>, Error>>;
}

impl<T: TextSource + ?Sized> TextSource for Box<T> {
    fn check(&self, cfg: &MirrorConfig) -> Result<(), Error> {
        (**self).check(cfg)
    }

    fn all_pages<'a>(&'a self, cfg: &'a MirrorConfig) -> BoxStream<'a, Result<Vec<Page>, Error>> {
        (**self).all_pages(cfg)
    }

    fn fetch<'a>(
        &'a self,
        titles: &'a [&'a str],
        metadata: bool,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Option<Page>>, Error>> {
        (**self).fetch(titles, metadata)
    }

    fn in_category<'a>(
        &'a self,
        titles: &'a [&'a str],
        category: &'a str,
    ) -> BoxFuture<'a, Result<BTreeSet<String>, Error>> {
        (**self).in_category(titles, category)
    }
}

/// How far a full sync over the API got.
enum Walk {
    Start,
    Lists(VecDeque<AllPages>),
    Done,
}

/// MediaWiki: `generator=allpages` per namespace (or `categorymembers`), 50 pages with
/// their texts a request; `prop=revisions` for a page list and for changes.
impl TextSource for Api {
    fn check(&self, _cfg: &MirrorConfig) -> Result<(), Error> {
        Ok(())
    }

    fn all_pages<'a>(&'a self, cfg: &'a MirrorConfig) -> BoxStream<'a, Result<Vec<Page>, Error>> {
        Box::pin(futures::stream::try_unfold(
            Walk::Start,
            move |mut walk| async move {
                loop {
                    walk = match walk {
                        Walk::Done => return Ok(None),
                        Walk::Start => {
                            if let Some(titles) = &cfg.pages {
                                let titles: Vec<&String> = titles.iter().collect();
                                let pages = self.fetch_pages(&titles).await?;
                                let pages = pages.into_values().flatten().map(Page::from);
                                return Ok(Some((pages.collect(), Walk::Done)));
                            } else if let Some(category) = &cfg.category {
                                Walk::Lists(VecDeque::from([self.category_pages(category)]))
                            } else {
                                let namespaces = self.namespaces().await?;
                                Walk::Lists(
                                    namespaces
                                        .into_iter()
                                        .filter(|(ns, _)| cfg.covers(Some(*ns)))
                                        .map(|(ns, _)| self.all_pages(ns))
                                        .collect(),
                                )
                            }
                        }
                        Walk::Lists(mut lists) => {
                            let Some(list) = lists.front_mut() else {
                                return Ok(None);
                            };
                            match list.next_batch().await? {
                                Some(batch) => {
                                    let pages = batch.into_iter().map(Page::from).collect();
                                    return Ok(Some((pages, Walk::Lists(lists))));
                                }
                                None => {
                                    lists.pop_front();
                                    Walk::Lists(lists)
                                }
                            }
                        }
                    }
                }
            },
        ))
    }

    fn fetch<'a>(
        &'a self,
        titles: &'a [&'a str],
        _metadata: bool,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Option<Page>>, Error>> {
        Box::pin(async move {
            Ok(self
                .fetch_pages(titles)
                .await?
                .into_iter()
                .map(|(t, p)| (t, p.map(Page::from)))
                .collect())
        })
    }

    fn in_category<'a>(
        &'a self,
        titles: &'a [&'a str],
        category: &'a str,
    ) -> BoxFuture<'a, Result<BTreeSet<String>, Error>> {
        Box::pin(Api::in_category(self, titles, category))
    }
}

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Error {
        match e {
            RpcError::Http(e) => e,
            other => Error::Rpc(Box::new(other)),
        }
    }
}

/// DokuWiki and JSPWiki: `getAllPages` for a full sync, then `getPage` (and
/// `getPageInfo` with metadata) page by page.
///
/// What a missing page is: DokuWiki has no page of an empty text (saving one deletes the
/// page; `getPage` answers `""` and `getPageInfo` an empty struct for a page that does not
/// exist), so an empty text is a page that is gone and loses its file. JSPWiki answers
/// `getPage` of a missing page with fault 1 (`ERR_NOPAGE`), which is taken the same way.
///
/// Scope: a page list and a title prefix (e.g. DokuWiki's namespace `wiki:`); namespaces
/// and categories are MediaWiki's and refused by [`check`](TextSource::check).
impl TextSource for wikirpc::Client {
    fn check(&self, cfg: &MirrorConfig) -> Result<(), Error> {
        let engine = match self.dialect() {
            Dialect::DokuWiki => "DokuWiki",
            Dialect::JspWiki => "JSPWiki",
        };
        for (option, set) in [
            ("namespaces", cfg.namespaces.is_some()),
            ("category", cfg.category.is_some()),
        ] {
            if set {
                return Err(Error::Config(format!(
                    "the mirror option `{option}` is MediaWiki's: a {engine} (WikiRPC) mirror \
                     takes a page list (`pages`) or a title prefix (`prefix`, e.g. a \
                     namespace like `wiki:`)"
                )));
            }
        }
        Ok(())
    }

    fn all_pages<'a>(&'a self, cfg: &'a MirrorConfig) -> BoxStream<'a, Result<Vec<Page>, Error>> {
        let metadata = cfg.metadata;
        Box::pin(futures::stream::try_unfold(
            None::<VecDeque<String>>,
            move |names| async move {
                let mut names = match names {
                    Some(n) => n,
                    None => match &cfg.pages {
                        Some(list) => list.iter().cloned().collect(),
                        None => self
                            .all_page_names()
                            .await?
                            .into_iter()
                            .filter(|n| cfg.wants(n))
                            .collect(),
                    },
                };
                if names.is_empty() {
                    return Ok(None);
                }
                let n = names.len().min(RPC_BATCH);
                let batch: Vec<String> = names.drain(..n).collect();
                let mut pages = Vec::with_capacity(batch.len());
                for name in &batch {
                    pages.extend(rpc_page(self, name, metadata).await?);
                }
                Ok(Some((pages, Some(names))))
            },
        ))
    }

    fn fetch<'a>(
        &'a self,
        titles: &'a [&'a str],
        metadata: bool,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Option<Page>>, Error>> {
        Box::pin(async move {
            let mut out = BTreeMap::new();
            for title in titles {
                out.insert((*title).to_owned(), rpc_page(self, title, metadata).await?);
            }
            Ok(out)
        })
    }

    fn in_category<'a>(
        &'a self,
        _titles: &'a [&'a str],
        _category: &'a str,
    ) -> BoxFuture<'a, Result<BTreeSet<String>, Error>> {
        Box::pin(async {
            Err(Error::Config(
                "the mirror option `category` is MediaWiki's: WikiRPC wikis have no categories"
                    .into(),
            ))
        })
    }
}

/// A WikiRPC page's text (and metadata), `None` when it does not exist.
async fn rpc_page(
    client: &wikirpc::Client,
    name: &str,
    metadata: bool,
) -> Result<Option<Page>, Error> {
    let mut page = Page::new(name, String::new());
    if metadata {
        let Some(info) = client.page_info_if_exists(name).await? else {
            return Ok(None);
        };
        let m = &mut page.metadata;
        if let Some(v) = info.version {
            m.insert("version".into(), v.into());
        }
        if let Some(t) = info.last_modified {
            m.insert("timestamp".into(), serde_json::json!(t));
        }
        if let Some(a) = info.author {
            m.insert("author".into(), a.into());
        }
    }
    match client.get_page(name, None).await {
        Ok(text) if text.is_empty() => Ok(None),
        Ok(text) => {
            page.text = text;
            Ok(Some(page))
        }
        Err(RpcError::Fault { code: 1, .. }) if client.dialect() == Dialect::JspWiki => Ok(None),
        Err(e) => Err(e.into()),
    }
}
