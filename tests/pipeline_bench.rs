//! The pipeline benchmark: how many edits a second this machine's MediaWiki makes, and
//! the latency from an edit to a consumer's callback through the whole pipeline, with
//! where the time goes. Run it with `scripts/bench/pipeline.sh` (it is `#[ignore]`d in
//! normal test runs).
//!
//! ```text
//! editor --HTTP--> MediaWiki --$wgRCFeeds JSON/UDP--> [udp tap] --> Bridge --XMPP--> [tcp tap A]
//!     --> Prosody MUC --XMPP--> [tcp tap B] --> consumer (Python rcclient, or rc-xmpp)
//! ```
//!
//! The taps forward every byte at once and note when each change passes (by its rcid),
//! which splits the latency into: wiki (request sent to feed packet out: the save and
//! MediaWiki's post-send work), bridge (packet in to stanza out), server (Prosody:
//! stanza in to stanza out to the consumer), client (stanza in to the consumer's
//! callback). Each tap costs a loopback hop (tens of microseconds).
//!
//! Env: `BENCH_EDITS` (back-to-back edits, default 200), `BENCH_PACED` (paced edits,
//! default 100), `BENCH_RATE` (edits a second of the paced run, default 5),
//! `BENCH_CONSUMER` (`auto`: Python rcclient if it imports, else `rust`; `python`; `rust`).

use std::collections::HashMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use rc_testkit::{joined, room_jid, MediaWiki, Prosody, ADMIN_PASSWORD};
use recentchanges::http::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// When each change passed one point, by key (rcid or revid).
#[derive(Default, Clone)]
struct Stage(Arc<Mutex<HashMap<u64, u128>>>);

impl Stage {
    fn first(&self, key: u64, t: u128) {
        self.0.lock().unwrap().entry(key).or_insert(t);
    }
    fn get(&self, key: u64) -> Option<u128> {
        self.0.lock().unwrap().get(&key).copied()
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Forwards UDP packets to `to`, noting when each feed packet (JSON) came, by rcid, and
/// which revision it is about.
async fn udp_tap(to: SocketAddr, seen: Stage, rev_to_rc: Stage) -> SocketAddr {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let out = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, _)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let t = now_ns();
            let _ = out.send_to(&buf[..n], to).await;
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&buf[..n]) {
                if let Some(rcid) = v["id"].as_u64() {
                    seen.first(rcid, t);
                    if let Some(rev) = v["revision"]["new"].as_u64() {
                        rev_to_rc.first(rev, u128::from(rcid));
                    }
                }
            }
        }
    });
    addr
}

/// Finds the `rcid="N"` of `<rc>` payloads in a byte stream split into chunks.
#[derive(Default)]
struct RcidScanner {
    carry: Vec<u8>,
}

impl RcidScanner {
    fn scan(&mut self, chunk: &[u8], mut found: impl FnMut(u64)) {
        let carried = self.carry.len();
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(chunk);
        // `rcid="N"` or `rcid='N'` (Prosody writes single quotes).
        let pat = b"rcid=";
        let mut i = 0;
        while let Some(p) = data[i..]
            .windows(pat.len() + 1)
            .position(|w| &w[..pat.len()] == pat && matches!(w[pat.len()], b'"' | b'\''))
        {
            let start = i + p + pat.len() + 1;
            let end = start
                + data[start..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
            if end >= data.len() {
                break; // the number may go on in the next chunk: it stays in the carry
            }
            // A match ending in the carry was reported with the previous chunk.
            if end >= carried && end > start {
                if let Ok(n) = std::str::from_utf8(&data[start..end]).unwrap_or("").parse() {
                    found(n);
                }
            }
            i = end;
        }
        self.carry = data[data.len().saturating_sub(32)..].to_vec();
    }
}

/// A TCP proxy to `upstream`; the bytes going to the server (`to_server`) or from it
/// are scanned for rcids, noted with the time they were read.
async fn tcp_tap(upstream: SocketAddr, to_server: bool, seen: Stage) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..1000 {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            client.set_nodelay(true).ok();
            server.set_nodelay(true).ok();
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let seen_up = seen.clone();
            let seen_down = seen.clone();
            tokio::spawn(pipe(cr, sw, to_server.then_some(seen_up)));
            tokio::spawn(pipe(sr, cw, (!to_server).then_some(seen_down)));
        }
    });
    addr
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    seen: Option<Stage>,
) {
    let mut buf = vec![0u8; 65_536];
    let mut scanner = RcidScanner::default();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let t = now_ns();
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if let Some(seen) = &seen {
            scanner.scan(&buf[..n], |rcid| seen.first(rcid, t));
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).ceil() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

struct Stats {
    p50: f64,
    p99: f64,
    max: f64,
}

fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Stats {
        p50: percentile(&v, 0.5),
        p99: percentile(&v, 0.99),
        max: v.last().copied().unwrap_or(f64::NAN),
    }
}

