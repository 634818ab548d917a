//! The Atom entry dokupubsub published for each page edit, as a PubSub item's payload.

use chrono::{DateTime, SecondsFormat, Utc};
use minidom::Element;

use crate::stanzas::{element, text_element};

/// The Atom namespace.
pub(crate) const NS_ATOM: &str = "http://www.w3.org/2005/Atom";

/// One page edit as an Atom entry (RFC 4287), the payload dokupubsub published: `title` is
/// the page id, `link` the page revision, then the entry id, the time, the author's name
/// and the edit summary.
///
/// ```
/// use rc_xmpp::pubsub::AtomEntry;
/// let updated = chrono::DateTime::from_timestamp(1_220_190_780, 0).unwrap();
/// let entry = AtomEntry::new("http://wiki.example.org/doku.php?id=start&rev=1220190780", "start", updated)
///     .link("http://wiki.example.org/doku.php?id=start&rev=1220190780")
///     .author("rgareus")
///     .summary("first XMPP notification");
/// let xml = String::from(&entry.to_element());
/// assert!(xml.starts_with("<entry xmlns='http://www.w3.org/2005/Atom'><id>"), "{xml}");
/// assert!(xml.contains("<updated>2008-08-31T13:53:00Z</updated>"), "{xml}");
/// assert!(xml.contains("<author><name>rgareus</name></author>"), "{xml}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AtomEntry {
    /// The entry's permanent, unique id (`<id>`), e.g. the revision's URL or a `tag:` URI.
    pub id: String,
    /// The page (`<title>`).
    pub title: String,
    /// The page revision's URL (`<link rel="alternate" href=..>`).
    pub link: Option<String>,
    /// When the page was changed (`<updated>`).
    pub updated: DateTime<Utc>,
    /// Who changed it (`<author><name>`).
    pub author: Option<String>,
    /// The edit summary (`<summary>`).
    pub summary: Option<String>,
    /// Category terms (`<category term=..>`), e.g. tags.
    pub categories: Vec<String>,
}

impl AtomEntry {
    /// An entry with its three required elements.
    pub fn new(id: impl Into<String>, title: impl Into<String>, updated: DateTime<Utc>) -> Self {
        AtomEntry {
            id: id.into(),
            title: title.into(),
            link: None,
            updated,
            author: None,
            summary: None,
            categories: Vec::new(),
        }
    }

    /// Links the page revision.
    pub fn link(mut self, url: impl Into<String>) -> Self {
        self.link = Some(url.into());
        self
    }

    /// Names the author.
    pub fn author(mut self, name: impl Into<String>) -> Self {
        self.author = Some(name.into());
        self
    }

    /// Sets the edit summary.
    pub fn summary(mut self, text: impl Into<String>) -> Self {
        self.summary = Some(text.into());
        self
    }

    /// Adds a category term.
    pub fn category(mut self, term: impl Into<String>) -> Self {
        self.categories.push(term.into());
        self
    }

    /// The `<entry xmlns="http://www.w3.org/2005/Atom">` element.
    pub fn to_element(&self) -> Element {
        let mut children = vec![
            text_element("id", NS_ATOM, &self.id),
            text_element("title", NS_ATOM, &self.title),
        ];
        if let Some(link) = &self.link {
            children.push(element(
                "link",
                NS_ATOM,
                &[("rel", "alternate"), ("href", link)],
                vec![],
            ));
        }
        children.push(text_element(
            "updated",
            NS_ATOM,
            &self.updated.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        ));
        if let Some(author) = &self.author {
            children.push(element(
                "author",
                NS_ATOM,
                &[],
                vec![text_element("name", NS_ATOM, author)],
            ));
        }
        if let Some(summary) = &self.summary {
            children.push(text_element("summary", NS_ATOM, summary));
        }
        for term in &self.categories {
            children.push(element("category", NS_ATOM, &[("term", term)], vec![]));
        }
        element("entry", NS_ATOM, &[], children)
    }
}
