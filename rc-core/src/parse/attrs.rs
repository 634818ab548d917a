//! The root element's attributes, scanned straight from the start tag's bytes.
//!
//! quick-xml finds where the start tag ends (quotes and all); this scanner splits the
//! attributes inside it. It looks at each byte once, borrows every value that
//! has no entity or line break, and keeps XML's rules: quoted values, no attribute twice,
//! predefined and character references only. Like quick-xml, it lets a raw `<` and attributes
//! without whitespace between them through.

use std::borrow::Cow;

use memchr::{memchr, memchr3};
use serde_json::Value;

use crate::error::Bad;

use super::draft::Draft;

/// A name of up to 16 bytes as one number: its bytes little-endian, zero-padded (so a name
/// and the same name with NUL bytes after it have one word: compare lengths too). Longer
/// names are 0 (no known name is longer than 16 bytes but two, which are compared as text).
pub(crate) const fn word(name: &[u8]) -> u128 {
    if name.len() > 16 {
        return 0;
    }
    let mut w = 0u128;
    let mut i = name.len();
    while i > 0 {
        i -= 1;
        w = w << 8 | name[i] as u128;
    }
    w
}

/// The pattern a key's name matches in [`word`]s: its word, or for a long name one that no
/// text has.
pub(crate) const fn pattern(name: &[u8]) -> u128 {
    match name.len() {
        0..=16 => word(name),
        _ => u128::MAX,
    }
}

/// [`word`] of the `len` bytes at `b[at..]`, in one 16-byte read where `b` has 16 there.
#[inline]
pub(crate) fn word_at(b: &[u8], at: usize, len: usize) -> u128 {
    match b.get(at..at + 16) {
        Some(chunk) if len <= 16 => {
            let w = u128::from_le_bytes(chunk.try_into().expect("16 bytes"));
            match len {
                16 => w,
                _ => w & ((1u128 << (8 * len)) - 1),
            }
        }
        _ => word(b.get(at..at + len).unwrap_or_default()),
    }
}

