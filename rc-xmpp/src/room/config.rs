//! What the room client is told before it connects: its rooms and its policies.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_xmpp::jid::BareJid;

use super::resume::ResumePosition;
use crate::error::ConfigError;
use crate::session::account::{parse_jid, Account, Secret};
use crate::session::options::StreamOptions;

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
            self_ping_interval: Duration::from_secs(60),
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
