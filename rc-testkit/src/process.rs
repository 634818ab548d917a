//! Servers started by the project's scripts, ports, temporary directories, logging.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// A free TCP port of 127.0.0.1 (free when asked: bind it soon).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("a local address").port()
}

/// Logs to the test output when `RUST_LOG` is set; the servers' `start` calls it.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A fresh directory under the system's temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// `$TMPDIR/{prefix}-{pid}-{n}`, created empty.
    pub fn new(prefix: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `impl Deref<Target = ScriptedServer>` for a fixture holding one in its `server` field,
/// so that its port, state directory and exports read as its own.
macro_rules! derefs_to_server {
    ($fixture:ty) => {
        impl std::ops::Deref for $fixture {
            type Target = $crate::ScriptedServer;
            fn deref(&self) -> &$crate::ScriptedServer {
                &self.server
            }
        }
        impl std::ops::DerefMut for $fixture {
            fn deref_mut(&mut self) -> &mut $crate::ScriptedServer {
                &mut self.server
            }
        }
    };
}
pub(crate) use derefs_to_server;

/// A server run by `scripts/{name}/start.sh` and `stop.sh` on a free port of 127.0.0.1,
/// with its state in a fresh directory; stopped, and the directory removed, when dropped.
pub struct ScriptedServer {
    pub port: u16,
    pub state_dir: PathBuf,
    /// The `export NAME='value'` lines `start.sh` printed last.
    pub exports: BTreeMap<String, String>,
    name: &'static str,
    port_var: &'static str,
    state_var: &'static str,
}

impl ScriptedServer {
    /// Runs `scripts/{name}/start.sh` with the port in `port_var` and the state directory
    /// in `state_var`, after `configure` had its say on the command. Three tries, each
    /// on a new port (one may be taken meanwhile); the script's stderr when all failed.
    pub fn try_start(
        name: &'static str,
        port_var: &'static str,
        state_var: &'static str,
        configure: &dyn Fn(&mut Command),
    ) -> Result<ScriptedServer, String> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut server = ScriptedServer {
                port,
                state_dir: std::env::temp_dir().join(format!("rc-testkit-{name}-{port}")),
                exports: BTreeMap::new(),
                name,
                port_var,
                state_var,
            };
            match server.run("start.sh", configure) {
                Ok(stdout) => {
                    server.exports = exports(&stdout);
                    return Ok(server);
                }
                Err(e) => last = e, // dropping it runs stop.sh
            }
        }
        Err(format!("{name} did not start: {last}"))
    }

    /// `bash scripts/{name}/{script}` with the port and state directory set.
    pub fn script(&self, script: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(scripts_dir().join(self.name).join(script))
            .env(self.port_var, self.port.to_string())
            .env(self.state_var, &self.state_dir);
        c
    }

    /// Runs a script to its end: its stdout, or its stderr when it failed.
    pub fn run(&self, script: &str, configure: &dyn Fn(&mut Command)) -> Result<String, String> {
        let mut c = self.script(script);
        configure(&mut c);
        let out = c
            .output()
            .map_err(|e| format!("scripts/{}/{script}: {e}", self.name))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "scripts/{}/{script} failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Runs `start.sh` again (same port and directory), taking its new exports.
    pub fn rerun_start(&mut self, configure: &dyn Fn(&mut Command)) -> Result<(), String> {
        let stdout = self.run("start.sh", configure)?;
        self.exports = exports(&stdout);
        Ok(())
    }

    /// `127.0.0.1:port`, the address the server listens on.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL (`kill.sh`), like a crash.
    pub fn kill(&self) {
        self.run("kill.sh", &|_| {})
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts again after [`kill`](Self::kill) (same port and directory), keeping the
    /// data: `start.sh` with `{PREFIX}_FRESH=0`.
    pub fn restart(&mut self) {
        let fresh = format!("{}_FRESH", self.prefix());
        self.rerun_start(&|c| {
            c.env(&fresh, "0");
        })
        .unwrap_or_else(|e| panic!("{} restart failed: {e}", self.name));
    }

    /// The CA certificate the server's certificate is signed with (for STARTTLS), as
    /// `start.sh` exported it (`{PREFIX}_CA_CERT`).
    pub fn ca_cert(&self) -> PathBuf {
        PathBuf::from(self.export(&format!("{}_CA_CERT", self.prefix())))
    }

    /// The server's process id, when `start.sh` said it (`{PREFIX}_PID`).
    pub fn pid(&self) -> Option<u32> {
        self.exports
            .get(&format!("{}_PID", self.prefix()))
            .and_then(|p| p.parse().ok())
    }

    /// The scripts' variable prefix, e.g. `PROSODY` of `PROSODY_C2S_PORT`.
    fn prefix(&self) -> &str {
        self.port_var.split('_').next().unwrap_or(self.port_var)
    }

    /// One of the exports; panics when `start.sh` did not print it.
    pub fn export(&self, name: &str) -> &str {
        self.exports
            .get(name)
            .unwrap_or_else(|| panic!("{} printed no {name}", self.name))
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        let _ = self.script("stop.sh").output();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// `NAME -> value` of the `export NAME='value'` lines.
fn exports(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts")
}
