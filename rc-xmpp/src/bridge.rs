//! The UDP to XMPP bridge of XMLRC (`udp2xmpp`): wikis send each change as a UDP packet
//! (`<rc>`, `<recentchange>` or JSON), the bridge posts it into the wiki's room.
//!
//! Packets wait in a bounded queue while the XMPP side is down; when it is full the oldest
//! is dropped and counted. A packet that is not a change, or whose wiki has no room, is
//! logged with the reason and counted, never dropped silently.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use recentchanges_core::RecentChange;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_xmpp::jid::BareJid;

use crate::session::options::Backpressure;
use crate::session::queue;
use crate::Publisher;

/// Where each wiki's changes go.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// Room per wiki id (`wikiid` / `wiki`).
    pub rooms: HashMap<String, BareJid>,
    /// Room for changes of other wikis, or without a wiki id.
    pub default: Option<BareJid>,
}

impl Routes {
    /// The room for a change.
    pub fn room_for(&self, rc: &RecentChange) -> Option<&BareJid> {
        rc.wiki
            .as_deref()
            .and_then(|w| self.rooms.get(w))
            .or(self.default.as_ref())
    }
}

/// Counters of a running bridge.
#[derive(Debug, Default)]
pub struct BridgeStats {
    received: AtomicU64,
    invalid: AtomicU64,
    unrouted: AtomicU64,
    dropped: AtomicU64,
    published: AtomicU64,
}

impl BridgeStats {
    /// Packets received.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
    /// Packets that were not a change.
    pub fn invalid(&self) -> u64 {
        self.invalid.load(Ordering::Relaxed)
    }
    /// Changes of a wiki without a room.
    pub fn unrouted(&self) -> u64 {
        self.unrouted.load(Ordering::Relaxed)
    }
    /// Changes dropped because the queue was full during an outage.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    /// Changes handed to the publisher.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

/// A running bridge.
pub struct Bridge {
    addr: SocketAddr,
    stats: Arc<BridgeStats>,
    tasks: Vec<JoinHandle<()>>,
}

impl Bridge {
    /// Listens on `listen` and posts through `publisher` (whose rooms must include the
    /// routes' rooms), queueing at most `queue` changes.
    pub async fn start(
        listen: SocketAddr,
        routes: Routes,
        mut publisher: Publisher,
        queue: usize,
    ) -> std::io::Result<Bridge> {
        let socket = UdpSocket::bind(listen).await?;
        let addr = socket.local_addr()?;
        let stats = Arc::new(BridgeStats::default());
        let (tx, mut rx) =
            queue::channel::<(BareJid, RecentChange)>(queue.max(1), Backpressure::DropOldest);
        let receiver = {
            let stats = stats.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                loop {
                    let (n, from) = match socket.recv_from(&mut buf).await {
                        Ok(x) => x,
                        Err(e) => {
                            tracing::error!("UDP receive failed: {e}");
                            continue;
                        }
                    };
                    stats.received.fetch_add(1, Ordering::Relaxed);
                    let rc = match recentchanges_core::parse(&buf[..n]) {
                        Ok(rc) => rc,
                        Err(e) => {
                            stats.invalid.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%from, "not a change: {e}");
                            continue;
                        }
                    };
                    let Some(room) = routes.room_for(&rc).cloned() else {
                        stats.unrouted.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%from, wiki = ?rc.wiki, rcid = ?rc.rcid, "no room for this wiki");
                        continue;
                    };
                    match tx.push((room, rc)).await {
                        Ok(None) => {}
                        Ok(Some(_)) => {
                            stats.dropped.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!("queue full: dropped the oldest change");
                        }
                        Err(queue::Closed) => return,
                    }
                }
            })
        };
        let sender = {
            let stats = stats.clone();
            tokio::spawn(async move {
                while let Some((room, rc)) =
                    std::future::poll_fn(|cx| Pin::new(&mut rx).poll_recv(cx)).await
                {
                    if let Err(e) = publisher.publish(&room, &rc).await {
                        tracing::error!("the publisher stopped: {e}");
                        return;
                    }
                    stats.published.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        tracing::info!(%addr, "bridge listening");
        Ok(Bridge {
            addr,
            stats,
            tasks: vec![receiver, sender],
        })
    }

    /// The UDP address the bridge listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<BridgeStats> {
        self.stats.clone()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
