//! The API / XMLRC `<rc>` element: `list=recentchanges` with every `rcprop`, plus the
//! `wikiid` attribute XMLRC added, and the feeds' `server_url`, `server_name`,
//! `server_script_path` and `log_action_comment` when a bridge passes them on.

use std::borrow::Cow;

use crate::change::Kind;
use crate::error::Bad;

use super::attrs::attribute_keys;
use super::draft::Draft;
use super::node::{fields_of, value_of, XmlNode};
use super::values::{id_or_zero, iso_timestamp, namespace, uint};

attribute_keys! {
    /// The attributes of `<rc>` this crate reads.
    pub(crate) enum Key {
        Type = "type",
        Rcid = "rcid",
        Wikiid = "wikiid",
        Ns = "ns",
        Title = "title",
        Pageid = "pageid",
        Revid = "revid",
        OldRevid = "old_revid",
        User = "user",
        Userid = "userid",
        Oldlen = "oldlen",
        Newlen = "newlen",
        Timestamp = "timestamp",
        Comment = "comment",
        Parsedcomment = "parsedcomment",
        Sha1 = "sha1",
        Logid = "logid",
        Logtype = "logtype",
        Logaction = "logaction",
        ServerUrl = "server_url",
        ServerName = "server_name",
        ServerScriptPath = "server_script_path",
        Url = "url",
        EntryId = "entry_id",
        LogActionComment = "log_action_comment",
        Bot = "bot",
        Minor = "minor",
        Redirect = "redirect",
        Anon = "anon",
        New = "new",
        Patrolled = "patrolled",
        Autopatrolled = "autopatrolled",
        Unpatrolled = "unpatrolled",
        Commenthidden = "commenthidden",
        Userhidden = "userhidden",
        Actionhidden = "actionhidden",
        Suppressed = "suppressed",
    }
}

/// Applies one attribute this crate reads. Inlined into the fast reader's loop, where only
/// whether it failed counts.
#[inline(always)]
pub(crate) fn set(d: &mut Draft, key: Key, value: Cow<'_, str>) -> Result<(), Bad> {
    let rc = &mut d.rc;
    let name = key.name();
    match key {
        Key::Type => d.kind = Some(Kind::from_wire(&value)),
        Key::Rcid => rc.rcid = Some(uint(name, &value)?),
        Key::Wikiid => rc.wiki = Some(value.into_owned()),
        Key::Ns => rc.namespace = Some(namespace(name, &value)?),
        Key::Title => rc.title = Some(value.into_owned()),
        Key::Pageid => rc.page_id = id_or_zero(name, &value)?,
        Key::Revid => rc.rev_id = id_or_zero(name, &value)?,
        Key::OldRevid => rc.old_rev_id = id_or_zero(name, &value)?,
        Key::User => rc.user = Some(value.into_owned()),
        Key::Userid => rc.user_id = id_or_zero(name, &value)?,
        Key::Oldlen => rc.old_len = Some(uint(name, &value)?),
        Key::Newlen => rc.new_len = Some(uint(name, &value)?),
        Key::Timestamp => rc.timestamp = Some(iso_timestamp(name, &value)?),
        Key::Comment => rc.comment = Some(value.into_owned()),
        Key::Parsedcomment => rc.parsed_comment = Some(value.into_owned()),
        Key::Sha1 => rc.sha1 = Some(value.into_owned()),
        Key::Logid => rc.log_id = Some(uint(name, &value)?),
        Key::Logtype => rc.log_type = Some(value.into_owned()),
        Key::Logaction => rc.log_action = Some(value.into_owned()),
        // Not in the API's output: what the feeds carry, when a bridge passes it on.
        Key::ServerUrl => rc.server_url = Some(value.into_owned()),
        Key::ServerName => rc.server_name = Some(value.into_owned()),
        Key::ServerScriptPath => rc.script_path = Some(value.into_owned()),
        Key::Url => rc.url = Some(value.into_owned()),
        Key::EntryId => rc.entry_id = Some(value.into_owned()),
        Key::LogActionComment => rc.log_action_comment = Some(value.into_owned()),
        // Presence flags: `minor=""` means true.
        Key::Bot => rc.bot = true,
        Key::Minor => rc.minor = true,
        Key::Redirect => rc.redirect = true,
        Key::Anon => rc.anon = true,
        Key::New => {} // implied by type="new"
        Key::Patrolled => d.patrolled = true,
        Key::Autopatrolled => d.autopatrolled = true,
        Key::Unpatrolled => d.unpatrolled = true,
        Key::Commenthidden => rc.comment_hidden = true,
        Key::Userhidden => rc.user_hidden = true,
        Key::Actionhidden => rc.action_hidden = true,
        Key::Suppressed => rc.suppressed = true,
    }
    Ok(())
}

/// Applies one child element of `<rc>`.
pub(crate) fn child<N: XmlNode>(d: &mut Draft, node: &N) -> Result<(), Bad> {
    match node.name() {
        "tags" => d.rc.tags.extend(node.children().map(|t| t.text())),
        "logparams" => d.rc.log_params = fields_of(node),
        other => d.extra(other, value_of(node)),
    }
    Ok(())
}

/// Called once all attributes are read: the API form says outright who is anonymous.
pub(crate) fn begin(d: &mut Draft) {
    d.anon_known = true;
}
