//! `rcclient.Client`: recentchanges_xmpp's self-healing change stream as a Python iterator (sync and
//! async), with a tokio runtime in a background thread.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use recentchanges_xmpp::{
    ChangeStream, Client, ClientBuilder, Connection, ResumePosition, RoomChange, RoomState, Status,
    StreamError,
};
use tokio::sync::watch;

use crate::change::Delivery;
use crate::consumer::Positioned;
use crate::convert::{py_to_value, value_to_py};
use crate::errors::{config_error, stream_error_value};
use crate::filter::{node_of, Node};
use crate::iteration::{deliver, iteration_methods, Errors, Iteration, Outcome, PyStream};
use crate::runtime::{backpressure_of, history_of, new_runtime, reconnect_of, tls_of};

type Item = Result<RoomChange, StreamError>;

#[derive(Default)]
struct Counters {
    bad_payload: u64,
    invalid_stanza: u64,
    no_payload: u64,
    room: u64,
}

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
    iteration: Iteration<ChangeStream>,
    /// The position when the stream was closed.
    last_position: Mutex<Option<ResumePosition>>,
    status: watch::Receiver<Status>,
    /// The part of the filter that needs Python (callables); pure filters run in the driver.
    filter: Option<Node>,
    counters: Mutex<Counters>,
    rooms: Vec<String>,
    failed_rooms: Mutex<BTreeSet<String>>,
}

impl Positioned for ChangeStream {
    type Position = ResumePosition;

    fn position_now(&self) -> ResumePosition {
        self.position()
    }
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
            d.set_item("reason", reason.to_string())?;
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
    d.set_item("refetched", s.refetched)?;
    d.set_item("connections", s.connections)?;
    Ok(d)
}

impl PyStream for PyClient {
    type Stream = ChangeStream;
    type Item = Item;

    fn iteration(&self) -> &Iteration<ChangeStream> {
        &self.iteration
    }

    /// A change (if the Python part of the filter keeps it), or an error item by the
    /// `errors=` policy; a fatal error ends the iteration.
    fn process(&self, py: Python<'_>, item: Item) -> PyResult<Outcome> {
        let e = match item {
            Ok(RoomChange {
                change,
                room,
                stanza_id,
                replayed,
                sent_at,
                ..
            }) => {
                let delivery = Delivery {
                    room: room.to_string(),
                    stanza_id,
                    replayed,
                    sent_at,
                    kafka: None,
                };
                return deliver(py, change, delivery, self.filter.as_ref());
            }
            Err(e) => e,
        };
        let exc = stream_error_value(py, &e)?;
        {
            let mut c = self.counters.lock().unwrap();
            match &e {
                StreamError::Fatal(_) => {
                    self.iteration.finish();
                    return Err(PyErr::from_value(exc));
                }
                StreamError::BadPayload { .. } => c.bad_payload += 1,
                StreamError::NoPayload { .. } => c.no_payload += 1,
                StreamError::InvalidStanza { .. } => c.invalid_stanza += 1,
                StreamError::Room { room, .. } => {
                    c.room += 1;
                    self.failed_rooms.lock().unwrap().insert(room.to_string());
                }
                _ => {}
            }
        }
        let is_room = matches!(e, StreamError::Room { .. });
        let level = if is_room { "error" } else { "warning" };
        let outcome = self
            .iteration
            .policy(py, exc.clone(), level, &e.to_string())?;
        if matches!(outcome, Outcome::Skip) && is_room && self.all_rooms_failed() {
            // Nothing more can come: say so instead of waiting forever.
            self.iteration.finish();
            let msg = format!("every room failed; the last: {e}");
            let kwargs = PyDict::new(py);
            kwargs.set_item("room", exc.getattr("room")?)?;
            kwargs.set_item("reason", exc.getattr("reason")?)?;
            let all = crate::errors::room_error_class(py)?.call((msg,), Some(&kwargs))?;
            return Err(PyErr::from_value(all));
        }
        Ok(outcome)
    }

    fn closing(&self, _stream: &ChangeStream, handed_out: ResumePosition) {
        *self.last_position.lock().unwrap() = Some(handed_out);
    }

