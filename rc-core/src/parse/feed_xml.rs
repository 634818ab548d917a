//! The RC feed `<recentchange>` element written by MediaWiki's `XMLRCFeedFormatter`.

use std::borrow::Cow;

use serde_json::Value;

use crate::change::{Kind, Patrolled};
use crate::error::Bad;

use super::draft::Draft;
use super::node::{fields_of, value_of, XmlNode};
use super::values::{namespace, uint, unix_timestamp_text};

/// Applies one attribute of `<recentchange>`.
pub(crate) fn attr(d: &mut Draft, name: &str, value: Cow<'_, str>) -> Result<(), Bad> {
    let rc = &mut d.rc;
    match name {
        "type" => d.kind = Some(Kind::from_wire(&value)),
        "id" => rc.rcid = Some(uint(name, &value)?),
        "wiki" => rc.wiki = Some(value.into_owned()),
        "namespace" => rc.namespace = Some(namespace(name, &value)?),
        "title" => rc.title = Some(value.into_owned()),
        "user" => rc.user = Some(value.into_owned()),
        "timestamp" => rc.timestamp = Some(unix_timestamp_text(name, &value)?),
        "comment" => rc.comment = Some(value.into_owned()),
        "parsedcomment" => rc.parsed_comment = Some(value.into_owned()),
        "log_id" => rc.log_id = Some(uint(name, &value)?),
        "log_type" => rc.log_type = Some(value.into_owned()),
        "log_action" => rc.log_action = Some(value.into_owned()),
        "log_action_comment" => rc.log_action_comment = Some(value.into_owned()),
        "server_url" => rc.server_url = Some(value.into_owned()),
        "server_name" => rc.server_name = Some(value.into_owned()),
        "server_script_path" => rc.script_path = Some(value.into_owned()),
        // Booleans are written only when true, as `bot=""`.
        "bot" => rc.bot = true,
        "minor" => rc.minor = true,
        "patrolled" => rc.patrolled = Patrolled::Patrolled,
        _ => d.extra(name, Value::String(value.into_owned())),
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
