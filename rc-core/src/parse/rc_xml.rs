//! The API / XMLRC `<rc>` element: `list=recentchanges` with every `rcprop`, plus the
//! `wikiid` attribute XMLRC added, and the feeds' `server_url`, `server_name`,
//! `server_script_path` and `log_action_comment` when a bridge passes them on.

use std::borrow::Cow;

use serde_json::Value;

use crate::change::Kind;
use crate::error::Bad;

use super::draft::Draft;
use super::node::{fields_of, value_of, XmlNode};
use super::values::{id_or_zero, iso_timestamp, namespace, uint};

/// Applies one attribute of `<rc>`.
pub(crate) fn attr(d: &mut Draft, name: &str, value: Cow<'_, str>) -> Result<(), Bad> {
    let rc = &mut d.rc;
    match name {
        "type" => d.kind = Some(Kind::from_wire(&value)),
        "rcid" => rc.rcid = Some(uint(name, &value)?),
        "wikiid" => rc.wiki = Some(value.into_owned()),
        "ns" => rc.namespace = Some(namespace(name, &value)?),
        "title" => rc.title = Some(value.into_owned()),
        "pageid" => rc.page_id = id_or_zero(name, &value)?,
        "revid" => rc.rev_id = id_or_zero(name, &value)?,
        "old_revid" => rc.old_rev_id = id_or_zero(name, &value)?,
        "user" => rc.user = Some(value.into_owned()),
        "userid" => rc.user_id = id_or_zero(name, &value)?,
        "oldlen" => rc.old_len = Some(uint(name, &value)?),
        "newlen" => rc.new_len = Some(uint(name, &value)?),
        "timestamp" => rc.timestamp = Some(iso_timestamp(name, &value)?),
        "comment" => rc.comment = Some(value.into_owned()),
        "parsedcomment" => rc.parsed_comment = Some(value.into_owned()),
        "sha1" => rc.sha1 = Some(value.into_owned()),
        "logid" => rc.log_id = Some(uint(name, &value)?),
        "logtype" => rc.log_type = Some(value.into_owned()),
        "logaction" => rc.log_action = Some(value.into_owned()),
        // Not in the API's output: what the feeds carry, when a bridge passes it on.
        "server_url" => rc.server_url = Some(value.into_owned()),
        "server_name" => rc.server_name = Some(value.into_owned()),
        "server_script_path" => rc.script_path = Some(value.into_owned()),
        "url" => rc.url = Some(value.into_owned()),
        "entry_id" => rc.entry_id = Some(value.into_owned()),
        "log_action_comment" => rc.log_action_comment = Some(value.into_owned()),
        // Presence flags: `minor=""` means true.
        "bot" => rc.bot = true,
        "minor" => rc.minor = true,
        "redirect" => rc.redirect = true,
        "anon" => rc.anon = true,
        "new" => {} // implied by type="new"
        "patrolled" => d.patrolled = true,
        "autopatrolled" => d.autopatrolled = true,
        "unpatrolled" => d.unpatrolled = true,
        "commenthidden" => rc.comment_hidden = true,
        "userhidden" => rc.user_hidden = true,
        "actionhidden" => rc.action_hidden = true,
        "suppressed" => rc.suppressed = true,
        _ => d.extra(name, Value::String(value.into_owned())),
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
