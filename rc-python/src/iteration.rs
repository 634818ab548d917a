//! What `rcclient.Client` and `rcclient.Source` share as Python iterators: the error
//! policy (`errors=`), the recent errors, closing, and the Python methods (`for`, `async
//! for`, `receive`, `take`, the context managers), written once in `iteration_methods!`.
//! Each class says only how one item of its stream becomes a Python object ([`PyStream`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::Stream;
use pyo3::exceptions::{PyKeyboardInterrupt, PyStopAsyncIteration};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyList;
use recentchanges_core::state::Committer;
use tokio::runtime::Runtime;

use crate::change::{Delivery, PyRecentChange};
use crate::consumer::{self, Consumer, Positioned, Shared, Waiter};
use crate::errors::config_error;
use crate::filter::Node;
use crate::runtime::{shutdown, Owned};

/// The `errors=` policy for items that are not changes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Errors {
    /// Counted, kept in `recent_errors`, logged on the "rcclient" logger.
    Skip,
    /// Raised from the iteration, which goes on afterwards.
    Raise,
    /// Handed out as exception objects between the changes.
    Yield,
}

impl Errors {
    /// Reads the `errors=` argument.
    pub fn parse(py: Python<'_>, errors: &str) -> PyResult<Self> {
        match errors {
            "skip" => Ok(Errors::Skip),
            "raise" => Ok(Errors::Raise),
            "yield" => Ok(Errors::Yield),
            other => Err(config_error(
                py,
                format!("errors must be \"skip\", \"raise\" or \"yield\", not {other:?}"),
            )),
        }
    }
}

/// What one item of the stream becomes for the caller (raising is the `Err` beside it).
pub enum Outcome {
    Deliver(Py<PyAny>),
    Skip,
}

/// A change for the caller with how it came, unless the Python part of the filter (a
/// callable; the rest runs in Rust) drops it.
pub fn deliver(
    py: Python<'_>,
    rc: recentchanges_core::RecentChange,
    delivery: Delivery,
    filter: Option<&Node>,
) -> PyResult<Outcome> {
    let rc = Bound::new(
        py,
        PyRecentChange {
            rc,
            delivery: Some(Box::new(delivery)),
        },
    )?;
    match filter {
        Some(f) if !f.matches(py, &rc)? => Ok(Outcome::Skip),
        _ => Ok(Outcome::Deliver(rc.into_any().unbind())),
    }
}

/// What waiting for the next item gave.
enum Next {
    Item(Py<PyAny>),
    Timeout,
    End,
}

const RECENT_ERRORS: usize = 20;

/// Changes a `take` collected when Ctrl-C interrupted it, with the position before them.
struct Pending<P> {
    items: VecDeque<Py<PyAny>>,
    from: Option<P>,
}

/// The state every Python stream object keeps around its Rust stream.
pub struct Iteration<S: Stream + Unpin + Positioned> {
    rt: Owned,
    consumer: Shared<S>,
    errors: Errors,
    recent_errors: Mutex<VecDeque<Py<PyAny>>>,
    finished: AtomicBool,
    closed: AtomicBool,
    /// An error `take` met after it had items: raised by the next call instead, so the
    /// items are not lost with it.
    deferred: Mutex<Option<PyErr>>,
    /// What a `take` interrupted by Ctrl-C had collected: handed out first by the next
    /// call, and not counted in the position until then.
    pending: Mutex<Pending<S::Position>>,
    /// The position file (`resume=` a path), kept here rather than by the Rust stream:
    /// only this side knows what Python received. Committed when Python asks for more
    /// (what it received before is handled then), durably on close and when dropped.
    file: Option<Mutex<Committer>>,
}

/// A Python class over a Rust stream: how an item becomes a Python object, and how the
/// stream ends. `iteration_methods!` gives it the Python iteration methods.
pub trait PyStream: Sync {
    type Stream: Stream<Item = Self::Item> + Unpin + Send + Positioned + 'static;
    type Item: Send;

    fn iteration(&self) -> &Iteration<Self::Stream>;

