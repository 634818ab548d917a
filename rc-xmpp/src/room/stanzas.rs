//! The XMPP elements the room client sends and reads: MUC joins (XEP-0045), room archive
//! queries (XEP-0313), stanza ids (XEP-0359) and delays (XEP-0203).
//! Payloads are built and read as plain elements.

use chrono::{DateTime, Utc};
use minidom::Element;
use tokio_xmpp::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::message::{Lang, Message, MessageType};
use xmpp_parsers::presence::{Presence, Type as PresenceType};

use crate::session::stanzas::{element, text_element};

/// Namespaces used here.
pub(crate) mod ns {
    pub const MUC: &str = "http://jabber.org/protocol/muc";
    pub const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
    pub const SID: &str = "urn:xmpp:sid:0";
    pub const DELAY: &str = "urn:xmpp:delay";
    pub const MAM: &str = "urn:xmpp:mam:2";
    pub const RSM: &str = "http://jabber.org/protocol/rsm";
    pub const DATA: &str = "jabber:x:data";
    pub const FORWARD: &str = "urn:xmpp:forward:0";
    pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
    pub const CLIENT: &str = "jabber:client";
}

/// How much history to ask for when joining.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum HistoryRequest {
    Nothing,
    Last(u32),
    Since(DateTime<Utc>),
}

/// The presence that joins `occupant` (room@service/nick).
pub(crate) fn join(
    occupant: &FullJid,
    history: HistoryRequest,
    password: Option<&str>,
) -> Presence {
    let history = match history {
        HistoryRequest::Nothing => element("history", ns::MUC, &[("maxstanzas", "0")], vec![]),
        HistoryRequest::Last(n) => element(
            "history",
            ns::MUC,
            &[("maxstanzas", &n.to_string())],
            vec![],
        ),
        HistoryRequest::Since(t) => element(
            "history",
            ns::MUC,
            &[(
                "since",
                &t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )],
            vec![],
        ),
    };
    let mut children = vec![history];
    if let Some(p) = password {
        children.push(text_element("password", ns::MUC, p));
    }
    let mut presence =
        Presence::new(PresenceType::None).with_payloads(vec![element("x", ns::MUC, &[], children)]);
    presence.to = Some(Jid::from(occupant.clone()));
    presence
}

/// The presence that leaves a room.
pub(crate) fn leave(occupant: &FullJid) -> Presence {
    let mut presence = Presence::new(PresenceType::Unavailable);
    presence.to = Some(Jid::from(occupant.clone()));
    presence
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
    let mut set = vec![text_element("max", ns::RSM, &max.to_string())];
    let mut children = vec![];
    match page {
        Page::After(a) => set.push(text_element("after", ns::RSM, a)),
        // `<before/>` asks for the last page: the newest messages.
        Page::Newest => set.push(element("before", ns::RSM, &[], vec![])),
        Page::Since(t) => {
            let field = |var: &str, kind: Option<&str>, value: &str| {
                let attrs: Vec<(&str, &str)> = [("var", var)]
                    .into_iter()
                    .chain(kind.map(|k| ("type", k)))
                    .collect();
                element(
                    "field",
                    ns::DATA,
                    &attrs,
                    vec![text_element("value", ns::DATA, value)],
                )
            };
            let start = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            children.push(element(
                "x",
                ns::DATA,
                &[("type", "submit")],
                vec![
                    field("FORM_TYPE", Some("hidden"), ns::MAM),
                    field("start", None, &start),
                ],
            ));
        }
    }
    children.push(element("set", ns::RSM, &[], set));
    let query = element("query", ns::MAM, &[("queryid", queryid)], children);
    Iq::Set {
        from: None,
        to: Some(Jid::from(room.clone())),
        id: id.to_owned(),
        payload: query,
    }
}

/// The change payload of a message: an `<rc>` or `<recentchange>` element, in any namespace.
pub(crate) fn change_payload(children: &[Element]) -> Option<&Element> {
    children
        .iter()
        .find(|e| matches!(e.name(), "rc" | "recentchange"))
}

