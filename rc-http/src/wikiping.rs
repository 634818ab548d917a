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

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::Stream;
use recentchanges_core::{Kind, RecentChange};
use tokio::net::ToSocketAddrs;
use tokio::sync::mpsc;

use crate::wikirpc::xmlrpc::{self, Value};

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
    /// The body was not an XML-RPC method call (answered with fault -32700).
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
}

/// The members a ping must have, with the message answered when one is missing.
pub const REQUIRED: [(&str, &str); 3] = [
    ("wiki", "wiki name required"),
    ("tag", "tag required"),
    ("url", "url required"),
];

/// Settings of a [`PingListener`].
///
/// ```
/// let cfg = recentchanges_http::wikiping::PingConfig::default().capacity(16);
/// assert_eq!(cfg.capacity, 16);
/// assert_eq!(cfg.max_body, 64 * 1024);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PingConfig {
    /// Items buffered for the consumer. When it is full, requests wait for room before
    /// they are answered: a slow consumer slows the pinging wikis down (backpressure), and
    /// no ping is dropped.
    pub capacity: usize,
    /// The largest request body taken, in bytes (larger ones are answered HTTP 413).
    pub max_body: usize,
    /// The message of a success answer.
    pub message: String,
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            capacity: 1024,
            max_body: 64 * 1024,
            message: "Thanks for the ping".into(),
        }
    }
}

impl PingConfig {
    /// Items buffered for the consumer (at least 1).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The largest request body taken.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The message of a success answer.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

/// Listens for WikiPing `wiki.ping` XML-RPC calls (HTTP POST, any path) and yields each
/// as a `Result<RecentChange, PingError>`, in the order they were received. It stops
/// serving when dropped.
#[derive(Debug)]
pub struct PingListener {
    addr: SocketAddr,
    rx: mpsc::Receiver<Result<RecentChange, PingError>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Shared {
    tx: mpsc::Sender<Result<RecentChange, PingError>>,
    message: String,
}

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
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(bind_err)?;
        let local = listener.local_addr().map_err(bind_err)?;
        let (tx, rx) = mpsc::channel(cfg.capacity.max(1));
        let shared = Shared {
            tx,
            message: cfg.message,
        };
        let app = axum::Router::new()
            .fallback(axum::routing::post(handle))
            .layer(DefaultBodyLimit::max(cfg.max_body))
            .with_state(shared);
        let task = tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
            if let Err(e) = served {
                tracing::error!("WikiPing listener stopped: {e}");
            }
        });
        tracing::info!(addr = %local, "WikiPing listener ready");
        Ok(PingListener {
            addr: local,
            rx,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next ping (or refused request); `None` only if the server task ended.
    pub async fn next(&mut self) -> Option<Result<RecentChange, PingError>> {
        self.rx.recv().await
    }
}

impl Stream for PingListener {
    type Item = Result<RecentChange, PingError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for PingListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let (item, answer) = read_ping(peer, &body, &shared.message);
    if shared.tx.send(item).await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the listener is shutting down",
        )
            .into_response();
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
