//! # rcclient: the Python module
//!
//! PyO3 bindings over `rc-core` (the typed RecentChange, its parsers and filters) and
//! `rc-xmpp` (the self-healing XMPP client and the publisher). The Python package
//! (`python/rcclient/`) re-exports these and adds the exceptions, the rcclient.py
//! compatibility layer, the CLI and `to_dataframe`.

use pyo3::prelude::*;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod change;
mod client;
mod consumer;
mod convert;
mod errors;
mod filter;
mod iteration;
mod logging;
mod mirror;
mod parse;
mod publisher;
mod runtime;
mod source;

/// Native part of rcclient; import `rcclient` instead.
#[pymodule]
fn _rcclient(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install(m.py());
    m.add_class::<change::PyRecentChange>()?;
    m.add_class::<filter::PyFilter>()?;
    m.add_class::<client::PyClient>()?;
    m.add_class::<consumer::Waiter>()?;
    m.add_class::<publisher::PyPublisher>()?;
    m.add_class::<source::PySource>()?;
    m.add_function(wrap_pyfunction!(source::open, m)?)?;
    m.add_function(wrap_pyfunction!(mirror::mirror, m)?)?;
    m.add_function(wrap_pyfunction!(parse::parse, m)?)?;
    m.add_function(wrap_pyfunction!(parse::parse_many, m)?)?;
    m.add_function(wrap_pyfunction!(change::_unpickle, m)?)?;
    m.add("FIELDS", change::field_names())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
