//! The Atom entry dokupubsub published for each page edit, as a PubSub item's payload.

use chrono::{DateTime, SecondsFormat, Utc};
use minidom::Element;
use recentchanges_core::RecentChange;

use crate::session::stanzas::{element, text_element};

/// The Atom namespace.
pub(crate) const NS_ATOM: &str = "http://www.w3.org/2005/Atom";

/// One page edit as an Atom entry (RFC 4287), the payload dokupubsub published: `title` is
/// the page id, `link` the page revision, then the entry id, the time, the author's name
/// and the edit summary.
///
/// ```
/// use recentchanges_xmpp::pubsub::AtomEntry;
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

    /// The entry for a change, the inverse of how [`recentchanges_core::from_element`] reads one:
    /// `title`, `url` as the link, `entry_id` as the id (else the URL, else a `tag:` URI
    /// made of the wiki, title and time), `timestamp` as updated (else now), `user` as the
    /// author, `comment` as the summary, `tags` as categories. For bridging a wiki's
    /// changes from another source to PubSub.
    ///
    /// ```
    /// use recentchanges_core::{Kind, RecentChange};
    /// let mut rc = RecentChange::new(Kind::Edit);
    /// rc.title = Some("start".into());
    /// rc.url = Some("http://wiki.example.org/doku.php?id=start&rev=7".into());
    /// rc.user = Some("admin".into());
    /// rc.timestamp = chrono::DateTime::from_timestamp(1_220_190_780, 0);
    /// let back = recentchanges_core::from_element(&recentchanges_xmpp::pubsub::AtomEntry::from_change(&rc).to_element())?;
    /// assert_eq!((back.title, back.url.clone(), back.entry_id, back.user, back.timestamp),
    ///            (rc.title, rc.url.clone(), rc.url, rc.user, rc.timestamp));
    /// # Ok::<(), recentchanges_core::ParseError>(())
    /// ```
    pub fn from_change(rc: &RecentChange) -> Self {
        let updated = rc.timestamp.unwrap_or_else(Utc::now);
        let title = rc.title.clone().unwrap_or_default();
        let id = rc
            .entry_id
            .clone()
            .or_else(|| rc.url.clone())
            .unwrap_or_else(|| {
                format!(
                    "tag:{},{}:{}",
                    rc.wiki.as_deref().unwrap_or("wiki"),
                    updated.format("%Y-%m-%d"),
                    urlish(&format!("{title}@{}", updated.timestamp_micros()))
                )
            });
        AtomEntry {
            id,
            title,
            link: rc.url.clone(),
            updated,
            author: rc.user.clone(),
            summary: rc.comment.clone(),
            categories: rc.tags.clone(),
        }
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

/// Spaces and other characters a URI cannot hold, percent-encoded.
fn urlish(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use recentchanges_core::Kind;

    #[test]
    fn a_change_round_trips_through_its_entry() {
        let mut rc = RecentChange::new(Kind::Edit);
        rc.title = Some("wiki:start page".into());
        rc.url = Some("http://wiki.example.org/doku.php?id=wiki:start&rev=7".into());
        rc.entry_id = Some("urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6".into());
        rc.user = Some("rgareus".into());
        rc.comment = Some("a <b> & c".into());
        rc.tags = vec!["minor".into(), "ext".into()];
        rc.timestamp = chrono::DateTime::from_timestamp(1_220_190_780, 0);
        let back =
            recentchanges_core::from_element(&AtomEntry::from_change(&rc).to_element()).unwrap();
        assert_eq!(back.title, rc.title);
        assert_eq!(back.url, rc.url);
        assert_eq!(back.entry_id, rc.entry_id);
        assert_eq!(back.user, rc.user);
        assert_eq!(back.comment, rc.comment);
        assert_eq!(back.tags, rc.tags);
        assert_eq!(back.timestamp, rc.timestamp);
    }

    #[test]
    fn a_change_without_id_or_url_gets_a_tag_uri() {
        let mut rc = RecentChange::new(Kind::Edit);
        rc.title = Some("my page".into());
        rc.wiki = Some("dokuwiki".into());
        rc.timestamp = chrono::DateTime::from_timestamp(1_220_190_780, 0);
        let entry = AtomEntry::from_change(&rc);
        assert_eq!(
            entry.id,
            "tag:dokuwiki,2008-08-31:my%20page@1220190780000000"
        );
        assert_eq!(entry.link, None);
    }
}