    fn finish(rt: &tokio::runtime::Runtime, stream: ChangeStream) {
        rt.block_on(async move {
            let _ = tokio::time::timeout(Duration::from_secs(6), stream.close()).await;
        });
    }
}

impl PyClient {
    fn all_rooms_failed(&self) -> bool {
        let failed = self.failed_rooms.lock().unwrap();
        self.rooms.iter().all(|r| failed.contains(r))
    }
}

iteration_methods!(PyClient);

#[pymethods]
impl PyClient {
    #[new]
    #[pyo3(signature = (jid = None, password = None, rooms = None, *, nick = None, anonymous = None,
        server = None, tls = None, history = None, resume = None, filter = None, errors = "skip",
        buffer = 10_000, backpressure = "wait", reconnect = None, keepalive = None,
        dedup_window = None, rejoin_delay = None, request_timeout = None))]
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
        request_timeout: Option<f64>,
    ) -> PyResult<Self> {
        let cfg = |e: recentchanges_xmpp::ConfigError| config_error(py, e.to_string());
        let errors = Errors::parse(py, errors)?;
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
                room.parse::<recentchanges_xmpp::BareJid>()
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
                crate::runtime::seconds_arg("keepalive[0] (idle)", idle)?,
                crate::runtime::seconds_arg("keepalive[1] (timeout)", timeout)?,
            );
        }
        if let Some(n) = dedup_window {
            b = b.dedup_window(n);
        }
        if let Some(t) = request_timeout {
            b = b.request_timeout(crate::runtime::seconds_arg("request_timeout", t)?);
        }
        if let Some(d) = rejoin_delay {
            b = b.rejoin_delay(crate::runtime::seconds_arg("rejoin_delay", d)?);
        }
        let mut resume_file = None;
        if let Some(r) = resume {
            if !r.is_none() {
                if let Ok(path) = r.extract::<std::path::PathBuf>() {
                    // The file stays on this side (see `Iteration`): the stream only
                    // starts from what it holds.
                    let position = ResumePosition::load(&path).map_err(|e| {
                        config_error(py, format!("resume file {}: {e}", path.display()))
                    })?;
                    b = b.resume(position);
                    resume_file = Some(path);
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
        let rt = new_runtime(py, "rcclient-client")?;
        let stream = {
            let _guard = rt.enter();
            b.connect().map_err(cfg)?
        };
        let status = stream.status();
        Ok(PyClient {
            iteration: Iteration::new(rt, stream, errors, resume_file),
            last_position: Mutex::new(None),
            status,
            filter: python_filter,
            counters: Mutex::new(Counters::default()),
            rooms: room_names,
            failed_rooms: Mutex::new(BTreeSet::new()),
        })
    }

    /// The client's state as a dict: "connection" ("connecting", "online", "reconnecting",
    /// "disconnected", "failed", "closed") with "jid" or "reason", "rooms" (room JID ->
    /// {"state": "joining"|"joined"|"rejoining"|"failed", "nick", "recovered", "reason"}),
    /// counters "recovered", "dropped", "duplicates", "refetched", "connections",
    /// "buffered", and "errors" ({"bad_payload", "no_payload", "invalid_stanza", "room"}:
    /// items that were not changes).
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
        self.iteration.stashed() + self.iteration.with_stream(|s| s.map_or(0, |s| s.backlog()))
    }

    /// Where the stream stands: `{"rooms": {room: {"stanza_id": ..., "time": "RFC 3339"}}}`,
    /// the position after the last item this client yielded. JSON-ready: store it and pass
    /// it as `resume=` in a later process to continue exactly there.
    #[getter]
    fn position<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pos = match self.iteration.handed_out_position() {
            Some(p) => p,
            None => self
                .last_position
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_default(),
        };
        let value = serde_json::to_value(&pos).unwrap_or(serde_json::Value::Null);
        value_to_py(py, &value)
    }

    /// Waits until every room is joined (True) or one has failed, or `timeout` passes
    /// (False). Handy before publishing in tests; iterating needs no such wait.
    #[pyo3(signature = (timeout = 10.0))]
    fn wait_until_joined(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let deadline = crate::runtime::instant_after(crate::consumer::wait_arg(timeout)?);
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