    /// One item: a change to deliver, an error handled by [`Iteration::policy`], or
    /// `Err` to raise (after marking the end with [`Iteration::finish`] if it is fatal).
    fn process(&self, py: Python<'_>, item: Self::Item) -> PyResult<Outcome>;

    /// Called as the stream is taken away to be closed, to remember its position:
    /// `handed_out`, the position after the last item Python received (the stream's own
    /// may count items taken from it that Python never got).
    fn closing(&self, stream: &Self::Stream, handed_out: PositionOf<Self>);

    /// Ends the stream, outside the GIL with its runtime at hand.
    fn finish(rt: &Runtime, stream: Self::Stream);
}

/// The position type of a [`PyStream`]'s stream.
pub type PositionOf<T> = <<T as PyStream>::Stream as Positioned>::Position;

static PENDING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A name from the `rcclient._aio` helper module (asyncio glue).
pub fn aio<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell.import(py, "rcclient._aio", name).cloned()
}

impl<S: Stream + Unpin + Positioned> Iteration<S> {
    /// The position after the last item handed to Python (`None` once closed): the
    /// stream's, less what a `take` kept back or an async waiter stashed.
    pub fn handed_out_position(&self) -> Option<S::Position> {
        let kept = self.pending.lock().unwrap().from.clone();
        kept.or_else(|| self.consumer.lock().unwrap().handed_out_position())
    }

    /// Commits the position Python received to the position file (Python asks for more:
    /// what it received is handled).
    fn commit(&self) {
        if self.file.is_none() {
            return; // no file: no position to copy on every call
        }
        if let Some(position) = self.handed_out_position() {
            self.write(&position, false);
        }
    }

    /// Writes `position` to the position file, if there is one (durably when closing).
    fn write(&self, position: &S::Position, durable: bool) {
        let Some(file) = &self.file else { return };
        let mut file = file.lock().unwrap();
        let written = if durable {
            file.close(position)
        } else {
            file.commit(position)
        };
        if let Err(e) = written {
            tracing::error!(path = %file.path().display(), "cannot save the position: {e}");
        }
    }
}

impl<S: Stream + Unpin + Positioned> Drop for Iteration<S> {
    /// A stream dropped without `close()` (the object collected, the interpreter exiting)
    /// keeps what Python received, as `close()` does.
    fn drop(&mut self) {
        if self.file.is_some() && !self.closed.load(Ordering::SeqCst) {
            if let Some(position) = self.handed_out_position() {
                self.write(&position, true);
            }
        }
    }
}

