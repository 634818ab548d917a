//! The XMPP payloads the room client sends and reads, typed by xmpp-parsers: MUC joins
//! (XEP-0045), room archive queries and results (XEP-0313 with RSM, XEP-0059), stanza ids
//! (XEP-0359) and delays (XEP-0203). Each room message is read once, into a
//! [`RoomMessage`].
//!
//! Where xmpp-parsers is stricter than a server (or lacks a part, such as a room's
//! `<destroy/>` in 0.23), the raw element is read instead, so that nothing is lost
//! for it; the tests below say where.

use chrono::{DateTime, SubsecRound, Utc};
use minidom::Element;
use tokio_xmpp::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::data_forms::{DataForm, DataFormType, Field};
use xmpp_parsers::delay::Delay;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::mam;
use xmpp_parsers::message::{Lang, Message, MessageType};
use xmpp_parsers::muc::muc::History;
use xmpp_parsers::muc::user::{MucUser as MucUserPayload, Status};
use xmpp_parsers::muc::Muc;
use xmpp_parsers::ns;
use xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_parsers::rsm::SetQuery;
use xmpp_parsers::stanza_error::StanzaError;
use xmpp_parsers::stanza_id::StanzaId;

use crate::session::shortcut::Groupchat;
use crate::session::stanzas::condition;
use recentchanges_core::{ParseError, RecentChange};

/// How much history to ask for when joining.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum HistoryRequest {
    Nothing,
    Last(u32),
    Since(DateTime<Utc>),
}

/// An XEP-0082 time, to the second.
fn xmpp_time(t: DateTime<Utc>) -> xmpp_parsers::date::DateTime {
    xmpp_parsers::date::DateTime(t.trunc_subsecs(0).fixed_offset())
}

/// The presence that joins `occupant` (room@service/nick).
pub(crate) fn join(
    occupant: &FullJid,
    history: HistoryRequest,
    password: Option<&str>,
) -> Presence {
    let history = match history {
        HistoryRequest::Nothing => History::new().with_maxstanzas(0),
        HistoryRequest::Last(n) => History::new().with_maxstanzas(n),
        HistoryRequest::Since(t) => History::new().with_since(xmpp_time(t)),
    };
    let mut muc = Muc::new().with_history(history);
    if let Some(p) = password {
        muc = muc.with_password(p.to_owned());
    }
    Presence::new(PresenceType::None)
        .with_to(Jid::from(occupant.clone()))
        .with_payload(muc)
}

/// The presence that leaves a room.
pub(crate) fn leave(occupant: &FullJid) -> Presence {
    Presence::new(PresenceType::Unavailable).with_to(Jid::from(occupant.clone()))
}

/// A groupchat message to a room with a text body and payloads.
pub(crate) fn groupchat(room: &BareJid, body: &str, payloads: Vec<Element>) -> Message {
    Message::new_with_type(MessageType::Groupchat, Some(Jid::from(room.clone())))
        .with_body(Lang::default(), body.to_owned())
        .with_payloads(payloads)
}

/// Which page of a room archive to ask for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Page<'a> {
    /// What came after this archive id.
    After(&'a str),
    /// What was archived since this time (whole seconds: Prosody stamps its archive to
    /// the second, so the time is truncated, and a change of that second may come again).
    Since(DateTime<Utc>),
    /// The newest messages.
    Newest,
}

/// A room archive query for one page of at most `max` messages, oldest first.
/// `queryid` marks the results; nobody else may know it
/// ([`Ids::secret`](crate::session::stanzas::Ids::secret)).
pub(crate) fn mam_query(room: &BareJid, id: &str, queryid: &str, page: Page<'_>, max: u32) -> Iq {
    let mut set = SetQuery {
        max: Some(max as usize),
        after: None,
        before: None,
        index: None,
    };
    let mut form = None;
    match page {
        Page::After(a) => set.after = Some(a.to_owned()),
        // An empty `<before/>` asks for the last page: the newest messages.
        Page::Newest => set.before = Some(String::new()),
        Page::Since(t) => {
            let start = xmpp_time(t).format("%Y-%m-%dT%H:%M:%SZ");
            form = Some(DataForm::new(
                DataFormType::Submit,
                ns::MAM,
                vec![Field::text_single("start", &start)],
            ));
        }
    }
    let query = mam::Query {
        queryid: Some(mam::QueryId(queryid.to_owned())),
        node: None,
        form,
        set: Some(set),
        flip_page: false,
    };
    Iq::from_set(id, query).with_to(Jid::from(room.clone()))
}

