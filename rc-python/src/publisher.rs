//! `rcclient.Publisher`: posts changes into rooms the XMLRC way (for bridges and tests).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use minidom::Element;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use recentchanges_core::RecentChange;
use recentchanges_xmpp::{BareJid, Connection, Publisher, RoomState, Status};
use tokio::sync::{watch, Mutex as AsyncMutex};

use crate::change::PyRecentChange;
use crate::errors::{config_error, parse_error, publish_error_class};
use crate::parse::input_bytes;
use crate::runtime::{new_runtime, reconnect_of, shutdown, tls_of, Owned, SLICE};

/// Posts changes into XMPP rooms the way the XMLRC bridge did: the change's human line as
/// the message body and its `<rc>` element beside it. Delivery is at least once: a message
/// stays queued until the room echoes it back, and is sent again after a reconnect.
///
/// ```python
/// with rcclient.Publisher("bridge@example.org", "secret", rooms=["enwiki@conference.example.org"]) as pub:
///     pub.publish("enwiki@conference.example.org", rc)
///     pub.flush(10)
/// ```
#[pyclass(module = "rcclient", name = "Publisher", frozen)]
pub struct PyPublisher {
    rt: Owned,
    inner: Arc<AsyncMutex<Option<Publisher>>>,
    status: watch::Receiver<Status>,
    rooms: Vec<BareJid>,
    closed: AtomicBool,
}

fn publish_error(py: Python<'_>, message: String) -> PyErr {
    match publish_error_class(py).and_then(|c| c.call1((message,))) {
        Ok(v) => PyErr::from_value(v),
        Err(e) => e,
    }
}

/// A payload element from XML text; a root without a namespace gets the client namespace,
/// like any unqualified child of a message.
fn element_of(py: Python<'_>, xml: &str) -> PyResult<Element> {
    match xml.parse::<Element>() {
        Ok(e) => Ok(e),
        Err(first) => {
            let trimmed = xml.trim_start();
            let Some(rest) = trimmed.strip_prefix('<') else {
                return Err(PyValueError::new_err(format!(
                    "payload_xml is not XML: {first}"
                )));
            };
            let name_end = rest
                .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
                .unwrap_or(rest.len());
            let with_ns = format!(
                "<{} xmlns=\"jabber:client\"{}",
                &rest[..name_end],
                &rest[name_end..]
            );
            with_ns.parse::<Element>().map_err(|e| {
                let _ = py;
                PyValueError::new_err(format!("payload_xml is not an XML element: {e}"))
            })
        }
    }
}

impl PyPublisher {
    fn room(&self, py: Python<'_>, room: &str) -> PyResult<BareJid> {
        let jid: BareJid = room
            .parse()
            .map_err(|e| config_error(py, format!("invalid room JID {room:?}: {e}")))?;
        if !self.rooms.contains(&jid) {
            return Err(config_error(
                py,
                format!(
                    "{room} is not one of this publisher's rooms ({:?})",
                    self.rooms.iter().map(|r| r.to_string()).collect::<Vec<_>>()
                ),
            ));
        }
        Ok(jid)
    }

    fn runtime(&self, py: Python<'_>) -> PyResult<Arc<tokio::runtime::Runtime>> {
        self.rt
            .get()
            .ok_or_else(|| publish_error(py, "the publisher is closed".into()))
    }

