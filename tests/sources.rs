//! `recentchanges::source`: the same stream, filter, status and resume file for every
//! kind of source, against the real servers (Prosody, MediaWiki) started by the project's
//! scripts.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Cast;
use futures::StreamExt;
use rc_testkit::{
    assert_quiet, edit, free_port, room_bare, room_jid, wait_status, MediaWiki, Prosody, TempDir,
    XmppServer,
};
use recentchanges::http::Start;
use recentchanges::source::{Change, Changes, Source, SourceError, SourceStatus, State};
use recentchanges::xmpp::pubsub::{AtomEntry, NodePublisher};
use recentchanges::xmpp::Tls;
use recentchanges::{Filter, Kind, RecentChange};

async fn next_change(changes: &mut Changes) -> Change {
    match tokio::time::timeout(Duration::from_secs(30), changes.next()).await {
        Ok(Some(Ok(c))) => c,
        Ok(Some(Err(e))) => panic!("error item: {e}"),
        Ok(None) => panic!("the stream ended"),
        Err(_) => panic!(
            "no change within 30 s; status {:?}",
            *changes.status().borrow()
        ),
    }
}

/// Waits until the source is live.
async fn live(changes: &Changes, secs: u64, what: &str) {
    wait_status(changes.status(), secs, what, |s: &SourceStatus| {
        s.state == State::Live
    })
    .await;
}

