//! `rcclient.mirror(...)`: a directory of a wiki's page texts kept in step by any source
//! of its changes, over `recentchanges::mirror::run`.

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use recentchanges::http::mirror::{MirrorConfig, TextSource};
use recentchanges::http::Api;
use recentchanges::source::Source;
use recentchanges::Filter;
use tokio::sync::oneshot;

use crate::errors::{config_error, connection_error_class};
use crate::runtime::new_runtime;

/// How often the waiting thread looks for Ctrl-C.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Keeps the directory ``dir`` holding the current text of every page of a wiki, one file
/// per page, following ``source`` until ``duration`` seconds passed or Ctrl-C; returns the
/// counters as a dict (``full_syncs``, ``batches``, ``changes``, ``written``, ``removed``,
/// ``fetches``).
///
/// The texts come from ``api`` (the wiki's ``api.php``) or, without it, from the source
/// itself when it is a wiki's own: ``mediawiki:API``, ``dokuwiki:URL`` or ``jspwiki:URL``
/// (WikiRPC: ``getAllPages``, ``getPage``; ``credentials=(user, password)`` for HTTP basic
/// auth). ``source`` defaults to ``mediawiki:API``, the API itself polled every
/// ``interval`` seconds; or e.g. ``eventstreams:recentchange`` with ``wiki="enwiki"`` and
/// ``api``. On DokuWiki a page saved empty is deleted, and loses its file.
///
/// A new directory gets a full sync first, saved with the position the source had before
/// it; then changes are applied in batches and the position is saved after each, so a
/// killed or stopped mirror loses nothing and a later call continues where this one
/// stopped. Scope: ``namespaces``, a title ``prefix``, an explicit list of ``pages``, a
/// ``category`` (namespaces and category on MediaWiki only: a ``ConfigError`` on WikiRPC);
/// ``metadata=True`` keeps each page's metadata in ``DIR/.meta/`` (MediaWiki: revision id,
/// timestamp, SHA-1; WikiRPC: version, timestamp, author).
#[pyfunction]
#[pyo3(signature = (dir, api = None, *, source = None, wiki = None, namespaces = None, prefix = None,
    pages = None, category = None, metadata = false, interval = None, user_agent = None, duration = None,
    credentials = None))]
#[allow(clippy::too_many_arguments)]
pub fn mirror<'py>(
    py: Python<'py>,
    dir: std::path::PathBuf,
    api: Option<&str>,
    source: Option<String>,
    wiki: Option<String>,
    namespaces: Option<Vec<i32>>,
    prefix: Option<String>,
    pages: Option<Vec<String>>,
    category: Option<String>,
    metadata: bool,
    interval: Option<f64>,
    user_agent: Option<String>,
    duration: Option<f64>,
    credentials: Option<(String, String)>,
) -> PyResult<Bound<'py, PyDict>> {
    let seconds = |name: &str, v: f64| -> PyResult<Duration> {
        if v.is_finite() && v > 0.0 && v < 1e9 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(PyValueError::new_err(format!(
                "{name} must be > 0 seconds, not {v}"
            )))
        }
    };
    let duration = duration.map(|d| seconds("duration", d)).transpose()?;
    let name = match (source, api) {
        (Some(s), _) => s,
        (None, Some(api)) => format!("mediawiki:{api}"),
        (None, None) => {
            return Err(config_error(
                py,
                "mirror: give api (the wiki's api.php) or a source",
            ))
        }
    };
    let mut src = Source::new(&name).map_err(|e| config_error(py, e.to_string()))?;
    if let Some((user, password)) = credentials {
        src = src.credentials(&user, password);
    }
    if let Some(every) = interval {
        src = src.interval(seconds("interval", every)?);
    }
    if let Some(ua) = &user_agent {
        src = src.user_agent(ua);
    }
    if let Some(w) = &wiki {
        src = src.wiki(w).filter(Filter::new().wiki(w.clone()));
    }
    // The texts: the API given, else the source's own endpoint (MediaWiki, WikiRPC).
    let texts: Box<dyn TextSource> = match api {
        Some(api) => {
            let mut client = Api::builder(api);
            if let Some(ua) = user_agent {
                client = client.user_agent(ua);
            }
            Box::new(
                client
                    .build()
                    .map_err(|e| config_error(py, e.to_string()))?,
            )
        }
        None => src
            .texts()
            .map_err(|e| config_error(py, e.to_string()))?
            .ok_or_else(|| {
                config_error(
                    py,
                    format!("mirror: the source {name} gives no page texts: give api"),
                )
            })?,
    };
    let mut config = MirrorConfig::default().metadata(metadata);
    if let Some(ns) = namespaces {
        config = config.namespaces(ns);
    }
    if let Some(p) = prefix {
        config = config.prefix(p);
    }
    if let Some(p) = pages {
        config = config.pages(p);
    }
    if let Some(c) = category {
        config = config.category(c);
    }

    let rt = new_runtime(py, "rcclient-mirror")?;
    let (stop, stopped) = oneshot::channel::<()>();
    let mut task = rt.spawn(recentchanges::mirror::run(
        texts,
        dir,
        src,
        config,
        async move {
            match duration {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = stopped => {}
                    }
                }
                None => {
                    let _ = stopped.await;
                }
            }
        },
    ));
    let mut stop = Some(stop);
    let mut interrupted = None;
    let outcome = loop {
        let done = py.detach(|| {
            rt.block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut task).await.ok() })
        });
        if let Some(joined) = done {
            break joined;
        }
        if interrupted.is_none() {
            if let Err(e) = py.check_signals() {
                // Ctrl-C: stop after the batch in hand (its position is saved), then raise.
                interrupted = Some(e);
                if let Some(s) = stop.take() {
                    let _ = s.send(());
                }
            }
        }
    };
    if let Some(e) = interrupted {
        return Err(e);
    }
    let stats = match outcome {
        Ok(Ok(stats)) => stats,
        Ok(Err(recentchanges::http::Error::Config(why))) => {
            return Err(config_error(py, format!("mirror: {why}")));
        }
        Ok(Err(e)) => {
            let kwargs = PyDict::new(py);
            kwargs.set_item("kind", "other")?;
            return Err(PyErr::from_value(
                connection_error_class(py)?.call((format!("mirror: {e}"),), Some(&kwargs))?,
            ));
        }
        Err(e) => {
            return Err(PyErr::from_value(
                connection_error_class(py)?
                    .call1((format!("mirror: the mirror's task stopped: {e}"),))?,
            ))
        }
    };
    let d = PyDict::new(py);
    d.set_item("full_syncs", stats.full_syncs)?;
    d.set_item("batches", stats.batches)?;
    d.set_item("changes", stats.changes)?;
    d.set_item("written", stats.written)?;
    d.set_item("removed", stats.removed)?;
    d.set_item("fetches", stats.fetches_total)?;
    Ok(d)
}
