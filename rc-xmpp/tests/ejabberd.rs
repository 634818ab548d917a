//! The core room behaviours against a real ejabberd (Debian's package), the project's
//! second XMPP server, so the client is not tuned to Prosody alone: join and receive,
//! resume from the room archive (MAM) after a restart, and catch up from an archive that
//! was empty at the join although ejabberd's history gives a join only the last 20.
//!
//! When one fails, the server's log is in the failure message (and `logs/` of the state
//! directory while the test runs).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{change, publish, rcids};
use futures::StreamExt;
use rc_testkit::{
    assert_quiet, collect_n, joined, next_within, room_bare, wait_status, Ejabberd, TempDir,
    XmppServer,
};
use recentchanges_core::Kind;
use recentchanges_xmpp::{Connection, ResumePosition, Tls};
use tokio::sync::Notify;

/// The tail of the server's log, for a failure message.
fn log_tail(server: &Ejabberd) -> String {
    let log = server.log();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_joins_a_room_on_ejabberd_and_receives_published_changes_in_order() {
    let ejabberd = Ejabberd::start();
    let mut stream = ejabberd.consumer("alice", "enwiki").await;
    let mut publisher = ejabberd.publisher(&["enwiki"]);
    let room = room_bare("enwiki");
    publish(&mut publisher, "enwiki", 1..=30).await;
    let got = collect_n(&mut stream, 30, 15).await;
    for (i, c) in got.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(c.change, change("enwiki", n), "every field, in order");
        assert_eq!(c.room, room);
        assert!(
            c.stanza_id.is_some(),
            "ejabberd's mod_mam stamps a stanza id (XEP-0359)"
        );
        assert!(!c.replayed);
        assert_eq!(c.kind, Kind::Edit);
    }
    assert!(
        publisher.flush(Duration::from_secs(5)).await,
        "the room confirmed every post"
    );
    assert_quiet(&mut stream, Duration::from_millis(300), "nothing twice").await;
    stream.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_logs_in_over_starttls_verifying_the_fixture_certificate() {
    let ejabberd = Ejabberd::start();
    let mut stream = ejabberd
        .client("bob")
        .tls(Tls::RequiredWithRoots(vec![ejabberd.ca_cert()]))
        .room(&rc_testkit::room_jid("enwiki"), "bob")
        .unwrap()
        .connect()
        .unwrap();
    joined(&stream, 15).await;
    let mut publisher = ejabberd.publisher(&["enwiki"]);
    publish(&mut publisher, "enwiki", 1..=1).await;
    assert_eq!(next_within(&mut stream, 10).await.unwrap().rcid, Some(1));
    match &stream.status().borrow().connection {
        Connection::Online { jid } => assert!(jid.starts_with("bob@localhost/"), "{jid}"),
        other => panic!("{other:?}"),
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ejabberd_killed_and_restarted_mid_burst_loses_nothing_and_repeats_nothing() {
    let mut ejabberd = Ejabberd::start();
    // The accounts on disk: a SIGKILL loses Mnesia's last seconds of writes.
    ejabberd.settle();
    let mut stream = ejabberd.consumer("alice", "enwiki").await;
    let mut publisher = ejabberd.publisher(&["enwiki"]);
    let midway = Arc::new(Notify::new());
    let signal = midway.clone();
    let burst = tokio::spawn(async move {
        for n in 1..=150 {
            publish(&mut publisher, "enwiki", n..=n).await;
            if n == 50 {
                signal.notify_one();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            publisher.flush(Duration::from_secs(60)).await,
            "the publisher delivered everything"
        );
        publisher.close().await;
    });
    midway.notified().await;
    ejabberd.kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    ejabberd.restart();
    let got = collect_n(&mut stream, 150, 45).await;
    assert_eq!(
        rcids(&got),
        (1..=150).collect::<Vec<_>>(),
        "every change once, in order; server log:\n{}",
        log_tail(&ejabberd)
    );
    assert_quiet(&mut stream, Duration::from_millis(1500), "nothing twice").await;
    burst.await.unwrap();
    let status = stream.status().borrow().clone();
    assert!(status.connections >= 2, "it reconnected: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_restarted_from_its_position_gets_what_was_published_meanwhile_from_the_archive_once(
) {
    let ejabberd = Ejabberd::start();
    let dir = TempDir::new("rc-xmpp-ejabberd");
    let file = dir.join("enwiki.pos");
    let room = room_bare("enwiki");
    let mut publisher = ejabberd.publisher(&["enwiki"]);
    let mut first = ejabberd.resuming("alice", "enwiki", &file);
    joined(&first, 15).await;
    publish(&mut publisher, "enwiki", 1..=5).await;
    assert_eq!(
        rcids(&collect_n(&mut first, 5, 10).await),
        vec![1, 2, 3, 4, 5]
    );
    first.close().await;
    let saved = ResumePosition::load(&file).unwrap();
    let pos = saved.room(room.as_str()).expect("a position for the room");
    assert!(pos.stanza_id.is_some(), "an archive id was saved: {pos:?}");

    // Away: more than the 20 a join's history holds.
    publish(&mut publisher, "enwiki", 6..=60).await;
    assert!(publisher.flush(Duration::from_secs(15)).await);
    let mut second = ejabberd.resuming("alice", "enwiki", &file);
    let got = collect_n(&mut second, 55, 15).await;
    assert_eq!(
        rcids(&got),
        (6..=60).collect::<Vec<_>>(),
        "what was published while away, once, in order; server log:\n{}",
        log_tail(&ejabberd)
    );
    assert!(got.iter().all(|c| c.replayed), "from the archive");
    publish(&mut publisher, "enwiki", 61..=61).await;
    let live = next_within(&mut second, 10).await.unwrap();
    assert_eq!((live.rcid, live.replayed), (Some(61), false));
    assert_quiet(&mut second, Duration::from_millis(500), "nothing twice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_joined_an_empty_archive_gets_all_50_changes_not_the_last_20() {
    let ejabberd = Ejabberd::start();
    let dir = TempDir::new("rc-xmpp-ejabberd");
    let file = dir.join("newwiki.pos");
    let room = room_bare("newwiki");
    // A new room (its owner made it), its archive empty.
    let mut publisher = ejabberd.publisher(&["newwiki"]);
    wait_status(
        publisher.status(),
        15,
        "the owner joined",
        rc_testkit::all_joined,
    )
    .await;
    let mut first = ejabberd.resuming("alice", "newwiki", &file);
    joined(&first, 15).await;
    // Nothing arrives; reading moves the position to the join.
    for _ in 0..20 {
        if first.position().room(room.as_str()).is_some() {
            break;
        }
        let item = tokio::time::timeout(Duration::from_millis(50), first.next()).await;
        assert!(item.is_err(), "no item: {item:?}");
    }
    first.close().await;
    let saved = ResumePosition::load(&file).unwrap();
    let pos = saved
        .room(room.as_str())
        .expect("a position for the room")
        .clone();
    assert!(pos.time.is_some(), "at least a time: {pos:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    publish(&mut publisher, "newwiki", 1..=50).await;
    assert!(publisher.flush(Duration::from_secs(15)).await);
    let mut second = ejabberd.resuming("alice", "newwiki", &file);
    let got = rc_testkit::collect_until(
        &mut second,
        &(1..=50).collect(),
        |c| c.rcid,
        15,
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(
        rcids(&got),
        (1..=50).collect::<Vec<_>>(),
        "all 50 from the archive (saved position {pos:?}); server log:\n{}",
        log_tail(&ejabberd)
    );
    assert!(got.iter().all(|c| c.replayed), "from the archive");
    publish(&mut publisher, "newwiki", 51..=51).await;
    let live = next_within(&mut second, 10).await.unwrap();
    assert_eq!((live.rcid, live.replayed), (Some(51), false));
    assert_quiet(&mut second, Duration::from_millis(500), "nothing twice").await;
}
