//! `rcclient.open(...)` / `rcclient.Source`: any source of recent changes (XMPP rooms or
//! PubSub nodes, MediaWiki's API, DokuWiki / JSPWiki WikiRPC, a WikiPing listener) as one
//! Python iterator, over `recentchanges::source`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pyo3::exceptions::{PyStopAsyncIteration, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use recentchanges::http::Start;
use recentchanges::source::{Change, Changes, Source, SourceError, SourceStatus, State};
use serde_json::Value;
use tokio::sync::watch;

use crate::change::{Delivery, PyRecentChange};
use crate::consumer::{self, Consumer, Iterate, Next, Shared, Waiter};
use crate::convert::{py_to_value, value_to_py};
use crate::errors::{config_error, connection_error_class, stream_error_class, stream_error_value};
use crate::filter::{node_of, Node};
use crate::runtime::{new_runtime, shutdown, tls_of, Owned};

type Item = Result<Change, SourceError>;

const RECENT_ERRORS: usize = 20;

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
    Ok(cell.import(py, "rcclient._aio", name)?.clone())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Errors {
    Skip,
    Raise,
    Yield,
}

/// The changes of one source, whatever it is: iterate with `for rc in source` (blocking,
/// the GIL released while waiting, Ctrl-C raises KeyboardInterrupt) or
/// `async for rc in source`; `take(n, timeout)` collects a list. Open one with
/// `rcclient.open(name, ...)`.
///
/// Items that are not changes follow `errors=` as in `Client`: skipped, counted in
/// `status["errors"]` and logged on the "rcclient" logger by default; raised ("raise") or
/// yielded as exception objects ("yield") if asked. A fatal error (wrong password, a
/// configuration the source refuses) raises rcclient.ConnectionError or ConfigError and
/// ends the iteration.
#[pyclass(module = "rcclient", name = "Source", frozen)]
pub struct PySource {
    rt: Owned,
    consumer: Shared<Changes>,
    status: watch::Receiver<SourceStatus>,
    name: String,
    filter: Option<Node>,
    errors: Errors,
    recent_errors: Mutex<VecDeque<Py<PyAny>>>,
    finished: AtomicBool,
    closed: AtomicBool,
    deferred: Mutex<Option<PyErr>>,
    last_position: Mutex<Value>,
}

/// `start=`: "now", "beginning", or a timezone-aware datetime.
fn start_of(py: Python<'_>, start: Option<&Bound<'_, PyAny>>) -> PyResult<Start> {
    let Some(start) = start.filter(|s| !s.is_none()) else {
        return Ok(Start::Now);
    };
    if let Ok(s) = start.extract::<String>() {
        return match s.as_str() {
            "now" => Ok(Start::Now),
            "beginning" => Ok(Start::Beginning),
            other => Err(config_error(
                py,
                format!("start must be \"now\", \"beginning\" or a datetime, not {other:?}"),
            )),
        };
    }
    let at: DateTime<Utc> = crate::convert::datetime_utc(start)?;
    Ok(Start::At(at))
}

/// Opens a source of recent changes by name and returns its `Source` iterator.
///
/// Names: ``xmpp:room@conference.example.org`` (an XMLRC room),
/// ``xmpp:pubsub.example.org?;node=NAME`` (a PubSub node, DokuWiki's dokupubsub),
/// ``mediawiki:https://host/w/api.php``, ``dokuwiki:https://host/lib/exe/xmlrpc.php``,
/// ``jspwiki:https://host/RPC2/``, ``wikiping:127.0.0.1:8090`` (a listener).
///
/// XMPP sources need ``jid`` and ``password``, or ``anonymous="anon.example.org"``; ``server``
/// ("host:port"), ``tls`` and ``nick`` as for ``Client``; ``rooms`` adds rooms;
/// ``backfill="https://host/w/api.php"`` (with ``wiki``) fills what a room's archive lacks
/// from the wiki's API. Polling sources take ``wiki`` (the id stamped on changes),
/// ``interval`` (seconds) and ``start`` ("now", "beginning" or a datetime); WikiRPC takes
/// ``credentials=(user, password)``. Every source takes ``filter`` (a Filter, a dict or a
/// callable), ``resume`` (a position from ``.position``, or a file path where the position
/// is kept) and ``errors`` ("skip", "raise", "yield").
#[pyfunction]
#[pyo3(signature = (source, *, jid = None, password = None, anonymous = None, server = None,
    tls = None, nick = None, rooms = None, wiki = None, backfill = None, credentials = None,
    interval = None, start = None, filter = None, resume = None, errors = "skip"))]
