//! A stand-in for [Wikimedia EventStreams](https://wikitech.wikimedia.org/wiki/Event_Platform/EventStreams)
//! (`https://stream.wikimedia.org/v2/stream/...`), for the tests of the EventStreams client.
//!
//! **This is a stand-in, not the real service.** EventStreams is a Node.js service built on
//! [KafkaSSE](https://github.com/wikimedia/KafkaSSE) that consumes Kafka topics, so it
//! cannot run here (no Kafka, no network). This module behaves as EventStreams' public
//! documentation and KafkaSSE's code describe, over an SSE implementation independent of
//! the project's code (axum's [`Sse`], [`Event`] and [`KeepAlive`]), with a Kafka-like log
//! kept in memory:
//!
//! - `GET /v2/stream/{streams}`: `streams` is a comma-separated list among
//!   [`STREAMS`] (`recentchange`, `revision-create`, `page-delete`); an unknown name is a
//!   404 with a JSON error body. Each stream is backed by two topics,
//!   `eqiad.mediawiki.<stream>` and `codfw.mediawiki.<stream>`, partition 0 each, offsets
//!   from 0; every [`Config::codfw_every`]th event of a stream goes to codfw, the others to
//!   eqiad.
//! - The answer is `text/event-stream; charset=utf-8`, starting with KafkaSSE's `:ok`
//!   comment (written as is; the rest is axum's framing); each event is `event: message`, `id: <JSON array>`, `data: <JSON>`
//!   (line breaks in data collapsed and split over `data:` lines, as KafkaSSE does).
//! - The `id` is KafkaSSE's assignment array, one object per topic-partition the
//!   connection consumes: `{"topic":T,"partition":0,"offset":N}` with N the next offset to
//!   consume there (this event's offset + 1 for its own topic, the current position for
//!   the others), or `{"topic":T,"partition":0,"timestamp":MS}` for a topic-partition
//!   assigned by time from which nothing has been consumed yet.
//! - Where to start: a `Last-Event-ID` header (such an array) comes first: entries with
//!   `offset` resume there (`-1` = latest, `-2` = earliest, Kafka's special offsets),
//!   entries with `timestamp` from the first event with `meta.dt` >= it. As in KafkaSSE
//!   the header's entries *are* the assignment: topics it does not name are not consumed,
//!   and a topic that is not one of the requested streams' is a 404. A header that is not
//!   such an array is a 400 with a JSON error. Otherwise the `since` query parameter
//!   (ISO 8601 or milliseconds since the epoch; malformed: 400) assigns every topic by
//!   time; otherwise every topic starts at its latest offset (only new events).
//! - Canary events ([`Config::canary_every`]): `meta.domain == "canary"`, taking an offset
//!   like any other event.
//! - Heartbeats: an empty SSE comment (`:`) after [`Config::heartbeat`] of silence
//!   (axum's [`KeepAlive`]).
//! - Every connection ends cleanly (end of body) after [`Config::lifetime`] (EventStreams
//!   closes after about 15 minutes).
//! - Rate limit ([`Config::rate_limit`]): an attempt after `max` accepted ones within
//!   `window` is answered 429 with `Retry-After: S` (whole seconds until a slot frees up).
//!
//! The recentchange payloads are the recorded MediaWiki 1.39 JSON feed
//! (`rc-core/tests/fixtures/mediawiki-1.39/*.feed.json`), cycled, each rewritten with a
//! unique increasing `id`, a non-decreasing `timestamp`, `"$schema":
//! "/mediawiki/recentchange/1.0.0"` and a `meta` object (`uri`, `request_id`, `id`, `dt`,
//! `domain`, `stream`, `topic`, `partition`, `offset`). revision-create and page-delete
//! carry simple plausible events built from the same feed.
//!
//! Faults, at run time: [`EventStreams::freeze`], [`EventStreams::close_all`],
//! [`EventStreams::publish_raw`]; live events: [`EventStreams::publish`]. Every request
//! is logged ([`EventStreams::requests`]). The same controls are served over HTTP under
//! `/_control/` for the binary `eventstreams-standin` (the Python tests): see
//! [`router`] and the binary's `--help`.
//!
//! Differences from the real service worth knowing: one partition per topic; data given
//! to [`publish_raw`](EventStreams::publish_raw) is sent as is even when it is not JSON
//! (KafkaSSE's default deserializer would skip such a message; the stand-in sends it so
//! that the client's handling of bad data can be tested); no CORS headers, no
//! `x-request-id` echo.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use futures::stream::{self, Stream, StreamExt};
use serde_json::{json, Map, Value};
use tokio::sync::{oneshot, watch};

/// The streams the stand-in serves.
pub const STREAMS: [&str; 3] = ["recentchange", "revision-create", "page-delete"];

/// The datacenter prefixes of each stream's two topics.
pub const DATACENTERS: [&str; 2] = ["eqiad", "codfw"];

/// The environment variable naming the directory of `*.feed.json` files (when
/// [`Config::fixtures_dir`] is not set).
pub const FIXTURES_ENV: &str = "RC_EVENTSTREAMS_FIXTURES";