/// The slot of a name's [`word`] in a 256-slot table, for the multiplier `mult`.
#[inline]
pub(crate) const fn slot(word: u128, mult: u64) -> usize {
    let folded = (word as u64) ^ ((word >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(mult) >> 56) as usize
}

/// A multiplier that puts each of `words` (but the long names' [`pattern`]) in a slot of its
/// own, and the table of slots: 1 + the index of the word there, 0 for none. Found when
/// compiling, by trying multipliers until one fits.
pub(crate) const fn perfect_hash(words: &[u128]) -> (u64, [u8; 256]) {
    assert!(words.len() < 256);
    let mut mult: u64 = 0x9E37_79B9_7F4A_7C15;
    loop {
        let mut table = [0u8; 256];
        let mut fits = true;
        let mut i = 0;
        while i < words.len() {
            if words[i] != u128::MAX {
                let s = slot(words[i], mult);
                if table[s] != 0 {
                    fits = false;
                    break;
                }
                table[s] = (i + 1) as u8;
            }
            i += 1;
        }
        if fits {
            return (mult, table);
        }
        mult = mult.wrapping_add(0x2545_F491_4F6C_DD1D) | 1;
    }
}

/// An attribute a form reads.
pub(crate) trait Attr: Copy {
    /// The key named `name`, whose [`word`] is `word`.
    fn find(name: &str, word: u128) -> Option<Self>;
    /// One bit per key, for a set of the keys seen.
    fn bit(self) -> u64;
    /// Applies the attribute's value to the change.
    fn set(self, d: &mut Draft, value: Cow<'_, str>) -> Result<(), Bad>;
}

/// Whether an attribute name declares a namespace (`xmlns`, `xmlns:p`): markup, not a
/// field of the change (an element built by an XML library does not list it either).
pub(crate) fn is_namespace_declaration(name: &str) -> bool {
    name == "xmlns" || name.starts_with("xmlns:")
}

/// Applies one attribute of a root element whose attributes are `K`: a known one by its
/// key, a namespace declaration nowhere, any other into `extra`.
pub(crate) fn apply<K: Attr>(d: &mut Draft, name: &str, value: Cow<'_, str>) -> Result<(), Bad> {
    match K::find(name, word(name.as_bytes())) {
        Some(key) => key.set(d, value),
        None if is_namespace_declaration(name) => Ok(()),
        None => {
            d.extra(name, Value::String(value.into_owned()));
            Ok(())
        }
    }
}

/// The attributes a form reads, as an enum implementing [`Attr`] (`set` is the function
/// `set(d, key, value)` of the module that invokes it), generated from one list of
/// `Variant = "name"`. A
/// name is found with one multiplication, one table look-up and one comparison (no chain
/// of branches to mispredict).
macro_rules! attribute_keys {
    ($(#[$meta:meta])* $vis:vis enum $Key:ident { $($Variant:ident = $name:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $Key {
            $($Variant,)*
        }

        impl $Key {
            $vis const ALL: &'static [($Key, &'static str)] = &[$(($Key::$Variant, $name),)*];
            const WORDS: &'static [u128] =
                &[$($crate::parse::attrs::pattern($name.as_bytes()),)*];
            const HASH: (u64, [u8; 256]) = $crate::parse::attrs::perfect_hash($Key::WORDS);

            /// The name on the wire.
            $vis fn name(self) -> &'static str {
                $Key::ALL[self as usize].1
            }

        }

        impl $crate::parse::attrs::Attr for $Key {
            #[inline]
            fn find(name: &str, word: u128) -> Option<$Key> {
                if name.len() > 16 {
                    return $Key::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k);
                }
                let (mult, table) = &$Key::HASH;
                let i = usize::from(table[$crate::parse::attrs::slot(word, *mult)]).wrapping_sub(1);
                match $Key::WORDS.get(i) {
                    // The length too: a name ending in NUL bytes has its prefix's word.
                    Some(&w) if w == word && $Key::ALL[i].1.len() == name.len() => {
                        Some($Key::ALL[i].0)
                    }
                    _ => None,
                }
            }

            #[inline]
            fn bit(self) -> u64 {
                const { assert!($Key::ALL.len() <= 64) };
                1 << self as u32
            }

            #[inline(always)]
            fn set(
                self,
                d: &mut $crate::parse::draft::Draft,
                value: std::borrow::Cow<'_, str>,
            ) -> Result<(), $crate::error::Bad> {
                set(d, self, value)
            }
        }
    };
}
pub(crate) use attribute_keys;

/// What is wrong with a start tag, and at which byte of the attribute text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed {
    pub at: usize,
    pub message: String,
}

fn malformed<T>(at: usize, message: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed {
        at,
        message: message.into(),
    })
}

/// Calls `each(name, value, value_offset)` for every attribute in `raw` (the text of a
/// start tag after its name, without the closing `>` or `/>`), stopping at the first error
/// `each` returns.
pub(crate) fn for_each<E>(
    raw: &str,
    mut each: impl FnMut(&str, Cow<'_, str>, usize) -> Result<(), E>,
) -> Result<Result<(), E>, Malformed> {
    let bytes = raw.as_bytes();
    let mut seen = Seen::default();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            return Ok(Ok(()));
        }
        let name_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            if matches!(bytes[i], b'"' | b'\'' | b'<' | b'>' | b'&' | b'/') {
                return malformed(
                    i,
                    format!("unexpected {:?} in an attribute name", bytes[i] as char),
                );
            }
            i += 1;
        }
        let name = &raw[name_start..i];
        if name.is_empty() {
            return malformed(i, "an attribute has no name");
        }
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            return malformed(
                i,
                format!("attribute `{}` has no value", crate::error::snippet(name)),
            );
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = match bytes.get(i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => {
                return malformed(
                    i,
                    format!(
                        "the value of `{}` is not quoted",
                        crate::error::snippet(name)
                    ),
                )
            }
        };
        let value_start = i + 1;
        let Some((value_end, special)) = scan_value(bytes, value_start, quote) else {
            return malformed(
                i,
                format!(
                    "the value of `{}` is not closed",
                    crate::error::snippet(name)
                ),
            );
        };
        i = value_end + 1;
        if !seen.insert(name) {
            return malformed(
                name_start,
                format!("attribute `{}` appears twice", crate::error::snippet(name)),
            );
        }
        let raw_value = &raw[value_start..value_end];
        let value = if special {
            value_of(raw_value).map_err(|(at, message)| Malformed {
                at: value_start + at,
                message,
            })?
        } else {
            Cow::Borrowed(raw_value)
        };
        if let Err(e) = each(name, value, value_start) {
            return Ok(Err(e));
        }
    }
}

