//! What room owners and administrators do to a client: kick, ban, restrict, protect,
//! destroy. Done for real through Prosody's admin shell.

mod common;

use std::time::Duration;

use common::{publish, publish_and_receive, rcids};
use rc_testkit::{
    all_joined, collect_n, joined, next_within, room_jid, wait_status, Prosody, XmppServer,
};
use recentchanges_xmpp::{RoomError, RoomState, StreamError};

async fn wait_room(
    stream: &recentchanges_xmpp::ChangeStream,
    room: &str,
    pred: impl Fn(&RoomState) -> bool,
) {
    let room = room_jid(room);
    wait_status(stream.status(), 10, "room state", |s| {
        s.rooms.get(&room).is_some_and(&pred)
    })
    .await;
}

#[tokio::test]
async fn kicked_rejoins_after_a_delay_and_misses_nothing() {
    let prosody = Prosody::start();
    let mut publisher = prosody.publisher(&["enwiki"]);
    let mut stream = prosody
        .room_client("alice", "enwiki")
        .rejoin_delay(Duration::from_millis(500))
        .connect()
        .unwrap();
    joined(&stream, 10).await;
    let got = publish_and_receive(&mut publisher, &mut stream, "enwiki", 1).await;
    assert_eq!(got.rcid, Some(1));

    prosody.lua(&format!(
        "{}:set_role(true, '{}/alice', 'none', 'go away')",
        prosody.room_lua("enwiki"),
        room_jid("enwiki")
    ));
    wait_room(
        &stream,
        "enwiki",
        |s| matches!(s, RoomState::Rejoining { reason } if reason == "kicked"),
    )
    .await;
    publish(&mut publisher, "enwiki", 2..=2).await; // posted while out of the room
    wait_room(&stream, "enwiki", |s| matches!(s, RoomState::Joined { .. })).await;
    publish(&mut publisher, "enwiki", 3..=3).await;
    let got = collect_n(&mut stream, 2, 10).await;
    assert_eq!(rcids(&got), [2, 3]);
    assert!(
        got[0].replayed,
        "the change posted while kicked came from the archive"
    );
}

#[tokio::test]
async fn banned_room_beside_a_healthy_one() {
    let prosody = Prosody::start();
    let mut publisher = prosody.publisher(&["enwiki", "dewiki"]);
    let mut stream = prosody
        .room_client("alice", "enwiki")
        .room(&room_jid("dewiki"), "alice")
        .unwrap()
        .connect()
        .unwrap();
    joined(&stream, 10).await;
    prosody.lua(&format!(
        "{}:set_affiliation(true, 'alice@localhost', 'outcast', 'spam')",
        prosody.room_lua("dewiki")
    ));
    match next_within(&mut stream, 10).await {
        Err(StreamError::Room { room, error }) => {
            assert_eq!(room.as_str(), room_jid("dewiki"));
            assert_eq!(error, RoomError::Banned);
        }
        other => panic!("expected the ban, got {other:?}"),
    }
    assert!(matches!(
        stream.status().borrow().rooms[&room_jid("dewiki")],
        RoomState::Failed { .. }
    ));
    let got = publish_and_receive(&mut publisher, &mut stream, "enwiki", 5).await;
    assert_eq!(got.rcid, Some(5), "the healthy room goes on");
}