/// A rate limit on connection attempts to `/v2/stream/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Attempts accepted within `window`; the next one gets a 429.
    pub max: usize,
    /// The sliding window.
    pub window: Duration,
}

/// What the stand-in does; [`Default`] suits tests.
#[derive(Clone, Debug)]
pub struct Config {
    /// Events each stream holds at start (history for `since` and `Last-Event-ID`). 100.
    pub initial_events: usize,
    /// Spacing of the initial events' `meta.dt`; the last one is at [`Config::start_time`]. 1 s.
    pub event_interval: Duration,
    /// `meta.dt` of the last initial event; `None`: when the server starts.
    pub start_time: Option<SystemTime>,
    /// The `id` (rcid) of the first recentchange event; the following ones count up. 1.
    pub first_rcid: u64,
    /// Every Nth event of a stream goes to the codfw topic, the others to eqiad (0: all to
    /// eqiad). 7.
    pub codfw_every: u64,
    /// Every Kth recentchange event is a canary (`meta.domain == "canary"`); 0: none. 0.
    pub canary_every: u64,
    /// Silence after which a heartbeat comment is sent. 1 s.
    pub heartbeat: Duration,
    /// Every connection ends after this (EventStreams: ~15 minutes). 15 minutes.
    pub lifetime: Duration,
    /// `None` (default): no limit.
    pub rate_limit: Option<RateLimit>,
    /// The directory of `*.feed.json` files; `None`: `$RC_EVENTSTREAMS_FIXTURES`, else
    /// `rc-core/tests/fixtures/mediawiki-1.39` of this workspace.
    pub fixtures_dir: Option<PathBuf>,
    /// Whether [`EventStreams::freeze`] also makes new requests hang (true, default) or
    /// only silences the connections already open (false).
    pub freeze_new_connections: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            initial_events: 100,
            event_interval: Duration::from_secs(1),
            start_time: None,
            first_rcid: 1,
            codfw_every: 7,
            canary_every: 0,
            heartbeat: Duration::from_secs(1),
            lifetime: Duration::from_secs(15 * 60),
            rate_limit: None,
            fixtures_dir: None,
            freeze_new_connections: true,
        }
    }
}

/// One event held by the stand-in (and served to whoever consumes its topic).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// The stream, e.g. `recentchange`.
    pub stream: String,
    /// The topic, e.g. `eqiad.mediawiki.recentchange`.
    pub topic: String,
    /// Always 0.
    pub partition: u32,
    /// Its offset in the topic.
    pub offset: u64,
    /// `meta.dt` in milliseconds since the epoch (for raw events: when published).
    pub dt_ms: i64,
    /// Whether it is a canary event.
    pub canary: bool,
    /// Its place in the order of publication over all topics (from 0).
    pub serial: u64,
    /// The SSE data: the event's JSON, or the text given to `publish_raw`.
    pub data: Arc<str>,
}

impl StoredEvent {
    /// The data parsed as JSON (`None` for raw text that is not JSON).
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }

    fn to_json(&self) -> Value {
        json!({
            "stream": self.stream, "topic": self.topic, "partition": self.partition,
            "offset": self.offset, "dt_ms": self.dt_ms, "canary": self.canary,
            "serial": self.serial,
            "data": &*self.data,
        })
    }
}

/// One request the stand-in received (`/_control/` requests are not logged).
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// When it arrived.
    pub at: SystemTime,
    /// When it arrived (monotonic).
    pub instant: Instant,
    /// `GET`, ...
    pub method: String,
    /// The path, e.g. `/v2/stream/recentchange`.
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// The `Last-Event-ID` header.
    pub last_event_id: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The status answered; `None` while the request hangs (frozen).
    pub status: Option<u16>,
    /// The `Retry-After` answered (seconds), with a 429.
    pub retry_after: Option<u64>,
}

/// A running stand-in on 127.0.0.1; stopped when dropped.
pub struct EventStreams {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

struct Shared {
    config: Config,
    started: Instant,
    store: Mutex<Store>,
    /// Bumped after every append.
    version: watch::Sender<u64>,
    frozen: watch::Sender<bool>,
    /// Bumped by `close_all` (and when stopping).
    closes: watch::Sender<u64>,
    stopped: std::sync::atomic::AtomicBool,
    requests: Mutex<Vec<RequestRecord>>,
    attempts: Mutex<VecDeque<Instant>>,
    open: AtomicUsize,
    sent: AtomicU64,
}

struct Store {
    topics: HashMap<String, Vec<StoredEvent>>,
    /// Per stream: events generated so far (the sequence number of the next one).
    seq: HashMap<&'static str, u64>,
    /// Per stream: the latest `meta.dt`.
    last_dt: HashMap<&'static str, i64>,
    fixtures: Vec<Map<String, Value>>,
    /// Events appended so far, over all topics.
    serial: u64,
}

impl EventStreams {
    /// Loads the fixtures, makes the initial events and serves on a free port of 127.0.0.1
    /// (on the current tokio runtime).
    pub async fn start(config: Config) -> std::io::Result<EventStreams> {
        Self::start_on(config, 0).await
    }

