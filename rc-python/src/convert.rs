//! JSON values (`extra`, `log_params`, positions) to Python objects and back.

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, Utc};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyDateTime, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple,
};
use pyo3::IntoPyObjectExt;
use serde_json::{Map, Number, Value};

/// A JSON value as the Python value `json.loads` would give.
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_bound_py_any(py)
            } else if let Some(u) = n.as_u64() {
                u.into_bound_py_any(py)
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)
            }
        }
        Value::String(s) => Ok(PyString::new(py, s).into_any()),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            Ok(list.into_any())
        }
        Value::Object(map) => Ok(map_to_py(py, map)?.into_any()),
    }
}

/// A JSON object as a `dict`.
pub fn map_to_py<'py>(py: Python<'py>, map: &Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in map {
        dict.set_item(k, value_to_py(py, v)?)?;
    }
    Ok(dict)
}

/// A Python value as JSON: `None`, bools, ints, floats, strings, lists, tuples, mappings
/// with string keys, and datetimes (as RFC 3339 UTC text; naive ones are taken as UTC).
pub fn py_to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(PyTypeError::new_err(format!(
            "integer {obj} does not fit in 64 bits"
        )));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| PyTypeError::new_err("NaN and infinities have no JSON form"));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if obj.is_instance_of::<PyDateTime>() {
        return Ok(Value::String(rfc3339(&datetime_utc(obj)?)));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .map(|i| py_to_value(&i))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|i| py_to_value(&i))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in dict.iter() {
            map.insert(key(&k)?, py_to_value(&v)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(mapping) = obj.cast::<PyMapping>() {
        let mut map = Map::new();
        for item in mapping.items()?.iter() {
            let (k, v): (Bound<PyAny>, Bound<PyAny>) = item.extract()?;
            map.insert(key(&k)?, py_to_value(&v)?);
        }
        return Ok(Value::Object(map));
    }
    Err(PyTypeError::new_err(format!(
        "cannot use a {} value here (expected None, bool, int, float, str, datetime, list or dict)",
        obj.get_type().name()?
    )))
}

fn key(k: &Bound<'_, PyAny>) -> PyResult<String> {
    k.cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("dictionary keys must be strings"))?
        .to_cow()
        .map(|c| c.into_owned())
}

/// A `datetime` as UTC; a naive one is taken to be UTC already.
pub fn datetime_utc(obj: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    let tz = obj.getattr("tzinfo")?;
    if tz.is_none() {
        let naive: NaiveDateTime = obj.extract()?;
        Ok(naive.and_utc())
    } else {
        let aware: DateTime<FixedOffset> = obj.extract()?;
        Ok(aware.with_timezone(&Utc))
    }
}

/// RFC 3339 in UTC with a `Z`, the way rc-core writes timestamps.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
