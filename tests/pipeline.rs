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

use common::{bridge, Cast};
use rc_testkit::{
    act, collect_until, edit, MediaWiki, Prosody, TempDir, XmppServer, ADMIN_PASSWORD,
};
use recentchanges::http::relay::Relay;
use recentchanges::http::{Poller, PollerConfig, Start};
use recentchanges::xmpp::{ChangeStream, RoomChange};
use recentchanges::{Kind, RecentChange};
use serde_json::Value;

/// The scripted changes of the pipeline tests, one step at a time (`steps()` of them):
/// a new page, edits (plain, minor, bot, anonymous), a move, a deletion, a protection, a
/// block, category membership, a non-ASCII title and a summary with markup characters.
const STEPS: usize = 16;

async fn step(wiki: &MediaWiki, cast: &Cast, n: usize) -> &'static str {
    let a = &cast.admin;
    match n {
        0 => {
            edit(
                a,
                "Alpha",
                "Alpha text.\n\n== Section ==\nBody.\n",
                "create Alpha",
                &[("createonly", "1")],
            )
            .await;
            "new page"
        }
        1 => {
            edit(
                a,
                "Alpha",
                "Alpha text.\n\n== Section ==\nBody, longer now.\n",
                "/* Section */ expand",
                &[],
            )
            .await;
            "edit"
        }
        2 => {
            edit(
                a,
                "Alpha",
                "Alpha text, fixed.\n\n== Section ==\nBody, longer now.\n",
                "typo",
                &[("minor", "1")],
            )
            .await;
            "minor edit"
        }
        3 => {
            edit(
                &cast.botty,
                "Alpha",
                "Alpha text, fixed.\n\n== Section ==\nBody, longer now.\n[[Talk:Alpha]]\n",
                "bot: add link",
                &[("bot", "1"), ("minor", "1")],
            )
            .await;
            "bot edit"
        }
        4 => {
            edit(
                &cast.anon,
                "Alpha",
                "Alpha text, fixed by an IP.\n",
                "anon change",
                &[],
            )
            .await;
            "anonymous edit"
        }
        5 => {
            edit(
                &cast.anon,
                "Anon page",
                "Created by an IP.",
                "new page by IP",
                &[("createonly", "1")],
            )
            .await;
            "anonymous new page"
        }
        6 => {
            edit(
                a,
                "Beta",
                "Beta text.",
                "create Beta",
                &[("createonly", "1")],
            )
            .await;
            act(
                a,
                &[
                    ("action", "move"),
                    ("from", "Beta"),
                    ("to", "Beta moved"),
                    ("reason", "move it"),
                ],
            )
            .await;
            "move"
        }
        7 => {
            edit(
                a,
                "Gamma",
                "Gamma text.",
                "create Gamma",
                &[("createonly", "1")],
            )
            .await;
            "new page to delete"
        }
        8 => {
            act(
                a,
                &[
                    ("action", "delete"),
                    ("title", "Gamma"),
                    ("reason", "delete test"),
                ],
            )
            .await;
            "delete"
        }
        9 => {
            act(
                a,
                &[
                    ("action", "protect"),
                    ("title", "Alpha"),
                    ("protections", "edit=sysop|move=sysop"),
                    ("expiry", "1 week|infinite"),
                    ("reason", "protect test"),
                ],
            )
            .await;
            "protect"
        }
        10 => {
            act(
                a,
                &[
                    ("action", "block"),
                    ("user", "192.0.2.7"),
                    ("expiry", "1 week"),
                    ("reason", "block test"),
                    ("nocreate", "1"),
                ],
            )
            .await;
            "block"
        }
        11 => {
            edit(
                a,
                "Category:Fruits",
                "All fruits.",
                "category page",
                &[("createonly", "1")],
            )
            .await;
            edit(
                a,
                "Apple",
                "An apple.\n[[Category:Fruits]]",
                "create Apple",
                &[("createonly", "1")],
            )
            .await;
            wiki.run_jobs();
            "category membership (new member)"
        }
        12 => {
            edit(
                a,
                "Banana",
                "A banana.",
                "create Banana",
                &[("createonly", "1")],
            )
            .await;
            edit(
                a,
                "Banana",
                "A banana.\n[[Category:Fruits]]",
                "categorise Banana",
                &[],
            )
            .await;
            wiki.run_jobs();
            "category membership (added by an edit)"
        }
        13 => {
            edit(
                a,
                "Café Ünïcode",
                "Ünïcode text: 日本語 🙂",
                "Test <b>bold</b> & \"double\" 'single' &amp;",
                &[("createonly", "1")],
            )
            .await;
            "non-ASCII title, markup in the summary"
        }
        14 => {
            act(
                a,
                &[
                    ("action", "undelete"),
                    ("title", "Gamma"),
                    ("reason", "restore test"),
                ],
            )
            .await;
            "undelete"
        }
        15 => {
            edit(
                &cast.botty,
                "Apple",
                "An apple, uncategorised.",
                "bot: decategorise",
                &[("bot", "1")],
            )
            .await;
            wiki.run_jobs();
            "category membership (removed by a bot edit)"
        }
        _ => unreachable!("step {n}"),
    }
}

