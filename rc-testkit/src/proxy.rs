//! A TCP proxy between a client under test and a real server, for the faults a real
//! server cannot be made to produce on loopback (a cut connection, a silently dead link),
//! and a record of what the client sent (the requests, as the server received them).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    sent: Arc<Mutex<Vec<u8>>>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards each connection to `upstream`.
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(Notify::new());
        let freeze = Arc::new(Notify::new());
        let sent = Arc::new(Mutex::new(Vec::new()));
        let (c, fr, rec) = (cut.clone(), freeze.clone(), sent.clone());
        tokio::spawn(async move {
            loop {
                let (inbound, _) = listener.accept().await.unwrap();
                let upstream = upstream.clone();
                let (c, fr, rec) = (c.clone(), fr.clone(), rec.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    let upward = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            match from_client.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    rec.lock().unwrap().extend_from_slice(&buf[..n]);
                                    if to_server.write_all(&buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    };
                    let downward = tokio::io::copy(&mut from_server, &mut to_client);
                    // Either side's end ends the connection (dropping both sockets).
                    tokio::select! {
                        _ = upward => {}
                        _ = downward => {}
                        _ = c.notified() => {} // dropping both sockets cuts the connection
                        _ = fr.notified() => {
                            // Keep both sockets open, carry nothing, for a while.
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                    }
                });
            }
        });
        Proxy {
            addr,
            cut,
            freeze,
            sent,
        }
    }

    /// Everything clients sent through the proxy so far (e.g. HTTP request lines), as text.
    pub fn sent(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().unwrap()).into_owned()
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
