//! Joining rooms of a real Prosody and receiving the changes a Publisher posts.

mod common;

use std::time::Duration;

use common::{change, publish, publish_and_receive};
use futures::StreamExt;
use rc_testkit::{collect_n, joined, next_within, room_bare, room_jid, Prosody, XmppServer};
use recentchanges_core::Kind;
use recentchanges_xmpp::{Client, Connection, Fatal, RoomState, StreamError, Tls};

#[tokio::test]
async fn one_room_typed_changes_in_order() {
    let prosody = Prosody::start();
    let mut stream = prosody.room_client("alice", "enwiki").connect().unwrap();
    joined(&stream, 10).await;
    let mut publisher = prosody.publisher(&["enwiki"]);
    let room = room_bare("enwiki");
    publish(&mut publisher, "enwiki", 1..=20).await;
    let got = collect_n(&mut stream, 20, 10).await;
    for (i, c) in got.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(
            c.change,
            change("enwiki", n),
            "the change arrives with every field"
        );
        assert_eq!(c.room, room);
        assert!(
            c.stanza_id.is_some(),
            "Prosody stamps a stanza id (XEP-0359)"
        );
        assert!(!c.replayed);
        assert_eq!(c.kind, Kind::Edit, "RoomChange dereferences to the change");
    }
    assert!(
        publisher.flush(Duration::from_secs(5)).await,
        "the room confirmed every post"
    );
    stream.close().await;
}

#[tokio::test]
async fn several_rooms_each_with_its_own_changes() {
    let prosody = Prosody::start();
    let mut stream = prosody
        .room_client("alice", "enwiki")
        .room(&room_jid("dewiki"), "alice")
        .unwrap()
        .connect()
        .unwrap();
    joined(&stream, 10).await;
    let mut publisher = prosody.publisher(&["enwiki", "dewiki"]);
    let (en, de) = (room_bare("enwiki"), room_bare("dewiki"));
    for n in 1..=10 {
        publish(&mut publisher, "enwiki", n..=n).await;
        publish(&mut publisher, "dewiki", n..=n).await;
    }
    let got = collect_n(&mut stream, 20, 10).await;
    for (room, wiki) in [(&en, "enwiki"), (&de, "dewiki")] {
        let ids: Vec<u64> = got
            .iter()
            .filter(|c| &c.room == room)
            .map(|c| c.rcid.unwrap())
            .collect();
        assert_eq!(ids, (1..=10).collect::<Vec<_>>(), "{room}: all, in order");
        assert!(got
            .iter()
            .filter(|c| &c.room == room)
            .all(|c| c.wiki.as_deref() == Some(wiki)));
    }
}

#[tokio::test]
async fn malformed_and_foreign_messages_are_error_items_and_the_stream_goes_on() {
    let prosody = Prosody::start();
    let mut stream = prosody.room_client("alice", "enwiki").connect().unwrap();
    joined(&stream, 10).await;
    let mut publisher = prosody.publisher(&["enwiki"]);
    let room = room_bare("enwiki");
    let bad: minidom::Element =
        r#"<rc xmlns="jabber:client" type="edit" rcid="12x" title="Broken"/>"#
            .parse()
            .unwrap();
    publish(&mut publisher, "enwiki", 1..=1).await;
    publisher
        .post(&room, "[[Broken]] with a bad rcid", vec![bad])
        .await
        .unwrap();
    publisher
        .post(&room, "just chatting, no payload", vec![])
        .await
        .unwrap();
    publish(&mut publisher, "enwiki", 2..=2).await;

    assert_eq!(next_within(&mut stream, 10).await.unwrap().rcid, Some(1));
    match next_within(&mut stream, 10).await {
        Err(StreamError::BadPayload { room: r, error, .. }) => {
            assert_eq!(r, room);
            assert!(error.to_string().contains("`rcid` has \"12x\""), "{error}");
        }
        other => panic!("expected a bad payload error, got {other:?}"),
    }
    match next_within(&mut stream, 10).await {
        Err(e @ StreamError::NoPayload { .. }) => {
            assert!(
                e.to_string().contains("enwiki@conference.localhost"),
                "names the room: {e}"
            );
            assert!(
                e.to_string().contains("just chatting"),
                "shows the body: {e}"
            );
        }
        other => panic!("expected a no-payload error, got {other:?}"),
    }
    assert_eq!(
        next_within(&mut stream, 10).await.unwrap().rcid,
        Some(2),
        "the stream went on"
    );
}

