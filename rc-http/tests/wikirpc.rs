//! The WikiRPC client and poller against a real DokuWiki (the Debian package, started by
//! `scripts/dokuwiki/start.sh`), and the JSPWiki dialect against a stand-in server.
//!
//! JSPWiki cannot be installed here (no Debian package). Its dialect is tested against a
//! small XML-RPC server written in this file with `dxr_server` (an XML-RPC implementation
//! independent of rc-http's) that answers exactly as JSPWiki's WikiRPCInterface page
//! describes the API of 1.6.9 on: methods prefixed `jspwiki.`, page and author names
//! URL-encoded UTF-8 both ways, page texts as base64 of UTF-8, dates in UTC without a
//! zone, `getRecentChanges(Date)` answering an array of structs `name`, `lastModified`,
//! `author`, `version`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use rc_testkit::http::canned_server;
use rc_testkit::DokuWiki;
use recentchanges_core::{Kind, RecentChange};
use recentchanges_http::wikirpc::{
    Client, Credentials, Dialect, Poller, PollerConfig, Position, RpcError, Value,
};
use recentchanges_http::{RetryPolicy, Start};

// ------------------------------------------------------------------------ DokuWiki

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        max_attempts: 3,
        max_elapsed: Duration::from_secs(10),
    }
}

/// The editor's client and a poller of the fixture.
trait Rpc {
    fn client(&self) -> Client;
    fn poller(&self) -> Poller;
}

impl Rpc for DokuWiki {
    fn client(&self) -> Client {
        Client::builder(&self.xmlrpc_url, Dialect::DokuWiki)
            .credentials(Credentials::new(&self.user, &self.password))
            .retry(quick_retry())
            .build()
            .unwrap()
    }

    fn poller(&self) -> Poller {
        Poller::new(
            self.client(),
            PollerConfig::new("testwiki")
                .start(Start::Beginning)
                .interval(Duration::from_millis(50)),
        )
    }
}

