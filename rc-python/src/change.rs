//! `rcclient.RecentChange`: rc-core's typed change, with attributes, item access by contract
//! and wire names, and the helpers of the Rust type.

use chrono::{DateTime, Utc};
use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use recentchanges_core::{Kind, Patrolled, RecentChange};
use serde_json::Value;

use crate::convert::{map_to_py, py_to_value, rfc3339, value_to_py};

/// One change on a wiki: an edit, a page creation, a log action...
///
/// Every field of the contract is an attribute (`rc.title`, `rc.old_rev_id`, ...); absent
/// fields are `None` (flags `False`, lists and dicts empty). Item access takes the contract
/// names and the wire names rcclient.py users wrote (`rc["old_revid"]`, `rc["ns"]`,
/// `rc["type"]`) and the keys of `extra`.
#[pyclass(module = "rcclient", name = "RecentChange", frozen)]
pub struct PyRecentChange {
    pub rc: RecentChange,
    pub delivery: Option<Box<Delivery>>,
}

/// Where and how a change arrived: the room / node / URL, the transport's id, and for
/// EventStreams the Kafka place of the event.
#[derive(Default)]
pub struct Delivery {
    pub room: String,
    pub stanza_id: Option<String>,
    pub replayed: bool,
    pub sent_at: Option<DateTime<Utc>>,
    pub kafka: Option<Kafka>,
}

/// An EventStreams event's stream and place (its `meta`).
pub struct Kafka {
    pub stream: Option<String>,
    pub topic: Option<String>,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
}

impl PyRecentChange {
    pub fn new(rc: RecentChange) -> Self {
        PyRecentChange { rc, delivery: None }
    }

    fn kafka(&self) -> Option<&Kafka> {
        self.delivery.as_ref().and_then(|d| d.kafka.as_ref())
    }
}

/// The contract's fields, in order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum F {
    Kind,
    Rcid,
    Wiki,
    Namespace,
    Title,
    PageId,
    RevId,
    OldRevId,
    User,
    UserId,
    Bot,
    Minor,
    Anon,
    Redirect,
    Patrolled,
    OldLen,
    NewLen,
    Timestamp,
    Comment,
    ParsedComment,
    Tags,
    Sha1,
    LogId,
    LogType,
    LogAction,
    LogParams,
    LogActionComment,
    ServerUrl,
    ServerName,
    ScriptPath,
    Url,
    EntryId,
    CommentHidden,
    UserHidden,
    ActionHidden,
    Suppressed,
    Extra,
    // Wire-only views.
    NewFlag,
    AutopatrolledFlag,
    UnpatrolledFlag,
    Length,
    Revision,
}

const FIELDS: [(&str, F); 37] = [
    ("kind", F::Kind),
    ("rcid", F::Rcid),
    ("wiki", F::Wiki),
    ("namespace", F::Namespace),
    ("title", F::Title),
    ("page_id", F::PageId),
    ("rev_id", F::RevId),
    ("old_rev_id", F::OldRevId),
    ("user", F::User),
    ("user_id", F::UserId),
    ("bot", F::Bot),
    ("minor", F::Minor),
    ("anon", F::Anon),
    ("redirect", F::Redirect),
    ("patrolled", F::Patrolled),
    ("old_len", F::OldLen),
    ("new_len", F::NewLen),
    ("timestamp", F::Timestamp),
    ("comment", F::Comment),
    ("parsed_comment", F::ParsedComment),
    ("tags", F::Tags),
    ("sha1", F::Sha1),
    ("log_id", F::LogId),
    ("log_type", F::LogType),
    ("log_action", F::LogAction),
    ("log_params", F::LogParams),
    ("log_action_comment", F::LogActionComment),
    ("server_url", F::ServerUrl),
    ("server_name", F::ServerName),
    ("script_path", F::ScriptPath),
    ("url", F::Url),
    ("entry_id", F::EntryId),
    ("comment_hidden", F::CommentHidden),
    ("user_hidden", F::UserHidden),
    ("action_hidden", F::ActionHidden),
    ("suppressed", F::Suppressed),
    ("extra", F::Extra),
];

