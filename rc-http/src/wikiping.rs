//! A WikiPing listener: wikis announce their changes with an XML-RPC `wiki.ping` call, and
//! each ping becomes a [`RecentChange`].
//!
//! WikiPing (recentchanges.net, after weblogs.com's `weblogUpdates.ping`) posts one
//! struct with named members, names compared case-insensitively:
//!
//! | member | in the change | required here |
//! |---|---|---|
//! | `wiki` | `wiki` | yes ("wiki name required", the spec's own message) |
//! | `tag` (the page name) | `title` | yes ("tag required") |
//! | `url` (the page) | `url` | yes ("url required") |
//! | `author` | `user` | no |
//! | `changelog` | `comment` | no |
//! | `interwikiname`, `history`, `authorpage`, any other | `extra`, by wire name | no |
//!
//! The spec's table of required fields is lost; it names `wiki` as required. A ping
//! without the page's name (`tag`) or link (`url`) says nothing a reader can use, so both
//! are required too. An empty value counts as missing.
//!
//! Answers: a good ping gets the spec's `{error: false, message}` struct; a ping missing a
//! required member gets the spec's `{error: true, message: "wiki name required"}` (a
//! normal response, not a fault); a body that is not an XML-RPC call, a method other than
//! `wiki.ping` or parameters other than one struct get an XML-RPC fault. Each refused
//! request is also an `Err` item of the stream, and the listener goes on.
//!
//! The change's `timestamp` is when the ping was received (pings carry no time); its
//! `kind` is [`Kind::Edit`] (pings do not say more).
//!
//! # Hostile peers
//!
//! The listener may face the open Internet. With [`PingConfig`]'s defaults:
//!
//! - a request's head (start line and headers, at most 16 KiB, else 431) must arrive within
//!   10 s of the connection opening (or of the previous answer on a kept-alive connection),
//!   and its body within 10 s of the head; otherwise the connection is closed (a late body
//!   is answered 408);
//! - a body over 64 KiB is answered 413 (at once when `Content-Length` says so);
//! - at most 256 connections are open. When a new one arrives and all are taken, the
//!   connection that has waited longest for (the rest of) its request is closed to make
//!   room; only when every open connection holds a complete request waiting for the
//!   consumer is the new one refused (503);
//! - with [`PingConfig::allow`], connections from other addresses are closed at accept;
//! - valid pings and refusals have separate buffers. A valid ping waits for room (the
//!   HTTP answer is held back: backpressure, no loss); a refusal is never waited for: when
//!   its buffer is full it is dropped and counted ([`PingStats::errors_dropped`]). The
//!   stream yields buffered valid pings before buffered refusals, so junk never queues in
//!   front of a ping.
//!
//! Why shed the oldest instead of refusing new connections: with refusal, anyone who holds
//! `max_connections` slow connections (and reopens each one as it times out) locks every
//! wiki out for as long as they like, at the cost of a few hundred idle sockets. With
//! shedding, a valid ping is the newest connection waiting for its request, so it is the
//! last to be shed: to push it out an attacker must open `max_connections` further
//! connections in the few milliseconds the ping takes to send its request, and once its
//! request is read it is never shed. A connection whose request is complete (and may be a
//! valid ping waiting for the consumer) is never closed; with all of them in that state the
//! listener is full of real work, and refusing is the right backpressure.
//!
//! [`PingListener::stats`] counts what was accepted, refused, shed and dropped.
//!
//! ```no_run
//! use futures::StreamExt;
//! # async fn run() -> Result<(), recentchanges_http::wikiping::PingError> {
//! let mut pings = recentchanges_http::wikiping::PingListener::bind("127.0.0.1:8099").await?;
//! println!("POST wiki.ping to http://{}/", pings.local_addr());
//! while let Some(item) = pings.next().await {
//!     match item {
//!         Ok(rc) => println!("{}: {} by {}", rc.wiki.as_deref().unwrap_or("?"), rc.title_or("?"), rc.user_or("?")),
//!         Err(e) => eprintln!("refused: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{header, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::Stream;
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use recentchanges_core::{Kind, RecentChange};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use crate::wikirpc::xmlrpc::{self, Value};

/// The largest request head (start line and headers) taken; larger ones are answered 431.
pub const MAX_HEAD: usize = 16 * 1024;

