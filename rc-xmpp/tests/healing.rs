//! The stream heals itself: server crashes, cut connections and process restarts lose
//! nothing and deliver nothing twice.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{publish, rcids};
use futures::StreamExt;
use rc_testkit::{
    assert_quiet, collect_n, joined, next_within, room_bare, wait_status, Prosody, Proxy, TempDir,
    XmppServer,
};
use recentchanges_xmpp::{Connection, ResumePosition};
use tokio::sync::Notify;

/// Publishes changes 1..=total of `wiki` in the background, a few milliseconds apart, and
/// tells `midway` after `cut_at`.
fn publish_burst(
    prosody: &Prosody,
    wiki: &'static str,
    total: u64,
    cut_at: u64,
    midway: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    let mut publisher = prosody.publisher(&[wiki]);
    tokio::spawn(async move {
        for n in 1..=total {
            publish(&mut publisher, wiki, n..=n).await;
            if n == cut_at {
                midway.notify_one();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            publisher.flush(Duration::from_secs(60)).await,
            "the publisher delivered everything"
        );
        publisher.close().await;
    })
}

/// Every change 1..=total exactly once and in order, then nothing more.
async fn assert_exactly_once(stream: &mut recentchanges_xmpp::ChangeStream, total: u64) {
    let got = collect_n(stream, total as usize, 30).await;
    assert_eq!(
        rcids(&got),
        (1..=total).collect::<Vec<_>>(),
        "every change once, in order"
    );
    assert_quiet(stream, Duration::from_millis(1500), "nothing twice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_and_restarted_mid_burst() {
    let mut prosody = Prosody::start();
    let mut stream = prosody.room_client("alice", "enwiki").connect().unwrap();
    joined(&stream, 10).await;
    let midway = Arc::new(Notify::new());
    let burst = publish_burst(&prosody, "enwiki", 150, 50, midway.clone());
    midway.notified().await;
    prosody.kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    prosody.restart();
    assert_exactly_once(&mut stream, 150).await;
    burst.await.unwrap();
    let status = stream.status().borrow().clone();
    assert!(status.connections >= 2, "it reconnected: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cut_mid_burst() {
    let prosody = Prosody::start();
    let proxy = Proxy::start(prosody.addr()).await;
    let mut stream = prosody
        .room_client("alice", "enwiki")
        .server(&proxy.addr)
        .unwrap()
        .connect()
        .unwrap();
    joined(&stream, 10).await;
    let midway = Arc::new(Notify::new());
    let burst = publish_burst(&prosody, "enwiki", 150, 60, midway.clone());
    midway.notified().await;
    proxy.cut();
    assert_exactly_once(&mut stream, 150).await;
    burst.await.unwrap();
    let status = stream.status().borrow().clone();
    assert!(status.connections >= 2, "it reconnected: {status:?}");
    // The publisher kept posting while the client was away: those came from the archive.
    assert!(
        status.recovered > 0,
        "changes recovered from the room archive: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_process_gets_exactly_what_it_missed() {
    let prosody = Prosody::start();
    let dir = TempDir::new("rc-xmpp-resume");
    let file = dir.join("enwiki.pos");
    let room = room_bare("enwiki");
    let mut publisher = prosody.publisher(&["enwiki"]);
    // First run: reads 1..=10, then stops.
    let mut first = prosody.resuming("alice", "enwiki", &file);
    joined(&first, 10).await;
    publish(&mut publisher, "enwiki", 1..=10).await;
    let got = collect_n(&mut first, 10, 10).await;
    assert_eq!(got.last().unwrap().rcid, Some(10));
    first.close().await;
    let saved = ResumePosition::load(&file).unwrap();
    assert_eq!(
        saved.room(room.as_str()).and_then(|p| p.stanza_id.clone()),
        got.last().unwrap().stanza_id,
        "the file holds the last delivered stanza id"
    );

    // While it is away.
    publish(&mut publisher, "enwiki", 11..=25).await;
    assert!(publisher.flush(Duration::from_secs(10)).await);

    // Second run, from the file.
    let mut second = prosody.resuming("alice", "enwiki", &file);
    let missed = collect_n(&mut second, 15, 10).await;
    assert_eq!(rcids(&missed), (11..=25).collect::<Vec<_>>());
    assert!(
        missed.iter().all(|c| c.replayed),
        "recovered from the archive"
    );
    publish(&mut publisher, "enwiki", 26..=26).await;
    let live = next_within(&mut second, 10).await.unwrap();
    assert_eq!((live.rcid, live.replayed), (Some(26), false));
    assert_quiet(&mut second, Duration::from_millis(1000), "nothing twice").await;
    assert!(matches!(
        second.status().borrow().connection,
        Connection::Online { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_dead_connection_is_detected_by_ping_and_replaced() {
    let prosody = Prosody::start();
    let proxy = Proxy::start(prosody.addr()).await;
    let mut stream = prosody
        .room_client("alice", "enwiki")
        .server(&proxy.addr)
        .unwrap()
        .keepalive(Duration::from_secs(1), Duration::from_secs(1))
        .connect()
        .unwrap();
    joined(&stream, 10).await;
    proxy.freeze();
    let mut publisher = prosody.publisher(&["enwiki"]);
    publish(&mut publisher, "enwiki", 1..=5).await;
    // Nothing flows through the frozen link: the client notices within ping + timeout,
    // reconnects, and recovers the five changes from the archive.
    let got = collect_n(&mut stream, 5, 15).await;
    assert_eq!(rcids(&got), [1, 2, 3, 4, 5]);
    assert!(got.iter().all(|c| c.replayed));
    assert!(stream.status().borrow().connections >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_with_drop_oldest_keeps_the_newest_and_counts_the_rest() {
    let prosody = Prosody::start();
    let mut stream = prosody
        .room_client("alice", "enwiki")
        .buffer(5, recentchanges_xmpp::Backpressure::DropOldest)
        .connect()
        .unwrap();
    joined(&stream, 10).await;
    let mut publisher = prosody.publisher(&["enwiki"]);
    publish(&mut publisher, "enwiki", 1..=50).await;
    assert!(publisher.flush(Duration::from_secs(10)).await);
    wait_status(stream.status(), 10, "45 dropped", |s| s.dropped == 45).await;
    assert_eq!(stream.backlog(), 5, "memory stays bounded");
    let got = collect_n(&mut stream, 5, 5).await;
    assert_eq!(rcids(&got), [46, 47, 48, 49, 50]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_stopped_before_its_first_change_still_resumes() {
    let prosody = Prosody::start();
    let dir = TempDir::new("rc-xmpp-resume");
    let file = dir.join("quiet.pos");
    let room = room_bare("enwiki");
    let mut publisher = prosody.publisher(&["enwiki"]);
    publish(&mut publisher, "enwiki", 1..=1).await; // before the first run
    assert!(publisher.flush(Duration::from_secs(10)).await);
    let mut first = prosody.resuming("alice", "enwiki", &file);
    joined(&first, 10).await;
    // The baseline (the archive's newest id) reaches the consumer's position as it reads,
    // without an item.
    let baseline = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(id) = first
                .position()
                .room(room.as_str())
                .and_then(|p| p.stanza_id.clone())
            {
                return id;
            }
            let item = tokio::time::timeout(Duration::from_millis(50), first.next()).await;
            assert!(
                item.is_err(),
                "no item: {:?}",
                item.ok().flatten().map(|r| r.map(|c| c.rcid))
            );
        }
    })
    .await
    .expect("a baseline position");
    assert!(!baseline.is_empty());
    first.close().await;

    publish(&mut publisher, "enwiki", 2..=4).await;
    assert!(publisher.flush(Duration::from_secs(10)).await);
    let mut second = prosody.resuming("alice", "enwiki", &file);
    let got = collect_n(&mut second, 3, 10).await;
    assert_eq!(
        rcids(&got),
        [2, 3, 4],
        "what was posted while away, not what came before"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_default_keepalive_a_dead_link_is_replaced_within_the_stated_bound() {
    let prosody = Prosody::start();
    let proxy = Proxy::start(prosody.addr()).await;
    let mut stream = prosody
        .room_client("alice", "enwiki")
        .server(&proxy.addr)
        .unwrap()
        .connect()
        .unwrap();
    joined(&stream, 10).await;
    let frozen = std::time::Instant::now();
    proxy.freeze();
    let mut publisher = prosody.publisher(&["enwiki"]);
    publish(&mut publisher, "enwiki", 1..=3).await;
    let bound = recentchanges_xmpp::DEFAULT_PING_AFTER + recentchanges_xmpp::DEFAULT_PING_TIMEOUT;
    // The bound, plus the first reconnect attempt and the join.
    wait_status(stream.status(), 45, "a second connection", |s| {
        s.connections >= 2
    })
    .await;
    let replaced = frozen.elapsed();
    assert!(
        replaced <= bound + Duration::from_secs(10),
        "replaced after {replaced:?}; the stated bound is {bound:?}"
    );
    let got = collect_n(&mut stream, 3, 15).await;
    assert_eq!(
        rcids(&got),
        [1, 2, 3],
        "what was sent meanwhile, from the archive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_changes_beyond_the_buffer_during_a_catch_up_come_from_the_archive_once_each() {
    let prosody = Prosody::start();
    let dir = TempDir::new("rc-xmpp-held");
    let file = dir.join("enwiki.pos");
    let mut publisher = prosody.publisher(&["enwiki"]);
    let mut first = prosody.resuming("alice", "enwiki", &file);
    joined(&first, 10).await;
    publish(&mut publisher, "enwiki", 1..=1).await;
    collect_n(&mut first, 1, 10).await;
    first.close().await;

    // Away: 600 changes in the archive. Back with a buffer of 4 (the bound of what is held
    // during the catch-up), while 200 more are posted live as it catches up.
    publish(&mut publisher, "enwiki", 2..=600).await;
    assert!(publisher.flush(Duration::from_secs(30)).await);
    let midway = Arc::new(Notify::new());
    let burst = {
        let mut live = prosody.publisher(&["enwiki"]);
        let midway = midway.clone();
        tokio::spawn(async move {
            midway.notified().await;
            publish(&mut live, "enwiki", 601..=800).await;
            assert!(live.flush(Duration::from_secs(30)).await);
            live.close().await;
        })
    };
    let mut second = prosody
        .room_client("alice", "enwiki")
        .buffer(4, recentchanges_xmpp::Backpressure::Wait)
        .resume_from_file(&file)
        .unwrap()
        .connect()
        .unwrap();
    let early = collect_n(&mut second, 50, 30).await;
    midway.notify_one();
    let rest = collect_n(&mut second, 749, 60).await;
    burst.await.unwrap();
    let got: Vec<u64> = rcids(&early).into_iter().chain(rcids(&rest)).collect();
    assert_eq!(
        got,
        (2..=800).collect::<Vec<_>>(),
        "every change once, in order"
    );
    assert_quiet(&mut second, Duration::from_millis(1500), "nothing twice").await;
    let refetched = second.status().borrow().refetched;
    assert!(
        refetched > 0,
        "the bound was hit: live changes were let go and replayed"
    );
}
