//! A change under construction, shared by the form readers.

use serde_json::Value;

use crate::change::{Kind, Patrolled, RecentChange};
use crate::error::{Form, ParseError};

use super::values::is_ip;

/// A [`RecentChange`] being filled in attribute by attribute, plus the raw facts that only
/// make sense once everything is read (the kind decides whether a zero length means "none").
pub(crate) struct Draft {
    pub rc: RecentChange,
    pub kind: Option<Kind>,
    pub patrolled: bool,
    pub autopatrolled: bool,
    pub unpatrolled: bool,
    /// The form carries an explicit anonymous flag (the API form); otherwise it is derived.
    pub anon_known: bool,
}

impl Draft {
    pub fn new() -> Self {
        Draft {
            rc: RecentChange::new(Kind::Edit),
            kind: None,
            patrolled: false,
            autopatrolled: false,
            unpatrolled: false,
            anon_known: false,
        }
    }

    /// Keeps an unrecognised attribute or field.
    pub fn extra(&mut self, name: &str, value: Value) {
        self.rc.extra.insert(name.to_owned(), value);
    }

    /// The finished change: checks the required `type`, resolves patrol flags, and turns
    /// the API's zeros-for-NULL into `None`.
    pub fn finish(mut self, form: Form) -> Result<RecentChange, ParseError> {
        let Some(kind) = self.kind.take() else {
            let what = if form == Form::FeedJson {
                "field"
            } else {
                "attribute"
            };
            return Err(ParseError::Missing {
                form,
                what,
                name: "type",
            });
        };
        let rc = &mut self.rc;
        rc.kind = kind;
        if form == Form::RcXml {
            rc.patrolled = match (self.autopatrolled, self.patrolled, self.unpatrolled) {
                (true, _, _) => Patrolled::Autopatrolled,
                (false, true, _) => Patrolled::Patrolled,
                (false, false, true) => Patrolled::Unpatrolled,
                _ => Patrolled::Unknown,
            };
            // The API writes (int) of NULL columns: a log entry or category change has no
            // sizes, a new page no old size.
            match rc.kind {
                Kind::Log | Kind::Categorize => {
                    rc.old_len = rc.old_len.filter(|&n| n != 0);
                    rc.new_len = rc.new_len.filter(|&n| n != 0);
                }
                Kind::New => rc.old_len = rc.old_len.filter(|&n| n != 0),
                _ => {}
            }
        }
        if !self.anon_known {
            rc.anon = rc.user.as_deref().is_some_and(is_ip);
        }
        Ok(self.rc)
    }
}
