//! The mirror's file names: one file per page, named after its title, safe for any title.
//!
//! The title's UTF-8 bytes are percent-encoded: ASCII letters, digits, `-` and `.` stay,
//! a space becomes `_` (MediaWiki titles never hold `_`: it *is* their space), every other
//! byte becomes `%XX` (upper-case hex), and so does a leading `.` (no page file is hidden,
//! and none is `.` or `..`). `Talk:Café au lait` is `Talk%3ACaf%C3%A9_au_lait`.
//!
//! A name longer than [`MAX_COMPONENT`] bytes (a title near MediaWiki's 255-byte limit
//! with many non-ASCII letters) is cut into pieces of at most that size, never inside a
//! `%XX`: all pieces but the last are directories whose name ends with `~` (which the
//! encoding never writes), so a long name cannot collide with a short one.
//!
//! Names depend on nothing but the title, and decode back to it. Upper and lower case stay
//! distinct, as in MediaWiki: keep the mirror on a case-sensitive file system.

use std::path::{Component, Path, PathBuf};

/// The longest file name component written (most file systems allow 255 bytes).
pub const MAX_COMPONENT: usize = 200;

/// The relative path of a page's file in the mirror directory.
///
/// ```
/// use recentchanges_http::mirror::{file_name, title_of};
/// assert_eq!(file_name("Talk:Café au lait"), std::path::Path::new("Talk%3ACaf%C3%A9_au_lait"));
/// assert_eq!(file_name("AC/DC"), std::path::Path::new("AC%2FDC"));
/// assert_eq!(file_name(".htaccess"), std::path::Path::new("%2Ehtaccess"));
/// assert_eq!(title_of(&file_name("Talk:Café au lait")).as_deref(), Some("Talk:Café au lait"));
/// ```
pub fn file_name(title: &str) -> PathBuf {
    let mut enc = String::with_capacity(title.len() + 8);
    for (i, &b) in title.as_bytes().iter().enumerate() {
        match b {
            b' ' => enc.push('_'),
            b'.' if i == 0 => enc.push_str("%2E"),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' => enc.push(b as char),
            _ => {
                enc.push('%');
                enc.push(char::from(HEX[usize::from(b >> 4)]));
                enc.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
    if enc.len() <= MAX_COMPONENT {
        return PathBuf::from(enc);
    }
    let mut path = PathBuf::new();
    let mut rest = enc.as_str();
    while rest.len() > MAX_COMPONENT {
        let mut cut = MAX_COMPONENT - 1; // and the `~`
                                         // Do not split a %XX.
        if let Some(pct) = rest[cut - 2..cut].find('%') {
            cut = cut - 2 + pct;
        }
        path.push(format!("{}~", &rest[..cut]));
        rest = &rest[cut..];
    }
    path.push(rest);
    path
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The title of a page file, from its path relative to the mirror directory; `None` for
/// paths the scheme does not write (temporary and state files, foreign files).
///
/// ```
/// assert_eq!(recentchanges_http::mirror::title_of(std::path::Path::new("Beta_moved")).as_deref(), Some("Beta moved"));
/// assert_eq!(recentchanges_http::mirror::title_of(std::path::Path::new(".mirror-state.json")), None);
/// ```
pub fn title_of(rel: &Path) -> Option<String> {
    let mut enc = String::new();
    let comps: Vec<&str> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let (last, dirs) = comps.split_last()?;
    for d in dirs {
        enc.push_str(d.strip_suffix('~')?);
    }
    if last.ends_with('~') {
        return None;
    }
    enc.push_str(last);
    let mut bytes = Vec::with_capacity(enc.len());
    let b = enc.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => bytes.push(b' '),
            b'%' => {
                let hex = enc.get(i + 1..i + 3)?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c @ (b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-') => bytes.push(c),
            b'.' if i > 0 => bytes.push(b'.'),
            _ => return None,
        }
        i += 1;
    }
    let title = String::from_utf8(bytes).ok()?;
    // Only names this scheme writes (so a foreign file is never taken for a page).
    (file_name(&title) == rel).then_some(title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_title_round_trips_to_a_safe_name() {
        let long = "Ünïcödé ".repeat(30);
        let titles = [
            "Main Page",
            "Talk:Alpha",
            "A/B/C",
            "..",
            ".",
            "100% sure? \"Yes\" & <no> #1 [x] {y} |z| \\ *",
            "日本語のページ",
            "Emoji 🙂",
            "Tilde~Name",
            "Trailing.",
            long.trim_end(),
        ];
        for t in titles {
            let p = file_name(t);
            for c in p.components() {
                let s = c.as_os_str().to_str().unwrap();
                assert!(s.len() <= MAX_COMPONENT, "{t}: {s}");
                assert!(!s.starts_with('.'), "{t}: {s}");
                assert!(s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._%~".contains(&b)));
            }
            assert_eq!(title_of(&p).as_deref(), Some(t), "{}", p.display());
        }
        assert!(file_name(long.trim_end()).components().count() > 1);
    }

    #[test]
    fn foreign_names_are_not_pages() {
        for s in [".tmp-1-2", "a b", "x%2", "x%zz", "dir~", "%41"] {
            assert_eq!(title_of(Path::new(s)), None, "{s}");
        }
    }
}