/// Waits until the wall clock is early in a second no change has been saved in yet.
async fn fresh_second_after(t: Option<DateTime<Utc>>) {
    for _ in 0..300 {
        let now = Utc::now();
        let later = t.is_none_or(|t| now.timestamp() > t.timestamp());
        if later && now.nanosecond() < 300_000_000 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the clock did not move on");
}

fn changes(items: Vec<Result<RecentChange, RpcError>>) -> Vec<RecentChange> {
    items.into_iter().map(|i| i.unwrap()).collect()
}

fn titles(v: &[RecentChange]) -> Vec<&str> {
    v.iter().map(|c| c.title_or("?")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dokuwiki_edits_arrive_typed_in_order_once_and_a_restart_yields_only_new_ones() {
    let wiki = DokuWiki::start();
    let client = wiki.client();
    let mut poller = wiki.poller();
    assert!(poller.poll().await.unwrap().is_empty(), "a fresh wiki");

    rc_testkit::put_page(&client, "alpha", "Hello wörld").await;
    let first = changes(poller.poll().await.unwrap());
    assert_eq!(titles(&first), ["alpha"]);
    let rc = &first[0];
    let info = client.get_page_info("alpha", None).await.unwrap();
    assert_eq!(rc.kind, Kind::Edit);
    assert_eq!(rc.wiki.as_deref(), Some("testwiki"));
    assert_eq!(rc.user.as_deref(), Some("editor"));
    assert_eq!(rc.timestamp, info.last_modified);
    assert_eq!(rc.rev_id, info.version.map(|v| v as u64));
    assert_eq!(rc.new_len, Some("Hello wörld".len() as u64));
    assert!(rc.extra.contains_key("perms"), "{:?}", rc.extra);
    let url = rc.url.as_deref().unwrap();
    let revision = format!("/doku.php?id=alpha&rev={}", info.version.unwrap());
    assert!(url.ends_with(&revision), "the revision's link: {url}");
    // The timestamp is the revision's own: an hour's slack for slow machines, none for zones.
    let age = Utc::now() - rc.timestamp.unwrap();
    assert!(
        age >= chrono::TimeDelta::zero() && age < chrono::TimeDelta::hours(1),
        "{age}"
    );

    // Two more pages, then alpha again in a later second (DokuWiki keeps one revision
    // per page and second).
    rc_testkit::put_page(&client, "beta", "b").await;
    rc_testkit::put_page(&client, "gamma", "g").await;
    fresh_second_after(rc.timestamp).await;
    rc_testkit::put_page(&client, "alpha", "Hello again").await;
    let next = changes(poller.poll().await.unwrap());
    assert_eq!(titles(&next), ["beta", "gamma", "alpha"]);
    assert!(next.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert!(next[2].rev_id > rc.rev_id);
    assert!(poller.poll().await.unwrap().is_empty(), "nothing twice");

    // Stop here (position saved to a file), edit, and start a new poller from the file.
    let file = wiki.state_dir.join("poller-position.json");
    poller.position().save(&file).unwrap();
    drop(poller);
    rc_testkit::put_page(&client, "delta", "d").await;
    let mut resumed = wiki.poller().resume(Position::load(&file).unwrap());
    let after = changes(resumed.poll().await.unwrap());
    assert_eq!(titles(&after), ["delta"]);
    assert!(resumed.poll().await.unwrap().is_empty());

    // A poller that starts now sees none of the old changes, and the next one.
    let mut now = Poller::new(
        client.clone(),
        PollerConfig::new("testwiki").interval(Duration::from_millis(50)),
    );
    assert!(now.poll().await.unwrap().is_empty());
    rc_testkit::put_page(&client, "epsilon", "e").await;
    let rc = tokio::time::timeout(Duration::from_secs(30), now.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rc.title.as_deref(), Some("epsilon"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dokuwiki_changes_in_the_same_second_are_each_yielded_once() {
    let wiki = DokuWiki::start();
    let client = wiki.client();
    let mut poller = wiki.poller();
    let mut last = None;
    for attempt in 0..5 {
        // A poll between two saves of one second: the second save must still come, and
        // the first not again.
        fresh_second_after(last).await;
        let (a, b) = (format!("same{attempt}a"), format!("same{attempt}b"));
        rc_testkit::put_page(&client, &a, "one").await;
        let first = changes(poller.poll().await.unwrap());
        rc_testkit::put_page(&client, &b, "two").await;
        let second = changes(poller.poll().await.unwrap());
        let third = changes(poller.poll().await.unwrap());
        assert_eq!(titles(&first), [a.as_str()]);
        assert_eq!(titles(&second), [b.as_str()]);
        assert!(third.is_empty());
        last = second[0].timestamp;
        if first[0].timestamp == second[0].timestamp {
            // And a fresh poller from the position lists neither again.
            let mut resumed = wiki.poller().resume(poller.position().clone());
            assert!(resumed.poll().await.unwrap().is_empty());
            assert_eq!(poller.position().seen.len(), 2);
            return;
        }
    }
    panic!("five tries and never two saves in one second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dokuwiki_page_texts_and_versions() {
    let wiki = DokuWiki::start();
    let client = wiki.client();
    rc_testkit::put_page(&client, "text page", "Grüße ✓\nline two\n").await;
    let v1 = client.get_page_info("text_page", None).await.unwrap();
    assert_eq!(v1.name, "text_page", "DokuWiki's page id");
    assert_eq!(v1.author.as_deref(), Some("editor"));
    fresh_second_after(v1.last_modified).await;
    rc_testkit::put_page(&client, "text_page", "second text").await;

    assert_eq!(
        client.get_page("text_page", None).await.unwrap(),
        "second text"
    );
    let old = v1.version.unwrap();
    assert_eq!(
        client.get_page("text_page", Some(old)).await.unwrap(),
        "Grüße ✓\nline two\n"
    );
    let info = client.get_page_info("text_page", Some(old)).await.unwrap();
    assert_eq!(info.version, Some(old));
    let now = client.get_page_info("text_page", None).await.unwrap();
    assert!(now.version > Some(old));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dokuwiki_wrong_password_is_a_clear_auth_error_without_the_password() {
    let wiki = DokuWiki::start();
    let secret = "wrong-secret-4711";
    let client = Client::builder(&wiki.xmlrpc_url, Dialect::DokuWiki)
        .credentials(Credentials::new(&wiki.user, secret))
        .retry(quick_retry())
        .build()
        .unwrap();
    assert!(!format!("{client:?}").contains(secret));
    let mut poller = Poller::new(client, PollerConfig::new("w").start(Start::Beginning));
    let err = poller.poll().await.unwrap_err();
    assert!(
        matches!(&err, RpcError::Auth { status: 401, user: Some(u), .. } if u == "editor"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("refused the credentials of user editor"),
        "{text}"
    );
    assert!(!text.contains(secret) && !format!("{err:?}").contains(secret));
    assert!(!format!("{poller:?}").contains(secret));

    // Without credentials: the API is for logged-in users only.
    let anon = Client::new(&wiki.xmlrpc_url, Dialect::DokuWiki).unwrap();
    let err = anon.get_page_info("x", None).await.unwrap_err();
    assert!(matches!(err, RpcError::Auth { user: None, .. }), "{err:?}");
    assert!(err.to_string().contains("needs credentials"), "{err}");
}

// ------------------------------------------------------------------------ Retries

/// The retry rules the client shares with the API client: a read waits as `Retry-After`
/// says and is made again; a write is made again after a 429 (it was not served), not
/// after a 503 (it may have been).
#[tokio::test]
async fn reads_wait_as_told_and_writes_are_repeated_only_when_surely_not_done() {
    let response = |v: &str| {
        format!(
            r#"<?xml version="1.0"?><methodResponse><params><param><value>{v}</value></param></params></methodResponse>"#
        )
    };
    let (port, seen) = canned_server(vec![
        (
            "503 Service Unavailable",
            "Retry-After: 1\r\n",
            "busy".into(),
        ),
        ("200 OK", "", response("<string>hello</string>")),
        ("503 Service Unavailable", "", "busy".into()),
        (
            "429 Too Many Requests",
            "Retry-After: 1\r\n",
            "slow down".into(),
        ),
        ("200 OK", "", response("<boolean>1</boolean>")),
    ])
    .await;
    let url = format!("http://127.0.0.1:{port}/lib/exe/xmlrpc.php");
    let client = Client::builder(&url, Dialect::DokuWiki)
        .retry(quick_retry())
        .build()
        .unwrap();
    let t = Instant::now();
    assert_eq!(client.get_page("start", None).await.unwrap(), "hello");
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());

    let put = || {
        client.call(
            "wiki.putPage",
            vec!["start".into(), "text".into(), Value::Struct(Vec::new())],
        )
    };
    let err = put().await.unwrap_err();
    assert!(
        matches!(
            &err,
            RpcError::Http(recentchanges_http::Error::Status { status: 503, .. })
        ),
        "{err:?}"
    );
    assert_eq!(put().await.unwrap(), Value::Bool(true));
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 5, "one 503 not repeated: {seen:?}");
    assert!(
        seen.iter()
            .all(|r| r.starts_with("POST /lib/exe/xmlrpc.php")),
        "{seen:?}"
    );
}

// ------------------------------------------------------------------------ JSPWiki

/// One version of a page in the stand-in JSPWiki.
#[derive(Clone)]
struct Version {
    /// The page name as JSPWiki sends it: URL-encoded UTF-8.
    wire_name: &'static str,
    version: i32,
    /// UTC, as `dateTime.iso8601` without a zone.
    modified: &'static str,
    author: &'static str,
    text: &'static str,
}

type Store = Arc<Mutex<Vec<Version>>>;

struct Jsp {
    store: Store,
    method: &'static str,
    /// getRecentChanges also lists an entry without a name.
    bad_entry: bool,
}

fn fault(msg: String) -> dxr::Fault {
    dxr::Fault::new(1, msg)
}

fn datetime(s: &str) -> dxr::DateTime {
    s.parse().unwrap()
}

fn naive_utc(dt: &dxr::DateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[dxr_server::async_trait]
impl dxr_server::Handler for Jsp {
    async fn handle(
        &self,
        params: &[dxr::Value],
        _headers: dxr_server::axum::http::HeaderMap,
    ) -> dxr_server::HandlerResult {
        use dxr::Value as V;
        let store = self.store.lock().unwrap().clone();
        match self.method {
            "jspwiki.getRecentChanges" => {
                let [V::DateTime(since)] = params else {
                    return Err(fault(format!("getRecentChanges(Date) got {params:?}")));
                };
                let since = naive_utc(since);
                // The current version of each page changed at or after `since`.
                let mut current: BTreeMap<&str, &Version> = BTreeMap::new();
                for v in &store {
                    let e = current.entry(v.wire_name).or_insert(v);
                    if v.version > e.version {
                        *e = v;
                    }
                }
                let mut out: Vec<V> = current
                    .values()
                    .filter(|v| v.modified >= since.as_str())
                    .map(|v| {
                        V::Struct(BTreeMap::from([
                            ("name".into(), V::String(v.wire_name.into())),
                            ("lastModified".into(), V::DateTime(datetime(v.modified))),
                            ("author".into(), V::String(v.author.into())),
                            ("version".into(), V::Integer(v.version)),
                        ]))
                    })
                    .collect();
                if self.bad_entry && since.as_str() <= "20261123T10:00:00" {
                    out.push(V::Struct(BTreeMap::from([
                        (
                            "lastModified".into(),
                            V::DateTime(datetime("20261123T10:00:00")),
                        ),
                        ("version".into(), V::Integer(1)),
                    ])));
                }
                Ok(V::Array(out))
            }
            "jspwiki.getPage" | "jspwiki.getPageInfo" => {
                let (name, version) = match params {
                    [V::String(n)] => (n, None),
                    [V::String(n), V::Integer(v)] => (n, Some(*v)),
                    _ => return Err(fault(format!("{} got {params:?}", self.method))),
                };
                let found = store
                    .iter()
                    .filter(|v| v.wire_name == name && version.is_none_or(|n| n == v.version))
                    .max_by_key(|v| v.version)
                    .ok_or_else(|| fault(format!("no page {name}")))?;
                if self.method == "jspwiki.getPage" {
                    return Ok(V::Base64(found.text.as_bytes().to_vec()));
                }
                Ok(V::Struct(BTreeMap::from([
                    ("name".into(), V::String(found.wire_name.into())),
                    ("lastModified".into(), V::DateTime(datetime(found.modified))),
                    ("author".into(), V::String(found.author.into())),
                    ("version".into(), V::Integer(found.version)),
                ])))
            }
            "jspwiki.getAllPages" => {
                let names: std::collections::BTreeSet<&str> =
                    store.iter().map(|v| v.wire_name).collect();
                Ok(V::Array(
                    names.into_iter().map(|n| V::String(n.into())).collect(),
                ))
            }
            other => Err(fault(format!("no method {other}"))),
        }
    }
}

async fn start_jspwiki(store: Store) -> String {
    let route = dxr_server::RouteBuilder::new()
        .set_path("/RPC2/")
        .add_method(
            "jspwiki.getRecentChanges",
            Box::new(Jsp {
                store: store.clone(),
                method: "jspwiki.getRecentChanges",
                bad_entry: true,
            }),
        )
        .add_method(
            "jspwiki.getPage",
            Box::new(Jsp {
                store: store.clone(),
                method: "jspwiki.getPage",
                bad_entry: false,
            }),
        )
        .add_method(
            "jspwiki.getPageInfo",
            Box::new(Jsp {
                store: store.clone(),
                method: "jspwiki.getPageInfo",
                bad_entry: false,
            }),
        )
        .add_method(
            "jspwiki.getAllPages",
            Box::new(Jsp {
                store,
                method: "jspwiki.getAllPages",
                bad_entry: false,
            }),
        )
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(dxr_server::Server::from_route(route).serve_listener(listener));
    format!("http://{addr}/RPC2/")
}

fn utc(s: &str) -> Option<DateTime<Utc>> {
    Some(s.parse().unwrap())
}

/// The JSPWiki stand-in holding `Main` (two versions) and `Päge Eins` (wire names
/// URL-encoded, as JSPWiki sends them), its URL and a client of it.
async fn jspwiki_with_three_versions() -> (Store, String, Client) {
    let store: Store = Arc::new(Mutex::new(vec![
        Version {
            wire_name: "Main",
            version: 1,
            modified: "20261123T09:00:00",
            author: "Janne",
            text: "first",
        },
        Version {
            wire_name: "Main",
            version: 2,
            modified: "20261123T10:15:30",
            author: "Mahlen",
            text: "second",
        },
        Version {
            wire_name: "P%C3%A4ge+Eins",
            version: 1,
            modified: "20261123T10:15:30",
            author: "J%C3%BCrgen+M",
            text: "Grüße €",
        },
    ]));
    let url = start_jspwiki(store.clone()).await;
    let client = Client::builder(&url, Dialect::JspWiki)
        .retry(quick_retry())
        .build()
        .unwrap();
    (store, url, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jspwiki_dialect_against_a_server_that_answers_as_the_interface_page_says() {
    let (store, url, client) = jspwiki_with_three_versions().await;
    let mut poller = Poller::new(
        client.clone(),
        PollerConfig::new("jsp").start(Start::At("2026-11-23T10:00:00Z".parse().unwrap())),
    );

    let items = poller.poll().await.unwrap();
    assert_eq!(items.len(), 3, "{items:?}");
    let (bad, good): (Vec<_>, Vec<_>) = items.into_iter().partition(|i| i.is_err());
    let bad = bad.into_iter().next().unwrap().unwrap_err();
    assert!(
        matches!(&bad, RpcError::Entry { name: None, reason, .. } if reason == "no `name`"),
        "{bad:?}"
    );
    let good = changes(good);
    assert_eq!(titles(&good), ["Main", "Päge Eins"]);
    let main = &good[0];
    assert_eq!((main.kind.clone(), main.rev_id), (Kind::Edit, Some(2)));
    assert_eq!(main.user.as_deref(), Some("Mahlen"));
    assert_eq!(
        main.timestamp,
        utc("2026-11-23T10:15:30Z"),
        "UTC, not local time"
    );
    let base = url.trim_end_matches("RPC2/");
    assert_eq!(
        main.url.as_deref(),
        Some(format!("{base}Wiki.jsp?page=Main&version=2").as_str()),
        "the version's link"
    );
    let page = &good[1];
    assert_eq!(
        (page.kind.clone(), page.rev_id),
        (Kind::New, Some(1)),
        "version 1 is a new page"
    );
    assert_eq!(page.user.as_deref(), Some("Jürgen M"));
    assert_eq!(page.wiki.as_deref(), Some("jsp"));
    assert_eq!(
        page.url.as_deref(),
        Some(format!("{base}Wiki.jsp?page=P%C3%A4ge+Eins&version=1").as_str())
    );

    // Texts: names go out URL-encoded (the server knows no other), base64 comes back UTF-8.
    assert_eq!(client.get_page("Päge Eins", None).await.unwrap(), "Grüße €");
    assert_eq!(client.get_page("Main", Some(1)).await.unwrap(), "first");
    let info = client.get_page_info("Päge Eins", None).await.unwrap();
    assert_eq!(info.name, "Päge Eins");
    assert_eq!(info.author.as_deref(), Some("Jürgen M"));
    assert_eq!(info.last_modified, utc("2026-11-23T10:15:30Z"));
    let err = client.get_page("Nowhere", None).await.unwrap_err();
    assert!(
        matches!(&err, RpcError::Fault { code: 1, message, .. } if message == "no page Nowhere"),
        "{err:?}"
    );

    // Nothing again (the bad entry was reported once); then a new version in the same
    // second as the last change, and one later.
    assert!(poller.poll().await.unwrap().is_empty());
    store.lock().unwrap().push(Version {
        wire_name: "Main",
        version: 3,
        modified: "20261123T10:15:30",
        author: "Erno",
        text: "third",
    });
    store.lock().unwrap().push(Version {
        wire_name: "Other",
        version: 1,
        modified: "20261123T11:00:00",
        author: "Les",
        text: "x",
    });
    let more = changes(poller.poll().await.unwrap());
    assert_eq!(titles(&more), ["Main", "Other"]);
    assert_eq!(more[0].rev_id, Some(3));
    assert!(poller.poll().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jspwiki_mirror_holds_the_pages_texts_and_drops_a_page_that_is_gone() {
    use recentchanges_http::mirror::{Mirror, MirrorConfig};
    let (store, _, client) = jspwiki_with_three_versions().await;
    let dir = rc_testkit::TempDir::new("rc-http-jspwiki-mirror");
    let mut mirror = Mirror::open(
        client,
        dir.join("pages"),
        MirrorConfig::default().metadata(true),
    )
    .unwrap();
    let report = mirror.full_sync(None).await.unwrap();
    assert_eq!(report.pages, 2);
    assert_eq!(mirror.read("Main").unwrap().as_deref(), Some("second"));
    assert_eq!(
        mirror.read("Päge Eins").unwrap().as_deref(),
        Some("Grüße €"),
        "names decoded, base64 texts read as UTF-8"
    );
    let meta = mirror.read_metadata("Päge Eins").unwrap().unwrap();
    assert_eq!(
        (&meta["author"], &meta["version"], &meta["timestamp"]),
        (
            &serde_json::json!("Jürgen M"),
            &serde_json::json!(1),
            &serde_json::json!("2026-11-23T10:15:30Z")
        )
    );

    // A new version of Main, and Päge Eins gone (getPage answers fault 1 now).
    {
        let mut s = store.lock().unwrap();
        s.retain(|v| v.wire_name != "P%C3%A4ge+Eins");
        s.push(Version {
            wire_name: "Main",
            version: 3,
            modified: "20261123T11:00:00",
            author: "Erno",
            text: "third",
        });
    }
    let mut changes = Vec::new();
    for title in ["Main", "Päge Eins"] {
        let mut rc = RecentChange::new(Kind::Edit);
        rc.title = Some(title.into());
        changes.push(rc);
    }
    let applied = mirror.apply(&changes).await.unwrap();
    assert_eq!((applied.written, applied.removed), (1, 1), "{applied:?}");
    assert_eq!(mirror.read("Main").unwrap().as_deref(), Some("third"));
    assert_eq!(mirror.read("Päge Eins").unwrap(), None);
    assert_eq!(mirror.pages().unwrap().len(), 1);
}
