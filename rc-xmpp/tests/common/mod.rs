//! What rc-xmpp's tests share beyond rc-testkit (the Prosody fixture and the waiting):
//! the numbered changes they publish and read back.
#![allow(dead_code)] // each test file uses part of it

use std::ops::RangeInclusive;

use rc_testkit::{next_within, room_bare};
use recentchanges_core::{Kind, RecentChange};
use recentchanges_xmpp::{ChangeStream, Publisher, RoomChange};

/// A change numbered `n` of wiki `wiki`.
pub fn change(wiki: &str, n: u64) -> RecentChange {
    let mut rc = RecentChange::new(Kind::Edit);
    rc.rcid = Some(n);
    rc.wiki = Some(wiki.to_owned());
    rc.namespace = Some(0);
    rc.title = Some(format!("Page {n}"));
    rc.user = Some("Tester".into());
    rc.old_len = Some(100);
    rc.new_len = Some(100 + n);
    rc.rev_id = Some(1000 + n);
    rc.old_rev_id = Some(999 + n);
    rc.comment = Some(format!("edit number {n} <&>"));
    rc.timestamp = Some(chrono::DateTime::from_timestamp(1_795_424_344 + n as i64, 0).unwrap());
    rc
}

/// Publishes the changes numbered `numbers` of `wiki` into the room of the same name.
pub async fn publish(publisher: &mut Publisher, wiki: &str, numbers: RangeInclusive<u64>) {
    let room = room_bare(wiki);
    for n in numbers {
        publisher.publish(&room, &change(wiki, n)).await.unwrap();
    }
}

/// Publishes change `n` of `wiki` and returns the next change of `stream` (within 10 s;
/// panics on an error item), which should be that one.
pub async fn publish_and_receive(
    publisher: &mut Publisher,
    stream: &mut ChangeStream,
    wiki: &str,
    n: u64,
) -> RoomChange {
    publish(publisher, wiki, n..=n).await;
    next_within(stream, 10).await.unwrap()
}

/// The rcids of changes read back, in order.
pub fn rcids(got: &[RoomChange]) -> Vec<u64> {
    got.iter().map(|c| c.rcid.unwrap()).collect()
}
