//! What can go wrong when parsing a change, said so a person can fix it.

use std::fmt;

/// The form a change was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// The API / XMLRC `<rc>` element.
    RcXml,
    /// The RC feed `<recentchange>` element (`XMLRCFeedFormatter`).
    FeedXml,
    /// The RC feed / EventStreams JSON object (`JSONRCFeedFormatter`).
    FeedJson,
    /// An Atom `<entry>` (RFC 4287), as DokuWiki published page changes to XMPP PubSub.
    Atom,
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Form::RcXml => "<rc> element",
            Form::FeedXml => "<recentchange> element",
            Form::FeedJson => "JSON change",
            Form::Atom => "Atom entry",
        })
    }
}

/// Why an input is not a recent change.
///
/// Messages name the form, the attribute or field, the offending value (truncated to
/// [`SNIPPET_CHARS`] characters) and the byte offset where it was found, when known.
///
/// ```
/// let err = recentchanges_core::parse(r#"<rc type="edit" title="A" rcid="12x" />"#).unwrap_err();
/// assert_eq!(err.to_string(), r#"<rc> element: attribute `rcid` has "12x", expected an unsigned integer (at byte 32)"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input is larger than the parser's size cap.
    #[error("input is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Input size.
        size: usize,
        /// The cap in force.
        limit: usize,
    },
    /// The input is empty or only whitespace.
    #[error("input is empty")]
    Empty,
    /// The input is not UTF-8.
    #[error("input is not valid UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The input is none of the known forms.
    #[error(
        "not a recent change: expected <rc>, <recentchange>, an Atom <entry> or a JSON object, found {found:?}"
    )]
    UnknownForm {
        /// The start of the input.
        found: String,
    },
    /// The XML or JSON itself is malformed.
    #[error("{form}: malformed input at byte {offset}: {message}")]
    Syntax {
        /// The form being parsed.
        form: Form,
        /// Byte offset of the problem (for JSON, of the start of its line).
        offset: u64,
        /// What the XML or JSON reader said.
        message: String,
    },
    /// The XML has a document type declaration, refused to rule out entity expansion.
    #[error("{form}: DTDs and entity declarations are refused (at byte {offset})")]
    Dtd {
        /// The form being parsed.
        form: Form,
        /// Byte offset of the `<!DOCTYPE`.
        offset: u64,
    },
    /// The root element is not the one the form needs.
    #[error("{form}: expected <{expected}> as the root element, found <{found}>")]
    WrongRoot {
        /// The form being parsed.
        form: Form,
        /// The element name the form needs.
        expected: &'static str,
        /// The element name found.
        found: String,
    },
    /// A required attribute or field is absent.
    #[error("{form}: required {what} `{name}` is missing")]
    Missing {
        /// The form being parsed.
        form: Form,
        /// `attribute` or `field`.
        what: &'static str,
        /// Its wire name.
        name: &'static str,
    },
    /// An attribute or field has a value of the wrong shape.
    #[error("{form}: {what} `{name}` has {value}, expected {expected}{}", at(*.offset))]
    Invalid {
        /// The form being parsed.
        form: Form,
        /// `attribute` or `field`.
        what: &'static str,
        /// Its wire name, with its parent for nested ones (`length/@old`, `revision.new`).
        name: String,
        /// The offending value as shown in the message: quoted and truncated for XML
        /// (`"12x"`), described for JSON (`string "12x"`).
        value: String,
        /// What would have been accepted.
        expected: String,
        /// Byte offset of the value (XML: its start; JSON: its end), when known.
        offset: Option<u64>,
    },
}

fn at(offset: Option<u64>) -> String {
    offset
        .map(|o| format!(" (at byte {o})"))
        .unwrap_or_default()
}

/// How many characters of an offending value an error message quotes.
pub const SNIPPET_CHARS: usize = 64;

/// The first [`SNIPPET_CHARS`] characters of `s`, with `…` when cut.
pub(crate) fn snippet(s: &str) -> String {
    match s.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// An attribute or field problem before the parser knows where it is.
#[derive(Debug)]
pub(crate) struct Bad {
    pub name: String,
    pub value: String,
    pub expected: String,
}

impl Bad {
    pub fn new(name: impl Into<String>, value: &str, expected: impl Into<String>) -> Self {
        Bad {
            name: name.into(),
            value: format!("{:?}", snippet(value)),
            expected: expected.into(),
        }
    }

    pub fn into_error(self, form: Form, what: &'static str, offset: Option<u64>) -> ParseError {
        ParseError::Invalid {
            form,
            what,
            name: self.name,
            value: self.value,
            expected: self.expected,
            offset,
        }
    }
}
