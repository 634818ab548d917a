//! The poller and the page helpers against a real MediaWiki 1.39 (`scripts/mediawiki/`),
//! and the retry rules against a server that says "later".

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rc_testkit::http::canned_server;
use rc_testkit::{free_port, MediaWiki, ADMIN_PASSWORD};
use recentchanges_core::Kind;
use recentchanges_http::{Api, Poller, PollerConfig, Position, RetryPolicy, Start};

/// Saves a page as a new revision: its id.
async fn edit(api: &Api, title: &str, text: &str) -> u64 {
    let res = rc_testkit::edit(api, title, text, "test", &[]).await;
    res["edit"]["newrevid"].as_u64().unwrap()
}

/// All changes a poller yields until it is caught up.
async fn drain(p: &mut Poller) -> Vec<recentchanges_core::RecentChange> {
    let mut out = Vec::new();
    for _ in 0..1000 {
        for item in p.poll().await.unwrap() {
            out.push(item.unwrap());
        }
        if p.caught_up() {
            return out;
        }
    }
    panic!("not caught up");
}

fn ids(v: &[recentchanges_core::RecentChange]) -> Vec<u64> {
    v.iter().map(|c| c.rcid.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_every_change_once_in_order_across_pages_seconds_and_restarts() {
    let wiki = MediaWiki::start(None, None);
    let admin = wiki.session("Admin", ADMIN_PASSWORD).await;
    let anon = wiki.api();

    // Anonymous: no patrol right, so no patrolled flag (the poller asks without it).
    let mut anon_poller = Poller::new(
        anon.clone(),
        PollerConfig::new("wikidb").start(Start::Beginning),
    );
    let first = drain(&mut anon_poller).await;
    assert_eq!(ids(&first), vec![1], "install.php's Main Page");
    assert_eq!(first[0].wiki.as_deref(), Some("wikidb"));
    assert_eq!(first[0].kind, Kind::New);
    assert!(first[0].patrolled.is_unknown());

    // A poller that starts now sees none of the old changes.
    let mut now = Poller::new(admin.clone(), PollerConfig::new("mywiki").limit(2));
    assert!(drain(&mut now).await.is_empty());

    // Pages of two changes; edits land in the same seconds as earlier polls.
    let mut paged = Poller::new(
        admin.clone(),
        PollerConfig::new("mywiki").start(Start::Beginning).limit(2),
    );
    let mut got = drain(&mut paged).await;
    let mut saved: Option<Position> = None;
    for i in 0..12 {
        edit(&admin, &format!("Page {}", i % 4), &format!("text {i}")).await;
        if i % 3 == 0 {
            got.extend(drain(&mut paged).await);
        }
        if i == 5 {
            saved = Some(paged.position().clone());
        }
    }
    got.extend(drain(&mut paged).await);
    let all: Vec<u64> = ids(&got);
    assert_eq!(all, (1..=13).collect::<Vec<_>>(), "each once, in order");
    assert!(got.iter().all(|c| c.wiki.as_deref() == Some("mywiki")));
    assert!(
        got.iter().all(|c| !c.patrolled.is_unknown()),
        "logged in: patrolled flag"
    );
    let seconds: BTreeSet<_> = got.iter().map(|c| c.timestamp.unwrap()).collect();
    assert!(seconds.len() < got.len(), "several changes share a second");

    // The starts-now poller picks up exactly the new changes.
    assert_eq!(ids(&drain(&mut now).await), (2..=13).collect::<Vec<_>>());

    // A poller resumed from a position saved midway yields exactly what came after.
    let saved = saved.unwrap();
    let json = serde_json::to_string(&saved).unwrap();
    let mut resumed = Poller::new(admin.clone(), PollerConfig::new("mywiki").limit(3))
        .resume(serde_json::from_str(&json).unwrap());
    let rest = ids(&drain(&mut resumed).await);
    let last = saved.rcid.unwrap();
    assert_eq!(rest, ((last + 1)..=13).collect::<Vec<_>>(), "from {json}");

    // A position saved after each single change: stop and resume after every one.
    let mut pos = Position::default();
    let mut one_by_one = Vec::new();
    for _ in 0..30 {
        let mut p = Poller::new(
            admin.clone(),
            PollerConfig::new("w").start(Start::Beginning).limit(4),
        )
        .resume(pos.clone());
        let Ok(next) = tokio::time::timeout(Duration::from_secs(2), p.next()).await else {
            break;
        };
        one_by_one.push(next.unwrap().rcid.unwrap());
        pos = p.position().clone();
    }
    assert_eq!(one_by_one, (1..=13).collect::<Vec<_>>());

    // The stream form, and a filter.
    let bots_only = Poller::new(
        admin.clone(),
        PollerConfig::new("w")
            .start(Start::Beginning)
            .filter(recentchanges_core::Filter::new().kinds([Kind::New]))
            .interval(Duration::from_millis(50)),
    );
    use futures::StreamExt;
    let news: Vec<_> = bots_only.into_stream().take(5).collect().await;
    assert!(news.iter().all(|r| r.as_ref().unwrap().kind == Kind::New));
    assert_eq!(news.len(), 5, "Main Page and Page 0..3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_page_texts_and_lists_pages() {
    let wiki = MediaWiki::start(None, None);
    let admin = wiki.session("Admin", ADMIN_PASSWORD).await;
    let anon = wiki.api();
    edit(&admin, "Alpha", "Alpha text").await;
    edit(&admin, "Café Ünïcode/sub page", "Ünïcode 🙂 & <b>").await;
    edit(&admin, "Talk:Alpha", "").await;
    assert_eq!(
        anon.fetch_text("Alpha").await.unwrap().as_deref(),
        Some("Alpha text")
    );
    assert_eq!(
        anon.fetch_text("Café_Ünïcode/sub_page")
            .await
            .unwrap()
            .as_deref(),
        Some("Ünïcode 🙂 & <b>"),
        "underscores are normalised"
    );
    assert_eq!(
        anon.fetch_text("Talk:Alpha").await.unwrap().as_deref(),
        Some("")
    );
    assert_eq!(anon.fetch_text("No such page").await.unwrap(), None);
    assert_eq!(
        anon.fetch_text("Special:RecentChanges").await.unwrap(),
        None
    );
    assert_eq!(anon.fetch_text("Bad [[title]]").await.unwrap(), None);

    // More titles than one request takes.
    let titles: Vec<String> = (0..60)
        .map(|i| format!("Missing {i}"))
        .chain(["Alpha".into()])
        .collect();
    let pages = anon.fetch_pages(&titles).await.unwrap();
    assert_eq!(pages.len(), 61);
    assert_eq!(
        pages["Alpha"].as_ref().map(|p| p.text.as_str()),
        Some("Alpha text")
    );
    assert!(pages["Missing 59"].is_none());

    let ns: Vec<i32> = anon
        .namespaces()
        .await
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(ns.contains(&0) && ns.contains(&1) && ns.iter().all(|n| *n >= 0));
    let mut all = anon.all_pages(0);
    let mut titles = Vec::new();
    while let Some(batch) = all.next_batch().await.unwrap() {
        titles.extend(batch.into_iter().map(|p| p.title));
    }
    titles.sort();
    assert_eq!(titles, vec!["Alpha", "Café Ünïcode/sub page", "Main Page"]);
}

/// A server that answers HTTP 503 with `Retry-After: 1`, then a `maxlag` error with
/// `Retry-After: 1`, then a listing; it records the requests.
async fn grumpy_server() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    canned_server(vec![
        ("503 Service Unavailable", "Retry-After: 1\r\n", "busy".to_owned()),
        ("200 OK", "Retry-After: 1\r\n", r#"<?xml version="1.0"?><api><error code="maxlag" info="Waiting for db2: 3 seconds lagged." host="db2" lag="3" type="db" /></api>"#.to_owned()),
        ("200 OK", "", r#"<?xml version="1.0"?><api batchcomplete=""><query><recentchanges><rc type="edit" ns="0" title="Alpha" rcid="7" revid="9" old_revid="8" user="Admin" timestamp="2026-11-23T10:45:53Z" comment="c" /></recentchanges></query></api>"#.to_owned()),
    ])
    .await
}

#[tokio::test]
async fn waits_as_told_by_retry_after_and_maxlag() {
    let (port, seen) = grumpy_server().await;
    let api = Api::builder(&format!("http://127.0.0.1:{port}/w/api.php"))
        .maxlag(Some(3))
        .build()
        .unwrap();
    let mut p = Poller::new(api, PollerConfig::new("testwiki").start(Start::Beginning));
    let t = Instant::now();
    let rc = tokio::time::timeout(Duration::from_secs(10), p.next())
        .await
        .unwrap()
        .unwrap();
    let waited = t.elapsed();
    assert_eq!((rc.rcid, rc.wiki.as_deref()), (Some(7), Some("testwiki")));
    assert!(
        waited >= Duration::from_secs(2),
        "two Retry-After: 1 honoured, {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|r| r.contains("maxlag=3") && r.contains("rcdir=newer")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn gives_up_after_its_budget() {
    // Nothing listens on this port.
    let port = free_port();
    let api = Api::builder(&format!("http://127.0.0.1:{port}/api.php"))
        .retry(RetryPolicy {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(100),
            max_attempts: 3,
            max_elapsed: Duration::from_secs(5),
        })
        .build()
        .unwrap();
    let err = api.fetch_text("Alpha").await.unwrap_err();
    assert!(
        matches!(err, recentchanges_http::Error::GaveUp { attempts: 3, .. }),
        "{err}"
    );
}

/// rcids of `list=recentchanges` for these extra parameters, asked with a plain HTTP
/// client (not the code under test).
async fn listed(wiki: &MediaWiki, extra: &str) -> Vec<u64> {
    let addr = format!("127.0.0.1:{}", wiki.port).parse().unwrap();
    let path = format!(
        "/api.php?action=query&list=recentchanges&rcprop=ids|timestamp&rcdir=newer&rclimit=500&format=json{extra}"
    );
    let (status, body) = rc_testkit::http::get(addr, &path).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["query"]["recentchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rcid"].as_u64().unwrap())
        .collect()
}

async fn until_finished(poller: Poller) -> Vec<u64> {
    use futures::StreamExt;
    let stream = poller.into_stream();
    let all: Vec<_> = tokio::time::timeout(Duration::from_secs(60), stream.collect::<Vec<_>>())
        .await
        .expect("the stream ends at its end");
    all.into_iter().map(|r| r.unwrap().rcid.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_range_with_filters_yields_what_the_api_lists_for_it_and_then_ends() {
    let wiki = MediaWiki::start(None, None);
    let admin = wiki.session("Admin", ADMIN_PASSWORD).await;
    for (i, title) in [
        "Range A",
        "Talk:Range B",
        "Range C",
        "Talk:Range D",
        "Range E",
        "Range F",
    ]
    .iter()
    .enumerate()
    {
        edit(&admin, title, &format!("text {i}")).await;
        if i % 2 == 1 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
    }
    let mut all = Poller::new(
        admin.clone(),
        PollerConfig::new("wikidb").start(Start::Beginning),
    );
    let changes = drain(&mut all).await;
    assert!(changes.len() >= 7, "{}", changes.len());
    // From the second edit's second to the fourth edit's: a range of whole seconds.
    let t1 = changes[2].timestamp.unwrap();
    let t2 = changes[4].timestamp.unwrap();
    assert!(t1 < t2);
    let range = format!(
        "&rcstart={}&rcend={}",
        t1.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        t2.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );

    let ranged = Poller::new(
        admin.clone(),
        PollerConfig::new("wikidb").start(Start::At(t1)).end(t2),
    );
    let got = until_finished(ranged).await;
    assert_eq!(
        got,
        listed(&wiki, &range).await,
        "the API's own answer for the range"
    );
    assert!(!got.is_empty());

    // A filter the API can express is sent, and gives the same as filtering locally. (The
    // requests go through a proxy that records them.)
    let proxy = rc_testkit::Proxy::start(format!("127.0.0.1:{}", wiki.port)).await;
    let through_proxy = Api::new(&format!("http://{}/api.php", proxy.addr)).unwrap();
    let filter = recentchanges_core::Filter::new().namespace(0).not_bot();
    let ranged = Poller::new(
        through_proxy,
        PollerConfig::new("wikidb")
            .start(Start::At(t1))
            .end(t2)
            .filter(filter.clone()),
    );
    let got = until_finished(ranged).await;
    let mut unfiltered = Poller::new(
        admin.clone(),
        PollerConfig::new("wikidb").start(Start::At(t1)),
    );
    let local: Vec<u64> = drain(&mut unfiltered)
        .await
        .into_iter()
        .filter(|c| c.timestamp.unwrap() <= t2)
        .map(|mut c| {
            c.wiki = Some("wikidb".into());
            c
        })
        .filter(|c| filter.matches(c))
        .map(|c| c.rcid.unwrap())
        .collect();
    assert_eq!(got, local, "server-side and local filtering agree");
    assert_eq!(
        got,
        listed(&wiki, &format!("{range}&rcnamespace=0&rcshow=!bot")).await
    );
    assert!(
        got.len() < listed(&wiki, &range).await.len(),
        "the filter dropped some"
    );
    let sent = proxy.sent();
    let request = sent
        .lines()
        .find(|l| l.starts_with("GET ") && l.contains("list=recentchanges"))
        .expect("a list request went through the proxy");
    for param in ["rcnamespace=0", "rcshow=%21bot", "rcend=", "rcstart="] {
        assert!(request.contains(param), "{param} sent: {request}");
    }
}

/// MediaWiki inserts rows late: a `categorize` row is written by the job queue after the
/// edit, with the edit's timestamp. With `$wgJobRunRate = 0` the jobs wait for
/// `runJobs.php`, run here seconds after a poller (default configuration) caught up past
/// the edits: it still delivers every row `list=recentchanges` shows, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_categorize_rows_are_delivered_once_by_default() {
    let wiki = MediaWiki::start_without_job_runs();
    let admin = wiki.session("Admin", ADMIN_PASSWORD).await;
    for cat in ["Category:Fruit", "Category:Stone"] {
        edit(&admin, cat, "a category").await;
    }
    let mut poller = Poller::new(
        admin.clone(),
        PollerConfig::new("wikidb").start(Start::Beginning),
    );
    let mut got = drain(&mut poller).await;
    // Pages added to categories, seconds apart; then a newer edit without a category.
    for (title, cat) in [("Apple", "Fruit"), ("Pear", "Fruit"), ("Flint", "Stone")] {
        edit(&admin, title, &format!("text [[Category:{cat}]]")).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    edit(&admin, "Plain", "no category").await;
    got.extend(drain(&mut poller).await);
    assert!(
        got.iter().all(|c| c.kind != Kind::Categorize),
        "no job has run yet"
    );
    let before_jobs = poller.position().clone();

    tokio::time::sleep(Duration::from_secs(3)).await;
    wiki.run_jobs();
    for _ in 0..3 {
        got.extend(drain(&mut poller).await);
    }

    let late: Vec<u64> = got
        .iter()
        .filter(|c| c.kind == Kind::Categorize)
        .map(|c| c.rcid.unwrap())
        .collect();
    assert_eq!(late.len(), 3, "one categorize row per page added: {late:?}");
    let newest_edit = got
        .iter()
        .filter(|c| c.kind != Kind::Categorize)
        .filter_map(|c| c.timestamp)
        .max()
        .unwrap();
    assert!(
        got.iter()
            .filter(|c| c.kind == Kind::Categorize)
            .all(|c| c.timestamp.unwrap() < newest_edit),
        "the rows are late: older than the position when they were inserted"
    );
    let mut delivered = ids(&got);
    let count = delivered.len();
    delivered.sort_unstable();
    delivered.dedup();
    assert_eq!(delivered.len(), count, "none twice: {:?}", ids(&got));
    let mut shown = listed(&wiki, "").await;
    shown.sort_unstable();
    assert_eq!(delivered, shown, "every row the API lists");

    // A poller resumed from the position saved before the jobs ran gets the late rows,
    // once; one resumed from the position after them gets nothing.
    let json = serde_json::to_string(&before_jobs).unwrap();
    let mut resumed = Poller::new(admin.clone(), PollerConfig::new("wikidb"))
        .resume(serde_json::from_str(&json).unwrap());
    assert_eq!(ids(&drain(&mut resumed).await), late, "from {json}");
    let mut after =
        Poller::new(admin.clone(), PollerConfig::new("wikidb")).resume(poller.position().clone());
    assert!(drain(&mut after).await.is_empty());
    assert!(
        poller.position().seen.len() <= count,
        "seen holds the window's rcids only"
    );
}
