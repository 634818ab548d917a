//! The XEP-0060 payloads the PubSub subscriber and publisher send and read, typed by
//! xmpp-parsers. Where xmpp-parsers 0.23 is stricter than a server (or cannot build a
//! request: its `Unsubscribe` has private fields), the plain element is used instead;
//! the tests below say where.

use minidom::Element;
use tokio_xmpp::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::data_forms::{DataForm, DataFormType, Field};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::ns;
use xmpp_parsers::pubsub::event::{Event as EventPayload, Payload};
use xmpp_parsers::pubsub::pubsub::{Configure, Create, Item, Items, PubSub, Publish, Subscribe};
use xmpp_parsers::pubsub::{ItemId, NodeName};

use crate::session::stanzas::element;

fn to(service: &BareJid) -> Jid {
    Jid::from(service.clone())
}

/// Subscribes `jid` (our full JID: events then reach this very session) to a node.
pub(crate) fn subscribe(service: &BareJid, node: &str, jid: &FullJid, id: &str) -> Iq {
    let subscribe = Subscribe {
        jid: Jid::from(jid.clone()),
        node: Some(NodeName(node.to_owned())),
    };
    let pubsub = PubSub::Subscribe {
        subscribe: Some(subscribe),
        options: None,
    };
    Iq::from_set(id, pubsub).with_to(to(service))
}

/// Ends the subscription of `jid` to a node. (Built as a plain element: xmpp-parsers
/// 0.23's `Unsubscribe` cannot be built, its fields are private.)
pub(crate) fn unsubscribe(service: &BareJid, node: &str, jid: &FullJid, id: &str) -> Iq {
    let unsub = element(
        "unsubscribe",
        ns::PUBSUB,
        &[("node", node), ("jid", jid.as_str())],
        vec![],
    );
    Iq::Set {
        from: None,
        to: Some(to(service)),
        id: id.to_owned(),
        payload: element("pubsub", ns::PUBSUB, &[], vec![unsub]),
    }
}

/// Asks for a node's stored items: the newest `max` of them, or all it keeps.
pub(crate) fn items(service: &BareJid, node: &str, max: Option<u32>, id: &str) -> Iq {
    let mut items = Items::new(node);
    items.max_items = max;
    Iq::from_get(id, PubSub::Items(items)).with_to(to(service))
}

/// Publishes one item with this id and payload.
pub(crate) fn publish(
    service: &BareJid,
    node: &str,
    item_id: &str,
    payload: Element,
    id: &str,
) -> Iq {
    let item = Item {
        id: Some(ItemId(item_id.to_owned())),
        publisher: None,
        payload: Some(payload),
    };
    let publish = Publish {
        node: NodeName(node.to_owned()),
        items: vec![item],
    };
    let pubsub = PubSub::Publish {
        publish,
        publish_options: None,
    };
    Iq::from_set(id, pubsub).with_to(to(service))
}

/// Creates a node, with `max_items` in its configuration when given.
pub(crate) fn create(service: &BareJid, node: &str, max_items: Option<u32>, id: &str) -> Iq {
    let configure = max_items.map(|max| Configure {
        form: Some(DataForm::new(
            DataFormType::Submit,
            ns::PUBSUB_CONFIGURE,
            vec![Field::text_single("pubsub#max_items", &max.to_string())],
        )),
    });
    let pubsub = PubSub::Create {
        create: Create {
            node: Some(NodeName(node.to_owned())),
        },
        configure,
    };
    Iq::from_set(id, pubsub).with_to(to(service))
}

/// One item of a node, as an event or a retrieval result carries it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeItem {
    /// The item id (servers always give one; `None` if this one did not).
    pub id: Option<String>,
    /// The payload: the item's first child element, if it has one.
    pub payload: Option<Element>,
}

impl NodeItem {
    /// An item as a plain element, when xmpp-parsers refused what holds it.
    fn of(item: &Element) -> NodeItem {
        NodeItem {
            id: item.attr("id").map(str::to_owned),
            payload: item.children().next().cloned(),
        }
    }
}

