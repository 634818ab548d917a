//! `rcclient.Client`: rc_xmpp's self-healing change stream as a Python iterator (sync and
//! async), with a tokio runtime in a background thread.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString};
use rc_xmpp::{
    ChangeStream, Client, ClientBuilder, Connection, ResumePosition, RoomChange, RoomState, Status,
    StreamError,
};
use tokio::sync::watch;

use crate::change::{Delivery, PyRecentChange};
use crate::consumer::{self, Consumer, Iterate, Next, Shared, Waiter};
use crate::convert::{py_to_value, value_to_py};
use crate::errors::{config_error, stream_error_value};
use crate::filter::{node_of, Node};
use crate::runtime::{
    backpressure_of, history_of, new_runtime, reconnect_of, shutdown, tls_of, Owned,
};

type Item = Result<RoomChange, StreamError>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Errors {
    Skip,
    Raise,
    Yield,
}

#[derive(Default)]
struct Counters {
    bad_payload: u64,
    invalid_stanza: u64,
    no_payload: u64,
    room: u64,
}

/// What one item becomes for the caller.
enum Outcome {
    Deliver(Py<PyAny>),
    Skip,
    Raise(PyErr),
    End,
}

const RECENT_ERRORS: usize = 20;

/// Follows XMPP multi-user chat rooms where a bridge posts wiki changes (XMLRC) and yields
/// each change as a RecentChange. The connection lives in a background thread and heals
/// itself: reconnects with backoff, rejoins rooms, replays what was missed from the room
/// archive, and drops duplicates.
///
/// Iterate with `for rc in client` (blocking, the GIL released while waiting, Ctrl-C raises
/// KeyboardInterrupt) or `async for rc in client`; `take(n, timeout)` collects a list.
///
/// Errors (the `errors=` option):
///
/// * A message whose payload does not parse (or that is not valid XMPP), or that has no
///   change payload at all, is skipped by default (`errors="skip"`): it is counted in `status["errors"]`, kept in
///   `recent_errors`, and logged on the "rcclient" logger. `errors="raise"` raises it
///   (PayloadError or NoPayload) from the iteration instead; the client keeps running and
///   the next call goes on with the next item. `errors="yield"` yields the exception object
///   in the stream, between the changes.
/// * A room that cannot be joined or is lost for good (banned, destroyed, members-only...)
///   is a RoomError: with "skip" it is logged and counted, and raised only once every room
///   has failed (nothing more can come); with "raise" and "yield" it is raised or yielded
///   like the other errors.
/// * A fatal error (wrong password, no TLS, reconnect attempts exhausted) always raises
///   rcclient.ConnectionError (a builtin ConnectionError); the iteration ends after it.
#[pyclass(module = "rcclient", name = "Client", frozen)]
pub struct PyClient {
    rt: Owned,
    consumer: Shared<ChangeStream>,
    /// The position when the stream was closed.
    last_position: Mutex<Option<ResumePosition>>,
    status: watch::Receiver<Status>,
    /// The part of the filter that needs Python (callables); pure filters run in the driver.
    filter: Option<Node>,
    errors: Errors,
    counters: Mutex<Counters>,
    recent_errors: Mutex<VecDeque<Py<PyAny>>>,
    rooms: Vec<String>,
    failed_rooms: Mutex<BTreeSet<String>>,
    finished: AtomicBool,
    closed: AtomicBool,
    /// An error `take` met after it had changes: raised by the next call instead, so the
    /// changes are not lost with it.
    deferred: Mutex<Option<PyErr>>,
}

static PENDING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ANEXT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static AENTER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static AEXIT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn aio<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell.import(py, "rcclient._aio", name).cloned()
}

fn logger(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    LOGGER
        .get_or_try_init(py, || {
            py.import("logging")?
                .call_method1("getLogger", ("rcclient",))
                .map(|l| l.unbind())
        })
        .map(|l| l.bind(py).clone())
}