/// Why a ping was refused, or the listener could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PingError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The body was not an XML-RPC method call (answered with fault -32700), or the
    /// request was not HTTP/1 (answered 400 or 431 by the HTTP layer).
    #[error("ping from {peer}: not an XML-RPC call: {reason}")]
    Malformed {
        /// Who sent it.
        peer: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// A method other than `wiki.ping` was called (answered with fault -32601).
    #[error("ping from {peer}: unknown method {method:?} (only wiki.ping)")]
    UnknownMethod {
        /// Who sent it.
        peer: SocketAddr,
        /// The method called.
        method: String,
    },
    /// `wiki.ping` was called with other parameters than one struct of strings (answered
    /// with fault -32602).
    #[error("ping from {peer}: invalid parameters: {reason}")]
    InvalidParams {
        /// Who sent it.
        peer: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// A required member was missing or empty (answered with the spec's error struct).
    #[error("ping from {peer}: {message}")]
    MissingField {
        /// Who sent it.
        peer: SocketAddr,
        /// The member: `wiki`, `tag` or `url`.
        field: &'static str,
        /// The message answered, e.g. "wiki name required".
        message: &'static str,
    },
    /// The peer's address is not on [`PingConfig::allow`]: its connection was closed at
    /// accept, unanswered.
    #[error("connection from {peer} refused: not on the allow-list")]
    NotAllowed {
        /// Who connected.
        peer: SocketAddr,
    },
    /// The body was larger than [`PingConfig::max_body`] (answered HTTP 413, connection
    /// closed).
    #[error("ping from {peer}: request body larger than {limit} bytes (answered 413)")]
    TooLarge {
        /// Who sent it.
        peer: SocketAddr,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The request's head or body did not arrive in time ([`PingConfig::header_timeout`],
    /// [`PingConfig::body_timeout`]); the connection was closed.
    #[error(
        "ping from {peer}: the request {part} did not arrive within {after:?}; connection closed"
    )]
    TimedOut {
        /// Who was slow.
        peer: SocketAddr,
        /// `"head"` or `"body"`.
        part: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The connection was closed to make room for a new one: all
    /// [`PingConfig::max_connections`] were open and this one had waited longest for its
    /// request.
    #[error("connection from {peer} closed to make room: {open} connections open, this one waited longest for its request")]
    Shed {
        /// Whose connection was closed.
        peer: SocketAddr,
        /// The connections open (the cap).
        open: usize,
    },
    /// A new connection was refused (answered 503): every one of the
    /// [`PingConfig::max_connections`] open connections holds a complete request waiting
    /// for the consumer.
    #[error("connection from {peer} refused: all {open} connections hold requests waiting for the consumer (answered 503)")]
    Busy {
        /// Who connected.
        peer: SocketAddr,
        /// The connections open (the cap).
        open: usize,
    },
}

/// The members a ping must have, with the message answered when one is missing.
pub const REQUIRED: [(&str, &str); 3] = [
    ("wiki", "wiki name required"),
    ("tag", "tag required"),
    ("url", "url required"),
];

/// Settings of a [`PingListener`]; see the [module](self) on hostile peers.
///
/// ```
/// use std::time::Duration;
/// let cfg = recentchanges_http::wikiping::PingConfig::default().capacity(16);
/// assert_eq!(cfg.capacity, 16);
/// assert_eq!(cfg.error_capacity, 64);
/// assert_eq!(cfg.max_body, 64 * 1024);
/// assert_eq!(cfg.header_timeout, Duration::from_secs(10));
/// assert_eq!(cfg.body_timeout, Duration::from_secs(10));
/// assert_eq!(cfg.max_connections, 256);
/// assert_eq!(cfg.allow, None);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PingConfig {
    /// Valid pings buffered for the consumer (default 1024). When it is full, requests wait
    /// for room before they are answered: a slow consumer slows the pinging wikis down
    /// (backpressure), and no ping is dropped.
    pub capacity: usize,
    /// Refusals (`Err` items) buffered for the consumer (default 64). They never wait:
    /// when the buffer is full a refusal is dropped and counted
    /// ([`PingStats::errors_dropped`]), so junk cannot hold a connection or delay a ping.
    pub error_capacity: usize,
    /// The largest request body taken, in bytes (default 64 KiB; larger ones are answered
    /// HTTP 413).
    pub max_body: usize,
    /// How long a request's head may take to arrive, from the connection's opening or the
    /// previous answer (default 10 s); then the connection is closed.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive after its head (default 10 s); then it
    /// is answered 408 and the connection closed.
    pub body_timeout: Duration,
    /// The most connections open at once (default 256). A new connection beyond it closes
    /// the one that has waited longest for its request, or is refused (503) when every
    /// open connection holds a complete request.
    pub max_connections: usize,
    /// When set, only connections from these addresses are served; others are closed at
    /// accept (default `None`: any address). IPv4-mapped IPv6 addresses count as IPv4.
    pub allow: Option<Vec<IpAddr>>,
    /// The message of a success answer.
    pub message: String,
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            capacity: 1024,
            error_capacity: 64,
            max_body: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 256,
            allow: None,
            message: "Thanks for the ping".into(),
        }
    }
}

