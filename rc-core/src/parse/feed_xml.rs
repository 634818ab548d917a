//! The RC feed `<recentchange>` element written by MediaWiki's `XMLRCFeedFormatter`.

use std::borrow::Cow;

use crate::change::{Kind, Patrolled};
use crate::error::Bad;

use super::attrs::attribute_keys;
use super::draft::Draft;
use super::node::{fields_of, value_of, XmlNode};
use super::values::{namespace, uint, unix_timestamp_text};

attribute_keys! {
    /// The attributes of `<recentchange>` this crate reads.
    pub(crate) enum Key {
        Type = "type",
        Id = "id",
        Wiki = "wiki",
        Namespace = "namespace",
        Title = "title",
        User = "user",
        Timestamp = "timestamp",
        Comment = "comment",
        Parsedcomment = "parsedcomment",
        LogId = "log_id",
        LogType = "log_type",
        LogAction = "log_action",
        LogActionComment = "log_action_comment",
        ServerUrl = "server_url",
        ServerName = "server_name",
        ServerScriptPath = "server_script_path",
        Bot = "bot",
        Minor = "minor",
        Patrolled = "patrolled",
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
        Key::Id => rc.rcid = Some(uint(name, &value)?),
        Key::Wiki => rc.wiki = Some(value.into_owned()),
        Key::Namespace => rc.namespace = Some(namespace(name, &value)?),
        Key::Title => rc.title = Some(value.into_owned()),
        Key::User => rc.user = Some(value.into_owned()),
        Key::Timestamp => rc.timestamp = Some(unix_timestamp_text(name, &value)?),
        Key::Comment => rc.comment = Some(value.into_owned()),
        Key::Parsedcomment => rc.parsed_comment = Some(value.into_owned()),
        Key::LogId => rc.log_id = Some(uint(name, &value)?),
        Key::LogType => rc.log_type = Some(value.into_owned()),
        Key::LogAction => rc.log_action = Some(value.into_owned()),
        Key::LogActionComment => rc.log_action_comment = Some(value.into_owned()),
        Key::ServerUrl => rc.server_url = Some(value.into_owned()),
        Key::ServerName => rc.server_name = Some(value.into_owned()),
        Key::ServerScriptPath => rc.script_path = Some(value.into_owned()),
        // Booleans are written only when true, as `bot=""`.
        Key::Bot => rc.bot = true,
        Key::Minor => rc.minor = true,
        Key::Patrolled => rc.patrolled = Patrolled::Patrolled,
    }
    Ok(())
}

/// Applies one child element of `<recentchange>`.
pub(crate) fn child<N: XmlNode>(d: &mut Draft, node: &N) -> Result<(), Bad> {
    match node.name() {
        "length" => {
            d.rc.old_len = opt_uint(node, "old", "length/@old")?;
            d.rc.new_len = opt_uint(node, "new", "length/@new")?;
        }
        "revision" => {
            d.rc.old_rev_id = opt_uint(node, "old", "revision/@old")?;
            d.rc.rev_id = opt_uint(node, "new", "revision/@new")?;
        }
        "log_params" => d.rc.log_params = fields_of(node),
        other => d.extra(other, value_of(node)),
    }
    Ok(())
}

fn opt_uint<N: XmlNode>(node: &N, attr: &str, path: &str) -> Result<Option<u64>, Bad> {
    node.attr(attr).map(|v| uint(path, v)).transpose()
}