#[tokio::test]
async fn wrong_password_is_a_terminal_error_not_a_retry_loop() {
    let prosody = Prosody::start();
    let mut stream = Client::builder("alice@localhost", "not-her-password")
        .unwrap()
        .server(&prosody.addr())
        .unwrap()
        .tls(Tls::PlaintextLoopback)
        .room(&room_jid("enwiki"), "alice")
        .unwrap()
        .connect()
        .unwrap();
    match next_within(&mut stream, 10).await {
        Err(StreamError::Fatal(Fatal::Auth { account, condition })) => {
            assert_eq!(account, "alice@localhost");
            assert!(condition.contains("NotAuthorized"), "{condition}");
        }
        other => panic!("expected an authentication failure, got {other:?}"),
    }
    let end = tokio::time::timeout(
        Duration::from_secs(5),
        futures::StreamExt::next(&mut stream),
    )
    .await;
    assert!(
        matches!(end, Ok(None)),
        "the stream ends after a fatal error"
    );
    assert!(matches!(
        stream.status().borrow().connection,
        Connection::Failed { .. }
    ));
    let shown = format!("{:?}", stream.status().borrow());
    assert!(
        !shown.contains("not-her-password"),
        "the password never shows: {shown}"
    );
}

#[tokio::test]
async fn nick_conflict_retries_with_a_derived_nick() {
    let prosody = Prosody::start();
    let first = prosody
        .client("alice")
        .room(&room_jid("enwiki"), "watcher")
        .unwrap()
        .connect()
        .unwrap();
    joined(&first, 10).await;
    let mut second = prosody
        .client("bob")
        .room(&room_jid("enwiki"), "watcher")
        .unwrap()
        .connect()
        .unwrap();
    joined(&second, 10).await;
    let nick = match &second.status().borrow().rooms[&room_jid("enwiki")] {
        RoomState::Joined { nick, .. } => nick.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(nick, "watcher_2");
    let mut publisher = prosody.publisher(&["enwiki"]);
    let got = publish_and_receive(&mut publisher, &mut second, "enwiki", 7).await;
    assert_eq!(got.rcid, Some(7), "the renamed client receives changes");
}

#[tokio::test]
async fn starttls_with_verified_certificate_and_anonymous_login() {
    let prosody = Prosody::start();
    let mut stream = Client::anonymous("anon.localhost")
        .unwrap()
        .server(&prosody.addr())
        .unwrap()
        .tls(Tls::RequiredWithRoots(vec![prosody.ca_cert()]))
        .room(&room_jid("enwiki"), "anon-reader")
        .unwrap()
        .connect()
        .unwrap();
    joined(&stream, 10).await;
    let mut publisher = prosody.publisher(&["enwiki"]);
    let got = publish_and_receive(&mut publisher, &mut stream, "enwiki", 3).await;
    assert_eq!(got.rcid, Some(3));
    match &stream.status().borrow().connection {
        Connection::Online { jid } => {
            assert!(jid.contains("@anon.localhost/"), "an anonymous JID: {jid}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn plaintext_to_a_non_loopback_server_is_refused() {
    let err = Client::builder("alice@example.org", "x")
        .unwrap()
        .server("192.0.2.1:5222")
        .unwrap()
        .tls(Tls::PlaintextLoopback)
        .room("enwiki@conference.example.org", "a")
        .unwrap()
        .connect()
        .err()
        .expect("refused");
    assert_eq!(err, recentchanges_xmpp::ConfigError::PlaintextNotLoopback);
}

#[tokio::test]
async fn an_invalid_stanza_from_the_room_is_an_error_item() {
    let prosody = Prosody::start();
    let mut stream = prosody.room_client("alice", "enwiki").connect().unwrap();
    joined(&stream, 10).await;
    let mut publisher = prosody.publisher(&["enwiki"]);
    let room = room_bare("enwiki");
    // Two threads: the server relays it, XMPP parsers refuse it.
    let thread = |t: &str| -> minidom::Element {
        format!(r#"<thread xmlns="jabber:client">{t}</thread>"#)
            .parse()
            .unwrap()
    };
    publisher
        .post(&room, "two threads", vec![thread("a"), thread("b")])
        .await
        .unwrap();
    publish(&mut publisher, "enwiki", 1..=1).await;
    match next_within(&mut stream, 10).await {
        Err(e @ StreamError::InvalidStanza { .. }) => {
            assert!(e.to_string().contains("enwiki@conference.localhost"), "{e}")
        }
        other => panic!("expected an invalid stanza item, got {other:?}"),
    }
    assert_eq!(
        next_within(&mut stream, 10).await.unwrap().rcid,
        Some(1),
        "the stream goes on"
    );
    assert!(
        publisher.flush(Duration::from_secs(5)).await,
        "the publisher saw both reflected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_fails_verification_is_fatal_not_retried() {
    let prosody = Prosody::start();
    // The server's certificate is signed by the test CA, which is not among the system's
    // roots: verification fails, and would fail on every attempt.
    let mut stream = Client::anonymous("anon.localhost")
        .unwrap()
        .server(&prosody.addr())
        .unwrap()
        .tls(Tls::Required)
        .room(&room_jid("enwiki"), "anon-reader")
        .unwrap()
        .connect()
        .unwrap();
    let item = next_within(&mut stream, 15).await;
    match item {
        Err(StreamError::Fatal(Fatal::Certificate { server, reason })) => {
            assert_eq!(server, "anon.localhost");
            assert!(reason.contains("UnknownIssuer"), "{reason}");
        }
        other => panic!("expected a fatal certificate error, got {other:?}"),
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("the stream ends")
            .is_none(),
        "nothing after the fatal error"
    );
    let status = stream.status().borrow().clone();
    assert!(
        matches!(status.connection, Connection::Failed { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_the_server_never_answers_gets_a_new_connection_and_the_room_once_it_answers() {
    let prosody = Prosody::start();
    // The MUC service swallows joins to room `silent` (a handler that ends the event
    // before Prosody answers), while the connection stays up and answers pings.
    let hook = "prosody.hosts['conference.localhost'].events.add_handler('muc-occupant-pre-join', \
                rawget(_G, 'rc_swallow_joins'), 1000)";
    prosody.lua(
        "rawset(_G, 'rc_swallow_joins', function(e) if tostring(e.room.jid):match('^silent@') then return true end end)",
    );
    prosody.lua(hook);
    let mut stream = prosody
        .room_client("alice", "silent")
        .request_timeout(Duration::from_secs(2))
        .connect()
        .unwrap();
    rc_testkit::wait_status(
        stream.status(),
        20,
        "a new connection after the unanswered join",
        |s| s.connections >= 2,
    )
    .await;
    assert!(
        !rc_testkit::all_joined(&stream.status().borrow()),
        "the join was never answered"
    );
    prosody.lua(
        "prosody.hosts['conference.localhost'].events.remove_handler('muc-occupant-pre-join', rawget(_G, 'rc_swallow_joins'))",
    );
    joined(&stream, 20).await;
    let mut publisher = prosody.publisher(&["silent"]);
    let got = publish_and_receive(&mut publisher, &mut stream, "silent", 1).await;
    assert_eq!(got.rcid, Some(1));
}