/// The contract's field names, in order (`RecentChange.FIELDS`).
pub fn field_names() -> Vec<&'static str> {
    FIELDS.iter().map(|(n, _)| *n).collect()
}

impl F {
    /// A contract name, or a wire name of the API (`<rc>`) or feed forms.
    fn from_name(name: &str) -> Option<F> {
        Some(match name {
            "kind" | "type" => F::Kind,
            "rcid" | "id" => F::Rcid,
            "wiki" | "wikiid" => F::Wiki,
            "namespace" | "ns" => F::Namespace,
            "title" => F::Title,
            "page_id" | "pageid" => F::PageId,
            "rev_id" | "revid" => F::RevId,
            "old_rev_id" | "old_revid" => F::OldRevId,
            "user" => F::User,
            "user_id" | "userid" => F::UserId,
            "bot" => F::Bot,
            "minor" => F::Minor,
            "anon" => F::Anon,
            "redirect" => F::Redirect,
            "patrolled" => F::Patrolled,
            "old_len" | "oldlen" => F::OldLen,
            "new_len" | "newlen" => F::NewLen,
            "timestamp" => F::Timestamp,
            "comment" => F::Comment,
            "parsed_comment" | "parsedcomment" => F::ParsedComment,
            "tags" => F::Tags,
            "sha1" => F::Sha1,
            "log_id" | "logid" => F::LogId,
            "log_type" | "logtype" => F::LogType,
            "log_action" | "logaction" => F::LogAction,
            "log_params" | "logparams" => F::LogParams,
            "log_action_comment" => F::LogActionComment,
            "server_url" => F::ServerUrl,
            "server_name" => F::ServerName,
            "script_path" | "server_script_path" => F::ScriptPath,
            "url" => F::Url,
            "entry_id" => F::EntryId,
            "comment_hidden" | "commenthidden" => F::CommentHidden,
            "user_hidden" | "userhidden" => F::UserHidden,
            "action_hidden" | "actionhidden" => F::ActionHidden,
            "suppressed" => F::Suppressed,
            "extra" => F::Extra,
            "new" => F::NewFlag,
            "autopatrolled" => F::AutopatrolledFlag,
            "unpatrolled" => F::UnpatrolledFlag,
            "length" => F::Length,
            "revision" => F::Revision,
            _ => return None,
        })
    }
}

fn opt<'py, T: IntoPyObject<'py> + Clone>(
    py: Python<'py>,
    v: &Option<T>,
) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Some(v) => v.clone().into_bound_py_any(py),
        None => Ok(py.None().into_bound(py)),
    }
}

fn old_new<'py>(
    py: Python<'py>,
    old: Option<u64>,
    new: Option<u64>,
) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    d.set_item("old", old)?;
    d.set_item("new", new)?;
    Ok(d.into_any())
}

