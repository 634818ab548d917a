//! `rc2udp`: the changes a [`Poller`] reads from a wiki's API, sent as XMLRC `<rc>`
//! elements (with `wikiid`) in UDP packets, the way the XMLRC extension sent them to its
//! UDP->XMPP bridge. For wikis without the extension or `$wgRCFeeds`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::error::Error;
use crate::poller::{Poller, Position};

/// The largest UDP payload.
pub const MAX_PACKET: usize = 65_507;

/// Counters of a [`Relay`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Packets sent.
    pub sent: u64,
    /// Changes too large for one UDP packet, skipped.
    pub too_large: u64,
    /// Rows of the API's answers that did not parse, skipped.
    pub invalid: u64,
}

/// Polls a wiki and sends each change to a UDP address; the poller's position is saved
/// in a state file after every page of changes, so a restarted relay continues where the
/// last one stopped (a change may be sent twice around a crash, never lost: consumers
/// drop duplicates by rcid).
///
/// ```no_run
/// use recentchanges_http::{Api, Poller, PollerConfig, relay::Relay};
///
/// # async fn run() -> Result<(), recentchanges_http::Error> {
/// let poller = Poller::new(Api::new("http://127.0.0.1:8080/api.php")?, PollerConfig::new("wikidb"));
/// let mut relay = Relay::new(poller, "127.0.0.1:9390".parse().unwrap(), Some("rc2udp.json".into())).await?;
/// relay.run(async { let _ = tokio::signal::ctrl_c().await; }).await
/// # }
/// ```
#[derive(Debug)]
pub struct Relay {
    poller: Poller,
    socket: UdpSocket,
    target: SocketAddr,
    state: Option<PathBuf>,
    gap: Duration,
    stats: RelayStats,
}

impl Relay {
    /// A relay from `poller` to `target`, resumed from (and saving to) `state` when given.
    pub async fn new(
        poller: Poller,
        target: SocketAddr,
        state: Option<PathBuf>,
    ) -> Result<Relay, Error> {
        let poller = match &state {
            Some(path) => {
                let pos = Position::load(path)?;
                if pos == Position::default() {
                    poller
                } else {
                    poller.resume(pos)
                }
            }
            None => poller,
        };
        let local: SocketAddr = if target.is_ipv4() {
            "0.0.0.0:0".parse().expect("an address")
        } else {
            "[::]:0".parse().expect("an address")
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| Error::Config(format!("UDP socket: {e}")))?;
        Ok(Relay {
            poller,
            socket,
            target,
            state,
            gap: Duration::from_micros(500),
            stats: RelayStats::default(),
        })
    }

    /// At most this many packets a second (default 2000), so that a burst of old changes
    /// does not overflow the receiver's socket buffer.
    pub fn rate(mut self, packets_per_second: u32) -> Self {
        self.gap = Duration::from_secs_f64(1.0 / f64::from(packets_per_second.max(1)));
        self
    }

    /// The poller (and its position).
    pub fn poller(&self) -> &Poller {
        &self.poller
    }

    /// The counters.
    pub fn stats(&self) -> RelayStats {
        self.stats
    }

    /// Polls until caught up, sending every change; returns how many were sent.
    pub async fn run_once(&mut self) -> Result<u64, Error> {
        let before = self.stats.sent;
        let mut next_at = Instant::now();
        for _ in 0..100_000 {
            let batch = self.poller.poll().await?;
            for item in batch {
                let rc = match item {
                    Ok(rc) => rc,
                    Err(e) => {
                        self.stats.invalid += 1;
                        tracing::warn!("skipping a change: {e}");
                        continue;
                    }
                };
                let xml = rc.to_rc_xml();
                if xml.len() > MAX_PACKET {
                    self.stats.too_large += 1;
                    tracing::warn!(rcid = ?rc.rcid, bytes = xml.len(), "change too large for UDP; skipped");
                    continue;
                }
                let now = Instant::now();
                if next_at > now + Duration::from_millis(2) {
                    tokio::time::sleep_until(next_at).await;
                }
                next_at = next_at.max(now) + self.gap;
                self.socket
                    .send_to(xml.as_bytes(), self.target)
                    .await
                    .map_err(|e| Error::Config(format!("UDP send to {}: {e}", self.target)))?;
                self.stats.sent += 1;
            }
            self.save()?;
            if self.poller.caught_up() {
                break;
            }
        }
        Ok(self.stats.sent - before)
    }

    /// Relays until `shutdown` completes, polling every [`PollerConfig::interval`]. A
    /// failed poll is logged and tried again at the next interval.
    ///
    /// [`PollerConfig::interval`]: crate::PollerConfig::interval
    pub async fn run(
        &mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), Error> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                r = self.run_once() => match r {
                    Ok(n) if n > 0 => tracing::info!(sent = n, total = self.stats.sent, "relayed"),
                    Ok(_) => {}
                    Err(e @ Error::Io { .. }) => return Err(e),
                    Err(e) => tracing::error!("poll failed: {e}"),
                },
                _ = &mut shutdown => break,
            }
            let interval = self.poller_interval();
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = &mut shutdown => break,
            }
        }
        // The position was saved after the last page sent in full; a page cut short by
        // the shutdown is sent again by the next relay.
        Ok(())
    }

    fn poller_interval(&self) -> Duration {
        self.poller.config().interval
    }

    fn save(&self) -> Result<(), Error> {
        match &self.state {
            Some(path) => self.poller.position().save(path),
            None => Ok(()),
        }
    }
}
