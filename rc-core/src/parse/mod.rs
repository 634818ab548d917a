//! Parsers for the three forms MediaWiki writes a change in, Atom entries, and the entry
//! point that tells them apart.

mod atom;
mod attrs;
mod draft;
#[cfg(feature = "minidom")]
mod element;
mod fast;
mod feed_xml;
mod json;
mod node;
mod rc_xml;
mod values;
mod xml;

use crate::change::RecentChange;
use crate::error::{snippet, Form, ParseError};

#[cfg(feature = "minidom")]
pub use element::from_element;

/// Default size cap: no real change comes near it, a flood of bytes is refused early.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;

/// A parser with its limits. The free functions ([`parse`], [`parse_rc`]...) use
/// [`Parser::default`].
///
/// ```
/// let parser = recentchanges_core::Parser::new().max_bytes(64);
/// let err = parser.parse(format!(r#"<rc type="edit" comment="{}" />"#, "x".repeat(100))).unwrap_err();
/// assert!(matches!(err, recentchanges_core::ParseError::TooLarge { limit: 64, .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parser {
    max_bytes: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl Parser {
    /// A parser with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses inputs longer than `max_bytes`.
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Parses a change in any of the three forms, telling them apart by their first
    /// non-blank byte and root element.
    pub fn parse(&self, input: impl AsRef<[u8]>) -> Result<RecentChange, ParseError> {
        let input = self.check(input.as_ref())?;
        match detect(input) {
            Some(Form::FeedJson) => json::parse(input),
            Some(_) => xml::parse(utf8(input)?, None),
            None => Err(unknown(input)),
        }
    }

    /// Parses the API / XMLRC `<rc>` element.
    pub fn parse_rc(&self, input: impl AsRef<[u8]>) -> Result<RecentChange, ParseError> {
        let input = self.check(input.as_ref())?;
        xml::parse(utf8(input)?, Some(Form::RcXml))
    }

    /// Parses the RC feed `<recentchange>` element.
    pub fn parse_recentchange(&self, input: impl AsRef<[u8]>) -> Result<RecentChange, ParseError> {
        let input = self.check(input.as_ref())?;
        xml::parse(utf8(input)?, Some(Form::FeedXml))
    }

    /// Parses an Atom `<entry>` (see the table in [`parse_atom`]).
    pub fn parse_atom(&self, input: impl AsRef<[u8]>) -> Result<RecentChange, ParseError> {
        let input = self.check(input.as_ref())?;
        xml::parse(utf8(input)?, Some(Form::Atom))
    }

    /// Parses the RC feed / EventStreams JSON object.
    pub fn parse_json(&self, input: impl AsRef<[u8]>) -> Result<RecentChange, ParseError> {
        let input = self.check(input.as_ref())?;
        json::parse(input)
    }

    fn check<'a>(&self, input: &'a [u8]) -> Result<&'a [u8], ParseError> {
        if input.len() > self.max_bytes {
            return Err(ParseError::TooLarge {
                size: input.len(),
                limit: self.max_bytes,
            });
        }
        if input.iter().all(u8::is_ascii_whitespace) {
            return Err(ParseError::Empty);
        }
        Ok(input)
    }
}

/// Which form an input looks like, from its first non-blank byte and (for XML) the name of
/// its first element. `None` when it is none of them.
///
/// ```
/// use recentchanges_core::{detect, Form};
/// assert_eq!(detect(br#"{"type": "edit"}"#), Some(Form::FeedJson));
/// assert_eq!(detect(b"<?xml version=\"1.0\"?>\n<recentchange id=\"3\"/>"), Some(Form::FeedXml));
/// assert_eq!(detect(b"<rc type=\"new\"/>"), Some(Form::RcXml));
/// assert_eq!(detect(b"hello"), None);
/// ```
pub fn detect(input: &[u8]) -> Option<Form> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let start = input.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &input[start..];
    match rest.first()? {
        b'{' => Some(Form::FeedJson),
        b'<' => first_element(rest).and_then(|name| match name {
            b"rc" => Some(Form::RcXml),
            b"recentchange" => Some(Form::FeedXml),
            b"entry" => Some(Form::Atom),
            _ => None,
        }),
        _ => None,
    }
}

/// The local name of the first element, skipping a declaration, comments and whitespace.
fn first_element(mut s: &[u8]) -> Option<&[u8]> {
    loop {
        let lt = s.iter().position(|&b| b == b'<')?;
        s = &s[lt + 1..];
        match s.first()? {
            b'?' | b'!' => continue,
            _ => {
                let end = s
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || matches!(b, b'/' | b'>'))
                    .unwrap_or(s.len());
                let name = &s[..end];
                return Some(match name.iter().position(|&b| b == b':') {
                    Some(colon) => &name[colon + 1..],
                    None => name,
                });
            }
        }
    }
}

fn utf8(input: &[u8]) -> Result<&str, ParseError> {
    // A change is nearly all ASCII: 16 bytes a compare up to the first other byte, then
    // the full check for the rest.
    let ascii = ascii_prefix(input);
    match std::str::from_utf8(&input[ascii..]) {
        // SAFETY: `input[..ascii]` is ASCII, so valid UTF-8 that ends on a character
        // boundary, and the rest is valid UTF-8.
        Ok(_) => Ok(unsafe { std::str::from_utf8_unchecked(input) }),
        Err(e) => Err(ParseError::NotUtf8 {
            offset: ascii + e.valid_up_to(),
        }),
    }
}