fn get<'py>(rc: &RecentChange, py: Python<'py>, f: F) -> PyResult<Bound<'py, PyAny>> {
    match f {
        F::Kind => Ok(PyString::new(py, rc.kind.as_str()).into_any()),
        F::Rcid => opt(py, &rc.rcid),
        F::Wiki => opt(py, &rc.wiki),
        F::Namespace => opt(py, &rc.namespace),
        F::Title => opt(py, &rc.title),
        F::PageId => opt(py, &rc.page_id),
        F::RevId => opt(py, &rc.rev_id),
        F::OldRevId => opt(py, &rc.old_rev_id),
        F::User => opt(py, &rc.user),
        F::UserId => opt(py, &rc.user_id),
        F::Bot => rc.bot.into_bound_py_any(py),
        F::Minor => rc.minor.into_bound_py_any(py),
        F::Anon => rc.anon.into_bound_py_any(py),
        F::Redirect => rc.redirect.into_bound_py_any(py),
        F::Patrolled => Ok(PyString::new(py, rc.patrolled.as_str()).into_any()),
        F::OldLen => opt(py, &rc.old_len),
        F::NewLen => opt(py, &rc.new_len),
        F::Timestamp => opt(py, &rc.timestamp),
        F::Comment => opt(py, &rc.comment),
        F::ParsedComment => opt(py, &rc.parsed_comment),
        F::Tags => Ok(PyList::new(py, &rc.tags)?.into_any()),
        F::Sha1 => opt(py, &rc.sha1),
        F::LogId => opt(py, &rc.log_id),
        F::LogType => opt(py, &rc.log_type),
        F::LogAction => opt(py, &rc.log_action),
        F::LogParams => Ok(map_to_py(py, &rc.log_params)?.into_any()),
        F::LogActionComment => opt(py, &rc.log_action_comment),
        F::ServerUrl => opt(py, &rc.server_url),
        F::ServerName => opt(py, &rc.server_name),
        F::ScriptPath => opt(py, &rc.script_path),
        F::Url => opt(py, &rc.url),
        F::EntryId => opt(py, &rc.entry_id),
        F::CommentHidden => rc.comment_hidden.into_bound_py_any(py),
        F::UserHidden => rc.user_hidden.into_bound_py_any(py),
        F::ActionHidden => rc.action_hidden.into_bound_py_any(py),
        F::Suppressed => rc.suppressed.into_bound_py_any(py),
        F::Extra => Ok(map_to_py(py, &rc.extra)?.into_any()),
        F::NewFlag => (rc.kind == Kind::New).into_bound_py_any(py),
        F::AutopatrolledFlag => (rc.patrolled == Patrolled::Autopatrolled).into_bound_py_any(py),
        F::UnpatrolledFlag => (rc.patrolled == Patrolled::Unpatrolled).into_bound_py_any(py),
        F::Length => old_new(py, rc.old_len, rc.new_len),
        F::Revision => old_new(py, rc.old_rev_id, rc.rev_id),
    }
}

/// Whether the change carries the field (what the serde JSON shape would write).
fn present(rc: &RecentChange, f: F) -> bool {
    match f {
        F::Kind => true,
        F::Rcid => rc.rcid.is_some(),
        F::Wiki => rc.wiki.is_some(),
        F::Namespace => rc.namespace.is_some(),
        F::Title => rc.title.is_some(),
        F::PageId => rc.page_id.is_some(),
        F::RevId => rc.rev_id.is_some(),
        F::OldRevId => rc.old_rev_id.is_some(),
        F::User => rc.user.is_some(),
        F::UserId => rc.user_id.is_some(),
        F::Bot => rc.bot,
        F::Minor => rc.minor,
        F::Anon => rc.anon,
        F::Redirect => rc.redirect,
        F::Patrolled => !rc.patrolled.is_unknown(),
        F::OldLen => rc.old_len.is_some(),
        F::NewLen => rc.new_len.is_some(),
        F::Timestamp => rc.timestamp.is_some(),
        F::Comment => rc.comment.is_some(),
        F::ParsedComment => rc.parsed_comment.is_some(),
        F::Tags => !rc.tags.is_empty(),
        F::Sha1 => rc.sha1.is_some(),
        F::LogId => rc.log_id.is_some(),
        F::LogType => rc.log_type.is_some(),
        F::LogAction => rc.log_action.is_some(),
        F::LogParams => !rc.log_params.is_empty(),
        F::LogActionComment => rc.log_action_comment.is_some(),
        F::ServerUrl => rc.server_url.is_some(),
        F::ServerName => rc.server_name.is_some(),
        F::ScriptPath => rc.script_path.is_some(),
        F::Url => rc.url.is_some(),
        F::EntryId => rc.entry_id.is_some(),
        F::CommentHidden => rc.comment_hidden,
        F::UserHidden => rc.user_hidden,
        F::ActionHidden => rc.action_hidden,
        F::Suppressed => rc.suppressed,
        F::Extra => !rc.extra.is_empty(),
        F::NewFlag => rc.kind == Kind::New,
        F::AutopatrolledFlag => rc.patrolled == Patrolled::Autopatrolled,
        F::UnpatrolledFlag => rc.patrolled == Patrolled::Unpatrolled,
        F::Length => rc.old_len.is_some() || rc.new_len.is_some(),
        F::Revision => rc.old_rev_id.is_some() || rc.rev_id.is_some(),
    }
}

