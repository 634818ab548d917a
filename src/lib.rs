//! # recentchanges
//!
//! A client SDK for wiki recent-changes streams. This crate re-exports the parts:
//! the typed model, parsers and filters of [`recentchanges_core`] at the top level, and the XMPP
//! transport of [`recentchanges_xmpp`] as [`xmpp`].
//!
//! ```
//! use recentchanges::{parse, Filter, Kind};
//!
//! let rc = parse(r#"<rc type="new" ns="0" title="Alpha" rcid="3" user="Admin" newlen="22" />"#)?;
//! assert_eq!(rc.kind, Kind::New);
//! assert!(Filter::new().namespace(0).matches(&rc));
//! # Ok::<(), recentchanges::ParseError>(())
//! ```

pub use recentchanges_core::*;

/// The XMPP transport: MUC rooms as a self-healing stream, the publisher and the bridge.
pub use recentchanges_xmpp as xmpp;

/// MediaWiki's web API: the resumable recent-changes poller, page texts and the page mirror.
pub use recentchanges_http as http;

pub mod source;

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