fn change(rcid: u64, ns: i32, title: &str) -> RecentChange {
    let mut rc = RecentChange::new(Kind::Edit);
    rc.rcid = Some(rcid);
    rc.wiki = Some("wikidb".into());
    rc.namespace = Some(ns);
    rc.title = Some(title.into());
    rc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_by_name_filters_reports_status_and_resumes_from_its_file() {
    let prosody = Prosody::start();
    let room = room_jid("named");
    let mut publisher = prosody.publisher(&["named"]);
    let dir = TempDir::new("rc-e2e-sources");
    let pos = dir.join("room.pos");
    let open = || {
        Source::new(&format!("xmpp:{room}"))
            .unwrap()
            .anonymous("anon.localhost")
            .server(&prosody.addr())
            .tls(Tls::PlaintextLoopback)
            .nick("reader")
            .filter(Filter::new().namespace(0))
            .resume_from_file(&pos)
            .open()
            .unwrap()
    };
    let mut changes = open();
    live(&changes, 15, "live").await;
    // The room needs a moment to exist for the publisher too: publish until delivered.
    let room_bare = room_bare("named");
    for (id, ns) in [(1, 0), (2, 1), (3, 0)] {
        publisher
            .publish(&room_bare, &change(id, ns, &format!("T{id}")))
            .await
            .unwrap();
    }
    assert!(publisher.flush(Duration::from_secs(10)).await);
    let first = next_change(&mut changes).await;
    let second = next_change(&mut changes).await;
    let got = [first.rcid.unwrap(), second.rcid.unwrap()];
    assert_eq!(got, [1, 3], "the talk-page change is filtered out");
    let c = changes.status().borrow().clone();
    assert_eq!((c.changes, c.errors), (2, 0));
    changes.close();
    assert!(std::fs::read_to_string(&pos)
        .unwrap()
        .contains("named@conference.localhost"));

    // Away: two more; a new stream from the file gets only them.
    for id in [4, 5] {
        publisher
            .publish(&room_bare, &change(id, 0, &format!("T{id}")))
            .await
            .unwrap();
    }
    assert!(publisher.flush(Duration::from_secs(10)).await);
    let mut changes = open();
    let a = next_change(&mut changes).await;
    let b = next_change(&mut changes).await;
    assert_eq!((a.rcid, b.rcid), (Some(4), Some(5)));
    assert!(a.replayed && a.via == room && a.id.is_some(), "{a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mediawiki_by_name_yields_every_change_once_across_a_restart() {
    let wiki = MediaWiki::start(None, None);
    let cast = Cast::new(&wiki).await;
    edit(&cast.admin, "Named", "one", "first", &[]).await;
    let dir = TempDir::new("rc-e2e-sources-mw");
    let pos = dir.join("mw.pos");
    let open = || {
        Source::new(&format!("mediawiki:{}", wiki.api_url()))
            .unwrap()
            .wiki("wikidb")
            .start(Start::Beginning)
            .interval(Duration::from_millis(200))
            .resume_from_file(&pos)
            .open()
            .unwrap()
    };
    let mut changes = open();
    let mut seen = BTreeSet::new();
    loop {
        let c = next_change(&mut changes).await;
        assert_eq!(c.wiki.as_deref(), Some("wikidb"));
        assert!(seen.insert(c.rcid.unwrap()), "once");
        if c.title.as_deref() == Some("Named") {
            break;
        }
    }
    drop(changes); // saves the position
    edit(&cast.admin, "Named", "two", "second", &[]).await;
    let mut changes = open();
    let c = next_change(&mut changes).await;
    assert_eq!(
        (c.title.as_deref(), c.comment.as_deref()),
        (Some("Named"), Some("second"))
    );
    assert!(!seen.contains(&c.rcid.unwrap()));
    assert_eq!(changes.status().borrow().state, State::Live);

    // A quiet wiki is live too, before any change.
    let quiet = Source::new(&format!("mediawiki:{}", wiki.api_url()))
        .unwrap()
        .interval(Duration::from_millis(200))
        .open()
        .unwrap();
    live(&quiet, 10, "live without a change").await;
    assert_eq!(quiet.status().borrow().changes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_source_stopped_before_any_change_resumes_where_it_stood() {
    let wiki = MediaWiki::start(None, None);
    let cast = Cast::new(&wiki).await;
    edit(&cast.admin, "Before", "old", "before the source", &[]).await;
    let dir = TempDir::new("rc-e2e-sources-quiet");
    let pos = dir.join("mw.pos");
    let open = || {
        Source::new(&format!("mediawiki:{}", wiki.api_url()))
            .unwrap()
            .wiki("wikidb")
            .interval(Duration::from_millis(200))
            .resume_from_file(&pos)
            .open()
            .unwrap()
    };
    // Started now, live, read while nothing happens, stopped.
    let mut changes = open();
    live(&changes, 10, "live").await;
    let quiet = tokio::time::timeout(Duration::from_millis(600), changes.next()).await;
    assert!(quiet.is_err(), "nothing new: {quiet:?}");
    assert!(
        !changes.position().is_null(),
        "where the quiet poll left it"
    );
    drop(changes); // saves the position
    assert!(pos.exists(), "the position file was written");

    // Edited while stopped: the restart yields it (not "now" again), and nothing older.
    edit(&cast.admin, "While stopped", "new", "while stopped", &[]).await;
    let mut changes = open();
    let c = next_change(&mut changes).await;
    assert_eq!(c.title.as_deref(), Some("While stopped"));
}

#[tokio::test]
async fn misconfigured_sources_say_what_is_missing() {
    let err = Source::new("xmpp:room@conference.localhost")
        .unwrap()
        .open()
        .unwrap_err();
    assert!(matches!(err, SourceError::Config(_)));
    assert!(
        err.to_string()
            .contains(".account(jid, password) or .anonymous(domain)"),
        "{err}"
    );
    let err = Source::new("xmpp:room@conference.localhost")
        .unwrap()
        .anonymous("anon.localhost")
        .backfill("http://127.0.0.1:1/api.php")
        .open()
        .unwrap_err();
    assert!(err.to_string().contains(".wiki(...)"), "{err}");
    let src = Source::new("xmpp:room@conference.localhost")
        .unwrap()
        .account("a@localhost", "hunter2secret");
    assert!(!format!("{src:?}").contains("hunter2secret"), "{src:?}");
}

/// Posts one XML-RPC call over a plain HTTP connection and returns the answer's body.
async fn post_xmlrpc(addr: std::net::SocketAddr, body: &str) -> String {
    rc_testkit::http::post(addr, "/RPC2", "text/xml", body)
        .await
        .1
}

fn ping(wiki: &str, tag: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>wiki.ping</methodName><params><param><value><struct>\
         <member><name>Wiki</name><value>{wiki}</value></member>\
         <member><name>tag</name><value>{tag}</value></member>\
         <member><name>URL</name><value>http://{wiki}.example/{tag}</value></member>\
         <member><name>author</name><value>sebastian</value></member>\
         </struct></value></param></params></methodCall>"
    )
}

#[tokio::test]
async fn a_wikiping_listener_by_name_yields_pings_through_the_filter() {
    let port = free_port();
    let mut changes = Source::new(&format!("wikiping:127.0.0.1:{port}"))
        .unwrap()
        .filter(Filter::new().wiki("mindWiki"))
        .open()
        .unwrap();
    live(&changes, 5, "live").await;
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let other = post_xmlrpc(addr, &ping("otherWiki", "Elsewhere")).await;
    assert!(other.contains("<boolean>0</boolean>"), "{other}");
    let answer = post_xmlrpc(addr, &ping("mindWiki", "HomePage")).await;
    assert!(answer.contains("<boolean>0</boolean>"), "{answer}");
    let c = next_change(&mut changes).await;
    assert_eq!(
        (
            c.wiki.as_deref(),
            c.title.as_deref(),
            c.url.as_deref(),
            c.user.as_deref()
        ),
        (
            Some("mindWiki"),
            Some("HomePage"),
            Some("http://mindWiki.example/HomePage"),
            Some("sebastian")
        )
    );
    assert_eq!(c.via, format!("wikiping:127.0.0.1:{port}"));
    // A refused ping is an error item; the listener goes on.
    let refused = post_xmlrpc(addr, "<methodCall><methodName>wiki.ping</methodName><params><param><value><struct><member><name>tag</name><value>X</value></member></struct></value></param></params></methodCall>").await;
    assert!(refused.contains("wiki name required"), "{refused}");
    match tokio::time::timeout(Duration::from_secs(5), changes.next()).await {
        Ok(Some(Err(e))) => assert!(!e.is_fatal() && e.to_string().contains("wiki"), "{e}"),
        other => panic!("expected an error item, got {other:?}"),
    }
    post_xmlrpc(addr, &ping("mindWiki", "Second")).await;
    assert_eq!(
        next_change(&mut changes).await.title.as_deref(),
        Some("Second")
    );
    assert_eq!(
        changes.position(),
        &serde_json::Value::Null,
        "a listener has no position"
    );
}

/// Publishes edit `n` of DokuWiki's `wiki:start` as an Atom entry, the dokupubsub way.
async fn publish(publisher: &mut NodePublisher, n: i64) {
    let updated = chrono::DateTime::from_timestamp(1_220_190_780 + n, 0).unwrap();
    let entry = AtomEntry::new(format!("urn:dokuwiki:start:{n}"), "wiki:start", updated)
        .link(format!(
            "http://127.0.0.1/doku.php?id=wiki:start&rev={}",
            updated.timestamp()
        ))
        .author("rgareus")
        .summary(format!("edit {n}"));
    let service = "pubsub.localhost".parse().unwrap();
    publisher
        .publish(&service, "dokuwiki", &entry)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pubsub_node_by_name_yields_atom_entries_and_resumes_from_its_file() {
    let prosody = Prosody::start();
    let mut publisher = prosody.node_publisher().start().unwrap();
    publish(&mut publisher, 0).await; // creates the node
    assert!(publisher.flush(Duration::from_secs(20)).await);
    let dir = TempDir::new("rc-e2e-sources-ps");
    let pos = dir.join("node.pos");
    let open = || {
        Source::new("xmpp:pubsub.localhost?;node=dokuwiki")
            .unwrap()
            .anonymous("anon.localhost")
            .server(&prosody.addr())
            .tls(Tls::PlaintextLoopback)
            .wiki("dokuwiki-test")
            .resume_from_file(&pos)
            .open()
            .unwrap()
    };
    let mut changes = open();
    live(&changes, 15, "live").await;
    // Live entries after the subscription.
    let mut got = Vec::new();
    for n in 1..=2 {
        publish(&mut publisher, n).await;
    }
    assert!(publisher.flush(Duration::from_secs(20)).await);
    while got.len() < 2 {
        let c = next_change(&mut changes).await;
        if c.comment.as_deref() != Some("edit 0") {
            got.push(c);
        }
    }
    assert_eq!(
        got.iter()
            .map(|c| c.comment.clone().unwrap())
            .collect::<Vec<_>>(),
        ["edit 1", "edit 2"]
    );
    let c = &got[0];
    assert_eq!(
        (
            c.title.as_deref(),
            c.user.as_deref(),
            c.wiki.as_deref(),
            c.entry_id.as_deref()
        ),
        (
            Some("wiki:start"),
            Some("rgareus"),
            Some("dokuwiki-test"),
            Some("urn:dokuwiki:start:1")
        )
    );
    assert_eq!(c.via, "xmpp:pubsub.localhost?;node=dokuwiki");
    assert!(c.id.is_some() && c.url.as_deref().unwrap().contains("rev="));
    changes.close();

    // Published while away: fetched from the node on the next start, once each.
    for n in 3..=4 {
        publish(&mut publisher, n).await;
    }
    assert!(publisher.flush(Duration::from_secs(20)).await);
    let mut changes = open();
    let a = next_change(&mut changes).await;
    let b = next_change(&mut changes).await;
    assert_eq!(
        (a.comment.as_deref(), b.comment.as_deref()),
        (Some("edit 3"), Some("edit 4"))
    );
    assert!(a.replayed && b.replayed);
    assert_quiet(&mut changes, Duration::from_millis(1500), "nothing more").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_started_at_a_time_catches_up_from_its_archive_since_then() {
    let prosody = Prosody::start();
    let room = room_jid("since");
    let room_bare = room_bare("since");
    let mut publisher = prosody.publisher(&["since"]);
    for id in 1..=3 {
        publisher
            .publish(&room_bare, &change(id, 0, &format!("T{id}")))
            .await
            .unwrap();
    }
    assert!(publisher.flush(Duration::from_secs(10)).await);
    // The archive's times are the server's, in whole seconds on the wire: a clear second
    // on each side of the start.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let start = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for id in 4..=6 {
        publisher
            .publish(&room_bare, &change(id, 0, &format!("T{id}")))
            .await
            .unwrap();
    }
    assert!(publisher.flush(Duration::from_secs(10)).await);

    // No saved position: the room's changes since `start`, from its archive.
    let mut changes = Source::new(&format!("xmpp:{room}"))
        .unwrap()
        .anonymous("anon.localhost")
        .server(&prosody.addr())
        .tls(Tls::PlaintextLoopback)
        .nick("late")
        .start(Start::At(start))
        .open()
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_change(&mut changes).await);
    }
    assert_eq!(
        got.iter().map(|c| c.rcid.unwrap()).collect::<Vec<_>>(),
        [4, 5, 6],
        "exactly the changes since the start"
    );
    assert!(got.iter().all(|c| c.replayed), "{got:?}");
    assert_quiet(
        &mut changes,
        Duration::from_millis(1500),
        "nothing before the start",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dokuwiki_source_with_an_end_yields_the_range_and_finishes() {
    use recentchanges::http::wikirpc::{Client, Credentials, Dialect};
    let wiki = rc_testkit::DokuWiki::start();
    let client = Client::builder(&wiki.xmlrpc_url, Dialect::DokuWiki)
        .credentials(Credentials::new(&wiki.user, &wiki.password))
        .build()
        .unwrap();
    rc_testkit::put_page(&client, "alpha", "Alpha").await;
    rc_testkit::put_page(&client, "beta", "Beta").await;
    // DokuWiki's times are whole seconds: a clear second on each side of the end.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let end = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    rc_testkit::put_page(&client, "gamma", "Gamma").await;

    let mut changes = Source::new(&format!("dokuwiki:{}", wiki.xmlrpc_url))
        .unwrap()
        .credentials(&wiki.user, &wiki.password)
        .interval(Duration::from_millis(300))
        .start(Start::Beginning)
        .end(end)
        .open()
        .unwrap();
    let mut titles = Vec::new();
    while let Some(item) = tokio::time::timeout(Duration::from_secs(30), changes.next())
        .await
        .expect("the stream ends at the end")
    {
        titles.push(item.unwrap().title.clone().unwrap());
    }
    assert_eq!(
        titles,
        ["alpha", "beta"],
        "the range, not what came after it"
    );
    assert_eq!(changes.status().borrow().state, State::Finished);
}