/// Builds a change from a mapping of contract names (the shape of `to_dict()`).
pub fn from_mapping(fields: &Bound<'_, PyAny>) -> PyResult<RecentChange> {
    let value = py_to_value(fields)?;
    let Value::Object(map) = value else {
        return Err(PyTypeError::new_err(
            "expected a dict of RecentChange fields",
        ));
    };
    let mut clean = serde_json::Map::new();
    for (k, v) in map {
        if !FIELDS.iter().any(|(n, _)| *n == k) {
            return Err(PyTypeError::new_err(format!(
                "RecentChange has no field {k:?} (put unknown fields in extra={{...}})"
            )));
        }
        // `None` means absent; `to_dict()` writes it for every absent field.
        if !v.is_null() {
            clean.insert(k, v);
        }
    }
    if !clean.contains_key("kind") {
        clean.insert("kind".into(), Value::String("edit".into()));
    }
    serde_json::from_value(Value::Object(clean))
        .map_err(|e| PyValueError::new_err(format!("invalid RecentChange field: {e}")))
}

fn html_escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

impl PyRecentChange {
    fn getf<'py>(&self, py: Python<'py>, f: F) -> PyResult<Bound<'py, PyAny>> {
        get(&self.rc, py, f)
    }

    fn lookup<'py>(&self, py: Python<'py>, key: &str) -> Option<PyResult<Bound<'py, PyAny>>> {
        if let Some(f) = F::from_name(key) {
            return Some(self.getf(py, f));
        }
        self.rc.extra.get(key).map(|v| value_to_py(py, v))
    }

    /// The flat keys of the mapping view: present contract fields (without `extra`), then
    /// the keys of `extra`.
    fn key_list(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = FIELDS
            .iter()
            .filter(|(_, f)| *f != F::Extra && present(&self.rc, *f))
            .map(|(n, _)| *n)
            .collect();
        keys.extend(
            self.rc
                .extra
                .keys()
                .map(String::as_str)
                .filter(|k| F::from_name(k).is_none()),
        );
        keys
    }

    pub fn to_dict_impl<'py>(
        &self,
        py: Python<'py>,
        omit_absent: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, f) in FIELDS {
            if omit_absent && !present(&self.rc, f) {
                continue;
            }
            d.set_item(name, self.getf(py, f)?)?;
        }
        Ok(d)
    }
}