/// Whether an element is a change payload: an `<rc>` or `<recentchange>`, in any
/// namespace.
fn is_change(e: &Element) -> bool {
    matches!(e.name(), "rc" | "recentchange")
}

/// A message's change payload: an element tokio-xmpp built, or the bytes of an `<rc>`
/// read the [short way](crate::session::shortcut).
#[derive(Debug)]
pub(crate) enum Payload {
    Element(Element),
    Rc(String),
}

impl Payload {
    /// The change it holds.
    pub fn parse(&self) -> Result<RecentChange, ParseError> {
        match self {
            Payload::Element(e) => recentchanges_core::from_element(e),
            Payload::Rc(text) => recentchanges_core::parse_rc(text),
        }
    }
}

/// One room message, read once: what the room driver turns into an item.
#[derive(Debug, Default)]
pub(crate) struct RoomMessage {
    /// The room's stanza id (XEP-0359; for an archived message, its archive id).
    pub stanza_id: Option<String>,
    /// When it was first sent, if a delay (XEP-0203) says so.
    pub sent_at: Option<DateTime<Utc>>,
    /// The change payload, if there is one.
    pub payload: Option<Payload>,
    /// The first body.
    pub body: Option<String>,
    /// It carried a delay: the room replayed it from its history.
    pub delayed: bool,
}

impl RoomMessage {
    /// A message as `room` sent it (live, or from its history): its stanza id is the one
    /// the room gave it (`by` the room), not one another entity added.
    pub fn live(m: Message, room: &BareJid) -> RoomMessage {
        let mut read = RoomMessage {
            body: m.bodies.into_values().next(),
            ..RoomMessage::default()
        };
        for e in m.payloads {
            if e.is("delay", ns::DELAY) {
                read.delayed = true;
            }
            if e.is("stanza-id", ns::SID) {
                match StanzaId::try_from(e) {
                    Ok(sid) if sid.by.as_str().eq_ignore_ascii_case(room.as_str()) => {
                        read.stanza_id.get_or_insert(sid.id);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(%room, "skipping a stanza id that does not parse: {e}")
                    }
                }
            } else if e.is("delay", ns::DELAY) {
                if read.sent_at.is_none() {
                    read.sent_at = delay(e);
                }
            } else if read.payload.is_none() && is_change(&e) {
                read.payload = Some(Payload::Element(e));
            }
        }
        read
    }

    /// A message as `room` sent it, read the short way: the same rules as
    /// [`live`](Self::live) (the first stanza id `by` the room, the first delay that
    /// parses), on the values as written.
    pub fn short(g: Groupchat, room: &BareJid) -> RoomMessage {
        let by_room = |by: &str| {
            // As the room's address is written, or once normalized (a JID's parse is
            // slower than the rest of the message).
            by.eq_ignore_ascii_case(room.as_str())
                || Jid::new(by).is_ok_and(|by| by.as_str().eq_ignore_ascii_case(room.as_str()))
        };
        let stanza_id = g
            .stanza_ids
            .into_iter()
            .find_map(|(id, by)| by_room(&by).then_some(id));
        let sent_at = g.delays.iter().find_map(|stamp| {
            delay_time(stamp.parse::<xmpp_parsers::date::DateTime>().map(|t| t.0))
        });
        RoomMessage {
            stanza_id,
            sent_at,
            payload: Some(Payload::Rc(g.rc)),
            body: None,
            delayed: !g.delays.is_empty(),
        }
    }

