//! The consumer's side of a Rust stream, shared by the Python iterators (`Client`,
//! `Source`): blocking waits in slices that let Ctrl-C through, and the wake-up of an
//! asyncio future once an item is ready.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::Stream;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

use crate::runtime::SLICE;

/// A stream that says where it stands: the position after the last item it yielded.
pub trait Positioned {
    type Position: Clone + Send + serde::Serialize + 'static;

    fn position_now(&self) -> Self::Position;
}

/// A stream and the items an async waiter took from it but did not hand out yet. Locked
/// only while polling, never while waiting, so status and position can be read any time.
pub struct Consumer<S: Stream + Unpin + Positioned> {
    pub stream: Option<S>,
    stash: VecDeque<S::Item>,
    /// The stream's position before the first stashed item: what Python received.
    before_stash: Option<S::Position>,
    pub ended: bool,
}

/// A consumer shared between the Python object and the runtime's tasks.
pub type Shared<S> = Arc<Mutex<Consumer<S>>>;

impl<S: Stream + Unpin + Positioned> Consumer<S> {
    pub fn shared(stream: S) -> Shared<S> {
        Arc::new(Mutex::new(Consumer {
            stream: Some(stream),
            stash: VecDeque::new(),
            before_stash: None,
            ended: false,
        }))
    }

    /// The position after the last item handed out of the consumer: the stream's, or the
    /// one it had before the items stashed for an async waiter (`None` once closed).
    pub fn handed_out_position(&self) -> Option<S::Position> {
        if let Some(p) = &self.before_stash {
            return Some(p.clone());
        }
        self.stream.as_ref().map(S::position_now)
    }

    /// The position before the stashed items, if there are any.
    pub fn rewound_position(&self) -> Option<S::Position> {
        self.before_stash.clone()
    }

    /// Items taken from the stream and not handed out.
    pub fn stashed(&self) -> usize {
        self.stash.len()
    }

    pub fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if let Some(item) = self.stash.pop_front() {
            if self.stash.is_empty() {
                self.before_stash = None;
            }
            return Poll::Ready(Some(item));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(stream).poll_next(cx) {
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            other => other,
        }
    }

    /// Ready once an item (or the end) can be handed out without waiting.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.stash.is_empty() || self.ended {
            return Poll::Ready(());
        }
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(());
        };
        let before = stream.position_now();
        match Pin::new(stream).poll_next(cx) {
            Poll::Ready(Some(item)) => {
                self.before_stash = Some(before);
                self.stash.push_back(item);
                Poll::Ready(())
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An item if one is ready now (`Some(None)`: the stream ended), without waiting.
pub fn poll_now<S: Stream + Unpin + Positioned>(consumer: &Shared<S>) -> Option<Option<S::Item>> {
    let mut cx = Context::from_waker(Waker::noop());
    match consumer.lock().unwrap().poll_item(&mut cx) {
        Poll::Ready(item) => Some(item),
        Poll::Pending => None,
    }
}

/// Waits for an item until `deadline`, in slices, checking for Ctrl-C between them, with
/// the GIL released. `None`: the deadline passed; `Some(None)`: the stream ended (or the
/// runtime is gone).
pub fn wait_item<S>(
    py: Python<'_>,
    rt: Option<Arc<Runtime>>,
    consumer: &Shared<S>,
    deadline: Option<Instant>,
) -> PyResult<Option<Option<S::Item>>>
where
    S: Stream + Unpin + Send + Positioned + 'static,
    S::Item: Send,
{
    loop {
        if let Some(item) = poll_now(consumer) {
            return Ok(Some(item));
        }
        let slice = match deadline {
            None => SLICE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                left.min(SLICE)
            }
        };
        let Some(rt) = rt.clone() else {
            return Ok(Some(None));
        };
        let consumer = consumer.clone();
        let got = py.detach(move || {
            rt.block_on(async move {
                tokio::time::timeout(slice, poll_fn(|cx| consumer.lock().unwrap().poll_item(cx)))
                    .await
                    .ok()
            })
        });
        match got {
            Some(item) => return Ok(Some(item)),
            None => py.check_signals()?,
        }
    }
}

/// The wait of `wait_until_joined(timeout)` / `flush(timeout)`: NaN and negative numbers
/// are a ValueError naming `timeout`; an infinite or huge one waits as long as it takes.
pub fn wait_arg(timeout: f64) -> PyResult<Duration> {
    if timeout.is_nan() || timeout < 0.0 {
        return Err(PyValueError::new_err(format!(
            "timeout must be >= 0 seconds, not {timeout}"
        )));
    }
    Ok(Duration::try_from_secs_f64(timeout).unwrap_or(Duration::MAX))
}

/// The deadline of a `timeout` in seconds (None: no deadline).
pub fn deadline(timeout: Option<f64>) -> PyResult<Option<Instant>> {
    match timeout {
        None => Ok(None),
        Some(t) if t.is_finite() && (0.0..=crate::runtime::MAX_SECONDS).contains(&t) => Ok(Some(
            crate::runtime::instant_after(crate::runtime::seconds_arg("timeout", t)?),
        )),
        Some(t) => Err(PyValueError::new_err(format!(
            "timeout must be a number of seconds from 0 to {:e} (or None: no limit), not {t}",
            crate::runtime::MAX_SECONDS
        ))),
    }
}

static WAKE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Wakes `future` on `event_loop` once an item can be handed out; the item waits in the
/// consumer, so cancelling the wait loses nothing.
pub fn arm<S>(
    py: Python<'_>,
    rt: Option<Arc<Runtime>>,
    consumer: &Shared<S>,
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
) -> PyResult<Waiter>
where
    S: Stream + Unpin + Send + Positioned + 'static,
    S::Item: Send,
{
    let wake = WAKE.import(py, "rcclient._aio", "_wake")?.clone().unbind();
    let Some(rt) = rt else {
        event_loop.call_method1(py, "call_soon", (wake, future))?;
        return Ok(Waiter { abort: None });
    };
    let consumer = consumer.clone();
    let task = rt.spawn(async move {
        poll_fn(|cx| consumer.lock().unwrap().poll_ready(cx)).await;
        Python::attach(|py| {
            // The loop may be closed by now; then nobody waits.
            let _ = event_loop.call_method1(py, "call_soon_threadsafe", (wake, future));
        });
    });
    Ok(Waiter {
        abort: Some(task.abort_handle()),
    })
}

/// A pending async wait; cancel() stops it.
#[pyclass(module = "rcclient._rcclient", frozen)]
pub struct Waiter {
    abort: Option<AbortHandle>,
}

#[pymethods]
impl Waiter {
    fn cancel(&self) {
        if let Some(a) = &self.abort {
            a.abort();
        }
    }
}