/// `rooms=`: room JIDs, `(room, nick)` or `(room, nick, password)` tuples, or a dict
/// `{room: nick}`.
fn rooms_of(
    py: Python<'_>,
    rooms: &Bound<'_, PyAny>,
    default_nick: &str,
) -> PyResult<Vec<(String, String, Option<String>)>> {
    let mut out = Vec::new();
    if let Ok(d) = rooms.cast::<PyDict>() {
        for (k, v) in d.iter() {
            out.push((k.extract()?, v.extract()?, None));
        }
        return Ok(out);
    }
    if rooms.is_instance_of::<PyString>() {
        return Ok(vec![(rooms.extract()?, default_nick.to_owned(), None)]);
    }
    for item in rooms.try_iter()? {
        let item = item?;
        if let Ok(room) = item.extract::<String>() {
            out.push((room, default_nick.to_owned(), None));
        } else if let Ok((room, nick)) = item.extract::<(String, String)>() {
            out.push((room, nick, None));
        } else if let Ok((room, nick, pw)) = item.extract::<(String, String, String)>() {
            out.push((room, nick, Some(pw)));
        } else {
            return Err(config_error(
                py,
                "rooms must hold room JIDs, (room, nick) or (room, nick, password) tuples",
            ));
        }
    }
    Ok(out)
}

/// `resume=`: a position dict (what `client.position` returns).
pub fn position_of(obj: &Bound<'_, PyAny>) -> PyResult<ResumePosition> {
    let mut value = py_to_value(obj)?;
    if let serde_json::Value::Object(map) = &value {
        if !map.contains_key("rooms") {
            value = serde_json::json!({ "rooms": value });
        }
    }
    serde_json::from_value(value).map_err(|e| {
        config_error(
            obj.py(),
            format!("resume must be a position like client.position returns ({{\"rooms\": {{room: {{\"stanza_id\": ..., \"time\": ...}}}}}}): {e}"),
        )
    })
}

fn status_to_py<'py>(py: Python<'py>, s: &Status) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match &s.connection {
        Connection::Connecting => d.set_item("connection", "connecting")?,
        Connection::Online { jid } => {
            d.set_item("connection", "online")?;
            d.set_item("jid", jid)?;
        }
        Connection::Disconnected { reason } => {
            d.set_item("connection", "disconnected")?;
            d.set_item("reason", reason)?;
        }
        Connection::Reconnecting { attempt, delay } => {
            d.set_item("connection", "reconnecting")?;
            d.set_item("attempt", attempt)?;
            d.set_item("delay", delay.as_secs_f64())?;
        }
        Connection::Failed { reason } => {
            d.set_item("connection", "failed")?;
            d.set_item("reason", reason)?;
        }
        Connection::Closed => d.set_item("connection", "closed")?,
        other => d.set_item("connection", format!("{other:?}").to_lowercase())?,
    }
    let rooms = PyDict::new(py);
    for (room, state) in &s.rooms {
        let r = PyDict::new(py);
        match state {
            RoomState::Joining => r.set_item("state", "joining")?,
            RoomState::Joined { nick, recovered } => {
                r.set_item("state", "joined")?;
                r.set_item("nick", nick)?;
                r.set_item("recovered", recovered)?;
            }
            RoomState::Rejoining { reason } => {
                r.set_item("state", "rejoining")?;
                r.set_item("reason", reason)?;
            }
            RoomState::Failed { reason } => {
                r.set_item("state", "failed")?;
                r.set_item("reason", reason)?;
            }
            other => r.set_item("state", format!("{other:?}").to_lowercase())?,
        }
        rooms.set_item(room, r)?;
    }
    d.set_item("rooms", rooms)?;
    d.set_item("recovered", s.recovered)?;
    d.set_item("dropped", s.dropped)?;
    d.set_item("duplicates", s.duplicates)?;
    d.set_item("connections", s.connections)?;
    Ok(d)
}

impl PyClient {
    fn runtime(&self) -> Option<Arc<tokio::runtime::Runtime>> {
        self.rt.get()
    }

    fn poll_now(&self) -> Option<Option<Item>> {
        consumer::poll_now(&self.consumer)
    }

