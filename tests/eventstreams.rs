//! EventStreams, end to end: the `eventstreams:` source and rc-http's consumer against
//! rc-testkit's stand-in.
//!
//! The stand-in is not Wikimedia's service: EventStreams needs Kafka, which cannot run
//! here. It is built on axum's SSE implementation (independent of our consumer) and
//! behaves as EventStreams' documentation and its KafkaSSE library do (two datacenter
//! topics with offsets, `id` arrays, `since`, `Last-Event-ID`, canaries, heartbeats,
//! connections closed after a lifetime, 429 + `Retry-After` past a connection rate); its
//! events are the changes recorded from a real MediaWiki 1.39 JSON feed with `meta` added
//! per the `mediawiki/recentchange` schema.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rc_testkit::eventstreams::{Config, RateLimit, StoredEvent};
use rc_testkit::{next_within, EventStreams as StandIn, Proxy, TempDir};
use recentchanges::http::eventstreams::{EventStream, EventStreams, EventStreamsError, Position};
use recentchanges::http::Start;
use recentchanges::source::{Change, Source, State};

const UA: &str = "rc-tests/1.0 (https://example.org/rc-tests; tests@example.org)";

/// The recent changes a consumer must get: every non-canary event, as (topic, offset, rcid).
fn expected(es: &StandIn) -> Vec<(String, u64, u64)> {
    es.events("recentchange")
        .iter()
        .filter(|e| !e.canary)
        .map(|e| (e.topic.clone(), e.offset, rcid_of(e)))
        .collect()
}

fn rcid_of(e: &StoredEvent) -> u64 {
    e.json().and_then(|j| j["id"].as_u64()).expect("an rcid")
}

/// (topic, offset, rcid) of a change from the source.
fn place(c: &Change) -> (String, u64, u64) {
    let d = c.delivery.as_ref().expect("delivery data");
    (
        d.topic.clone().expect("topic"),
        d.offset.expect("offset") as u64,
        c.rcid.expect("rcid"),
    )
}

/// Every event once, each topic in offset order, nothing missing.
fn assert_exactly_once_in_order(got: &[(String, u64, u64)], want: &[(String, u64, u64)]) {
    let mut per_topic: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (topic, offset, _) in got {
        per_topic.entry(topic).or_default().push(*offset);
    }
    for (topic, offsets) in &per_topic {
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "{topic}: offsets out of order or repeated: {offsets:?}"
        );
    }
    let got_ids: Vec<u64> = got.iter().map(|g| g.2).collect();
    let unique: BTreeSet<u64> = got_ids.iter().copied().collect();
    assert_eq!(unique.len(), got_ids.len(), "a change twice: {got_ids:?}");
    let want_ids: BTreeSet<u64> = want.iter().map(|w| w.2).collect();
    let missing: Vec<_> = want_ids.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(&want_ids).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, not served {extra:?}"
    );
}

async fn read_changes(
    changes: &mut (impl futures::Stream<Item = Result<Change, recentchanges::source::SourceError>>
              + Unpin),
    n: usize,
) -> Vec<(String, u64, u64)> {
    let mut got = Vec::new();
    while got.len() < n {
        match next_within(changes, 15).await {
            Ok(c) => got.push(place(&c)),
            Err(e) => panic!("unexpected error item after {} changes: {e}", got.len()),
        }
    }
    got
}

