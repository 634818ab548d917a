//! The EventStreams stand-in, through a plain HTTP/SSE client on a TcpStream (no code of
//! the project's client): framing, id arrays, where a connection starts, canaries, the
//! end after the lifetime, 429s, freeze, close_all, live and raw events, the request log,
//! and the binary with its control API.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rc_testkit::eventstreams::{iso_millis, Config, EventStreams, RateLimit};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One SSE block: a comment or an event.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Comment(String),
    Message {
        event: Option<String>,
        id: Option<String>,
        data: String,
    },
}

struct Msg {
    id: Vec<Value>,
    data: String,
}

impl Msg {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("JSON data")
    }
    /// The id entry for `topic`.
    fn pos(&self, topic: &str) -> &Value {
        self.id
            .iter()
            .find(|e| e["topic"] == topic)
            .unwrap_or_else(|| panic!("no {topic} in {:?}", self.id))
    }
}

/// A streaming answer read line by line (HTTP/1.0: the body ends with the connection).
struct Client {
    reader: BufReader<TcpStream>,
    status: u16,
    headers: HashMap<String, String>,
}

async fn send(addr: SocketAddr, version: &str, path: &str, headers: &[(&str, &str)]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("GET {path} {version}\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s
}

async fn read_head(reader: &mut BufReader<TcpStream>) -> (u16, HashMap<String, String>) {
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line, got {line:?}"));
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.insert(k.trim().to_lowercase(), v.trim().to_owned());
    }
    (status, headers)
}

impl Client {
    async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Client {
        let s = send(addr, "HTTP/1.0", path, headers).await;
        let mut reader = BufReader::new(s);
        let (status, headers) =
            tokio::time::timeout(Duration::from_secs(10), read_head(&mut reader))
                .await
                .expect("an answer in time");
        Client {
            reader,
            status,
            headers,
        }
    }

    /// The rest of the body (for error answers).
    async fn body(mut self) -> String {
        let mut s = String::new();
        self.reader.read_to_string(&mut s).await.unwrap();
        s
    }

    /// The next block; `None` at the end of the body. Panics after `within`.
    async fn block(&mut self, within: Duration) -> Option<Block> {
        tokio::time::timeout(within, self.read_block())
            .await
            .expect("a block in time")
    }

    async fn read_block(&mut self) -> Option<Block> {
        let (mut event, mut id, mut data, mut comment) = (None, None, None::<String>, None);
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await.unwrap() == 0 {
                return None;
            }
            let l = line.strip_suffix('\n').unwrap_or(&line);
            if l.is_empty() {
                if let Some(c) = comment.take() {
                    return Some(Block::Comment(c));
                }
                if let Some(data) = data.take() {
                    return Some(Block::Message { event, id, data });
                }
                continue;
            }
            if let Some(c) = l.strip_prefix(':') {
                comment = Some(c.to_owned());
                continue;
            }
            let (field, value) = l.split_once(':').unwrap_or((l, ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
            match field {
                "event" => event = Some(value),
                "id" => id = Some(value),
                "data" => {
                    data = Some(match data {
                        Some(d) => d + "\n" + &value,
                        None => value,
                    })
                }
                _ => panic!("unexpected field {field:?}"),
            }
        }
    }

    /// The next `message` event, skipping comments; `None` at the end.
    async fn message(&mut self, within: Duration) -> Option<Msg> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.block(left).await? {
                Block::Comment(_) => continue,
                Block::Message { event, id, data } => {
                    assert_eq!(event.as_deref(), Some("message"));
                    let id: Value = serde_json::from_str(&id.expect("an id")).expect("JSON id");
                    return Some(Msg {
                        id: id.as_array().expect("an id array").clone(),
                        data,
                    });
                }
            }
        }
    }

    async fn messages(&mut self, n: usize) -> Vec<Msg> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(
                self.message(Duration::from_secs(10))
                    .await
                    .expect("a message"),
            );
        }
        out
    }

    /// Nothing at all (not even a heartbeat) arrives for `d`.
    async fn assert_silent(&mut self, d: Duration) {
        let mut buf = [0u8; 1];
        if let Ok(r) = tokio::time::timeout(d, self.reader.read(&mut buf)).await {
            panic!("expected silence, read {r:?} {:?}", buf[0] as char);
        }
    }
}

