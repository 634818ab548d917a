//! The options the builders share, held once: how to reach the server and stay connected
//! ([`Transport`]: every builder), and how a stream hands its items to the consumer and
//! where it starts ([`StreamOptions`]: the room client and the PubSub subscriber).
//!
//! The builder methods that set them are written once as well, by
//! [`transport_options!`] and [`stream_options!`], so that every builder keeps plain
//! methods of its own (no trait to import) with the same names and documentation.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use recentchanges_core::Filter;

use super::account::Account;
use super::position::Resume;
use crate::error::ConfigError;

/// How to reconnect after the connection is lost: exponential backoff with jitter and a cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconnectPolicy {
    /// Delay before the first retry.
    pub initial: Duration,
    /// The delay never grows beyond this.
    pub max: Duration,
    /// Growth factor per failed attempt.
    pub factor: f64,
    /// Random share of the delay added or removed (0.0 to 1.0).
    pub jitter: f64,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(60),
            factor: 2.0,
            jitter: 0.2,
            max_attempts: None,
        }
    }
}

impl ReconnectPolicy {
    /// The delay before attempt `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let base =
            self.initial.as_secs_f64() * self.factor.powi(attempt.saturating_sub(1).min(64) as i32);
        let capped = base.min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let spread = if jitter > 0.0 {
            1.0 + rand::random_range(-jitter..=jitter)
        } else {
            1.0
        };
        Duration::from_secs_f64((capped * spread).max(0.0))
    }
}

/// How the connection is protected.
#[derive(Debug, Clone, Default)]
pub enum Tls {
    /// STARTTLS required, the server certificate verified against the system's roots and
    /// any extra roots given (PEM). The default.
    #[default]
    Required,
    /// STARTTLS required, verified against these extra PEM roots as well (e.g. a test CA).
    RequiredWithRoots(Vec<PathBuf>),
    /// No TLS at all. Allowed only to a loopback address, for tests.
    PlaintextLoopback,
}

/// What happens when the consumer reads slower than changes arrive and the buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backpressure {
    /// Stop reading from the server until there is room: nothing is lost, the server
    /// holds the rest (and may drop a client that stays stuck for long).
    #[default]
    Wait,
    /// Drop the oldest buffered item to make room, and count it in
    /// [`Status::dropped`](crate::Status::dropped).
    DropOldest,
}

/// How to reach the server and stay connected: everything a session is opened with.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub account: Account,
    /// Connect here instead of looking the domain up in DNS.
    pub server: Option<SocketAddr>,
    pub tls: Tls,
    pub reconnect: ReconnectPolicy,
    /// Silence after which the server is pinged.
    pub ping_interval: Duration,
    /// How long a ping may wait for its answer before the connection counts as dead.
    pub ping_timeout: Duration,
    /// How long a room's join, an archive page or a PubSub request may wait for its
    /// answer before the connection is replaced.
    pub request_timeout: Duration,
}

/// Silence after which the server is pinged, by default. A busy room is never silent
/// that long; a quiet one costs one ping per 15 s.
pub const DEFAULT_PING_AFTER: Duration = Duration::from_secs(15);

/// How long a ping may wait for its answer, by default. With [`DEFAULT_PING_AFTER`], a
/// connection that died without a word (a dropped link, a frozen server) is noticed
/// within 25 s and replaced.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(10);

impl Transport {
    /// The defaults: STARTTLS required, DNS, the default backoff, pings after 15 s of
    /// silence with 10 s to answer (a silently dead connection is replaced within 25 s).
    pub fn new(account: Account) -> Self {
        Transport {
            account,
            server: None,
            tls: Tls::Required,
            reconnect: ReconnectPolicy::default(),
            ping_interval: DEFAULT_PING_AFTER,
            ping_timeout: DEFAULT_PING_TIMEOUT,
            request_timeout: crate::session::waiting::REQUEST_TIMEOUT,
        }
    }

    /// Sets the server address, `host:port`.
    pub fn set_server(&mut self, addr: &str) -> Result<(), ConfigError> {
        let parsed: SocketAddr = addr.parse().map_err(|_| ConfigError::InvalidServer {
            addr: addr.to_owned(),
        })?;
        self.server = Some(parsed);
        Ok(())
    }

    /// Plaintext only to a loopback address.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Tls::PlaintextLoopback = self.tls {
            if !self.server.is_some_and(|a| a.ip().is_loopback()) {
                return Err(ConfigError::PlaintextNotLoopback);
            }
        }
        Ok(())
    }
}

/// What a stream (the room client's, the subscriber's) is opened with: the connection,
/// how items are handed to the consumer, and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct StreamOptions<P> {
    pub transport: Transport,
    pub delivery: Delivery,
    pub resume: Resume<P>,
}

impl<P: Default> StreamOptions<P> {
    /// The defaults, for this account.
    pub fn new(account: Account) -> Self {
        StreamOptions {
            transport: Transport::new(account),
            delivery: Delivery::default(),
            resume: Resume::default(),
        }
    }

    /// Plaintext only to a loopback address, a buffer of at least one item.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.transport.check()?;
        self.delivery.check()
    }
}

/// How a stream hands its items to the consumer.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// Items buffered for a slow consumer.
    pub buffer: usize,
    pub backpressure: Backpressure,
    pub filter: Filter,
    /// How many recent items are remembered to drop duplicates.
    pub dedup_window: usize,
}