    fn send(&self, py: Python<'_>, room: BareJid, posts: Vec<Post>) -> PyResult<()> {
        let rt = self.runtime(py)?;
        let inner = self.inner.clone();
        let result: Result<(), String> = py.detach(move || {
            rt.block_on(async move {
                let mut guard = inner.lock().await;
                let p = guard
                    .as_mut()
                    .ok_or_else(|| "the publisher is closed".to_owned())?;
                for post in posts {
                    match post {
                        Post::Change(rc) => p.publish(&room, &rc).await,
                        Post::Raw(body, payloads) => p.post(&room, &body, payloads).await,
                    }
                    .map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        });
        result.map_err(|m| publish_error(py, m))
    }
}

enum Post {
    Change(Box<RecentChange>),
    Raw(String, Vec<Element>),
}

fn change_of(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<RecentChange> {
    if let Ok(rc) = obj.cast::<PyRecentChange>() {
        return Ok(rc.get().rc.clone());
    }
    let bytes = input_bytes(obj)?;
    recentchanges_core::parse(&bytes).map_err(|e| parse_error(py, &e, None))
}

#[pymethods]
impl PyPublisher {
    #[new]
    #[pyo3(signature = (jid, password, rooms, *, nick = "xmlrc", server = None, tls = None,
        outbox = 10_000, reconnect = None))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        jid: &str,
        password: &str,
        rooms: Vec<String>,
        nick: &str,
        server: Option<&str>,
        tls: Option<&Bound<'_, PyAny>>,
        outbox: usize,
        reconnect: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let cfg = |e: recentchanges_xmpp::ConfigError| config_error(py, e.to_string());
        let mut b = Publisher::builder(jid, password).map_err(cfg)?;
        let mut jids = Vec::new();
        for room in &rooms {
            b = b.room(room, nick).map_err(cfg)?;
            jids.push(
                room.parse::<BareJid>()
                    .map_err(|e| config_error(py, format!("invalid room JID {room:?}: {e}")))?,
            );
        }
        if let Some(s) = server {
            b = b.server(s).map_err(cfg)?;
        }
        b = b.tls(tls_of(py, tls)?).outbox(outbox);
        if let Some(r) = reconnect {
            b = b.reconnect(reconnect_of(r)?);
        }
        let rt = new_runtime(py, "rcclient-publisher")?;
        let publisher = {
            let _guard = rt.enter();
            b.start().map_err(cfg)?
        };
        let status = publisher.status();
        Ok(PyPublisher {
            rt: Owned::new(rt),
            inner: Arc::new(AsyncMutex::new(Some(publisher))),
            status,
            rooms: jids,
            closed: AtomicBool::new(false),
        })
    }

    /// Posts a change into `room` (one of the publisher's rooms): its human line as the
    /// body, its `<rc>` element as the payload. `rc` is a RecentChange, or str/bytes in any
    /// form `parse` reads. Returns once queued.
    fn publish(&self, py: Python<'_>, room: &str, rc: &Bound<'_, PyAny>) -> PyResult<()> {
        let room = self.room(py, room)?;
        let change = change_of(py, rc)?;
        self.send(py, room, vec![Post::Change(Box::new(change))])
    }

    /// Posts many changes into `room`, in order.
    fn publish_many(&self, py: Python<'_>, room: &str, changes: &Bound<'_, PyAny>) -> PyResult<()> {
        let room = self.room(py, room)?;
        let posts = changes
            .try_iter()?
            .map(|c| Ok(Post::Change(Box::new(change_of(py, &c?)?))))
            .collect::<PyResult<Vec<_>>>()?;
        self.send(py, room, posts)
    }

    /// Posts any message: a body, and optionally one payload element as XML text (e.g. a
    /// malformed `<rc>` for tests). Without a payload it is a plain chat line.
    #[pyo3(signature = (room, body, payload_xml = None))]
    fn post(
        &self,
        py: Python<'_>,
        room: &str,
        body: &str,
        payload_xml: Option<&str>,
    ) -> PyResult<()> {
        let room = self.room(py, room)?;
        let payloads = match payload_xml {
            Some(xml) => vec![element_of(py, xml)?],
            None => Vec::new(),
        };
        self.send(py, room, vec![Post::Raw(body.to_owned(), payloads)])
    }

    /// Waits until the rooms echoed everything posted so far (True), or `timeout` seconds
    /// pass (False). Ctrl-C raises KeyboardInterrupt.
    #[pyo3(signature = (timeout = 10.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let deadline = crate::runtime::instant_after(crate::consumer::wait_arg(timeout)?);
        loop {
            let rt = self.runtime(py)?;
            let inner = self.inner.clone();
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .min(SLICE);
            let done = py.detach(move || {
                rt.block_on(async move {
                    match inner.lock().await.as_mut() {
                        Some(p) => p.flush(slice).await,
                        None => false,
                    }
                })
            });
            if done {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            py.check_signals()?;
        }
    }

    /// Waits until every room is joined (True), or `timeout` passes or the publisher fails
    /// (False).
    #[pyo3(signature = (timeout = 10.0))]
    fn wait_until_joined(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let deadline = crate::runtime::instant_after(crate::consumer::wait_arg(timeout)?);
        loop {
            {
                let s = self.status.borrow();
                let joined = self
                    .rooms
                    .iter()
                    .all(|r| matches!(s.rooms.get(&r.to_string()), Some(RoomState::Joined { .. })));
                if joined {
                    return Ok(true);
                }
                if matches!(s.connection, Connection::Failed { .. }) {
                    return Ok(false);
                }
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            py.detach(|| std::thread::sleep(Duration::from_millis(20)));
            py.check_signals()?;
        }
    }

    /// Messages the rooms confirmed so far.
    #[getter]
    fn confirmed(&self, py: Python<'_>) -> PyResult<u64> {
        let rt = self.runtime(py)?;
        let inner = self.inner.clone();
        Ok(py.detach(move || {
            rt.block_on(async move { inner.lock().await.as_ref().map_or(0, |p| p.confirmed()) })
        }))
    }

    /// The connection state: "connecting", "online", "reconnecting", "failed"...
    #[getter]
    fn connection(&self) -> String {
        match &self.status.borrow().connection {
            Connection::Connecting => "connecting".into(),
            Connection::Online { .. } => "online".into(),
            Connection::Disconnected { .. } => "disconnected".into(),
            Connection::Reconnecting { .. } => "reconnecting".into(),
            Connection::Failed { reason } => format!("failed: {reason}"),
            Connection::Closed => "closed".into(),
            other => format!("{other:?}"),
        }
    }

    /// Leaves the rooms and disconnects; unconfirmed messages are dropped (flush first).
    fn close(&self, py: Python<'_>) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let rt = self.rt.take();
        let inner = self.inner.clone();
        py.detach(move || {
            if let Some(rt) = rt {
                rt.block_on(async move {
                    let p = inner.lock().await.take();
                    if let Some(p) = p {
                        let _ = tokio::time::timeout(Duration::from_secs(6), p.close()).await;
                    }
                });
                shutdown(rt);
            }
        });
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "<rcclient.Publisher rooms={:?} {}>",
            self.rooms.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            self.connection()
        )
    }
}