#[tokio::test]
async fn members_only_password_protected_and_destroyed_rooms_say_why() {
    let prosody = Prosody::start();
    // Rooms made by their owner (the publisher), then locked down by the administrator.
    let _publisher = prosody.publisher(&["private", "secret", "doomed"]);
    wait_status(_publisher.status(), 10, "the owner joined", |s| {
        s.rooms.len() == 3 && all_joined(s)
    })
    .await;
    prosody.lua(&format!(
        "{}:set_members_only(true)",
        prosody.room_lua("private")
    ));
    prosody.lua(&format!(
        "{}:set_password('opensesame')",
        prosody.room_lua("secret")
    ));

    let mut stream = prosody
        .client("alice")
        .room(&room_jid("private"), "alice")
        .unwrap()
        .room(&room_jid("secret"), "alice")
        .unwrap()
        .room(&room_jid("doomed"), "alice")
        .unwrap()
        .connect()
        .unwrap();
    let mut errors = Vec::new();
    for _ in 0..2 {
        match next_within(&mut stream, 10).await {
            Err(StreamError::Room { room, error }) => errors.push((room.to_string(), error)),
            other => panic!("expected a room error, got {other:?}"),
        }
    }
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        errors,
        [
            (room_jid("private"), RoomError::MembersOnly),
            (room_jid("secret"), RoomError::PasswordRequired)
        ]
    );
    wait_room(&stream, "doomed", |s| matches!(s, RoomState::Joined { .. })).await;
    prosody.lua(&format!(
        "{}:destroy(nil, 'wiki closed')",
        prosody.room_lua("doomed")
    ));
    match next_within(&mut stream, 10).await {
        Err(StreamError::Room { room, error }) => {
            assert_eq!(room.as_str(), room_jid("doomed"));
            assert_eq!(
                error,
                RoomError::Destroyed {
                    reason: Some("wiki closed".into())
                }
            );
        }
        other => panic!("expected the destruction, got {other:?}"),
    }

    // With the password, the protected room lets us in.
    let with_password = prosody
        .client("bob")
        .room_with_password(&room_jid("secret"), "bob", "opensesame")
        .unwrap()
        .connect()
        .unwrap();
    joined(&with_password, 10).await;
}

#[tokio::test]
async fn silently_lost_membership_is_found_by_self_ping_and_repaired() {
    let prosody = Prosody::start();
    let mut publisher = prosody.publisher(&["enwiki"]);
    let mut stream = prosody
        .room_client("alice", "enwiki")
        .self_ping_interval(Duration::from_secs(1))
        .connect()
        .unwrap();
    joined(&stream, 10).await;
    let got = publish_and_receive(&mut publisher, &mut stream, "enwiki", 1).await;
    assert_eq!(got.rcid, Some(1));
    // The room forgets alice without telling her, as after a room reload.
    prosody.lua(&format!(
        "local r = {}; for nick in pairs(r._occupants) do if nick:match('/alice$') then r._occupants[nick] = nil end end; for j, n in pairs(r._jid_nick) do if n:match('/alice$') then r._jid_nick[j] = nil end end",
        prosody.room_lua("enwiki")
    ));
    // Not delivered to alice as it is posted: she finds it in the archive once back.
    let got = publish_and_receive(&mut publisher, &mut stream, "enwiki", 2).await;
    assert_eq!(
        (got.rcid, got.replayed),
        (Some(2), true),
        "recovered from the archive after the rejoin"
    );
    let got = publish_and_receive(&mut publisher, &mut stream, "enwiki", 3).await;
    assert_eq!(got.rcid, Some(3));
}

#[tokio::test]
async fn a_join_refused_while_the_muc_service_is_down_is_retried() {
    let prosody = Prosody::start();
    let publisher = prosody.publisher(&["enwiki"]);
    wait_status(publisher.status(), 10, "the owner joined", all_joined).await;
    // The MUC component stops, as in a restart: joins get service-unavailable.
    prosody.lua("require'core.modulemanager'.unload('conference.localhost', 'muc')");
    let mut stream = prosody
        .room_client("alice", "enwiki")
        .rejoin_delay(Duration::from_millis(300))
        .connect()
        .unwrap();
    wait_room(
        &stream,
        "enwiki",
        |s| matches!(s, RoomState::Rejoining { reason } if reason == "service-unavailable"),
    )
    .await;
    prosody.lua("require'core.modulemanager'.load('conference.localhost', 'muc')");
    wait_room(&stream, "enwiki", |s| matches!(s, RoomState::Joined { .. })).await;
    drop(publisher);
    let mut publisher = prosody.publisher(&["enwiki"]);
    let got = publish_and_receive(&mut publisher, &mut stream, "enwiki", 1).await;
    assert_eq!(got.rcid, Some(1), "the room came back");
}