impl Default for Delivery {
    /// A buffer of 10,000 items that waits when full, no filter, 100,000 items remembered.
    fn default() -> Self {
        Delivery {
            buffer: 10_000,
            backpressure: Backpressure::Wait,
            filter: Filter::new(),
            dedup_window: 100_000,
        }
    }
}

impl Delivery {
    /// The buffer holds at least one item.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.buffer == 0 {
            return Err(ConfigError::ZeroBuffer);
        }
        Ok(())
    }
}

/// The builder methods that set a [`Transport`]: `server`, `tls`, `reconnect`,
/// `keepalive`. `transport_options!(Builder => field.path)` names the builder and where
/// its `Transport` is.
macro_rules! transport_options {
    ($builder:ty => $($field:ident).+) => {
        /// How to reach the server and stay connected.
        impl $builder {
            /// Connects to this address instead of looking the domain up in DNS.
            pub fn server(mut self, addr: &str) -> Result<Self, $crate::ConfigError> {
                self.$($field).+.set_server(addr)?;
                Ok(self)
            }

            /// How the connection is protected (STARTTLS required by default).
            pub fn tls(mut self, tls: $crate::Tls) -> Self {
                self.$($field).+.tls = tls;
                self
            }

            /// How to reconnect.
            pub fn reconnect(mut self, policy: $crate::ReconnectPolicy) -> Self {
                self.$($field).+.reconnect = policy;
                self
            }

            /// Ping the server after `idle` of silence; the connection is dead if it does
            /// not answer within `timeout`: a connection that died without a word is
            /// noticed within `idle + timeout` (default 15 s + 10 s:
            /// [`DEFAULT_PING_AFTER`](crate::DEFAULT_PING_AFTER),
            /// [`DEFAULT_PING_TIMEOUT`](crate::DEFAULT_PING_TIMEOUT)) and replaced.
            pub fn keepalive(mut self, idle: ::std::time::Duration, timeout: ::std::time::Duration) -> Self {
                self.$($field).+.ping_interval = idle;
                self.$($field).+.ping_timeout = timeout;
                self
            }

            /// How long a request may wait for its answer (a room's disco#info and join,
            /// each archive page, a PubSub subscription or fetch; default 30 s): a server
            /// that keeps the connection up but lets a request drop gets a new connection
            /// ([`Disconnect::RequestTimeout`](crate::Disconnect::RequestTimeout)), and
            /// the rooms and nodes are rejoined from their positions.
            pub fn request_timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.$($field).+.request_timeout = timeout;
                self
            }
        }
    };
}

/// The builder methods that set a [`StreamOptions`]: `buffer`, `filter`, `dedup_window`,
/// `resume` and `resume_from_file` (its `transport` has [`transport_options!`]).
/// `stream_options!(Builder => field.path, Position, Stream, "by what")` names the
/// builder, where its options are, its position and stream types, and what a duplicate is
/// recognised by.
macro_rules! stream_options {
    ($builder:ty => $($field:ident).+, $position:ty, $stream:ident, $by:literal) => {
        /// How the stream hands its items to the consumer, and where it starts.
        impl $builder {
            /// Items buffered for a slow consumer, and what happens when the buffer is full.
            pub fn buffer(mut self, size: usize, policy: $crate::Backpressure) -> Self {
                self.$($field).+.delivery.buffer = size;
                self.$($field).+.delivery.backpressure = policy;
                self
            }

            /// Only yield changes this filter keeps (errors always come through).
            pub fn filter(mut self, filter: ::recentchanges_core::Filter) -> Self {
                self.$($field).+.delivery.filter = filter;
                self
            }

            #[doc = concat!("How many recent items are remembered to drop duplicates (", $by, ").")]
            pub fn dedup_window(mut self, items: usize) -> Self {
                self.$($field).+.delivery.dedup_window = items;
                self
            }

            /// Continues from a saved position.
            pub fn resume(mut self, position: $position) -> Self {
                self.$($field).+.resume.position = position;
                self
            }

            /// Continues from the position in this file (if it exists) and keeps it up to
            /// date: committed each time the consumer asks for the next item (the one
            /// before is handled then), and when the stream is closed or dropped.
            ///
            /// A process killed while handling an item (even with SIGKILL) continues with
            /// that item: it sees again at most the one it was handling. Commits are
            /// atomic writes, flushed to the disk at most once a second and on close, so a
            /// power loss may repeat up to the last second's items
            /// ([`Committer`](recentchanges_core::state::Committer)).
            pub fn resume_from_file(
                mut self,
                path: impl Into<::std::path::PathBuf>,
            ) -> Result<Self, $crate::ConfigError> {
                self.$($field).+.resume = $crate::session::position::Resume::from_file(path.into())?;
                Ok(self)
            }
        }
    };
}

pub(crate) use {stream_options, transport_options};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_bounded_jitter() {
        let p = ReconnectPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            factor: 2.0,
            jitter: 0.2,
            max_attempts: None,
        };
        for (attempt, expected) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (4, 8.0),
            (5, 10.0),
            (50, 10.0),
        ] {
            let d = p.delay(attempt).as_secs_f64();
            assert!(
                d >= expected * 0.8 - 1e-9 && d <= expected * 1.2 + 1e-9,
                "attempt {attempt}: {d}"
            );
        }
    }
}
