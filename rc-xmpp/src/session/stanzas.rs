//! The XMPP elements every client sends and reads: pings (XEP-0199), disco#info, resource
//! binding, the answers to the server's requests, stanza ids of our own, and the helpers
//! that build plain elements.

use minidom::rxml::NcName;
use minidom::Element;
use tokio_xmpp::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::bind::{BindQuery, BindResponse};
use xmpp_parsers::disco::{DiscoInfoQuery, DiscoInfoResult};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::ns;
use xmpp_parsers::ping::Ping;

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
    let mut iq = Iq::from_get(id, Ping);
    *iq.to_mut() = to;
    iq
}

/// Whether a request is a ping.
pub(crate) fn is_ping(payload: &Element) -> bool {
    payload.is("ping", ns::PING)
}

/// A disco#info query.
pub(crate) fn disco_info(to: &BareJid, id: &str) -> Iq {
    Iq::from_get(id, DiscoInfoQuery { node: None }).with_to(Jid::from(to.clone()))
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
    Iq::from_set(id, BindQuery::new(Some(resource.to_owned())))
}

/// The full JID a resource-binding result gives.
pub(crate) fn bound(payload: Option<Element>) -> Result<FullJid, String> {
    let payload = payload.ok_or("resource binding returned no JID")?;
    BindResponse::try_from(payload)
        .map(FullJid::from)
        .map_err(|e| format!("resource binding returned no full JID: {e}"))
}

/// Whether a disco#info result lists a feature.
pub(crate) fn has_feature(payload: Option<&Element>, feature: &str) -> bool {
    let Some(payload) = payload else {
        return false;
    };
    match DiscoInfoResult::try_from(payload.clone()) {
        Ok(info) => info.features.contains(feature),
        // xmpp-parsers refuses the whole result for one form it finds wrong (a field
        // without `var`, two FORM_TYPEs...): the features are still there to read.
        Err(e) => {
            tracing::debug!("reading the disco#info features as they are: {e}");
            payload
                .children()
                .any(|c| c.is("feature", ns::DISCO_INFO) && c.attr("var") == Some(feature))
        }
    }
}

/// The defined condition of an iq error, as its XML name (`item-not-found`).
pub(crate) fn condition(error: &xmpp_parsers::stanza_error::StanzaError) -> String {
    let el: Element = error.defined_condition.clone().into();
    el.name().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_read_from_a_disco_result_xmpp_parsers_refuses() {
        // A form field without `var` that is not `fixed`: xmpp-parsers refuses the form,
        // and with it the whole result.
        let info: Element = r#"<query xmlns="http://jabber.org/protocol/disco#info">
            <identity category="conference" type="text"/>
            <feature var="urn:xmpp:mam:2"/>
            <x xmlns="jabber:x:data" type="result"><field type="text-single"><value>1</value></field></x>
            </query>"#
            .parse()
            .unwrap();
        assert!(DiscoInfoResult::try_from(info.clone()).is_err());
        assert!(has_feature(Some(&info), "urn:xmpp:mam:2"));
        assert!(!has_feature(Some(&info), "urn:xmpp:ping"));
        assert!(!has_feature(None, "urn:xmpp:mam:2"));
    }

    #[test]
    fn a_bind_result_gives_the_full_jid() {
        let ok: Element = r#"<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>bot@example.org/r1</jid></bind>"#
            .parse()
            .unwrap();
        assert_eq!(bound(Some(ok)).unwrap().to_string(), "bot@example.org/r1");
        let bare: Element =
            r#"<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>bot@example.org</jid></bind>"#
                .parse()
                .unwrap();
        assert!(bound(Some(bare)).is_err());
        assert!(bound(None).is_err());
    }
}