/// The length of the longest prefix of whole 16-byte blocks that is all ASCII.
fn ascii_prefix(input: &[u8]) -> usize {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= input.len() {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86_64, and the 16 bytes read are inside `input`.
        let high = unsafe { _mm_movemask_epi8(_mm_loadu_si128(input.as_ptr().add(i).cast())) };
        if high != 0 {
            break;
        }
        i += 16;
    }
    i
}

fn unknown(input: &[u8]) -> ParseError {
    let text = String::from_utf8_lossy(input);
    ParseError::UnknownForm {
        found: snippet(text.trim_start()),
    }
}

/// Parses a change in any of the three forms (see [`Parser::parse`]).
///
/// ```
/// let rc = recentchanges_core::parse(r#"{"id": 4, "type": "edit", "namespace": 0, "title": "Alpha",
///     "timestamp": 1795424344, "user": "Admin", "minor": true,
///     "length": {"old": 22, "new": 14}, "revision": {"old": 2, "new": 3}, "wiki": "wikidb"}"#)?;
/// assert_eq!(rc.kind, recentchanges_core::Kind::Edit);
/// assert_eq!((rc.rev_id, rc.old_rev_id, rc.size_delta()), (Some(3), Some(2), Some(-8)));
/// assert_eq!(rc.timestamp.unwrap().to_rfc3339(), "2026-11-23T08:59:04+00:00");
/// # Ok::<(), recentchanges_core::ParseError>(())
/// ```
pub fn parse(input: impl AsRef<[u8]>) -> Result<RecentChange, ParseError> {
    Parser::default().parse(input)
}

/// Parses the API / XMLRC `<rc>` element (see [`Parser::parse_rc`]).
pub fn parse_rc(input: impl AsRef<[u8]>) -> Result<RecentChange, ParseError> {
    Parser::default().parse_rc(input)
}

/// Parses the RC feed `<recentchange>` element (see [`Parser::parse_recentchange`]).
pub fn parse_recentchange(input: impl AsRef<[u8]>) -> Result<RecentChange, ParseError> {
    Parser::default().parse_recentchange(input)
}

/// Parses an Atom `<entry>` (RFC 4287), the form DokuWiki's dokupubsub published page
/// changes in.
///
/// | Atom | field |
/// | --- | --- |
/// | `title` (required) | `title` |
/// | first `link` with `rel="alternate"` or no `rel` | `url` |
/// | `id` | `entry_id` |
/// | `updated` (else `published`) | `timestamp` |
/// | first `author`'s `name` | `user` |
/// | `summary` | `comment` |
/// | `category/@term` | `tags` |
///
/// Everything else is kept in `extra` by element name (other links as `link`, `content` as
/// `{type, src, text}`...). An entry does not say whether the page is new: the kind is
/// `edit`.
///
/// ```
/// let rc = recentchanges_core::parse_atom(r#"<entry xmlns="http://www.w3.org/2005/Atom">
///   <title>wiki:start</title>
///   <link rel="alternate" href="http://wiki.example/doku.php?id=wiki:start&amp;rev=1795424344"/>
///   <id>http://wiki.example/doku.php?id=wiki:start&amp;rev=1795424344</id>
///   <updated>2026-11-23T08:59:04Z</updated>
///   <author><name>alice</name></author>
///   <summary>typo</summary>
/// </entry>"#)?;
/// assert_eq!(rc.title.as_deref(), Some("wiki:start"));
/// assert_eq!(rc.url.as_deref(), Some("http://wiki.example/doku.php?id=wiki:start&rev=1795424344"));
/// assert_eq!((rc.user.as_deref(), rc.comment.as_deref()), (Some("alice"), Some("typo")));
/// assert_eq!(rc.timestamp.unwrap().to_rfc3339(), "2026-11-23T08:59:04+00:00");
/// # Ok::<(), recentchanges_core::ParseError>(())
/// ```
pub fn parse_atom(input: impl AsRef<[u8]>) -> Result<RecentChange, ParseError> {
    Parser::default().parse_atom(input)
}

/// Parses the RC feed / EventStreams JSON object (see [`Parser::parse_json`]).
pub fn parse_json(input: impl AsRef<[u8]>) -> Result<RecentChange, ParseError> {
    Parser::default().parse_json(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_errors_keep_their_offset_past_the_ascii_blocks() {
        for len in [0, 5, 15, 16, 17, 31, 32, 40] {
            let mut input = vec![b'a'; len];
            input.extend_from_slice("é€😀".as_bytes());
            assert!(utf8(&input).is_ok(), "{len}");
            input.extend_from_slice(b"\xFFab");
            let offset = input.len() - 3;
            assert_eq!(utf8(&input), Err(ParseError::NotUtf8 { offset }), "{len}");
            input[len + 1] = b'x'; // cuts the é in two
            assert_eq!(
                utf8(&input),
                Err(ParseError::NotUtf8 { offset: len }),
                "{len}"
            );
        }
    }
}
