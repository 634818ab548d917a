//! The exception classes live in `rcclient/_errors.py` (so they can have several bases,
//! like `ParseError(Error, ValueError)`); Rust looks them up once and raises them.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use recentchanges_core::{Form, ParseError};
use recentchanges_xmpp::{Fatal, StreamError};

macro_rules! classes {
    ($($fn_name:ident => $class:literal),* $(,)?) => {
        $(
            pub fn $fn_name(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
                static CELL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
                CELL.import(py, "rcclient._errors", $class)
            }
        )*
    };
}

classes! {
    parse_error_class => "ParseError",
    config_error_class => "ConfigError",
    connection_error_class => "ConnectionError",
    payload_error_class => "PayloadError",
    no_payload_class => "NoPayload",
    room_error_class => "RoomError",
    publish_error_class => "PublishError",
    stream_error_class => "StreamError",
}

fn form_name(form: Form) -> &'static str {
    match form {
        Form::RcXml => "rc",
        Form::FeedXml => "recentchange",
        Form::FeedJson => "json",
        Form::Atom => "atom",
    }
}

/// `(form, offset)` of a parse error, when it says.
fn where_(e: &ParseError) -> (Option<&'static str>, Option<u64>) {
    match e {
        ParseError::Syntax { form, offset, .. } | ParseError::Dtd { form, offset } => {
            (Some(form_name(*form)), Some(*offset))
        }
        ParseError::WrongRoot { form, .. } | ParseError::Missing { form, .. } => {
            (Some(form_name(*form)), None)
        }
        ParseError::Invalid { form, offset, .. } => (Some(form_name(*form)), *offset),
        ParseError::NotUtf8 { offset } => (None, Some(*offset as u64)),
        _ => (None, None),
    }
}

/// The exception instance for a parse error, its message prefixed with `context`.
pub fn parse_error_value<'py>(
    py: Python<'py>,
    e: &ParseError,
    context: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let message = match context {
        Some(c) => format!("{c}: {e}"),
        None => e.to_string(),
    };
    let (form, offset) = where_(e);
    let kwargs = PyDict::new(py);
    kwargs.set_item("form", form)?;
    kwargs.set_item("offset", offset)?;
    parse_error_class(py)?.call((message,), Some(&kwargs))
}

/// A parse error as a `rcclient.ParseError`.
pub fn parse_error(py: Python<'_>, e: &ParseError, context: Option<&str>) -> PyErr {
    match parse_error_value(py, e, context) {
        Ok(v) => PyErr::from_value(v),
        Err(err) => err,
    }
}

/// A configuration problem as a `rcclient.ConfigError`.
pub fn config_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    match config_error_class(py).and_then(|c| c.call1((message.into(),))) {
        Ok(v) => PyErr::from_value(v),
        Err(err) => err,
    }
}

/// A stream item that is not a change, as an exception instance (not raised).
pub fn stream_error_value<'py>(py: Python<'py>, e: &StreamError) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    let message = e.to_string();
    match e {
        StreamError::BadPayload {
            room,
            stanza_id,
            error,
        } => {
            kwargs.set_item("room", room.as_str())?;
            kwargs.set_item("stanza_id", stanza_id.as_deref())?;
            kwargs.set_item("parse_error", parse_error_value(py, error, None)?)?;
            payload_error_class(py)?.call((message,), Some(&kwargs))
        }
        StreamError::InvalidStanza { room, .. } => {
            kwargs.set_item("room", room.as_str())?;
            payload_error_class(py)?.call((message,), Some(&kwargs))
        }
        StreamError::NoPayload { room, body } => {
            kwargs.set_item("room", room.as_str())?;
            kwargs.set_item("body", body.as_deref())?;
            no_payload_class(py)?.call((message,), Some(&kwargs))
        }
        StreamError::Room { room, error } => {
            kwargs.set_item("room", room.as_str())?;
            kwargs.set_item("reason", error.to_string())?;
            room_error_class(py)?.call((message,), Some(&kwargs))
        }
        StreamError::Fatal(fatal) => {
            let kind = match fatal {
                Fatal::Auth { .. } => "auth",
                Fatal::NoTls => "no-tls",
                Fatal::RetriesExhausted { .. } => "retries-exhausted",
                _ => "other",
            };
            kwargs.set_item("kind", kind)?;
            connection_error_class(py)?.call((message,), Some(&kwargs))
        }
        _ => stream_error_class(py)?.call1((message,)),
    }
}
