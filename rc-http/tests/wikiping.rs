//! The WikiPing listener with real HTTP XML-RPC requests (reqwest); answers are read with
//! `dxr`, an XML-RPC implementation independent of rc-http's. The hostile peers at the end
//! are scripted raw TCP clients on 127.0.0.1 (and 127.0.0.2, also loopback on Linux): no
//! real wiki sends half a header and stops.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use rc_testkit::next_within;
use recentchanges_core::Kind;
use recentchanges_http::wikiping::{PingConfig, PingError, PingListener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The request of the WikiPing specification, verbatim.
const SPEC_SAMPLE: &str = r#"<?xml version="1.0"?>
<methodCall>
    <methodName>wiki.ping</methodName>
    <params>
        <param>
            <value>
                <struct>
                    <member>
                        <name>tag</name>
                        <value>HomePage</value>
                    </member>
                    <member>
                        <name>url</name>
                        <value>http://mindwiki.de/HomePage</value>
                    </member>
                    <member>
                        <name>wiki</name>
                        <value>mindWiki</value>
                    </member>
                    <member>
                        <name>interwikiname</name>
                        <value>mindWiki</value>
                    </member>
                    <member>
                        <name>history</name>
                        <value>http://mindwiki.de/HomePage/revisions</value>
                    </member>
                    <member>
                        <name>author</name>
                        <value>sebastian</value>
                    </member>
                    <member>
                        <name>authorpage</name>
                        <value>http://mindwiki.de/sebastian</value>
                    </member>
                    <member>
                        <name>changelog</name>
                        <value>just an example!</value>
                    </member>
                </struct>
            </value>
        </param>
    </params>
</methodCall>
"#;

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(addr: std::net::SocketAddr, body: String) -> (u16, String) {
    let resp = http()
        .post(format!("http://{addr}/wikiping/rpc.xml"))
        .header("Content-Type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The `{error, message}` struct of a normal answer.
fn answer(xml: &str) -> (bool, String) {
    let resp = dxr::MethodResponse::from_xml(xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let dxr::Value::Struct(m) = resp.value else {
        panic!("not a struct: {xml}")
    };
    let (Some(dxr::Value::Boolean(error)), Some(dxr::Value::String(message))) =
        (m.get("error"), m.get("message"))
    else {
        panic!("not {{error, message}}: {xml}")
    };
    (*error, message.clone())
}

fn fault(xml: &str) -> (i32, String) {
    let f = dxr::FaultResponse::from_xml(xml)
        .unwrap_or_else(|e| panic!("not a fault ({e}): {xml}"))
        .fault;
    (f.code(), f.string().to_owned())
}

fn ping(members: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><methodCall><methodName>wiki.ping</methodName><params><param><value><struct>",
    );
    for (k, v) in members {
        s.push_str(&format!(
            "<member><name>{k}</name><value><string>{v}</string></value></member>"
        ));
    }
    s.push_str("</struct></value></param></params></methodCall>");
    s
}

#[tokio::test]
async fn the_specs_sample_ping_is_a_typed_change_and_answered_as_the_spec_says() {
    let mut l = PingListener::bind("127.0.0.1:0").await.unwrap();
    let before = Utc::now();
    let (status, body) = post(l.local_addr(), SPEC_SAMPLE.into()).await;
    assert_eq!(status, 200);
    let (error, message) = answer(&body);
    assert!(!error && !message.is_empty(), "{body}");

    let rc = next_within(&mut l, 10).await.unwrap();
    assert_eq!(rc.kind, Kind::Edit);
    assert_eq!(rc.title.as_deref(), Some("HomePage"));
    assert_eq!(rc.url.as_deref(), Some("http://mindwiki.de/HomePage"));
    assert_eq!(rc.wiki.as_deref(), Some("mindWiki"));
    assert_eq!(rc.user.as_deref(), Some("sebastian"));
    assert_eq!(rc.comment.as_deref(), Some("just an example!"));
    assert_eq!(rc.extra["interwikiname"], "mindWiki");
    assert_eq!(rc.extra["history"], "http://mindwiki.de/HomePage/revisions");
    assert_eq!(rc.extra["authorpage"], "http://mindwiki.de/sebastian");
    assert_eq!(rc.extra.len(), 3, "{:?}", rc.extra);
    let at = rc.timestamp.unwrap();
    assert!(before <= at && at <= Utc::now(), "the time of receipt");
}

#[tokio::test]
async fn member_names_are_case_insensitive() {
    let mut l = PingListener::bind("127.0.0.1:0").await.unwrap();
    let body = ping(&[
        ("Tag", "Start Page"),
        ("URL", "http://w.example/Start"),
        ("WiKi", "w"),
        ("InterWikiName", "W"),
        ("AUTHOR", "Ann &amp; Bob"),
        ("ChangeLog", "typo"),
    ]);
    let (_, resp) = post(l.local_addr(), body).await;
    assert!(!answer(&resp).0);
    let rc = next_within(&mut l, 10).await.unwrap();
    assert_eq!(rc.title.as_deref(), Some("Start Page"));
    assert_eq!(rc.url.as_deref(), Some("http://w.example/Start"));
    assert_eq!(rc.wiki.as_deref(), Some("w"));
    assert_eq!(rc.user.as_deref(), Some("Ann & Bob"));
    assert_eq!(rc.comment.as_deref(), Some("typo"));
    assert_eq!(rc.extra["interwikiname"], "W");
}

#[tokio::test]
async fn a_missing_required_member_gets_the_specs_error_answer_and_an_err_item() {
    let mut l = PingListener::bind("127.0.0.1:0").await.unwrap();
    for (members, field, msg) in [
        (
            vec![("tag", "P"), ("url", "http://w/P")],
            "wiki",
            "wiki name required",
        ),
        (
            vec![("wiki", "w"), ("url", "http://w/P")],
            "tag",
            "tag required",
        ),
        (
            vec![("wiki", "w"), ("tag", "P"), ("url", "")],
            "url",
            "url required",
        ),
    ] {
        let (status, resp) = post(l.local_addr(), ping(&members)).await;
        assert_eq!(status, 200);
        assert_eq!(
            answer(&resp),
            (true, msg.to_owned()),
            "a normal answer, not a fault"
        );
        let err = next_within(&mut l, 10).await.unwrap_err();
        assert!(
            matches!(&err, PingError::MissingField { field: f, .. } if *f == field),
            "{err:?}"
        );
        assert!(err.to_string().contains(msg), "{err}");
    }
}

#[tokio::test]
async fn garbage_and_other_methods_are_faults_and_the_listener_goes_on() {
    let mut l = PingListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr();

    let (status, resp) = post(addr, "this is no XML-RPC <<<".into()).await;
    assert_eq!(status, 200);
    assert_eq!(fault(&resp).0, -32700);
    let err = next_within(&mut l, 10).await.unwrap_err();
    assert!(matches!(err, PingError::Malformed { .. }), "{err:?}");

    let weblogs = SPEC_SAMPLE.replace("wiki.ping", "weblogUpdates.ping");
    let (_, resp) = post(addr, weblogs).await;
    let (code, msg) = fault(&resp);
    assert_eq!(code, -32601);
    assert!(msg.contains("weblogUpdates.ping"), "{msg}");
    let err = next_within(&mut l, 10).await.unwrap_err();
    assert!(
        matches!(&err, PingError::UnknownMethod { method, .. } if method == "weblogUpdates.ping"),
        "{err:?}"
    );

    let two_strings = "<methodCall><methodName>wiki.ping</methodName><params><param><value>w</value></param><param><value>u</value></param></params></methodCall>";
    let (_, resp) = post(addr, two_strings.into()).await;
    assert_eq!(fault(&resp).0, -32602);
    assert!(matches!(
        next_within(&mut l, 10).await,
        Err(PingError::InvalidParams { .. })
    ));

    // Still serving.
    post(addr, SPEC_SAMPLE.into()).await;
    assert_eq!(
        next_within(&mut l, 10).await.unwrap().title.as_deref(),
        Some("HomePage")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pings_each_arrive_once() {
    let l = PingListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr();
    let sent: BTreeSet<String> = (0..8).map(|i| format!("Page{i}")).collect();
    let requests = sent.iter().map(|tag| {
        let body = ping(&[
            ("wiki", "w"),
            ("tag", tag),
            ("url", &format!("http://w/{tag}")),
        ]);
        async move { post(addr, body).await }
    });
    for (status, resp) in futures::future::join_all(requests).await {
        assert_eq!(status, 200);
        assert!(!answer(&resp).0);
    }
    let got: Vec<String> = l.take(8).map(|i| i.unwrap().title.unwrap()).collect().await;
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), sent);
    assert_eq!(got.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_holds_the_answer_back_until_the_consumer_reads() {
    let mut l = PingListener::bind_with("127.0.0.1:0", PingConfig::default().capacity(1))
        .await
        .unwrap();
    let addr = l.local_addr();
    post(addr, ping(&[("wiki", "w"), ("tag", "A"), ("url", "u")])).await;
    let mut second = tokio::spawn(post(
        addr,
        ping(&[("wiki", "w"), ("tag", "B"), ("url", "u")]),
    ));
    // The buffer holds A: B is not answered while nobody reads.
    let waited = tokio::time::timeout(Duration::from_millis(300), &mut second).await;
    assert!(waited.is_err(), "answered with a full buffer: {waited:?}");
    assert_eq!(
        next_within(&mut l, 10).await.unwrap().title.as_deref(),
        Some("A")
    );
    assert_eq!(
        next_within(&mut l, 10).await.unwrap().title.as_deref(),
        Some("B")
    );
    assert_eq!(second.await.unwrap().0, 200);
}

// ---- hostile peers (scripted raw TCP clients) ----

/// Half a request head, and then nothing (slowloris).
const HALF_HEAD: &[u8] = b"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty";

/// A raw HTTP/1.1 request carrying `body`, asking the server to close after answering.
fn request(body: &str) -> String {
    format!(
        "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Everything the server sends until it closes (or resets) the connection, within `secs`.
async fn answer_of(s: &mut TcpStream, secs: u64) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(secs), async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open for {secs} s"
    );
    String::from_utf8_lossy(&got).into_owned()
}

/// Posts `body` over a fresh connection from `from` (any loopback address) and returns the
/// raw answer.
async fn raw_post_from(from: Option<IpAddr>, addr: SocketAddr, body: &str) -> String {
    let mut s = connect_from(from, addr).await;
    // A refused connection may be reset while this is written: the answer says so (empty).
    let _ = s.write_all(request(body).as_bytes()).await;
    answer_of(&mut s, 10).await
}

async fn raw_post(addr: SocketAddr, body: &str) -> String {
    raw_post_from(None, addr, body).await
}

async fn connect_from(from: Option<IpAddr>, addr: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    if let Some(ip) = from {
        sock.bind(SocketAddr::new(ip, 0)).unwrap();
    }
    sock.connect(addr).await.unwrap()
}

fn valid_ping(tag: &str) -> String {
    ping(&[
        ("wiki", "w"),
        ("tag", tag),
        ("url", &format!("http://w/{tag}")),
    ])
}

/// This process's soft limit on open files (both ends of every test connection count).
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            let line = t
                .lines()
                .find(|l| l.starts_with("Max open files"))?
                .to_owned();
            line.split_whitespace().nth(3)?.parse().ok()
        })
        .unwrap_or(1024)
}

/// Waits up to `secs` for `cond`.
async fn until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_slow_and_junk_connections_do_not_keep_a_valid_ping_out() {
    // The defaults: 256 connections, 10 s timeouts, 64 KiB bodies, 64 buffered refusals.
    let mut l = PingListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr();
    let cap = PingConfig::default().max_connections;
    // The test's client ends are all held to the end; the listener holds at most its cap
    // (plus a few being closed). Keep the total under the soft limit, with room to spare.
    let limit = open_files_limit();
    let budget = limit.saturating_sub(2 * cap + 200);
    let slow_n = 3000.min(budget * 3 / 4);
    let junk_n = 900.min(budget / 4) / 3 * 3;
    assert!(
        slow_n > cap,
        "open files limit {limit} too low for this test"
    );
    eprintln!("open files limit {limit}: {slow_n} slow, {junk_n} junk connections");
    let started = Instant::now();

    // Slowloris: half a head each, then silence, all held open.
    let mut held = Vec::with_capacity(slow_n + junk_n);
    for _ in 0..slow_n {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(HALF_HEAD).await.unwrap();
        held.push(s);
    }
    // Junk: garbage bytes, bodies over the limit (declared and chunked), and requests whose
    // XML is cut short; nobody reads the stream meanwhile, so the refusals overflow.
    let big = vec![b'x'; 66 * 1024];
    for i in 0..junk_n {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let sent = match i % 3 {
            0 => {
                s.write_all(b"\x16\x03\x01\x02\x00\xff\xfe GARBAGE\r\n\r\n")
                    .await
            }
            1 if i % 2 == 0 => {
                let head =
                    "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000000\r\n\r\n";
                s.write_all(head.as_bytes()).await
            }
            1 => {
                let head = "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n";
                match s.write_all(head.as_bytes()).await {
                    Ok(()) => s.write_all(&big).await,
                    e => e,
                }
            }
            _ => {
                let cut = "<methodCall><methodName>wiki.ping</methodName><params>";
                s.write_all(request(cut).as_bytes()).await
            }
        };
        // The listener may already have answered and closed (413 mid-body): fine.
        drop(sent);
        held.push(s);
    }
    let flood = started.elapsed();

    // One valid ping, with every hostile connection still held open.
    let sent_at = Instant::now();
    let answer = raw_post(addr, &valid_ping("Survivor")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("<boolean>0</boolean>"), "{answer}");
    // Valid pings come before buffered refusals: the very next item is the ping.
    let first = tokio::time::timeout(Duration::from_secs(5), l.next())
        .await
        .expect("the valid ping within 5 s")
        .unwrap();
    let took = sent_at.elapsed();
    assert_eq!(first.unwrap().title.as_deref(), Some("Survivor"));
    assert!(took < Duration::from_secs(5), "{took:?}");

    let stats = l.stats();
    eprintln!("flood {flood:?}, ping answered and on the stream after {took:?}; {stats:?}");
    assert!(stats.accepted >= (slow_n + junk_n + 1) as u64, "{stats:?}");
    // Each slow connection beyond the cap pushed an older one out (or, on a machine so
    // loaded that the flood outlasted the 10 s head timeout, that one timed out).
    assert!(
        stats.shed + stats.timed_out >= (slow_n - cap) as u64,
        "{stats:?}"
    );
    assert!(stats.open <= cap + 1, "{stats:?}");
    assert!(stats.too_large > 0, "{stats:?}");
    assert!(stats.errors_dropped > 0, "{stats:?}");
    assert_eq!(stats.busy, 0, "no connection held a complete request");

    // The refusals that fit in their buffer follow, each saying what it was.
    let mut kinds = BTreeSet::new();
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(300), l.next()).await {
        let err = item.unwrap_err();
        kinds.insert(match err {
            PingError::Shed { .. } => "shed",
            PingError::TooLarge { .. } => "too large",
            PingError::Malformed { .. } => "malformed",
            _ => "other",
        });
    }
    assert!(kinds.contains("shed"), "{kinds:?}");
    drop(held);
    // The listener closes what it still holds (10 s head timeout at most) and goes on.
    let answer = raw_post(addr, &valid_ping("After")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let next = loop {
        if let Ok(rc) = next_within(&mut l, 5).await {
            break rc;
        }
    };
    assert_eq!(next.title.as_deref(), Some("After"));
}

#[tokio::test]
async fn a_slow_head_or_body_is_cut_off_at_its_timeout_and_reported() {
    let t = Duration::from_millis(300);
    let cfg = PingConfig::default().header_timeout(t).body_timeout(t);
    let mut l = PingListener::bind_with("127.0.0.1:0", cfg).await.unwrap();
    let addr = l.local_addr();

    // Half a head: closed unanswered once the head timeout passes.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(HALF_HEAD).await.unwrap();
    let at = Instant::now();
    assert_eq!(answer_of(&mut s, 5).await, "");
    let took = at.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let err = next_within(&mut l, 5).await.unwrap_err();
    assert!(
        matches!(err, PingError::TimedOut { part: "head", .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("did not arrive within 300ms"),
        "{err}"
    );

    // A whole head and a tenth of the body: answered 408 once the body timeout passes.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n<methodCal";
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = answer_of(&mut s, 5).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(matches!(
        next_within(&mut l, 5).await,
        Err(PingError::TimedOut { part: "body", .. })
    ));
    assert_eq!(l.stats().timed_out, 2);

    // A ping sent at once is not affected.
    let answer = raw_post(addr, &valid_ping("Quick")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        next_within(&mut l, 5).await.unwrap().title.as_deref(),
        Some("Quick")
    );
}

#[tokio::test]
async fn peers_outside_the_allow_list_are_refused_at_accept() {
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    let cfg = PingConfig::default().allow([local]);
    let mut l = PingListener::bind_with("127.0.0.1:0", cfg).await.unwrap();
    let addr = l.local_addr();

    // From 127.0.0.2: closed without an answer, and reported.
    let answer = raw_post_from(Some(other), addr, &valid_ping("Intruder")).await;
    assert_eq!(answer, "", "answered a peer not on the list");
    let err = next_within(&mut l, 5).await.unwrap_err();
    match &err {
        PingError::NotAllowed { peer } => assert_eq!(peer.ip(), other),
        e => panic!("{e:?}"),
    }
    assert!(err.to_string().contains("not on the allow-list"), "{err}");
    assert_eq!(l.stats().not_allowed, 1);

    // From 127.0.0.1: served.
    let answer = raw_post_from(Some(local), addr, &valid_ping("Friend")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        next_within(&mut l, 5).await.unwrap().title.as_deref(),
        Some("Friend")
    );

    // And the other way round: a list of 127.0.0.2 serves it.
    let cfg = PingConfig::default().allow([other]);
    let mut l2 = PingListener::bind_with("127.0.0.1:0", cfg).await.unwrap();
    let answer = raw_post_from(Some(other), l2.local_addr(), &valid_ping("Guest")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        next_within(&mut l2, 5).await.unwrap().title.as_deref(),
        Some("Guest")
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_and_a_clear_error() {
    let cfg = PingConfig::default().max_body(1024);
    let mut l = PingListener::bind_with("127.0.0.1:0", cfg).await.unwrap();
    let addr = l.local_addr();

    // Declared too large: answered at once, before any of the body is sent.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: 5000000\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = answer_of(&mut s, 5).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("request body larger than 1024 bytes"),
        "{answer}"
    );
    let err = next_within(&mut l, 5).await.unwrap_err();
    assert!(
        matches!(err, PingError::TooLarge { limit: 1024, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("larger than 1024 bytes (answered 413)"),
        "{err}"
    );

    // Chunked, with no length said: refused when the limit is passed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head =
        "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[b' '; 0x401]).await.unwrap();
    let answer = answer_of(&mut s, 5).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(matches!(
        next_within(&mut l, 5).await,
        Err(PingError::TooLarge { .. })
    ));

    // A ping of exactly the limit is taken.
    let short = valid_ping("Edge").len();
    let members = [
        ("wiki", "w"),
        ("tag", "Edge"),
        ("url", "http://w/Edge"),
        (
            "changelog",
            &"x".repeat(
                1024 - short
                    - "<member><name>changelog</name><value><string></string></value></member>"
                        .len(),
            ),
        ),
    ];
    let body = ping(&members);
    assert_eq!(body.len(), 1024);
    let answer = raw_post(addr, &body).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        next_within(&mut l, 5).await.unwrap().title.as_deref(),
        Some("Edge")
    );
    assert_eq!(l.stats().too_large, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_waiting_for_the_consumer_are_never_shed_a_new_connection_is_refused_instead() {
    let cfg = PingConfig::default().capacity(1).max_connections(2);
    let mut l = PingListener::bind_with("127.0.0.1:0", cfg).await.unwrap();
    let addr = l.local_addr();

    // A fills the buffer; B then waits for the consumer, holding one of the two places.
    assert!(raw_post(addr, &valid_ping("A"))
        .await
        .starts_with("HTTP/1.1 200"));
    let b = tokio::spawn(async move { raw_post(addr, &valid_ping("B")).await });
    assert!(until(5, || l.stats().open == 1).await, "{:?}", l.stats());
    // A slow client takes the other place...
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(HALF_HEAD).await.unwrap();
    let slow_addr = slow.local_addr().unwrap();
    assert!(until(5, || l.stats().open == 2).await, "{:?}", l.stats());
    // ...and is shed for C, which then waits too.
    let c = tokio::spawn(async move { raw_post(addr, &valid_ping("C")).await });
    assert_eq!(
        answer_of(&mut slow, 5).await,
        "",
        "the slow client is closed"
    );
    assert!(until(5, || l.stats().shed == 1 && l.stats().open == 2).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Both places hold complete requests: D is refused, not a waiting ping shed.
    let d = raw_post(addr, &valid_ping("D")).await;
    assert!(d.starts_with("HTTP/1.1 503"), "{d}");
    let stats = l.stats();
    assert_eq!((stats.shed, stats.busy), (1, 1), "{stats:?}");

    // A, B and C all arrive (B and C once the buffer has room again), and the two refusals.
    let (mut got, mut refused) = (BTreeSet::new(), Vec::new());
    while got.len() < 3 || refused.len() < 2 {
        match next_within(&mut l, 5).await {
            Ok(rc) => assert!(got.insert(rc.title.unwrap())),
            Err(e) => refused.push(e),
        }
    }
    assert_eq!(got, ["A", "B", "C"].map(String::from).into());
    assert!(b.await.unwrap().starts_with("HTTP/1.1 200"));
    assert!(c.await.unwrap().starts_with("HTTP/1.1 200"));
    assert!(
        matches!(refused[0], PingError::Shed { peer, open: 2 } if peer == slow_addr),
        "{refused:?}"
    );
    assert!(
        matches!(refused[1], PingError::Busy { open: 2, .. }),
        "{refused:?}"
    );
}