#[pymethods]
impl PyRecentChange {
    /// `RecentChange(kind="edit", **fields)`: a change built from contract fields, e.g.
    /// `RecentChange("edit", rcid=4, wiki="enwiki", title="Alpha", timestamp=datetime(...))`.
    #[new]
    #[pyo3(signature = (kind = "edit", **fields))]
    fn py_new(py: Python<'_>, kind: &str, fields: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let py_fields = match fields {
            Some(f) => f.copy()?,
            None => PyDict::new(py),
        };
        py_fields.set_item("kind", kind)?;
        Ok(PyRecentChange::new(from_mapping(py_fields.as_any())?))
    }

    /// A change from a dict of contract fields (`to_dict()`'s shape; `None` means absent).
    #[staticmethod]
    fn from_dict(fields: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyRecentChange::new(from_mapping(fields)?))
    }

    /// A change from rc-core's JSON shape (`to_json()`).
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Self> {
        let bytes = crate::parse::input_bytes(text)?;
        let rc = serde_json::from_slice::<RecentChange>(&bytes).map_err(|e| {
            crate::errors::config_error(py, format!("not the JSON shape of a RecentChange: {e}"))
        })?;
        Ok(PyRecentChange::new(rc))
    }

    /// The contract's field names, in order.
    #[classattr]
    #[allow(non_snake_case)]
    fn FIELDS() -> Vec<&'static str> {
        field_names()
    }

    // ----------------------------------------------------------------- attributes

    /// What happened: "edit", "new", "log", "categorize", "external" or another kind's name.
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.getf(py, F::Kind)
    }
    /// The recent-changes id (`rcid`, the feeds' `id`), unique within one wiki.
    #[getter]
    fn rcid(&self) -> Option<u64> {
        self.rc.rcid
    }
    /// The wiki's database name (`wikiid`, the feeds' `wiki`), e.g. "enwiki".
    #[getter]
    fn wiki(&self) -> Option<&str> {
        self.rc.wiki.as_deref()
    }
    /// Namespace number of the page.
    #[getter]
    fn namespace(&self) -> Option<i32> {
        self.rc.namespace
    }
    /// Prefixed page title, e.g. "Talk:Alpha"; None when the action is hidden.
    #[getter]
    fn title(&self) -> Option<&str> {
        self.rc.title.as_deref()
    }
    /// Page id.
    #[getter]
    fn page_id(&self) -> Option<u64> {
        self.rc.page_id
    }
    /// Revision created by the change.
    #[getter]
    fn rev_id(&self) -> Option<u64> {
        self.rc.rev_id
    }
    /// Revision the change was made on; None for a new page.
    #[getter]
    fn old_rev_id(&self) -> Option<u64> {
        self.rc.old_rev_id
    }
    /// User name or IP address; None when hidden.
    #[getter]
    fn user(&self) -> Option<&str> {
        self.rc.user.as_deref()
    }
    /// User id; None for anonymous editors.
    #[getter]
    fn user_id(&self) -> Option<u64> {
        self.rc.user_id
    }
    /// Flagged as a bot change.
    #[getter]
    fn bot(&self) -> bool {
        self.rc.bot
    }
    /// Flagged as a minor edit.
    #[getter]
    fn minor(&self) -> bool {
        self.rc.minor
    }
    /// Made by an anonymous (logged-out) editor.
    #[getter]
    fn anon(&self) -> bool {
        self.rc.anon
    }
    /// The page is a redirect (API form only).
    #[getter]
    fn redirect(&self) -> bool {
        self.rc.redirect
    }
    /// "patrolled", "autopatrolled", "unpatrolled" or "unknown".
    #[getter]
    fn patrolled(&self) -> &'static str {
        self.rc.patrolled.as_str()
    }
    /// Page size in bytes before the change.
    #[getter]
    fn old_len(&self) -> Option<u64> {
        self.rc.old_len
    }
    /// Page size in bytes after the change.
    #[getter]
    fn new_len(&self) -> Option<u64> {
        self.rc.new_len
    }
    /// When the change was made: a timezone-aware datetime in UTC.
    #[getter]
    fn timestamp(&self) -> Option<DateTime<Utc>> {
        self.rc.timestamp
    }
    /// The edit summary or log reason, as wikitext.
    #[getter]
    fn comment(&self) -> Option<&str> {
        self.rc.comment.as_deref()
    }
    /// The edit summary rendered as HTML.
    #[getter]
    fn parsed_comment(&self) -> Option<&str> {
        self.rc.parsed_comment.as_deref()
    }
    /// Change tags (a new list each time).
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.rc.tags.clone()
    }
    /// SHA-1 of the new revision's content (hex).
    #[getter]
    fn sha1(&self) -> Option<&str> {
        self.rc.sha1.as_deref()
    }
    /// Log entry id.
    #[getter]
    fn log_id(&self) -> Option<u64> {
        self.rc.log_id
    }
    /// Log type, e.g. "move", "delete", "block".
    #[getter]
    fn log_type(&self) -> Option<&str> {
        self.rc.log_type.as_deref()
    }
    /// Log action, e.g. "move_redir".
    #[getter]
    fn log_action(&self) -> Option<&str> {
        self.rc.log_action.as_deref()
    }
    /// Log parameters as the form gives them (a new dict each time).
    #[getter]
    fn log_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.getf(py, F::LogParams)
    }
    /// The log action as a sentence (feeds only).
    #[getter]
    fn log_action_comment(&self) -> Option<&str> {
        self.rc.log_action_comment.as_deref()
    }
    /// The wiki's server URL (feeds only).
    #[getter]
    fn server_url(&self) -> Option<&str> {
        self.rc.server_url.as_deref()
    }
    /// The wiki's server name (feeds only).
    #[getter]
    fn server_name(&self) -> Option<&str> {
        self.rc.server_name.as_deref()
    }
    /// The wiki's script path (feeds only).
    #[getter]
    fn script_path(&self) -> Option<&str> {
        self.rc.script_path.as_deref()
    }
    /// A link to the change or its page as the source gave it (an Atom entry's link, a
    /// WikiPing url); MediaWiki's forms carry none (see diff_url()).
    #[getter]
    fn url(&self) -> Option<&str> {
        self.rc.url.as_deref()
    }
    /// The source's identifier of the change where it is not an rcid (an Atom entry id).
    #[getter]
    fn entry_id(&self) -> Option<&str> {
        self.rc.entry_id.as_deref()
    }
    /// The comment was hidden by revision deletion.
    #[getter]
    fn comment_hidden(&self) -> bool {
        self.rc.comment_hidden
    }
    /// The user was hidden by revision deletion.
    #[getter]
    fn user_hidden(&self) -> bool {
        self.rc.user_hidden
    }
    /// The log action was hidden.
    #[getter]
    fn action_hidden(&self) -> bool {
        self.rc.action_hidden
    }
    /// The hidden parts are suppressed.
    #[getter]
    fn suppressed(&self) -> bool {
        self.rc.suppressed
    }
    /// Every attribute or field the parser did not recognise, by wire name (a new dict each time).
    #[getter]
    fn extra<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.getf(py, F::Extra)
    }

    // ----------------------------------------------------------------- delivery

    /// The XMPP room the change was received in (None for parsed changes).
    #[getter]
    fn room(&self) -> Option<&str> {
        self.delivery.as_ref().map(|d| d.room.as_str())
    }
    /// The room's stanza id of the message (XEP-0359), when received over XMPP.
    #[getter]
    fn stanza_id(&self) -> Option<&str> {
        self.delivery.as_ref().and_then(|d| d.stanza_id.as_deref())
    }
    /// Replayed from the room's archive or history rather than received live.
    #[getter]
    fn replayed(&self) -> bool {
        self.delivery.as_ref().is_some_and(|d| d.replayed)
    }
    /// When the server says the message was sent (XEP-0203), or the event happened
    /// (EventStreams' `meta.dt`), if it said.
    #[getter]
    fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.delivery.as_ref().and_then(|d| d.sent_at)
    }
    /// EventStreams: the event's stream (`meta.stream`, e.g. "mediawiki.recentchange").
    #[getter]
    fn stream(&self) -> Option<&str> {
        self.kafka().and_then(|k| k.stream.as_deref())
    }
    /// EventStreams: the Kafka topic of the event (`meta.topic`).
    #[getter]
    fn topic(&self) -> Option<&str> {
        self.kafka().and_then(|k| k.topic.as_deref())
    }
    /// EventStreams: the partition of the topic (`meta.partition`).
    #[getter]
    fn partition(&self) -> Option<i32> {
        self.kafka().and_then(|k| k.partition)
    }
    /// EventStreams: the offset in the topic-partition (`meta.offset`).
    #[getter]
    fn offset(&self) -> Option<i64> {
        self.kafka().and_then(|k| k.offset)
    }
    /// EventStreams: the event's unique id (`meta.id`).
    #[getter]
    fn event_id(&self) -> Option<&str> {
        self.kafka().and(self.stanza_id())
    }

    // ----------------------------------------------------------------- helpers

    /// Size change in bytes (new_len - old_len, a new page counting from 0), or None.
    #[getter]
    fn size_delta(&self) -> Option<i64> {
        self.rc.size_delta()
    }

    /// `(wiki, rcid)`: what identifies the change across forms and deliveries.
    #[getter]
    fn identity(&self) -> (Option<&str>, Option<u64>) {
        self.rc.identity()
    }

    /// The wiki's base URL from the feed fields server_url + script_path, or None.
    #[getter]
    fn base_url(&self) -> Option<String> {
        self.rc.base_url()
    }

    /// The URL of the change's diff (`index.php?diff=REV&oldid=OLD`), the new revision for
    /// a page creation, None for log entries. `base` is the directory holding index.php
    /// (e.g. "https://en.wikipedia.org/w"); None uses the feed's own server_url/script_path.
    #[pyo3(signature = (base = None))]
    fn diff_url(&self, base: Option<&str>) -> Option<String> {
        self.rc.diff_url(base)
    }

    /// The page's URL (see diff_url for `base`).
    #[pyo3(signature = (base = None))]
    fn page_url(&self, base: Option<&str>) -> Option<String> {
        self.rc.page_url(base)
    }

    /// The URL of the revision the change made (see diff_url for `base`).
    #[pyo3(signature = (base = None))]
    fn permalink(&self, base: Option<&str>) -> Option<String> {
        self.rc.permalink(base)
    }

    /// The one-line text the XMLRC bridge posted:
    /// `[[Title]] FLAGS URL * user * (+delta) comment`.
    #[pyo3(signature = (base = None))]
    fn human_line(&self, base: Option<&str>) -> String {
        self.rc.human_line(base)
    }

    /// The change as the XMLRC `<rc>` element.
    fn to_rc_xml(&self) -> String {
        self.rc.to_rc_xml()
    }

    /// rc-core's JSON shape: absent fields, false flags and empty lists left out.
    fn to_json(&self) -> String {
        serde_json::to_string(&self.rc).unwrap_or_default()
    }

    /// Every contract field as a dict (timestamp a datetime, tags a list, log_params and
    /// extra dicts). `omit_absent=True` leaves out what the JSON shape leaves out.
    #[pyo3(signature = (omit_absent = false))]
    fn to_dict<'py>(&self, py: Python<'py>, omit_absent: bool) -> PyResult<Bound<'py, PyDict>> {
        self.to_dict_impl(py, omit_absent)
    }

    // ----------------------------------------------------------------- mapping view

    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.lookup(py, key)
            .unwrap_or_else(|| Err(PyKeyError::new_err(key.to_owned())))
    }

    /// The value of a contract name, wire name or extra key, or `default`.
    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.lookup(py, key) {
            Some(v) => v,
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    /// Whether the change carries this field (flags: whether they are set), like a key of
    /// the `<rc>` element's attributes in rcclient.py.
    fn __contains__(&self, key: &str) -> bool {
        match F::from_name(key) {
            Some(f) => present(&self.rc, f),
            None => self.rc.extra.contains_key(key),
        }
    }

    /// The present fields (contract names), then the keys of `extra`.
    fn keys(&self) -> Vec<&str> {
        self.key_list()
    }

    /// The values of `keys()`.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.key_list()
            .into_iter()
            .map(|k| self.__getitem__(py, k))
            .collect()
    }

    /// `(key, value)` pairs of `keys()`.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
        self.key_list()
            .into_iter()
            .map(|k| Ok((k.to_owned(), self.__getitem__(py, k)?)))
            .collect()
    }

    fn __len__(&self) -> usize {
        self.key_list().len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.key_list())?
            .try_iter()
            .map(|i| i.into_any())
    }

    // ----------------------------------------------------------------- protocols

    fn __repr__(&self) -> String {
        let rc = &self.rc;
        let mut parts = vec![format!("kind={:?}", rc.kind.as_str())];
        if let Some(w) = &rc.wiki {
            parts.push(format!("wiki={w:?}"));
        }
        if let Some(id) = rc.rcid {
            parts.push(format!("rcid={id}"));
        }
        if let Some(t) = &rc.title {
            parts.push(format!("title={t:?}"));
        }
        if let Some(u) = &rc.user {
            parts.push(format!("user={u:?}"));
        }
        if let (Some(t), Some(a)) = (&rc.log_type, &rc.log_action) {
            parts.push(format!("log={t}/{a}"));
        }
        if let Some(d) = rc.size_delta() {
            parts.push(format!("size_delta={d:+}"));
        }
        if let Some(t) = &rc.timestamp {
            parts.push(format!("timestamp={:?}", rfc3339(t)));
        }
        format!("<RecentChange {}>", parts.join(" "))
    }

    fn __str__(&self) -> String {
        self.rc.human_line(None)
    }

    /// An HTML table of the fields the change carries, for notebooks; the link row only
    /// for an http(s) URL.
    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        let mut html =
            String::from("<table class=\"rcclient-change\"><caption style=\"text-align:left\">");
        html.push_str(&html_escape(&self.rc.human_line(None)));
        html.push_str("</caption>");
        for (name, f) in FIELDS {
            if !present(&self.rc, f) {
                continue;
            }
            let value = self.getf(py, f)?;
            let shown = match f {
                F::Timestamp => self.rc.timestamp.as_ref().map(rfc3339).unwrap_or_default(),
                _ if value.is_instance_of::<PyString>() => value.extract::<String>()?,
                _ => value.repr()?.extract::<String>()?,
            };
            html.push_str(&format!(
                "<tr><th style=\"text-align:left\">{name}</th><td style=\"text-align:left\">{}</td></tr>",
                html_escape(&shown)
            ));
        }
        // Only http(s) links: a feed's server_url is the sender's word, and a
        // `javascript:` or `data:` link in a notebook runs when clicked.
        let link = self.rc.diff_url(None).or_else(|| self.rc.page_url(None));
        if let Some(url) = link.filter(|u| is_http_url(u)) {
            let url = html_escape(&url);
            html.push_str(&format!(
                "<tr><th style=\"text-align:left\">link</th><td style=\"text-align:left\"><a href=\"{url}\">{url}</a></td></tr>"
            ));
        }
        html.push_str("</table>");
        Ok(html)
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp, py: Python<'_>) -> Py<PyAny> {
        let Ok(other) = other.cast::<PyRecentChange>() else {
            return py.NotImplemented();
        };
        let equal = self.rc == other.get().rc;
        match op {
            CompareOp::Eq => equal
                .into_py_any(py)
                .unwrap_or_else(|_| py.NotImplemented()),
            CompareOp::Ne => (!equal)
                .into_py_any(py)
                .unwrap_or_else(|_| py.NotImplemented()),
            _ => py.NotImplemented(),
        }
    }

    /// Hash of the change's identity `(wiki, rcid)`: the same change from two forms or two
    /// deliveries lands in the same set slot.
    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        let (wiki, rcid) = self.rc.identity();
        PyTuple::new(
            py,
            [wiki.into_bound_py_any(py)?, rcid.into_bound_py_any(py)?],
        )?
        .hash()
    }

    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let unpickle = py.import("rcclient._rcclient")?.getattr("_unpickle")?;
        let d = self.delivery.as_deref();
        let args = (
            self.to_json(),
            d.map(|d| d.room.clone()),
            d.and_then(|d| d.stanza_id.clone()),
            d.is_some_and(|d| d.replayed),
            d.and_then(|d| d.sent_at).map(|t| rfc3339(&t)),
            self.kafka()
                .map(|k| (k.stream.clone(), k.topic.clone(), k.partition, k.offset)),
        )
            .into_pyobject(py)?;
        Ok((unpickle, args))
    }

    fn __copy__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __deepcopy__<'py>(slf: Bound<'py, Self>, _memo: &Bound<'py, PyAny>) -> Bound<'py, Self> {
        slf
    }
}

