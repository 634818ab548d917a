//! Changes carried inside XMPP stanzas: read from the `minidom::Element` tokio-xmpp already
//! parsed, without writing it back to text.

use crate::change::RecentChange;
use crate::error::{Form, ParseError};

use super::draft::Draft;
use super::node::XmlNode;
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
pub fn from_element(el: &minidom::Element) -> Result<RecentChange, ParseError> {
    let form = match el.name() {
        "rc" => Form::RcXml,
        "recentchange" => Form::FeedXml,
        "entry" => return atom::from_node(el),
        other => {
            return Err(ParseError::UnknownForm {
                found: crate::error::snippet(&format!("<{other}>")),
            })
        }
    };
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