    /// A message replayed from the archive: its archive id and the archive's delay.
    fn archived(r: mam::Result_) -> RoomMessage {
        let m = r.forwarded.message;
        RoomMessage {
            stanza_id: Some(r.id),
            sent_at: r.forwarded.delay.map(|d| d.stamp.0.to_utc()),
            payload: m.payloads.into_iter().find(is_change).map(Payload::Element),
            body: m.bodies.into_values().next(),
            delayed: false,
        }
    }

    /// An archive result xmpp-parsers refused (its `<forwarded/>` message does not
    /// parse: a duplicate body, an odd attribute...), read as a plain element so that the
    /// change it holds is not lost.
    fn archived_raw(result: &Element) -> Option<RoomMessage> {
        let forwarded = result.get_child("forwarded", ns::FORWARD)?;
        let message = forwarded.children().find(|c| c.name() == "message")?;
        Some(RoomMessage {
            stanza_id: Some(result.attr("id")?.to_owned()),
            sent_at: forwarded
                .get_child("delay", ns::DELAY)
                .and_then(|d| delay(d.clone())),
            payload: message
                .children()
                .find(|c| is_change(c))
                .cloned()
                .map(Payload::Element),
            body: message
                .children()
                .find(|c| c.name() == "body")
                .map(|b| b.text()),
            delayed: false,
        })
    }
}

/// The time a delay (XEP-0203) stamps.
fn delay(e: Element) -> Option<DateTime<Utc>> {
    delay_time(Delay::try_from(e).map(|d| d.stamp.0))
}

/// A delay's time as read from its element or its stamp; one that does not parse is
/// skipped (and logged).
fn delay_time<E: std::fmt::Display>(
    read: Result<DateTime<chrono::FixedOffset>, E>,
) -> Option<DateTime<Utc>> {
    match read {
        Ok(t) => Some(t.to_utc()),
        Err(e) => {
            tracing::debug!("skipping a delay that does not parse: {e}");
            None
        }
    }
}

/// Whether a message carries a change payload.
pub(crate) fn has_change(m: &Message) -> bool {
    m.payloads.iter().any(is_change)
}

/// The archived message a MAM result carries, if this message is one for query
/// `queryid`: taken out of the message's payloads, read into a [`RoomMessage`].
pub(crate) fn mam_result(m: &mut Message, queryid: &str) -> Option<RoomMessage> {
    let at = m
        .payloads
        .iter()
        .position(|e| e.is("result", ns::MAM) && e.attr("queryid") == Some(queryid))?;
    let result = m.payloads.swap_remove(at);
    match mam::Result_::try_from(result.clone()) {
        Ok(r) => Some(RoomMessage::archived(r)),
        Err(e) => {
            tracing::warn!("an archive result xmpp-parsers refuses ({e}); reading it as it is");
            RoomMessage::archived_raw(&result)
        }
    }
}

/// From a MAM `<fin>`: whether the archive is exhausted, and the last id of the page.
/// A payload that is no `<fin>` (or one xmpp-parsers refuses: it requires the RSM
/// `<set/>`) ends the replay.
pub(crate) fn mam_fin(payload: Option<Element>) -> (bool, Option<String>) {
    let Some(payload) = payload.filter(|p| p.is("fin", ns::MAM)) else {
        return (true, None);
    };
    match mam::Fin::try_from(payload) {
        Ok(fin) => (fin.complete, fin.set.last),
        Err(e) => {
            tracing::warn!("an archive answer xmpp-parsers refuses ({e}); the replay ends");
            (true, None)
        }
    }
}

/// The MUC user info of a presence: status codes and a room destruction, if any.
#[derive(Debug, Default)]
pub(crate) struct MucUser {
    pub statuses: Vec<Status>,
    pub destroyed: Option<Option<String>>,
}

