//! Real servers for the end-to-end tests, started by the project's own scripts on
//! 127.0.0.1 with ports of their own and stopped when dropped: a MediaWiki 1.39
//! (`scripts/mediawiki/`) and a Prosody (`scripts/prosody/`); plus the wiki's users and
//! the scripted changes.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use recentchanges::http::{Api, RetryPolicy};
use recentchanges::xmpp::bridge::{Bridge, Routes};
use recentchanges::xmpp::{
    ChangeStream, Client, ClientBuilder, Publisher, ReconnectPolicy, RoomChange, Tls,
};
use recentchanges::{Kind, RecentChange};
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "adminpass123456";
pub const USER_PASSWORD: &str = "userpass1234567";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

// ---------------------------------------------------------------------------------------
// MediaWiki
// ---------------------------------------------------------------------------------------

/// A running MediaWiki 1.39 (single PHP worker), wiki id `wikidb`.
pub struct Wiki {
    pub port: u16,
    pub state_dir: PathBuf,
}

impl Wiki {
    /// Starts a fresh wiki on a free port, sending `$wgRCFeeds` UDP packets to the given
    /// addresses (XML and JSON formatter).
    pub fn start(feed_xml: Option<SocketAddr>, feed_json: Option<SocketAddr>) -> Wiki {
        init_tracing();
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let state_dir = std::env::temp_dir().join(format!("rc-e2e-mw-{port}"));
            let mut cmd = Command::new("bash");
            cmd.arg(repo().join("scripts/mediawiki/start.sh"))
                .env("MW_PORT", port.to_string())
                .env("MW_STATE_DIR", &state_dir)
                .env("MW_PHP_WORKERS", "1")
                .env_remove("MW_FEED_XML")
                .env_remove("MW_FEED_JSON");
            if let Some(a) = feed_xml {
                cmd.env("MW_FEED_XML", a.to_string());
            }
            if let Some(a) = feed_json {
                cmd.env("MW_FEED_JSON", a.to_string());
            }
            let out = cmd.output().expect("run scripts/mediawiki/start.sh");
            if out.status.success() {
                return Wiki { port, state_dir };
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
            let _ = Command::new("bash")
                .arg(repo().join("scripts/mediawiki/stop.sh"))
                .env("MW_STATE_DIR", &state_dir)
                .output();
        }
        panic!("MediaWiki did not start: {last}");
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn api_url(&self) -> String {
        format!("{}/api.php", self.base())
    }

    /// An API client with quick retries.
    pub fn api(&self) -> Api {
        Api::builder(&self.api_url())
            .retry(RetryPolicy {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(1),
                max_attempts: 5,
                max_elapsed: Duration::from_secs(20),
            })
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    /// A client logged in as `user`.
    pub async fn session(&self, user: &str, password: &str) -> Api {
        let api = self.api();
        api.login(user, password).await.expect("login");
        api
    }

    /// Runs the queued jobs with `maintenance/runJobs.php`: categorize changes come from
    /// jobs, and in 1.39 only index.php requests run them (one per request).
    pub async fn run_jobs(&self) {
        let settings = self.state_dir.join("LocalSettings.php");
        let out = Command::new("php")
            .arg("/usr/share/mediawiki/maintenance/runJobs.php")
            .arg("--conf")
            .arg(&settings)
            .env("MW_CONFIG_FILE", &settings)
            .output()
            .expect("php runJobs.php");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn jobs(&self, api: &Api) -> u64 {
        let v = api
            .get_json(&[
                ("action", "query"),
                ("meta", "siteinfo"),
                ("siprop", "statistics"),
            ])
            .await
            .unwrap();
        v["query"]["statistics"]["jobs"].as_u64().unwrap_or(0)
    }

    /// A plain GET of a path of the wiki: (status, body).
    pub async fn raw_get(&self, path: &str) -> (u16, String) {
        raw_http_get(self.port, path).await
    }

    /// The current text of a page through `index.php?action=raw` (not the API).
    pub async fn raw_text(&self, title: &str) -> Option<String> {
        let t: String = url_encode(title);
        let (status, body) = self
            .raw_get(&format!("/index.php?title={t}&action=raw"))
            .await;
        match status {
            200 => Some(body),
            404 => None,
            s => panic!("action=raw of {title}: HTTP {s}"),
        }
    }

    /// Every page of the wiki (namespaces 0 and up) with its text, through `list=allpages`
    /// and `action=raw`.
    pub async fn all_texts(&self, api: &Api) -> BTreeMap<String, String> {
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
                    let text = self
                        .raw_text(&title)
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
}

impl Drop for Wiki {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/mediawiki/stop.sh"))
            .env("MW_STATE_DIR", &self.state_dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A minimal HTTP/1.0 GET over loopback, independent of the code under test.
pub async fn raw_http_get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8(buf).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_owned())
}

/// The wiki's cast: Admin (sysop), Botty (bot group) and an anonymous visitor.
pub struct Cast {
    pub admin: Api,
    pub botty: Api,
    pub anon: Api,
}

impl Cast {
    /// Logs Admin in, creates Botty (in group bot) and logs it in, as gen-fixtures.py does.
    pub async fn new(wiki: &Wiki) -> Cast {
        let admin = wiki.session("Admin", ADMIN_PASSWORD).await;
        let token = admin.token("createaccount").await.unwrap();
        let ret = wiki.base() + "/";
        let res = admin
            .post_json(&[
                ("action", "createaccount"),
                ("username", "Botty"),
                ("password", USER_PASSWORD),
                ("retype", USER_PASSWORD),
                ("createreturnurl", &ret),
                ("reason", "bot account"),
                ("createtoken", &token),
            ])
            .await
            .unwrap();
        assert_eq!(res["createaccount"]["status"], "PASS", "{res}");
        let token = admin.token("userrights").await.unwrap();
        admin
            .post_json(&[
                ("action", "userrights"),
                ("user", "Botty"),
                ("add", "bot"),
                ("reason", "flag as bot"),
                ("token", &token),
            ])
            .await
            .unwrap();
        let botty = wiki.session("Botty", USER_PASSWORD).await;
        Cast {
            admin,
            botty,
            anon: wiki.api(),
        }
    }
}

/// A write action with a csrf token; panics on failure.
pub async fn act(api: &Api, params: &[(&str, &str)]) -> Value {
    let token = api.token("csrf").await.unwrap();
    let mut p = params.to_vec();
    p.push(("token", &token));
    let res = api
        .post_json(&p)
        .await
        .unwrap_or_else(|e| panic!("{params:?}: {e}"));
    if let Some(edit) = res.get("edit") {
        assert_eq!(edit["result"], "Success", "{params:?}: {res}");
    }
    res
}

/// Saves a page.
pub async fn edit(api: &Api, title: &str, text: &str, summary: &str, extra: &[(&str, &str)]) {
    let mut p = vec![
        ("action", "edit"),
        ("title", title),
        ("text", text),
        ("summary", summary),
    ];
    p.extend_from_slice(extra);
    act(api, &p).await;
}

/// The scripted changes of the pipeline tests, one step at a time (`steps()` of them):
/// a new page, edits (plain, minor, bot, anonymous), a move, a deletion, a protection, a
/// block, category membership, a non-ASCII title and a summary with markup characters.
pub const STEPS: usize = 16;

pub async fn step(wiki: &Wiki, cast: &Cast, n: usize) -> &'static str {
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
            wiki.run_jobs().await;
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
            wiki.run_jobs().await;
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
            wiki.run_jobs().await;
            "category membership (removed by a bot edit)"
        }
        _ => unreachable!("step {n}"),
    }
}

/// Fields both forms carry (the feeds lack some fields of the API form, and name log
/// parameters differently), by the names of the JSON shape: rc-core/tests/fixtures.rs.
pub fn carried(form: &str, kind: &Kind) -> BTreeSet<&'static str> {
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

pub fn field(rc: &RecentChange, name: &str) -> Value {
    serde_json::to_value(rc)
        .unwrap()
        .get(name)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Asserts that `got` equals `want` in every field of `fields`.
pub fn assert_fields(got: &RecentChange, want: &RecentChange, fields: &BTreeSet<&str>, what: &str) {
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

// ---------------------------------------------------------------------------------------
// Prosody
// ---------------------------------------------------------------------------------------

/// A running Prosody with accounts `alice`, `bob`, `carol`, `publisher`, `publisher2` and
/// `mirror` (password: the name twice).
pub struct Prosody {
    pub port: u16,
    pub state_dir: PathBuf,
}

impl Prosody {
    pub fn start() -> Prosody {
        init_tracing();
        let port = free_port();
        let p = Prosody {
            port,
            state_dir: std::env::temp_dir().join(format!("rc-e2e-prosody-{port}")),
        };
        let out = p
            .script("start.sh")
            .env("PROSODY_FRESH", "1")
            .output()
            .expect("run scripts/prosody/start.sh");
        assert!(
            out.status.success(),
            "prosody start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for user in ["alice", "bob", "carol", "publisher", "publisher2", "mirror"] {
            let out = p
                .script("adduser.sh")
                .args([user, &format!("{user}{user}")])
                .output()
                .expect("adduser");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        p
    }

    /// SIGKILL, like a crash.
    pub fn kill(&self) {
        let out = self.script("kill.sh").output().expect("kill.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts again after [`kill`](Self::kill), keeping accounts, rooms and archives.
    pub fn restart(&self) {
        let out = self
            .script("start.sh")
            .env("PROSODY_FRESH", "0")
            .output()
            .expect("start.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn script(&self, name: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(repo().join("scripts/prosody").join(name))
            .env("PROSODY_C2S_PORT", self.port.to_string())
            .env("PROSODY_STATE_DIR", &self.state_dir);
        c
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A client for `user` over plaintext loopback, quick to reconnect.
    pub fn client(&self, user: &str) -> ClientBuilder {
        Client::builder(&format!("{user}@localhost"), format!("{user}{user}"))
            .unwrap()
            .server(&self.addr())
            .unwrap()
            .tls(Tls::PlaintextLoopback)
            .reconnect(quick_reconnect())
    }

    /// A joined client of one room.
    pub async fn consumer(&self, user: &str, room: &str) -> ChangeStream {
        let stream = self
            .client(user)
            .room(&room_jid(room), user)
            .unwrap()
            .connect();
        joined(&stream, 15).await;
        stream
    }

    pub fn publisher(&self, user: &str, rooms: &[&str]) -> Publisher {
        let mut b = Publisher::builder(&format!("{user}@localhost"), format!("{user}{user}"))
            .unwrap()
            .server(&self.addr())
            .unwrap()
            .tls(Tls::PlaintextLoopback)
            .reconnect(quick_reconnect());
        for room in rooms {
            b = b.room(&room_jid(room), "xmlrc").unwrap();
        }
        b.start().unwrap()
    }

    /// A bridge posting the changes of wiki `wikidb` into `room`.
    pub async fn bridge(&self, publisher_user: &str, room: &str) -> Bridge {
        self.bridge_at(publisher_user, room, "127.0.0.1:0".parse().unwrap())
            .await
    }

    /// A bridge listening on `listen`.
    pub async fn bridge_at(&self, publisher_user: &str, room: &str, listen: SocketAddr) -> Bridge {
        let routes = Routes {
            rooms: HashMap::from([("wikidb".to_owned(), room_jid(room).parse().unwrap())]),
            default: None,
        };
        Bridge::start(
            listen,
            routes,
            self.publisher(publisher_user, &[room]),
            10_000,
        )
        .await
        .unwrap()
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        let _ = self.script("stop.sh").output();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

pub fn quick_reconnect() -> ReconnectPolicy {
    ReconnectPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        factor: 2.0,
        jitter: 0.1,
        max_attempts: None,
    }
}

pub fn room_jid(name: &str) -> String {
    format!("{name}@conference.localhost")
}

/// Waits until every room of the stream is joined.
pub async fn joined(stream: &ChangeStream, secs: u64) {
    let mut status = stream.status();
    tokio::time::timeout(
        Duration::from_secs(secs),
        status.wait_for(|s| {
            !s.rooms.is_empty()
                && s.rooms
                    .values()
                    .all(|r| matches!(r, recentchanges::xmpp::RoomState::Joined { .. }))
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("rooms not joined in time: {:?}", *stream.status().borrow()))
    .unwrap();
}

/// Collects changes until `want` rcids have all arrived (panicking on error items or after
/// `secs`), then `quiet` more to catch extras.
pub async fn collect_until(
    stream: &mut ChangeStream,
    want: &BTreeSet<u64>,
    secs: u64,
    quiet: Duration,
) -> Vec<RoomChange> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut got: Vec<RoomChange> = Vec::new();
    let mut have = BTreeSet::new();
    while !want.is_subset(&have) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Some(Ok(c))) => {
                if let Some(id) = c.rcid {
                    have.insert(id);
                }
                got.push(c);
            }
            Ok(Some(Err(e))) => panic!("error item after {} changes: {e}", got.len()),
            Ok(None) => panic!("the stream ended"),
            Err(_) => panic!(
                "timed out; missing rcids {:?}",
                want.difference(&have).collect::<Vec<_>>()
            ),
        }
    }
    while let Ok(Some(item)) = tokio::time::timeout(quiet, stream.next()).await {
        got.push(item.expect("no error items"));
    }
    got
}

pub fn wait_file(path: &Path, secs: u64, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if ok(&s) {
                return s;
            }
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