/// What a PubSub event message says about one node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    /// Items published to the node, in the order the event lists them.
    Items { node: String, items: Vec<NodeItem> },
    /// The node was deleted.
    Deleted { node: String },
    /// Every item of the node was removed.
    Purged { node: String },
}

/// The events of a message's payloads (XEP-0060 §7.1.2): published items, deletion and
/// purge. Retractions and configuration changes are left out.
pub(crate) fn events(payloads: &[Element]) -> Vec<Event> {
    let mut out = Vec::new();
    for event in payloads.iter().filter(|e| e.is("event", ns::PUBSUB_EVENT)) {
        match EventPayload::try_from(event.clone()) {
            Ok(EventPayload { payload }) => out.extend(typed_event(payload)),
            // xmpp-parsers takes one child per event, and refuses an item it finds wrong
            // (two payloads, a publisher that is no JID): read it as it is.
            Err(e) => {
                tracing::debug!("reading a PubSub event as it is: {e}");
                out.extend(raw_events(event));
            }
        }
    }
    out
}

fn typed_event(payload: Payload) -> Option<Event> {
    match payload {
        Payload::Items {
            node, published, ..
        } => {
            let items: Vec<NodeItem> = published
                .into_iter()
                .map(|i| NodeItem {
                    id: i.id.map(|id| id.0),
                    payload: i.payload,
                })
                .collect();
            (!items.is_empty()).then_some(Event::Items {
                node: node.0,
                items,
            })
        }
        Payload::Delete { node, .. } => Some(Event::Deleted { node: node.0 }),
        Payload::Purge { node } => Some(Event::Purged { node: node.0 }),
        Payload::Configuration { .. } | Payload::Subscription { .. } => None,
    }
}

fn raw_events(event: &Element) -> Vec<Event> {
    let mut out = Vec::new();
    for child in event.children() {
        let Some(node) = child.attr("node").map(str::to_owned) else {
            continue;
        };
        match child.name() {
            "items" => {
                let items: Vec<NodeItem> = child
                    .children()
                    .filter(|c| c.name() == "item")
                    .map(NodeItem::of)
                    .collect();
                if !items.is_empty() {
                    out.push(Event::Items { node, items });
                }
            }
            "delete" => out.push(Event::Deleted { node }),
            "purge" => out.push(Event::Purged { node }),
            _ => {}
        }
    }
    out
}

