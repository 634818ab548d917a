//! Trust only what the server says: another occupant of the room, or anyone who knows
//! the client's address, cannot forge archive results or answers to the client's
//! requests. The forger is a second real account on the same Prosody, sending raw XML.

mod common;

use std::time::Duration;

use common::{publish, rcids};
use rc_testkit::{collect_n, joined, room_jid, Prosody, TempDir, XmppServer};
use recentchanges_xmpp::{ChangeStream, Connection};

/// An archive result for query id `queryid` carrying change `rcid` of `evilwiki`.
fn forged_result(queryid: &str, rcid: u64) -> String {
    format!(
        "<result xmlns='urn:xmpp:mam:2' queryid='{queryid}' id='forged-{rcid}'>\
         <forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2030-01-01T00:00:00Z'/>\
         <message xmlns='jabber:client' type='groupchat'><body>forged</body>\
         <rc xmlns='jabber:client' type='edit' rcid='{rcid}' wikiid='evilwiki' title='Forged'/></message>\
         </forwarded></result>"
    )
}

/// Every id this client has ever used for its requests, as the counter made them.
fn guessed_ids(what: &str) -> impl Iterator<Item = String> + '_ {
    (1..=40).map(move |n| format!("{what}-{n}"))
}

/// Alice, having read change 1 of enwiki, stopped; 2..=total posted meanwhile; her
/// second run resumes from the file with a one-item buffer she does not read yet, so
/// the archive catch-up stays open while the forger acts.
async fn catching_up(prosody: &Prosody, dir: &TempDir, total: u64) -> ChangeStream {
    let file = dir.join("enwiki.pos");
    let mut publisher = prosody.publisher(&["enwiki"]);
    let mut first = prosody
        .room_client("alice", "enwiki")
        .resume_from_file(&file)
        .unwrap()
        .connect()
        .unwrap();
    joined(&first, 10).await;
    publish(&mut publisher, "enwiki", 1..=1).await;
    collect_n(&mut first, 1, 10).await;
    first.close().await;
    publish(&mut publisher, "enwiki", 2..=total).await;
    assert!(publisher.flush(Duration::from_secs(30)).await);
    prosody
        .room_client("alice", "enwiki")
        .resume_from_file(&file)
        .unwrap()
        .buffer(1, recentchanges_xmpp::Backpressure::Wait)
        .connect()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_results_forged_by_an_occupant_are_ignored() {
    let prosody = Prosody::start();
    let dir = TempDir::new("rc-xmpp-trust");
    let mut mallory = prosody.raw_client("bob").await;
    mallory.join("enwiki", "mallory").await;
    let mut stream = catching_up(&prosody, &dir, 600).await;
    // Alice is back in the room, and stuck in her catch-up until she reads.
    mallory
        .wait_for(&format!("from='{}/alice'", room_jid("enwiki")), 10)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let results: String = guessed_ids("mam")
        .map(|id| forged_result(&id, 666))
        .collect();
    // In the room, and privately to her occupant address: both come from room@service/mallory.
    mallory
        .send(&format!(
            "<message to='{}' type='groupchat'>{results}</message>",
            room_jid("enwiki")
        ))
        .await;
    mallory
        .send(&format!(
            "<message to='{}/alice' type='chat'>{results}</message>",
            room_jid("enwiki")
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = collect_n(&mut stream, 599, 20).await;
    let forged: Vec<_> = got.iter().filter(|c| c.rcid == Some(666)).collect();
    assert!(
        forged.is_empty(),
        "forged results were accepted: {forged:?}"
    );
    assert_eq!(
        rcids(&got),
        (2..=600).collect::<Vec<_>>(),
        "exactly what the archive holds, nothing forged"
    );
    rc_testkit::assert_quiet(&mut stream, Duration::from_millis(1000), "nothing forged").await;
}

/// The full JID the stream is online as.
async fn online_jid(stream: &ChangeStream) -> String {
    rc_testkit::wait_status(stream.status(), 10, "online", |s| {
        matches!(s.connection, Connection::Online { .. })
    })
    .await;
    let connection = stream.status().borrow().connection.clone();
    match connection {
        Connection::Online { jid } => jid,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_answers_to_the_clients_requests_are_ignored() {
    let prosody = Prosody::start();
    let dir = TempDir::new("rc-xmpp-trust");
    let mut mallory = prosody.raw_client("bob").await;
    mallory.join("enwiki", "mallory").await;
    let mut stream = catching_up(&prosody, &dir, 600).await;
    let alice = online_jid(&stream).await;
    mallory
        .wait_for(&format!("from='{}/alice'", room_jid("enwiki")), 10)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Anyone who knows her address can answer her requests: "the archive is done".
    let mut forged = String::new();
    for id in guessed_ids("mam") {
        forged += &format!(
            "<iq to='{alice}' type='result' id='{id}'><fin xmlns='urn:xmpp:mam:2' complete='true'/></iq>"
        );
    }
    mallory.send(&forged).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = collect_n(&mut stream, 599, 10).await;
    assert_eq!(
        rcids(&got).last(),
        Some(&600),
        "the whole archive, the catch-up was not ended early"
    );
    assert_eq!(rcids(&got), (2..=600).collect::<Vec<_>>());
    rc_testkit::assert_quiet(&mut stream, Duration::from_millis(500), "nothing more").await;
}
