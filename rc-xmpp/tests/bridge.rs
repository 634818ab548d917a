//! The UDP to XMPP bridge: packets of every form in, typed changes out of the room, across
//! a restart of the XMPP server in the middle of the run.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::rcids;
use rc_testkit::{assert_quiet, collect_n, joined, room_bare, Prosody, XmppServer};
use recentchanges_xmpp::bridge::{Bridge, Routes};

/// The changes recorded from a real MediaWiki, as (rcid, packet) in rcid order, cycling
/// through the three forms.
fn packets() -> Vec<(u64, Vec<u8>)> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../rc-core/tests/fixtures/mediawiki-1.39");
    let index: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for (i, e) in index.iter().enumerate() {
        let Some(rcid) = e["rcid"].as_u64() else {
            continue;
        };
        let forms: Vec<&str> = e["forms"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f.as_str())
            .collect();
        let form = ["feed.json", "feed.xml", "rc"][i % 3];
        let form = if forms.contains(&form) {
            form
        } else {
            forms[0]
        };
        let file = match form {
            "rc" => format!("{rcid:04}.rc.xml"),
            f => format!("{rcid:04}.{f}"),
        };
        out.push((rcid, std::fs::read(dir.join(file)).unwrap()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_packets_in_typed_changes_out_across_a_server_restart() {
    let mut prosody = Prosody::start();
    let mut stream = prosody.room_client("alice", "wikidb").connect().unwrap();
    joined(&stream, 10).await;

    let publisher = prosody.publisher(&["wikidb"]);
    let routes = Routes {
        rooms: HashMap::from([("wikidb".to_owned(), room_bare("wikidb"))]),
        default: None,
    };
    let bridge = Bridge::start("127.0.0.1:0".parse().unwrap(), routes, publisher, 1000)
        .await
        .unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let packets = packets();
    assert!(packets.len() > 60);
    let half = packets.len() / 2;

    udp.send_to(b"not a change at all", bridge.local_addr())
        .unwrap();
    udp.send_to(
        br#"{"type": "edit", "id": 1, "wiki": "otherwiki", "title": "X"}"#,
        bridge.local_addr(),
    )
    .unwrap();
    for (_, p) in &packets[..half] {
        udp.send_to(p, bridge.local_addr()).unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    prosody.kill();
    // Packets keep coming while the XMPP side is down.
    for (_, p) in &packets[half..] {
        udp.send_to(p, bridge.local_addr()).unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    prosody.restart();

    let got = collect_n(&mut stream, packets.len(), 30).await;
    let expected: Vec<u64> = packets.iter().map(|(id, _)| *id).collect();
    assert_eq!(rcids(&got), expected, "every change once, in order");
    for (c, (_, packet)) in got.iter().zip(&packets) {
        let sent = recentchanges_core::parse(packet).unwrap();
        assert_eq!(
            (&c.title, &c.user, c.timestamp, &c.kind, &c.comment),
            (
                &sent.title,
                &sent.user,
                sent.timestamp,
                &sent.kind,
                &sent.comment
            )
        );
        assert_eq!(c.wiki.as_deref(), Some("wikidb"));
    }
    assert_quiet(&mut stream, Duration::from_millis(1000), "nothing twice").await;
    let stats = bridge.stats();
    assert_eq!(
        (
            stats.received(),
            stats.invalid(),
            stats.unrouted(),
            stats.dropped()
        ),
        (packets.len() as u64 + 2, 1, 1, 0)
    );
}