impl MucUser {
    pub fn of(payloads: &[Element]) -> MucUser {
        let Some(x) = payloads.iter().find(|e| e.is("x", ns::MUC_USER)) else {
            return MucUser::default();
        };
        let statuses = match MucUserPayload::try_from(x.clone()) {
            Ok(user) => user.status,
            // xmpp-parsers refuses the whole element for one part it does not know (a
            // status code outside its list, a bare JID in an <item/>): keep the status
            // codes it knows.
            Err(e) => {
                tracing::debug!("reading the MUC status codes one by one: {e}");
                x.children()
                    .filter(|c| c.is("status", ns::MUC_USER))
                    .filter_map(|c| Status::try_from(c.clone()).ok())
                    .collect()
            }
        };
        // xmpp-parsers 0.23 has no <destroy/> (XEP-0045 §10.9): read as it is.
        let destroyed = x.get_child("destroy", ns::MUC_USER).map(|d| {
            d.get_child("reason", ns::MUC_USER)
                .map(|r| r.text())
                .filter(|t| !t.is_empty())
        });
        MucUser {
            statuses,
            destroyed,
        }
    }

    pub fn has(&self, status: Status) -> bool {
        self.statuses.contains(&status)
    }
}

/// The defined condition of a stanza error carried as a payload (`<error><conflict/>`),
/// as its XML name.
pub(crate) fn error_condition(payloads: &[Element]) -> Option<String> {
    let error = payloads.iter().find(|e| e.name() == "error")?;
    match StanzaError::try_from(error.clone()) {
        Ok(e) => Some(condition(&e)),
        // Refused by xmpp-parsers (no `type`, say): the condition as it is.
        Err(_) => error
            .children()
            .find(|c| c.ns() == ns::XMPP_STANZAS && c.name() != "text")
            .map(|c| c.name().to_owned()),
    }
}