fn test_config() -> Config {
    Config {
        initial_events: 30,
        heartbeat: Duration::from_millis(300),
        ..Config::default()
    }
}

async fn start(config: Config) -> EventStreams {
    EventStreams::start(config)
        .await
        .expect("the stand-in starts")
}

const RC: &str = "/v2/stream/recentchange";
const EQIAD: &str = "eqiad.mediawiki.recentchange";
const CODFW: &str = "codfw.mediawiki.recentchange";

#[tokio::test]
async fn every_event_is_a_message_with_a_kafkasse_id_array_and_a_recentchange_with_meta() {
    let es = start(test_config()).await;
    let mut c = Client::get(es.addr(), &format!("{RC}?since=0"), &[]).await;
    assert_eq!(c.status, 200);
    assert_eq!(
        c.headers["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert_eq!(
        c.block(Duration::from_secs(5)).await,
        Some(Block::Comment("ok".into()))
    );
    let msgs = c.messages(30).await;
    let stored = es.events("recentchange");
    assert_eq!(stored.len(), 30);
    let (mut last_rcid, mut last_ts) = (0, 0);
    let mut next: HashMap<String, u64> = HashMap::new();
    for (i, m) in msgs.iter().enumerate() {
        let v = m.json();
        assert_eq!(v["$schema"], "/mediawiki/recentchange/1.0.0");
        let meta = &v["meta"];
        let topic = meta["topic"].as_str().unwrap();
        let offset = meta["offset"].as_u64().unwrap();
        assert_eq!(
            (topic, offset),
            (stored[i].topic.as_str(), stored[i].offset)
        );
        assert_eq!(meta["partition"], 0);
        assert_eq!(meta["stream"], "mediawiki.recentchange");
        assert_eq!(meta["domain"], "127.0.0.1");
        assert_eq!(meta["dt"], iso_millis(stored[i].dt_ms));
        let dt = meta["dt"].as_str().unwrap();
        assert!(dt.ends_with('Z') && dt.len() == 24, "{dt}");
        assert!(meta["uri"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:8089/wiki/"));
        for k in ["id", "request_id"] {
            let u = meta[k].as_str().unwrap();
            assert_eq!(u.len(), 36, "{u}");
            assert_eq!(u.matches('-').count(), 4, "{u}");
        }
        // Every 7th event on codfw.
        let expect = if i % 7 == 6 { CODFW } else { EQIAD };
        assert_eq!(topic, expect, "event {i}");
        // rcid unique and increasing, timestamp non-decreasing.
        let rcid = v["id"].as_u64().unwrap();
        assert!(rcid > last_rcid);
        let ts = v["timestamp"].as_i64().unwrap();
        assert!(ts >= last_ts);
        (last_rcid, last_ts) = (rcid, ts);
        // The id: one entry per topic-partition; this topic at offset + 1, the other
        // where it stands (its assigned timestamp until something was consumed there).
        assert_eq!(m.id.len(), 2);
        assert_eq!(m.id[0]["topic"], EQIAD);
        assert_eq!(m.id[1]["topic"], CODFW);
        next.insert(topic.to_owned(), offset + 1);
        for t in [EQIAD, CODFW] {
            let e = m.pos(t);
            assert_eq!(e["partition"], 0);
            match next.get(t) {
                Some(n) => assert_eq!(
                    e,
                    &serde_json::json!({"topic": t, "partition": 0, "offset": n})
                ),
                None => assert_eq!(
                    e,
                    &serde_json::json!({"topic": t, "partition": 0, "timestamp": 0})
                ),
            }
        }
    }
    assert_eq!(es.events_sent(), 30);
    assert_eq!(es.open_connections(), 1);
}

#[tokio::test]
async fn the_raw_id_line_reads_topic_partition_offset_in_that_order() {
    let es = start(test_config()).await;
    let mut c = Client::get(
        es.addr(),
        RC,
        &[(
            "Last-Event-ID",
            &format!(r#"[{{"topic":"{EQIAD}","partition":0,"offset":2}}]"#),
        )],
    )
    .await;
    loop {
        match c.block(Duration::from_secs(5)).await.unwrap() {
            Block::Comment(_) => continue,
            Block::Message { id, .. } => {
                assert_eq!(
                    id.unwrap(),
                    format!(r#"[{{"topic":"{EQIAD}","partition":0,"offset":3}}]"#)
                );
                break;
            }
        }
    }
}

#[tokio::test]
async fn since_starts_at_the_first_event_at_or_after_that_time_in_each_topic() {
    let es = start(test_config()).await;
    let stored = es.events("recentchange");
    let since = stored[12].dt_ms;
    let expected: Vec<_> = stored
        .iter()
        .filter(|e| e.dt_ms >= since)
        .map(|e| (e.topic.clone(), e.offset))
        .collect();
    assert_eq!(expected.len(), 18);
    for q in [iso_millis(since), since.to_string()] {
        let mut c = Client::get(es.addr(), &format!("{RC}?since={q}"), &[]).await;
        let got: Vec<_> = c
            .messages(expected.len())
            .await
            .iter()
            .map(|m| {
                let v = m.json();
                (
                    v["meta"]["topic"].as_str().unwrap().to_owned(),
                    v["meta"]["offset"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, expected, "since={q}");
        c.assert_silent(Duration::from_millis(100)).await;
    }
    let c = Client::get(es.addr(), &format!("{RC}?since=last-tuesday"), &[]).await;
    assert_eq!(c.status, 400);
}

#[tokio::test]
async fn without_since_or_last_event_id_only_new_events_come_and_publish_sends_them_at_once() {
    let es = start(test_config()).await;
    let mut c = Client::get(es.addr(), RC, &[]).await;
    assert_eq!(
        c.block(Duration::from_secs(5)).await,
        Some(Block::Comment("ok".into()))
    );
    // Only heartbeats (empty comments) while nothing is published.
    assert_eq!(
        c.block(Duration::from_secs(2)).await,
        Some(Block::Comment(String::new()))
    );
    let t0 = Instant::now();
    let published = es.publish(8);
    let msgs = c.messages(8).await;
    assert!(
        t0.elapsed() < Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    for (p, m) in published.iter().zip(&msgs) {
        assert_eq!(&*p.data, m.data);
    }
    // The first new event's id: the other topic at its latest offset (30 events: 26
    // on eqiad, 4 on codfw).
    assert_eq!(msgs[0].pos(EQIAD)["offset"], 27);
    assert_eq!(msgs[0].pos(CODFW)["offset"], 4);
    // 31st..38th events: the 35th (index 34) goes to codfw.
    assert_eq!(msgs[4].json()["meta"]["topic"], CODFW);
    assert_eq!(msgs[7].pos(CODFW)["offset"], 5);
    assert_eq!(msgs[7].pos(EQIAD)["offset"], 26 + 7);
}

#[tokio::test]
async fn last_event_id_resumes_right_after_the_last_event_received() {
    let es = start(test_config()).await;
    let mut c = Client::get(es.addr(), &format!("{RC}?since=0"), &[]).await;
    let first = c.messages(10).await;
    drop(c);
    let id = serde_json::to_string(&first[9].id).unwrap();
    // Last-Event-ID wins over since.
    let mut c = Client::get(
        es.addr(),
        &format!("{RC}?since=0"),
        &[("Last-Event-ID", &id)],
    )
    .await;
    let rest = c.messages(20).await;
    let all: Vec<_> = first
        .iter()
        .chain(&rest)
        .map(|m| m.json()["id"].as_u64().unwrap())
        .collect();
    assert_eq!(all, (1..=30).collect::<Vec<_>>());
    c.assert_silent(Duration::from_millis(100)).await;

    // A timestamp entry starts from that time; a topic left out is not consumed.
    let stored = es.events("recentchange");
    let ts = stored[20].dt_ms;
    let lei = format!(r#"[{{"topic":"{EQIAD}","partition":0,"timestamp":{ts}}}]"#);
    let mut c = Client::get(es.addr(), RC, &[("Last-Event-ID", &lei)]).await;
    let want: Vec<_> = stored
        .iter()
        .filter(|e| e.topic == EQIAD && e.dt_ms >= ts)
        .map(|e| e.offset)
        .collect();
    let got = c.messages(want.len()).await;
    assert_eq!(
        got.iter()
            .map(|m| m.json()["meta"]["offset"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        want
    );
    assert_eq!(got[0].id.len(), 1);
}

#[tokio::test]
async fn a_malformed_last_event_id_is_a_400_and_an_unknown_stream_a_404_with_json() {
    let es = start(test_config()).await;
    for bad in [
        "not json",
        "{}",
        "[]",
        r#"[{"topic":1}]"#,
        r#"[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":"x"}]"#,
    ] {
        let c = Client::get(es.addr(), RC, &[("Last-Event-ID", bad)]).await;
        assert_eq!(c.status, 400, "{bad}");
        let v: Value = serde_json::from_str(&c.body().await).unwrap();
        assert_eq!(v["status"], 400);
    }
    let c = Client::get(es.addr(), "/v2/stream/recentchange,nope", &[]).await;
    assert_eq!(c.status, 404);
    let v: Value = serde_json::from_str(&c.body().await).unwrap();
    assert!(v["detail"].as_str().unwrap().contains("nope"));
    // A topic of another stream in Last-Event-ID: not available (KafkaSSE: 404).
    let lei = r#"[{"topic":"eqiad.mediawiki.page-delete","partition":0,"offset":0}]"#;
    let c = Client::get(es.addr(), RC, &[("Last-Event-ID", lei)]).await;
    assert_eq!(c.status, 404);
    let statuses: Vec<_> = es.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [Some(400); 5]
            .into_iter()
            .chain([Some(404), Some(404)])
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn several_streams_share_one_connection_and_one_id_array() {
    let es = start(test_config()).await;
    let mut c = Client::get(
        es.addr(),
        "/v2/stream/revision-create,page-delete?since=0",
        &[],
    )
    .await;
    let msgs = c.messages(60).await;
    assert_eq!(msgs[0].id.len(), 4);
    let mut schemas: HashMap<String, usize> = HashMap::new();
    for m in &msgs {
        let v = m.json();
        *schemas
            .entry(v["$schema"].as_str().unwrap().to_owned())
            .or_default() += 1;
        assert!(
            v["meta"]["stream"] == "mediawiki.revision-create"
                || v["meta"]["stream"] == "mediawiki.page-delete"
        );
        assert!(v.get("page_title").is_some());
    }
    assert_eq!(schemas["/mediawiki/revision/create/1.1.0"], 30);
    assert_eq!(schemas["/mediawiki/page/delete/1.0.0"], 30);
}

#[tokio::test]
async fn every_kth_recentchange_is_a_canary_that_takes_an_offset() {
    let es = start(Config {
        canary_every: 5,
        ..test_config()
    })
    .await;
    let mut c = Client::get(es.addr(), &format!("{RC}?since=0"), &[]).await;
    let msgs = c.messages(30).await;
    let canaries: Vec<usize> = msgs
        .iter()
        .enumerate()
        .filter(|(_, m)| m.json()["meta"]["domain"] == "canary")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(canaries, [4, 9, 14, 19, 24, 29]);
    // Offsets stay contiguous per topic, canaries included.
    let eqiad: Vec<u64> = msgs
        .iter()
        .map(|m| m.json())
        .filter(|v| v["meta"]["topic"] == EQIAD)
        .map(|v| v["meta"]["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(eqiad, (0..26).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_connection_ends_cleanly_after_its_lifetime_with_heartbeats_before() {
    let es = start(Config {
        lifetime: Duration::from_millis(1500),
        ..test_config()
    })
    .await;
    let t0 = Instant::now();
    // HTTP/1.1: the end is the chunked body's last chunk, not a cut connection.
    let s = send(es.addr(), "HTTP/1.1", RC, &[]).await;
    let mut reader = BufReader::new(s);
    let (status, headers) = read_head(&mut reader).await;
    assert_eq!(status, 200);
    assert_eq!(headers["transfer-encoding"], "chunked");
    let mut body = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !body.ends_with(b"0\r\n\r\n") {
            let mut buf = [0u8; 256];
            let n = reader.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection cut before the last chunk");
            body.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the end in time");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains(":ok\n\n"), "{text}");
    assert!(text.matches(":\n\n").count() >= 3, "{text}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(es.open_connections(), 0);
}

#[tokio::test]
async fn too_many_attempts_within_the_window_get_429_with_retry_after() {
    let es = start(Config {
        rate_limit: Some(RateLimit {
            max: 2,
            window: Duration::from_secs(3),
        }),
        ..test_config()
    })
    .await;
    let a = Client::get(es.addr(), RC, &[]).await;
    let b = Client::get(es.addr(), RC, &[]).await;
    let c = Client::get(es.addr(), RC, &[]).await;
    assert_eq!((a.status, b.status, c.status), (200, 200, 429));
    let secs: u64 = c.headers["retry-after"].parse().unwrap();
    assert!((1..=3).contains(&secs), "{secs}");
    let v: Value = serde_json::from_str(&c.body().await).unwrap();
    assert_eq!(v["status"], 429);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let d = Client::get(es.addr(), RC, &[]).await;
    assert_eq!(d.status, 200);
}

#[tokio::test]
async fn freeze_silences_open_connections_and_holds_new_ones_until_unfrozen() {
    let es = start(test_config()).await;
    let mut c = Client::get(es.addr(), RC, &[]).await;
    assert_eq!(
        c.block(Duration::from_secs(5)).await,
        Some(Block::Comment("ok".into()))
    );
    es.freeze(true);
    es.publish(2);
    // No events and no heartbeats (300 ms) for a while; TCP stays open.
    c.assert_silent(Duration::from_millis(1200)).await;
    // A new request gets no answer at all.
    let mut s = send(
        es.addr(),
        "HTTP/1.0",
        RC,
        &[("User-Agent", "frozen-test/1")],
    )
    .await;
    let mut buf = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf))
            .await
            .is_err()
    );
    let log = es.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].status, None);
    assert_eq!(log[1].user_agent.as_deref(), Some("frozen-test/1"));
    es.freeze(false);
    let msgs = c.messages(2).await;
    assert_eq!(msgs[1].json()["id"], 32);
    let mut reader = BufReader::new(s);
    let (status, _) = tokio::time::timeout(Duration::from_secs(5), read_head(&mut reader))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(es.requests()[1].status, Some(200));
}

#[tokio::test]
async fn close_all_ends_every_open_connection_now() {
    let es = start(test_config()).await;
    let mut a = Client::get(es.addr(), RC, &[]).await;
    let mut b = Client::get(es.addr(), "/v2/stream/page-delete", &[]).await;
    a.block(Duration::from_secs(5)).await;
    b.block(Duration::from_secs(5)).await;
    assert_eq!(es.open_connections(), 2);
    es.freeze(true);
    es.close_all();
    assert!(a.message(Duration::from_secs(2)).await.is_none());
    assert!(b.message(Duration::from_secs(2)).await.is_none());
    es.freeze(false);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(es.open_connections(), 0);
}

#[tokio::test]
async fn raw_events_arrive_as_given_and_take_an_offset() {
    let es = start(test_config()).await;
    let mut c = Client::get(es.addr(), RC, &[]).await;
    c.block(Duration::from_secs(5)).await;
    let wrong_type = r#"{"id":99,"type":"edit","namespace":"zero","title":"X"}"#;
    let big = format!(r#"{{"comment":"{}"}}"#, "x".repeat(3 << 20));
    let a = es.publish_raw(EQIAD, "{not json").unwrap();
    let b = es.publish_raw(CODFW, wrong_type).unwrap();
    let d = es.publish_raw(EQIAD, "line one\r\n\r\nline two").unwrap();
    let e = es.publish_raw(EQIAD, big.clone()).unwrap();
    assert!(es.publish_raw("eqiad.mediawiki.nothing", "x").is_err());
    assert_eq!((a.offset, b.offset, d.offset, e.offset), (26, 4, 27, 28));
    let msgs = c.messages(4).await;
    assert_eq!(msgs[0].data, "{not json");
    assert_eq!(msgs[0].pos(EQIAD)["offset"], 27);
    assert_eq!(msgs[1].data, wrong_type);
    assert_eq!(msgs[1].pos(CODFW)["offset"], 5);
    assert_eq!(msgs[2].data, "line one\nline two");
    assert_eq!(msgs[3].data.len(), big.len());
    assert_eq!(msgs[3].data, big);
    assert_eq!(es.events("recentchange").len(), 34);
}

#[tokio::test]
async fn the_request_log_has_time_path_query_last_event_id_user_agent_and_status() {
    let es = start(test_config()).await;
    let before = Instant::now();
    let lei = format!(r#"[{{"topic":"{CODFW}","partition":0,"offset":1}}]"#);
    let c = Client::get(
        es.addr(),
        &format!("{RC}?since=0"),
        &[("User-Agent", "log-test/2"), ("Last-Event-ID", &lei)],
    )
    .await;
    assert_eq!(c.status, 200);
    let d = Client::get(es.addr(), "/elsewhere", &[]).await;
    assert_eq!(d.status, 404);
    let log = es.requests();
    assert_eq!(log.len(), 2);
    let r = &log[0];
    assert!(r.instant >= before && log[1].instant >= r.instant);
    assert!(r.at.elapsed().unwrap() < Duration::from_secs(5));
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.query.as_deref()),
        ("GET", RC, Some("since=0"))
    );
    assert_eq!(r.last_event_id.as_deref(), Some(lei.as_str()));
    assert_eq!(r.user_agent.as_deref(), Some("log-test/2"));
    assert_eq!(r.status, Some(200));
    assert_eq!(log[1].status, Some(404));
}

async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(s);
    let (status, _) = read_head(&mut reader).await;
    let mut text = String::new();
    reader.read_to_string(&mut text).await.unwrap();
    (status, text)
}

#[tokio::test]
async fn the_binary_prints_its_url_and_is_controlled_over_http() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventstreams-standin"))
        .args([
            "--initial-events",
            "5",
            "--heartbeat-ms",
            "200",
            "--canary-every",
            "2",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(20), out.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on http://")
        .expect(&line);
    let addr: SocketAddr = url.parse().unwrap();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");

    let mut c = Client::get(addr, RC, &[("User-Agent", "bin-test")]).await;
    c.block(Duration::from_secs(5)).await;
    let (status, body) = http(addr, "POST", "/_control/publish?n=2", "").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(
        addr,
        "POST",
        "/_control/publish_raw?topic=codfw.mediawiki.recentchange",
        "{oops",
    )
    .await;
    assert_eq!(status, 200);
    let msgs = c.messages(3).await;
    // Initial events 0..5: canaries at 1, 3; the published 5 is one, 6 is not.
    assert_eq!(msgs[0].json()["meta"]["domain"], "canary");
    assert_eq!(msgs[1].json()["meta"]["domain"], "127.0.0.1");
    assert_eq!(msgs[2].data, "{oops");
    let (_, events) = http(addr, "GET", "/_control/events?stream=recentchange", "").await;
    let events: Vec<Value> = serde_json::from_str(&events).unwrap();
    assert_eq!(events.len(), 8);
    assert_eq!(events[7]["data"], "{oops");
    let (_, log) = http(addr, "GET", "/_control/requests", "").await;
    let log: Vec<Value> = serde_json::from_str(&log).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["user_agent"], "bin-test");
    assert_eq!(log[0]["status"], 200);
    let (status, _) = http(addr, "POST", "/_control/freeze?on=1", "").await;
    assert_eq!(status, 200);
    http(addr, "POST", "/_control/publish?n=1", "").await;
    c.assert_silent(Duration::from_millis(600)).await;
    http(addr, "POST", "/_control/freeze?on=0", "").await;
    assert!(c.message(Duration::from_secs(5)).await.is_some());
    http(addr, "POST", "/_control/close_all", "").await;
    assert!(c.message(Duration::from_secs(5)).await.is_none());
    child.kill().await.unwrap();
}