    fn wait_item(
        &self,
        py: Python<'_>,
        deadline: Option<Instant>,
    ) -> PyResult<Option<Option<Item>>> {
        consumer::wait_item(py, self.runtime(), &self.consumer, deadline)
    }

    fn remember_error(&self, py: Python<'_>, e: &Bound<'_, PyAny>) {
        let mut recent = self.recent_errors.lock().unwrap();
        if recent.len() == RECENT_ERRORS {
            recent.pop_front();
        }
        recent.push_back(e.clone().unbind());
        let _ = py;
    }

    /// What an item becomes, by the error policy and the Python part of the filter.
    fn process(&self, py: Python<'_>, item: Option<Item>) -> Outcome {
        match self.process_inner(py, item) {
            Ok(o) => o,
            Err(e) => Outcome::Raise(e),
        }
    }

    fn process_inner(&self, py: Python<'_>, item: Option<Item>) -> PyResult<Outcome> {
        let item = match item {
            None => {
                self.finished.store(true, Ordering::SeqCst);
                return Ok(Outcome::End);
            }
            Some(item) => item,
        };
        match item {
            Ok(change) => {
                let RoomChange {
                    change,
                    room,
                    stanza_id,
                    replayed,
                    sent_at,
                    ..
                } = change;
                let rc = Bound::new(
                    py,
                    PyRecentChange {
                        rc: change,
                        delivery: Some(Box::new(Delivery {
                            room: room.to_string(),
                            stanza_id,
                            replayed,
                            sent_at,
                        })),
                    },
                )?;
                if let Some(filter) = &self.filter {
                    if !filter.matches(py, &rc)? {
                        return Ok(Outcome::Skip);
                    }
                }
                Ok(Outcome::Deliver(rc.into_any().unbind()))
            }
            Err(e) => {
                let exc = stream_error_value(py, &e)?;
                match &e {
                    StreamError::Fatal(_) => {
                        self.finished.store(true, Ordering::SeqCst);
                        return Ok(Outcome::Raise(PyErr::from_value(exc)));
                    }
                    StreamError::BadPayload { .. } => {
                        self.counters.lock().unwrap().bad_payload += 1
                    }
                    StreamError::NoPayload { .. } => self.counters.lock().unwrap().no_payload += 1,
                    StreamError::InvalidStanza { .. } => {
                        self.counters.lock().unwrap().invalid_stanza += 1
                    }
                    StreamError::Room { room, .. } => {
                        self.counters.lock().unwrap().room += 1;
                        self.failed_rooms.lock().unwrap().insert(room.to_string());
                    }
                    _ => {}
                }
                self.remember_error(py, &exc);
                let is_room = matches!(e, StreamError::Room { .. });
                match self.errors {
                    Errors::Raise => Ok(Outcome::Raise(PyErr::from_value(exc))),
                    Errors::Yield => Ok(Outcome::Deliver(exc.unbind())),
                    Errors::Skip => {
                        let log = logger(py)?;
                        let level = if is_room { "error" } else { "warning" };
                        log.call_method1(level, ("%s", e.to_string()))?;
                        if is_room && self.all_rooms_failed() {
                            self.finished.store(true, Ordering::SeqCst);
                            let msg = format!("every room failed; the last: {e}");
                            let kwargs = PyDict::new(py);
                            kwargs.set_item("room", exc.getattr("room")?)?;
                            kwargs.set_item("reason", exc.getattr("reason")?)?;
                            let all =
                                crate::errors::room_error_class(py)?.call((msg,), Some(&kwargs))?;
                            return Ok(Outcome::Raise(PyErr::from_value(all)));
                        }
                        Ok(Outcome::Skip)
                    }
                }
            }
        }
    }

    fn all_rooms_failed(&self) -> bool {
        let failed = self.failed_rooms.lock().unwrap();
        self.rooms.iter().all(|r| failed.contains(r))
    }

