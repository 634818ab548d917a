//! A TCP proxy between a client under test and a real server, for the faults a real
//! server cannot be made to produce on loopback: a cut connection, a silently dead link.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A TCP proxy the test controls: `cut()` drops every connection through it; `freeze()`
/// makes the current connections silently stop carrying bytes, like a dead link (a
/// fault a real server cannot be made to produce on loopback).
pub struct Proxy {
    /// The address to connect to instead of the upstream's.
    pub addr: String,
    cut: Arc<Notify>,
    freeze: Arc<Notify>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards each connection to `upstream`.
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(Notify::new());
        let freeze = Arc::new(Notify::new());
        let (c, fr) = (cut.clone(), freeze.clone());
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = listener.accept().await.unwrap();
                let upstream = upstream.clone();
                let (c, fr) = (c.clone(), fr.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = c.notified() => {} // dropping both sockets cuts the connection
                        _ = fr.notified() => {
                            // Keep both sockets open, carry nothing, for a while.
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                    }
                });
            }
        });
        Proxy { addr, cut, freeze }
    }

    /// Drops every connection open now (new ones go through).
    pub fn cut(&self) {
        self.cut.notify_waiters();
    }

    /// Makes every connection open now carry nothing for 30 s, both sockets kept open.
    pub fn freeze(&self) {
        self.freeze.notify_waiters();
    }
}
