//! What the test files share: a wiki started by one of the project's scripts on a free
//! port, and a canned HTTP server for the retry rules.
#![allow(dead_code)] // each test file uses part of it

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A wiki started by `scripts/NAME/start.sh` on a free port of 127.0.0.1, with its state
/// in a fresh temporary directory; stopped (and the directory removed) when dropped.
pub struct ScriptedWiki {
    pub port: u16,
    pub state_dir: PathBuf,
    /// The `export NAME='value'` lines the script printed.
    pub exports: BTreeMap<String, String>,
    scripts: PathBuf,
    state_var: String,
}

impl ScriptedWiki {
    /// Runs `scripts/{name}/start.sh` with `{prefix}_PORT` and `{prefix}_STATE_DIR` set,
    /// plus `env`, without the variables in `unset`; three tries (a port taken meanwhile).
    pub fn start(name: &str, prefix: &str, env: &[(&str, &str)], unset: &[&str]) -> ScriptedWiki {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts")
            .join(name);
        let state_var = format!("{prefix}_STATE_DIR");
        let mut last = String::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let state_dir = std::env::temp_dir().join(format!("rc-http-test-{name}-{port}"));
            let mut cmd = Command::new("bash");
            cmd.arg(scripts.join("start.sh"))
                .env(format!("{prefix}_PORT"), port.to_string())
                .env(&state_var, &state_dir)
                .envs(env.iter().copied());
            for var in unset {
                cmd.env_remove(var);
            }
            let out = cmd.output().unwrap();
            if out.status.success() {
                let exports = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| l.strip_prefix("export "))
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
                    .collect();
                return ScriptedWiki {
                    port,
                    state_dir,
                    exports,
                    scripts,
                    state_var,
                };
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        panic!("{name} did not start: {last}");
    }
}

impl Drop for ScriptedWiki {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(self.scripts.join("stop.sh"))
            .env(&self.state_var, &self.state_dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// One canned answer: status line (e.g. `503 Service Unavailable`), extra header lines
/// (each ending in `\r\n`), body.
pub type Answer = (&'static str, &'static str, String);

/// A server on 127.0.0.1 that gives `answers` in turn (the last one again once they run
/// out), one per connection, and records each request's first line.
pub async fn canned_server(answers: Vec<Answer>) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        for n in 0..50 {
            let (mut s, _) = listener.accept().await.unwrap();
            let request = read_request(&mut s).await;
            log.lock()
                .unwrap()
                .push(request.lines().next().unwrap_or_default().to_owned());
            let (status, extra, body) = &answers[n.min(answers.len() - 1)];
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    (port, seen)
}

/// The head and body of one request (the whole of it: a socket closed with unread bytes
/// resets the connection before the client reads the answer).
async fn read_request(s: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return text;
            }
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).into_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
