//! The typed recent change: one shape for every form a wiki emits.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Values of fields this crate does not model, keyed by their wire name.
///
/// XML attributes arrive as JSON strings; nested XML elements and JSON values keep their
/// structure (see [`RecentChange::extra`]).
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// One change on a wiki, as listed on Special:RecentChanges.
///
/// Every form MediaWiki emits (the API/XMLRC `<rc>` element, the RC feed `<recentchange>`
/// element, the RC feed / EventStreams JSON object) parses into this one type. A field that
/// the form did not carry is `None` (or `false` / empty for flags and lists); nothing the
/// parser did not recognise is dropped: it lands in [`extra`](Self::extra).
///
/// # JSON shape
///
/// `serde` writes the field names below; `None` fields, `false` flags and empty lists or
/// maps are omitted, `kind` and `patrolled` are lowercase strings, `timestamp` is RFC 3339
/// UTC. Reading that JSON back gives an equal value:
///
/// ```
/// let rc = recentchanges_core::parse(r#"<rc type="edit" ns="0" title="Alpha" rcid="4" minor=""
///     timestamp="2026-11-23T08:59:04Z" user="Admin" />"#)?;
/// let json = serde_json::to_string(&rc)?;
/// assert_eq!(json, r#"{"kind":"edit","rcid":4,"namespace":0,"title":"Alpha","user":"Admin","minor":true,"timestamp":"2026-11-23T08:59:04Z"}"#);
/// assert_eq!(serde_json::from_str::<recentchanges_core::RecentChange>(&json)?, rc);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecentChange {
    /// What happened: an edit, a page creation, a log action...
    pub kind: Kind,
    /// The recent-changes id (`rcid`, the feeds' `id`); unique within one wiki.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcid: Option<u64>,
    /// The wiki's database name (`wikiid` of XMLRC, `wiki` of the feeds), e.g. `enwiki`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wiki: Option<String>,
    /// Namespace number of the page (0 for articles, 1 for talk pages...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<i32>,
    /// Prefixed page title, e.g. `Talk:Alpha`. `None` when the action is hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Page id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<u64>,
    /// Revision created by the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev_id: Option<u64>,
    /// Revision the change was made on; `None` for a new page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_rev_id: Option<u64>,
    /// User name, or IP address of an anonymous editor. `None` when hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// User id; `None` for anonymous editors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u64>,
    /// Made by a bot account, flagged as a bot change.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bot: bool,
    /// Flagged as a minor edit.
    #[serde(default, skip_serializing_if = "is_false")]
    pub minor: bool,
    /// Made by an anonymous (logged-out) editor. The feeds do not carry this flag; it is
    /// derived from the user being an IP address there.
    #[serde(default, skip_serializing_if = "is_false")]
    pub anon: bool,
    /// The page is a redirect (API form only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub redirect: bool,
    /// Patrol state of the change.
    #[serde(default, skip_serializing_if = "Patrolled::is_unknown")]
    pub patrolled: Patrolled,
    /// Page size in bytes before the change; `None` for new pages and log entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_len: Option<u64>,
    /// Page size in bytes after the change; `None` for log entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_len: Option<u64>,
    /// When the change was made, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
    /// The edit summary or log reason, as wikitext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The edit summary rendered as HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed_comment: Option<String>,
    /// Change tags, e.g. `mw-new-redirect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// SHA-1 of the new revision's content (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// Log entry id (log changes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<u64>,
    /// Log type, e.g. `move`, `delete`, `block`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_type: Option<String>,
    /// Log action, e.g. `move_redir`, `delete`, `reblock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_action: Option<String>,
    /// Log parameters as the form gives them (their names differ between the API form and
    /// the feeds: the API writes `target_title`, the feeds `target`).
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub log_params: Fields,
    /// The log action as a sentence (feeds only), e.g. `moved [[A]] to [[B]]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_action_comment: Option<String>,
    /// The wiki's server URL (feeds only), e.g. `https://en.wikipedia.org`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// The wiki's server name (feeds only), e.g. `en.wikipedia.org`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// The wiki's script path (feeds only), e.g. `/w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_path: Option<String>,
    /// A link to the change or its page as the source gave it: an Atom entry's alternate
    /// link, a WikiPing `url`. MediaWiki's forms carry none (see [`RecentChange::diff_url`]
    /// for links built from `server_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The source's own identifier of the change where it is not an `rcid`: an Atom entry's
    /// `<id>` (DokuWiki PubSub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    /// The comment was hidden by revision deletion (API form only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub comment_hidden: bool,
    /// The user was hidden by revision deletion (API form only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub user_hidden: bool,
    /// The log action was hidden: title and namespace are absent (API form only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub action_hidden: bool,
    /// The hidden parts are suppressed (hidden from administrators too; API form only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub suppressed: bool,
    /// Every attribute, field or element the parser did not recognise, by wire name.
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub extra: Fields,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl RecentChange {
    /// A change of the given kind with every other field absent.
    ///
    /// ```
    /// let mut rc = recentchanges_core::RecentChange::new(recentchanges_core::Kind::Edit);
    /// rc.title = Some("Alpha".into());
    /// assert_eq!(rc.rcid, None);
    /// ```
    pub fn new(kind: Kind) -> Self {
        RecentChange {
            kind,
            rcid: None,
            wiki: None,
            namespace: None,
            title: None,
            page_id: None,
            rev_id: None,
            old_rev_id: None,
            user: None,
            user_id: None,
            bot: false,
            minor: false,
            anon: false,
            redirect: false,
            patrolled: Patrolled::Unknown,
            old_len: None,
            new_len: None,
            timestamp: None,
            comment: None,
            parsed_comment: None,
            tags: Vec::new(),
            sha1: None,
            log_id: None,
            log_type: None,
            log_action: None,
            log_params: Fields::new(),
            log_action_comment: None,
            server_url: None,
            server_name: None,
            script_path: None,
            url: None,
            entry_id: None,
            comment_hidden: false,
            user_hidden: false,
            action_hidden: false,
            suppressed: false,
            extra: Fields::new(),
        }
    }

    /// The user name, or `default` when it is absent (hidden).
    pub fn user_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.user.as_deref().unwrap_or(default)
    }

    /// The title, or `default` when it is absent (hidden action).
    pub fn title_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.title.as_deref().unwrap_or(default)
    }

    /// Size change in bytes (`new_len - old_len`, a new page counting from 0), when known.
    ///
    /// ```
    /// let rc = recentchanges_core::parse(r#"<rc type="edit" title="A" oldlen="22" newlen="14" old_revid="2" />"#)?;
    /// assert_eq!(rc.size_delta(), Some(-8));
    /// # Ok::<(), recentchanges_core::ParseError>(())
    /// ```
    pub fn size_delta(&self) -> Option<i64> {
        let new = i64::try_from(self.new_len?).ok()?;
        let old = match (self.old_len, &self.kind) {
            (Some(old), _) => i64::try_from(old).ok()?,
            (None, Kind::New) => 0,
            (None, _) => return None,
        };
        Some(new - old)
    }

    /// The key that identifies this change across forms and deliveries: `(wiki, rcid)`.
    pub fn identity(&self) -> (Option<&str>, Option<u64>) {
        (self.wiki.as_deref(), self.rcid)
    }
}