impl PingConfig {
    /// Valid pings buffered for the consumer (at least 1).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Refusals buffered for the consumer (at least 1).
    pub fn error_capacity(mut self, capacity: usize) -> Self {
        self.error_capacity = capacity.max(1);
        self
    }

    /// The largest request body taken.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How long a request's head may take (at least 1 ms).
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// How long a request's body may take after its head (at least 1 ms).
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The most connections open at once (at least 1).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Serve only these peer addresses.
    pub fn allow(mut self, peers: impl IntoIterator<Item = IpAddr>) -> Self {
        self.allow = Some(peers.into_iter().collect());
        self
    }

    /// The message of a success answer.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

/// What a [`PingListener`] has seen since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PingStats {
    /// Connections open now.
    pub open: usize,
    /// Connections accepted (allowed or not).
    pub accepted: u64,
    /// Connections closed at accept: not on the allow-list.
    pub not_allowed: u64,
    /// Connections closed to make room for a new one.
    pub shed: u64,
    /// Connections refused (503) because every open one held a waiting request.
    pub busy: u64,
    /// Connections closed because a request's head or body was late.
    pub timed_out: u64,
    /// Requests answered 413.
    pub too_large: u64,
    /// Refusals not delivered because their buffer was full.
    pub errors_dropped: u64,
}

