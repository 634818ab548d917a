//! `rcclient.open(...)` / `rcclient.Source`: any source of recent changes (XMPP rooms or
//! PubSub nodes, EventStreams, MediaWiki's API, DokuWiki / JSPWiki WikiRPC, a WikiPing listener) as one
//! Python iterator, over `recentchanges::source`.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use recentchanges::http::Start;
use recentchanges::source::{Change, Changes, Source, SourceError, SourceStatus, State};
use serde_json::Value;
use tokio::sync::watch;

use crate::change::{Delivery, Kafka};
use crate::consumer::Positioned;
use crate::convert::{py_to_value, value_to_py};
use crate::errors::{config_error, connection_error_class, stream_error_class, stream_error_value};
use crate::filter::{node_of, Node};
use crate::iteration::{deliver, iteration_methods, Errors, Iteration, Outcome, PyStream};
use crate::runtime::{new_runtime, tls_of};

type Item = Result<Change, SourceError>;

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
    iteration: Iteration<Changes>,
    status: watch::Receiver<SourceStatus>,
    name: String,
    /// The part of the filter that needs Python (callables); the rest runs in Rust.
    filter: Option<Node>,
    /// The position when the source was closed.
    last_position: Mutex<Value>,
}

impl Positioned for Changes {
    type Position = Value;