/// A pickled [`Kafka`]: stream, topic, partition, offset.
type KafkaTuple = (Option<String>, Option<String>, Option<i32>, Option<i64>);

/// Rebuilds a pickled change.
#[pyfunction]
#[pyo3(signature = (json, room = None, stanza_id = None, replayed = false, sent_at = None, kafka = None))]
pub fn _unpickle(
    json: &str,
    room: Option<String>,
    stanza_id: Option<String>,
    replayed: bool,
    sent_at: Option<&str>,
    kafka: Option<KafkaTuple>,
) -> PyResult<PyRecentChange> {
    let rc: RecentChange = serde_json::from_str(json)
        .map_err(|e| PyValueError::new_err(format!("cannot unpickle a RecentChange: {e}")))?;
    let delivery = match room {
        Some(room) => Some(Box::new(Delivery {
            room,
            stanza_id,
            replayed,
            sent_at: sent_at
                .map(|s| s.parse::<DateTime<Utc>>())
                .transpose()
                .map_err(|e| PyValueError::new_err(format!("bad sent_at: {e}")))?,
            kafka: kafka.map(|(stream, topic, partition, offset)| Kafka {
                stream,
                topic,
                partition,
                offset,
            }),
        })),
        None => None,
    };
    Ok(PyRecentChange { rc, delivery })
}

/// Whether `url` is an absolute `http://` or `https://` URL (case-insensitive scheme).
fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}
