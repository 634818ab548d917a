//! End to end from a real MediaWiki 1.39 to a Rust consumer of an XMPP room (real
//! Prosody), through the two ways a wiki's changes reach the bridge:
//!
//! - the wiki's own `$wgRCFeeds` (JSON and XML formatters) sending UDP to `Bridge`;
//! - `rc2udp`: the API poller sending XMLRC `<rc>` packets to `Bridge`.
//!
//! Every change made through the API arrives, in order, once, and its fields equal what
//! `list=recentchanges` reports for the same rcid.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use recentchanges::http::relay::Relay;
use recentchanges::http::{Poller, PollerConfig, Start};
use recentchanges::xmpp::RoomChange;
use recentchanges::RecentChange;

/// Reads every new row of `list=recentchanges` into `rows` (first seen wins).
async fn drain(poller: &mut Poller, rows: &mut BTreeMap<u64, RecentChange>) {
    for _ in 0..100 {
        for item in poller.poll().await.expect("list=recentchanges") {
            let rc = item.expect("every row parses");
            rows.entry(rc.rcid.expect("an rcid")).or_insert(rc);
        }
        if poller.caught_up() {
            return;
        }
    }
    panic!("the poller did not catch up");
}

fn check_order_and_once(got: &[RoomChange], want: &BTreeSet<u64>, what: &str) {
    let ids: Vec<Option<u64>> = got.iter().map(|c| c.rcid).collect();
    let want_ids: Vec<Option<u64>> = want.iter().copied().map(Some).collect();
    assert_eq!(ids, want_ids, "{what}: every change once, in rcid order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiki_feeds_reach_a_room_consumer_in_order_once_with_the_api_fields() {
    let t0 = Instant::now();
    let prosody = Prosody::start();
    let mut json_reader = prosody.consumer("alice", "wikidb").await;
    let mut xml_reader = prosody.consumer("bob", "wikidbxml").await;
    let json_bridge = prosody.bridge("publisher", "wikidb").await;
    let xml_bridge = prosody.bridge("publisher2", "wikidbxml").await;
    let wiki = Wiki::start(
        Some(xml_bridge.local_addr()),
        Some(json_bridge.local_addr()),
    );
    let started = t0.elapsed();

    // What the wiki holds before any change is sent (install.php ran without feeds).
    let mut rows = BTreeMap::new();
    let mut lister = Poller::new(
        wiki.api(),
        PollerConfig::new("wikidb").start(Start::Beginning),
    );
    drain(&mut lister, &mut rows).await;
    let before: BTreeSet<u64> = rows.keys().copied().collect();

    let cast = Cast::new(&wiki).await;
    let mut lister = Poller::new(
        cast.admin.clone(),
        PollerConfig::new("wikidb").start(Start::Beginning),
    );
    drain(&mut lister, &mut rows).await;
    let mut kinds = BTreeMap::new();
    for n in 0..STEPS {
        let what = step(&wiki, &cast, n).await;
        let had = rows.len();
        drain(&mut lister, &mut rows).await;
        assert!(rows.len() > had, "step {n} ({what}) made a recent change");
        kinds.insert(n, what);
    }
    let want: BTreeSet<u64> = rows
        .keys()
        .copied()
        .filter(|id| !before.contains(id))
        .collect();
    assert!(want.len() >= 20, "{} changes", want.len());

    for (reader, form, bridge) in [
        (&mut json_reader, "JSON feed", &json_bridge),
        (&mut xml_reader, "XML feed", &xml_bridge),
    ] {
        let got = collect_until(reader, &want, 30, Duration::from_millis(800)).await;
        check_order_and_once(&got, &want, form);
        for c in &got {
            let api = &rows[&c.rcid.unwrap()];
            assert_fields(&c.change, api, &carried("feed", &api.kind), form);
        }
        let status = reader.status().borrow().clone();
        assert_eq!(
            status.duplicates, 0,
            "{form}: no duplicate reached the client"
        );
        let stats = bridge.stats();
        assert_eq!(
            (
                stats.received(),
                stats.invalid(),
                stats.unrouted(),
                stats.published()
            ),
            (want.len() as u64, 0, 0, want.len() as u64),
            "{form}: one packet per change, each published once"
        );
    }
    // The kinds of change the issue lists, by the API's account.
    let seen: BTreeSet<String> = want
        .iter()
        .map(|id| {
            let rc = &rows[id];
            match &rc.log_type {
                Some(t) => format!("log/{t}"),
                None if rc.bot => format!("{}/bot", rc.kind),
                None if rc.anon => format!("{}/anon", rc.kind),
                None if rc.minor => format!("{}/minor", rc.kind),
                None => rc.kind.to_string(),
            }
        })
        .collect();
    for k in [
        "new",
        "edit",
        "edit/minor",
        "edit/bot",
        "edit/anon",
        "new/anon",
        "log/move",
        "log/delete",
        "log/protect",
        "log/block",
        "categorize",
        "log/newusers",
        "log/rights",
    ] {
        assert!(seen.contains(k), "the run covers {k}: {seen:?}");
    }
    eprintln!(
        "feeds pipeline: {} changes in {:.1?} (servers up in {started:.1?})",
        want.len(),
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rc2udp_relays_the_api_to_a_room_consumer_across_a_restart() {
    let t0 = Instant::now();
    let prosody = Prosody::start();
    let mut reader = prosody.consumer("carol", "wikidb").await;
    let bridge = prosody.bridge("publisher", "wikidb").await;
    let wiki = Wiki::start(None, None);
    let dir = std::env::temp_dir().join(format!("rc-e2e-rc2udp-{}", wiki.port));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("rc2udp.json");

    // The relay logs in (to see the patrolled flag) and pages through 7 changes a request.
    let relay_api = wiki.session("Admin", ADMIN_PASSWORD).await;
    let new_relay = |api| {
        let poller = Poller::new(
            api,
            PollerConfig::new("wikidb").start(Start::Beginning).limit(7),
        );
        Relay::new(poller, bridge.local_addr(), Some(state.clone()))
    };
    let mut relay = new_relay(relay_api.clone()).await.unwrap();
    let cast = Cast::new(&wiki).await;
    let mut rows = BTreeMap::new();
    let mut lister = Poller::new(
        cast.admin.clone(),
        PollerConfig::new("wikidb").start(Start::Beginning),
    );
    relay.run_once().await.unwrap();
    drain(&mut lister, &mut rows).await;
    let mut sent = relay.stats().sent;
    for n in 0..STEPS {
        step(&wiki, &cast, n).await;
        if n == STEPS / 2 {
            // A new relay process: it continues from the state file.
            drop(relay);
            relay = new_relay(relay_api.clone()).await.unwrap();
        }
        sent += relay.run_once().await.unwrap();
        drain(&mut lister, &mut rows).await;
    }
    let want: BTreeSet<u64> = rows.keys().copied().collect();
    assert_eq!(
        sent,
        want.len() as u64,
        "each change sent once, across the restart"
    );
    assert!(
        relay.poller().requests() > 5,
        "pages of 7: {}",
        relay.poller().requests()
    );

    let got = collect_until(&mut reader, &want, 30, Duration::from_millis(800)).await;
    check_order_and_once(&got, &want, "rc2udp");
    for c in &got {
        let api = &rows[&c.rcid.unwrap()];
        assert_fields(&c.change, api, &carried("rc", &api.kind), "rc2udp");
        assert_eq!(c.change, *api, "the whole change");
    }
    assert_eq!(reader.status().borrow().duplicates, 0);
    let stats = bridge.stats();
    assert_eq!(
        (stats.received(), stats.invalid(), stats.published()),
        (sent, 0, sent)
    );
    std::fs::remove_dir_all(&dir).ok();
    eprintln!(
        "rc2udp pipeline: {} changes in {:.1?}",
        want.len(),
        t0.elapsed()
    );
}
