//! The XEP-0060 elements the PubSub subscriber and publisher send and read, built and read
//! as plain elements like the rest of the crate's stanzas.

use minidom::Element;
use tokio_xmpp::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::iq::Iq;

use crate::session::stanzas::{element, text_element};

/// Namespaces used here.
pub(crate) mod ns {
    pub const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
    pub const EVENT: &str = "http://jabber.org/protocol/pubsub#event";
    pub const DATA: &str = "jabber:x:data";
    pub const NODE_CONFIG: &str = "http://jabber.org/protocol/pubsub#node_config";
}

fn pubsub_iq(set: bool, service: &BareJid, id: &str, children: Vec<Element>) -> Iq {
    let payload = element("pubsub", ns::PUBSUB, &[], children);
    let to = Some(Jid::from(service.clone()));
    if set {
        Iq::Set {
            from: None,
            to,
            id: id.to_owned(),
            payload,
        }
    } else {
        Iq::Get {
            from: None,
            to,
            id: id.to_owned(),
            payload,
        }
    }
}

/// Subscribes `jid` (our full JID: events then reach this very session) to a node.
pub(crate) fn subscribe(service: &BareJid, node: &str, jid: &FullJid, id: &str) -> Iq {
    let sub = element(
        "subscribe",
        ns::PUBSUB,
        &[("node", node), ("jid", jid.as_str())],
        vec![],
    );
    pubsub_iq(true, service, id, vec![sub])
}

/// Ends the subscription of `jid` to a node.
pub(crate) fn unsubscribe(service: &BareJid, node: &str, jid: &FullJid, id: &str) -> Iq {
    let unsub = element(
        "unsubscribe",
        ns::PUBSUB,
        &[("node", node), ("jid", jid.as_str())],
        vec![],
    );
    pubsub_iq(true, service, id, vec![unsub])
}

/// Asks for a node's stored items: the newest `max` of them, or all it keeps.
pub(crate) fn items(service: &BareJid, node: &str, max: Option<u32>, id: &str) -> Iq {
    let max = max.map(|m| m.to_string());
    let mut attrs = vec![("node", node)];
    if let Some(m) = &max {
        attrs.push(("max_items", m.as_str()));
    }
    pubsub_iq(
        false,
        service,
        id,
        vec![element("items", ns::PUBSUB, &attrs, vec![])],
    )
}

/// Publishes one item with this id and payload.
pub(crate) fn publish(
    service: &BareJid,
    node: &str,
    item_id: &str,
    payload: Element,
    id: &str,
) -> Iq {
    let item = element("item", ns::PUBSUB, &[("id", item_id)], vec![payload]);
    let publish = element("publish", ns::PUBSUB, &[("node", node)], vec![item]);
    pubsub_iq(true, service, id, vec![publish])
}

/// Creates a node, with `max_items` in its configuration when given.
pub(crate) fn create(service: &BareJid, node: &str, max_items: Option<u32>, id: &str) -> Iq {
    let mut children = vec![element("create", ns::PUBSUB, &[("node", node)], vec![])];
    if let Some(max) = max_items {
        let field = |var: &str, value: &str, hidden: bool| {
            let attrs: &[(&str, &str)] = if hidden {
                &[("var", var), ("type", "hidden")]
            } else {
                &[("var", var)]
            };
            element(
                "field",
                ns::DATA,
                attrs,
                vec![text_element("value", ns::DATA, value)],
            )
        };
        let form = element(
            "x",
            ns::DATA,
            &[("type", "submit")],
            vec![
                field("FORM_TYPE", ns::NODE_CONFIG, true),
                field("pubsub#max_items", &max.to_string(), false),
            ],
        );
        children.push(element("configure", ns::PUBSUB, &[], vec![form]));
    }
    pubsub_iq(true, service, id, children)
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
    for event in payloads.iter().filter(|e| e.is("event", ns::EVENT)) {
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
    }
    out
}

/// The items of an `<items>` retrieval result, in the order the service listed them.
pub(crate) fn retrieved(payload: Option<&Element>) -> Vec<NodeItem> {
    payload
        .filter(|p| p.is("pubsub", ns::PUBSUB))
        .and_then(|p| p.children().find(|c| c.name() == "items"))
        .map(|items| {
            items
                .children()
                .filter(|c| c.name() == "item")
                .map(NodeItem::of)
                .collect()
        })
        .unwrap_or_default()
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
        let ids: Vec<_> = retrieved(Some(&res)).into_iter().map(|i| i.id).collect();
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
}
