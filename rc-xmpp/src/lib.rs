//! # rc-xmpp: recent changes from XMPP chat rooms, as a stream that heals itself
//!
//! MediaWiki's XMLRC posted every change into a multi-user chat room, one room per wiki: a
//! human line in the `<body>` and the `<rc>` element beside it. [`Client`] joins such
//! rooms and yields each change, typed by [`recentchanges_core`], on a plain [`futures::Stream`].
//! Behind it the connection heals itself: dead connections are detected (pings), rejoined
//! with backoff, and what was missed is replayed from the room archive (XEP-0313) or the
//! room history, without duplicates.
//!
//! [`pubsub`] does the same for XMPP PubSub nodes (XEP-0060), where DokuWiki's dokupubsub
//! published each page edit as an Atom entry.
//!
//! ```no_run
//! use futures::StreamExt;
//! use recentchanges_core::{Filter, Kind};
//! use recentchanges_xmpp::Client;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut changes = Client::builder("bot@example.org", "secret")?
//!     .room("enwiki@conference.example.org", "mybot")?
//!     .filter(Filter::new().namespace(0).not_bot())
//!     .resume_from_file("enwiki.pos")?
//!     .connect()?; // a bad configuration is an error, not a panic
//! while let Some(item) = changes.next().await {
//!     match item {
//!         Ok(c) if c.kind == Kind::Edit => println!("{} edited {}", c.user_or("?"), c.title_or("?")),
//!         Ok(_) => {}
//!         Err(e) => eprintln!("{e}"), // one bad message; the stream goes on
//!     }
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod bridge;
mod error;
pub mod pubsub;
mod room;
mod session;
mod status;

pub use tokio_xmpp::jid::BareJid;

pub use error::{ConfigError, Disconnect, Fatal, PublishError, RoomError, StreamError};
pub use room::config::{History, RoomConfig};
pub use room::publisher::{Publisher, PublisherBuilder};
pub use room::resume::{ResumePosition, RoomPosition};
pub use room::{ChangeStream, Client, ClientBuilder, RoomChange};
pub use session::account::{Account, Secret};
pub use session::options::{
    Backpressure, ReconnectPolicy, Tls, DEFAULT_PING_AFTER, DEFAULT_PING_TIMEOUT,
};
pub use status::{Connection, NodeState, RoomState, Status};

#[cfg(test)]
mod tests {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}

    #[test]
    fn streams_and_publishers_move_between_threads() {
        send_sync_unpin::<crate::ChangeStream>();
        send_sync_unpin::<crate::pubsub::NodeStream>();
        send_sync_unpin::<crate::Publisher>();
        send_sync_unpin::<crate::pubsub::NodePublisher>();
    }

    #[test]
    fn a_bad_configuration_or_no_runtime_is_an_error_not_a_panic() {
        use crate::{Client, ConfigError};
        let no_room = Client::anonymous("example.org").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = runtime.block_on(async { no_room.connect().err() });
        assert_eq!(err, Some(ConfigError::NoRooms));
        let builder = || {
            Client::anonymous("example.org")
                .unwrap()
                .room("wiki@conference.example.org", "bot")
                .unwrap()
        };
        assert_eq!(builder().connect().err(), Some(ConfigError::NoRuntime));
        let subscriber = crate::pubsub::Subscriber::anonymous("example.org")
            .unwrap()
            .node("pubsub.example.org", "wiki")
            .unwrap();
        assert_eq!(subscriber.connect().err(), Some(ConfigError::NoRuntime));
        let publisher = crate::Publisher::builder("bot@example.org", "pw")
            .unwrap()
            .room("wiki@conference.example.org", "bot")
            .unwrap();
        assert_eq!(publisher.start().err(), Some(ConfigError::NoRuntime));
    }

    #[test]
    fn error_items_stay_small() {
        assert!(
            std::mem::size_of::<crate::StreamError>() <= 128,
            "{}",
            std::mem::size_of::<crate::StreamError>()
        );
    }
}