    fn next_impl(&self, py: Python<'_>, deadline: Option<Instant>) -> PyResult<Next> {
        if let Some(e) = self.deferred.lock().unwrap().take() {
            return Err(e);
        }
        loop {
            if self.finished.load(Ordering::SeqCst) {
                return Ok(Next::End);
            }
            let Some(item) = self.wait_item(py, deadline)? else {
                return Ok(Next::Timeout);
            };
            match self.process(py, item) {
                Outcome::Deliver(o) => return Ok(Next::Item(o)),
                Outcome::Skip => continue,
                Outcome::Raise(e) => return Err(e),
                Outcome::End => return Ok(Next::End),
            }
        }
    }
}

impl Iterate for PyClient {
    fn next_item(&self, py: Python<'_>, deadline: Option<Instant>) -> PyResult<Next> {
        self.next_impl(py, deadline)
    }

    fn deferred(&self) -> &Mutex<Option<PyErr>> {
        &self.deferred
    }
}

#[pymethods]
impl PyClient {
    #[new]
    #[pyo3(signature = (jid = None, password = None, rooms = None, *, nick = None, anonymous = None,
        server = None, tls = None, history = None, resume = None, filter = None, errors = "skip",
        buffer = 10_000, backpressure = "wait", reconnect = None, keepalive = None,
        dedup_window = None, rejoin_delay = None))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        jid: Option<String>,
        password: Option<String>,
        rooms: Option<&Bound<'_, PyAny>>,
        nick: Option<String>,
        anonymous: Option<&Bound<'_, PyAny>>,
        server: Option<String>,
        tls: Option<&Bound<'_, PyAny>>,
        history: Option<&Bound<'_, PyAny>>,
        resume: Option<&Bound<'_, PyAny>>,
        filter: Option<&Bound<'_, PyAny>>,
        errors: &str,
        buffer: usize,
        backpressure: &str,
        reconnect: Option<&Bound<'_, PyAny>>,
        keepalive: Option<(f64, f64)>,
        dedup_window: Option<usize>,
        rejoin_delay: Option<f64>,
    ) -> PyResult<Self> {
        let cfg = |e: rc_xmpp::ConfigError| config_error(py, e.to_string());
        let errors = match errors {
            "skip" => Errors::Skip,
            "raise" => Errors::Raise,
            "yield" => Errors::Yield,
            other => {
                return Err(config_error(
                    py,
                    format!("errors must be \"skip\", \"raise\" or \"yield\", not {other:?}"),
                ))
            }
        };
        // Who logs in: anonymous=True (on the jid's domain) or anonymous="domain", or a jid
        // without a password and without a user part.
        let anonymous_domain: Option<String> = match anonymous {
            Some(a) if a.is_instance_of::<PyString>() => Some(a.extract()?),
            Some(a) if a.is_truthy()? => Some(jid.clone().ok_or_else(|| {
                config_error(py, "anonymous=True needs the anonymous domain as jid")
            })?),
            _ => match (&jid, &password) {
                (Some(j), None) if !j.contains('@') => Some(j.clone()),
                _ => None,
            },
        };
        let mut b: ClientBuilder = match (&anonymous_domain, &jid, &password) {
            (Some(domain), _, _) => Client::anonymous(domain).map_err(cfg)?,
            (None, Some(j), Some(p)) => Client::builder(j, p.as_str()).map_err(cfg)?,
            (None, Some(j), None) => {
                return Err(config_error(
                    py,
                    format!("no password for {j}: give password=..., or anonymous=True to log in anonymously"),
                ))
            }
            (None, None, _) => return Err(config_error(py, "a jid (or an anonymous domain) is needed")),
        };
        let default_nick = nick.unwrap_or_else(|| {
            jid.as_deref()
                .and_then(|j| j.split_once('@').map(|(user, _)| user.to_owned()))
                .unwrap_or_else(|| "rcclient".to_owned())
        });
        let rooms = match rooms {
            Some(r) => rooms_of(py, r, &default_nick)?,
            None => Vec::new(),
        };
        let mut room_names = Vec::new();
        for (room, nick, pw) in &rooms {
            b = match pw {
                Some(pw) => b.room_with_password(room, nick, pw.as_str()),
                None => b.room(room, nick),
            }
            .map_err(cfg)?;
            room_names.push(
                room.parse::<rc_xmpp::BareJid>()
                    .map(|j| j.to_string())
                    .unwrap_or_else(|_| room.clone()),
            );
        }
        if let Some(s) = &server {
            b = b.server(s).map_err(cfg)?;
        }
        b = b.tls(tls_of(py, tls)?);
        b = b.history(history_of(py, history)?);
        b = b.buffer(buffer, backpressure_of(py, backpressure)?);
        if let Some(r) = reconnect {
            b = b.reconnect(reconnect_of(r)?);
        }
        if let Some((idle, timeout)) = keepalive {
            b = b.keepalive(
                Duration::from_secs_f64(idle),
                Duration::from_secs_f64(timeout),
            );
        }
        if let Some(n) = dedup_window {
            b = b.dedup_window(n);
        }
        if let Some(d) = rejoin_delay {
            b = b.rejoin_delay(Duration::from_secs_f64(d));
        }
        if let Some(r) = resume {
            if !r.is_none() {
                if let Ok(path) = r.extract::<std::path::PathBuf>() {
                    b = b.resume_from_file(path).map_err(cfg)?;
                } else {
                    b = b.resume(position_of(r)?);
                }
            }
        }
        let mut python_filter = None;
        if let Some(f) = filter {
            if !f.is_none() {
                let node = node_of(f)?;
                match node.to_core() {
                    Some(core) => b = b.filter(core),
                    None => python_filter = Some(node),
                }
            }
        }
        let rt = new_runtime("rcclient-client")?;
        let stream = {
            let _guard = rt.enter();
            b.try_connect().map_err(cfg)?
        };
        let status = stream.status();
        Ok(PyClient {
            rt: Owned::new(rt),
            consumer: Consumer::shared(stream),
            last_position: Mutex::new(None),
            status,
            filter: python_filter,
            errors,
            counters: Mutex::new(Counters::default()),
            recent_errors: Mutex::new(VecDeque::new()),
            rooms: room_names,
            failed_rooms: Mutex::new(BTreeSet::new()),
            finished: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            deferred: Mutex::new(None),
        })
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// The next change (blocking; Ctrl-C raises KeyboardInterrupt).
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.next_or_none(py, None)
    }

    /// The next change, or None when `timeout` seconds pass first (or the client has ended).
    #[pyo3(signature = (timeout = None))]
    fn receive(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        self.next_or_none(py, timeout)
    }

    /// Up to `n` changes as a list: returns when it has `n`, when `timeout` seconds have
    /// passed (with what it got by then), or when the client has ended. An error to raise
    /// (see `errors=`) met after some changes returns those first; the next call raises it.
    #[pyo3(signature = (n, timeout = None))]
    fn take<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.take_list(py, n, timeout)
    }

    fn __aiter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __anext__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        aio(py, &ANEXT, "anext")?.call1((slf,))
    }

    /// Non-blocking step of `async for`: a processed item, or `rcclient._aio.PENDING`.
    fn _poll_ready(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Some(e) = self.deferred.lock().unwrap().take() {
            return Err(e);
        }
        loop {
            if self.finished.load(Ordering::SeqCst) {
                return Err(PyStopAsyncIteration::new_err(()));
            }
            let Some(item) = self.poll_now() else {
                return Ok(aio(py, &PENDING, "PENDING")?.unbind());
            };
            match self.process(py, item) {
                Outcome::Deliver(o) => return Ok(o),
                Outcome::Skip => continue,
                Outcome::Raise(e) => return Err(e),
                Outcome::End => return Err(PyStopAsyncIteration::new_err(())),
            }
        }
    }

    /// Wakes `future` on `loop` once an item can be handed out; the item waits in the
    /// client, so cancelling the wait loses nothing.
    fn _arm(&self, py: Python<'_>, event_loop: Py<PyAny>, future: Py<PyAny>) -> PyResult<Waiter> {
        consumer::arm(py, self.runtime(), &self.consumer, event_loop, future)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        aio(py, &AENTER, "aenter")?.call1((slf,))
    }

    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(
        slf: Bound<'py, Self>,
        _args: &Bound<'py, pyo3::types::PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        aio(py, &AEXIT, "aexit")?.call1((slf,))
    }

    /// Leaves the rooms, closes the connection and saves the resume file. Idempotent.
    fn close(&self, py: Python<'_>) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let stream = {
            let mut c = self.consumer.lock().unwrap();
            let s = c.stream.take();
            *self.last_position.lock().unwrap() = s.as_ref().map(|s| s.position());
            c.ended = true;
            s
        };
        let rt = self.rt.take();
        py.detach(move || {
            if let Some(rt) = rt {
                if let Some(s) = stream {
                    rt.block_on(async move {
                        let _ = tokio::time::timeout(Duration::from_secs(6), s.close()).await;
                    });
                }
                shutdown(rt);
            }
        });
    }

    /// Whether close() was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The client's state as a dict: "connection" ("connecting", "online", "reconnecting",
    /// "disconnected", "failed", "closed") with "jid" or "reason", "rooms" (room JID ->
    /// {"state": "joining"|"joined"|"rejoining"|"failed", "nick", "recovered", "reason"}),
    /// counters "recovered", "dropped", "duplicates", "connections", "buffered", and
    /// "errors" ({"bad_payload", "no_payload", "invalid_stanza", "room"}: items that were
    /// not changes).
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let snapshot = self.status.borrow().clone();
        let d = status_to_py(py, &snapshot)?;
        d.set_item("buffered", self.buffered())?;
        let c = self.counters.lock().unwrap();
        let errors = PyDict::new(py);
        errors.set_item("bad_payload", c.bad_payload)?;
        errors.set_item("no_payload", c.no_payload)?;
        errors.set_item("invalid_stanza", c.invalid_stanza)?;
        errors.set_item("room", c.room)?;
        d.set_item("errors", errors)?;
        Ok(d)
    }

    /// Items received and not yet read.
    #[getter]
    fn buffered(&self) -> usize {
        let c = self.consumer.lock().unwrap();
        c.stashed() + c.stream.as_ref().map_or(0, |s| s.backlog())
    }

    /// The last (up to 20) error items, as exception objects, newest last.
    #[getter]
    fn recent_errors(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        self.recent_errors
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.clone_ref(py))
            .collect()
    }

    /// Where the stream stands: `{"rooms": {room: {"stanza_id": ..., "time": "RFC 3339"}}}`,
    /// the position after the last item this client yielded. JSON-ready: store it and pass
    /// it as `resume=` in a later process to continue exactly there.
    #[getter]
    fn position<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pos = {
            let c = self.consumer.lock().unwrap();
            match &c.stream {
                Some(s) => s.position(),
                None => self
                    .last_position
                    .lock()
                    .unwrap()
                    .clone()
                    .unwrap_or_default(),
            }
        };
        let value = serde_json::to_value(&pos).unwrap_or(serde_json::Value::Null);
        value_to_py(py, &value)
    }

    /// Waits until every room is joined (True) or one has failed, or `timeout` passes
    /// (False). Handy before publishing in tests; iterating needs no such wait.
    #[pyo3(signature = (timeout = 10.0))]
    fn wait_until_joined(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
        loop {
            {
                let s = self.status.borrow();
                let states: Vec<&RoomState> = s.rooms.values().collect();
                if !states.is_empty()
                    && states.iter().all(|r| matches!(r, RoomState::Joined { .. }))
                {
                    return Ok(true);
                }
                if states.iter().any(|r| matches!(r, RoomState::Failed { .. }))
                    || matches!(s.connection, Connection::Failed { .. } | Connection::Closed)
                {
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

    fn __repr__(&self) -> String {
        let s = self.status.borrow();
        let state = match &s.connection {
            Connection::Online { jid } => format!("online as {jid}"),
            Connection::Connecting => "connecting".into(),
            Connection::Reconnecting { attempt, .. } => format!("reconnecting (attempt {attempt})"),
            Connection::Disconnected { .. } => "disconnected".into(),
            Connection::Failed { reason } => format!("failed: {reason}"),
            Connection::Closed => "closed".into(),
            other => format!("{other:?}"),
        };
        format!("<rcclient.Client rooms={:?} {state}>", self.rooms)
    }
}
