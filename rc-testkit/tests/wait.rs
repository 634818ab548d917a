//! The waiting helpers on streams and status channels, which need no server: what they
//! return, and that they panic with what they saw.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use rc_testkit::{
    assert_quiet, collect_n, collect_until, next_within, try_wait_status, wait_status,
};
use tokio::sync::watch;

type Item = Result<u64, String>;

/// `v`, then nothing (the stream never ends).
fn items(v: Vec<Item>) -> impl futures::Stream<Item = Item> + Unpin {
    stream::iter(v).chain(stream::pending())
}

#[tokio::test]
async fn next_and_collect_take_items_in_order() {
    let mut s = items(vec![Ok(1), Ok(2), Ok(3)]);
    assert_eq!(next_within(&mut s, 1).await, Ok(1));
    assert_eq!(collect_n(&mut s, 2, 1).await, [2, 3]);
}

#[tokio::test]
#[should_panic(expected = "no item within 1 s")]
async fn next_panics_when_nothing_comes() {
    let _ = next_within(&mut items(vec![]), 1).await;
}

#[tokio::test]
#[should_panic(expected = "unexpected error item after 1 items: boom")]
async fn collect_panics_on_an_error_item() {
    collect_n(&mut items(vec![Ok(1), Err("boom".into())]), 2, 1).await;
}

#[tokio::test]
async fn quiet_passes_when_nothing_comes() {
    assert_quiet(&mut items(vec![]), Duration::from_millis(20), "quiet").await;
}

#[tokio::test]
#[should_panic(expected = "nothing twice: Some(Ok(7))")]
async fn quiet_panics_on_an_item() {
    assert_quiet(
        &mut items(vec![Ok(7)]),
        Duration::from_secs(1),
        "nothing twice",
    )
    .await;
}

#[tokio::test]
#[should_panic(expected = "nothing more: None")]
async fn quiet_panics_when_the_stream_ends() {
    let mut ended = stream::empty::<Item>();
    assert_quiet(&mut ended, Duration::from_secs(1), "nothing more").await;
}

#[tokio::test]
async fn collect_until_waits_for_every_key_then_takes_extras() {
    let want = BTreeSet::from([1, 3]);
    let mut s = items(vec![Ok(1), Ok(2), Ok(3), Ok(3)]);
    let got = collect_until(&mut s, &want, |n| Some(*n), 1, Duration::from_millis(50)).await;
    assert_eq!(got, [1, 2, 3, 3]);
}

#[tokio::test]
#[should_panic(expected = "timed out; missing [3]")]
async fn collect_until_names_what_is_missing() {
    let want = BTreeSet::from([1, 3]);
    let mut s = items(vec![Ok(1)]);
    collect_until(&mut s, &want, |n| Some(*n), 1, Duration::from_millis(50)).await;
}

#[tokio::test]
async fn status_waits_end_when_reached_and_show_the_status_when_not() {
    let (tx, rx) = watch::channel(1);
    let waiting = tokio::spawn(wait_status(rx.clone(), 5, "three", |n| *n == 3));
    tx.send(3).unwrap();
    waiting.await.unwrap();
    let err = try_wait_status(rx, 0, |n| *n == 4).await.unwrap_err();
    assert_eq!(err, "not reached within 0 s: 3");
}