    /// As [`start`](Self::start), on `port` of 127.0.0.1 (0: a free one).
    pub async fn start_on(config: Config, port: u16) -> std::io::Result<EventStreams> {
        let fixtures = load_fixtures(&fixtures_dir(&config))?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, fixtures));
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(EventStreams {
            shared,
            addr,
            shutdown: Some(tx),
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v2/stream/<streams>` (`streams` comma-separated).
    pub fn stream_url(&self, streams: &str) -> String {
        format!("{}/v2/stream/{streams}", self.base_url())
    }

    /// Appends `n` recentchange events (spread over both topics), sent at once to the
    /// connections waiting for them. Returns them.
    pub fn publish(&self, n: usize) -> Vec<StoredEvent> {
        self.publish_to("recentchange", n)
            .expect("recentchange is a stream")
    }

    /// Appends `n` events to `stream`. `Err` for an unknown stream.
    pub fn publish_to(&self, stream: &str, n: usize) -> Result<Vec<StoredEvent>, String> {
        self.shared.publish(stream, n)
    }

    /// Appends an event whose SSE data is `data` as is (malformed JSON, a wrong type, a
    /// multi-megabyte event...) to `topic` (e.g. `eqiad.mediawiki.recentchange`), taking an
    /// offset like any other. `Err` for an unknown topic.
    pub fn publish_raw(&self, topic: &str, data: impl Into<String>) -> Result<StoredEvent, String> {
        self.shared.publish_raw(topic, data.into())
    }

    /// `true`: every open connection stops sending anything (no events, no heartbeats, not
    /// even its end after [`Config::lifetime`]) while its TCP connection stays open, and,
    /// with [`Config::freeze_new_connections`], new requests hang without an answer.
    /// `false`: everything goes on (what was held back is sent).
    pub fn freeze(&self, on: bool) {
        self.shared.frozen.send_replace(on);
    }

    /// Ends every open connection now (cleanly, end of body), frozen ones too.
    pub fn close_all(&self) {
        self.shared.closes.send_modify(|n| *n += 1);
    }

    /// Every request so far (not `/_control/`), in order of arrival.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Every event `stream` holds so far (both topics, in order of publication), each with
    /// its topic and offset.
    pub fn events(&self, stream: &str) -> Vec<StoredEvent> {
        self.shared.events(stream)
    }

    /// Connections streaming now.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// `message` events sent so far, over all connections.
    pub fn events_sent(&self) -> u64 {
        self.shared.sent.load(Ordering::SeqCst)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }
}

impl Drop for EventStreams {
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn fixtures_dir(config: &Config) -> PathBuf {
    if let Some(d) = &config.fixtures_dir {
        return d.clone();
    }
    if let Some(d) = std::env::var_os(FIXTURES_ENV) {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rc-core/tests/fixtures/mediawiki-1.39")
}

/// The `*.feed.json` objects of `dir`, by file name.
fn load_fixtures(dir: &std::path::Path) -> std::io::Result<Vec<Map<String, Value>>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".feed.json"))
        })
        .collect();
    names.sort();
    let mut out = Vec::new();
    for p in names {
        let text = std::fs::read_to_string(&p)?;
        match serde_json::from_str(&text) {
            Ok(Value::Object(m)) => out.push(m),
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: not a JSON object", p.display()),
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no *.feed.json in {}", dir.display()),
        ));
    }
    Ok(out)
}

fn stream_name(s: &str) -> Option<&'static str> {
    STREAMS.iter().copied().find(|n| *n == s)
}

fn topics_of(stream: &str) -> [String; 2] {
    DATACENTERS.map(|dc| format!("{dc}.mediawiki.{stream}"))
}

fn ms_of(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// ISO 8601 UTC with milliseconds and `Z`.
pub fn iso_millis(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A UUID-shaped (version 4 layout) string, a function of its inputs.
fn uuid_of(a: u64, b: u64) -> String {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let hi = mix(a ^ mix(b));
    let lo = mix(b ^ mix(a.rotate_left(17)));
    let hi = (hi & !0xf000) | 0x4000;
    let lo = (lo & !(0xc << 60)) | (0x8 << 60);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

impl Shared {
    fn new(config: Config, fixtures: Vec<Map<String, Value>>) -> Shared {
        let mut store = Store {
            topics: HashMap::new(),
            seq: HashMap::new(),
            last_dt: HashMap::new(),
            fixtures,
            serial: 0,
        };
        for s in STREAMS {
            for t in topics_of(s) {
                store.topics.insert(t, Vec::new());
            }
            store.seq.insert(s, 0);
            store.last_dt.insert(s, i64::MIN);
        }
        let end = ms_of(config.start_time.unwrap_or_else(SystemTime::now));
        let step = config.event_interval.as_millis() as i64;
        let n = config.initial_events as i64;
        for s in STREAMS {
            for i in 0..n {
                store.append(&config, s, end - (n - 1 - i) * step);
            }
        }
        Shared {
            config,
            started: Instant::now(),
            store: Mutex::new(store),
            version: watch::Sender::new(0),
            frozen: watch::Sender::new(false),
            closes: watch::Sender::new(0),
            stopped: Default::default(),
            requests: Mutex::new(Vec::new()),
            attempts: Mutex::new(VecDeque::new()),
            open: AtomicUsize::new(0),
            sent: AtomicU64::new(0),
        }
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.frozen.send_replace(false);
        self.closes.send_modify(|n| *n += 1);
    }

    fn publish(&self, stream: &str, n: usize) -> Result<Vec<StoredEvent>, String> {
        let s = stream_name(stream).ok_or_else(|| format!("unknown stream {stream:?}"))?;
        let mut out = Vec::with_capacity(n);
        {
            let mut store = self.store.lock().unwrap();
            for _ in 0..n {
                let now = ms_of(SystemTime::now());
                out.push(store.append(&self.config, s, now));
            }
        }
        self.version.send_modify(|v| *v += 1);
        Ok(out)
    }

    fn publish_raw(&self, topic: &str, data: String) -> Result<StoredEvent, String> {
        let s = STREAMS
            .iter()
            .copied()
            .find(|s| topics_of(s).iter().any(|t| t == topic))
            .ok_or_else(|| format!("unknown topic {topic:?}"))?;
        let ev = {
            let mut store = self.store.lock().unwrap();
            let last = store.last_dt.get_mut(s).unwrap();
            *last = (*last).max(ms_of(SystemTime::now()));
            let dt_ms = *last;
            store.serial += 1;
            let serial = store.serial - 1;
            let events = store.topics.get_mut(topic).unwrap();
            let ev = StoredEvent {
                stream: s.to_owned(),
                topic: topic.to_owned(),
                partition: 0,
                offset: events.len() as u64,
                dt_ms,
                canary: false,
                serial,
                data: data.into(),
            };
            events.push(ev.clone());
            ev
        };
        self.version.send_modify(|v| *v += 1);
        Ok(ev)
    }

    fn events(&self, stream: &str) -> Vec<StoredEvent> {
        let store = self.store.lock().unwrap();
        let mut all: Vec<StoredEvent> = topics_of(stream)
            .iter()
            .filter_map(|t| store.topics.get(t))
            .flatten()
            .cloned()
            .collect();
        all.sort_by_key(|e| (e.dt_ms, e.serial));
        all
    }

    fn log(&self, rec: RequestRecord) -> usize {
        let mut log = self.requests.lock().unwrap();
        log.push(rec);
        log.len() - 1
    }

    fn set_status(&self, i: usize, status: StatusCode, retry_after: Option<u64>) {
        if let Some(r) = self.requests.lock().unwrap().get_mut(i) {
            r.status = Some(status.as_u16());
            r.retry_after = retry_after;
        }
    }

    /// `Err(seconds)` when the attempt is over the limit.
    fn admit(&self) -> Result<(), u64> {
        let Some(limit) = self.config.rate_limit else {
            return Ok(());
        };
        let now = Instant::now();
        let mut q = self.attempts.lock().unwrap();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= limit.window)
        {
            q.pop_front();
        }
        if q.len() >= limit.max {
            let free_at = q
                .front()
                .map(|t| *t + limit.window)
                .unwrap_or(now + limit.window);
            let wait = free_at.saturating_duration_since(now).as_secs_f64().ceil() as u64;
            return Err(wait.max(1));
        }
        q.push_back(now);
        Ok(())
    }

    async fn wait_unfrozen(&self) {
        let mut rx = self.frozen.subscribe();
        let _ = rx.wait_for(|f| !*f).await;
    }
}

impl Store {
    /// Makes the next event of `stream` with `meta.dt` at `dt_ms` (or the stream's latest,
    /// if later) and appends it to its topic.
    fn append(&mut self, config: &Config, stream: &'static str, dt_ms: i64) -> StoredEvent {
        let seq = {
            let s = self.seq.get_mut(stream).unwrap();
            *s += 1;
            *s - 1
        };
        let dt_ms = {
            let last = self.last_dt.get_mut(stream).unwrap();
            *last = (*last).max(dt_ms);
            *last
        };
        let every = config.codfw_every;
        let dc = if every > 0 && seq % every == every - 1 {
            "codfw"
        } else {
            "eqiad"
        };
        let topic = format!("{dc}.mediawiki.{stream}");
        let offset = self.topics[&topic].len() as u64;
        let canary = stream == "recentchange"
            && config.canary_every > 0
            && seq % config.canary_every == config.canary_every - 1;
        let fixture = &self.fixtures[(seq % self.fixtures.len() as u64) as usize];
        let server_url = fixture
            .get("server_url")
            .and_then(Value::as_str)
            .unwrap_or("http://127.0.0.1")
            .to_owned();
        let host = fixture
            .get("server_name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                server_url
                    .split("://")
                    .nth(1)
                    .unwrap_or("127.0.0.1")
                    .split(['/', ':'])
                    .next()
                    .unwrap_or("127.0.0.1")
                    .to_owned()
            });
        let title = fixture
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("Main Page");
        let wiki = fixture
            .get("wiki")
            .and_then(Value::as_str)
            .unwrap_or("wikidb");
        let uri = format!("{server_url}/wiki/{}", title.replace(' ', "_"));
        let th = hash_str(&topic);
        let meta = json!({
            "uri": uri,
            "request_id": uuid_of(th ^ 0x5245_5155, offset),
            "id": uuid_of(th, offset),
            "dt": iso_millis(dt_ms),
            "domain": if canary { "canary" } else { host.as_str() },
            "stream": format!("mediawiki.{stream}"),
            "topic": topic,
            "partition": 0,
            "offset": offset,
        });
        let performer = json!({
            "user_text": fixture.get("user").cloned().unwrap_or(json!("Admin")),
            "user_is_bot": fixture.get("bot").cloned().unwrap_or(json!(false)),
            "user_groups": ["*", "user"],
        });
        let ns = fixture.get("namespace").cloned().unwrap_or(json!(0));
        let page_id = 1 + hash_str(title) % 10_000;
        let mut obj = match stream {
            "recentchange" => {
                let mut obj = Map::new();
                obj.insert("$schema".into(), json!("/mediawiki/recentchange/1.0.0"));
                obj.insert("meta".into(), meta);
                for (k, v) in fixture {
                    obj.insert(k.clone(), v.clone());
                }
                obj.insert("id".into(), json!(config.first_rcid + seq));
                obj.insert("timestamp".into(), json!(dt_ms.div_euclid(1000)));
                obj
            }
            "revision-create" => {
                let rev = 1 + seq;
                let len = fixture
                    .get("length")
                    .and_then(|l| l.get("new"))
                    .and_then(Value::as_u64)
                    .unwrap_or(100 + seq % 900);
                json!({
                    "$schema": "/mediawiki/revision/create/1.1.0",
                    "meta": meta,
                    "database": wiki,
                    "page_id": page_id,
                    "page_title": title.replace(' ', "_"),
                    "page_namespace": ns,
                    "page_is_redirect": false,
                    "rev_id": rev,
                    "rev_parent_id": if rev > 1 { json!(rev - 1) } else { Value::Null },
                    "rev_timestamp": iso_seconds(dt_ms),
                    "rev_minor_edit": fixture.get("minor").cloned().unwrap_or(json!(false)),
                    "rev_len": len,
                    "rev_sha1": format!("{:031x}", hash_str(&format!("{topic}{offset}"))),
                    "rev_content_model": "wikitext",
                    "rev_content_format": "text/x-wiki",
                    "rev_content_changed": true,
                    "comment": fixture.get("comment").cloned().unwrap_or(json!("")),
                    "performer": performer,
                })
                .as_object()
                .cloned()
                .unwrap()
            }
            _ => json!({
                "$schema": "/mediawiki/page/delete/1.0.0",
                "meta": meta,
                "database": wiki,
                "page_id": page_id,
                "page_title": title.replace(' ', "_"),
                "page_namespace": ns,
                "page_is_redirect": false,
                "rev_id": 1 + seq,
                "rev_count": 1 + seq % 5,
                "comment": "content was: spam",
                "performer": performer,
            })
            .as_object()
            .cloned()
            .unwrap(),
        };
        if stream != "recentchange" {
            obj.retain(|_, v| !v.is_null());
        }
        self.serial += 1;
        let ev = StoredEvent {
            stream: stream.to_owned(),
            topic: topic.clone(),
            partition: 0,
            offset,
            dt_ms,
            canary,
            serial: self.serial - 1,
            data: Value::Object(obj).to_string().into(),
        };
        self.topics.get_mut(&topic).unwrap().push(ev.clone());
        ev
    }
}

fn iso_seconds(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// ISO 8601 (with or without zone, or a date) or milliseconds since the epoch.
pub fn parse_since(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%#z") {
        return Some(t.timestamp_millis());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Where one topic-partition of a connection stands.
#[derive(Clone, Debug)]
struct Position {
    topic: String,
    /// Next offset to consume, once known.
    next: Option<u64>,
    /// Assigned by this time (ms) and nothing consumed yet.
    timestamp: Option<i64>,
}

/// An assignment as a client gives it (Last-Event-ID entries, or the defaults).
#[derive(Clone, Debug)]
enum Start {
    Offset(i64),
    Timestamp(i64),
    Latest,
}

fn positions(store: &Store, assignment: &[(String, Start)]) -> Vec<Position> {
    assignment
        .iter()
        .map(|(topic, start)| {
            let len = store.topics[topic].len() as i64;
            match *start {
                Start::Offset(o) if o >= 0 => Position {
                    topic: topic.clone(),
                    next: Some(o as u64),
                    timestamp: None,
                },
                Start::Offset(-2) => Position {
                    topic: topic.clone(),
                    next: Some(0),
                    timestamp: None,
                },
                Start::Offset(_) | Start::Latest => Position {
                    topic: topic.clone(),
                    next: Some(len as u64),
                    timestamp: None,
                },
                Start::Timestamp(ts) => Position {
                    topic: topic.clone(),
                    next: None,
                    timestamp: Some(ts),
                },
            }
        })
        .collect()
}

/// The SSE id: `[{"topic":T,"partition":0,"offset":N},...]` (keys in KafkaSSE's order).
fn id_array(pos: &[Position]) -> String {
    let items: Vec<String> = pos
        .iter()
        .map(|p| {
            let (key, n) = match (p.next, p.timestamp) {
                (_, Some(ts)) => ("timestamp", ts),
                (Some(n), None) => ("offset", n as i64),
                (None, None) => ("offset", -1),
            };
            format!(
                r#"{{"topic":{},"partition":0,"{key}":{n}}}"#,
                Value::from(p.topic.as_str())
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// A connection's consumer: the next event among its topic-partitions (the earliest
/// `meta.dt` first, then the order of publication), and the id array after it.
struct Consumer {
    shared: Arc<Shared>,
    pos: Vec<Position>,
    version: watch::Receiver<u64>,
}

impl Consumer {
    fn next_ready(&mut self) -> Option<(StoredEvent, String)> {
        let store = self.shared.store.lock().unwrap();
        let mut best: Option<(usize, &StoredEvent)> = None;
        for (i, p) in self.pos.iter().enumerate() {
            let events = &store.topics[&p.topic];
            let at = match (p.timestamp, p.next) {
                (Some(ts), _) => events.partition_point(|e| e.dt_ms < ts) as u64,
                (None, Some(n)) => n,
                (None, None) => continue,
            };
            if let Some(e) = events.get(at as usize) {
                if best.is_none_or(|(_, b)| (e.dt_ms, e.serial) < (b.dt_ms, b.serial)) {
                    best = Some((i, e));
                }
            }
        }
        let (i, e) = best?;
        let e = e.clone();
        drop(store);
        self.pos[i].next = Some(e.offset + 1);
        self.pos[i].timestamp = None;
        Some((e, id_array(&self.pos)))
    }

    async fn next_event(&mut self) -> (StoredEvent, String) {
        loop {
            self.version.borrow_and_update();
            if let Some(x) = self.next_ready() {
                return x;
            }
            if self.version.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Collapses runs of CR/LF into one LF, as KafkaSSE's SSEResponse does (axum then splits
/// the data over `data:` lines).
fn collapse_newlines(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['\r', '\n']) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if c == '\r' || c == '\n' {
            if !in_run {
                out.push('\n');
            }
            in_run = true;
        } else {
            in_run = false;
            out.push(c);
        }
    }
    out.into()
}

/// The SSE events of one connection: the consumer's messages.
fn sse_events(consumer: Consumer) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    stream::unfold(consumer, |mut c| async move {
        let (ev, id) = c.next_event().await;
        c.shared.sent.fetch_add(1, Ordering::SeqCst);
        let event = Event::default()
            .event("message")
            .id(id)
            .data(collapse_newlines(&ev.data));
        Some((Ok(event), c))
    })
}

/// Counts an open connection while alive.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The body of a streaming answer: `inner` (the SSE with heartbeats) while not frozen,
/// until the lifetime is over or `close_all`.
fn gated<S>(inner: S, shared: Arc<Shared>) -> impl Stream<Item = Result<Bytes, axum::Error>> + Send
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Send + Unpin + 'static,
{
    shared.open.fetch_add(1, Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + shared.config.lifetime;
    let state = (
        inner,
        shared.frozen.subscribe(),
        shared.closes.subscribe(),
        OpenGuard(shared),
    );
    stream::unfold(state, move |mut st| async move {
        loop {
            let frozen = *st.1.borrow_and_update();
            tokio::select! {
                biased;
                r = st.2.changed() => {
                    let _ = r;
                    return None;
                }
                r = st.1.changed() => {
                    if r.is_err() {
                        return None;
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(deadline), if !frozen => return None,
                item = st.0.next(), if !frozen => return item.map(|i| (i, st)),
            }
        }
    })
}

fn problem(status: StatusCode, detail: &str, uri: &Uri) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let kind = title.to_lowercase().replace(' ', "_");
    let body = json!({
        "type": format!("https://mediawiki.org/wiki/HyperSwitch/errors/{kind}"),
        "title": title,
        "method": "get",
        "detail": detail,
        "uri": uri.path(),
        "status": status.as_u16(),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Logs the request (status unknown yet) and, if frozen, hangs until unfrozen.
async fn arrive(shared: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap) -> usize {
    let i = shared.log(RequestRecord {
        at: SystemTime::now(),
        instant: Instant::now(),
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        last_event_id: header_str(headers, header::HeaderName::from_static("last-event-id")),
        user_agent: header_str(headers, header::USER_AGENT),
        status: None,
        retry_after: None,
    });
    if shared.config.freeze_new_connections {
        shared.wait_unfrozen().await;
    }
    i
}

fn answered(shared: &Shared, i: usize, r: Response) -> Response {
    let retry_after = r
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    shared.set_status(i, r.status(), retry_after);
    r
}

/// Parses a Last-Event-ID into an assignment; `Err((status, detail))`.
fn parse_last_event_id(
    text: &str,
    allowed: &[String],
    since: Option<i64>,
) -> Result<Vec<(String, Start)>, (StatusCode, String)> {
    let bad = |d: String| (StatusCode::BAD_REQUEST, d);
    let v: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("Last-Event-ID is not JSON: {e}")))?;
    let arr = v
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("Last-Event-ID must be a non-empty array of assignments".into()))?;
    let mut out: Vec<(String, Start)> = Vec::new();
    for a in arr {
        let o = a.as_object().ok_or_else(|| {
            bad(
                "Must provide an array of objects with topic, partition and offset|timestamp"
                    .into(),
            )
        })?;
        let topic = o
            .get("topic")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("Each assignment must have a string topic".into()))?;
        let partition = o
            .get("partition")
            .and_then(Value::as_i64)
            .ok_or_else(|| bad("Each assignment must have an integer partition".into()))?;
        let start = if let Some(off) = o.get("offset") {
            Start::Offset(
                off.as_i64()
                    .ok_or_else(|| bad("offset must be an integer".into()))?,
            )
        } else if let Some(ts) = o.get("timestamp") {
            Start::Timestamp(
                ts.as_i64()
                    .ok_or_else(|| bad("timestamp must be an integer".into()))?,
            )
        } else if let Some(ts) = since {
            Start::Timestamp(ts)
        } else {
            Start::Latest
        };
        if !allowed.iter().any(|t| t == topic) {
            return Err((
                StatusCode::NOT_FOUND,
                format!("Topics {topic} are not available for consumption."),
            ));
        }
        if partition != 0 {
            return Err((
                StatusCode::NOT_FOUND,
                format!("Partition {partition} of {topic} is not available for consumption."),
            ));
        }
        if let Some(e) = out.iter_mut().find(|(t, _)| t == topic) {
            e.1 = start;
        } else {
            out.push((topic.to_owned(), start));
        }
    }
    Ok(out)
}

async fn stream_handler(
    State(shared): State<Arc<Shared>>,
    Path(streams): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let i = arrive(&shared, &method, &uri, &headers).await;
    let r = stream_answer(&shared, &streams, &params, &uri, &headers);
    answered(&shared, i, r)
}

fn stream_answer(
    shared: &Arc<Shared>,
    streams: &str,
    params: &HashMap<String, String>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    if shared.stopped.load(Ordering::SeqCst) {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "shutting down", uri);
    }
    if let Err(secs) = shared.admit() {
        let mut r = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many connection attempts; retry later",
            uri,
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return r;
    }
    let mut names = Vec::new();
    for s in streams.split(',') {
        match stream_name(s.trim()) {
            Some(n) if !names.contains(&n) => names.push(n),
            Some(_) => {}
            None => {
                return problem(
                    StatusCode::NOT_FOUND,
                    &format!(
                        "Stream {s:?} is not available (available: {})",
                        STREAMS.join(", ")
                    ),
                    uri,
                )
            }
        }
    }
    let allowed: Vec<String> = names.iter().flat_map(|s| topics_of(s)).collect();
    let since = match params.get("since") {
        Some(s) => match parse_since(s) {
            Some(ms) => Some(ms),
            None => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    &format!("since {s:?} is neither ISO 8601 nor milliseconds since the epoch"),
                    uri,
                )
            }
        },
        None => None,
    };
    let assignment = match headers.get("last-event-id") {
        Some(v) => {
            let text = String::from_utf8_lossy(v.as_bytes());
            match parse_last_event_id(&text, &allowed, since) {
                Ok(a) => a,
                Err((status, detail)) => return problem(status, &detail, uri),
            }
        }
        None => allowed
            .iter()
            .map(|t| {
                (
                    t.clone(),
                    since.map(Start::Timestamp).unwrap_or(Start::Latest),
                )
            })
            .collect(),
    };
    let pos = positions(&shared.store.lock().unwrap(), &assignment);
    let consumer = Consumer {
        shared: shared.clone(),
        pos,
        version: shared.version.subscribe(),
    };
    let sse = Sse::new(sse_events(consumer))
        .keep_alive(KeepAlive::new().interval(shared.config.heartbeat));
    let (mut parts, body) = sse.into_response().into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    // KafkaSSE starts every answer with the comment `:ok` (axum's comments have a space).
    let ok = stream::iter([Ok(Bytes::from_static(b":ok\n\n"))]);
    let body = Body::from_stream(gated(ok.chain(body.into_data_stream()), shared.clone()));
    Response::from_parts(parts, body)
}

async fn fallback(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let i = arrive(&shared, &method, &uri, &headers).await;
    let r = problem(StatusCode::NOT_FOUND, "Not found", &uri);
    answered(&shared, i, r)
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn control_publish(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let n = q.get("n").and_then(|n| n.parse().ok()).unwrap_or(1);
    let stream = q
        .get("stream")
        .map(String::as_str)
        .unwrap_or("recentchange");
    match shared.publish(stream, n) {
        Ok(evs) => json_response(
            StatusCode::OK,
            Value::Array(evs.iter().map(StoredEvent::to_json).collect()),
        ),
        Err(e) => json_response(StatusCode::BAD_REQUEST, json!({ "error": e })),
    }
}

async fn control_publish_raw(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let topic = q
        .get("topic")
        .map(String::as_str)
        .unwrap_or("eqiad.mediawiki.recentchange");
    let data = String::from_utf8_lossy(&body).into_owned();
    match shared.publish_raw(topic, data) {
        Ok(ev) => {
            let mut v = ev.to_json();
            v.as_object_mut().unwrap().remove("data");
            json_response(StatusCode::OK, v)
        }
        Err(e) => json_response(StatusCode::BAD_REQUEST, json!({ "error": e })),
    }
}

async fn control_freeze(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let on = !matches!(
        q.get("on").map(String::as_str),
        Some("0" | "false" | "off" | "no")
    );
    shared.frozen.send_replace(on);
    json_response(StatusCode::OK, json!({ "frozen": on }))
}

async fn control_close_all(State(shared): State<Arc<Shared>>) -> Response {
    let open = shared.open.load(Ordering::SeqCst);
    shared.closes.send_modify(|n| *n += 1);
    json_response(StatusCode::OK, json!({ "closed": open }))
}

async fn control_requests(State(shared): State<Arc<Shared>>) -> Response {
    let log = shared.requests.lock().unwrap().clone();
    let v: Vec<Value> = log
        .iter()
        .map(|r| {
            json!({
                "at_ms": ms_of(r.at),
                "at": iso_millis(ms_of(r.at)),
                "since_start_ms": r.instant.saturating_duration_since(shared.started).as_secs_f64() * 1000.0,
                "method": r.method,
                "path": r.path,
                "query": r.query,
                "last_event_id": r.last_event_id,
                "user_agent": r.user_agent,
                "retry_after": r.retry_after,
                "status": r.status,
            })
        })
        .collect();
    json_response(StatusCode::OK, Value::Array(v))
}

async fn control_events(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let stream = q
        .get("stream")
        .map(String::as_str)
        .unwrap_or("recentchange");
    if stream_name(stream).is_none() {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({ "error": format!("unknown stream {stream:?}") }),
        );
    }
    let evs = shared.events(stream);
    json_response(
        StatusCode::OK,
        Value::Array(evs.iter().map(StoredEvent::to_json).collect()),
    )
}

async fn control_stats(State(shared): State<Arc<Shared>>) -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "open_connections": shared.open.load(Ordering::SeqCst),
            "events_sent": shared.sent.load(Ordering::SeqCst),
            "frozen": *shared.frozen.borrow(),
        }),
    )
}

/// The stand-in's routes: `GET /v2/stream/{streams}`, and the control API:
///
/// - `POST /_control/publish?n=N[&stream=S]`: appends N events (default 1, stream
///   recentchange); answers them as JSON.
/// - `POST /_control/publish_raw?topic=T`: the body is the data of one event on topic T
///   (default `eqiad.mediawiki.recentchange`); answers its topic and offset.
/// - `POST /_control/freeze?on=1|0`.
/// - `POST /_control/close_all`.
/// - `GET /_control/requests`: the request log, as a JSON array of objects `at_ms`, `at`,
///   `since_start_ms`, `method`, `path`, `query`, `last_event_id`, `user_agent`, `status`, `retry_after`.
/// - `GET /_control/events?stream=S`: the events S holds, as a JSON array of objects
///   `stream`, `topic`, `partition`, `offset`, `dt_ms`, `canary`, `data` (a string).
/// - `GET /_control/stats`: `open_connections`, `events_sent`, `frozen`.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v2/stream/{streams}", get(stream_handler))
        .route("/_control/publish", post(control_publish))
        .route("/_control/publish_raw", post(control_publish_raw))
        .route("/_control/freeze", post(control_freeze))
        .route("/_control/close_all", post(control_close_all))
        .route("/_control/requests", get(control_requests))
        .route("/_control/events", get(control_events))
        .route("/_control/stats", get(control_stats))
        .fallback(fallback)
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_iso_8601_and_milliseconds() {
        assert_eq!(parse_since("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_since("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(
            parse_since("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(
            parse_since("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_since("2023-11-14T22:13:20"), Some(1_700_000_000_000));
        assert_eq!(parse_since("2023-11-14"), Some(1_699_920_000_000));
        assert_eq!(parse_since("yesterday"), None);
    }

    #[test]
    fn dt_is_iso_8601_utc_with_milliseconds_and_z() {
        assert_eq!(iso_millis(1_700_000_000_042), "2023-11-14T22:13:20.042Z");
    }

    #[test]
    fn uuids_are_shaped_like_version_4() {
        let u = uuid_of(1, 2);
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(uuid_of(1, 2), uuid_of(1, 3));
    }

    #[test]
    fn line_breaks_in_data_collapse_as_kafkasse_does() {
        assert_eq!(collapse_newlines("a\r\n\r\nb\nc"), "a\nb\nc");
        assert_eq!(collapse_newlines("abc"), "abc");
    }
}
