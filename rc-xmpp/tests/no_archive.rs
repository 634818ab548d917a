//! Rooms without an archive (mod_muc_mam's per-room setting turned off): what the server
//! relays as it is, and resuming from the room history by the server's time.

mod common;

use common::{publish, rcids};
use rc_testkit::{collect_n, next_within, room_jid, Prosody, XmppServer};
use recentchanges_xmpp::StreamError;

/// Another occupant (a second real account, raw XML) posts a change whose `<rc>` holds
/// ~30k nested elements. Prosody 0.12 relays it as it is in a room without an archive
/// (with one, it cannot store it, "max table depth reached", and drops it: the archive
/// protects that path, not this one). Before the depth guard, tokio-xmpp's recursive
/// element building overflowed the client's stack and aborted the whole test process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_nested_30k_levels_deep_is_reported_and_the_next_change_arrives() {
    let prosody = Prosody::start();
    prosody.room_without_archive("enwiki");
    let mut stream = prosody.consumer("alice", "enwiki").await;
    let mut publisher = prosody.publisher(&["enwiki"]);
    let mut mallory = prosody.raw_client("bob").await;
    mallory.join("enwiki", "mallory").await;
    let depth = 30_000;
    mallory
        .send(&format!(
            "<message to='{}' type='groupchat' id='deep'><body>deep</body>\
             <rc xmlns='jabber:client' type='edit' rcid='666' wikiid='evilwiki' title='Deep'>{}{}</rc></message>",
            room_jid("enwiki"),
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        ))
        .await;
    // The room echoes it to its sender too: then it was relayed to everyone.
    mallory.wait_for("id='deep'", 15).await;
    publish(&mut publisher, "enwiki", 1..=1).await;

    match next_within(&mut stream, 15).await {
        Err(StreamError::BadPayload { room, error, .. }) => {
            assert_eq!(room.as_str(), room_jid("enwiki"));
            // A live change is read from its text (the short way), an archived one from
            // its element: both name the depth alike.
            let error = error.to_string();
            assert!(
                error.contains(
                    "element `a` has nesting depth 33, expected at most 32 levels below the root"
                ),
                "the depth is named: {error}"
            );
        }
        other => panic!("expected the deep message as a bad payload, got {other:?}"),
    }
    let got = collect_n(&mut stream, 1, 15).await;
    assert_eq!(rcids(&got), [1]);
    let status = stream.status().borrow().clone();
    assert_eq!(status.connections, 1, "no reconnect: {status:?}");
}

/// A client whose clock runs a minute ahead of the server's, in a room without an
/// archive, reads changes 1 and 2; its link then dies silently while 3..=5 are posted;
/// it notices, reconnects and rejoins asking for the history since its position. Before
/// the fix the position's time was this machine's clock, a minute in the server's
/// future: the history since then is empty and 3..=5 were lost. Now the position is in
/// the server's time (XEP-0202 offset), asked a margin early, and what comes twice is
/// dropped by (wiki, rcid): exactly 3..=5 arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_client_clock_loses_and_repeats_nothing_across_a_reconnect_without_archive() {
    use std::time::Duration;

    use rc_testkit::{collect_until, joined, Proxy};

    let prosody = Prosody::start();
    prosody.room_without_archive("enwiki");
    let proxy = Proxy::start(prosody.addr()).await;
    let mut stream = prosody
        .room_client("alice", "enwiki")
        .server(&proxy.addr)
        .unwrap()
        .keepalive(Duration::from_secs(1), Duration::from_secs(1))
        .local_clock_offset(chrono::TimeDelta::seconds(60))
        .connect()
        .unwrap();
    joined(&stream, 10).await;
    let mut publisher = prosody.publisher(&["enwiki"]);
    publish(&mut publisher, "enwiki", 1..=2).await;
    assert_eq!(rcids(&collect_n(&mut stream, 2, 10).await), [1, 2]);
    let time = stream
        .position()
        .room(&room_jid("enwiki"))
        .unwrap()
        .time
        .unwrap();
    let skew = time - chrono::Utc::now();
    assert!(
        skew.num_seconds().abs() <= 2,
        "the position is in the server's time, not a minute ahead: {skew}"
    );

    proxy.freeze();
    publish(&mut publisher, "enwiki", 3..=5).await;
    assert!(publisher.flush(Duration::from_secs(10)).await);
    let got = collect_until(
        &mut stream,
        &(3..=5).collect(),
        |c| c.rcid,
        20,
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(rcids(&got), [3, 4, 5], "no loss, no repeat");
    assert!(got.iter().all(|c| c.replayed), "from the room history");
    assert!(stream.status().borrow().connections >= 2, "it reconnected");
}