impl<S: Stream + Unpin + Send + Positioned + 'static> Iteration<S>
where
    S::Item: Send,
{
    /// Iterates `stream`, committing what Python received to `resume_file` if given.
    pub fn new(
        rt: Arc<Runtime>,
        stream: S,
        errors: Errors,
        resume_file: Option<std::path::PathBuf>,
    ) -> Self {
        Iteration {
            file: resume_file.map(|p| Mutex::new(Committer::new(p))),
            rt: Owned::new(rt),
            consumer: Consumer::shared(stream),
            errors,
            recent_errors: Mutex::new(VecDeque::new()),
            finished: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            deferred: Mutex::new(None),
            pending: Mutex::new(Pending {
                items: VecDeque::new(),
                from: None,
            }),
        }
    }

    /// The first item a `take` kept back, if any.
    fn pop_pending(&self) -> Option<Py<PyAny>> {
        let mut p = self.pending.lock().unwrap();
        let item = p.items.pop_front();
        if p.items.is_empty() {
            p.from = None;
        }
        item
    }

    /// Keeps `items` (collected since `from`) for the next call.
    fn keep(&self, items: Vec<Py<PyAny>>, from: Option<S::Position>) {
        let mut p = self.pending.lock().unwrap();
        p.items = items.into();
        p.from = from;
    }

    /// Reads the stream while it is open (`None` once closed).
    pub fn with_stream<T>(&self, f: impl FnOnce(Option<&S>) -> T) -> T {
        f(self.consumer.lock().unwrap().stream.as_ref())
    }

    /// Items taken from the stream and not handed out yet: stashed by an async waiter,
    /// or kept back by a `take` that Ctrl-C interrupted.
    pub fn stashed(&self) -> usize {
        let kept = self.pending.lock().unwrap().items.len();
        kept + self.consumer.lock().unwrap().stashed()
    }

    /// Marks the end: the iteration stops after the current item.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Applies the `errors=` policy to an error item `exc` (an exception object): keeps
    /// it in `recent_errors`, then raises it, hands it out, or logs `message` at `level`
    /// on the "rcclient" logger and skips it.
    pub fn policy(
        &self,
        py: Python<'_>,
        exc: Bound<'_, PyAny>,
        level: &str,
        message: &str,
    ) -> PyResult<Outcome> {
        {
            let mut recent = self.recent_errors.lock().unwrap();
            if recent.len() == RECENT_ERRORS {
                recent.pop_front();
            }
            recent.push_back(exc.clone().unbind());
        }
        match self.errors {
            Errors::Raise => Err(PyErr::from_value(exc)),
            Errors::Yield => Ok(Outcome::Deliver(exc.unbind())),
            Errors::Skip => {
                let log = LOGGER
                    .import(py, "logging", "getLogger")?
                    .call1(("rcclient",))?;
                log.call_method1(level, ("%s", message))?;
                Ok(Outcome::Skip)
            }
        }
    }

    /// The last (up to 20) error items, newest last.
    pub fn recent_errors(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        let recent = self.recent_errors.lock().unwrap();
        recent.iter().map(|e| e.clone_ref(py)).collect()
    }

    fn take_deferred(&self) -> PyResult<()> {
        match self.deferred.lock().unwrap().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The next item for the caller, waiting until `deadline`.
fn next_item<T: PyStream>(t: &T, py: Python<'_>, deadline: Option<Instant>) -> PyResult<Next> {
    let it = t.iteration();
    if let Some(kept) = it.pop_pending() {
        return Ok(Next::Item(kept));
    }
    it.take_deferred()?;
    loop {
        if it.finished.load(Ordering::SeqCst) {
            return Ok(Next::End);
        }
        let Some(item) = consumer::wait_item(py, it.rt.get(), &it.consumer, deadline)? else {
            return Ok(Next::Timeout);
        };
        let Some(item) = item else {
            it.finish();
            return Ok(Next::End);
        };
        if let Outcome::Deliver(o) = t.process(py, item)? {
            return Ok(Next::Item(o));
        }
    }
}

/// `__next__` and `receive`: the next item, or None at the deadline or the end.
pub fn next_or_none<T: PyStream>(
    t: &T,
    py: Python<'_>,
    timeout: Option<f64>,
) -> PyResult<Option<Py<PyAny>>> {
    let deadline = consumer::deadline(timeout)?;
    t.iteration().commit();
    match next_item(t, py, deadline)? {
        Next::Item(o) => Ok(Some(o)),
        Next::Timeout | Next::End => Ok(None),
    }
}

/// `take`: up to `n` items; an error met after some items returns those first and is
/// raised by the next call. Ctrl-C (KeyboardInterrupt) met after some items raises at
/// once and keeps the items: the next call hands them out first, and until then the
/// position (and the position file `close()` saves) does not count them.
pub fn take<'py, T: PyStream>(
    t: &T,
    py: Python<'py>,
    n: usize,
    timeout: Option<f64>,
) -> PyResult<Bound<'py, PyList>> {
    let it = t.iteration();
    it.commit();
    let has_pending = !it.pending.lock().unwrap().items.is_empty();
    if !has_pending {
        it.take_deferred()?;
    }
    let deadline = consumer::deadline(timeout)?;
    // Where the stream stood before the first item this call collects.
    let from = it.handed_out_position();
    let mut out: Vec<Py<PyAny>> = Vec::new();
    while out.len() < n {
        match next_item(t, py, deadline) {
            Ok(Next::Item(o)) => out.push(o),
            Ok(Next::Timeout | Next::End) => break,
            Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => {
                if !out.is_empty() {
                    it.keep(out, from);
                }
                return Err(e);
            }
            Err(e) if out.is_empty() => return Err(e),
            Err(e) => {
                *it.deferred.lock().unwrap() = Some(e);
                break;
            }
        }
    }
    PyList::new(py, out)
}

