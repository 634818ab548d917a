//! `rcclient.parse` and `rcclient.parse_many`.

use std::borrow::Cow;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString};
use recentchanges_core::{ParseError, RecentChange};

use crate::change::PyRecentChange;
use crate::errors::parse_error;

/// The bytes of a `str` (as UTF-8), `bytes`, `bytearray` or `memoryview`.
pub fn input_bytes<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(match s.to_cow()? {
            Cow::Borrowed(s) => Cow::Owned(s.as_bytes().to_vec()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        });
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    if let Ok(v) = obj.extract::<Vec<u8>>() {
        if !obj.is_instance_of::<PyList>() {
            return Ok(Cow::Owned(v));
        }
    }
    Err(PyTypeError::new_err(format!(
        "expected str or bytes holding a change, got {}",
        obj.get_type().name()?
    )))
}

#[derive(Clone, Copy)]
enum Form {
    Any,
    Rc,
    RecentChange,
    Json,
    Atom,
}

fn form_of(form: Option<&str>) -> PyResult<Form> {
    Ok(match form {
        None | Some("auto") => Form::Any,
        Some("rc") => Form::Rc,
        Some("recentchange") => Form::RecentChange,
        Some("json") => Form::Json,
        Some("atom") => Form::Atom,
        Some(other) => {
            return Err(PyValueError::new_err(format!(
            "unknown form {other:?}: expected None, \"rc\", \"recentchange\", \"json\" or \"atom\""
        )))
        }
    })
}

fn parse_bytes(form: Form, input: &[u8]) -> Result<RecentChange, ParseError> {
    match form {
        Form::Any => recentchanges_core::parse(input),
        Form::Rc => recentchanges_core::parse_rc(input),
        Form::RecentChange => recentchanges_core::parse_recentchange(input),
        Form::Json => recentchanges_core::parse_json(input),
        Form::Atom => recentchanges_core::parse_atom(input),
    }
}

/// Parses one change written in any of MediaWiki's three forms: the API / XMLRC `<rc>`
/// element, the RC feed `<recentchange>` element, or the RC feed / EventStreams JSON object;
/// or an Atom `<entry>` (DokuWiki's PubSub payload).
///
/// `data` is str or bytes. `form` forces one form ("rc", "recentchange", "json", "atom") instead of
/// telling them apart. Raises `rcclient.ParseError` (a ValueError) saying what is wrong.
#[pyfunction]
#[pyo3(signature = (data, *, form = None))]
pub fn parse(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    form: Option<&str>,
) -> PyResult<PyRecentChange> {
    let form = form_of(form)?;
    let bytes = input_bytes(data)?;
    let result = if bytes.len() > 16 * 1024 {
        py.detach(|| parse_bytes(form, &bytes))
    } else {
        parse_bytes(form, &bytes)
    };
    result
        .map(PyRecentChange::new)
        .map_err(|e| parse_error(py, &e, None))
}

/// Below this many items a batch is parsed on the calling thread alone.
const PARALLEL_MIN: usize = 256;

/// Parses every input, split over the machine's cores for large batches; results keep the
/// inputs' order.
fn parse_all(form: Form, inputs: &[Cow<'_, [u8]>]) -> Vec<Result<RecentChange, ParseError>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if threads <= 1 || inputs.len() < PARALLEL_MIN {
        return inputs.iter().map(|b| parse_bytes(form, b)).collect();
    }
    let chunk = inputs.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = inputs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|b| parse_bytes(form, b))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("a parser thread panicked"))
            .collect()
    })
}

/// Parses many changes at once and returns a list. The parsing runs with the GIL released,
/// spread over the machine's cores for large batches.
///
/// `errors` says what a malformed item does: "raise" (the default) raises ParseError
/// naming the item's index, "skip" leaves it out, "none" puts None in its place.
#[pyfunction]
#[pyo3(signature = (items, *, form = None, errors = "raise"))]
pub fn parse_many<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    form: Option<&str>,
    errors: &str,
) -> PyResult<Bound<'py, PyList>> {
    let form = form_of(form)?;
    #[derive(Clone, Copy, PartialEq)]
    enum OnError {
        Raise,
        Skip,
        None,
    }
    let on_error = match errors {
        "raise" => OnError::Raise,
        "skip" => OnError::Skip,
        "none" => OnError::None,
        other => {
            return Err(PyValueError::new_err(format!(
                "errors must be \"raise\", \"skip\" or \"none\", not {other:?}"
            )))
        }
    };
    let objects: Vec<Bound<'py, PyAny>> = items.try_iter()?.collect::<PyResult<_>>()?;
    let inputs: Vec<Cow<'_, [u8]>> = objects.iter().map(input_bytes).collect::<PyResult<_>>()?;
    // Bytes objects are immutable and `objects` keeps them alive: their buffers can be read
    // without the GIL.
    let results: Vec<Result<RecentChange, ParseError>> = py.detach(|| parse_all(form, &inputs));
    drop(inputs);
    let list = PyList::empty(py);
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(rc) => list.append(Bound::new(py, PyRecentChange::new(rc))?)?,
            Err(e) => match on_error {
                OnError::Raise => return Err(parse_error(py, &e, Some(&format!("item {i}")))),
                OnError::Skip => {}
                OnError::None => list.append(py.None())?,
            },
        }
    }
    Ok(list)
}
