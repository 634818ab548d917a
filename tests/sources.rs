//! `recentchanges::source`: the same stream, filter, status and resume file for every
//! kind of source, against the real servers (Prosody, MediaWiki) started by the project's
//! scripts.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use recentchanges::http::Start;
use recentchanges::source::{Change, Changes, Source, SourceError, State};
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
    let mut publisher = prosody.publisher("publisher", &["named"]);
    let dir = std::env::temp_dir().join(format!("rc-e2e-sources-{}", prosody.port));
    std::fs::create_dir_all(&dir).unwrap();
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
    let mut status = changes.status();
    tokio::time::timeout(
        Duration::from_secs(15),
        status.wait_for(|s| s.state == State::Live),
    )
    .await
    .expect("live")
    .unwrap();
    // The room needs a moment to exist for the publisher too: publish until delivered.
    let room_bare = room.parse().unwrap();
    for (id, ns) in [(1, 0), (2, 1), (3, 0)] {
        publisher
            .publish(&room_bare, &change(id, ns, &format!("T{id}")))
            .await
            .unwrap();
    }
    assert!(publisher.flush(Duration::from_secs(10)).await);
    let got: Vec<u64> = vec![
        next_change(&mut changes).await,
        next_change(&mut changes).await,
    ]
    .iter()
    .map(|c| c.rcid.unwrap())
    .collect();
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
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mediawiki_by_name_yields_every_change_once_across_a_restart() {
    let wiki = Wiki::start(None, None);
    let cast = Cast::new(&wiki).await;
    edit(&cast.admin, "Named", "one", "first", &[]).await;
    let dir = std::env::temp_dir().join(format!("rc-e2e-sources-mw-{}", wiki.port));
    std::fs::create_dir_all(&dir).unwrap();
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
    let _ = std::fs::remove_dir_all(&dir);
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
