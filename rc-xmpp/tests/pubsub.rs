//! PubSub nodes (XEP-0060) the way DokuWiki's dokupubsub used them: Atom entries published
//! by a registered account, read by anonymous and authenticated subscribers, through
//! server crashes, process restarts, evicted items, bad payloads, missing and forbidden
//! nodes, against a real Prosody.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rc_testkit::{assert_quiet, collect_n, next_within, wait_status, Prosody, TempDir, XmppServer};
use recentchanges_xmpp::pubsub::{
    node_uri, AtomEntry, NodeChange, NodeError, NodePublisher, NodeStream, NodeStreamError,
    PubSubPosition, SubscriberBuilder,
};
use recentchanges_xmpp::{BareJid, NodeState};

const SERVICE: &str = "pubsub.localhost";

fn service() -> BareJid {
    SERVICE.parse().unwrap()
}

/// Page edit number `n`, as dokupubsub published it.
fn entry(n: u64) -> AtomEntry {
    let updated = updated(n);
    let rev = format!(
        "http://wiki.localhost/doku.php?id=page{n}&rev={}",
        updated.timestamp()
    );
    AtomEntry::new(format!("{rev}#entry"), format!("page{n}"), updated)
        .link(rev)
        .author("rgareus")
        .summary(format!("edit {n} <&>"))
}

fn updated(n: u64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_220_190_780 + n as i64, 0).unwrap()
}

/// The edit number of a change published with [`entry`].
fn number(c: &NodeChange) -> u64 {
    c.title_or("?")
        .strip_prefix("page")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not one of ours: {c:?}"))
}

fn publisher(prosody: &Prosody) -> NodePublisher {
    prosody.node_publisher().start().unwrap()
}

/// Publishes entries `range` to `node` and waits until the service confirmed them all.
async fn publish(publisher: &mut NodePublisher, node: &str, range: std::ops::RangeInclusive<u64>) {
    for n in range {
        publisher
            .publish(&service(), node, &entry(n))
            .await
            .unwrap();
    }
    assert!(
        publisher.flush(Duration::from_secs(20)).await,
        "the service confirmed every entry: {:?}",
        *publisher.status().borrow()
    );
}

/// Waits until every node of the stream is subscribed and caught up.
async fn subscribed(stream: &NodeStream, secs: u64) {
    wait_status(stream.status(), secs, "nodes subscribed", |s| {
        !s.nodes.is_empty()
            && s.nodes
                .values()
                .all(|n| matches!(n, NodeState::Subscribed { .. }))
    })
    .await;
}

/// Nothing more arrives for a while.
async fn quiet(stream: &mut NodeStream) {
    assert_quiet(stream, Duration::from_millis(1500), "nothing more").await;
}

/// The node exists with entry 0 in it, published by the publisher account.
async fn create_node(publisher: &mut NodePublisher, node: &str) {
    publish(publisher, node, 0..=0).await;
}

/// A server, its publisher, and `node` created by it ([`create_node`]).
async fn with_node(node: &str) -> (Prosody, NodePublisher) {
    let prosody = Prosody::start();
    let mut publisher = publisher(&prosody);
    create_node(&mut publisher, node).await;
    (prosody, publisher)
}

/// A stream of `subscriber` following `node`, subscribed.
async fn follow(subscriber: SubscriberBuilder, node: &str) -> NodeStream {
    let stream = subscriber.node(SERVICE, node).unwrap().connect().unwrap();
    subscribed(&stream, 10).await;
    stream
}