/// The non-blocking step of `async for`: a processed item, or `rcclient._aio.PENDING`.
pub fn poll_ready<T: PyStream>(t: &T, py: Python<'_>) -> PyResult<Py<PyAny>> {
    let it = t.iteration();
    it.commit();
    if let Some(kept) = it.pop_pending() {
        return Ok(kept);
    }
    it.take_deferred()?;
    loop {
        if it.finished.load(Ordering::SeqCst) {
            return Err(PyStopAsyncIteration::new_err(()));
        }
        let Some(item) = consumer::poll_now(&it.consumer) else {
            return Ok(aio(py, &PENDING, "PENDING")?.unbind());
        };
        let Some(item) = item else {
            it.finish();
            return Err(PyStopAsyncIteration::new_err(()));
        };
        if let Outcome::Deliver(o) = t.process(py, item)? {
            return Ok(o);
        }
    }
}

/// Wakes `future` on `event_loop` once an item can be handed out.
pub fn arm<T: PyStream>(
    t: &T,
    py: Python<'_>,
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
) -> PyResult<Waiter> {
    let it = t.iteration();
    consumer::arm(py, it.rt.get(), &it.consumer, event_loop, future)
}

/// Closes the stream (idempotent): remembers what `closing` keeps, then ends the stream
/// and the runtime with the GIL released.
pub fn close<T: PyStream>(t: &T, py: Python<'_>) {
    let it = t.iteration();
    if it.closed.swap(true, Ordering::SeqCst) {
        return;
    }
    // Items kept back by a `take` or stashed for an async waiter are dropped: the
    // position saved is the one before them, so a resumed stream yields them again.
    let kept = {
        let mut p = it.pending.lock().unwrap();
        p.items.clear();
        p.from.take()
    };
    let (stream, handed_out) = {
        let mut c = it.consumer.lock().unwrap();
        c.ended = true;
        let rewound = kept.or_else(|| c.rewound_position());
        let stream = c.stream.take();
        let handed_out = stream.as_ref().map(|s| {
            let handed_out = rewound.unwrap_or_else(|| s.position_now());
            t.closing(s, handed_out.clone());
            handed_out
        });
        (stream, handed_out)
    };
    let rt = it.rt.take();
    py.detach(move || {
        if let Some(rt) = rt {
            if let Some(s) = stream {
                T::finish(&rt, s);
            }
            shutdown(rt);
        }
    });
    if let Some(position) = handed_out {
        it.write(&position, true);
    }
}