/// The stanza id (XEP-0359) that `by` (the room) gave a message.
pub(crate) fn stanza_id(payloads: &[Element], by: &BareJid) -> Option<String> {
    payloads
        .iter()
        .filter(|e| e.is("stanza-id", ns::SID))
        .find(|e| {
            e.attr("by")
                .is_some_and(|b| b.eq_ignore_ascii_case(by.as_str()))
        })
        .and_then(|e| e.attr("id"))
        .map(str::to_owned)
}

/// When a message was first sent, if a delay (XEP-0203) says so.
pub(crate) fn delay(payloads: &[Element]) -> Option<DateTime<Utc>> {
    payloads
        .iter()
        .find(|e| e.is("delay", ns::DELAY))
        .and_then(|e| e.attr("stamp"))
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.to_utc())
}

/// The MUC user info of a presence: status codes and a room destruction, if any.
#[derive(Debug, Default)]
pub(crate) struct MucUser {
    pub codes: Vec<u16>,
    pub destroyed: Option<Option<String>>,
}

impl MucUser {
    pub fn of(payloads: &[Element]) -> MucUser {
        let Some(x) = payloads.iter().find(|e| e.is("x", ns::MUC_USER)) else {
            return MucUser::default();
        };
        let codes = x
            .children()
            .filter(|c| c.name() == "status")
            .filter_map(|c| c.attr("code")?.parse().ok())
            .collect();
        let destroyed = x.children().find(|c| c.name() == "destroy").map(|d| {
            d.children()
                .find(|c| c.name() == "reason")
                .map(|r| r.text())
                .filter(|t| !t.is_empty())
        });
        MucUser { codes, destroyed }
    }

    pub fn has(&self, code: u16) -> bool {
        self.codes.contains(&code)
    }
}

/// The defined condition of a stanza error carried as a payload (`<error><conflict/>`).
pub(crate) fn error_condition(payloads: &[Element]) -> Option<String> {
    let error = payloads.iter().find(|e| e.name() == "error")?;
    error
        .children()
        .find(|c| c.ns() == ns::STANZAS && c.name() != "text")
        .map(|c| c.name().to_owned())
}

/// One message replayed from a room archive.
pub(crate) struct ArchivedMessage<'a> {
    /// The archive id, which is the room's stanza id of the message.
    pub id: String,
    pub delay: Option<DateTime<Utc>>,
    pub message: &'a Element,
}

/// The archived message a MAM result carries, if this message is one for query `queryid`.
pub(crate) fn mam_result<'a>(
    payloads: &'a [Element],
    queryid: &str,
) -> Option<ArchivedMessage<'a>> {
    let result = payloads
        .iter()
        .find(|e| e.is("result", ns::MAM) && e.attr("queryid") == Some(queryid))?;
    let forwarded = result.children().find(|c| c.is("forwarded", ns::FORWARD))?;
    let message = forwarded.children().find(|c| c.name() == "message")?;
    let delay = forwarded
        .children()
        .find(|c| c.is("delay", ns::DELAY))
        .and_then(|d| d.attr("stamp"))
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.to_utc());
    Some(ArchivedMessage {
        id: result.attr("id")?.to_owned(),
        delay,
        message,
    })
}

/// From a MAM `<fin>`: whether the archive is exhausted, and the last id of the page.
pub(crate) fn mam_fin(payload: Option<&Element>) -> (bool, Option<String>) {
    let Some(fin) = payload.filter(|p| p.is("fin", ns::MAM)) else {
        return (true, None);
    };
    let complete = matches!(fin.attr("complete"), Some("true" | "1"));
    let last = fin
        .children()
        .find(|c| c.is("set", ns::RSM))
        .and_then(|s| s.children().find(|c| c.name() == "last"))
        .map(|l| l.text());
    (complete, last)
}

/// The start of a body, for error messages.
pub(crate) fn body_snippet(body: &str) -> String {
    const MAX: usize = 80;
    match body.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}
