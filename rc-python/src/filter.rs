//! `rcclient.Filter`: rc-core's filters, plus Python callables anywhere a filter goes.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use recentchanges_core::{Filter, Kind};

use crate::change::PyRecentChange;

/// A filter tree: pure rc-core parts run anywhere (also inside the client's network task),
/// parts with Python callables run where the GIL is.
#[derive(Clone)]
pub enum Node {
    Core(Filter),
    Call(Arc<Py<PyAny>>),
    Any(Vec<Node>),
    All(Vec<Node>),
    None(Vec<Node>),
}

impl Node {
    /// The same filter without Python, if it has no callables.
    pub fn to_core(&self) -> Option<Filter> {
        match self {
            Node::Core(f) => Some(f.clone()),
            Node::Call(_) => None,
            Node::Any(v) => Some(Filter::any(cores(v)?)),
            Node::All(v) => Some(Filter::all(cores(v)?)),
            Node::None(v) => Some(Filter::none(cores(v)?)),
        }
    }

    /// Whether `rc` passes; a callable's exception propagates.
    pub fn matches(&self, py: Python<'_>, rc: &Bound<'_, PyRecentChange>) -> PyResult<bool> {
        Ok(match self {
            Node::Core(f) => f.matches(&rc.get().rc),
            Node::Call(c) => c.bind(py).call1((rc,))?.is_truthy()?,
            Node::Any(v) => {
                for n in v {
                    if n.matches(py, rc)? {
                        return Ok(true);
                    }
                }
                false
            }
            Node::All(v) => {
                for n in v {
                    if !n.matches(py, rc)? {
                        return Ok(false);
                    }
                }
                true
            }
            Node::None(v) => {
                for n in v {
                    if n.matches(py, rc)? {
                        return Ok(false);
                    }
                }
                true
            }
        })
    }

    fn describe(&self, py: Python<'_>) -> String {
        let list = |v: &[Node]| {
            v.iter()
                .map(|n| n.describe(py))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Node::Core(f) if f.is_empty() => "everything".into(),
            Node::Core(f) => format!("{f:?}"),
            Node::Call(c) => c
                .bind(py)
                .repr()
                .map(|r| r.to_string())
                .unwrap_or_else(|_| "<callable>".into()),
            Node::Any(v) => format!("any({})", list(v)),
            Node::All(v) => format!("all({})", list(v)),
            Node::None(v) => format!("none({})", list(v)),
        }
    }
}

fn cores(v: &[Node]) -> Option<Vec<Filter>> {
    v.iter().map(Node::to_core).collect()
}

/// What a `filter=` argument may be: a Filter or a callable taking a RecentChange.
pub fn node_of(obj: &Bound<'_, PyAny>) -> PyResult<Node> {
    if let Ok(f) = obj.cast::<PyFilter>() {
        return Ok(f.get().node.clone());
    }
    if obj.is_callable() {
        return Ok(Node::Call(Arc::new(obj.clone().unbind())));
    }
    Err(PyTypeError::new_err(format!(
        "expected a rcclient.Filter or a callable taking a RecentChange, got {}",
        obj.get_type().name()?
    )))
}

/// A value or a list of values: `"enwiki"` or `["enwiki", "dewiki"]`.
fn strings(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(vec![s.to_cow()?.into_owned()]);
    }
    obj.try_iter()
        .and_then(|it| it.map(|i| i?.extract::<String>()).collect())
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a str or a list of str")))
}

fn ints(obj: &Bound<'_, PyAny>) -> PyResult<Vec<i32>> {
    if let Ok(n) = obj.extract::<i32>() {
        return Ok(vec![n]);
    }
    obj.try_iter()
        .and_then(|it| it.map(|i| i?.extract::<i32>()).collect())
        .map_err(|_| PyTypeError::new_err("namespace must be an int or a list of int"))
}

/// Which changes to keep: every keyword given must hold (keywords taking a list accept any
/// of its values). `Filter()` keeps everything.
///
/// ```python
/// Filter(namespace=[0, 1], bot=False)          # articles and talk pages, no bots
/// Filter(kind="log", log_type="move")          # page moves
/// Filter.any(Filter(wiki="enwiki"), lambda rc: rc.size_delta and rc.size_delta > 1000)
/// ```
///
/// A filter is also a callable (`f(rc)` is `f.matches(rc)`), combines with `&`, `|` and
/// `~`, and wherever a filter is accepted a plain callable taking a RecentChange and
/// returning a bool is too.
#[pyclass(module = "rcclient", name = "Filter", frozen)]
pub struct PyFilter {
    pub node: Node,
}