    fn position_now(&self) -> Value {
        self.position().clone()
    }
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
/// ``jspwiki:https://host/RPC2/``, ``wikiping:127.0.0.1:8090`` (a listener),
/// ``eventstreams:recentchange`` (Wikimedia EventStreams; several streams comma-separated,
/// or ``eventstreams:https://host/v2/stream/recentchange``).
///
/// XMPP sources need ``jid`` and ``password``, or ``anonymous="anon.example.org"``; ``server``
/// ("host:port"), ``tls`` and ``nick`` as for ``Client``; ``rooms`` adds rooms;
/// ``backfill="https://host/w/api.php"`` (with ``wiki``) fills what a room's archive lacks
/// from the wiki's API. Polling sources take ``wiki`` (the id stamped on changes),
/// ``interval`` (seconds) and ``start`` ("now", "beginning" or a datetime; ``since`` is the
/// same, as EventStreams calls it) and ``end`` (a datetime: the iteration ends once every
/// change up to it was yielded, so ``start`` + ``end`` is a time range); HTTP sources take ``user_agent`` (your tool and a
/// contact, as Wikimedia's policy asks); EventStreams takes ``stall_timeout`` (seconds
/// without even a heartbeat before reconnecting, default 60); WikiRPC takes
/// ``credentials=(user, password)``. Every source takes ``filter`` (a Filter, a dict or a
/// callable), ``resume`` (a position from ``.position``, or a file path where the position
/// is kept) and ``errors`` ("skip", "raise", "yield").
#[pyfunction]
#[pyo3(signature = (source, *, jid = None, password = None, anonymous = None, server = None,
    tls = None, nick = None, rooms = None, wiki = None, backfill = None, credentials = None,
    interval = None, start = None, since = None, end = None, user_agent = None, stall_timeout = None, filter = None, resume = None,
    errors = "skip"))]
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
    since: Option<&Bound<'_, PyAny>>,
    end: Option<&Bound<'_, PyAny>>,
    user_agent: Option<String>,
    stall_timeout: Option<f64>,
    filter: Option<&Bound<'_, PyAny>>,
    resume: Option<&Bound<'_, PyAny>>,
    errors: &str,
) -> PyResult<PySource> {
    let errors = Errors::parse(py, errors)?;
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
        if !(every.is_finite() && every > 0.0 && every < 1e9) {
            return Err(PyValueError::new_err(format!(
                "interval must be > 0 seconds, not {every}"
            )));
        }
        s = s.interval(Duration::from_secs_f64(every));
    }
    let start = match (
        start.filter(|s| !s.is_none()),
        since.filter(|s| !s.is_none()),
    ) {
        (Some(_), Some(_)) => {
            return Err(config_error(
                py,
                "give start= or since= (the same setting), not both".to_owned(),
            ))
        }
        (start, since) => start.or(since),
    };
    s = s.start(start_of(py, start)?);
    if let Some(end) = end.filter(|e| !e.is_none()) {
        s = s.end(crate::convert::datetime_utc(end)?);
    }
    if let Some(ua) = &user_agent {
        s = s.user_agent(ua);
    }
    if let Some(t) = stall_timeout {
        if !(t.is_finite() && t > 0.0 && t < 1e9) {
            return Err(PyValueError::new_err(format!(
                "stall_timeout must be > 0 seconds, not {t}"
            )));
        }
        s = s.stall_timeout(Duration::from_secs_f64(t));
    }
    let mut resume_file = None;
    if let Some(r) = resume.filter(|r| !r.is_none()) {
        if let Ok(path) = r.extract::<std::path::PathBuf>() {
            // The file stays on this side (see `Iteration`): the source only starts
            // from what it holds.
            let position: Option<Value> = recentchanges_core::state::load_json(&path)
                .map_err(|e| config_error(py, format!("position file {}: {e}", path.display())))?;
            if let Some(position) = position {
                s = s.resume(position);
            }
            resume_file = Some(path);
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
    let rt = new_runtime(py, "rcclient-source")?;
    let changes = {
        let _guard = rt.enter();
        s.open().map_err(cfg)?
    };
    let status = changes.status();
    Ok(PySource {
        iteration: Iteration::new(rt, changes, errors, resume_file),
        status,
        name,
        filter: python_filter,
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

impl PyStream for PySource {
    type Stream = Changes;
    type Item = Item;

    fn iteration(&self) -> &Iteration<Changes> {
        &self.iteration
    }

    /// A change (if the Python part of the filter keeps it), or an error item by the
    /// `errors=` policy; a fatal error ends the iteration.
    fn process(&self, py: Python<'_>, item: Item) -> PyResult<Outcome> {
        let e = match item {
            Ok(Change {
                change,
                via,
                id,
                replayed,
                delivery: events,
                ..
            }) => {
                let delivery = Delivery {
                    room: via,
                    stanza_id: id,
                    replayed,
                    sent_at: events.as_ref().and_then(|d| d.dt),
                    kafka: events.map(|d| Kafka {
                        stream: d.stream,
                        topic: d.topic,
                        partition: d.partition,
                        offset: d.offset,
                    }),
                };
                return deliver(py, change, delivery, self.filter.as_ref());
            }
            Err(e) => e,
        };
        let exc = error_value(py, &e)?;
        if e.is_fatal() {
            self.iteration.finish();
            return Err(PyErr::from_value(exc));
        }
        let message = format!("{}: {e}", self.name);
        self.iteration.policy(py, exc, "warning", &message)
    }

    fn closing(&self, _changes: &Changes, handed_out: Value) {
        *self.last_position.lock().unwrap() = handed_out;
    }

    fn finish(rt: &tokio::runtime::Runtime, changes: Changes) {
        let _guard = rt.enter();
        changes.close();
    }
}

iteration_methods!(PySource);

#[pymethods]
impl PySource {
    /// The source's name, e.g. "dokuwiki:http://127.0.0.1:8081/lib/exe/xmlrpc.php".
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The source's state as a dict: "state" ("starting", "live", "retrying", "failed",
    /// "finished" once a source with an ``end`` reached it),
    /// "reason" (for retrying and failed), and the counters "changes", "errors",
    /// "duplicates", "dropped", "canaries" (EventStreams' test events dropped).
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.status.borrow().clone();
        let d = PyDict::new(py);
        let (state, reason) = match &s.state {
            State::Starting => ("starting", None),
            State::Live => ("live", None),
            State::Retrying { reason } => ("retrying", Some(reason.clone())),
            State::Failed { reason } => ("failed", Some(reason.clone())),
            State::Finished => ("finished", None),
            _ => ("unknown", None),
        };
        d.set_item("state", state)?;
        d.set_item("reason", reason)?;
        d.set_item("changes", s.changes)?;
        d.set_item("errors", s.errors)?;
        d.set_item("duplicates", s.duplicates)?;
        d.set_item("dropped", s.dropped)?;
        d.set_item("canaries", s.canaries)?;
        Ok(d)
    }

    /// Where the source stands after the last item yielded (None before any): JSON-ready;
    /// pass it as `resume=` to a later `open` of the same source to continue there.
    #[getter]
    fn position<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pos = match self.iteration.handed_out_position() {
            Some(p) => p,
            None => self.last_position.lock().unwrap().clone(),
        };
        value_to_py(py, &pos)
    }

    fn __repr__(&self) -> String {
        let s = self.status.borrow();
        format!("<rcclient.Source {} {:?}>", self.name, s.state)
    }
}
