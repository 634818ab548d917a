//! Errors: the ones that end a stream, and the ones a stream yields and goes on.

use tokio_xmpp::jid::BareJid;

/// A builder that cannot make a working client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No room to join.
    #[error("no room to join: add one with .room(jid, nick)")]
    NoRooms,
    /// No PubSub node to subscribe to.
    #[error("no node to subscribe to: add one with .node(service, node)")]
    NoNodes,
    /// Plaintext was allowed for a server that is not on loopback.
    #[error("plaintext connections are only allowed to a loopback server address (.server(\"127.0.0.1:port\"))")]
    PlaintextNotLoopback,
    /// A buffer of size zero.
    #[error("the buffer must hold at least one item")]
    ZeroBuffer,
    /// A JID that does not parse.
    #[error("invalid JID {jid:?}: {reason}")]
    InvalidJid {
        /// What was given.
        jid: String,
        /// Why it is not a JID.
        reason: String,
    },
    /// A server address that does not parse.
    #[error("invalid server address {addr:?}: expected host:port")]
    InvalidServer {
        /// What was given.
        addr: String,
    },
    /// Not called within a tokio runtime: the client's task has nowhere to run.
    #[error("no tokio runtime: start the client from within one (e.g. in #[tokio::main])")]
    NoRuntime,
    /// The resume file exists but cannot be read.
    #[error("cannot read the resume position from {path}: {reason}")]
    ResumeFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Why a room could not be joined or was left. The other rooms carry on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    /// The account is banned from the room.
    #[error("banned from the room")]
    Banned,
    /// The room only admits members.
    #[error("the room is members-only and this account is not a member")]
    MembersOnly,
    /// The room needs a password, or the one given is wrong.
    #[error("the room needs a password (or the one given is wrong)")]
    PasswordRequired,
    /// The room was destroyed.
    #[error("the room was destroyed{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Destroyed {
        /// The reason the owner gave.
        reason: Option<String>,
    },
    /// The room does not exist and cannot be created by this account.
    #[error("the room does not exist")]
    NotFound,
    /// Every nick tried was taken.
    #[error("every nick tried was taken (last: {last})")]
    NickConflict {
        /// The last nick tried.
        last: String,
    },
    /// Any other refusal, with the server's condition.
    #[error("the server refused the join: {condition}")]
    Refused {
        /// The stanza error condition.
        condition: String,
    },
}

/// An item of the change stream that is not a change. Every variant but
/// [`StreamError::Fatal`] leaves the stream running.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// A message carried an `<rc>` (or `<recentchange>`) payload that does not parse.
    #[error("bad change in {room}: {error}")]
    BadPayload {
        /// The room it was posted in.
        room: BareJid,
        /// The server's stanza id, if any.
        stanza_id: Option<String>,
        /// What is wrong with it.
        error: Box<recentchanges_core::ParseError>,
    },
    /// A message carried no change payload at all.
    #[error("message without a change payload in {room}: {body:?}")]
    NoPayload {
        /// The room it was posted in.
        room: BareJid,
        /// The start of its body, if it had one.
        body: Option<String>,
    },
    /// A stanza from the room that is not valid XMPP (the server let it through).
    #[error("invalid stanza from {room}: {reason}")]
    InvalidStanza {
        /// The room it came from.
        room: BareJid,
        /// What the XMPP parser said.
        reason: String,
    },
    /// A room could not be joined, or was lost for good.
    #[error("room {room}: {error}")]
    Room {
        /// The room.
        room: BareJid,
        /// Why.
        error: RoomError,
    },
    /// Changes of a room may be missing: its archive refused to replay what came after
    /// the position (the saved stanza id expired or the archive was wiped:
    /// `item-not-found`). What it still holds since the position's time follows this
    /// item; what was posted before its oldest message is lost. Counted in
    /// [`Status::gaps`](crate::Status::gaps).
    #[error("room {room}: changes may be missing{}: the archive refused the catch-up ({condition})", since.map(|t| format!(" since {}", t.to_rfc3339())).unwrap_or_default())]
    Gap {
        /// The room.
        room: BareJid,
        /// The time of the last change received before the gap, if known.
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// The archive's stanza error condition.
        condition: String,
    },
    /// The client stopped for good: wrong password, no usable TLS, retries exhausted.
    #[error("{0}")]
    Fatal(#[from] Fatal),
}

