//! Backfill from a real MediaWiki's API into a real Prosody room stream: changes the room
//! never saw (the bridge was down) come from `list=recentchanges`, the room's own changes
//! follow, and across a restart the room archive's replay and the API's catch-up overlap
//! without a change yielded twice.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use recentchanges::http::backfill::{BackfillConfig, BackfillPosition, Backfilled, Merged};
use recentchanges::http::{Poller, PollerConfig, Start};

/// Every rcid the wiki lists now.
async fn all_rcids(wiki: &Wiki) -> BTreeSet<u64> {
    let mut poller = Poller::new(
        wiki.api(),
        PollerConfig::new("wikidb").start(Start::Beginning),
    );
    let mut ids = BTreeSet::new();
    loop {
        for item in poller.poll().await.expect("list=recentchanges") {
            ids.insert(item.expect("parses").rcid.expect("an rcid"));
        }
        if poller.caught_up() {
            return ids;
        }
    }
}

/// Reads the stream until every rcid of `want` arrived, then a quiet second for extras.
async fn collect(stream: &mut Backfilled, want: &BTreeSet<u64>) -> Vec<Merged> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got: Vec<Merged> = Vec::new();
    let have = |got: &Vec<Merged>| got.iter().filter_map(|c| c.rcid).collect::<BTreeSet<_>>();
    while !want.is_subset(&have(&got)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Some(Ok(c))) => got.push(c),
            Ok(Some(Err(e))) => panic!("error item after {} changes: {e}", got.len()),
            Ok(None) => panic!("the stream ended"),
            Err(_) => panic!(
                "timed out; missing {:?}",
                want.difference(&have(&got)).collect::<Vec<_>>()
            ),
        }
    }
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(1), stream.next()).await {
        got.push(item.expect("no error items"));
    }
    got
}

fn rcids(got: &[Merged]) -> Vec<u64> {
    got.iter().map(|c| c.rcid.expect("an rcid")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_fills_what_the_room_never_saw_then_the_room_follows_once_each() {
    let prosody = Prosody::start();
    // The wiki sends its feed to a port where no bridge listens yet: those changes never
    // reach the room.
    let feed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let feed_addr = feed.local_addr().unwrap();
    drop(feed);
    let wiki = Wiki::start(Some(feed_addr), None);
    let cast = Cast::new(&wiki).await;
    for n in 0..3 {
        edit(
            &cast.admin,
            "Before",
            &format!("text {n}"),
            &format!("before {n}"),
            &[],
        )
        .await;
    }
    let unseen = all_rcids(&wiki).await;
    assert!(unseen.len() >= 5, "{unseen:?}");

    let _bridge = prosody.bridge_at("publisher", "wikidb", feed_addr).await;
    let dir = std::env::temp_dir().join(format!("rc-e2e-backfill-{}", wiki.port));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("backfill.json");
    let config = BackfillConfig::new(
        PollerConfig::new("wikidb")
            .start(Start::Beginning)
            .limit(4)
            .interval(Duration::from_millis(300)),
    );
    let client = || {
        prosody
            .client("alice")
            .room(&room_jid("wikidb"), "alice")
            .unwrap()
    };
    let mut stream = Backfilled::start(
        client(),
        wiki.api(),
        config.clone(),
        BackfillPosition::load(&state).unwrap(),
    )
    .unwrap();
    // Changes made while it catches up and after.
    for n in 0..3 {
        edit(
            &cast.admin,
            "During",
            &format!("text {n}"),
            &format!("during {n}"),
            &[],
        )
        .await;
    }
    let want = all_rcids(&wiki).await;
    let got = collect(&mut stream, &want).await;
    let ids = rcids(&got);
    assert_eq!(
        ids,
        want.iter().copied().collect::<Vec<_>>(),
        "every change once, in rcid order"
    );
    for c in &got {
        if unseen.contains(&c.rcid.unwrap()) {
            assert!(
                c.is_backfilled(),
                "{:?} never reached the room: from the API",
                c.rcid
            );
        }
        assert_eq!(c.wiki.as_deref(), Some("wikidb"));
    }
    let live = got.iter().filter(|c| !c.is_backfilled()).count();
    let stats = stream.stats();
    assert_eq!(stats.backfilled as usize, got.len() - live, "{stats:?}");
    assert_eq!(stats.catch_ups, 1, "{stats:?}");
    stream.position().save(&state).unwrap();
    drop(stream);

    // Away: these reach the room (and its archive) and the API alike.
    for n in 0..2 {
        edit(
            &cast.admin,
            "Away",
            &format!("text {n}"),
            &format!("away {n}"),
            &[],
        )
        .await;
    }
    let away: BTreeSet<u64> = all_rcids(&wiki).await.difference(&want).copied().collect();
    assert_eq!(away.len(), 2);
    let mut stream = Backfilled::start(
        client(),
        wiki.api(),
        config,
        BackfillPosition::load(&state).unwrap(),
    )
    .unwrap();
    edit(&cast.admin, "Back", "text", "back", &[]).await;
    let fresh: BTreeSet<u64> = all_rcids(&wiki).await.difference(&want).copied().collect();
    assert_eq!(fresh.len(), 3);
    let got = collect(&mut stream, &fresh).await;
    assert_eq!(
        rcids(&got),
        fresh.iter().copied().collect::<Vec<_>>(),
        "after the restart: only the new changes, once each, in order"
    );
    let stats = stream.stats();
    assert!(
        stats.duplicates >= 2,
        "the room archive replayed the changes the API had already given: {stats:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_server_crashes_it_catches_up_again_and_yields_each_change_once() {
    let prosody = Prosody::start();
    let bridge = prosody.bridge("publisher", "wikidb").await;
    let wiki = Wiki::start(Some(bridge.local_addr()), None);
    let cast = Cast::new(&wiki).await;
    edit(&cast.admin, "Steady", "text", "before the crash", &[]).await;
    let config = BackfillConfig::new(
        PollerConfig::new("wikidb")
            .start(Start::Beginning)
            .interval(Duration::from_millis(300)),
    );
    let client = prosody
        .client("alice")
        .room(&room_jid("wikidb"), "alice")
        .unwrap();
    let mut stream =
        Backfilled::start(client, wiki.api(), config, BackfillPosition::default()).unwrap();
    let before = all_rcids(&wiki).await;
    let got = collect(&mut stream, &before).await;
    assert_eq!(rcids(&got), before.iter().copied().collect::<Vec<_>>());

    // The server crashes; the wiki goes on (the bridge keeps what it could not post).
    prosody.kill();
    for n in 0..3 {
        edit(
            &cast.admin,
            "Steady",
            &format!("down {n}"),
            &format!("while down {n}"),
            &[],
        )
        .await;
    }
    prosody.restart();
    edit(&cast.admin, "Steady", "back", "after the restart", &[]).await;
    let all = all_rcids(&wiki).await;
    let fresh: BTreeSet<u64> = all.difference(&before).copied().collect();
    assert_eq!(fresh.len(), 4);
    let got = collect(&mut stream, &fresh).await;
    assert_eq!(
        rcids(&got),
        fresh.iter().copied().collect::<Vec<_>>(),
        "every change made around the crash once, in order"
    );
    let stats = stream.stats();
    assert!(
        stats.catch_ups >= 2,
        "caught up again after reconnecting: {stats:?}"
    );
    assert!(
        stream.status().borrow().connections >= 2,
        "{:?}",
        *stream.status().borrow()
    );
}