/// Stamps of the whole pipeline.
#[derive(Default, Clone)]
struct Stamps {
    sent: Stage,      // by revid: request sent
    answered: Stage,  // by revid: response read
    rev_to_rc: Stage, // revid -> rcid
    udp: Stage,       // by rcid: feed packet at the udp tap
    bridged: Stage,   // by rcid: stanza from the bridge at tap A
    served: Stage,    // by rcid: stanza from the server at tap B
    callback: Stage,  // by rcid: in the consumer's loop
}

/// Makes `n` edits, back to back or at `rate` a second; returns the revids and the
/// seconds it took.
async fn edits(
    api: &Api,
    token: &str,
    run: &str,
    n: usize,
    rate: Option<f64>,
    s: &Stamps,
) -> (Vec<u64>, f64) {
    let start = Instant::now();
    let mut revs = Vec::with_capacity(n);
    for i in 0..n {
        if let Some(rate) = rate {
            let at = start + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(at.into()).await;
        }
        let title = format!("Bench {}", i % 10);
        let text = format!("Benchmark text: run {run}, edit {i}.");
        let t0 = now_ns();
        let res = api
            .post_json(&[
                ("action", "edit"),
                ("title", &title),
                ("text", &text),
                ("summary", "bench"),
                ("token", token),
            ])
            .await
            .unwrap();
        let t1 = now_ns();
        let rev = res["edit"]["newrevid"]
            .as_u64()
            .unwrap_or_else(|| panic!("an edit: {res}"));
        s.sent.first(rev, t0);
        s.answered.first(rev, t1);
        revs.push(rev);
    }
    (revs, start.elapsed().as_secs_f64())
}

fn report(name: &str, revs: &[u64], secs: f64, s: &Stamps) {
    let ms = |a: u128, b: u128| (b as f64 - a as f64) / 1e6;
    let mut cols: [Vec<f64>; 7] = Default::default();
    let mut missing = 0;
    for rev in revs {
        let (Some(t0), Some(t1), Some(rc)) = (
            s.sent.get(*rev),
            s.answered.get(*rev),
            s.rev_to_rc.get(*rev),
        ) else {
            missing += 1;
            continue;
        };
        let rc = rc as u64;
        let (Some(u), Some(b), Some(sv), Some(cb)) = (
            s.udp.get(rc),
            s.bridged.get(rc),
            s.served.get(rc),
            s.callback.get(rc),
        ) else {
            missing += 1;
            continue;
        };
        cols[0].push(ms(t0, cb)); // total
        cols[1].push(ms(t1, cb)); // from the API's answer
        cols[2].push(ms(t0, t1)); // API answer time
        cols[3].push(ms(t0, u)); // wiki
        cols[4].push(ms(u, b)); // bridge
        cols[5].push(ms(b, sv)); // server
        cols[6].push(ms(sv, cb)); // client
    }
    if missing > 0 {
        println!(
            "  stamps: sent {}, answered {}, rev->rc {}, udp {}, bridged {}, served {}, callback {}",
            s.sent.len(), s.answered.len(), s.rev_to_rc.len(), s.udp.len(), s.bridged.len(),
            s.served.len(), s.callback.len()
        );
    }
    println!(
        "\n{name}: {} edits in {secs:.1} s = {:.1} edits/s{}",
        revs.len(),
        revs.len() as f64 / secs,
        if missing > 0 {
            format!(" ({missing} not seen end to end)")
        } else {
            String::new()
        }
    );
    println!(
        "  {:<44} {:>9} {:>9} {:>9}",
        "latency (ms)", "p50", "p99", "max"
    );
    let names = [
        "edit request -> consumer callback (total)",
        "edit answer -> consumer callback",
        "  edit request -> API answer",
        "  wiki: request -> feed packet out",
        "  bridge: packet in -> stanza out",
        "  server: stanza in -> stanza to consumer",
        "  client: stanza in -> callback",
    ];
    for (name, col) in names.iter().zip(cols) {
        let st = stats(col);
        println!(
            "  {name:<44} {:>9.2} {:>9.2} {:>9.2}",
            st.p50, st.p99, st.max
        );
    }
}

