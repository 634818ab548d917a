//! The XMPP elements every client sends and reads: pings (XEP-0199), disco#info, resource
//! binding, the answers to the server's requests, stanza ids of our own, and the helpers
//! that build plain elements.

use minidom::rxml::NcName;
use minidom::Element;
use tokio_xmpp::jid::{BareJid, Jid};
use xmpp_parsers::iq::Iq;

/// Namespaces used here.
pub(crate) mod ns {
    pub const PING: &str = "urn:xmpp:ping";
    pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
    pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
}

/// An element with attributes and children.
pub(crate) fn element(
    name: &str,
    ns: &str,
    attrs: &[(&str, &str)],
    children: Vec<Element>,
) -> Element {
    let mut b = Element::builder(name, ns);
    for (k, v) in attrs {
        let key = NcName::try_from(*k).expect("attribute names here are valid XML names");
        b = b.attr(key, *v);
    }
    b.append_all(children).build()
}

/// An element holding only text.
pub(crate) fn text_element(name: &str, ns: &str, text: &str) -> Element {
    let mut el = element(name, ns, &[], vec![]);
    el.append_text(text.to_owned());
    el
}

/// Ids for the stanzas a task sends, unique within the task and not to be guessed by
/// anyone forging answers: `what-1-` and 64 random bits in hex, `what-2-`...
#[derive(Debug, Default)]
pub(crate) struct Ids(u64);

impl Ids {
    /// The next id, named for what it asks (`ping`, `mam`...).
    pub fn next(&mut self, what: impl std::fmt::Display) -> String {
        self.0 += 1;
        format!("{what}-{}-{:016x}", self.0, rand::random::<u64>())
    }

    /// A value nobody else can guess (128 random bits), for what must not be forged:
    /// the query id that marks a room archive's results.
    pub fn secret() -> String {
        format!("{:032x}", rand::random::<u128>())
    }
}

/// A ping (XEP-0199) to `to`, or to the server when `None`.
pub(crate) fn ping(to: Option<Jid>, id: &str) -> Iq {
    Iq::Get {
        from: None,
        to,
        id: id.to_owned(),
        payload: element("ping", ns::PING, &[], vec![]),
    }
}

/// A disco#info query.
pub(crate) fn disco_info(to: &BareJid, id: &str) -> Iq {
    Iq::Get {
        from: None,
        to: Some(Jid::from(to.clone())),
        id: id.to_owned(),
        payload: element("query", ns::DISCO_INFO, &[], vec![]),
    }
}

/// The empty result answering an iq get (pings from the server).
pub(crate) fn pong(to: Option<Jid>, id: &str) -> Iq {
    Iq::Result {
        from: None,
        to,
        id: id.to_owned(),
        payload: None,
    }
}

/// The error answering a request this client does not handle (RFC 6120 asks for one).
pub(crate) fn unsupported(to: Option<Jid>, id: &str) -> Iq {
    use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
    Iq::Error {
        from: None,
        to,
        id: id.to_owned(),
        error: StanzaError::new(
            ErrorType::Cancel,
            DefinedCondition::ServiceUnavailable,
            "en",
            "not supported by this client",
        ),
        payload: None,
    }
}

/// A resource-binding request.
pub(crate) fn bind(id: &str, resource: &str) -> Iq {
    Iq::Set {
        from: None,
        to: None,
        id: id.to_owned(),
        payload: element(
            "bind",
            ns::BIND,
            &[],
            vec![text_element("resource", ns::BIND, resource)],
        ),
    }
}

/// Whether a disco#info result lists a feature.
pub(crate) fn has_feature(payload: Option<&Element>, feature: &str) -> bool {
    payload.is_some_and(|q| {
        q.children()
            .any(|c| c.name() == "feature" && c.attr("var") == Some(feature))
    })
}

/// The defined condition of an iq error, as its XML name (`item-not-found`).
pub(crate) fn condition(error: &xmpp_parsers::stanza_error::StanzaError) -> String {
    let el: Element = error.defined_condition.clone().into();
    el.name().to_owned()
}
