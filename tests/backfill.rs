//! Backfill from a real MediaWiki's API into a real Prosody room stream: changes the room
//! never saw (the bridge was down) come from `list=recentchanges`, the room's own changes
//! follow, and across a restart the room archive's replay and the API's catch-up overlap
//! without a change yielded twice.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{bridge, bridge_at, Cast};
use rc_testkit::{
    assert_quiet, collect_until, edit, next_within, MediaWiki, Prosody, TempDir, XmppServer,
};
use recentchanges::http::backfill::{BackfillConfig, BackfillPosition, Backfilled, Merged};
use recentchanges::http::{Api, Poller, PollerConfig, Start};

/// Every rcid the wiki lists now.
async fn all_rcids(wiki: &MediaWiki) -> BTreeSet<u64> {
    listed_rcids(wiki, recentchanges::Filter::new()).await
}

/// The rcids of the changes the wiki lists now that `filter` keeps.
async fn listed_rcids(wiki: &MediaWiki, filter: recentchanges::Filter) -> BTreeSet<u64> {
    let mut poller = Poller::new(
        wiki.api(),
        PollerConfig::new("wikidb")
            .start(Start::Beginning)
            .filter(filter),
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

/// Reads the stream until every rcid of `want` arrived (within a minute), then a quiet
/// second for extras.
async fn collect(stream: &mut Backfilled, want: &BTreeSet<u64>) -> Vec<Merged> {
    collect_until(
        stream,
        want,
        |c: &Merged| c.rcid,
        60,
        Duration::from_secs(1),
    )
    .await
}

/// Saves `title` `n` times, edit `i` with text `{text} {i}` and summary `{summary} {i}`.
async fn edits(api: &Api, title: &str, n: usize, text: &str, summary: &str) {
    for i in 0..n {
        edit(
            api,
            title,
            &format!("{text} {i}"),
            &format!("{summary} {i}"),
            &[],
        )
        .await;
    }
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
    let wiki = MediaWiki::start(Some(feed_addr), None);
    let cast = Cast::new(&wiki).await;
    edits(&cast.admin, "Before", 3, "text", "before").await;
    let unseen = all_rcids(&wiki).await;
    assert!(unseen.len() >= 5, "{unseen:?}");

    let _bridge = bridge_at(&prosody, "publisher", "wikidb", feed_addr).await;
    let dir = TempDir::new("rc-e2e-backfill");
    let state = dir.join("backfill.json");
    let config = BackfillConfig::new(
        PollerConfig::new("wikidb")
            .start(Start::Beginning)
            .limit(4)
            .interval(Duration::from_millis(300)),
    );
    let client = || prosody.room_client("alice", "wikidb");
    let mut stream = Backfilled::start(
        client(),
        wiki.api(),
        config.clone(),
        BackfillPosition::load(&state).unwrap(),
    )
    .unwrap();
    // Changes made while it catches up and after.
    edits(&cast.admin, "During", 3, "text", "during").await;
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
    // One change from the room itself, so that the position holds the room's place: the
    // position moves with what is yielded, and every change so far may have come from
    // the API (the room's copies dropped), which leaves the room's place unset.
    edit(&cast.admin, "Settled", "text", "settled", &[]).await;
    let settled = next_within(&mut stream, 30).await.unwrap();
    assert!(
        !settled.is_backfilled(),
        "after the catch-up, the room: {settled:?}"
    );
    let mut want = want;
    want.insert(settled.rcid.unwrap());
    stream.position().save(&state).unwrap();
    drop(stream);

    // Away: these reach the room (and its archive) and the API alike.
    edits(&cast.admin, "Away", 2, "text", "away").await;
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
    // The room's archive replays the two changes made while away, after the API gave
    // them (and "Back" too, when the API had it): dropped, not yielded again. They may
    // still be on their way when the API's copies were read.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while stream.stats().duplicates < 2 && tokio::time::Instant::now() < deadline {
        assert_quiet(
            &mut stream,
            Duration::from_millis(100),
            "a change yielded twice after the restart",
        )
        .await;
    }
    let stats = stream.stats();
    assert!(
        stats.duplicates >= 2,
        "the room archive replayed the changes the API had already given: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_server_crashes_it_catches_up_again_and_yields_each_change_once() {
    let mut prosody = Prosody::start();
    let bridge = bridge(&prosody, "publisher", "wikidb").await;
    let wiki = MediaWiki::start(Some(bridge.local_addr()), None);
    let cast = Cast::new(&wiki).await;
    edit(&cast.admin, "Steady", "text", "before the crash", &[]).await;
    let config = BackfillConfig::new(
        PollerConfig::new("wikidb")
            .start(Start::Beginning)
            .interval(Duration::from_millis(300)),
    );
    let client = prosody.room_client("alice", "wikidb");
    let mut stream =
        Backfilled::start(client, wiki.api(), config, BackfillPosition::default()).unwrap();
    let before = all_rcids(&wiki).await;
    let got = collect(&mut stream, &before).await;
    assert_eq!(rcids(&got), before.iter().copied().collect::<Vec<_>>());

    // The server crashes; the wiki goes on (the bridge keeps what it could not post).
    prosody.kill();
    edits(&cast.admin, "Steady", 3, "down", "while down").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_outage_while_joined_is_filled_from_the_api_in_rcid_order() {
    let prosody = Prosody::start();
    let bridge = bridge(&prosody, "publisher", "wikidb").await;
    let feed_addr = bridge.local_addr();
    let wiki = MediaWiki::start(Some(feed_addr), None);
    let cast = Cast::new(&wiki).await;
    let dir = TempDir::new("rc-e2e-backfill-gap");
    let state = dir.join("backfill.json");
    let config = BackfillConfig::new(
        PollerConfig::new("wikidb")
            .start(Start::Beginning)
            .interval(Duration::from_millis(300)),
    );
    let client = || prosody.room_client("alice", "wikidb");
    let mut stream = Backfilled::start(
        client(),
        wiki.api(),
        config.clone(),
        BackfillPosition::default(),
    )
    .unwrap();
    edit(&cast.admin, "Gap", "text", "before the outage", &[]).await;
    let before = all_rcids(&wiki).await;
    let got = collect(&mut stream, &before).await;
    assert_eq!(rcids(&got), before.iter().copied().collect::<Vec<_>>());

    // The bridge dies while the consumer stays joined: these changes never reach the
    // room, and no reconnection tells the consumer to catch up.
    drop(bridge);
    tokio::time::sleep(Duration::from_millis(500)).await;
    edits(&cast.admin, "Gap", 3, "lost", "while the bridge was down").await;
    let _bridge = bridge_at(&prosody, "publisher", "wikidb", feed_addr).await;
    edits(&cast.admin, "Gap", 2, "back", "after the bridge came back").await;
    let all = all_rcids(&wiki).await;
    let fresh: BTreeSet<u64> = all.difference(&before).copied().collect();
    assert_eq!(fresh.len(), 5);
    let got = collect(&mut stream, &fresh).await;
    assert_eq!(
        rcids(&got),
        fresh.iter().copied().collect::<Vec<_>>(),
        "the outage's changes from the API, every rcid once, in order"
    );
    let lost: Vec<u64> = fresh.iter().copied().take(3).collect();
    for c in got.iter().filter(|c| lost.contains(&c.rcid.unwrap())) {
        assert!(c.is_backfilled(), "{:?} never reached the room", c.rcid);
    }
    let stats = stream.stats();
    assert!(stats.gap_fills >= 1, "{stats:?}");
    assert_eq!(
        stream.status().borrow().connections,
        1,
        "filled while joined, not after a reconnection"
    );
    assert_eq!(stream.position().max_rcid, all.last().copied());
    stream.position().save(&state).unwrap();
    drop(stream);

    // The saved position is past the filled gap: a restart yields only what is new.
    let mut stream = Backfilled::start(
        client(),
        wiki.api(),
        config,
        BackfillPosition::load(&state).unwrap(),
    )
    .unwrap();
    edit(&cast.admin, "Gap", "later", "after the restart", &[]).await;
    let newest: BTreeSet<u64> = all_rcids(&wiki).await.difference(&all).copied().collect();
    let got = collect(&mut stream, &newest).await;
    assert_eq!(rcids(&got), newest.iter().copied().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_is_not_taken_for_a_gap_and_applies_to_the_filled_changes() {
    let prosody = Prosody::start();
    let bridge = bridge(&prosody, "publisher", "wikidb").await;
    let feed_addr = bridge.local_addr();
    let wiki = MediaWiki::start(Some(feed_addr), None);
    let cast = Cast::new(&wiki).await;
    let config = BackfillConfig::new(
        PollerConfig::new("wikidb")
            .start(Start::Beginning)
            .interval(Duration::from_millis(300))
            .filter(recentchanges::Filter::new().namespace(0)),
    );
    let mut stream = Backfilled::start(
        prosody.room_client("alice", "wikidb"),
        wiki.api(),
        config,
        BackfillPosition::default(),
    )
    .unwrap();
    edit(&cast.admin, "Main", "text", "main 0", &[]).await;
    let main0 = listed_rcids(&wiki, recentchanges::Filter::new().namespace(0)).await;
    collect(&mut stream, &main0).await;
    let fills = stream.stats().gap_fills;
    // Talk pages and main pages in turn: the talk pages' rcids are filtered out, not
    // missing, so no gap is filled; then an outage with both kinds.
    for i in 1..=3 {
        edit(&cast.admin, "Talk:Main", &format!("talk {i}"), "talk", &[]).await;
        edit(&cast.admin, "Main", &format!("main {i}"), "main", &[]).await;
    }
    drop(bridge);
    tokio::time::sleep(Duration::from_millis(500)).await;
    edit(&cast.admin, "Talk:Main", "talk lost", "talk lost", &[]).await;
    edit(&cast.admin, "Main", "main lost", "main lost", &[]).await;
    let _bridge = bridge_at(&prosody, "publisher", "wikidb", feed_addr).await;
    edit(&cast.admin, "Main", "main back", "main back", &[]).await;
    let main: BTreeSet<u64> = listed_rcids(&wiki, recentchanges::Filter::new().namespace(0))
        .await
        .difference(&main0)
        .copied()
        .collect();
    assert_eq!(main.len(), 5);
    let got = collect(&mut stream, &main).await;
    assert_eq!(
        rcids(&got),
        main.iter().copied().collect::<Vec<_>>(),
        "the main namespace's changes once each, in order, none of the talk pages'"
    );
    assert_eq!(
        stream.stats().gap_fills,
        fills + 1,
        "only the outage was a gap: {:?}",
        stream.stats()
    );
}