/// A Python that imports `rcclient`: `$BENCH_PYTHON`, the virtualenv scripts/test.sh
/// builds (`target/rc-python-venv`), or `python3` with `rc-python/python` on its path.
fn find_python() -> Option<(String, Option<String>)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let own_path = match std::env::var("PYTHONPATH") {
        Ok(p) if !p.is_empty() => format!("{root}/rc-python/python:{p}"),
        _ => format!("{root}/rc-python/python"),
    };
    let candidates = [
        std::env::var("BENCH_PYTHON").ok().map(|p| (p, None)),
        Some((format!("{root}/target/rc-python-venv/bin/python"), None)),
        Some(("python3".to_owned(), Some(own_path))),
    ];
    candidates.into_iter().flatten().find(|(exe, path)| {
        let mut c = Command::new(exe);
        c.args(["-c", "import rcclient"]);
        if let Some(p) = path {
            c.env("PYTHONPATH", p);
        }
        c.output().map(|o| o.status.success()).unwrap_or(false)
    })
}

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run scripts/bench/pipeline.sh"]
async fn pipeline_latency_and_edit_rate() {
    let n_max = env_num("BENCH_EDITS", 200.0) as usize;
    let n_paced = env_num("BENCH_PACED", 100.0) as usize;
    let rate = env_num("BENCH_RATE", 5.0);
    let python = find_python();
    let consumer = match (std::env::var("BENCH_CONSUMER").as_deref(), &python) {
        (Ok("rust"), _) => "rust",
        (Ok("python"), None) => panic!("BENCH_CONSUMER=python, but no Python imports rcclient"),
        (_, Some(_)) => "python",
        (_, None) => "rust",
    };
    let s = Stamps::default();
    let prosody = Prosody::start();
    let server: SocketAddr = prosody.addr().parse().unwrap();
    let tap_a = tcp_tap(server, true, s.bridged.clone()).await;
    let tap_b = tcp_tap(server, false, s.served.clone()).await;

    // The consumer, through tap B.
    let room = room_jid("wikidb");
    let mut py = None;
    let mut rust_task = None;
    if consumer == "python" {
        let (exe, path) = python.clone().expect("a Python with rcclient");
        let mut cmd = Command::new(&exe);
        cmd.arg(format!(
            "{}/scripts/bench/pipeline_consumer.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg(tap_b.to_string())
        .arg(&room)
        .stdout(std::process::Stdio::piped());
        if let Some(p) = path {
            cmd.env("PYTHONPATH", p);
        }
        eprintln!("Python consumer: {exe}");
        let mut child = cmd.spawn().expect("python");
        let stdout = child.stdout.take().unwrap();
        let (joined_tx, joined_rx) = std::sync::mpsc::channel();
        let cb = s.callback.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line == "joined" {
                    let _ = joined_tx.send(());
                    continue;
                }
                let mut it = line.split_whitespace();
                if let (Some(Ok(rcid)), Some(Ok(t))) =
                    (it.next().map(str::parse), it.next().map(str::parse))
                {
                    cb.first(rcid, t);
                }
            }
        });
        joined_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the Python consumer joined");
        py = Some(child);
    } else {
        let mut stream = recentchanges::xmpp::Client::builder("carol@localhost", "carolcarol")
            .unwrap()
            .server(&tap_b.to_string())
            .unwrap()
            .tls(recentchanges::xmpp::Tls::PlaintextLoopback)
            .room(&room, "bench-rs")
            .unwrap()
            .connect()
            .unwrap();
        joined(&stream, 30).await;
        let cb = s.callback.clone();
        rust_task = Some(tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                let t = now_ns();
                if let Ok(c) = item {
                    if let Some(id) = c.rcid {
                        cb.first(id, t);
                    }
                }
            }
        }));
    }

    // The bridge, publishing through tap A; the wiki's feed through the UDP tap.
    let routes = recentchanges::xmpp::bridge::Routes {
        rooms: HashMap::from([("wikidb".to_owned(), room.parse().unwrap())]),
        default: None,
    };
    let publisher =
        recentchanges::xmpp::Publisher::builder("publisher@localhost", "publisherpublisher")
            .unwrap()
            .server(&tap_a.to_string())
            .unwrap()
            .tls(recentchanges::xmpp::Tls::PlaintextLoopback)
            .room(&room, "xmlrc")
            .unwrap()
            .start()
            .unwrap();
    let bridge = recentchanges::xmpp::bridge::Bridge::start(
        "127.0.0.1:0".parse().unwrap(),
        routes,
        publisher,
        100_000,
    )
    .await
    .unwrap();
    let udp = udp_tap(bridge.local_addr(), s.udp.clone(), s.rev_to_rc.clone()).await;
    let wiki = MediaWiki::start(None, Some(udp));
    let admin = wiki.session("Admin", ADMIN_PASSWORD).await;
    let token = admin.token("csrf").await.unwrap();
    // Warm up (pages exist, caches filled, the publisher joined).
    let warm = edits(&admin, &token, "warm-up", 20, None, &s).await.0;
    wait_all(&s, &warm, 30).await;

    println!(
        "\npipeline benchmark: MediaWiki 1.39 (php -S, 1 worker, sqlite) -> $wgRCFeeds JSON over UDP -> \
         rc-xmpp Bridge -> Prosody MUC -> consumer: {}",
        if consumer == "python" { "Python rcclient (iterating rcclient.Client)" } else { "Rust rc-xmpp ChangeStream" }
    );
    let (revs, secs) = edits(&admin, &token, "max", n_max, None, &s).await;
    wait_all(&s, &revs, 60).await;
    report(
        "back to back (the most MediaWiki makes here, one editor)",
        &revs,
        secs,
        &s,
    );
    let (revs, secs) = edits(&admin, &token, "paced", n_paced, Some(rate), &s).await;
    wait_all(&s, &revs, 60).await;
    report(&format!("paced at {rate} edits/s"), &revs, secs, &s);
    let st = bridge.stats();
    println!(
        "\nbridge: received {}, published {}, dropped {}, invalid {}",
        st.received(),
        st.published(),
        st.dropped(),
        st.invalid()
    );
    if let Some(mut c) = py {
        let _ = c.kill();
        let _ = c.wait();
    }
    if let Some(t) = rust_task {
        t.abort();
    }
}

async fn wait_all(s: &Stamps, revs: &[u64], secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let done = revs.iter().all(|r| {
            s.rev_to_rc
                .get(*r)
                .is_some_and(|rc| s.callback.get(rc as u64).is_some())
        });
        if done {
            return;
        }
        if Instant::now() > deadline {
            eprintln!(
                "not all changes reached the consumer: {} callbacks, {} packets",
                s.callback.len(),
                s.udp.len()
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn the_scanner_finds_rcids_across_chunks() {
    let stream =
        br#"<message><rc type="edit" rcid="1234" wikiid="w"/></message><message><rc rcid="77"/>"#;
    for cut in 0..stream.len() {
        let mut sc = RcidScanner::default();
        let mut got = Vec::new();
        sc.scan(&stream[..cut], |n| got.push(n));
        sc.scan(&stream[cut..], |n| got.push(n));
        assert_eq!(got, vec![1234, 77], "cut at {cut}");
    }
}
