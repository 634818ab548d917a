//! The page mirror against a real MediaWiki 1.39 whose `$wgRCFeeds` reach an XMPP room
//! (real Prosody) through the bridge: after a scripted run of edits, moves and deletions,
//! the directory holds exactly the wiki's current page texts, also when the mirror process
//! is killed (SIGKILL) and restarted in the middle of the run.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bridge;
use rc_testkit::{
    act, edit, quick_reconnect, room_jid, wait_file, DokuWiki, MediaWiki, Prosody, TempDir,
    XmppServer, ADMIN_PASSWORD,
};
use recentchanges::http::mirror::{self, Mirror, MirrorConfig, MirrorOptions};
use recentchanges::http::Api;

const CHILD_ENV: &str = "RC_E2E_MIRROR_CHILD";

/// Not a test of its own: the mirror process of `mirror_survives_sigkill...`, which runs
/// this test binary again with `RC_E2E_MIRROR_CHILD` set (as a process it can kill -9).
#[test]
fn mirror_child() {
    let Ok(cfg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let api = Api::new(cfg["api"].as_str().unwrap()).unwrap();
        if let Some(source) = cfg["source"].as_str() {
            // Any source by name: here the wiki's own API or WikiRPC endpoint, polled (no
            // XMPP at all), the texts read from the same place.
            let mut source = recentchanges::source::Source::new(source)
                .unwrap()
                .wiki("wikidb")
                .interval(Duration::from_millis(300));
            if let (Some(user), Some(password)) = (cfg["user"].as_str(), cfg["password"].as_str()) {
                source = source.credentials(user, password);
            }
            let texts = source.texts().unwrap().expect("a wiki's own source");
            let config = MirrorConfig::default()
                .debounce(Duration::from_millis(300), Duration::from_secs(2));
            recentchanges::mirror::run(
                texts,
                cfg["dir"].as_str().unwrap(),
                source,
                config,
                std::future::pending(),
            )
            .await
            .unwrap();
            return;
        }
        let client = recentchanges::xmpp::Client::builder("mirror@localhost", "mirrormirror")
            .unwrap()
            .server(cfg["server"].as_str().unwrap())
            .unwrap()
            .tls(recentchanges::xmpp::Tls::PlaintextLoopback)
            .reconnect(quick_reconnect())
            .room(&room_jid("wikidb"), "mirror")
            .unwrap();
        let opts = MirrorOptions::new(api, cfg["dir"].as_str().unwrap(), client).config(
            MirrorConfig::default().debounce(Duration::from_millis(300), Duration::from_secs(2)),
        );
        mirror::run(opts, std::future::pending()).await.unwrap();
    });
}

/// A mirror process, killed with SIGKILL when dropped.
struct MirrorProcess {
    child: std::process::Child,
    log: PathBuf,
}

impl MirrorProcess {
    fn spawn(cfg: &serde_json::Value, log: PathBuf) -> MirrorProcess {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "mirror_child",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, cfg.to_string())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        MirrorProcess { child, log }
    }

    /// SIGKILL, like a crash.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the mirror exited ({status}):\n{}", self.log());
        }
    }
}