async fn read_events(events: &mut EventStream, n: usize) -> Vec<(String, u64, u64)> {
    let mut got = Vec::new();
    while got.len() < n {
        match next_within(events, 15).await {
            Ok(ev) => got.push((
                ev.delivery.topic.clone().unwrap(),
                ev.delivery.offset.unwrap() as u64,
                ev.change().and_then(|c| c.rcid).unwrap(),
            )),
            Err(e) => panic!("unexpected error item after {} events: {e}", got.len()),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_once_and_in_order_across_server_closed_connections_without_canaries() {
    let es = StandIn::start(Config {
        initial_events: 40,
        canary_every: 9,
        lifetime: Duration::from_millis(600),
        heartbeat: Duration::from_millis(200),
        ..Config::default()
    })
    .await
    .unwrap();
    let mut changes = Source::new(&format!("eventstreams:{}", es.stream_url("recentchange")))
        .unwrap()
        .start(Start::Beginning)
        .user_agent(UA)
        .open()
        .unwrap();
    let first = expected(&es).len();
    let mut got = read_changes(&mut changes, first).await;
    // More while connections keep being closed under the consumer.
    for _ in 0..4 {
        es.publish(12);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let want = expected(&es);
    got.extend(read_changes(&mut changes, want.len() - first).await);
    rc_testkit::assert_quiet(&mut changes, Duration::from_secs(1), "nothing more").await;
    assert_exactly_once_in_order(&got, &want);

    let status = changes.status().borrow().clone();
    let canaries = es
        .events("recentchange")
        .iter()
        .filter(|e| e.canary)
        .count() as u64;
    assert!(canaries > 5, "the stand-in served canaries: {canaries}");
    assert_eq!(
        status.canaries, canaries,
        "every canary dropped and counted"
    );
    assert_eq!(
        status.duplicates, 0,
        "Last-Event-ID was exact: the server never sent an event twice"
    );

    // The wire: `since` on the first request only, Last-Event-ID with both topics after.
    let requests = es.requests();
    assert!(
        requests.len() >= 3,
        "the server closed connections: {requests:?}"
    );
    assert!(requests[0]
        .query
        .as_deref()
        .unwrap_or("")
        .contains("since="));
    assert!(requests[0].last_event_id.is_none());
    for r in &requests[1..] {
        assert!(
            !r.query.as_deref().unwrap_or("").contains("since"),
            "since only without a position: {r:?}"
        );
        let id = r
            .last_event_id
            .as_deref()
            .expect("Last-Event-ID on a reconnect");
        let pos = Position::from_last_event_id(id).unwrap();
        let topics: BTreeSet<&str> = pos.assignments().iter().map(|a| a.topic.as_str()).collect();
        assert_eq!(
            topics,
            BTreeSet::from([
                "codfw.mediawiki.recentchange",
                "eqiad.mediawiki.recentchange"
            ]),
            "every datacenter's topic in Last-Event-ID"
        );
    }
    assert!(requests.iter().all(|r| r.user_agent.as_deref() == Some(UA)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_cut_and_a_silent_freeze_lose_nothing() {
    let es = StandIn::start(Config {
        initial_events: 20,
        heartbeat: Duration::from_millis(200),
        ..Config::default()
    })
    .await
    .unwrap();
    let proxy = Proxy::start(es.addr().to_string()).await;
    let url = format!("http://{}/v2/stream/recentchange", proxy.addr);
    let mut events = EventStreams::new(&url)
        .unwrap()
        .since(Start::Beginning)
        .stall_timeout(Duration::from_secs(1))
        .backoff(Duration::from_millis(100), Duration::from_millis(500))
        .connect()
        .unwrap();
    let mut got = read_events(&mut events, 20).await;

    proxy.cut();
    es.publish(10);
    got.extend(read_events(&mut events, 10).await);

    // A dead link: the proxy keeps both sockets open and carries nothing, no heartbeat.
    proxy.freeze();
    es.publish(10);
    let t = Instant::now();
    got.extend(read_events(&mut events, 10).await);
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "the events came after the stall was noticed"
    );

    // The server itself hangs (open connections and new requests alike), then recovers.
    es.freeze(true);
    es.publish(5);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    es.freeze(false);
    got.extend(read_events(&mut events, 5).await);
    assert_exactly_once_in_order(&got, &expected(&es));
    let status = events.status().borrow().clone();
    assert!(status.stalls >= 2, "both stalls noticed: {status:?}");
    assert_eq!(status.duplicates, 0, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_anywhere_resumes_from_the_position_after_its_last_event() {
    let es = StandIn::start(Config {
        initial_events: 30,
        ..Config::default()
    })
    .await
    .unwrap();
    let url = es.stream_url("recentchange");
    let want = expected(&es);
    let mut got = Vec::new();
    let mut saved = Position::default();
    // Each run reads a few events, keeping each with the position after it (as a reuser
    // stores both in one transaction), then is dropped without warning.
    for take in [7, 1, 12] {
        let mut events = EventStreams::new(&url)
            .unwrap()
            .since(Start::Beginning)
            .resume(saved.clone())
            .connect()
            .unwrap();
        for _ in 0..take {
            let ev = next_within(&mut events, 15).await.unwrap();
            got.push((
                ev.delivery.topic.clone().unwrap(),
                ev.delivery.offset.unwrap() as u64,
                ev.change().unwrap().rcid.unwrap(),
            ));
            saved = events.position().clone();
        }
        drop(events);
    }
    let mut events = EventStreams::new(&url)
        .unwrap()
        .resume(saved)
        .connect()
        .unwrap();
    got.extend(read_events(&mut events, want.len() - got.len()).await);
    assert_exactly_once_in_order(&got, &want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_restarted_from_its_position_file_yields_neither_gap_nor_duplicate() {
    let es = StandIn::start(Config {
        initial_events: 25,
        lifetime: Duration::from_secs(1),
        ..Config::default()
    })
    .await
    .unwrap();
    let dir = TempDir::new("es-resume");
    let file = dir.path().join("es.pos");
    let name = format!("eventstreams:{}", es.stream_url("recentchange"));
    let open = |start| {
        Source::new(&name)
            .unwrap()
            .start(start)
            .resume_from_file(&file)
            .open()
            .unwrap()
    };
    let mut changes = open(Start::Beginning);
    let mut got = read_changes(&mut changes, 10).await;
    changes.close();
    assert!(file.exists(), "the position was saved on close");
    es.publish(15);
    // Restarted with `since` now: the saved position wins, nothing is skipped.
    let mut changes = open(Start::Now);
    let want = expected(&es);
    got.extend(read_changes(&mut changes, want.len() - 10).await);
    rc_testkit::assert_quiet(&mut changes, Duration::from_secs(1), "nothing more").await;
    assert_exactly_once_in_order(&got, &want);
    let restart = es
        .requests()
        .into_iter()
        .find(|r| r.last_event_id.is_some())
        .expect("the restart sent its position");
    assert!(!restart.query.unwrap_or_default().contains("since"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_consumer_never_asks_again_before_retry_after() {
    let es = StandIn::start(Config {
        initial_events: 0,
        lifetime: Duration::from_millis(150),
        rate_limit: Some(RateLimit {
            max: 2,
            window: Duration::from_secs(2),
        }),
        ..Config::default()
    })
    .await
    .unwrap();
    let events = EventStreams::new(&es.stream_url("recentchange"))
        .unwrap()
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .connect()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(7)).await;
    let status = events.status().borrow().clone();
    drop(events);
    let requests = es.requests();
    let throttled: Vec<_> = requests.iter().filter(|r| r.status == Some(429)).collect();
    assert!(
        !throttled.is_empty(),
        "the stand-in throttled: {requests:?}"
    );
    assert_eq!(status.throttled, throttled.len() as u64);
    for pair in requests.windows(2) {
        if let (Some(429), Some(secs)) = (pair[0].status, pair[0].retry_after) {
            let waited = pair[1].instant - pair[0].instant;
            assert!(
                waited >= Duration::from_secs(secs),
                "asked again after {waited:?}, Retry-After was {secs}s"
            );
        }
    }
    // It kept going (not a fatal error), at the server's pace: 2 in every 2 s at most.
    assert!(
        requests.len() <= 3 * 2 + 2 + throttled.len(),
        "{}",
        requests.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_events_are_error_items_and_the_stream_goes_on() {
    let es = StandIn::start(Config {
        initial_events: 0,
        ..Config::default()
    })
    .await
    .unwrap();
    let mut events = EventStreams::new(&es.stream_url("recentchange"))
        .unwrap()
        .max_event_bytes(64 * 1024)
        .connect()
        .unwrap();
    rc_testkit::wait_status(events.status(), 10, "live", |s| {
        s.state == recentchanges::http::eventstreams::State::Live
    })
    .await;
    let topic = "eqiad.mediawiki.recentchange";
    es.publish_raw(topic, "{not json").unwrap();
    let good = es.publish(1);
    // The same change with a field of the wrong type, as another event (its own meta.id,
    // no Kafka place of the copied one: both would make it a duplicate).
    let mut wrong_type = good[0].json().unwrap();
    wrong_type["namespace"] = "zero".into();
    wrong_type["meta"] =
        serde_json::json!({"id": "another-event-id", "stream": "mediawiki.recentchange"});
    let wrong_type = wrong_type.to_string();
    es.publish_raw(topic, wrong_type).unwrap();
    es.publish_raw(
        topic,
        format!("{{\"comment\":\"{}\"}}", "x".repeat(200_000)),
    )
    .unwrap();
    es.publish(2);

    let mut items = Vec::new();
    for _ in 0..6 {
        match tokio::time::timeout(Duration::from_secs(10), events.next()).await {
            Ok(Some(item)) => items.push(item),
            other => panic!("after {items:?}: {other:?}"),
        }
    }
    let kinds: Vec<String> = items
        .iter()
        .map(|i| match i {
            Ok(ev) => format!("change {}", ev.change().unwrap().rcid.unwrap()),
            Err(EventStreamsError::BadEvent { reason, .. }) => format!("bad: {reason}"),
            Err(EventStreamsError::TooLarge { limit, .. }) => format!("too large: {limit}"),
            Err(other) => format!("other: {other}"),
        })
        .collect();
    assert!(
        kinds[0].starts_with("bad: invalid JSON") || kinds[0].contains("bad:"),
        "{kinds:?}"
    );
    assert!(kinds[1].starts_with("change"), "{kinds:?}");
    assert!(
        kinds[2].contains("namespace"),
        "the field is named: {kinds:?}"
    );
    assert_eq!(kinds[3], "too large: 65536", "{kinds:?}");
    assert!(
        kinds[4].starts_with("change") && kinds[5].starts_with("change"),
        "{kinds:?}"
    );
    assert!(items.iter().all(|i| !matches!(i, Err(e) if e.is_fatal())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_stream_is_a_fatal_error_and_the_source_says_failed() {
    let es = StandIn::start(Config::default()).await.unwrap();
    let mut changes = Source::new(&format!("eventstreams:{}", es.stream_url("nosuchstream")))
        .unwrap()
        .open()
        .unwrap();
    let err = next_within(&mut changes, 10).await.unwrap_err();
    assert!(err.is_fatal(), "{err}");
    assert!(err.to_string().contains("404"), "{err}");
    assert!(matches!(
        changes.status().borrow().state,
        State::Failed { .. }
    ));
    assert!(changes.next().await.is_none(), "the stream ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_other_streams_come_with_their_json_and_delivery_data() {
    let es = StandIn::start(Config {
        initial_events: 5,
        ..Config::default()
    })
    .await
    .unwrap();
    let mut changes = Source::new(&format!(
        "eventstreams:{}",
        es.stream_url("recentchange,page-delete")
    ))
    .unwrap()
    .start(Start::Beginning)
    .open()
    .unwrap();
    let mut by_stream: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..10 {
        let c = next_within(&mut changes, 10).await.unwrap();
        let d = c.delivery.clone().unwrap();
        let stream = d.stream.clone().unwrap();
        if stream == "mediawiki.page-delete" {
            assert_eq!(c.kind.as_str(), "page-delete");
            assert!(c.extra.contains_key("meta"), "the event's JSON is kept");
            assert!(c.timestamp.is_some() && c.timestamp == d.dt);
        } else {
            assert!(c.rcid.is_some());
        }
        assert!(d.event_id.is_some() && d.offset.is_some() && d.partition == Some(0));
        *by_stream.entry(stream).or_default() += 1;
    }
    assert_eq!(by_stream.len(), 2, "{by_stream:?}");
}

/// The main-namespace page files of a mirror directory, read back through the documented
/// file name scheme: title -> text.
fn mirrored(dir: &std::path::Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let rel = std::path::PathBuf::from(e.file_name());
        let dot = rel.to_string_lossy().starts_with('.');
        if let (false, true, Some(title)) = (
            dot,
            e.path().is_file(),
            recentchanges::http::mirror::title_of(&rel),
        ) {
            out.insert(title, std::fs::read_to_string(e.path()).unwrap());
        }
    }
    out
}

/// A recentchange event for an edit of `title` on wiki `wikidb`, as EventStreams sends it.
fn edit_event(title: &str) -> String {
    let now = chrono::Utc::now();
    serde_json::json!({
        "$schema": "/mediawiki/recentchange/1.0.0",
        "meta": {
            "uri": format!("http://127.0.0.1/wiki/{title}"),
            "id": format!("{:032x}", now.timestamp_nanos_opt().unwrap_or_default()),
            "dt": now.to_rfc3339(),
            "domain": "127.0.0.1",
            "stream": "mediawiki.recentchange",
        },
        "type": "edit", "namespace": 0, "title": title, "wiki": "wikidb",
        "user": "Admin", "bot": false, "minor": false,
        "timestamp": now.timestamp(), "comment": "edited while no mirror ran",
    })
    .to_string()
}

/// A mirror following EventStreams, stopped after its full sync and before any event,
/// restarts without a full sync: it follows the stream from a little before that sync
/// (`since`), so an edit made while it was stopped reaches it. The texts come from a real
/// MediaWiki 1.39; the events from the stand-in (Kafka cannot run here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eventstreams_mirror_stopped_before_any_event_resumes_from_before_its_sync() {
    use recentchanges::http::mirror::{MirrorConfig, STATE_FILE};
    let wiki = rc_testkit::MediaWiki::start(None, None);
    let admin = wiki.session("Admin", rc_testkit::ADMIN_PASSWORD).await;
    rc_testkit::edit(&admin, "Alpha", "alpha 1", "create", &[]).await;
    rc_testkit::edit(&admin, "Beta", "beta 1", "create", &[]).await;
    let es = StandIn::start(Config {
        initial_events: 0,
        ..Config::default()
    })
    .await
    .unwrap();
    let tmp = TempDir::new("rc-e2e-mirror-es");
    let dir = tmp.join("pages");
    let source = || {
        Source::new(&format!("eventstreams:{}", es.stream_url("recentchange")))
            .unwrap()
            .wiki("wikidb")
            .filter(recentchanges::Filter::new().wiki("wikidb".to_owned()))
            .user_agent(UA)
    };
    let config =
        || MirrorConfig::default().debounce(Duration::from_millis(200), Duration::from_secs(1));

    let state = dir.join(STATE_FILE);
    let first = recentchanges::mirror::run(wiki.api(), &dir, source(), config(), async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !std::fs::read_to_string(&state).is_ok_and(|s| s.contains("synced_at")) {
            assert!(Instant::now() < deadline, "no full sync saved");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!((first.full_syncs, first.changes), (1, 0), "{first:?}");
    assert_eq!(
        mirrored(&dir).get("Alpha").map(String::as_str),
        Some("alpha 1")
    );

    // Edited while no mirror runs; the stream carries it.
    rc_testkit::edit(&admin, "Alpha", "alpha 2", "edit", &[]).await;
    es.publish_raw("eqiad.mediawiki.recentchange", edit_event("Alpha"))
        .unwrap();

    let d = dir.clone();
    let second = recentchanges::mirror::run(wiki.api(), &dir, source(), config(), async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while mirrored(&d).get("Alpha").map(String::as_str) != Some("alpha 2")
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(
        mirrored(&dir).get("Alpha").map(String::as_str),
        Some("alpha 2"),
        "the edit made while it was stopped"
    );
    assert_eq!(
        (second.full_syncs, second.changes),
        (0, 1),
        "followed from before the first sync, not synced again: {second:?}"
    );
    let asked = es.requests();
    assert!(
        asked
            .last()
            .and_then(|r| r.query.as_deref())
            .is_some_and(|q| q.contains("since=")),
        "the second run asked for the changes since a time: {asked:?}"
    );
}
