//! # rc-http: recent changes from MediaWiki's web API
//!
//! For wikis that push nothing (no XMLRC, no `$wgRCFeeds`), and for content reusers who
//! need page texts:
//!
//! - [`Poller`]: polls `list=recentchanges` (XML, every `rcprop`, oldest first, with
//!   continuation) and yields each change typed by rc-core, stamped with the wiki id you
//!   give; resumable from a saved [`Position`], never the same change twice, polite
//!   (`maxlag`, `Retry-After`, backoff: see [`Api`] and [`RetryPolicy`]).
//! - [`Api`]: the client under it, with [`Api::fetch_text`] and friends.
//! - [`relay::Relay`]: `rc2udp`, the poller's changes as XMLRC `<rc>` UDP packets.
//! - [`mirror`]: a local directory of page texts kept in step with a wiki.
//! - [`wikirpc`]: DokuWiki's and JSPWiki's XML-RPC interface: a resumable
//!   `getRecentChanges` poller and page texts.
//! - `wikiping` (feature `wikiping`): a WikiPing listener: wikis' `wiki.ping` XML-RPC calls as changes.
//! - `eventstreams` (feature `eventstreams`): Wikimedia EventStreams, the public wikis'
//!   live changes over Server-Sent Events, resumable, without gaps or duplicates.
//! - `backfill` (feature `xmpp`): a wiki's XMPP room stream with what the room's archive
//!   does not reach back to filled in from the API, without gaps or duplicates.
//!
//! ```no_run
//! use recentchanges_http::{Api, Poller, PollerConfig, Start};
//!
//! # async fn run() -> Result<(), recentchanges_http::Error> {
//! let api = Api::new("http://127.0.0.1:8080/api.php")?;
//! let mut poller = Poller::new(api.clone(), PollerConfig::new("wikidb").start(Start::Beginning));
//! for _ in 0..10 {
//!     let rc = poller.next().await?;
//!     println!("{}", rc.human_line(None));
//!     if let Some(title) = &rc.title {
//!         let text = api.fetch_text(title).await?;
//!         println!("  now {} bytes", text.map_or(0, |t| t.len()));
//!     }
//! }
//! let saved = serde_json::to_string(poller.position()).unwrap(); // resume from it later
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
#[cfg(feature = "xmpp")]
#[cfg_attr(docsrs, doc(cfg(feature = "xmpp")))]
pub mod backfill;
mod error;
#[cfg(feature = "eventstreams")]
#[cfg_attr(docsrs, doc(cfg(feature = "eventstreams")))]
pub mod eventstreams;
mod fsutil;
mod http;
pub mod mirror;
mod names;
mod options;
mod poller;
mod polling;
mod rc_list;
pub mod relay;
#[cfg(feature = "wikiping")]
#[cfg_attr(docsrs, doc(cfg(feature = "wikiping")))]
pub mod wikiping;
pub mod wikirpc;

pub use api::{AllPages, Api, ApiBuilder, Json, PageText, TITLES_PER_REQUEST};
pub use error::Error;
pub use http::{RetryPolicy, DEFAULT_MAX_BODY, DEFAULT_USER_AGENT};
pub use poller::{Poller, PollerConfig, Position, DEFAULT_OVERLAP, RCPROP_ALL};
pub use polling::Start;