fn assert_is_entry(c: &NodeChange, n: u64, node: &str) {
    let e = entry(n);
    assert_eq!(c.title.as_deref(), Some(e.title.as_str()), "title");
    assert_eq!(c.url, e.link, "link");
    assert_eq!(c.entry_id.as_deref(), Some(e.id.as_str()), "entry id");
    assert_eq!(c.timestamp, Some(e.updated), "updated");
    assert_eq!(c.user.as_deref(), Some("rgareus"), "author");
    assert_eq!(c.comment, e.summary, "summary");
    assert_eq!(c.wiki.as_deref(), Some(node), "the wiki is the node's name");
    assert_eq!((c.service.as_str(), c.node.as_str()), (SERVICE, node));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_arrive_typed_at_anonymous_and_account_subscribers() {
    let (prosody, mut publisher) = with_node("dokuwiki").await;
    let mut anon = follow(prosody.anonymous_subscriber(), "dokuwiki").await;
    let mut alice = follow(prosody.subscriber("alice"), "dokuwiki").await;

    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(
            publisher
                .publish(&service(), "dokuwiki", &entry(n))
                .await
                .unwrap(),
        );
    }
    assert!(publisher.flush(Duration::from_secs(10)).await);
    for stream in [&mut anon, &mut alice] {
        let got = collect_n(stream, 3, 10).await;
        for (i, c) in got.iter().enumerate() {
            assert_is_entry(c, i as u64 + 1, "dokuwiki");
            assert_eq!(c.item_id.as_ref(), Some(&ids[i]), "the item id");
            assert!(!c.replayed && !c.gap_before);
        }
        // Entry 0 was there before the subscription: not delivered.
        quiet(stream).await;
    }
    let status = anon.status().borrow().clone();
    assert!(
        matches!(
            status.nodes.get(&node_uri(SERVICE, "dokuwiki")),
            Some(NodeState::Subscribed { gap: false, .. })
        ),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_nodes_on_one_stream() {
    let prosody = Prosody::start();
    let mut publisher = publisher(&prosody);
    create_node(&mut publisher, "wiki-a").await;
    create_node(&mut publisher, "wiki-b").await;
    let mut stream = prosody
        .subscriber("bob")
        .node(SERVICE, "wiki-a")
        .unwrap()
        .node(SERVICE, "wiki-b")
        .unwrap()
        .connect()
        .unwrap();
    subscribed(&stream, 10).await;
    for n in 1..=6 {
        let node = if n % 2 == 0 { "wiki-b" } else { "wiki-a" };
        publish(&mut publisher, node, n..=n).await;
    }
    let got = collect_n(&mut stream, 6, 10).await;
    for c in &got {
        let node = if number(c).is_multiple_of(2) {
            "wiki-b"
        } else {
            "wiki-a"
        };
        assert_is_entry(c, number(c), node);
    }
    assert_eq!(
        got.iter().map(number).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    quiet(&mut stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_and_restarted_mid_burst() {
    let mut prosody = Prosody::start();
    // Prosody's nodes keep 20 items by default: make room for everything published
    // while the subscriber is away, or it would (rightly) report a gap.
    let mut first = prosody.node_publisher().max_items(1000).start().unwrap();
    create_node(&mut first, "burst").await;
    first.close().await;
    let mut stream = follow(prosody.subscriber("alice"), "burst").await;

    let total = 120;
    let (midway_tx, midway_rx) = tokio::sync::oneshot::channel();
    let mut publisher = publisher(&prosody);
    let burst = tokio::spawn(async move {
        let mut midway = Some(midway_tx);
        for n in 1..=total {
            publisher
                .publish(&service(), "burst", &entry(n))
                .await
                .unwrap();
            if n == 40 {
                // Make sure the first part reached the node before the crash.
                assert!(publisher.flush(Duration::from_secs(10)).await);
                let _ = midway.take().map(|m| m.send(()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            publisher.flush(Duration::from_secs(60)).await,
            "the publisher delivered everything"
        );
        publisher.close().await;
    });
    midway_rx.await.unwrap();
    prosody.kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    prosody.restart();

    let got = collect_n(&mut stream, total as usize, 30).await;
    assert_eq!(
        got.iter().map(number).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>(),
        "every entry once, in order"
    );
    quiet(&mut stream).await;
    burst.await.unwrap();
    let status = stream.status().borrow().clone();
    assert!(status.connections >= 2, "it reconnected: {status:?}");
    assert_eq!(status.gaps, 0, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_process_gets_only_new_items() {
    let prosody = Prosody::start();
    let dir = TempDir::new("rc-pubsub-pos");
    let file = dir.join("wiki.pos");
    let mut publisher = publisher(&prosody);
    create_node(&mut publisher, "wiki").await;

    let resuming = || {
        prosody
            .subscriber("alice")
            .node(SERVICE, "wiki")
            .unwrap()
            .resume_from_file(&file)
            .unwrap()
            .connect()
            .unwrap()
    };

    // First run: reads 1..=5, then stops.
    let mut first = resuming();
    subscribed(&first, 10).await;
    publish(&mut publisher, "wiki", 1..=5).await;
    let got = collect_n(&mut first, 5, 10).await;
    first.close().await;
    let saved = PubSubPosition::load(&file).unwrap();
    assert_eq!(
        saved
            .node(&node_uri(SERVICE, "wiki"))
            .and_then(|p| p.item_id.clone()),
        got.last().unwrap().item_id,
        "the file holds the last delivered item id"
    );

    // Published while no process runs.
    publish(&mut publisher, "wiki", 6..=10).await;

    // Second run: exactly 6..=10, fetched from the node, then live ones.
    let mut second = resuming();
    let got = collect_n(&mut second, 5, 10).await;
    assert_eq!(got.iter().map(number).collect::<Vec<_>>(), [6, 7, 8, 9, 10]);
    assert!(got.iter().all(|c| c.replayed && !c.gap_before), "{got:?}");
    publish(&mut publisher, "wiki", 11..=11).await;
    let live = collect_n(&mut second, 1, 10).await;
    assert_eq!((number(&live[0]), live[0].replayed), (11, false));
    quiet(&mut second).await;
    second.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicted_position_yields_what_is_left_flagged() {
    let prosody = Prosody::start();
    let mut publisher = prosody.node_publisher().max_items(5).start().unwrap();
    create_node(&mut publisher, "small").await;
    let mut first = follow(prosody.subscriber("carol"), "small").await;
    publish(&mut publisher, "small", 1..=2).await;
    assert_eq!(
        collect_n(&mut first, 2, 10)
            .await
            .iter()
            .map(number)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    let position = first.position();
    first.close().await;

    // Ten more while away: the node keeps only 8..=12, item 2 is gone.
    publish(&mut publisher, "small", 3..=12).await;
    let mut second = prosody
        .subscriber("carol")
        .node(SERVICE, "small")
        .unwrap()
        .resume(position)
        .connect()
        .unwrap();
    let got = collect_n(&mut second, 5, 10).await;
    assert_eq!(
        got.iter().map(number).collect::<Vec<_>>(),
        [8, 9, 10, 11, 12]
    );
    assert!(got[0].gap_before, "the first item after the gap is flagged");
    assert!(got[1..].iter().all(|c| !c.gap_before && c.replayed));
    subscribed(&second, 10).await;
    let status = second.status().borrow().clone();
    assert_eq!(status.gaps, 1, "{status:?}");
    assert!(
        matches!(
            status.nodes.get(&node_uri(SERVICE, "small")),
            Some(NodeState::Subscribed {
                gap: true,
                recovered: 5
            })
        ),
        "{status:?}"
    );
    quiet(&mut second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_are_error_items_and_the_stream_goes_on() {
    let (prosody, mut publisher) = with_node("wiki").await;
    let mut stream = follow(prosody.anonymous_subscriber(), "wiki").await;

    let not_atom: minidom::Element = r#"<page xmlns="urn:example:not-atom">start</page>"#
        .parse()
        .unwrap();
    let bad_date: minidom::Element = r#"<entry xmlns="http://www.w3.org/2005/Atom"><title>start</title><updated>yesterday</updated></entry>"#
        .parse()
        .unwrap();
    let a = publisher
        .publish_payload(&service(), "wiki", None, not_atom)
        .await
        .unwrap();
    let b = publisher
        .publish_payload(&service(), "wiki", Some("bad-date"), bad_date)
        .await
        .unwrap();
    publish(&mut publisher, "wiki", 1..=1).await;

    for expected in [a, b] {
        match next_within(&mut stream, 10).await {
            Err(NodeStreamError::BadPayload {
                service,
                node,
                item_id,
                error,
            }) => {
                assert_eq!((service.as_str(), node.as_str()), (SERVICE, "wiki"));
                assert_eq!(item_id, Some(expected));
                assert!(!error.to_string().is_empty());
            }
            other => panic!("expected a bad payload item, got {other:?}"),
        }
    }
    let good = collect_n(&mut stream, 1, 10).await;
    assert_is_entry(&good[0], 1, "wiki");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_node_is_an_error_item_and_is_followed_once_created() {
    let (prosody, mut publisher) = with_node("wiki").await;
    let mut stream = prosody
        .subscriber("alice")
        .node(SERVICE, "wiki")
        .unwrap()
        .node(SERVICE, "later")
        .unwrap()
        .node_retry(Duration::from_millis(500))
        .connect()
        .unwrap();
    match next_within(&mut stream, 10).await {
        Err(NodeStreamError::Node {
            service,
            node,
            error,
        }) => {
            assert_eq!((service.as_str(), node.as_str()), (SERVICE, "later"));
            assert_eq!(error, NodeError::NotFound);
            assert!(format!(
                "{}",
                NodeStreamError::Node {
                    service,
                    node,
                    error: error.clone()
                }
            )
            .contains("does not exist"));
        }
        other => panic!("expected a node error, got {other:?}"),
    }
    wait_status(stream.status(), 10, "node `later` failed", |s| {
        matches!(s.nodes.get(&node_uri(SERVICE, "later")), Some(NodeState::Failed { reason }) if reason.contains("does not exist"))
    })
    .await;

    // The other node goes on.
    publish(&mut publisher, "wiki", 1..=1).await;
    assert_eq!(number(&collect_n(&mut stream, 1, 10).await[0]), 1);

    // Created later (by publishing to it): everything it got is delivered, once.
    publish(&mut publisher, "later", 2..=3).await;
    let got = collect_n(&mut stream, 2, 10).await;
    assert_eq!(got.iter().map(number).collect::<Vec<_>>(), [2, 3]);
    assert!(got.iter().all(|c| c.node == "later"));
    subscribed(&stream, 10).await;
    publish(&mut publisher, "later", 4..=4).await;
    assert_eq!(number(&collect_n(&mut stream, 1, 10).await[0]), 4);
    quiet(&mut stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_without_payload_is_an_error_item() {
    let (prosody, mut publisher) = with_node("bare").await;
    // The owner configured the node to notify without payloads (pubsub#deliver_payloads).
    prosody.lua("prosody.hosts['pubsub.localhost'].modules.pubsub.service.nodes['bare'].config.include_payload = false");
    let mut stream = follow(prosody.subscriber("bob"), "bare").await;
    let id = publisher
        .publish(&service(), "bare", &entry(1))
        .await
        .unwrap();
    assert!(publisher.flush(Duration::from_secs(10)).await);
    match next_within(&mut stream, 10).await {
        Err(NodeStreamError::NoPayload {
            service,
            node,
            item_id,
        }) => {
            assert_eq!((service.as_str(), node.as_str()), (SERVICE, "bare"));
            assert_eq!(item_id.as_ref(), Some(&id));
        }
        other => panic!("expected an item without payload, got {other:?}"),
    }
    // The stream goes on, and its position moved past that item.
    assert_eq!(
        stream
            .position()
            .node(&node_uri(SERVICE, "bare"))
            .and_then(|p| p.item_id.clone()),
        Some(id)
    );
    quiet(&mut stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_stanza_from_the_service_is_an_error_item() {
    let (prosody, mut publisher) = with_node("wiki").await;
    let mut stream = follow(prosody.subscriber("carol"), "wiki").await;
    let jid = match &stream.status().borrow().connection {
        recentchanges_xmpp::Connection::Online { jid } => jid.to_string(),
        other => panic!("not online: {other:?}"),
    };
    // Prosody's pubsub never sends a malformed message on its own: the administrator
    // makes the real server send one (two <thread>s, which XMPP parsers refuse), first
    // from a host we do not follow, then from the service.
    let malformed = |from: &str| {
        format!(
            "local st = require 'util.stanza'; prosody.core_post_stanza(prosody.hosts['{from}'], \
             st.message({{from='{from}', to='{jid}'}}):tag('thread'):text('a'):up():tag('thread'):text('b'):up())"
        )
    };
    prosody.lua(&malformed("localhost"));
    prosody.lua(&malformed(SERVICE));
    publish(&mut publisher, "wiki", 1..=1).await;
    match next_within(&mut stream, 10).await {
        Err(e @ NodeStreamError::InvalidStanza { .. }) => {
            let NodeStreamError::InvalidStanza { service, .. } = &e else {
                unreachable!()
            };
            assert_eq!(service.as_str(), SERVICE);
            assert!(e.to_string().contains("not valid XMPP"), "{e}");
        }
        other => panic!("expected an invalid stanza item (only the service's), got {other:?}"),
    }
    let after = collect_n(&mut stream, 1, 10).await;
    assert_is_entry(&after[0], 1, "wiki");
    quiet(&mut stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_node_is_an_error_item_and_is_followed_once_allowed() {
    let (prosody, mut publisher) = with_node("secret").await;
    // The owner closes the node to a whitelist bob is not on.
    let service_lua = "prosody.hosts['pubsub.localhost'].modules.pubsub.service";
    prosody.lua(&format!(
        "{service_lua}.nodes['secret'].config.access_model = 'whitelist'"
    ));
    let mut stream = prosody
        .subscriber("bob")
        .node(SERVICE, "secret")
        .unwrap()
        .node_retry(Duration::from_millis(500))
        .connect()
        .unwrap();
    match next_within(&mut stream, 10).await {
        Err(NodeStreamError::Node { node, error, .. }) => {
            assert_eq!(node, "secret");
            assert!(
                matches!(&error, NodeError::Forbidden { .. }),
                "refused as forbidden: {error:?}"
            );
            assert!(error.to_string().contains("forbidden"), "{error}");
        }
        other => panic!("expected a forbidden node item, got {other:?}"),
    }
    wait_status(stream.status(), 10, "node `secret` failed", |s| {
        matches!(
            s.nodes.get(&node_uri(SERVICE, "secret")),
            Some(NodeState::Failed { .. })
        )
    })
    .await;
    // Retried every node_retry, the refusal is reported once, not each time.
    quiet(&mut stream).await;

    // The owner lets bob in: the stream subscribes by itself and follows the node.
    prosody.lua(&format!(
        "{service_lua}:set_affiliation('secret', true, 'bob@localhost', 'member')"
    ));
    subscribed(&stream, 10).await;
    publish(&mut publisher, "secret", 1..=1).await;
    assert_is_entry(&collect_n(&mut stream, 1, 10).await[0], 1, "secret");
    quiet(&mut stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_items_beyond_the_buffer_during_a_catch_up_are_fetched_again_once_each() {
    let prosody = Prosody::start();
    let dir = TempDir::new("rc-pubsub-held");
    let file = dir.join("wiki.pos");
    // A node that keeps everything this test publishes (Prosody keeps 20 by default).
    let mut publisher = prosody.node_publisher().max_items(1000).start().unwrap();
    create_node(&mut publisher, "wiki").await;
    let resuming = |buffer: usize| {
        prosody
            .subscriber("alice")
            .node(SERVICE, "wiki")
            .unwrap()
            .buffer(buffer, recentchanges_xmpp::Backpressure::Wait)
            .resume_from_file(&file)
            .unwrap()
            .connect()
            .unwrap()
    };
    let mut first = resuming(100);
    subscribed(&first, 10).await;
    publish(&mut publisher, "wiki", 1..=1).await;
    collect_n(&mut first, 1, 10).await;
    first.close().await;

    // Away: 110 items in the node. Back with a buffer of 2 (the bound of what is held
    // while the node is fetched), while 60 more are published as it fetches.
    publish(&mut publisher, "wiki", 2..=110).await;
    let mut second = resuming(2);
    wait_status(second.status(), 10, "online", |s| {
        matches!(s.connection, recentchanges_xmpp::Connection::Online { .. })
    })
    .await;
    for n in 111..=170 {
        publisher
            .publish(&service(), "wiki", &entry(n))
            .await
            .unwrap();
    }
    let got = collect_n(&mut second, 169, 60).await;
    assert!(publisher.flush(Duration::from_secs(20)).await);
    assert_eq!(
        got.iter().map(number).collect::<Vec<_>>(),
        (2..=170).collect::<Vec<_>>(),
        "every item once, in order"
    );
    quiet(&mut second).await;
    let status = second.status().borrow().clone();
    assert_eq!(status.gaps, 0);
    assert!(
        status.refetched > 0,
        "the bound was hit: live items were let go and fetched again: {status:?}"
    );
}