/// Bytes that stop the value scan: both quotes, and what makes a value need more work
/// (references, tabs and line breaks).
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut stops: &[u8] = b"\"'&\t\n\r";
    while let [c, rest @ ..] = stops {
        t[*c as usize] = true;
        stops = rest;
    }
    t
};

/// Finds the closing `quote` from `start`: its index, and whether the value needs
/// [`value_of`]. One pass, one table look-up a byte: values are short, and a `memchr` call
/// per question costs more than it saves on them.
fn scan_value(bytes: &[u8], start: usize, quote: u8) -> Option<(usize, bool)> {
    let mut special = false;
    let mut j = start;
    loop {
        while j < bytes.len() && !STOP[bytes[j] as usize] {
            j += 1;
        }
        let c = *bytes.get(j)?;
        if c == quote {
            return Some((j, special));
        }
        special |= c != b'"' && c != b'\'';
        j += 1;
    }
}

/// An attribute value with references resolved and literal tabs and line breaks turned
/// into spaces, as XML's attribute-value normalisation asks.
pub(crate) fn value_of(raw: &str) -> Result<Cow<'_, str>, (usize, String)> {
    let b = raw.as_bytes();
    let needs_spaces = memchr3(b'\t', b'\n', b'\r', b).is_some();
    let has_refs = memchr(b'&', b).is_some();
    if !needs_spaces && !has_refs {
        return Ok(Cow::Borrowed(raw));
    }
    let spaced: Cow<'_, str> = if needs_spaces {
        Cow::Owned(raw.replace("\r\n", " ").replace(['\t', '\n', '\r'], " "))
    } else {
        Cow::Borrowed(raw)
    };
    if !has_refs {
        return Ok(spaced);
    }
    match quick_xml::escape::unescape(&spaced) {
        Ok(v) => Ok(Cow::Owned(v.into_owned())),
        Err(e) => Err((memchr(b'&', b).unwrap_or(0), e.to_string())),
    }
}

/// Names already seen in this tag. A 128-bit fingerprint answers "new" for almost every
/// name without comparing; only on a fingerprint hit are the names compared.
pub(crate) struct Seen<'a> {
    bloom: u128,
    names: [&'a str; 48],
    len: usize,
    spill: Vec<&'a str>,
}

impl Default for Seen<'_> {
    fn default() -> Self {
        Seen {
            bloom: 0,
            names: [""; 48],
            len: 0,
            spill: Vec::new(),
        }
    }
}

