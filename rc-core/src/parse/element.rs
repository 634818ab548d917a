//! Changes carried inside XMPP stanzas: read from the `minidom::Element` tokio-xmpp already
//! parsed, without writing it back to text.

use crate::change::RecentChange;
use crate::error::{Form, ParseError};

use super::draft::Draft;
use super::node::XmlNode;
use super::xml::MAX_DEPTH;
use super::{atom, rc_xml, xml};

/// Parses an `<rc>` or `<recentchange>` element, in any namespace (inside a stanza it
/// inherits `jabber:client`), or an Atom `<entry>` (a PubSub item's payload).
///
/// ```
/// let el: minidom::Element = r#"<rc xmlns="jabber:client" type="edit" title="Alpha" rcid="4" wikiid="wikidb"><tags><tag>t1</tag></tags></rc>"#.parse()?;
/// let rc = recentchanges_core::from_element(&el)?;
/// assert_eq!((rc.title.as_deref(), rc.rcid, rc.tags.as_slice()), (Some("Alpha"), Some(4), &["t1".to_string()][..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Child elements may nest 32 levels below the root, as in [`parse`](crate::parse); a
/// deeper element is an error naming it (checked without recursion before anything
/// else reads the tree, so that no depth a server relays can overflow the stack here).
pub fn from_element(el: &minidom::Element) -> Result<RecentChange, ParseError> {
    let form = match el.name() {
        "rc" => Form::RcXml,
        "recentchange" => Form::FeedXml,
        "entry" => Form::Atom,
        other => {
            return Err(ParseError::UnknownForm {
                found: crate::error::snippet(&format!("<{other}>")),
            })
        }
    };
    check_depth(el, form)?;
    if form == Form::Atom {
        return atom::from_node(el);
    }
    let mut draft = Draft::new();
    if form == Form::RcXml {
        rc_xml::begin(&mut draft);
    }
    for (name, value) in XmlNode::attrs(el) {
        xml::apply_attr(form, &mut draft, name, value.into())
            .map_err(|b| b.into_error(form, "attribute", None))?;
    }
    for child in XmlNode::children(el) {
        xml::apply_child(form, &mut draft, child)
            .map_err(|b| b.into_error(form, "element", None))?;
    }
    draft.finish(form)
}

/// Refuses a tree with an element more than [`MAX_DEPTH`] levels below the root, walking
/// it with a stack of at most `MAX_DEPTH + 1` iterators.
fn check_depth(root: &minidom::Element, form: Form) -> Result<(), ParseError> {
    let mut open = vec![root.children()];
    while let Some(children) = open.last_mut() {
        match children.next() {
            Some(child) if open.len() > MAX_DEPTH => {
                return Err(ParseError::Invalid {
                    form,
                    what: "element",
                    name: crate::error::snippet(child.name()),
                    value: format!("nesting depth {}", open.len()),
                    expected: format!("at most {MAX_DEPTH} levels below the root"),
                    offset: None,
                })
            }
            Some(child) => open.push(child.children()),
            None => {
                open.pop();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use minidom::{Element, Node};

    use super::*;

    /// `root` with a chain of `depth` nested `<a>` below it, built without recursion.
    fn nested(root: &str, depth: usize) -> Element {
        let mut inner = Element::bare("a", "jabber:client");
        for _ in 1..depth {
            let mut outer = Element::bare("a", "jabber:client");
            outer.append_child(inner);
            inner = outer;
        }
        Element::builder(root, "jabber:client")
            .attr("type".try_into().unwrap(), "edit")
            .attr("title".try_into().unwrap(), "Alpha")
            .attr("rcid".try_into().unwrap(), "4")
            .append(inner)
            .build()
    }

    /// Drops a tree without minidom's recursive drop.
    fn drop_flat(el: Element) {
        let mut stack = vec![el];
        while let Some(mut e) = stack.pop() {
            stack.extend(e.take_nodes().into_iter().filter_map(|n| match n {
                Node::Element(c) => Some(c),
                Node::Text(_) => None,
            }));
        }
    }

    #[test]
    fn a_change_from_its_element_and_from_its_text_meets_the_depth_cap_alike() {
        for depth in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2] {
            let element = nested("rc", depth);
            let text = String::from(&element);
            let from_element = from_element(&element).map_err(|e| e.to_string());
            let from_text = crate::parse_rc(&text).map_err(|e| e.to_string());
            match (&from_element, &from_text) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{depth} levels"),
                // The text's error adds where in the text it is.
                (Err(a), Err(b)) => assert!(b.starts_with(a.as_str()), "{depth}: {a} / {b}"),
                _ => panic!("{depth} levels: {from_element:?} / {from_text:?}"),
            }
            assert_eq!(
                from_text.is_err(),
                depth > MAX_DEPTH,
                "{depth}: {from_text:?}"
            );
        }
    }

    #[test]
    fn elements_nested_deeper_than_the_cap_are_an_error_not_a_stack_overflow() {
        for root in ["rc", "recentchange", "entry"] {
            let ok = nested(root, MAX_DEPTH);
            let result = from_element(&ok);
            assert!(
                !matches!(result, Err(ParseError::Invalid { ref value, .. }) if value.starts_with("nesting")),
                "{root}: {MAX_DEPTH} levels are allowed: {result:?}"
            );
            let over = nested(root, MAX_DEPTH + 1);
            let err = from_element(&over).unwrap_err();
            assert!(
                err.to_string().ends_with(
                    "element `a` has nesting depth 33, expected at most 32 levels below the root"
                ),
                "{root}: {err}"
            );
            // ~30k levels, as a server relays them: an error naming the depth, no crash.
            let deep = nested(root, 30_000);
            let err = from_element(&deep).unwrap_err();
            assert!(
                err.to_string().contains("nesting depth 33"),
                "{root}: {err}"
            );
            drop_flat(deep);
        }
    }
}
