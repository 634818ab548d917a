//! # recentchanges
//!
//! A client SDK for wiki recent-changes streams. The typed model, parsers and filters of
//! `recentchanges-core` are at the top level; the transports come with features (all on
//! by default):
//!
//! | feature | adds | brings |
//! | --- | --- | --- |
//! | `xmpp` | `xmpp`: XMLRC rooms, PubSub nodes, the publisher and the UDP bridge | tokio-xmpp, rustls |
//! | `http` | `http`: MediaWiki's API poller, page texts, the page mirror, WikiRPC; `source`: any source by name | reqwest, rustls, tokio |
//! | `eventstreams` | `http::eventstreams`: Wikimedia EventStreams; `eventstreams:` sources | sse-parse |
//! | `wikiping` | `http::wikiping`: a WikiPing listener; `wikiping:` sources | axum |
//!
//! With `default-features = false` only the model, the parsers and the filters build.
//!
//! ```
//! use recentchanges::{parse, Filter, Kind};
//!
//! let rc = parse(r#"<rc type="new" ns="0" title="Alpha" rcid="3" user="Admin" newlen="22" />"#)?;
//! assert_eq!(rc.kind, Kind::New);
//! assert!(Filter::new().namespace(0).matches(&rc));
//! # Ok::<(), recentchanges::ParseError>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

pub use recentchanges_core::*;

/// The XMPP transport: MUC rooms as a self-healing stream, the publisher and the bridge.
#[cfg(feature = "xmpp")]
#[cfg_attr(docsrs, doc(cfg(feature = "xmpp")))]
pub use recentchanges_xmpp as xmpp;

/// The HTTP sources: MediaWiki's web API (the resumable recent-changes poller, page texts,
/// the page mirror), WikiRPC, EventStreams and WikiPing.
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use recentchanges_http as http;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod source;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod mirror;

/// The README's examples, compiled and run as doc tests (they use every feature).
#[doc = include_str!("../README.md")]
#[cfg(all(
    doctest,
    feature = "xmpp",
    feature = "http",
    feature = "eventstreams",
    feature = "wikiping"
))]
pub struct ReadmeDoctests;
