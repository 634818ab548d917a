//! # rc-core: one typed recent change from every form a wiki emits
//!
//! MediaWiki writes a recent change in three forms: the API / XMLRC `<rc>` element, the RC
//! feed `<recentchange>` element and the RC feed / EventStreams JSON object. This crate
//! parses each into one [`RecentChange`], filters changes with [`Filter`], and renders
//! them as URLs or the one-line text the XMLRC bridge posted.
//!
//! ```
//! use recentchanges_core::{parse, Filter, Kind};
//!
//! let rc = parse(r#"<recentchange id="4" type="edit" namespace="0" title="Alpha"
//!     timestamp="1795424344" user="Admin" minor="" server_url="http://127.0.0.1:8080"
//!     server_script_path="/" wiki="wikidb"><length old="22" new="14"/><revision old="2" new="3"/>
//!     </recentchange>"#)?;
//! assert_eq!(rc.kind, Kind::Edit);
//! assert!(Filter::new().namespace(0).not_bot().matches(&rc));
//! assert_eq!(rc.diff_url(None).as_deref(), Some("http://127.0.0.1:8080/index.php?diff=3&oldid=2"));
//! # Ok::<(), recentchanges_core::ParseError>(())
//! ```
#![warn(missing_docs)]

mod change;
pub mod dedup;
mod error;
mod filter;
mod parse;
mod render;
pub mod state;
mod write;

pub use change::{Fields, Kind, Patrolled, RecentChange};
pub use error::{Form, ParseError, SNIPPET_CHARS};
pub use filter::{Filter, Requirements};
#[cfg(feature = "minidom")]
pub use parse::from_element;
pub use parse::{
    detect, parse, parse_atom, parse_json, parse_rc, parse_recentchange, Parser, DEFAULT_MAX_BYTES,
};
pub use render::title_url_part;