/// The Python methods of a [`PyStream`] class: iteration (sync and async), `receive`,
/// `take`, `close`, the context managers, `closed` and `recent_errors`.
macro_rules! iteration_methods {
    ($class:ty) => {
        #[::pyo3::pymethods]
        impl $class {
            fn __iter__(slf: ::pyo3::Bound<'_, Self>) -> ::pyo3::Bound<'_, Self> {
                slf
            }

            /// The next change (blocking; Ctrl-C raises KeyboardInterrupt).
            fn __next__(
                &self,
                py: ::pyo3::Python<'_>,
            ) -> ::pyo3::PyResult<Option<::pyo3::Py<::pyo3::PyAny>>> {
                $crate::iteration::next_or_none(self, py, None)
            }

            /// The next change, or None when `timeout` seconds pass first (or the stream
            /// has ended).
            #[pyo3(signature = (timeout = None))]
            fn receive(
                &self,
                py: ::pyo3::Python<'_>,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<Option<::pyo3::Py<::pyo3::PyAny>>> {
                $crate::iteration::next_or_none(self, py, timeout)
            }

            /// Up to `n` changes as a list: returns when it has `n`, when `timeout`
            /// seconds have passed (with what it got by then), or when the stream has
            /// ended. An error to raise (see `errors=`) met after some changes returns
            /// those first; the next call raises it. Ctrl-C raises KeyboardInterrupt at
            /// once and keeps what was collected: the next call (take, next, async for)
            /// returns it first; `position` and the position file do not count it until
            /// then.
            #[pyo3(signature = (n, timeout = None))]
            fn take<'py>(
                &self,
                py: ::pyo3::Python<'py>,
                n: usize,
                timeout: Option<f64>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::types::PyList>> {
                $crate::iteration::take(self, py, n, timeout)
            }

            fn __aiter__(slf: ::pyo3::Bound<'_, Self>) -> ::pyo3::Bound<'_, Self> {
                slf
            }

            fn __anext__<'py>(
                slf: ::pyo3::Bound<'py, Self>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                static ANEXT: ::pyo3::sync::PyOnceLock<::pyo3::Py<::pyo3::PyAny>> =
                    ::pyo3::sync::PyOnceLock::new();
                $crate::iteration::aio(slf.py(), &ANEXT, "anext")?.call1((slf,))
            }

            /// Non-blocking step of `async for`: an item, or `rcclient._aio.PENDING`.
            fn _poll_ready(
                &self,
                py: ::pyo3::Python<'_>,
            ) -> ::pyo3::PyResult<::pyo3::Py<::pyo3::PyAny>> {
                $crate::iteration::poll_ready(self, py)
            }

            /// Wakes `future` on `event_loop` once an item can be handed out; the item
            /// waits here, so cancelling the wait loses nothing.
            fn _arm(
                &self,
                py: ::pyo3::Python<'_>,
                event_loop: ::pyo3::Py<::pyo3::PyAny>,
                future: ::pyo3::Py<::pyo3::PyAny>,
            ) -> ::pyo3::PyResult<$crate::consumer::Waiter> {
                $crate::iteration::arm(self, py, event_loop, future)
            }

            /// Stops the stream: leaves its rooms or stops polling, closes its
            /// connections and saves the position file if there is one. Idempotent.
            fn close(&self, py: ::pyo3::Python<'_>) {
                $crate::iteration::close(self, py)
            }

            /// Whether close() was called.
            #[getter]
            fn closed(&self) -> bool {
                $crate::iteration::PyStream::iteration(self).is_closed()
            }

            /// The last (up to 20) error items, as exception objects, newest last.
            #[getter]
            fn recent_errors(&self, py: ::pyo3::Python<'_>) -> Vec<::pyo3::Py<::pyo3::PyAny>> {
                $crate::iteration::PyStream::iteration(self).recent_errors(py)
            }

            fn __enter__(slf: ::pyo3::Bound<'_, Self>) -> ::pyo3::Bound<'_, Self> {
                slf
            }

            #[pyo3(signature = (*_args))]
            fn __exit__(
                &self,
                py: ::pyo3::Python<'_>,
                _args: &::pyo3::Bound<'_, ::pyo3::types::PyTuple>,
            ) -> bool {
                $crate::iteration::close(self, py);
                false
            }

            fn __aenter__<'py>(
                slf: ::pyo3::Bound<'py, Self>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                static AENTER: ::pyo3::sync::PyOnceLock<::pyo3::Py<::pyo3::PyAny>> =
                    ::pyo3::sync::PyOnceLock::new();
                $crate::iteration::aio(slf.py(), &AENTER, "aenter")?.call1((slf,))
            }

            #[pyo3(signature = (*_args))]
            fn __aexit__<'py>(
                slf: ::pyo3::Bound<'py, Self>,
                _args: &::pyo3::Bound<'py, ::pyo3::types::PyTuple>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                static AEXIT: ::pyo3::sync::PyOnceLock<::pyo3::Py<::pyo3::PyAny>> =
                    ::pyo3::sync::PyOnceLock::new();
                $crate::iteration::aio(slf.py(), &AEXIT, "aexit")?.call1((slf,))
            }
        }
    };
}
pub(crate) use iteration_methods;
