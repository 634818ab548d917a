//! The Rust side's log (`tracing` events of rc-xmpp, rc-http...) on Python's `logging`:
//! an event of target `recentchanges_xmpp::room::driver` becomes a record of the logger
//! `rcclient.xmpp.room.driver`, so `logging.getLogger("rcclient")` sees reconnects, rejoins
//! and refused items next to the module's own records.
//!
//! The thread that emits an event never waits for the GIL (it may hold a lock a Python
//! thread waits for): events go through a bounded channel to one `rcclient-log` thread,
//! which is the only one that takes the GIL to log them. Only events at or above the
//! level of the "rcclient" logger are sent (read when a Client, Source or Publisher is
//! made, and after each record); when the channel is full, records are counted and a
//! line says how many were lost.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::OnceLock;

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// Records waiting for the log thread, at the most.
const QUEUE: usize = 1024;

/// Python's numeric levels.
const DEBUG: usize = 10;
const INFO: usize = 20;
const WARNING: usize = 30;
const ERROR: usize = 40;

/// The "rcclient" logger's effective level (Python's number).
static THRESHOLD: AtomicUsize = AtomicUsize::new(WARNING);
static LOST: AtomicU64 = AtomicU64::new(0);
static SENDER: OnceLock<SyncSender<Line>> = OnceLock::new();

struct Line {
    level: usize,
    logger: String,
    message: String,
}

fn python_level(level: &Level) -> usize {
    match *level {
        Level::ERROR => ERROR,
        Level::WARN => WARNING,
        Level::INFO => INFO,
        // Python has no TRACE: both are DEBUG (rc crates log nothing at TRACE).
        _ => DEBUG,
    }
}

/// Installs the bridge (once per process; a no-op if another global subscriber is set).
pub fn install(py: Python<'_>) {
    refresh(py);
    if SENDER.get().is_some() {
        return;
    }
    let (tx, rx) = sync_channel(QUEUE);
    if SENDER.set(tx).is_err() {
        return;
    }
    if tracing::subscriber::set_global_default(ToPython).is_err() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("rcclient-log".into())
        .spawn(move || drain(rx));
}

/// Reads the "rcclient" logger's level again (call with the GIL, e.g. on creating a
/// client), so records newly enabled in Python start flowing.
pub fn refresh(py: Python<'_>) {
    if let Some(level) = effective_level(py) {
        THRESHOLD.store(level, Ordering::Relaxed);
    }
}

fn effective_level(py: Python<'_>) -> Option<usize> {
    py.import("logging")
        .and_then(|l| l.call_method1("getLogger", ("rcclient",)))
        .and_then(|l| l.call_method0("getEffectiveLevel"))
        .and_then(|l| l.extract())
        .ok()
}

/// The log thread: the only one that takes the GIL for logging.
fn drain(rx: Receiver<Line>) {
    while let Ok(line) = rx.recv() {
        let lost = LOST.swap(0, Ordering::Relaxed);
        // None: the interpreter is gone or going; nobody reads logs any more.
        let attached = Python::try_attach(|py| {
            let logging = py.import("logging")?;
            if lost > 0 {
                let log = logging.call_method1("getLogger", ("rcclient",))?;
                let text = format!(
                    "{lost} log records from the network thread were lost (the log queue was full)"
                );
                log.call_method1("log", (WARNING, "%s", text))?;
            }
            let log = logging.call_method1("getLogger", (line.logger.as_str(),))?;
            log.call_method1("log", (line.level, "%s", line.message.as_str()))?;
            if let Some(level) = effective_level(py) {
                THRESHOLD.store(level, Ordering::Relaxed);
            }
            PyResult::Ok(())
        });
        if attached.is_none() {
            return;
        }
    }
}

/// The global `tracing` subscriber: formats each enabled event and queues it.
struct ToPython;

impl Subscriber for ToPython {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The Python level can change at any time: ask `enabled` every time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && python_level(metadata.level()) >= THRESHOLD.load(Ordering::Relaxed)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Spans are not forwarded (the crates use none); every span gets the same id.
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let Some(tx) = SENDER.get() else { return };
        let meta = event.metadata();
        let mut text = Text::default();
        event.record(&mut text);
        let line = Line {
            level: python_level(meta.level()),
            logger: logger_name(meta.target()),
            message: text.finish(),
        };
        if let Err(TrySendError::Full(_)) = tx.try_send(line) {
            LOST.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event as one line: its message, then `name=value` for each other field.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Text {
    fn finish(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} ({})", self.message, self.fields),
        }
    }

    fn field(&mut self, name: &str, value: std::fmt::Arguments<'_>) {
        if name == "message" {
            let _ = self.message.write_fmt(value);
            return;
        }
        if !self.fields.is_empty() {
            self.fields.push_str(", ");
        }
        let _ = write!(self.fields, "{name}={value}");
    }
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field.name(), format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.field(field.name(), format_args!("{value:?}"));
    }
}

/// The Python logger of a tracing target: `recentchanges_xmpp::room::driver` ->
/// `rcclient.xmpp.room.driver`, `recentchanges::source::run` -> `rcclient.source.run` (the
/// crates' common prefix dropped, `::` as `.`).
fn logger_name(target: &str) -> String {
    let short = target
        .strip_prefix("recentchanges_")
        .or_else(|| target.strip_prefix("recentchanges::"))
        .unwrap_or(target);
    format!("rcclient.{}", short.replace("::", "."))
}
