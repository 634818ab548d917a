//! Processes the benchmark runs: the Prosody of `scripts/prosody/`, and the consumers with
//! their line protocol. Each is stopped when dropped, so a failed run leaves nothing behind.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;

pub type Res<T> = Result<T, String>;

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/prosody")
}

/// A fresh Prosody on 127.0.0.1 with a port and state dir of its own.
pub struct Prosody {
    pub port: u16,
    pub state_dir: PathBuf,
    pub env: HashMap<String, String>,
    pub pid: u32,
}

impl Prosody {
    pub fn start() -> Res<Prosody> {
        let port = free_port()?;
        let state_dir = std::env::temp_dir().join(format!("rc-bench-xmpp-{port}"));
        let mut p = Prosody {
            port,
            state_dir,
            env: HashMap::new(),
            pid: 0,
        };
        let out = p
            .script("start.sh")
            .env("PROSODY_FRESH", "1")
            .output()
            .map_err(|e| format!("scripts/prosody/start.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "prosody did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
                p.env.insert(k.to_owned(), v.trim_matches('\'').to_owned());
            }
        }
        p.pid = p
            .env
            .get("PROSODY_PID")
            .and_then(|s| s.parse().ok())
            .ok_or("start.sh printed no PROSODY_PID")?;
        Ok(p)
    }

    fn script(&self, name: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(scripts().join(name))
            .env("PROSODY_C2S_PORT", self.port.to_string())
            .env("PROSODY_STATE_DIR", &self.state_dir);
        c
    }

    /// Creates the accounts (password: the name twice), all at once.
    pub fn add_users(&self, users: &[String]) -> Res<()> {
        let children: Vec<_> = users
            .iter()
            .map(|u| {
                self.script("adduser.sh")
                    .args([u.as_str(), &format!("{u}{u}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map(|c| (u, c))
                    .map_err(|e| format!("adduser.sh: {e}"))
            })
            .collect::<Res<_>>()?;
        for (u, c) in children {
            let out = c.wait_with_output().map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "adduser {u}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        Ok(())
    }

    /// Runs Lua in the server through its admin shell.
    pub fn lua(&self, code: &str) -> Res<String> {
        let out = Command::new("prosodyctl")
            .arg("--config")
            .arg(self.state_dir.join("prosody.cfg.lua"))
            .arg("shell")
            .arg(format!(">{code}"))
            .output()
            .map_err(|e| format!("prosodyctl shell: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() && !text.contains("Error") {
            Ok(text)
        } else {
            Err(format!("lua failed: {code}: {text}"))
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn ca_cert(&self) -> PathBuf {
        PathBuf::from(&self.env["PROSODY_CA_CERT"])
    }

    /// The server's CPU time so far (utime + stime of /proc/PID/stat, 10 ms ticks).
    pub fn cpu_ns(&self) -> u64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
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

impl Drop for Prosody {
    fn drop(&mut self) {
        let _ = self.script("stop.sh").output();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

fn free_port() -> Res<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
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