impl<'a> Seen<'a> {
    pub(crate) fn insert(&mut self, name: &'a str) -> bool {
        let b = name.as_bytes();
        let hash = (b.len() * 7 + usize::from(b[0]) * 3 + usize::from(b[b.len() - 1])) % 128;
        let bit = 1u128 << hash;
        if self.bloom & bit != 0
            && (self.names[..self.len].contains(&name) || self.spill.contains(&name))
        {
            return false;
        }
        self.bloom |= bit;
        if self.len < self.names.len() {
            self.names[self.len] = name;
            self.len += 1;
        } else {
            self.spill.push(name);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(raw: &str) -> Result<Vec<(String, String, usize)>, Malformed> {
        let mut out = vec![];
        for_each::<()>(raw, |n, v, at| {
            out.push((n.to_owned(), v.into_owned(), at));
            Ok(())
        })?
        .unwrap();
        Ok(out)
    }

    #[test]
    fn splits_borrows_and_unescapes() {
        let got =
            collect(r#" type="edit"  title='A &amp; B' comment="x&#10;y	z" empty="""#).unwrap();
        assert_eq!(
            got,
            [
                ("type".into(), "edit".into(), 7),
                ("title".into(), "A & B".into(), 21),
                ("comment".into(), "x\ny z".into(), 41),
                ("empty".into(), "".into(), 59),
            ]
        );
    }

    #[test]
    fn keys_find_every_name_and_no_other() {
        use crate::parse::{feed_xml, rc_xml};
        let w = |name: &str| word(name.as_bytes());
        use super::Attr;
        for &(key, name) in rc_xml::Key::ALL {
            assert_eq!(rc_xml::Key::find(name, w(name)), Some(key), "{name}");
        }
        for &(key, name) in feed_xml::Key::ALL {
            assert_eq!(feed_xml::Key::find(name, w(name)), Some(key), "{name}");
        }
        for name in [
            "",
            "x",
            "typ",
            "types",
            "Type",
            "rcid ",
            "ns\0",
            "server_script_pat",
            "log_action_commenT",
            "namespace_",
        ] {
            assert_eq!(rc_xml::Key::find(name, w(name)), None, "{name:?}");
            assert_eq!(feed_xml::Key::find(name, w(name)), None, "{name:?}");
        }
    }

    #[test]
    fn refuses_what_xml_refuses() {
        for (raw, message) in [
            (r#" a="1" a="2""#, "attribute `a` appears twice"),
            (r#" a=1"#, "the value of `a` is not quoted"),
            (r#" a"#, "attribute `a` has no value"),
            (r#" a="open"#, "the value of `a` is not closed"),
        ] {
            assert_eq!(collect(raw).unwrap_err().message, message, "{raw}");
        }
        assert!(collect(r#" a="&nbsp;""#)
            .unwrap_err()
            .message
            .contains("nbsp"));
    }

    /// What quick-xml's own attribute iterator makes of the same text.
    fn quick_xml_view(raw: &str) -> Option<Vec<(String, String)>> {
        let tag = format!("<rc{raw}/>");
        let mut reader = quick_xml::Reader::from_str(&tag);
        let quick_xml::events::Event::Empty(start) = reader.read_event().ok()? else {
            return None;
        };
        start
            .attributes()
            .map(|a| {
                let a = a.ok()?;
                let v = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()?;
                Some((a.key.as_ref().to_owned(), v.into_owned()))
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_quick_xml(parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::string::string_regex(r#" [a-z]{1,3}="[^"<&]{0,5}""#).unwrap(),
                proptest::string::string_regex(r#" [a-z]{1,3}='[a-z"]{0,3}'"#).unwrap(),
                proptest::string::string_regex(r#" [a-z]{1,2}="(&amp;|&lt;|&#[0-9]{2,3};|&#x4[0-9];|&[a-z]{1,4};|[\t\n\r]|x){0,4}""#).unwrap(),
                proptest::string::string_regex(r#"[ \t\n]{0,2}[a-z]{0,2}[ =]{0,2}["'<]?[a-z]{0,2}["']?"#).unwrap(),
            ], 0..6)) {
            let raw = parts.concat();
            // After an element name comes whitespace or the end of the tag.
            proptest::prop_assume!(raw.is_empty() || raw.starts_with(|c: char| c.is_ascii_whitespace()));
            let ours = collect(&raw).ok().map(|v| v.into_iter().map(|(n, v, _)| (n, v)).collect::<Vec<_>>());
            let theirs = quick_xml_view(&raw);
            // Where quick-xml accepts XML names, so do we, with the same values.
            let xml_name = |n: &str| n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
            if let Some(theirs) = theirs.filter(|t| t.iter().all(|(n, _)| xml_name(n))) {
                proptest::prop_assert_eq!(ours, Some(theirs), "{:?}", raw);
            }
        }
    }
}
