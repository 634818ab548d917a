//! The rc-xmpp consumer: one process (this bench binary, `xmpp consumer ...`) joining one
//! room with [`recentchanges_xmpp::Client`] and reading its [`ChangeStream`](recentchanges_xmpp::ChangeStream),
//! so that its CPU time is its own.
//!
//! Line protocol with the driver, the same as `slixmpp_consumer.py`'s:
//! - on start: `ready` once the room is joined, or `failed <reason>`;
//! - `poll` -> `{"cpu_ns", "wall_ns", "wakeups", "received", "errors", "phases": {id: [n, first_ns, last_ns]}}`;
//! - `lat <phase>` -> `{"phase", "lat_ns": [...]}`, and the phase's samples are dropped;
//! - `quit` (or end of input) -> leaves the room, closes the stream, exits.
//!
//! CPU time is `getrusage(RUSAGE_SELF)`, user + system, all threads. Latency is the
//! CLOCK_MONOTONIC time when the change comes out of the stream minus the time the driver
//! wrote into its comment (`bench:<phase>:<seq>:<ns>`) just before `Publisher::publish`.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use futures::channel::mpsc;
use futures::StreamExt;
use rc_testkit::{all_joined, try_wait_status};
use recentchanges_xmpp::{Client, RoomChange, StreamError, Tls};
use serde_json::json;

use crate::clock::{cpu_ns, mono_ns, wakeups};

/// How to run one consumer.
#[derive(clap::Args, Debug, Clone)]
pub struct ConsumerArgs {
    /// Server address, host:port.
    #[arg(long)]
    pub server: String,
    #[arg(long)]
    pub jid: String,
    #[arg(long)]
    pub password: String,
    #[arg(long)]
    pub room: String,
    #[arg(long)]
    pub nick: String,
    /// STARTTLS verified against this CA; plaintext (loopback) without it.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Tokio worker threads: 1 runs a current-thread runtime.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

#[derive(Default)]
struct Phase {
    n: u64,
    first_ns: u64,
    last_ns: u64,
    lat_ns: Vec<u64>,
}

#[derive(Default)]
struct Stats {
    received: u64,
    errors: u64,
    phases: HashMap<String, Phase>,
}

impl Stats {
    fn on_change(&mut self, c: &RoomChange) {
        let now = mono_ns();
        self.received += 1;
        let Some(comment) = c.comment.as_deref() else {
            return;
        };
        let mut parts = comment.splitn(5, ':');
        if parts.next() != Some("bench") {
            return;
        }
        let (Some(phase), Some(_seq), Some(sent)) = (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let Ok(sent) = sent.parse::<u64>() else {
            return;
        };
        let p = match self.phases.get_mut(phase) {
            Some(p) => p,
            None => self.phases.entry(phase.to_owned()).or_insert(Phase {
                first_ns: now,
                ..Phase::default()
            }),
        };
        p.n += 1;
        p.last_ns = now;
        p.lat_ns.push(now.saturating_sub(sent));
    }

    fn poll(&self) -> serde_json::Value {
        let phases: serde_json::Map<String, serde_json::Value> = self
            .phases
            .iter()
            .map(|(k, p)| (k.clone(), json!([p.n, p.first_ns, p.last_ns])))
            .collect();
        json!({
            "cpu_ns": cpu_ns(),
            "wall_ns": mono_ns(),
            "wakeups": wakeups(),
            "received": self.received,
            "errors": self.errors,
            "phases": phases,
        })
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs the consumer until `quit`; returns the exit code.
pub fn run(args: ConsumerArgs) -> i32 {
    let mut builder = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(args.threads);
        b
    };
    let rt = builder.enable_all().build().expect("a tokio runtime");
    rt.block_on(consume(args))
}

async fn consume(args: ConsumerArgs) -> i32 {
    let tls = match &args.ca {
        Some(ca) => Tls::RequiredWithRoots(vec![ca.clone()]),
        None => Tls::PlaintextLoopback,
    };
    let builder = Client::builder(&args.jid, args.password.clone())
        .and_then(|b| b.server(&args.server))
        .and_then(|b| b.room(&args.room, &args.nick));
    let mut stream = match builder.and_then(|b| b.tls(tls).connect()) {
        Ok(stream) => stream,
        Err(e) => {
            say(&format!("failed {e}"));
            return 1;
        }
    };
    if let Err(e) = try_wait_status(stream.status(), 20, all_joined).await {
        say(&format!("failed not joined: {e}"));
        return 1;
    }

    // Commands come from a plain thread blocked on stdin (no CPU while it waits).
    let (tx, mut commands) = mpsc::unbounded::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.unbounded_send(line).is_err() {
                break;
            }
        }
    });
    say("ready");

    let mut stats = Stats::default();
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(Ok(change)) => stats.on_change(&change),
                Some(Err(StreamError::Fatal(e))) => {
                    eprintln!("consumer {}: fatal: {e}", args.nick);
                    stats.errors += 1;
                }
                Some(Err(_)) => stats.errors += 1,
                None => break,
            },
            command = commands.next() => match command.as_deref().map(str::trim) {
                Some("poll") => say(&stats.poll().to_string()),
                Some(cmd) if cmd.starts_with("lat ") => {
                    let phase = &cmd[4..];
                    let lat = stats.phases.get_mut(phase).map(|p| std::mem::take(&mut p.lat_ns)).unwrap_or_default();
                    say(&json!({"phase": phase, "lat_ns": lat}).to_string());
                }
                _ => break,
            },
        }
    }
    stream.close().await;
    0
}
