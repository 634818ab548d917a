//! Child elements of a change (`<tags>`, `<logparams>`, `<length>`...), whichever XML
//! library parsed them, and their conversion to JSON values for `log_params` and `extra`.

use std::borrow::Cow;

use serde_json::Value;

use crate::change::Fields;

/// An XML element as the form readers need it. Implemented by this crate's own small tree
/// (bytes parsed with quick-xml) and by `minidom::Element` (stanzas from tokio-xmpp).
pub(crate) trait XmlNode {
    /// Local name, without prefix.
    fn name(&self) -> &str;
    /// Attributes as (local name, value).
    fn attrs(&self) -> impl Iterator<Item = (&str, &str)>;
    /// Child elements in document order.
    fn children(&self) -> impl Iterator<Item = &Self>;
    /// Concatenated text content directly inside this element.
    fn text(&self) -> String;
    /// The value of one attribute.
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// An element parsed from bytes: the child elements of `<rc>` / `<recentchange>`. The fast
/// reader borrows its names, values and text from the input; quick-xml's owns them.
#[derive(Debug, Default)]
pub(crate) struct Node<'a> {
    pub name: Cow<'a, str>,
    pub attrs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub children: Vec<Node<'a>>,
    pub text: Cow<'a, str>,
}

impl<'a> Node<'a> {
    /// Appends text, borrowing it if it is the first.
    pub fn push_text(&mut self, text: &'a str) {
        if self.text.is_empty() {
            self.text = Cow::Borrowed(text);
        } else {
            self.text.to_mut().push_str(text);
        }
    }
}

impl XmlNode for Node<'_> {
    fn name(&self) -> &str {
        &self.name
    }
    fn attrs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attrs.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }
    fn children(&self) -> impl Iterator<Item = &Self> {
        self.children.iter()
    }
    fn text(&self) -> String {
        self.text.clone().into_owned()
    }
}

#[cfg(feature = "minidom")]
impl XmlNode for minidom::Element {
    fn name(&self) -> &str {
        minidom::Element::name(self)
    }
    fn attrs(&self) -> impl Iterator<Item = (&str, &str)> {
        minidom::Element::attrs(self)
            .iter()
            .map(|((_, name), value)| (name.as_str(), value.as_str()))
    }
    fn children(&self) -> impl Iterator<Item = &Self> {
        minidom::Element::children(self)
    }
    fn text(&self) -> String {
        minidom::Element::text(self)
    }
}

/// An element's attributes and children as a JSON object, the way the MediaWiki API's XML
/// format writes arrays: `<newgroups><g>sysop</g></newgroups>` becomes `["sysop"]`.
pub(crate) fn fields_of<N: XmlNode>(node: &N) -> Fields {
    let mut map = Fields::new();
    for (name, value) in node.attrs() {
        map.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    for child in node.children() {
        let value = value_of(child);
        match map.get_mut(child.name()) {
            Some(Value::Array(items)) if repeated(node, child.name()) => items.push(value),
            Some(first) if repeated(node, child.name()) => {
                let first = first.take();
                map.insert(child.name().to_owned(), Value::Array(vec![first, value]));
            }
            _ => {
                map.insert(child.name().to_owned(), value);
            }
        }
    }
    map
}

fn repeated<N: XmlNode>(parent: &N, name: &str) -> bool {
    parent
        .children()
        .filter(|c| c.name() == name)
        .nth(1)
        .is_some()
}

/// One element as a JSON value: text for a text-only element, an array for a list
/// (children all of one name, no attributes) or an empty element, an object otherwise.
pub(crate) fn value_of<N: XmlNode>(node: &N) -> Value {
    let has_attrs = node.attrs().next().is_some();
    let mut children = node.children().peekable();
    match children.peek() {
        None if has_attrs => Value::Object(fields_of(node)),
        None => {
            let text = node.text();
            if text.is_empty() {
                Value::Array(Vec::new())
            } else {
                Value::String(text)
            }
        }
        Some(first) if !has_attrs && node.children().all(|c| c.name() == first.name()) => {
            Value::Array(node.children().map(value_of).collect())
        }
        Some(_) => Value::Object(fields_of(node)),
    }
}
