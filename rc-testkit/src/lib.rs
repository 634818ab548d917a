//! What the workspace's tests and benchmarks share: the project's real servers, started by
//! its own scripts on 127.0.0.1, and the helpers that wait for them.
//!
//! - [`Prosody`] (`scripts/prosody/`): start, [`kill`](ScriptedServer::kill) like a crash,
//!   [`restart`](ScriptedServer::restart), accounts, Lua in the admin shell; with the `xmpp`
//!   feature, rc-xmpp clients, publishers and subscribers for its accounts.
//! - [`Ejabberd`] (`scripts/ejabberd/`, Debian's package): the same accounts, rooms and
//!   archives on a second XMPP server, [`kill`](ScriptedServer::kill), [`restart`](ScriptedServer::restart),
//!   `ejabberdctl`; with the `xmpp` feature, [`XmppServer`] gives both servers the same
//!   rc-xmpp clients and publishers.
//! - [`MediaWiki`] (`scripts/mediawiki/`) and [`DokuWiki`] (`scripts/dokuwiki/`), both
//!   [`ScriptedServer`]s; with the `http` feature, rc-http API clients and edits.
//! - [`wait`]: the next item of a stream within a deadline, `n` of them, nothing more for a
//!   while, a status that reaches a state, a file that reaches a content.
//! - [`http`]: plain HTTP requests independent of the code under test, and a server with
//!   canned answers.
//! - [`eventstreams`] (feature `eventstreams`): a stand-in for Wikimedia EventStreams (SSE
//!   over axum, in memory; the real service needs Kafka), in-process or as the binary
//!   `eventstreams-standin`.
//!
//! Every server gets a free port and a state directory of its own, and is stopped (and
//! the directory removed) when dropped, also when a test fails. Setting `RUST_LOG` logs
//! to the test output ([`init_tracing`]).
//!
//! Only ever a dev-dependency (`publish = false`).

mod ejabberd;
#[cfg(feature = "eventstreams")]
pub mod eventstreams;
pub mod http;
mod process;
mod prosody;
mod proxy;
pub mod wait;
mod wiki;
#[cfg(feature = "xmpp")]
mod xmpp;

pub use ejabberd::{Ejabberd, EJABBERD_ACCOUNTS};
#[cfg(feature = "eventstreams")]
pub use eventstreams::EventStreams;
pub use process::{free_port, init_tracing, ScriptedServer, TempDir};
pub use prosody::{password, room_jid, Prosody, ACCOUNTS};
pub use proxy::Proxy;
pub use wait::{
    assert_quiet, collect_n, collect_until, next_within, try_wait_status, wait_file, wait_status,
};
#[cfg(feature = "http")]
pub use wiki::{act, edit, put_page};
pub use wiki::{DokuWiki, MediaWiki, ADMIN_PASSWORD};
#[cfg(feature = "xmpp")]
pub use xmpp::{all_joined, joined, quick_reconnect, room_bare, XmppServer, JOIN_SECS};
