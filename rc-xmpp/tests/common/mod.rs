//! A real Prosody for the tests, started by the project's own `scripts/prosody/` on
//! 127.0.0.1 with a port of its own, and stopped when dropped.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use rc_core::{Kind, RecentChange};
use rc_xmpp::{
    ChangeStream, Client, ClientBuilder, Publisher, ReconnectPolicy, RoomChange, StreamError, Tls,
};

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/prosody")
}

/// A running Prosody instance.
pub struct Prosody {
    pub port: u16,
    pub state_dir: PathBuf,
    pub env: HashMap<String, String>,
}

impl Prosody {
    /// Starts a fresh instance on a free port, with accounts `alice`, `bob` and `publisher`
    /// (password: the name twice).
    pub fn start() -> Prosody {
        init_tracing();
        let port = free_port();
        let state_dir = std::env::temp_dir().join(format!("rc-xmpp-test-{port}"));
        let mut p = Prosody {
            port,
            state_dir,
            env: HashMap::new(),
        };
        p.run_start(true);
        for user in ["alice", "bob", "carol", "publisher"] {
            p.add_user(user, &format!("{user}{user}"));
        }
        p
    }

    fn script(&self, name: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(scripts().join(name))
            .env("PROSODY_C2S_PORT", self.port.to_string())
            .env("PROSODY_STATE_DIR", &self.state_dir);
        c
    }

    fn run_start(&mut self, fresh: bool) {
        let out = self
            .script("start.sh")
            .env("PROSODY_FRESH", if fresh { "1" } else { "0" })
            .output()
            .expect("run scripts/prosody/start.sh");
        assert!(
            out.status.success(),
            "prosody start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
                self.env
                    .insert(k.to_owned(), v.trim_matches('\'').to_owned());
            }
        }
    }

    pub fn add_user(&self, user: &str, password: &str) {
        let out = self
            .script("adduser.sh")
            .args([user, password])
            .output()
            .expect("adduser");
        assert!(
            out.status.success(),
            "adduser failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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
    pub fn restart(&mut self) {
        self.run_start(false);
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn ca_cert(&self) -> PathBuf {
        PathBuf::from(&self.env["PROSODY_CA_CERT"])
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

    pub fn publisher(&self, rooms: &[&str]) -> Publisher {
        let mut b = Publisher::builder("publisher@localhost", "publisherpublisher")
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

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A change numbered `n` of wiki `wiki`.
pub fn change(wiki: &str, n: u64) -> RecentChange {
    let mut rc = RecentChange::new(Kind::Edit);
    rc.rcid = Some(n);
    rc.wiki = Some(wiki.to_owned());
    rc.namespace = Some(0);
    rc.title = Some(format!("Page {n}"));
    rc.user = Some("Tester".into());
    rc.old_len = Some(100);
    rc.new_len = Some(100 + n);
    rc.rev_id = Some(1000 + n);
    rc.old_rev_id = Some(999 + n);
    rc.comment = Some(format!("edit number {n} <&>"));
    rc.timestamp = Some(chrono::DateTime::from_timestamp(1_795_424_344 + n as i64, 0).unwrap());
    rc
}

/// The next item, or a panic after `secs`.
pub async fn next(stream: &mut ChangeStream, secs: u64) -> Result<RoomChange, StreamError> {
    tokio::time::timeout(Duration::from_secs(secs), stream.next())
        .await
        .expect("an item in time")
        .expect("the stream goes on")
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
                    .all(|r| matches!(r, rc_xmpp::RoomState::Joined { .. }))
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("rooms not joined in time: {:?}", *stream.status().borrow()))
    .unwrap();
}

/// Collects `n` changes (panicking on error items), with a deadline for each.
pub async fn changes(stream: &mut ChangeStream, n: usize, secs: u64) -> Vec<RoomChange> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match next(stream, secs).await {
            Ok(c) => out.push(c),
            Err(e) => panic!("unexpected error item after {} changes: {e}", out.len()),
        }
    }
    out
}

impl Prosody {
    /// Runs Lua in the server through its admin shell, as an administrator would.
    pub fn lua(&self, code: &str) -> String {
        let out = Command::new("prosodyctl")
            .arg("--config")
            .arg(self.state_dir.join("prosody.cfg.lua"))
            .arg("shell")
            .arg(format!(">{code}"))
            .output()
            .expect("prosodyctl shell");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !text.contains("Error"),
            "lua failed: {code}\n{text}"
        );
        text
    }

    /// The Lua expression for a room object.
    pub fn room_lua(&self, room: &str) -> String {
        format!(
            "prosody.hosts['conference.localhost'].modules.muc.get_room_from_jid('{}')",
            room_jid(room)
        )
    }
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