#[allow(clippy::too_many_arguments)]
pub fn open(
    py: Python<'_>,
    source: &str,
    jid: Option<String>,
    password: Option<String>,
    anonymous: Option<String>,
    server: Option<String>,
    tls: Option<&Bound<'_, PyAny>>,
    nick: Option<String>,
    rooms: Option<Vec<String>>,
    wiki: Option<String>,
    backfill: Option<String>,
    credentials: Option<(String, String)>,
    interval: Option<f64>,
    start: Option<&Bound<'_, PyAny>>,
    filter: Option<&Bound<'_, PyAny>>,
    resume: Option<&Bound<'_, PyAny>>,
    errors: &str,
) -> PyResult<PySource> {
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
    let cfg = |e: SourceError| config_error(py, e.to_string());
    let mut s = Source::new(source).map_err(cfg)?;
    match (jid, password, anonymous) {
        (_, _, Some(domain)) => s = s.anonymous(&domain),
        (Some(jid), Some(pw), None) => s = s.account(&jid, pw),
        (Some(jid), None, None) => {
            return Err(config_error(
                py,
                format!("no password for {jid}: give password=..., or anonymous=\"domain\""),
            ))
        }
        _ => {}
    }
    if let Some(addr) = &server {
        s = s.server(addr);
    }
    s = s.tls(tls_of(py, tls)?);
    if let Some(n) = &nick {
        s = s.nick(n);
    }
    for room in rooms.unwrap_or_default() {
        s = s.room(&room);
    }
    if let Some(w) = &wiki {
        s = s.wiki(w);
    }
    if let Some(url) = &backfill {
        s = s.backfill(url);
    }
    if let Some((user, pw)) = credentials {
        s = s.credentials(&user, pw);
    }
    if let Some(every) = interval {
        if !(every.is_finite() && every > 0.0) {
            return Err(PyValueError::new_err(format!(
                "interval must be > 0 seconds, not {every}"
            )));
        }
        s = s.interval(Duration::from_secs_f64(every));
    }
    s = s.start(start_of(py, start)?);
    if let Some(r) = resume.filter(|r| !r.is_none()) {
        if let Ok(path) = r.extract::<std::path::PathBuf>() {
            s = s.resume_from_file(path);
        } else {
            s = s.resume(py_to_value(r)?);
        }
    }
    let mut python_filter = None;
    if let Some(f) = filter.filter(|f| !f.is_none()) {
        let node = node_of(f)?;
        match node.to_core() {
            Some(core) => s = s.filter(core),
            None => python_filter = Some(node),
        }
    }
    let name = s.name().to_string();
    let rt = new_runtime("rcclient-source")?;
    let changes = {
        let _guard = rt.enter();
        s.open().map_err(cfg)?
    };
    let status = changes.status();
    Ok(PySource {
        rt: Owned::new(rt),
        consumer: Consumer::shared(changes),
        status,
        name,
        filter: python_filter,
        errors,
        recent_errors: Mutex::new(VecDeque::new()),
        finished: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        deferred: Mutex::new(None),
        last_position: Mutex::new(Value::Null),
    })
}

/// A stream item that is not a change, as an exception instance (not raised).
fn error_value<'py>(py: Python<'py>, e: &SourceError) -> PyResult<Bound<'py, PyAny>> {
    use recentchanges::http::backfill::BackfillError;
    match e {
        SourceError::Xmpp(e) | SourceError::Backfill(BackfillError::Room(e)) => {
            stream_error_value(py, e)
        }
        SourceError::Config(m) => Ok(config_error(py, m.clone())
            .into_value(py)
            .into_bound(py)
            .into_any()),
        fatal if fatal.is_fatal() => {
            let kwargs = PyDict::new(py);
            let kind = match fatal {
                SourceError::Rpc(_) => "auth",
                SourceError::Ping(_) => "bind",
                _ => "other",
            };
            kwargs.set_item("kind", kind)?;
            connection_error_class(py)?.call((fatal.to_string(),), Some(&kwargs))
        }
        other => stream_error_class(py)?.call1((other.to_string(),)),
    }
}

impl PySource {
    fn wait(&self, py: Python<'_>, deadline: Option<Instant>) -> PyResult<Option<Option<Item>>> {
        consumer::wait_item(py, self.rt.get(), &self.consumer, deadline)
    }

    /// What an item becomes: a change for the caller, nothing (skipped), or an error.
    fn process(&self, py: Python<'_>, item: Option<Item>) -> PyResult<Option<Py<PyAny>>> {
        let Some(item) = item else {
            self.finished.store(true, Ordering::SeqCst);
            return Ok(None);
        };
        match item {
            Ok(Change {
                change,
                via,
                id,
                replayed,
                ..
            }) => {
                let rc = Bound::new(
                    py,
                    PyRecentChange {
                        rc: change,
                        delivery: Some(Box::new(Delivery {
                            room: via,
                            stanza_id: id,
                            replayed,
                            sent_at: None,
                        })),
                    },
                )?;
                if let Some(filter) = &self.filter {
                    if !filter.matches(py, &rc)? {
                        return Ok(None);
                    }
                }
                Ok(Some(rc.into_any().unbind()))
            }
            Err(e) => {
                let exc = error_value(py, &e)?;
                if e.is_fatal() {
                    self.finished.store(true, Ordering::SeqCst);
                    return Err(PyErr::from_value(exc));
                }
                {
                    let mut recent = self.recent_errors.lock().unwrap();
                    if recent.len() == RECENT_ERRORS {
                        recent.pop_front();
                    }
                    recent.push_back(exc.clone().unbind());
                }
                match self.errors {
                    Errors::Raise => Err(PyErr::from_value(exc)),
                    Errors::Yield => Ok(Some(exc.unbind())),
                    Errors::Skip => {
                        let log = LOGGER
                            .import(py, "logging", "getLogger")?
                            .call1(("rcclient",))?;
                        log.call_method1("warning", ("%s: %s", &self.name, e.to_string()))?;
                        Ok(None)
                    }
                }
            }
        }
    }