/// Fields both forms carry (the feeds lack some fields of the API form, and name log
/// parameters differently), by the names of the JSON shape: rc-core/tests/fixtures.rs.
fn carried(form: &str, kind: &Kind) -> BTreeSet<&'static str> {
    let mut f: BTreeSet<_> = [
        "kind",
        "rcid",
        "wiki",
        "namespace",
        "title",
        "user",
        "bot",
        "minor",
        "anon",
        "timestamp",
        "comment",
        "log_id",
        "log_type",
        "log_action",
    ]
    .into();
    if form == "rc" || matches!(kind, Kind::Edit | Kind::New) {
        f.extend(["rev_id", "old_rev_id", "old_len", "new_len"]);
    }
    if form == "rc" {
        f.extend([
            "page_id",
            "user_id",
            "redirect",
            "parsed_comment",
            "tags",
            "sha1",
            "patrolled",
            "log_params",
        ]);
    }
    f
}

fn field(rc: &RecentChange, name: &str) -> Value {
    serde_json::to_value(rc)
        .unwrap()
        .get(name)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Asserts that `got` equals `want` in every field of `fields`.
fn assert_fields(got: &RecentChange, want: &RecentChange, fields: &BTreeSet<&str>, what: &str) {
    for name in fields {
        assert_eq!(
            field(got, name),
            field(want, name),
            "{what}: field `{name}` of rcid {:?}\n got: {}\nwant: {}",
            want.rcid,
            serde_json::to_string(got).unwrap(),
            serde_json::to_string(want).unwrap()
        );
    }
}

/// Reads the room until every rcid of `want` arrived (within 30 s), and what more comes.
async fn collect(reader: &mut ChangeStream, want: &BTreeSet<u64>) -> Vec<RoomChange> {
    let rcid = |c: &RoomChange| c.rcid;
    collect_until(reader, want, rcid, 30, Duration::from_millis(800)).await
}

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
    let json_bridge = bridge(&prosody, "publisher", "wikidb").await;
    let xml_bridge = bridge(&prosody, "publisher2", "wikidbxml").await;
    let wiki = MediaWiki::start(
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
        let got = collect(reader, &want).await;
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
    let bridge = bridge(&prosody, "publisher", "wikidb").await;
    let wiki = MediaWiki::start(None, None);
    let dir = TempDir::new("rc-e2e-rc2udp");
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

    let got = collect(&mut reader, &want).await;
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
    eprintln!(
        "rc2udp pipeline: {} changes in {:.1?}",
        want.len(),
        t0.elapsed()
    );
}