/// What kind of change a [`RecentChange`] is (`type` on the wire).
///
/// Unknown kinds are kept as [`Kind::Other`] with their text, never rejected.
///
/// ```
/// use recentchanges_core::Kind;
/// assert_eq!("log".parse::<Kind>(), Ok(Kind::Log));
/// assert_eq!("flow".parse::<Kind>(), Ok(Kind::Other("flow".into())));
/// assert_eq!(Kind::Categorize.as_str(), "categorize");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An edit to an existing page.
    Edit,
    /// A page creation.
    New,
    /// A log action: move, delete, protect, block, user rights...
    Log,
    /// A page was added to or removed from a category.
    Categorize,
    /// A change from an external source (e.g. Wikidata).
    External,
    /// A kind this crate does not know, kept as text.
    Other(String),
}

impl Kind {
    /// The wire name of the kind.
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Edit => "edit",
            Kind::New => "new",
            Kind::Log => "log",
            Kind::Categorize => "categorize",
            Kind::External => "external",
            Kind::Other(s) => s,
        }
    }

    /// The kind of a wire name; also accepts MediaWiki's numeric `rc_type` codes.
    pub fn from_wire(s: &str) -> Kind {
        match s {
            "edit" | "0" => Kind::Edit,
            "new" | "1" => Kind::New,
            "log" | "3" => Kind::Log,
            "external" | "5" => Kind::External,
            "categorize" | "6" => Kind::Categorize,
            other => Kind::Other(other.to_owned()),
        }
    }
}

impl FromStr for Kind {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Kind::from_wire(s))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Kind::from_wire(&s))
    }
}

/// Patrol state of a change.
///
/// The API form tells all four states apart; the feeds only say patrolled or not
/// ([`Patrolled::Patrolled`] covers autopatrolled there), and say nothing for log entries
/// ([`Patrolled::Unknown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Patrolled {
    /// Marked as patrolled by someone.
    Patrolled,
    /// Patrolled automatically because its author is trusted.
    Autopatrolled,
    /// Not patrolled yet.
    Unpatrolled,
    /// The form did not say.
    #[default]
    Unknown,
}

impl Patrolled {
    /// `Some(true)` for patrolled or autopatrolled, `Some(false)` for unpatrolled.
    pub fn is_patrolled(self) -> Option<bool> {
        match self {
            Patrolled::Patrolled | Patrolled::Autopatrolled => Some(true),
            Patrolled::Unpatrolled => Some(false),
            Patrolled::Unknown => None,
        }
    }

    /// Whether the form said nothing about patrolling.
    pub fn is_unknown(&self) -> bool {
        *self == Patrolled::Unknown
    }

    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Patrolled::Patrolled => "patrolled",
            Patrolled::Autopatrolled => "autopatrolled",
            Patrolled::Unpatrolled => "unpatrolled",
            Patrolled::Unknown => "unknown",
        }
    }
}
