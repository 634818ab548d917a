//! Waiting with deadlines: for items of a [`Stream`], for a status on a [`watch`] channel,
//! for a file. Each panics with what it saw when the deadline passes.

use std::collections::BTreeSet;
use std::fmt::{Debug, Display};
use std::path::Path;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use tokio::sync::watch;

/// The next item within `secs`; panics when none comes or the stream ends.
pub async fn next_within<S: Stream + Unpin>(stream: &mut S, secs: u64) -> S::Item {
    tokio::time::timeout(Duration::from_secs(secs), stream.next())
        .await
        .unwrap_or_else(|_| panic!("no item within {secs} s"))
        .expect("the stream goes on")
}

/// The next `n` items, each within `secs` of the one before; panics on an error item.
pub async fn collect_n<S, T, E>(stream: &mut S, n: usize, secs: u64) -> Vec<T>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: Display,
{
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match next_within(stream, secs).await {
            Ok(c) => out.push(c),
            Err(e) => panic!("unexpected error item after {} items: {e}", out.len()),
        }
    }
    out
}

/// Nothing arrives for `quiet` (and the stream does not end); panics with the item,
/// saying `what` should have been true.
pub async fn assert_quiet<S>(stream: &mut S, quiet: Duration, what: &str)
where
    S: Stream + Unpin,
    S::Item: Debug,
{
    if let Ok(item) = tokio::time::timeout(quiet, stream.next()).await {
        panic!("{what}: {item:?}");
    }
}

/// Reads items until every key of `want` arrived (`key` gives an item's, if any), all
/// within `secs`, then whatever more comes until `quiet` passes without an item. Panics
/// on an error item, the stream's end or the deadline (naming the keys missing).
pub async fn collect_until<S, T, E>(
    stream: &mut S,
    want: &BTreeSet<u64>,
    key: impl Fn(&T) -> Option<u64>,
    secs: u64,
    quiet: Duration,
) -> Vec<T>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: Display,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut got: Vec<T> = Vec::new();
    let mut have = BTreeSet::new();
    while !want.is_subset(&have) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Some(Ok(c))) => {
                have.extend(key(&c));
                got.push(c);
            }
            Ok(Some(Err(e))) => panic!("error item after {} items: {e}", got.len()),
            Ok(None) => panic!("the stream ended"),
            Err(_) => panic!(
                "timed out; missing {:?}",
                want.difference(&have).collect::<Vec<_>>()
            ),
        }
    }
    while let Ok(Some(item)) = tokio::time::timeout(quiet, stream.next()).await {
        match item {
            Ok(c) => got.push(c),
            Err(e) => panic!("error item after {} items: {e}", got.len()),
        }
    }
    got
}

/// Waits up to `secs` until the status satisfies `pred`; panics naming `what` and
/// showing the status otherwise.
pub async fn wait_status<T: Debug>(
    status: watch::Receiver<T>,
    secs: u64,
    what: &str,
    pred: impl FnMut(&T) -> bool,
) {
    if let Err(e) = try_wait_status(status, secs, pred).await {
        panic!("{what}: {e}");
    }
}

/// [`wait_status`], with the status shown in the error instead of a panic.
pub async fn try_wait_status<T: Debug>(
    mut status: watch::Receiver<T>,
    secs: u64,
    pred: impl FnMut(&T) -> bool,
) -> Result<(), String> {
    let outcome = match tokio::time::timeout(Duration::from_secs(secs), status.wait_for(pred)).await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err("the status has no sender left".to_owned()),
        Err(_) => Err(format!("not reached within {secs} s")),
    };
    outcome.map_err(|e| format!("{e}: {:?}", *status.borrow()))
}

/// Waits up to `secs` until the file at `path` exists with a content `ok` accepts, and
/// returns that content; panics naming `what` otherwise. It blocks the thread.
pub fn wait_file(path: &Path, secs: u64, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if ok(&s) {
                return s;
            }
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
