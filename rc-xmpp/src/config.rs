//! What a client is told before it connects: account, rooms, and its policies.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_xmpp::jid::BareJid;

use crate::error::ConfigError;
use crate::options::StreamOptions;
use crate::resume::ResumePosition;

/// A password that never shows in logs, `Debug` output or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Who the client logs in as.
#[derive(Debug, Clone)]
pub enum Account {
    /// A registered account: SCRAM or PLAIN with this password.
    Password {
        /// The account's bare JID.
        jid: BareJid,
        /// Its password.
        password: Secret,
    },
    /// SASL ANONYMOUS on a domain that allows it (public relays often do).
    Anonymous {
        /// The anonymous domain, e.g. `anon.example.org`.
        domain: BareJid,
    },
}

impl Account {
    /// A registered account.
    pub(crate) fn password(jid: &str, password: impl Into<String>) -> Result<Self, ConfigError> {
        Ok(Account::Password {
            jid: parse_jid(jid)?,
            password: Secret::new(password),
        })
    }

    /// SASL ANONYMOUS on `domain`.
    pub(crate) fn anonymous(domain: &str) -> Result<Self, ConfigError> {
        Ok(Account::Anonymous {
            domain: parse_jid(domain)?,
        })
    }

    pub(crate) fn domain(&self) -> &str {
        match self {
            Account::Password { jid, .. } => jid.domain().as_str(),
            Account::Anonymous { domain } => domain.domain().as_str(),
        }
    }
}

/// One room to join, as whom.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// The room's bare JID, e.g. `enwiki@conference.example.org`.
    pub jid: BareJid,
    /// The nick to join with; on a conflict `nick_2`, `nick_3`... are tried.
    pub nick: String,
    /// The room password, if it has one.
    pub password: Option<Secret>,
}

impl RoomConfig {
    /// A room the user named, to join as `nick`.
    pub(crate) fn new(
        room: &str,
        nick: &str,
        password: Option<Secret>,
    ) -> Result<Self, ConfigError> {
        Ok(RoomConfig {
            jid: parse_jid(room)?,
            nick: nick.to_owned(),
            password,
        })
    }
}

/// What to ask the room for on a first join, when there is no resume position for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum History {
    /// Only changes from now on.
    #[default]
    None,
    /// The last `n` messages the room kept.
    Last(u32),
    /// Every message since this time that the room kept.
    Since(DateTime<Utc>),
}

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

/// Everything the room client needs; built by [`ClientBuilder`](crate::ClientBuilder).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub stream: StreamOptions<ResumePosition>,
    pub rooms: Vec<RoomConfig>,
    pub history: History,
    pub self_ping_interval: Duration,
    pub rejoin_delay: Duration,
    /// Added to this machine's clock (a test hook: a client clock that runs ahead or
    /// behind the server's).
    pub local_clock_offset: chrono::TimeDelta,
}

impl Config {
    /// The room client's defaults (see [`ClientBuilder`](crate::ClientBuilder)).
    pub(crate) fn new(account: Account) -> Self {
        Config {
            stream: StreamOptions::new(account),
            rooms: Vec::new(),
            history: History::None,
            self_ping_interval: Duration::from_secs(300),
            rejoin_delay: Duration::from_secs(5),
            local_clock_offset: chrono::TimeDelta::zero(),
        }
    }

    /// At least one room, and stream options that can work.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.rooms.is_empty() {
            return Err(ConfigError::NoRooms);
        }
        self.stream.check()
    }
}

impl AsRef<StreamOptions<ResumePosition>> for Config {
    fn as_ref(&self) -> &StreamOptions<ResumePosition> {
        &self.stream
    }
}

/// A JID the user gave.
pub(crate) fn parse_jid(s: &str) -> Result<BareJid, ConfigError> {
    s.parse()
        .map_err(|e: tokio_xmpp::jid::Error| ConfigError::InvalidJid {
            jid: s.to_owned(),
            reason: e.to_string(),
        })
}

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

    #[test]
    fn secrets_do_not_print() {
        let account = Account::Password {
            jid: "bot@example.org".parse().unwrap(),
            password: Secret::new("hunter2"),
        };
        let shown = format!("{account:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Secret(***)"));
    }
}