/// A publisher stopped for good: closed, or failed for this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the publisher has stopped: {0}")]
pub struct PublishError(pub String);

/// Why a client stopped for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Fatal {
    /// The server rejected the credentials.
    #[error("authentication failed for {account}: {condition}")]
    Auth {
        /// The account (never the password).
        account: String,
        /// The SASL condition, e.g. `not-authorized`.
        condition: String,
    },
    /// The server does not offer TLS while TLS is required.
    #[error("the server does not offer STARTTLS, and TLS is required")]
    NoTls,
    /// The server's certificate failed verification: not retried (it will not pass on the
    /// next attempt either, and a client that retries forever hides the problem).
    #[error("the TLS certificate of {server} was refused: {reason} (fix the server's certificate, or trust its CA with Tls::RequiredWithRoots)")]
    Certificate {
        /// The domain the certificate was checked for.
        server: String,
        /// What verification said, e.g. `UnknownIssuer`.
        reason: String,
    },
    /// Reconnection was given up after the policy's attempts.
    #[error("gave up after {attempts} failed connection attempts; last error: {last}")]
    RetriesExhausted {
        /// How many.
        attempts: u32,
        /// The last error.
        last: Disconnect,
    },
}

/// Why a connection was lost, or an attempt to connect failed: the client reconnects
/// with backoff (see [`Connection::Disconnected`](crate::Connection::Disconnected)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Disconnect {
    /// The network or the TLS layer failed (refused, reset, unreachable, handshake...).
    #[error("connection error: {0}")]
    Io(String),
    /// The server ended the stream with a stream error (RFC 6120 §4.9).
    #[error("stream error from the server: {condition}{}", text.as_deref().map(|t| format!(" ({t})")).unwrap_or_default())]
    StreamError {
        /// The defined condition, e.g. `system-shutdown`, `conflict`.
        condition: String,
        /// The server's text, if it gave one.
        text: Option<String>,
    },
    /// The server closed the stream.
    #[error("the server closed the stream")]
    ServerClosed,
    /// The server was silent for the keepalive time and did not answer the ping in
    /// time: the link is dead.
    #[error("the server did not answer the keepalive ping in time")]
    PingTimeout,
    /// A connection attempt gave no session within this time.
    #[error("no session within {0:?}")]
    ConnectTimeout(std::time::Duration),
    /// The server's answers while connecting made no session (stream features,
    /// resource binding, an element that does not parse...).
    #[error("{0}")]
    Protocol(String),
    /// The TLS setup could not be used (an unreadable CA file, a domain that is no TLS
    /// server name).
    #[error("{0}")]
    Tls(String),
    /// The server kept the connection up (it answered pings) but did not answer a
    /// request in time: a room's disco#info, its join, an archive page, a PubSub
    /// subscription or fetch. The connection is replaced, and the rooms and nodes
    /// rejoined from their positions.
    #[error("no answer to {what} within {after:?}")]
    RequestTimeout {
        /// The request, e.g. `the join of enwiki@conference.example.org`.
        what: String,
        /// How long it waited.
        after: std::time::Duration,
    },
}

impl From<std::io::Error> for Disconnect {
    /// A read that timed out after the keepalive ping is [`Disconnect::PingTimeout`];
    /// any other I/O error is [`Disconnect::Io`].
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::TimedOut => Disconnect::PingTimeout,
            _ => Disconnect::Io(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_timed_out_after_the_ping_is_a_ping_timeout() {
        let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "read timeout");
        assert_eq!(Disconnect::from(timed_out), Disconnect::PingTimeout);
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(matches!(Disconnect::from(reset), Disconnect::Io(m) if m.contains("reset")));
    }

    #[test]
    fn disconnect_reasons_read_as_before() {
        let stream = Disconnect::StreamError {
            condition: "system-shutdown".into(),
            text: Some("bye".into()),
        };
        assert_eq!(
            stream.to_string(),
            "stream error from the server: system-shutdown (bye)"
        );
        assert_eq!(
            Disconnect::ServerClosed.to_string(),
            "the server closed the stream"
        );
        let fatal = Fatal::RetriesExhausted {
            attempts: 3,
            last: Disconnect::PingTimeout,
        };
        assert!(fatal
            .to_string()
            .ends_with("the server did not answer the keepalive ping in time"));
    }
}