/// The items of an `<items>` retrieval result, in the order the service listed them.
pub(crate) fn retrieved(payload: Option<Element>) -> Vec<NodeItem> {
    let Some(payload) = payload.filter(|p| p.is("pubsub", ns::PUBSUB)) else {
        return Vec::new();
    };
    match PubSub::try_from(payload.clone()) {
        Ok(PubSub::Items(items)) => items
            .items
            .into_iter()
            .map(|i| NodeItem {
                id: i.id.map(|id| id.0),
                payload: i.payload,
            })
            .collect(),
        Ok(_) => Vec::new(),
        // xmpp-parsers refuses a result with anything beside <items/> (such as the
        // RSM <set/> of XEP-0059): read the items as they are.
        Err(e) => {
            tracing::debug!("reading a PubSub items result as it is: {e}");
            payload
                .get_child("items", ns::PUBSUB)
                .map(|items| {
                    items
                        .children()
                        .filter(|c| c.name() == "item")
                        .map(NodeItem::of)
                        .collect()
                })
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn reads_published_items_deletions_and_purges() {
        let msg = el(r#"<event xmlns="http://jabber.org/protocol/pubsub#event">
            <items node="wiki"><item id="a"><entry xmlns="http://www.w3.org/2005/Atom"><title>start</title></entry></item><item id="b"/><retract id="c"/></items>
            </event>"#);
        let evs = events(&[msg]);
        let [Event::Items { node, items }] = evs.as_slice() else {
            panic!("{evs:?}")
        };
        assert_eq!(node, "wiki");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].id.as_deref(), Some("a"));
        assert_eq!(items[0].payload.as_ref().map(|p| p.name()), Some("entry"));
        assert_eq!(items[1].payload, None, "an item without a payload");

        let gone = el(
            r#"<event xmlns="http://jabber.org/protocol/pubsub#event"><delete node="w"/><purge node="v"/></event>"#,
        );
        assert_eq!(
            events(&[gone]),
            [
                Event::Deleted { node: "w".into() },
                Event::Purged { node: "v".into() }
            ]
        );
        let retract_only = el(
            r#"<event xmlns="http://jabber.org/protocol/pubsub#event"><items node="w"><retract id="x"/></items></event>"#,
        );
        assert!(events(&[retract_only]).is_empty());
        assert!(events(&[el(r#"<x xmlns="urn:other"/>"#)]).is_empty());
    }

    #[test]
    fn reads_a_retrieval_result_in_order() {
        let res = el(
            r#"<pubsub xmlns="http://jabber.org/protocol/pubsub"><items node="w"><item id="1"><p xmlns="urn:x"/></item><item id="2"><p xmlns="urn:x"/></item></items></pubsub>"#,
        );
        let ids: Vec<_> = retrieved(Some(res)).into_iter().map(|i| i.id).collect();
        assert_eq!(ids, [Some("1".into()), Some("2".into())]);
        assert!(retrieved(None).is_empty());
    }

    #[test]
    fn builds_a_create_with_max_items() {
        let service: BareJid = "pubsub.example.org".parse().unwrap();
        let Iq::Set { payload, .. } = create(&service, "wiki", Some(5), "c1") else {
            panic!()
        };
        let xml = String::from(&payload);
        assert!(xml.contains("<create node='wiki'/>"), "{xml}");
        assert!(xml.contains("pubsub#max_items"), "{xml}");
        assert!(xml.contains("<value>5</value>"), "{xml}");
    }

    #[test]
    fn reads_one_event_per_element_with_xmpp_parsers() {
        let ev = el(
            r#"<event xmlns="http://jabber.org/protocol/pubsub#event"><items node="wiki"><item id="a" publisher="bot@example.org"><p xmlns="urn:x"/></item></items></event>"#,
        );
        assert!(EventPayload::try_from(ev.clone()).is_ok());
        let evs = events(&[ev]);
        let [Event::Items { node, items }] = evs.as_slice() else {
            panic!()
        };
        assert_eq!(node, "wiki");
        assert_eq!(items[0].id.as_deref(), Some("a"));
        assert!(items[0].payload.is_some());
    }

    #[test]
    fn items_are_read_from_a_result_xmpp_parsers_refuses() {
        // An RSM <set/> (XEP-0059) beside the items: xmpp-parsers refuses the whole
        // <pubsub/>.
        let res = el(
            r#"<pubsub xmlns="http://jabber.org/protocol/pubsub"><items node="w"><item id="1"><p xmlns="urn:x"/></item></items><set xmlns="http://jabber.org/protocol/rsm"><count>1</count></set></pubsub>"#,
        );
        assert!(PubSub::try_from(res.clone()).is_err());
        let items = retrieved(Some(res));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].id.as_deref(), Some("1"));
    }

    #[test]
    fn builds_subscribe_publish_and_items_requests() {
        let service: BareJid = "pubsub.example.org".parse().unwrap();
        let me: FullJid = "bot@example.org/r".parse().unwrap();
        let xml = |iq: Iq| match iq {
            Iq::Set { payload, .. } | Iq::Get { payload, .. } => String::from(&payload),
            _ => panic!(),
        };
        let sub = xml(subscribe(&service, "wiki", &me, "s1"));
        assert!(
            sub.contains("<subscribe") && sub.contains("jid='bot@example.org/r'"),
            "{sub}"
        );
        let unsub = xml(unsubscribe(&service, "wiki", &me, "u1"));
        assert!(
            unsub.contains("<unsubscribe") && unsub.contains("node='wiki'"),
            "{unsub}"
        );
        let items = xml(items(&service, "wiki", Some(3), "i1"));
        assert!(items.contains("max_items='3'"), "{items}");
        let publish = xml(publish(
            &service,
            "wiki",
            "id-1",
            el(r#"<p xmlns="urn:x"/>"#),
            "p1",
        ));
        assert!(
            publish.contains("<item id='id-1'><p xmlns='urn:x'/></item>"),
            "{publish}"
        );
    }
}