#[pymethods]
impl PyFilter {
    #[new]
    #[pyo3(signature = (*, wiki = None, namespace = None, kind = None, bot = None, minor = None,
        anon = None, user = None, title_prefix = None, log_type = None, predicate = None))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        wiki: Option<&Bound<'_, PyAny>>,
        namespace: Option<&Bound<'_, PyAny>>,
        kind: Option<&Bound<'_, PyAny>>,
        bot: Option<bool>,
        minor: Option<bool>,
        anon: Option<bool>,
        user: Option<&Bound<'_, PyAny>>,
        title_prefix: Option<String>,
        log_type: Option<&Bound<'_, PyAny>>,
        predicate: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut f = Filter::new();
        if let Some(w) = wiki {
            f = f.wikis(strings(w, "wiki")?);
        }
        if let Some(ns) = namespace {
            f = f.namespaces(ints(ns)?);
        }
        if let Some(k) = kind {
            f = f.kinds(strings(k, "kind")?.iter().map(|k| Kind::from_wire(k)));
        }
        if let Some(b) = bot {
            f = f.bot(b);
        }
        if let Some(m) = minor {
            f = f.minor(m);
        }
        if let Some(a) = anon {
            f = f.anon(a);
        }
        if let Some(u) = user {
            f = f.users(strings(u, "user")?);
        }
        if let Some(p) = title_prefix {
            f = f.title_prefix(p);
        }
        if let Some(t) = log_type {
            f = f.log_types(strings(t, "log_type")?);
        }
        let node = match predicate {
            None => Node::Core(f),
            Some(p) => {
                let call = node_of(p)?;
                if f.is_empty() {
                    call
                } else {
                    Node::All(vec![Node::Core(f), call])
                }
            }
        };
        Ok(PyFilter { node })
    }

    /// Changes matching at least one of the filters (Filters or callables).
    #[staticmethod]
    #[pyo3(signature = (*filters))]
    fn any(filters: &Bound<'_, PyTuple>) -> PyResult<Self> {
        combine(filters, Node::Any, Filter::any)
    }

    /// Changes matching every one of the filters (Filters or callables).
    #[staticmethod]
    #[pyo3(signature = (*filters))]
    fn all(filters: &Bound<'_, PyTuple>) -> PyResult<Self> {
        combine(filters, Node::All, Filter::all)
    }

    /// Changes matching none of the filters (Filters or callables).
    #[staticmethod]
    #[pyo3(signature = (*filters))]
    fn none(filters: &Bound<'_, PyTuple>) -> PyResult<Self> {
        combine(filters, Node::None, Filter::none)
    }

    /// Whether `rc` passes the filter.
    fn matches(&self, py: Python<'_>, rc: &Bound<'_, PyRecentChange>) -> PyResult<bool> {
        self.node.matches(py, rc)
    }

    fn __call__(&self, py: Python<'_>, rc: &Bound<'_, PyRecentChange>) -> PyResult<bool> {
        self.node.matches(py, rc)
    }

    /// Whether the filter runs without Python (no callables in it): such filters are
    /// applied in the client's network thread, before changes are buffered.
    #[getter]
    fn is_native(&self) -> bool {
        self.node.to_core().is_some()
    }

    fn __and__(&self, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        pair(self.node.clone(), node_of(other)?, Node::All, Filter::all)
    }

    fn __rand__(&self, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        pair(node_of(other)?, self.node.clone(), Node::All, Filter::all)
    }

    fn __or__(&self, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        pair(self.node.clone(), node_of(other)?, Node::Any, Filter::any)
    }

    fn __ror__(&self, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        pair(node_of(other)?, self.node.clone(), Node::Any, Filter::any)
    }

    fn __invert__(&self) -> Self {
        let node = match self.node.to_core() {
            Some(f) => Node::Core(Filter::none([f])),
            None => Node::None(vec![self.node.clone()]),
        };
        PyFilter { node }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<Filter {}>", self.node.describe(py))
    }
}

fn build(
    nodes: Vec<Node>,
    wrap: fn(Vec<Node>) -> Node,
    core: fn(Vec<Filter>) -> Filter,
) -> PyFilter {
    let node = match cores(&nodes) {
        Some(fs) => Node::Core(core(fs)),
        None => wrap(nodes),
    };
    PyFilter { node }
}

fn pair(
    a: Node,
    b: Node,
    wrap: fn(Vec<Node>) -> Node,
    core: fn(Vec<Filter>) -> Filter,
) -> PyResult<PyFilter> {
    Ok(build(vec![a, b], wrap, core))
}

fn combine(
    filters: &Bound<'_, PyTuple>,
    wrap: fn(Vec<Node>) -> Node,
    core: fn(Vec<Filter>) -> Filter,
) -> PyResult<PyFilter> {
    let mut nodes = Vec::new();
    // `Filter.any([a, b])` works like `Filter.any(a, b)`.
    let items: Vec<Bound<'_, PyAny>> = if filters.len() == 1
        && (filters.get_item(0)?.is_instance_of::<PyList>()
            || filters.get_item(0)?.is_instance_of::<PyTuple>())
    {
        filters.get_item(0)?.try_iter()?.collect::<PyResult<_>>()?
    } else {
        filters.iter().collect()
    };
    for f in &items {
        nodes.push(node_of(f)?);
    }
    Ok(build(nodes, wrap, core))
}