impl Drop for MirrorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The pages of a mirror directory, read back through the documented file name scheme.
fn mirrored(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue; // the mirror's own (state, metadata, temporary files)
            }
            if e.file_type().unwrap().is_dir() {
                dirs.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                let title = mirror::title_of(rel)
                    .unwrap_or_else(|| panic!("{} is not a page file", rel.display()));
                out.insert(title, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

/// Every page of the wiki (namespaces 0 and up) with its text, through `list=allpages`
/// and `action=raw`.
async fn all_texts(wiki: &MediaWiki, api: &Api) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (ns, _) in api.namespaces().await.unwrap() {
        let mut cont: Vec<(String, String)> = Vec::new();
        for _ in 0..100 {
            let nss = ns.to_string();
            let mut p: Vec<(&str, &str)> = vec![
                ("action", "query"),
                ("list", "allpages"),
                ("apnamespace", &nss),
                ("aplimit", "max"),
            ];
            p.extend(cont.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let v = api.get_json(&p).await.unwrap();
            for page in v["query"]["allpages"].as_array().unwrap() {
                let title = page["title"].as_str().unwrap().to_owned();
                let text = raw_text(wiki, &title)
                    .await
                    .unwrap_or_else(|| panic!("{title} is listed but has no text"));
                out.insert(title, text);
            }
            cont = v["continue"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            if cont.is_empty() {
                break;
            }
        }
    }
    out
}

/// The current text of a page through `index.php?action=raw` (not the API).
async fn raw_text(wiki: &MediaWiki, title: &str) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], wiki.port));
    let path = format!("/index.php?title={}&action=raw", url_encode(title));
    match rc_testkit::http::get(addr, &path).await {
        (200, body) => Some(body),
        (404, _) => None,
        (s, _) => panic!("action=raw of {title}: HTTP {s}"),
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits until the mirror holds exactly the wiki's pages.
async fn converged(wiki: &MediaWiki, api: &Api, dir: &Path, secs: u64) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let want = all_texts(wiki, api).await;
        let got = mirrored(dir);
        if got == want {
            return want;
        }
        if Instant::now() > deadline {
            let diff: Vec<String> = want
                .keys()
                .chain(got.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .filter(|t| want.get(*t) != got.get(*t))
                .map(|t| format!("{t}: wiki {:?}, mirror {:?}", want.get(t), got.get(t)))
                .collect();
            panic!("the mirror did not converge:\n{}", diff.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn mv(api: &Api, from: &str, to: &str, extra: &[(&str, &str)]) {
    let mut p = vec![
        ("action", "move"),
        ("from", from),
        ("to", to),
        ("reason", "test move"),
    ];
    p.extend_from_slice(extra);
    act(api, &p).await;
}

async fn delete(api: &Api, title: &str) {
    act(
        api,
        &[
            ("action", "delete"),
            ("title", title),
            ("reason", "test delete"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_survives_sigkill_and_holds_exactly_the_wikis_pages() {
    let t0 = Instant::now();
    let prosody = Prosody::start();
    let bridge = bridge(&prosody, "publisher", "wikidb").await;
    let wiki = MediaWiki::start(None, Some(bridge.local_addr()));
    let a = wiki.session("Admin", ADMIN_PASSWORD).await;
    let long_title = "Ü".repeat(100); // 200 bytes, 600 once encoded: a name in pieces
    let quirky = "What? 100 % & \"quotes\" + 'single' (sure)";

    // Pages from before the mirror: the initial full sync brings them.
    edit(&a, "Alpha", "Alpha v1", "create", &[]).await;
    edit(&a, "Talk:Alpha", "Talk about Alpha", "create", &[]).await;
    edit(&a, "Old page", "Old text", "create", &[]).await;
    edit(&a, "Doomed", "Doomed text", "create", &[]).await;
    edit(&a, "A/B subpage", "Sub", "create", &[]).await;
    edit(&a, "Café Ünïcode", "Ünïcode v1 🙂", "create", &[]).await;
    edit(&a, quirky, "Quirky", "create", &[]).await;
    edit(&a, "Template:Box", "{{{1}}}", "create", &[]).await;
    edit(&a, &long_title, "Long v1", "create", &[]).await;

    let tmp = TempDir::new("rc-e2e-mirror");
    let dir = tmp.join("pages"); // made by the mirror
    let state = dir.join(mirror::STATE_FILE);
    let cfg = serde_json::json!({
        "api": wiki.api_url(), "server": prosody.addr(), "dir": dir.to_str().unwrap(),
    });
    let log = tmp.join("mirror.log");

    let mut first = MirrorProcess::spawn(&cfg, log.clone());
    wait_file(&state, 60, "the first full sync", |s| {
        s.contains("synced_at")
    });
    assert_eq!(mirrored(&dir), all_texts(&wiki, &a).await, "the full sync");

    // Phase 1: the mirror follows.
    for v in 2..=4 {
        edit(&a, "Alpha", &format!("Alpha v{v}"), "burst", &[]).await;
    }
    edit(&a, "New one", "New one v1", "create", &[]).await;
    mv(&a, "Old page", "Old page renamed", &[]).await; // leaves a redirect
    mv(
        &a,
        "Alpha",
        "Alpha moved",
        &[("movetalk", "1"), ("noredirect", "1")],
    )
    .await;
    delete(&a, "Doomed").await;
    edit(&a, &long_title, "Long v2", "edit", &[]).await;
    wait_file(&state, 30, "a batch applied", |s| {
        s.contains("\"position\"")
    });
    first.assert_alive();

    // Killed in the middle of a burst.
    edit(&a, "Burst", "Burst v1", "create", &[]).await;
    edit(&a, "Burst", "Burst v2", "edit", &[]).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    first.kill();
    let first_log = first.log();

    // Phase 2: changes while the mirror is down.
    edit(&a, "Burst", "Burst v3", "edit", &[]).await;
    edit(&a, "New one", "New one v2", "edit", &[]).await;
    delete(&a, "Old page renamed").await;
    act(
        &a,
        &[
            ("action", "undelete"),
            ("title", "Old page renamed"),
            ("reason", "back"),
        ],
    )
    .await;
    delete(&a, "A/B subpage").await;
    edit(&a, "Later page", "Later", "create", &[]).await;
    edit(&a, "Main Page", "Main page, edited", "edit", &[]).await;
    mv(&a, quirky, "Quirky moved", &[]).await;

    // Phase 3: a new mirror process resumes from its saved position.
    let mut second = MirrorProcess::spawn(&cfg, log.clone());
    edit(&a, "Café Ünïcode", "Ünïcode v2 🙂", "edit", &[]).await;
    delete(&a, "New one").await;
    edit(&a, "Final page", "Final", "create", &[]).await;
    edit(&a, "Alpha moved", "Alpha v5", "edit", &[]).await;
    delete(&a, &long_title).await;
    edit(&a, "Talk:Alpha moved", "Talk v2", "edit", &[]).await;

    let pages = converged(&wiki, &a, &dir, 60).await;
    second.assert_alive();
    let all_log = second.log();
    let second_log = &all_log[first_log.len().min(all_log.len())..];
    assert_eq!(
        first_log.matches("full sync done").count(),
        1,
        "{first_log}"
    );
    assert_eq!(
        second_log.matches("full sync done").count(),
        0,
        "the restarted mirror resumed from its position:\n{second_log}"
    );
    for (title, text) in [
        ("Alpha moved", Some("Alpha v5")),
        ("Alpha", None),
        ("Talk:Alpha moved", Some("Talk v2")),
        ("Old page renamed", Some("Old text")),
        ("Burst", Some("Burst v3")),
        ("New one", None),
        ("A/B subpage", None),
        ("Doomed", None),
        ("Quirky moved", Some("Quirky")),
        (long_title.as_str(), None),
    ] {
        assert_eq!(pages.get(title).map(String::as_str), text, "{title}");
    }
    assert!(
        pages["Old page"].starts_with("#REDIRECT"),
        "the move left a redirect"
    );
    for line in all_log
        .lines()
        .filter(|l| l.contains("joined") || l.contains("full sync"))
    {
        eprintln!("mirror log: {line}");
    }
    second.kill();
    eprintln!(
        "mirror across SIGKILL: {} pages, {:.1?}",
        pages.len(),
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_edits_to_one_page_is_fetched_once() {
    let prosody = Prosody::start();
    let bridge = bridge(&prosody, "publisher", "wikidb").await;
    let wiki = MediaWiki::start(None, Some(bridge.local_addr()));
    let a = wiki.session("Admin", ADMIN_PASSWORD).await;
    let tmp = TempDir::new("rc-e2e-mirror-burst");
    let dir = tmp.join("pages"); // made by the mirror

    let cfg =
        MirrorConfig::default().debounce(Duration::from_millis(1500), Duration::from_secs(20));
    let mut mirror = Mirror::open(wiki.api(), &dir, cfg).unwrap();
    let mut stream = prosody.consumer("mirror", "wikidb").await;
    mirror.full_sync(None).await.unwrap();
    let stats = mirror.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let r = mirror
            .follow(&mut stream, async {
                let _ = stopped.await;
            })
            .await;
        (r, mirror)
    });

    let t = Instant::now();
    for v in 1..=12 {
        edit(&a, "Burst", &format!("Burst v{v}"), "burst", &[]).await;
    }
    edit(&a, "Other", "Other text", "create", &[]).await;
    let burst = t.elapsed();
    converged(&wiki, &a, &dir, 30).await;
    let (batches, burst_fetches, other_fetches) = {
        let s = stats.lock().unwrap();
        (
            s.batches,
            s.fetches.get("Burst").copied(),
            s.fetches.get("Other").copied(),
        )
    };
    assert_eq!(
        burst_fetches,
        Some(1),
        "13 edits in {burst:.1?}, {batches} batches"
    );
    assert_eq!(other_fetches, Some(1));
    stop.send(()).unwrap();
    let (result, mirror) = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    result.unwrap();
    assert_eq!(mirror.read("Burst").unwrap().as_deref(), Some("Burst v12"));
    assert!(mirror.state().position.is_some(), "the position was saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_polling_the_api_without_xmpp_survives_sigkill_and_holds_the_wikis_pages() {
    let wiki = MediaWiki::start(None, None);
    let a = wiki.session("Admin", ADMIN_PASSWORD).await;
    for (title, text) in [
        ("Alpha", "Alpha v1"),
        ("Beta", "Beta v1"),
        ("Talk:Alpha", "Talk v1"),
    ] {
        edit(&a, title, text, "create", &[]).await;
    }
    let tmp = TempDir::new("rc-e2e-mirror-poll");
    let dir = tmp.join("pages");
    let cfg = serde_json::json!({
        "api": wiki.api_url(),
        "dir": dir,
        "source": format!("mediawiki:{}", wiki.api_url()),
    });
    let mut first = MirrorProcess::spawn(&cfg, tmp.join("first.log"));
    converged(&wiki, &a, &dir, 60).await;
    first.assert_alive();
    // A first change applied and its position saved (a mirror stopped before any change
    // has no position and syncs fully again, by design)...
    edit(&a, "Alpha", "Alpha v2", "edit", &[]).await;
    let state = dir.join(mirror::STATE_FILE);
    wait_file(&state, 30, "a batch applied and its position saved", |s| {
        s.contains("\"position\"")
    });
    // ...then killed while it works on the next ones.
    mv(&a, "Beta", "Beta moved", &[]).await;
    edit(&a, "Gamma", "Gamma v1", "create", &[]).await;
    // Killed while it works on these: what it had not applied and committed comes again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    first.kill();
    delete(&a, "Talk:Alpha").await;
    edit(&a, "Gamma", "Gamma v2", "edit", &[]).await;
    let mut second = MirrorProcess::spawn(&cfg, tmp.join("second.log"));
    let pages = converged(&wiki, &a, &dir, 60).await;
    second.assert_alive();
    assert_eq!(pages.get("Alpha").map(String::as_str), Some("Alpha v2"));
    assert_eq!(pages.get("Gamma").map(String::as_str), Some("Gamma v2"));
    assert!(pages
        .get("Beta")
        .is_some_and(|t| t.starts_with("#REDIRECT")));
    assert!(!pages.contains_key("Talk:Alpha"));
    assert_eq!(
        second.log().matches("full sync done").count(),
        0,
        "the restart resumed from the saved position:\n{}",
        second.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_mirror_holds_exactly_its_scope_with_metadata() {
    let wiki = MediaWiki::start(None, None);
    let a = wiki.session("Admin", ADMIN_PASSWORD).await;
    for (title, text) in [
        ("Help:One", "one"),
        ("Help:Two", "two"),
        ("Other", "other"),
        ("Listed", "listed"),
        ("Cat A", "a [[Category:Mirrored]]"),
        ("Cat B", "b [[Category:Mirrored]]"),
    ] {
        edit(&a, title, text, "create", &[]).await;
    }
    let tmp = TempDir::new("rc-e2e-mirror-scope");
    let source = || {
        recentchanges::source::Source::new(&format!("mediawiki:{}", wiki.api_url()))
            .unwrap()
            .wiki("wikidb")
            .interval(Duration::from_millis(300))
    };
    // The three mirrors run until they hold what is expected (or 60 s passed).
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let run = |dir: PathBuf, config: MirrorConfig| {
        let api = wiki.api();
        let source = source();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            recentchanges::mirror::run(api, dir, source, config, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
        })
    };
    let by_prefix = run(
        tmp.join("help"),
        MirrorConfig::default().prefix("Help:").metadata(true),
    );
    let by_list = run(
        tmp.join("list"),
        MirrorConfig::default().pages(["Listed", "Missing"]),
    );
    let by_category = run(
        tmp.join("cat"),
        MirrorConfig::default().category("Mirrored"),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    edit(&a, "Cat B", "b, no longer in it", "edit", &[]).await;
    edit(&a, "Cat C", "c [[Category:Mirrored]]", "create", &[]).await;
    edit(&a, "Help:Three", "three", "create", &[]).await;
    edit(&a, "Other", "other v2", "edit", &[]).await;
    edit(&a, "Listed", "listed v2", "edit", &[]).await;
    let expected = || {
        if !["list", "cat", "help"].iter().all(|d| tmp.join(d).is_dir()) {
            return false;
        }
        let listed = mirrored(&tmp.join("list"));
        mirrored(&tmp.join("cat"))
            .keys()
            .eq(["Cat A", "Cat C"].iter())
            && mirrored(&tmp.join("help")).contains_key("Help:Three")
            && listed.get("Listed").map(String::as_str) == Some("listed v2")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !expected() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.send(true).unwrap();
    by_prefix.await.unwrap().unwrap();
    by_list.await.unwrap().unwrap();
    by_category.await.unwrap().unwrap();
    let cat = mirrored(&tmp.join("cat"));
    assert_eq!(
        cat.keys().map(String::as_str).collect::<Vec<_>>(),
        ["Cat A", "Cat C"],
        "members only; a page edited out of the category lost its file"
    );

    let help = mirrored(&tmp.join("help"));
    assert_eq!(
        help.keys().map(String::as_str).collect::<Vec<_>>(),
        ["Help:One", "Help:Three", "Help:Two"]
    );
    let list = mirrored(&tmp.join("list"));
    assert_eq!(
        list,
        BTreeMap::from([("Listed".to_owned(), "listed v2".to_owned())])
    );

    let m = Mirror::open(
        wiki.api(),
        tmp.join("help"),
        MirrorConfig::default().metadata(true),
    )
    .unwrap();
    let meta = m
        .read_metadata("Help:Three")
        .unwrap()
        .expect("metadata kept");
    let info = a
        .get_json(&[
            ("action", "query"),
            ("prop", "revisions"),
            ("titles", "Help:Three"),
            ("rvprop", "ids|sha1"),
            ("formatversion", "2"),
        ])
        .await
        .unwrap();
    let rev = &info["query"]["pages"][0]["revisions"][0];
    assert_eq!(meta["rev_id"], rev["revid"], "{meta}");
    assert_eq!(meta["sha1"], rev["sha1"]);
    assert!(meta["timestamp"].is_string());
}

/// Waits until the mirror's state file says a full sync was made (and saved with it).
fn synced(dir: &Path) {
    wait_file(&dir.join(mirror::STATE_FILE), 60, "a full sync", |s| {
        s.contains("synced_at")
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_stopped_before_any_change_resumes_without_walking_the_wiki_again() {
    let wiki = MediaWiki::start(None, None);
    let a = wiki.session("Admin", ADMIN_PASSWORD).await;
    for i in 1..=6 {
        edit(
            &a,
            &format!("Page {i}"),
            &format!("Page {i} v1"),
            "create",
            &[],
        )
        .await;
    }
    let tmp = TempDir::new("rc-e2e-mirror-quiet");
    let dir = tmp.join("pages");
    let source = || {
        recentchanges::source::Source::new(&format!("mediawiki:{}", wiki.api_url()))
            .unwrap()
            .wiki("wikidb")
            .interval(Duration::from_millis(300))
    };
    let config =
        || MirrorConfig::default().debounce(Duration::from_millis(300), Duration::from_secs(2));

    // A fresh mirror, stopped once its full sync is saved, before any change arrives.
    let state = dir.join(mirror::STATE_FILE);
    let first = recentchanges::mirror::run(wiki.api(), &dir, source(), config(), async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !std::fs::read_to_string(&state).is_ok_and(|s| s.contains("synced_at")) {
            assert!(Instant::now() < deadline, "no full sync saved");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!((first.full_syncs, first.changes), (1, 0), "{first:?}");
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(
        saved.contains("\"position\""),
        "the position from before the sync is saved with it: {saved}"
    );
    assert_eq!(mirrored(&dir), all_texts(&wiki, &a).await);

    // Edited while no mirror runs.
    edit(&a, "Page 3", "Page 3 v2", "edit", &[]).await;
    edit(&a, "Page 7", "Page 7 v1", "create", &[]).await;

    let d = dir.clone();
    let second = recentchanges::mirror::run(wiki.api(), &dir, source(), config(), async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let pages = mirrored(&d);
            if pages.contains_key("Page 7")
                && pages.get("Page 3").map(String::as_str) == Some("Page 3 v2")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(mirrored(&dir), all_texts(&wiki, &a).await);
    assert_eq!(
        second.full_syncs, 0,
        "no second walk of the wiki: {second:?}"
    );
    assert_eq!(
        second.fetches_total, 2,
        "only the two pages changed meanwhile were fetched: {:?}",
        second.fetches
    );
    assert_eq!(second.written, 2, "{second:?}");
}

// ------------------------------------------------------------------------ DokuWiki

/// The pages of the DokuWiki, read from its own data directory (`data/pages/NS/ID.txt`),
/// not through the code under test: page id to text.
fn doku_pages(wiki: &DokuWiki) -> BTreeMap<String, String> {
    let root = wiki.state_dir.join("data").join("pages");
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "txt") {
                let rel = path.strip_prefix(&root).unwrap().with_extension("");
                let id = rel.to_str().unwrap().replace('/', ":");
                out.insert(id, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

/// Waits until the mirror holds exactly the DokuWiki's pages, byte for byte.
async fn doku_converged(wiki: &DokuWiki, dir: &Path, secs: u64) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let want = doku_pages(wiki);
        let got = mirrored(dir);
        if got == want {
            return want;
        }
        if Instant::now() > deadline {
            panic!("the mirror did not converge:\nwiki   {want:?}\nmirror {got:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dokuwiki_mirror_holds_the_wikis_pages_through_edits_deletions_and_sigkills() {
    use recentchanges::http::wikirpc::{Client, Credentials, Dialect};
    let t0 = Instant::now();
    let wiki = DokuWiki::start();
    let client = Client::builder(&wiki.xmlrpc_url, Dialect::DokuWiki)
        .credentials(Credentials::new(&wiki.user, &wiki.password))
        .build()
        .unwrap();
    for (id, text) in [
        ("start", "Welcome\n"),
        ("alpha", "Alpha v1"),
        ("beta", "Beta v1"),
        ("ns:inner", "Inner page"),
        ("ns:sub:deep_page", "Deep ✓ Grüße\nline two\n"),
    ] {
        rc_testkit::put_page(&client, id, text).await;
    }
    let tmp = TempDir::new("rc-e2e-mirror-doku");
    let dir = tmp.join("pages");
    let cfg = serde_json::json!({
        "api": wiki.xmlrpc_url,
        "dir": dir,
        "source": format!("dokuwiki:{}", wiki.xmlrpc_url),
        "user": wiki.user,
        "password": wiki.password,
    });
    let log = tmp.join("mirror.log");

    // 1. A fresh mirror makes a full sync; killed before any change.
    let mut first = MirrorProcess::spawn(&cfg, log.clone());
    synced(&dir);
    let pages = doku_converged(&wiki, &dir, 30).await;
    assert_eq!(pages.len(), 5, "{pages:?}");
    // The state file can be written a moment before the line that reports it.
    wait_file(
        &first.log,
        30,
        "\"full sync done\" in the mirror's log",
        |log| log.contains("full sync done"),
    );
    first.kill();
    let first_log = first.log();

    // 2. Changed while it is down: an edit, a new page, a deletion (an empty text).
    rc_testkit::put_page(&client, "alpha", "Alpha v2").await;
    rc_testkit::put_page(&client, "gamma", "Gamma v1").await;
    rc_testkit::put_page(&client, "beta", "").await;
    let mut second = MirrorProcess::spawn(&cfg, log.clone());
    let pages = doku_converged(&wiki, &dir, 60).await;
    second.assert_alive();
    assert!(!pages.contains_key("beta"), "deleted: {pages:?}");

    // 3. Followed live, then killed in the middle of a burst.
    rc_testkit::put_page(&client, "ns:inner", "Inner v2").await;
    rc_testkit::put_page(&client, "ns:sub:deep_page", "").await;
    rc_testkit::put_page(&client, "delta", "Delta v1").await;
    doku_converged(&wiki, &dir, 60).await;
    rc_testkit::put_page(&client, "gamma", "Gamma v2").await;
    rc_testkit::put_page(&client, "epsilon", "Epsilon v1").await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    second.kill();
    rc_testkit::put_page(&client, "delta", "").await;
    rc_testkit::put_page(&client, "start", "Welcome back\n").await;

    // 4. A third run resumes and converges.
    let mut third = MirrorProcess::spawn(&cfg, log.clone());
    let pages = doku_converged(&wiki, &dir, 60).await;
    third.assert_alive();
    let all_log = third.log();
    let later_log = &all_log[first_log.len().min(all_log.len())..];
    assert_eq!(
        first_log.matches("full sync done").count(),
        1,
        "{first_log}"
    );
    assert_eq!(
        later_log.matches("full sync done").count(),
        0,
        "the restarted mirrors resumed from the position saved with the sync:\n{later_log}"
    );
    for (id, text) in [
        ("alpha", Some("Alpha v2")),
        ("beta", None),
        ("gamma", Some("Gamma v2")),
        ("delta", None),
        ("epsilon", Some("Epsilon v1")),
        ("ns:inner", Some("Inner v2")),
        ("ns:sub:deep_page", None),
        ("start", Some("Welcome back\n")),
    ] {
        assert_eq!(pages.get(id).map(String::as_str), text, "{id}");
    }
    third.kill();
    eprintln!(
        "DokuWiki mirror across two kills: {} pages, {:.1?}",
        pages.len(),
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dokuwiki_mirror_takes_a_prefix_or_a_page_list_keeps_metadata_and_refuses_namespaces() {
    use recentchanges::http::wikirpc::{Client, Credentials, Dialect};
    let wiki = DokuWiki::start();
    let client = Client::builder(&wiki.xmlrpc_url, Dialect::DokuWiki)
        .credentials(Credentials::new(&wiki.user, &wiki.password))
        .build()
        .unwrap();
    for (id, text) in [
        ("wiki:one", "one"),
        ("wiki:two", "two"),
        ("other", "other"),
        ("listed", "listed"),
    ] {
        rc_testkit::put_page(&client, id, text).await;
    }
    let source = || {
        recentchanges::source::Source::new(&format!("dokuwiki:{}", wiki.xmlrpc_url))
            .unwrap()
            .credentials(&wiki.user, wiki.password.clone())
            .interval(Duration::from_millis(300))
    };
    let tmp = TempDir::new("rc-e2e-mirror-doku-scope");
    let run = |dir: PathBuf, config: MirrorConfig| {
        let source = source();
        tokio::spawn(async move {
            let texts = source.texts().unwrap().unwrap();
            recentchanges::mirror::run(texts, dir, source, config, async {
                tokio::time::sleep(Duration::from_secs(4)).await;
            })
            .await
        })
    };
    let by_prefix = run(
        tmp.join("wiki"),
        MirrorConfig::default().prefix("wiki:").metadata(true),
    );
    let by_list = run(
        tmp.join("list"),
        MirrorConfig::default().pages(["listed", "missing"]),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    rc_testkit::put_page(&client, "wiki:three", "three").await;
    rc_testkit::put_page(&client, "wiki:one", "").await;
    rc_testkit::put_page(&client, "other", "other v2").await;
    rc_testkit::put_page(&client, "listed", "listed v2").await;
    by_prefix.await.unwrap().unwrap();
    by_list.await.unwrap().unwrap();
    let prefixed = mirrored(&tmp.join("wiki"));
    assert_eq!(
        prefixed,
        BTreeMap::from([
            ("wiki:three".to_owned(), "three".to_owned()),
            ("wiki:two".to_owned(), "two".to_owned())
        ])
    );
    assert_eq!(
        mirrored(&tmp.join("list")),
        BTreeMap::from([("listed".to_owned(), "listed v2".to_owned())])
    );

    let texts = source().texts().unwrap().unwrap();
    let m = Mirror::open(
        texts,
        tmp.join("wiki"),
        MirrorConfig::default().metadata(true),
    )
    .unwrap();
    let meta = m
        .read_metadata("wiki:three")
        .unwrap()
        .expect("metadata kept");
    let info = client.get_page_info("wiki:three", None).await.unwrap();
    assert_eq!(meta["title"], "wiki:three");
    assert_eq!(meta["version"], info.version.unwrap(), "{meta}");
    assert_eq!(meta["author"], "editor");
    assert_eq!(
        meta["timestamp"].as_str().and_then(|t| t.parse().ok()),
        info.last_modified,
        "{meta}"
    );

    for (config, option) in [
        (MirrorConfig::default().namespaces([0]), "namespaces"),
        (MirrorConfig::default().category("Things"), "category"),
    ] {
        let texts = source().texts().unwrap().unwrap();
        let err = recentchanges::mirror::run(
            texts,
            tmp.join("refused"),
            source(),
            config,
            std::future::pending(),
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("`{option}`")) && text.contains("MediaWiki"),
            "{text}"
        );
        assert!(!text.contains(&wiki.password));
    }
}
