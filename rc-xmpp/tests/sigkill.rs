//! A consumer process killed with SIGKILL and restarted from its position file sees again
//! at most the change it was handling: the position is committed each time the consumer
//! asks for the next change, not once a second.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::publish;
use futures::StreamExt;
use rc_testkit::{password, quick_reconnect, room_jid, Ejabberd, Prosody, TempDir, XmppServer};
use recentchanges_xmpp::{Client, Tls};

const CHILD_ENV: &str = "RC_XMPP_SIGKILL_CHILD";

/// The consumer process (this test binary again, running only `consumer_child`): reads
/// room `enwiki` as alice, resuming from the position file, and writes each change's rcid
/// to its log before taking the next (the "handling" takes a millisecond).
#[tokio::test]
async fn consumer_child() {
    let Ok(cfg) = std::env::var(CHILD_ENV) else {
        return; // only when spawned by the test below
    };
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    let mut stream = Client::builder("alice@localhost", password("alice"))
        .unwrap()
        .server(cfg["server"].as_str().unwrap())
        .unwrap()
        .tls(Tls::PlaintextLoopback)
        .reconnect(quick_reconnect())
        .room(&room_jid("enwiki"), "alice")
        .unwrap()
        .resume_from_file(cfg["position"].as_str().unwrap())
        .unwrap()
        .connect()
        .unwrap();
    rc_testkit::joined(&stream, 20).await;
    std::fs::write(format!("{}.joined", cfg["log"].as_str().unwrap()), b"").unwrap();
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(cfg["log"].as_str().unwrap())
        .unwrap();
    while let Some(item) = stream.next().await {
        let change = item.unwrap();
        writeln!(log, "{}", change.rcid.unwrap()).unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

struct Consumer(Child);

impl Consumer {
    fn spawn(server: &impl XmppServer, position: &Path, log: &Path) -> Consumer {
        let cfg = serde_json::json!({
            "server": server.c2s_addr(),
            "position": position,
            "log": log,
        });
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "consumer_child",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, cfg.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Consumer(child)
    }

    /// SIGKILL, like a crash.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn logged(log: &PathBuf) -> Vec<u64> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// Waits until the log holds `n` rcids (within `secs`).
async fn wait_logged(log: &PathBuf, n: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while logged(log).len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} changes logged",
            logged(log).len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// 600 changes at 200 a second into room `enwiki` of `server`, the consumer killed twice
/// mid-burst and restarted at once: every change logged, at most 2 twice.
async fn killed_twice_mid_burst(server: &impl XmppServer) {
    let dir = TempDir::new("rc-xmpp-sigkill");
    let (position, log) = (dir.join("enwiki.pos"), dir.join("rcids.log"));
    let total = 600u64;
    let mut publisher = server.publisher(&["enwiki"]);
    let mut consumer = Consumer::spawn(server, &position, &log);
    rc_testkit::wait_file(
        &dir.join("rcids.log.joined"),
        30,
        "the consumer joined",
        |_| true,
    );
    publish(&mut publisher, "enwiki", 1..=1).await;
    wait_logged(&log, 1, 20).await;
    // 200 changes a second, killed twice mid-burst and restarted at once.
    let burst = tokio::spawn(async move {
        for n in 2..=total {
            publish(&mut publisher, "enwiki", n..=n).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(publisher.flush(Duration::from_secs(60)).await);
        publisher.close().await;
    });
    for kill_at in [150, 350] {
        wait_logged(&log, kill_at, 30).await;
        consumer.kill();
        consumer = Consumer::spawn(server, &position, &log);
    }
    burst.await.unwrap();
    wait_logged(&log, total as usize, 60).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(consumer);

    let got = logged(&log);
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for id in &got {
        *seen.entry(*id).or_default() += 1;
    }
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>(),
        "every change, none lost across the kills"
    );
    let twice: Vec<u64> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        twice.len() <= 2 && seen.values().all(|n| *n <= 2),
        "at most the change being handled at each of the 2 kills comes again: {twice:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_mid_burst_repeats_at_most_the_change_it_was_handling() {
    killed_twice_mid_burst(&Prosody::start()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_ejabberd_a_consumer_killed_mid_burst_repeats_at_most_the_change_it_was_handling() {
    killed_twice_mid_burst(&Ejabberd::start()).await;
}