/// Listens for WikiPing `wiki.ping` XML-RPC calls (HTTP POST, any path) and yields each
/// as a `Result<RecentChange, PingError>`: valid pings in the order they were received,
/// refusals in theirs, valid pings first when both are waiting. It stops serving (and
/// closes every connection) when dropped.
pub struct PingListener {
    addr: SocketAddr,
    pings: mpsc::Receiver<RecentChange>,
    pings_done: bool,
    errors: mpsc::Receiver<PingError>,
    registry: Arc<Registry>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for PingListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PingListener")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A connection's state: the tick at which it began waiting for a request (smaller is
/// older), or one of these.
const BUSY: u64 = u64::MAX;
const SHED: u64 = u64::MAX - 1;

/// The open connections and the counters, shared by the accept loop, the connections
/// and the [`PingListener`].
#[derive(Default)]
struct Registry {
    conns: Mutex<Conns>,
    ticks: AtomicU64,
    accepted: AtomicU64,
    not_allowed: AtomicU64,
    shed: AtomicU64,
    busy: AtomicU64,
    timed_out: AtomicU64,
    too_large: AtomicU64,
    errors_dropped: AtomicU64,
}

#[derive(Default)]
struct Conns {
    next_id: u64,
    open: HashMap<u64, Slot>,
}

struct Slot {
    peer: SocketAddr,
    state: Arc<AtomicU64>,
    abort: AbortHandle,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Conns> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tick(&self) -> u64 {
        self.ticks.fetch_add(1, Ordering::Relaxed)
    }
}

impl Conns {
    /// Closes the connection that has waited longest for its request and returns its
    /// peer; `None` when every open connection holds a request being handled.
    fn shed_oldest(&mut self) -> Option<SocketAddr> {
        loop {
            let (id, since) = self
                .open
                .iter()
                .filter_map(|(id, slot)| {
                    let since = slot.state.load(Ordering::Acquire);
                    (since < SHED).then_some((*id, since))
                })
                .min_by_key(|&(id, since)| (since, id))?;
            let slot = &self.open[&id];
            // Lost only to the connection turning busy meanwhile: then look again.
            if slot
                .state
                .compare_exchange(since, SHED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let slot = self.open.remove(&id)?;
                slot.abort.abort();
                return Some(slot.peer);
            }
        }
    }
}

/// What the accept loop and the connections share.
struct Shared {
    pings: mpsc::Sender<RecentChange>,
    errors: mpsc::Sender<PingError>,
    registry: Arc<Registry>,
    message: String,
    max_body: usize,
    header_timeout: Duration,
    body_timeout: Duration,
    max_connections: usize,
    allow: Option<Vec<IpAddr>>,
}

impl Shared {
    /// Hands a refusal to the consumer without waiting; counted when its buffer is full.
    fn report(&self, e: PingError) {
        tracing::debug!("WikiPing: {e}");
        if let Err(mpsc::error::TrySendError::Full(_)) = self.errors.try_send(e) {
            self.registry.errors_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One connection, as its requests see it.
struct Conn {
    peer: SocketAddr,
    state: Arc<AtomicU64>,
    /// Requests whose head arrived.
    requests: AtomicU64,
}

impl Conn {
    /// Marks the connection busy (its request is complete: never shed from now on);
    /// false if it was shed first.
    fn begin(&self) -> bool {
        let since = self.state.load(Ordering::Acquire);
        since < SHED
            && self
                .state
                .compare_exchange(since, BUSY, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }
}

/// Removes a connection from the registry when its task ends (or is aborted).
struct Gone {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Gone {
    fn drop(&mut self) {
        self.registry.lock().open.remove(&self.id);
    }
}

/// The answer to a connection refused because all are busy.
const BUSY_ANSWER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Type: text/plain\r\nContent-Length: 38\r\n\r\nWikiPing: too many pings waiting now\r\n";

impl PingListener {
    /// Listens on `addr` (e.g. `127.0.0.1:0` for any free port) with [`PingConfig::default`].
    pub async fn bind(
        addr: impl ToSocketAddrs + std::fmt::Display,
    ) -> Result<PingListener, PingError> {
        PingListener::bind_with(addr, PingConfig::default()).await
    }

    /// Listens on `addr` with `cfg`.
    pub async fn bind_with(
        addr: impl ToSocketAddrs + std::fmt::Display,
        cfg: PingConfig,
    ) -> Result<PingListener, PingError> {
        let shown = addr.to_string();
        let bind_err = |source| PingError::Bind {
            addr: shown.clone(),
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
        let local = listener.local_addr().map_err(bind_err)?;
        let (pings_tx, pings) = mpsc::channel(cfg.capacity.max(1));
        let (errors_tx, errors) = mpsc::channel(cfg.error_capacity.max(1));
        let registry = Arc::new(Registry::default());
        let least = Duration::from_millis(1);
        let shared = Arc::new(Shared {
            pings: pings_tx,
            errors: errors_tx,
            registry: registry.clone(),
            message: cfg.message,
            max_body: cfg.max_body,
            header_timeout: cfg.header_timeout.max(least),
            body_timeout: cfg.body_timeout.max(least),
            max_connections: cfg.max_connections.max(1),
            allow: cfg
                .allow
                .map(|ips| ips.into_iter().map(|ip| ip.to_canonical()).collect()),
        });
        let task = tokio::spawn(accept_loop(listener, shared));
        tracing::info!(addr = %local, "WikiPing listener ready");
        Ok(PingListener {
            addr: local,
            pings,
            pings_done: false,
            errors,
            registry,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters since the listener started.
    pub fn stats(&self) -> PingStats {
        let r = &self.registry;
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PingStats {
            open: r.lock().open.len(),
            accepted: n(&r.accepted),
            not_allowed: n(&r.not_allowed),
            shed: n(&r.shed),
            busy: n(&r.busy),
            timed_out: n(&r.timed_out),
            too_large: n(&r.too_large),
            errors_dropped: n(&r.errors_dropped),
        }
    }

    /// The next ping (or refused request); `None` only if the server task ended.
    pub async fn next(&mut self) -> Option<Result<RecentChange, PingError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for PingListener {
    type Item = Result<RecentChange, PingError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if !this.pings_done {
            match this.pings.poll_recv(cx) {
                Poll::Ready(Some(rc)) => return Poll::Ready(Some(Ok(rc))),
                Poll::Ready(None) => this.pings_done = true,
                Poll::Pending => {}
            }
        }
        match this.errors.poll_recv(cx) {
            Poll::Ready(Some(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) if this.pings_done => Poll::Ready(None),
            _ => Poll::Pending,
        }
    }
}

impl Drop for PingListener {
    fn drop(&mut self) {
        self.task.abort();
        for slot in self.registry.lock().open.values() {
            slot.abort.abort();
        }
    }
}

/// Out of file descriptors (EMFILE, ENFILE): closing a connection makes room.
fn out_of_descriptors(e: &std::io::Error) -> bool {
    cfg!(unix) && matches!(e.raw_os_error(), Some(23 | 24))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(shared.header_timeout)
        .max_header_size(MAX_HEAD)
        .max_buf_size(4 * MAX_HEAD);
    let registry = &shared.registry;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("WikiPing listener: accept failed: {e}");
                if out_of_descriptors(&e) {
                    let shed = registry.lock().shed_oldest();
                    if let Some(old) = shed {
                        registry.shed.fetch_add(1, Ordering::Relaxed);
                        let open = shared.max_connections;
                        shared.report(PingError::Shed { peer: old, open });
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        registry.accepted.fetch_add(1, Ordering::Relaxed);
        if let Some(allow) = &shared.allow {
            if !allow.contains(&peer.ip().to_canonical()) {
                registry.not_allowed.fetch_add(1, Ordering::Relaxed);
                drop(stream);
                shared.report(PingError::NotAllowed { peer });
                continue;
            }
        }
        admit(&shared, &http, stream, peer);
    }
}

/// Serves a new connection, closing the oldest one still waiting for its request when all
/// are taken, or refuses it when every open one holds a request being handled.
fn admit(shared: &Arc<Shared>, http: &http1::Builder, stream: TcpStream, peer: SocketAddr) {
    let registry = &shared.registry;
    let open = shared.max_connections;
    let mut conns = registry.lock();
    if conns.open.len() >= open {
        match conns.shed_oldest() {
            Some(old) => {
                registry.shed.fetch_add(1, Ordering::Relaxed);
                shared.report(PingError::Shed { peer: old, open });
            }
            None => {
                drop(conns);
                registry.busy.fetch_add(1, Ordering::Relaxed);
                // A fresh socket's send buffer takes this at once; if not, closing says enough.
                let _ = stream.try_write(BUSY_ANSWER);
                drop(stream);
                shared.report(PingError::Busy { peer, open });
                return;
            }
        }
    }
    let id = conns.next_id;
    conns.next_id += 1;
    let state = Arc::new(AtomicU64::new(registry.tick()));
    let conn = Arc::new(Conn {
        peer,
        state: state.clone(),
        requests: AtomicU64::new(0),
    });
    // Spawned under the lock, so that the task's `Gone` cannot run before the slot exists.
    let task = tokio::spawn(serve(shared.clone(), http.clone(), stream, conn, id));
    conns.open.insert(
        id,
        Slot {
            peer,
            state,
            abort: task.abort_handle(),
        },
    );
}

async fn serve(
    shared: Arc<Shared>,
    http: http1::Builder,
    stream: TcpStream,
    conn: Arc<Conn>,
    id: u64,
) {
    let _gone = Gone {
        registry: shared.registry.clone(),
        id,
    };
    let peer = conn.peer;
    let service = {
        let (shared, conn) = (shared.clone(), conn.clone());
        hyper::service::service_fn(move |req| handle(shared.clone(), conn.clone(), req))
    };
    if let Err(e) = http.serve_connection(TokioIo::new(stream), service).await {
        if e.is_timeout() && conn.requests.load(Ordering::Relaxed) > 0 {
            // Most likely a kept-alive connection left idle after its pings.
            tracing::debug!(%peer, "WikiPing: no further request within the header timeout");
        } else if e.is_timeout() {
            shared.registry.timed_out.fetch_add(1, Ordering::Relaxed);
            shared.report(PingError::TimedOut {
                peer,
                part: "head",
                after: shared.header_timeout,
            });
        } else if e.is_parse() || e.is_parse_too_large() {
            shared.report(PingError::Malformed {
                peer,
                reason: format!("not an HTTP/1 request: {e}"),
            });
        } else {
            tracing::debug!(%peer, "WikiPing connection ended: {e}");
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    req: Request<Incoming>,
) -> Result<Response, Infallible> {
    conn.requests.fetch_add(1, Ordering::Relaxed);
    let answer = if req.method() == Method::POST {
        exchange(&shared, &conn, req).await
    } else {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "WikiPing: POST a wiki.ping XML-RPC call\n",
        )
            .into_response()
    };
    // Waiting for the next request from now on (a kept-alive connection).
    let _ = conn
        .state
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
            (s != SHED).then(|| shared.registry.tick())
        });
    Ok(answer)
}

enum BodyError {
    TooLarge,
    Read(hyper::Error),
}

/// Reads a body of at most `limit` bytes.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut buf = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame.map_err(BodyError::Read)?.into_data() {
            if data.len() > limit - buf.len() {
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf)
}

/// A plain-text answer after which the connection is closed.
fn closing(status: StatusCode, text: String) -> Response {
    (status, [(header::CONNECTION, "close")], text).into_response()
}

/// Reads a POST's body (within the limits), hands its item over and answers it.
async fn exchange(shared: &Shared, conn: &Conn, req: Request<Incoming>) -> Response {
    let peer = conn.peer;
    let limit = shared.max_body;
    let too_large = || {
        shared.registry.too_large.fetch_add(1, Ordering::Relaxed);
        shared.report(PingError::TooLarge { peer, limit });
        closing(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("WikiPing: request body larger than {limit} bytes\n"),
        )
    };
    let declared = req.body().size_hint().exact();
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let read = tokio::time::timeout(shared.body_timeout, read_body(req.into_body(), limit));
    let body = match read.await {
        Ok(Ok(body)) => body,
        Ok(Err(BodyError::TooLarge)) => return too_large(),
        Ok(Err(BodyError::Read(e))) => {
            tracing::debug!(%peer, "WikiPing: request body unreadable: {e}");
            return closing(
                StatusCode::BAD_REQUEST,
                format!("WikiPing: request body unreadable: {e}\n"),
            );
        }
        Err(_) => {
            shared.registry.timed_out.fetch_add(1, Ordering::Relaxed);
            let after = shared.body_timeout;
            shared.report(PingError::TimedOut {
                peer,
                part: "body",
                after,
            });
            return closing(
                StatusCode::REQUEST_TIMEOUT,
                format!("WikiPing: request body not complete within {after:?}\n"),
            );
        }
    };
    if !conn.begin() {
        // Shed while its last bytes arrived; its task is being aborted.
        return closing(StatusCode::SERVICE_UNAVAILABLE, String::new());
    }
    let (item, answer) = read_ping(peer, &body, &shared.message);
    match item {
        Ok(rc) => {
            if shared.pings.send(rc).await.is_err() {
                return closing(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the listener is shutting down".into(),
                );
            }
        }
        Err(e) => shared.report(e),
    }
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], answer).into_response()
}

/// The item a request yields and the XML-RPC answer to it.
fn read_ping(
    peer: SocketAddr,
    body: &[u8],
    ok_message: &str,
) -> (Result<RecentChange, PingError>, String) {
    let malformed = |reason: String| {
        let answer = xmlrpc::write_fault(-32700, &format!("parse error: {reason}"));
        (Err(PingError::Malformed { peer, reason }), answer)
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return malformed("the body is not UTF-8".into());
    };
    let call = match xmlrpc::read_call(text) {
        Ok(c) => c,
        Err(reason) => return malformed(reason),
    };
    if call.method != "wiki.ping" {
        let answer = xmlrpc::write_fault(-32601, &format!("method {} not found", call.method));
        return (
            Err(PingError::UnknownMethod {
                peer,
                method: call.method,
            }),
            answer,
        );
    }
    let invalid = |reason: String| {
        let answer = xmlrpc::write_fault(-32602, &format!("invalid parameters: {reason}"));
        (Err(PingError::InvalidParams { peer, reason }), answer)
    };
    let members = match call.params.as_slice() {
        [Value::Struct(m)] => m,
        [other] => return invalid(format!("a {} instead of a struct", other.type_name())),
        ps => return invalid(format!("{} parameters instead of one struct", ps.len())),
    };
    let mut rc = RecentChange::new(Kind::Edit);
    rc.timestamp = Some(Utc::now());
    for (name, value) in members {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            other => {
                return invalid(format!(
                    "member {name:?} is a {}, not a string",
                    other.type_name()
                ))
            }
        };
        let slot = match name.to_ascii_lowercase().as_str() {
            "wiki" => &mut rc.wiki,
            "tag" => &mut rc.title,
            "url" => &mut rc.url,
            "author" => &mut rc.user,
            "changelog" => &mut rc.comment,
            "interwikiname" | "history" | "authorpage" => {
                let key = name.to_ascii_lowercase();
                rc.extra
                    .entry(key)
                    .or_insert(serde_json::Value::String(text));
                continue;
            }
            _ => {
                rc.extra
                    .insert(name.clone(), serde_json::Value::String(text));
                continue;
            }
        };
        if slot.is_none() && !text.trim().is_empty() {
            *slot = Some(text);
        } else {
            // Empty, or the same member again in other cases (the first counts): kept.
            rc.extra
                .insert(name.clone(), serde_json::Value::String(text));
        }
    }
    for (field, message) in REQUIRED {
        let present = match field {
            "wiki" => rc.wiki.is_some(),
            "tag" => rc.title.is_some(),
            _ => rc.url.is_some(),
        };
        if !present {
            let answer = answer_struct(true, message);
            return (
                Err(PingError::MissingField {
                    peer,
                    field,
                    message,
                }),
                answer,
            );
        }
    }
    tracing::debug!(%peer, wiki = ?rc.wiki, page = ?rc.title, "ping");
    (Ok(rc), answer_struct(false, ok_message))
}

/// The spec's answer: `{error: boolean, message: string}`.
fn answer_struct(error: bool, message: &str) -> String {
    xmlrpc::write_response(&Value::Struct(vec![
        ("error".into(), Value::Bool(error)),
        ("message".into(), Value::from(message)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    fn ping(members: &[(&str, &str)]) -> String {
        let s = Value::Struct(
            members
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect(),
        );
        xmlrpc::write_call("wiki.ping", &[s])
    }

    #[test]
    fn names_are_case_insensitive_and_the_first_counts() {
        let body = ping(&[
            ("WIKI", "w"),
            ("Tag", "Page"),
            ("URL", "http://w/Page"),
            ("tag", "Other"),
            ("InterWikiName", "W"),
            ("extra", "x"),
        ]);
        let (item, answer) = read_ping(peer(), body.as_bytes(), "ok");
        let rc = item.unwrap();
        assert_eq!(rc.title.as_deref(), Some("Page"));
        assert_eq!(rc.extra["tag"], "Other");
        assert_eq!(rc.extra["interwikiname"], "W");
        assert_eq!(rc.extra["extra"], "x");
        assert!(answer.contains("<boolean>0</boolean>"), "{answer}");
    }

    #[test]
    fn an_empty_required_member_is_missing() {
        let body = ping(&[("wiki", "w"), ("tag", " "), ("url", "u")]);
        let (item, answer) = read_ping(peer(), body.as_bytes(), "ok");
        assert!(matches!(
            item,
            Err(PingError::MissingField { field: "tag", .. })
        ));
        assert!(answer.contains("tag required") && answer.contains("<boolean>1</boolean>"));
    }

    #[test]
    fn other_parameters_are_a_fault() {
        let body = xmlrpc::write_call("wiki.ping", &[Value::from("w"), Value::from("u")]);
        let (item, answer) = read_ping(peer(), body.as_bytes(), "ok");
        assert!(
            matches!(item, Err(PingError::InvalidParams { .. })),
            "{item:?}"
        );
        assert!(answer.contains("<fault>") && answer.contains("-32602"));
        let (item, _) = read_ping(peer(), b"\xff\xfe", "ok");
        assert!(item.unwrap_err().to_string().contains("not UTF-8"));
    }
}
