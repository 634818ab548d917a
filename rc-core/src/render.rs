//! Links to a change and the one-line text the XMLRC bridge put in a message body.

use std::fmt::{self, Write};

use crate::change::{Kind, Patrolled, RecentChange};

impl RecentChange {
    /// The wiki's base URL from the feed fields `server_url` + `script_path`
    /// (`http://127.0.0.1:8080` + `/w` gives `http://127.0.0.1:8080/w`).
    pub fn base_url(&self) -> Option<String> {
        let server = self.server_url.as_deref()?;
        let path = self.script_path.as_deref().unwrap_or("");
        Some(format!(
            "{}{}",
            server.trim_end_matches('/'),
            path.trim_end_matches('/')
        ))
    }

    fn index_php(&self, base: Option<&str>) -> Option<String> {
        let base = match base {
            Some(b) => b.trim_end_matches('/').to_owned(),
            None => self.base_url()?,
        };
        Some(format!("{base}/index.php"))
    }

    /// The page's URL. `base` is the directory holding `index.php` (e.g.
    /// `https://en.wikipedia.org/w`); `None` uses the feed's [`base_url`](Self::base_url).
    ///
    /// ```
    /// let rc = recentchanges_core::parse(r#"<rc type="edit" title="Café au lait" />"#)?;
    /// assert_eq!(rc.page_url(Some("https://w.example/w/")).unwrap(), "https://w.example/w/index.php?title=Caf%C3%A9_au_lait");
    /// # Ok::<(), recentchanges_core::ParseError>(())
    /// ```
    pub fn page_url(&self, base: Option<&str>) -> Option<String> {
        let title = self.title.as_deref()?;
        Some(format!(
            "{}?title={}",
            self.index_php(base)?,
            title_url_part(title)
        ))
    }

    /// The URL of the revision the change made (`index.php?oldid=REV`).
    pub fn permalink(&self, base: Option<&str>) -> Option<String> {
        Some(format!("{}?oldid={}", self.index_php(base)?, self.rev_id?))
    }

    /// The URL of the change's diff: `index.php?diff=REV&oldid=OLD` for an edit, the new
    /// revision's permalink for a page creation, `None` for changes without revisions.
    pub fn diff_url(&self, base: Option<&str>) -> Option<String> {
        match (self.kind.clone(), self.rev_id?, self.old_rev_id) {
            (Kind::Edit, rev, Some(old)) => {
                Some(format!("{}?diff={rev}&oldid={old}", self.index_php(base)?))
            }
            (Kind::New | Kind::Edit, _, _) => self.permalink(base),
            _ => None,
        }
    }

    /// The one-line text the XMLRC bridge (and MediaWiki's IRC feed) wrote for a change:
    /// `[[Title]] FLAGS URL * user * (+delta) comment`, and for log entries
    /// `[[Special:Log/type]] action  * user *  description`.
    ///
    /// ```
    /// let rc = recentchanges_core::parse(r#"{"id": 4, "type": "edit", "namespace": 0, "title": "Alpha",
    ///     "comment": "fix", "user": "Admin", "minor": true, "patrolled": false,
    ///     "length": {"old": 22, "new": 14}, "revision": {"old": 2, "new": 3},
    ///     "server_url": "http://127.0.0.1:8080", "server_script_path": "/"}"#)?;
    /// assert_eq!(rc.human_line(None), "[[Alpha]] M! http://127.0.0.1:8080/index.php?diff=3&oldid=2 * Admin * (-8) fix");
    /// # Ok::<(), recentchanges_core::ParseError>(())
    /// ```
    pub fn human_line(&self, base: Option<&str>) -> String {
        let mut line = String::new();
        let user = self.user_or("(hidden)");
        if self.kind == Kind::Log {
            let log_type = self.log_type.as_deref().unwrap_or("");
            let action = self.log_action.as_deref().unwrap_or("");
            let text = self
                .log_action_comment
                .as_deref()
                .or(self.comment.as_deref())
                .unwrap_or("");
            let _ = write!(
                line,
                "[[Special:Log/{log_type}]] {action}  * {user} *  {text}"
            );
            return line;
        }
        let _ = write!(line, "[[{}]] {}", self.title_or("(hidden)"), self.flags());
        let url = (self.diff_url(base))
            .or_else(|| self.page_url(base))
            .or_else(|| self.url.clone());
        if let Some(url) = url {
            let _ = write!(line, " {url}");
        }
        let _ = write!(line, " * {user} *");
        if let Some(delta) = self.size_delta() {
            let _ = write!(line, " ({delta:+})");
        }
        if let Some(comment) = self.comment.as_deref().filter(|c| !c.is_empty()) {
            let _ = write!(line, " {comment}");
        }
        line
    }

    /// IRC-style flags: `N` new, `M` minor, `B` bot, `!` unpatrolled.
    fn flags(&self) -> String {
        let mut flags = String::new();
        for (on, c) in [
            (self.kind == Kind::New, 'N'),
            (self.minor, 'M'),
            (self.bot, 'B'),
            (self.patrolled == Patrolled::Unpatrolled, '!'),
        ] {
            if on {
                flags.push(c);
            }
        }
        flags
    }
}

/// Shows the [`human_line`](RecentChange::human_line) with the feed's own base URL.
impl fmt::Display for RecentChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.human_line(None))
    }
}

/// A title as MediaWiki puts it in URLs (`wfUrlencode`): spaces become underscores, and
/// every byte but letters, digits and `-_.~;:@$!*(),/` is percent-encoded.
///
/// ```
/// assert_eq!(recentchanges_core::title_url_part("Talk:A & B/c?"), "Talk:A_%26_B/c%3F");
/// ```
pub fn title_url_part(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for &b in title.as_bytes() {
        match b {
            b' ' => out.push('_'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => out.push(b as char),
            b'-' | b'_' | b'.' | b'~' | b';' | b':' | b'@' | b'$' | b'!' | b'*' | b'(' | b')'
            | b',' | b'/' => out.push(b as char),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}