/// The start of a body, for error messages.
pub(crate) fn body_snippet(body: &str) -> String {
    const MAX: usize = 80;
    match body.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    fn room() -> BareJid {
        "wiki@conference.example.org".parse().unwrap()
    }

    const RC: &str =
        r#"<rc xmlns="jabber:client" type="edit" title="Main Page" rcid="7" wiki="enwiki"/>"#;

    #[test]
    fn a_join_asks_for_history_since_a_time_to_the_second() {
        let occupant: FullJid = "wiki@conference.example.org/bot".parse().unwrap();
        let since = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .unwrap()
            .to_utc();
        let p = join(&occupant, HistoryRequest::Since(since), Some("pw"));
        let x = Element::from(p);
        let muc = x.get_child("x", ns::MUC).expect("the MUC payload");
        let stamp = muc
            .get_child("history", ns::MUC)
            .and_then(|h| h.attr("since"));
        let stamp = DateTime::parse_from_rfc3339(stamp.expect("a since")).unwrap();
        assert_eq!(stamp.to_utc(), since.trunc_subsecs(0));
        assert_eq!(
            muc.get_child("password", ns::MUC).map(|p| p.text()),
            Some("pw".into())
        );
        let p = join(&occupant, HistoryRequest::Nothing, None);
        let xml = String::from(&Element::from(p));
        assert!(xml.contains("maxstanzas='0'"), "{xml}");
    }

    #[test]
    fn archive_queries_carry_the_secret_query_id_and_the_page() {
        let xml = |page| {
            let Iq::Set { payload, to, .. } = mam_query(&room(), "q1", "s3cr3t", page, 250) else {
                panic!("a set")
            };
            assert_eq!(to, Some(Jid::from(room())));
            String::from(&payload)
        };
        let after = xml(Page::After("abc"));
        assert!(after.contains("queryid='s3cr3t'"), "{after}");
        assert!(after.contains("<max>250</max>"), "{after}");
        assert!(after.contains("<after>abc</after>"), "{after}");
        let newest = xml(Page::Newest);
        assert!(newest.contains("<before"), "{newest}");
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.9Z")
            .unwrap()
            .to_utc();
        let since = xml(Page::Since(t));
        assert!(
            since.contains("<value>2026-01-02T03:04:05Z</value>"),
            "{since}"
        );
        assert!(since.contains("<value>urn:xmpp:mam:2</value>"), "{since}");
    }

    #[test]
    fn a_live_message_is_read_once_with_the_rooms_own_stanza_id() {
        let m = Message::try_from(el(&format!(
            r#"<message xmlns="jabber:client" from="wiki@conference.example.org/bot" type="groupchat">
                <body>edit</body>
                <stanza-id xmlns="urn:xmpp:sid:0" by="someone@example.org" id="forged"/>
                <stanza-id xmlns="urn:xmpp:sid:0" by="Wiki@conference.example.org" id="real"/>
                <delay xmlns="urn:xmpp:delay" stamp="2026-01-02T03:04:05Z"/>
                {RC}
            </message>"#
        )))
        .unwrap();
        assert!(has_change(&m));
        let read = RoomMessage::live(m, &room());
        assert!(read.delayed);
        assert_eq!(read.stanza_id.as_deref(), Some("real"));
        assert_eq!(
            read.sent_at.map(|t| t.to_rfc3339()),
            Some("2026-01-02T03:04:05+00:00".into())
        );
        assert_eq!(read.body.as_deref(), Some("edit"));
        assert!(matches!(read.payload, Some(Payload::Element(e)) if e.name() == "rc"));
    }

    /// `stanza` read by tokio-xmpp's way (a minidom element, then [`RoomMessage::live`])
    /// and the short way (`scan::tests::read`, then
    /// [`RoomMessage::short`]): the same stanza id, time, delay and change.
    fn both_ways(stanza: &str) -> (RoomMessage, RoomMessage) {
        both_ways_in(stanza, &room())
    }

    fn both_ways_in(stanza: &str, room: &BareJid) -> (RoomMessage, RoomMessage) {
        // In a stream, a stanza without `xmlns` is in the stream's `jabber:client`.
        let start_tag = &stanza[..stanza.find('>').unwrap()];
        let element = match start_tag.contains("xmlns") {
            true => el(stanza),
            false => el(&stanza.replacen("<message ", "<message xmlns='jabber:client' ", 1)),
        };
        let long = RoomMessage::live(Message::try_from(element).unwrap(), room);
        let g =
            crate::session::shortcut::scan::tests::read(stanza.as_bytes()).expect("the short way");
        assert_eq!(g.room, room.as_str());
        let short = RoomMessage::short(g, room);
        assert_eq!(
            (&long.stanza_id, long.sent_at, long.delayed),
            (&short.stanza_id, short.sent_at, short.delayed),
            "{stanza}"
        );
        // The same change, or the same error (the string parser also says where).
        let parsed = |m: &RoomMessage| {
            m.payload.as_ref().map(|p| {
                p.parse().map_err(|e| {
                    let e = e.to_string();
                    e.split(" (at byte ").next().unwrap_or_default().to_owned()
                })
            })
        };
        assert_eq!(parsed(&long), parsed(&short), "{stanza}");
        (long, short)
    }

    #[test]
    fn the_short_way_reads_a_message_as_tokio_xmpps_way_does() {
        both_ways(&format!(
            r#"<message xmlns="jabber:client" from="wiki@conference.example.org/bot" type="groupchat">
                <body>edit</body>
                <stanza-id xmlns="urn:xmpp:sid:0" by="someone@example.org" id="forged"/>
                <stanza-id xmlns="urn:xmpp:sid:0" by="Wiki@conference.example.org" id="real"/>
                <delay xmlns="urn:xmpp:delay" stamp="not a time"/>
                <delay xmlns="urn:xmpp:delay" stamp="2026-01-02T03:04:05.250+01:00"/>
                {RC}
            </message>"#
        ));
        // A bad change is the same error both ways.
        both_ways(
            r#"<message xmlns="jabber:client" from="wiki@conference.example.org/bot" type="groupchat"><rc type="edit" rcid="x"/></message>"#,
        );
    }

    /// A change as a real Prosody relays it to an occupant, taken from the bytes a raw
    /// client received: read the same both ways, with the room's stanza id.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_as_prosody_relays_it_reads_the_same_both_ways() {
        use rc_testkit::{room_bare, Prosody, XmppServer};
        let prosody = Prosody::start();
        let mut raw = prosody.raw_client("bob").await;
        raw.join("enwiki", "raw").await;
        raw.clear();
        let mut publisher = prosody.publisher(&["enwiki"]);
        let fixture = include_str!("../../../rc-core/tests/fixtures/mediawiki-1.39/0004.rc.xml");
        let change = recentchanges_core::parse_rc(fixture).unwrap();
        publisher
            .publish(&room_bare("enwiki"), &change)
            .await
            .unwrap();
        raw.wait_for("</rc>", 10).await;
        let text = raw.wait_for("</message>", 10).await;
        let rc_at = text.find("<rc ").unwrap();
        let start = text[..rc_at].rfind("<message").unwrap();
        let end = rc_at + text[rc_at..].find("</message>").unwrap() + "</message>".len();
        let (long, short) = both_ways_in(&text[start..end], &room_bare("enwiki"));
        assert!(short.stanza_id.is_some(), "{}", &text[start..end]);
        assert_eq!(
            long.payload.unwrap().parse().unwrap().title.as_deref(),
            Some("User:Botty")
        );
    }

    #[test]
    fn every_recorded_change_reads_the_same_both_ways_in_prosodys_and_ejabberds_shapes() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../rc-core/tests/fixtures/mediawiki-1.39"
        );
        let mut read = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".rc.xml") {
                continue;
            }
            let rc = std::fs::read_to_string(&path).unwrap();
            // As rc-xmpp's publisher sends it (in the client namespace), and as written.
            let rc_ns = rc.replacen("<rc ", r#"<rc xmlns="jabber:client" "#, 1);
            for rc in [rc.trim(), rc_ns.trim()] {
                // Prosody 0.12: the change, then the stanza id and the MUC user payload.
                both_ways(&format!(
                    "<message xmlns='jabber:client' from='wiki@conference.example.org/bridge' type='groupchat' id='abc' to='r@example.org/x'><body>a change</body>{rc}<stanza-id xmlns='urn:xmpp:sid:0' id='Xy1' by='wiki@conference.example.org'/><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/></x></message>"
                ));
                // ejabberd 23: the archive id first, double quotes, a replayed one delayed.
                let (_, short) = both_ways(&format!(
                    r#"<message xml:lang="en" to="r@example.org/x" from="wiki@conference.example.org/bridge" type="groupchat" id="1"><archived by="wiki@conference.example.org" xmlns="urn:xmpp:mam:tmp" id="17"/><stanza-id by="wiki@conference.example.org" xmlns="urn:xmpp:sid:0" id="17"/><delay xmlns="urn:xmpp:delay" from="wiki@conference.example.org" stamp="2026-12-06T10:00:00.123456Z"/><body>a change</body>{rc}</message>"#
                ));
                assert!(short.delayed && short.stanza_id.as_deref() == Some("17"));
            }
            read += 1;
        }
        assert!(read > 50, "only {read} recorded changes in {dir}");
    }

    fn archived(inner: &str, queryid: &str) -> Message {
        let mut m = Message::new(None);
        m.payloads.push(el(&format!(
            r#"<result xmlns="urn:xmpp:mam:2" queryid="{queryid}" id="arch-1">
                <forwarded xmlns="urn:xmpp:forward:0">
                    <delay xmlns="urn:xmpp:delay" stamp="2026-01-02T03:04:05Z"/>
                    {inner}
                </forwarded>
            </result>"#
        )));
        m
    }

    #[test]
    fn an_archive_result_is_read_only_for_its_query_id() {
        let inner = format!(
            r#"<message xmlns="jabber:client" from="wiki@conference.example.org/bot" type="groupchat"><body>b</body>{RC}</message>"#
        );
        let mut m = archived(&inner, "other");
        assert!(mam_result(&mut m, "s3cr3t").is_none());
        assert_eq!(m.payloads.len(), 1, "left as it was");
        let mut m = archived(&inner, "s3cr3t");
        let read = mam_result(&mut m, "s3cr3t").expect("a result");
        assert_eq!(read.stanza_id.as_deref(), Some("arch-1"));
        assert!(read.sent_at.is_some());
        assert_eq!(read.body.as_deref(), Some("b"));
        assert!(read.payload.is_some());
    }

    #[test]
    fn an_archived_message_xmpp_parsers_refuses_still_yields_its_change() {
        // A `type` outside RFC 6120's list: xmpp-parsers refuses the <message/>, a
        // server archives it as it came.
        let inner = format!(
            r#"<message xmlns="jabber:client" from="wiki@conference.example.org/bot" type="announcement"><body>one</body>{RC}</message>"#
        );
        let result = archived(&inner, "q").payloads.remove(0);
        assert!(
            mam::Result_::try_from(result).is_err(),
            "xmpp-parsers accepts this now: the fallback may go"
        );
        let mut m = archived(&inner, "q");
        let read = mam_result(&mut m, "q").expect("read as it is");
        assert_eq!(read.stanza_id.as_deref(), Some("arch-1"));
        assert!(read.sent_at.is_some());
        assert_eq!(read.body.as_deref(), Some("one"));
        assert!(read.payload.is_some());
    }

    #[test]
    fn an_archive_end_without_an_rsm_set_ends_the_replay() {
        let fin = el(r#"<fin xmlns="urn:xmpp:mam:2" complete="false"/>"#);
        assert!(
            mam::Fin::try_from(fin.clone()).is_err(),
            "xmpp-parsers needs <set/>"
        );
        assert_eq!(mam_fin(Some(fin)), (true, None));
        let fin = el(
            r#"<fin xmlns="urn:xmpp:mam:2"><set xmlns="http://jabber.org/protocol/rsm"><last>x9</last></set></fin>"#,
        );
        assert_eq!(mam_fin(Some(fin)), (false, Some("x9".into())));
        let fin = el(
            r#"<fin xmlns="urn:xmpp:mam:2" complete="true"><set xmlns="http://jabber.org/protocol/rsm"/></fin>"#,
        );
        assert_eq!(mam_fin(Some(fin)), (true, None));
        assert_eq!(mam_fin(None), (true, None));
    }

    #[test]
    fn status_codes_survive_a_muc_user_element_xmpp_parsers_refuses() {
        // 174 (the room is now fully anonymous, XEP-0045 §15.6) is not in xmpp-parsers'
        // list of status codes.
        let x = el(r#"<x xmlns="http://jabber.org/protocol/muc#user">
            <item affiliation="none" role="participant"/>
            <status code="174"/><status code="110"/></x>"#);
        assert!(MucUserPayload::try_from(x.clone()).is_err());
        let muc = MucUser::of(&[x]);
        assert!(muc.has(Status::SelfPresence), "{muc:?}");
        assert!(muc.destroyed.is_none());
    }

    #[test]
    fn a_rooms_destruction_is_read_although_xmpp_parsers_has_no_destroy() {
        let x = el(r#"<x xmlns="http://jabber.org/protocol/muc#user">
            <item affiliation="none" role="none"/>
            <destroy jid="new@conference.example.org"><reason>moved</reason></destroy></x>"#);
        assert_eq!(MucUser::of(&[x]).destroyed, Some(Some("moved".into())));
        let x = el(r#"<x xmlns="http://jabber.org/protocol/muc#user"><destroy/></x>"#);
        assert_eq!(MucUser::of(&[x]).destroyed, Some(None));
    }

    #[test]
    fn presence_errors_give_their_condition() {
        let e = el(
            r#"<error xmlns="jabber:client" type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>"#,
        );
        assert_eq!(error_condition(&[e]).as_deref(), Some("conflict"));
        // No `type`: xmpp-parsers refuses it, the condition is still there.
        let e = el(
            r#"<error xmlns="jabber:client"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>"#,
        );
        assert_eq!(
            error_condition(&[e]).as_deref(),
            Some("service-unavailable")
        );
    }
}