    fn next_impl(&self, py: Python<'_>, deadline: Option<Instant>) -> PyResult<Next> {
        if let Some(e) = self.deferred.lock().unwrap().take() {
            return Err(e);
        }
        loop {
            if self.finished.load(Ordering::SeqCst) {
                return Ok(Next::End);
            }
            let Some(item) = self.wait(py, deadline)? else {
                return Ok(Next::Timeout);
            };
            if let Some(o) = self.process(py, item)? {
                return Ok(Next::Item(o));
            }
        }
    }
}

impl Iterate for PySource {
    fn next_item(&self, py: Python<'_>, deadline: Option<Instant>) -> PyResult<Next> {
        self.next_impl(py, deadline)
    }

    fn deferred(&self) -> &Mutex<Option<PyErr>> {
        &self.deferred
    }
}

#[pymethods]
impl PySource {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// The next change (blocking; Ctrl-C raises KeyboardInterrupt).
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.next_or_none(py, None)
    }

    /// The next change, or None when `timeout` seconds pass first (or the source ended).
    #[pyo3(signature = (timeout = None))]
    fn receive(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        self.next_or_none(py, timeout)
    }

    /// Up to `n` changes as a list: returns when it has `n`, when `timeout` seconds have
    /// passed (with what it got by then), or when the source has ended. An error to raise
    /// met after some changes returns those first; the next call raises it.
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
            let Some(item) = consumer::poll_now(&self.consumer) else {
                return Ok(aio(py, &PENDING, "PENDING")?.unbind());
            };
            if let Some(o) = self.process(py, item)? {
                return Ok(o);
            }
        }
    }

    fn _arm(&self, py: Python<'_>, event_loop: Py<PyAny>, future: Py<PyAny>) -> PyResult<Waiter> {
        consumer::arm(py, self.rt.get(), &self.consumer, event_loop, future)
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

    /// Stops following the source and saves the position file. Idempotent.
    fn close(&self, py: Python<'_>) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let changes = {
            let mut c = self.consumer.lock().unwrap();
            c.ended = true;
            c.stream.take()
        };
        if let Some(ch) = &changes {
            *self.last_position.lock().unwrap() = ch.position().clone();
        }
        let rt = self.rt.take();
        py.detach(move || {
            if let Some(rt) = rt {
                {
                    let _guard = rt.enter();
                    if let Some(ch) = changes {
                        ch.close();
                    }
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

    /// The source's name, e.g. "dokuwiki:http://127.0.0.1:8081/lib/exe/xmlrpc.php".
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The source's state as a dict: "state" ("starting", "live", "retrying", "failed"),
    /// "reason" (for retrying and failed), and the counters "changes", "errors",
    /// "duplicates", "dropped".
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.status.borrow().clone();
        let d = PyDict::new(py);
        let (state, reason) = match &s.state {
            State::Starting => ("starting", None),
            State::Live => ("live", None),
            State::Retrying { reason } => ("retrying", Some(reason.clone())),
            State::Failed { reason } => ("failed", Some(reason.clone())),
            _ => ("unknown", None),
        };
        d.set_item("state", state)?;
        d.set_item("reason", reason)?;
        d.set_item("changes", s.changes)?;
        d.set_item("errors", s.errors)?;
        d.set_item("duplicates", s.duplicates)?;
        d.set_item("dropped", s.dropped)?;
        Ok(d)
    }

    /// The last (up to 20) error items, as exception objects, newest last.
    #[getter]
    fn recent_errors(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        let recent = self.recent_errors.lock().unwrap();
        recent.iter().map(|e| e.clone_ref(py)).collect()
    }

    /// Where the source stands after the last item yielded (None before any): JSON-ready;
    /// pass it as `resume=` to a later `open` of the same source to continue there.
    #[getter]
    fn position<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pos = {
            let c = self.consumer.lock().unwrap();
            match &c.stream {
                Some(ch) => ch.position().clone(),
                None => self.last_position.lock().unwrap().clone(),
            }
        };
        value_to_py(py, &pos)
    }

    fn __repr__(&self) -> String {
        let s = self.status.borrow();
        format!("<rcclient.Source {} {:?}>", self.name, s.state)
    }
}
