//! Recent changes and page texts over the WikiRPC XML-RPC interface of DokuWiki and
//! JSPWiki.
//!
//! - [`Client`]: one endpoint in a [`Dialect`], with optional basic-auth
//!   [`Credentials`]; [`Client::get_page`] and [`Client::get_page_info`] for texts,
//!   [`Client::all_page_names`] for the list of pages; it is the
//!   [`TextSource`](crate::mirror::TextSource) of a DokuWiki or JSPWiki mirror.
//! - [`Poller`]: `getRecentChanges` on an interval, each change a typed
//!   [`RecentChange`](recentchanges_core::RecentChange), resumable from a saved [`Position`], never
//!   the same change twice, with rc-core's [`Filter`](recentchanges_core::Filter) and the retry
//!   rules of [`RetryPolicy`](crate::RetryPolicy).
//! - [`Value`]: XML-RPC values, for [`Client::call`] of other methods.
//!
//! ```no_run
//! use recentchanges_http::wikirpc::{Client, Credentials, Dialect, Poller, PollerConfig};
//! use recentchanges_http::Start;
//!
//! # async fn run() -> Result<(), recentchanges_http::wikirpc::RpcError> {
//! let client = Client::builder("http://127.0.0.1:8090/lib/exe/xmlrpc.php", Dialect::DokuWiki)
//!     .credentials(Credentials::new("editor", "editorpass123"))
//!     .build()?;
//! let mut poller = Poller::new(client.clone(), PollerConfig::new("mywiki").start(Start::Beginning));
//! for _ in 0..10 {
//!     let rc = poller.next().await?;
//!     let text = client.get_page(rc.title_or(""), None).await?;
//!     println!("{} by {}: now {} bytes", rc.title_or("?"), rc.user_or("?"), text.len());
//! }
//! # Ok(()) }
//! ```
//!
//! The XML-RPC documents are read and written here (on quick-xml) rather than with an
//! XML-RPC crate: DokuWiki writes `dateTime.iso8601` values as `2026-11-23T12:53:22+00:00`,
//! which `dxr` (the well-kept choice) refuses, and a bad answer should say what was wrong.

mod client;
mod entry;
mod error;
mod poller;
pub(crate) mod xmlrpc;

pub use client::{Client, ClientBuilder, Credentials, Dialect};
pub use entry::PageInfo;
pub use error::RpcError;
pub use poller::{Poller, PollerConfig, Position, Seen, BEGINNING};
pub use xmlrpc::Value;
