//! The tokio runtime each Client and Publisher owns: one background thread that runs the
//! connection, while Python threads wait on it with the GIL released.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use recentchanges_xmpp::{Backpressure, History, ReconnectPolicy, Tls};
use tokio::runtime::Runtime;

use crate::convert::datetime_utc;
use crate::errors::config_error;

/// How long a blocking wait runs without the GIL before it checks for Ctrl-C.
pub const SLICE: Duration = Duration::from_millis(100);

/// The runtime for a new network thread. The "rcclient" logger's level is read again
/// first, so what the thread logs at that level reaches Python's `logging`.
pub fn new_runtime(py: Python<'_>, name: &str) -> PyResult<Arc<Runtime>> {
    crate::logging::refresh(py);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the network thread: {e}")))
}

/// A runtime that can be taken away once (on close).
pub struct Owned(Mutex<Option<Arc<Runtime>>>);

impl Owned {
    pub fn new(rt: Arc<Runtime>) -> Self {
        Owned(Mutex::new(Some(rt)))
    }

    pub fn get(&self) -> Option<Arc<Runtime>> {
        self.0.lock().unwrap().clone()
    }

    pub fn take(&self) -> Option<Arc<Runtime>> {
        self.0.lock().unwrap().take()
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // Never wait here: the object may be collected while holding the GIL, and the
        // runtime's thread may be waiting for it.
        if let Some(rt) = self.0.get_mut().unwrap().take() {
            if let Ok(rt) = Arc::try_unwrap(rt) {
                rt.shutdown_background();
            }
        }
    }
}

/// Shuts a runtime down, waiting a little for its tasks. Call without the GIL.
pub fn shutdown(rt: Arc<Runtime>) {
    if let Ok(rt) = Arc::try_unwrap(rt) {
        rt.shutdown_timeout(Duration::from_secs(2));
    }
}

/// `tls=`: "required" (default), "plaintext-loopback", or a CA file path (or a list of them)
/// to trust besides the system's roots.
pub fn tls_of(py: Python<'_>, tls: Option<&Bound<'_, PyAny>>) -> PyResult<Tls> {
    let Some(tls) = tls else {
        return Ok(Tls::Required);
    };
    if tls.is_none() {
        return Ok(Tls::Required);
    }
    if let Ok(s) = tls.extract::<String>() {
        return Ok(match s.as_str() {
            "required" | "starttls" => Tls::Required,
            "plaintext-loopback" | "plaintext" => Tls::PlaintextLoopback,
            path => Tls::RequiredWithRoots(vec![path.into()]),
        });
    }
    if let Ok(path) = tls.extract::<std::path::PathBuf>() {
        return Ok(Tls::RequiredWithRoots(vec![path]));
    }
    if let Ok(paths) = tls.extract::<Vec<std::path::PathBuf>>() {
        return Ok(Tls::RequiredWithRoots(paths));
    }
    Err(config_error(
        py,
        "tls must be \"required\", \"plaintext-loopback\" or the path of a CA certificate (PEM)",
    ))
}

/// The longest float-seconds argument taken (about 31 years): beyond it, a ValueError.
pub const MAX_SECONDS: f64 = 1e9;

/// A float-seconds argument (`name` as the caller wrote it, e.g. `reconnect["max"]`) as a
/// `Duration`: NaN, infinities, negative numbers and more than [`MAX_SECONDS`] raise a
/// ValueError that names the argument, never a panic (`Duration::from_secs_f64` panics on
/// them).
pub fn seconds_arg(name: &str, v: f64) -> PyResult<Duration> {
    if v.is_finite() && (0.0..=MAX_SECONDS).contains(&v) {
        if let Ok(d) = Duration::try_from_secs_f64(v) {
            return Ok(d);
        }
    }
    Err(pyo3::exceptions::PyValueError::new_err(format!(
        "{name} must be a number of seconds from 0 to {MAX_SECONDS:e}, not {v}"
    )))
}

/// `now + d` without the panic of `Instant + Duration` on overflow (far in the future then).
pub fn instant_after(d: Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86400 * 365 * 30)))
        .unwrap_or(now)
}

/// `reconnect=`: a dict with any of initial, max (seconds), factor, jitter, max_attempts.
pub fn reconnect_of(obj: &Bound<'_, PyAny>) -> PyResult<ReconnectPolicy> {
    let mut p = ReconnectPolicy::default();
    let get = |k: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        match obj.get_item(k) {
            Ok(v) if !v.is_none() => Ok(Some(v)),
            Ok(_) => Ok(None),
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyKeyError>(obj.py()) => Ok(None),
            Err(e) => Err(e),
        }
    };
    if let Some(v) = get("initial")? {
        p.initial = seconds_arg("reconnect[\"initial\"]", v.extract()?)?;
    }
    if let Some(v) = get("max")? {
        p.max = seconds_arg("reconnect[\"max\"]", v.extract()?)?;
    }
    if let Some(v) = get("factor")? {
        let f: f64 = v.extract()?;
        if !(f.is_finite() && (1.0..=1000.0).contains(&f)) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "reconnect[\"factor\"] must be a number from 1 to 1000, not {f}"
            )));
        }
        p.factor = f;
    }
    if let Some(v) = get("jitter")? {
        let j: f64 = v.extract()?;
        if !(j.is_finite() && (0.0..=1.0).contains(&j)) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "reconnect[\"jitter\"] must be a number from 0 to 1, not {j}"
            )));
        }
        p.jitter = j;
    }
    if let Some(v) = get("max_attempts")? {
        p.max_attempts = Some(v.extract()?);
    }
    Ok(p)
}

/// `history=`: None (only new changes), an int (the last n messages) or a datetime (since).
pub fn history_of(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<History> {
    let Some(obj) = obj else {
        return Ok(History::None);
    };
    if obj.is_none() {
        return Ok(History::None);
    }
    if let Ok(n) = obj.extract::<u32>() {
        return Ok(History::Last(n));
    }
    if obj.is_instance_of::<pyo3::types::PyDateTime>() {
        return Ok(History::Since(datetime_utc(obj)?));
    }
    Err(config_error(
        py,
        "history must be None, a number of messages, or a datetime",
    ))
}

/// `backpressure=`: "wait" (default) or "drop-oldest".
pub fn backpressure_of(py: Python<'_>, s: &str) -> PyResult<Backpressure> {
    match s {
        "wait" => Ok(Backpressure::Wait),
        "drop-oldest" | "drop_oldest" => Ok(Backpressure::DropOldest),
        other => Err(config_error(
            py,
            format!("backpressure must be \"wait\" or \"drop-oldest\", not {other:?}"),
        )),
    }
}
