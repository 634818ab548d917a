//! Processes the benchmark runs: the server (rc-testkit's Prosody or ejabberd, with its
//! CPU time), and the consumers with their line protocol. Each is stopped when dropped, so
//! a failed run leaves nothing behind.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;
use rc_testkit::{Ejabberd, Prosody, ScriptedServer};

pub type Res<T> = Result<T, String>;

/// The CPU time a process used so far.
pub trait CpuTime {
    fn cpu_ns(&self) -> u64;
}

/// Which XMPP server the run goes through (`--server`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum ServerKind {
    /// Prosody 0.12 (`scripts/prosody/`): one Lua thread.
    Prosody,
    /// ejabberd (`scripts/ejabberd/`): an Erlang node, one scheduler per core.
    Ejabberd,
}

impl ServerKind {
    /// The Debian package it runs.
    pub fn package(self) -> &'static str {
        match self {
            ServerKind::Prosody => "prosody",
            ServerKind::Ejabberd => "ejabberd",
        }
    }

    /// As the tables name it.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Prosody => "Prosody",
            ServerKind::Ejabberd => "ejabberd",
        }
    }
}

/// The running server, started by the project's scripts on 127.0.0.1.
pub enum Server {
    Prosody(Prosody),
    Ejabberd(Ejabberd),
}

impl Server {
    /// A fresh instance without accounts, its rooms archived or not, or why it did not
    /// start.
    pub fn try_start(kind: ServerKind, archive: bool) -> Res<Server> {
        Ok(match kind {
            ServerKind::Prosody => {
                let prosody = Prosody::try_start()?;
                if !archive {
                    prosody.try_lua(
                        r#"require"core.modulemanager".unload("conference.localhost", "muc_mam")"#,
                    )?;
                }
                Server::Prosody(prosody)
            }
            ServerKind::Ejabberd => Server::Ejabberd(Ejabberd::try_start_with(&[
                ("EJABBERD_ROOM_MAM", if archive { "true" } else { "false" }),
                // Schedulers that sleep when idle. Erlang's default is to spin a while
                // first, which suits a machine of its own; on 2 cores shared with the
                // consumers it takes their cores and caches.
                (
                    "EJABBERD_ERL_FLAGS",
                    "+sbwt none +sbwtdcpu none +sbwtdio none",
                ),
            ])?),
        })
    }

    pub fn kind(&self) -> ServerKind {
        match self {
            Server::Prosody(_) => ServerKind::Prosody,
            Server::Ejabberd(_) => ServerKind::Ejabberd,
        }
    }

    /// Creates the accounts, each with the password of its name (see rc-testkit).
    pub fn try_add_users(&self, users: &[&str]) -> Res<()> {
        match self {
            Server::Prosody(p) => p.try_add_users(users),
            Server::Ejabberd(e) => e.try_add_users(users),
        }
    }

    /// Prosody itself, for what only it can do (its admin shell).
    pub fn prosody(&self) -> Option<&Prosody> {
        match self {
            Server::Prosody(p) => Some(p),
            Server::Ejabberd(_) => None,
        }
    }
}

impl std::ops::Deref for Server {
    type Target = ScriptedServer;

    fn deref(&self) -> &ScriptedServer {
        match self {
            Server::Prosody(p) => p,
            Server::Ejabberd(e) => e,
        }
    }
}

impl CpuTime for Server {
    /// The server's CPU time so far, every thread (utime + stime of /proc/PID/stat, 10 ms
    /// ticks); 0 when unknown.
    fn cpu_ns(&self) -> u64 {
        let Some(Ok(stat)) = self
            .pid()
            .map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")))
        else {
            return 0;
        };
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f.get(11).and_then(|s| s.parse().ok()).unwrap_or(0)
            + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        ticks * 1_000_000_000 / hz
    }
}

/// Which client a consumer process runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    RcXmpp,
    Slixmpp,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::RcXmpp => "rc-xmpp",
            Kind::Slixmpp => "slixmpp",
        }
    }
}

/// One consumer process, spoken to over its stdin/stdout.
pub struct Consumer {
    pub nick: String,
    pub kind: Kind,
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Consumer {
    pub fn spawn(nick: &str, kind: Kind, mut cmd: Command) -> Res<Consumer> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start consumer {nick}: {e}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.unbounded_send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Consumer {
            nick: nick.to_owned(),
            kind,
            child,
            stdin,
            lines,
        })
    }

    async fn line(&mut self, timeout: Duration) -> Res<String> {
        match tokio::time::timeout(timeout, self.lines.next()).await {
            Ok(Some(line)) => Ok(line),
            Ok(None) => Err(format!("consumer {} exited", self.nick)),
            Err(_) => Err(format!("consumer {}: no answer in {timeout:?}", self.nick)),
        }
    }

    /// Waits for `ready` (the room is joined).
    pub async fn ready(&mut self) -> Res<()> {
        let line = self.line(Duration::from_secs(30)).await?;
        if line == "ready" {
            Ok(())
        } else {
            Err(format!("consumer {}: {line}", self.nick))
        }
    }

    pub fn send(&mut self, command: &str) -> Res<()> {
        writeln!(self.stdin, "{command}")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| format!("consumer {}: {e}", self.nick))
    }

    /// Sends a command and parses the JSON answer.
    pub async fn ask(&mut self, command: &str) -> Res<serde_json::Value> {
        self.send(command)?;
        let line = self.line(Duration::from_secs(10)).await?;
        serde_json::from_str(&line).map_err(|e| format!("consumer {}: {e}: {line}", self.nick))
    }

    /// Asks it to leave and waits (bounded) for it to exit.
    pub async fn quit(mut self) {
        let _ = self.send("quit");
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A Python with slixmpp: `$RC_BENCH_PYTHON`, else the Prosody smoke test's venv, else a
/// venv made for the benchmark (one `pip install slixmpp`).
pub fn python_with_slixmpp() -> Res<PathBuf> {
    let has = |py: &Path| {
        Command::new(py)
            .args(["-c", "import slixmpp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if let Some(py) = std::env::var_os("RC_BENCH_PYTHON") {
        let py = PathBuf::from(py);
        return if has(&py) {
            Ok(py)
        } else {
            Err(format!(
                "RC_BENCH_PYTHON={} cannot import slixmpp",
                py.display()
            ))
        };
    }
    for venv in ["/tmp/rc-prosody-venv", "/tmp/rc-bench-venv"] {
        let py = Path::new(venv).join("bin/python");
        if has(&py) {
            return Ok(py);
        }
    }
    let venv = Path::new("/tmp/rc-bench-venv");
    eprintln!("creating {} with slixmpp", venv.display());
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "slixmpp",
            ])
            .status()
            .is_ok_and(|s| s.success());
    let py = venv.join("bin/python");
    if ok && has(&py) {
        Ok(py)
    } else {
        Err("could not make a venv with slixmpp (python3 -m venv; pip install slixmpp)".into())
    }
}
