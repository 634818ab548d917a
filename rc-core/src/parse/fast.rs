//! `<rc>` and `<recentchange>` as MediaWiki writes them, read in one pass over the bytes.
//!
//! A change is one start tag full of attributes, a few small child elements (`<tags/>`,
//! `<logparams .../>`, `<length old=".." new=".."/>`) and nothing around it. This reader
//! takes exactly that subset: names of ASCII letters, digits and `_-.:`, attributes
//! written `name="value"` one whitespace apart, text without references or carriage
//! returns, no prefixes below the root, no declaration, comment, CDATA or processing
//! instruction. It finds each value's end with a 16-byte scan, borrows every value that has
//! no reference or line break, and applies it to the change straight away.
//!
//! It never reports an error: at the first thing outside the subset, and at every error
//! (a malformed tag, a value the model refuses, a missing `type`), it answers `None`, and
//! [`super::xml::parse`] reads the input again with quick-xml, which gives the same change
//! or the exact error with its offset. So what this reader accepts, it must read exactly as
//! the full reader does: the property test below checks that.

use std::borrow::Cow;

use memchr::{memchr, memchr2};
use serde_json::Value;

use crate::change::RecentChange;
use crate::error::Form;

use super::attrs::{self, word_at, Attr};
use super::draft::Draft;
use super::node::{Node, XmlNode};
use super::xml::{apply_child, MAX_DEPTH};
use super::{feed_xml, rc_xml};

/// The change in `input`, if it is in the subset this reader takes (see the module).
pub(crate) fn parse(input: &str, want: Option<Form>) -> Option<RecentChange> {
    let b = input.as_bytes();
    let start = skip_ws(b, 0);
    if b.get(start) != Some(&b'<') {
        return None;
    }
    let name_end = name_end(b, start + 1);
    match (&b[start + 1..name_end], want) {
        (b"rc", None | Some(Form::RcXml)) => read::<RcXml>(input, name_end),
        (b"recentchange", None | Some(Form::FeedXml)) => read::<FeedXml>(input, name_end),
        _ => None,
    }
}

/// A root element this reader takes, and its attributes.
trait Root {
    const FORM: Form;
    const NAME: &'static str;
    type Key: Attr;
}

struct RcXml;

impl Root for RcXml {
    const FORM: Form = Form::RcXml;
    const NAME: &'static str = "rc";
    type Key = rc_xml::Key;
}

struct FeedXml;

impl Root for FeedXml {
    const FORM: Form = Form::FeedXml;
    const NAME: &'static str = "recentchange";
    type Key = feed_xml::Key;
}

/// Reads the root `R` from `i`, just after its name.
fn read<R: Root>(input: &str, i: usize) -> Option<RecentChange> {
    let mut draft = Draft::new();
    if R::FORM == Form::RcXml {
        rc_xml::begin(&mut draft);
    }
    // The keys seen; a repeated unknown attribute is found in `extra`.
    let mut seen = 0u64;
    let (i, empty) = tag(input, i, |name, word, raw, special| {
        let value = match special {
            true => match normalized(raw) {
                Some(v) => Cow::Owned(v),
                None => return false,
            },
            false => Cow::Borrowed(raw),
        };
        match R::Key::find(name, word) {
            Some(key) => {
                let bit = key.bit();
                let new = seen & bit == 0;
                seen |= bit;
                // The result moved into the match: no call to drop it when it is `Ok`.
                match key.set(&mut draft, value) {
                    Ok(()) => new,
                    Err(bad) => {
                        drop(bad);
                        false
                    }
                }
            }
            None if attrs::is_namespace_declaration(name) => true,
            None => {
                let extra = &mut draft.rc.extra;
                if extra.contains_key(name) || !name.bytes().all(|c| NAME[c as usize]) {
                    return false;
                }
                extra.insert(name.to_owned(), Value::String(value.into_owned()));
                true
            }
        }
    })?;
    let i = if empty {
        i
    } else {
        children(input, i, R::FORM, R::NAME, &mut draft)?
    };
    if skip_ws(input.as_bytes(), i) != input.len() {
        return None;
    }
    draft.finish(R::FORM).ok()
}

/// The most attributes a child element read here may have.
const MAX_CHILD_ATTRS: usize = 8;

/// A child element without content, read without allocating (`<tags/>`,
/// `<logparams userid="3"/>`, `<length old="22" new="14"/>`).
struct Empty<'a> {
    name: &'a str,
    attrs: [(&'a str, &'a str); MAX_CHILD_ATTRS],
    len: usize,
}

impl XmlNode for Empty<'_> {
    fn name(&self) -> &str {
        self.name
    }
    fn attrs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attrs[..self.len].iter().copied()
    }
    fn children(&self) -> impl Iterator<Item = &Self> {
        std::iter::empty()
    }
    fn text(&self) -> String {
        String::new()
    }
}

/// Reads the root's content from `i` (just after its start tag) through its end tag,
/// applying each child element as it closes. The index after `</root>`.
fn children(input: &str, mut i: usize, form: Form, root: &str, d: &mut Draft) -> Option<usize> {
    let b = input.as_bytes();
    // The open elements below the root.
    let mut stack: Vec<Node> = Vec::new();
    loop {
        // Mostly no text between the tags: `memchr` only when there is.
        let lt = match b.get(i)? {
            b'<' => i,
            _ => i + memchr(b'<', &b[i..])?,
        };
        if lt > i {
            let text = &input[i..lt];
            if memchr2(b'&', b'\r', text.as_bytes()).is_some() {
                return None;
            }
            if let Some(top) = stack.last_mut() {
                top.push_text(text);
            }
        }
        i = lt + 1;
        match *b.get(i)? {
            b'/' => {
                let start = i + 1;
                let end = name_end(b, start);
                if b.get(end) != Some(&b'>') {
                    return None;
                }
                let name = &input[start..end];
                i = end + 1;
                let Some(node) = stack.pop() else {
                    return (name == root).then_some(i);
                };
                if node.name != name {
                    return None;
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => apply_child(form, d, &node).ok()?,
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = name_end(b, i);
                let name = &input[i..end];
                if name.bytes().any(|c| c == b':') || stack.len() + 1 >= MAX_DEPTH {
                    return None;
                }
                let mut el = Empty {
                    name,
                    attrs: [("", ""); MAX_CHILD_ATTRS],
                    len: 0,
                };
                let (next, empty) = tag(input, end, |n, _, raw, special| {
                    // Values with references, prefixes, namespace declarations, repeated
                    // names and long lists are left to the full reader.
                    let plain = !special
                        && el.len < MAX_CHILD_ATTRS
                        && n != "xmlns"
                        && n.bytes().all(|c| c != b':' && NAME[c as usize])
                        && !el.attrs().any(|(m, _)| m == n);
                    if plain {
                        el.attrs[el.len] = (n, raw);
                        el.len += 1;
                    }
                    plain
                })?;
                i = next;
                if empty && stack.is_empty() {
                    apply_child(form, d, &el).ok()?;
                    continue;
                }
                let node = Node {
                    name: Cow::Borrowed(name),
                    attrs: el.attrs[..el.len]
                        .iter()
                        .map(|&(n, v)| (Cow::Borrowed(n), Cow::Borrowed(v)))
                        .collect(),
                    ..Node::default()
                };
                match stack.last_mut() {
                    Some(parent) if empty => parent.children.push(node),
                    _ => stack.push(node),
                }
            }
            _ => return None,
        }
    }
}

/// Scans the attributes of a start tag from `i` (just after the element's name) through its
/// `>` or `/>`, calling `each(name, word(name), raw value, special)` for each: `special` when
/// the raw value holds a reference or a tab, line break or other control character. Returns
/// the index after the tag and whether it was an empty-element tag, or `None` when the tag is
/// outside the subset or `each` answers `false`. The names passed start with a letter or `_`
/// and end at the next `=`; `each` checks the rest of an unknown name.
fn tag<'a>(
    input: &'a str,
    mut i: usize,
    mut each: impl FnMut(&'a str, u128, &'a str, bool) -> bool,
) -> Option<(usize, bool)> {
    let b = input.as_bytes();
    let mut blocks = Blocks::new(b);
    loop {
        let before = i;
        i = skip_ws(b, i);
        let separated = i > before;
        match *b.get(i)? {
            b'>' => return Some((i + 1, false)),
            b'/' => return (b.get(i + 1) == Some(&b'>')).then_some((i + 2, true)),
            c if separated && (c.is_ascii_alphabetic() || c == b'_') => {}
            _ => return None,
        }
        let name_start = i;
        let eq = blocks.eq_from(i)?;
        let name = input.get(name_start..eq)?;
        let word = word_at(b, name_start, eq - name_start);
        let value_start = eq + 2;
        let (value_end, special) = match b.get(eq + 1)? {
            b'"' => {
                let (end, special) = blocks.quote_from(value_start)?;
                if special && memchr(b'<', &b[value_start..end]).is_some() {
                    return None;
                }
                (end, special)
            }
            b'\'' => value_end(b, value_start, b'\'')?,
            _ => return None,
        };
        if !each(name, word, &input[value_start..value_end], special) {
            return None;
        }
        i = value_end + 1;
    }
}

/// Where the `"`, `=` and special bytes (`&`, `<`, control characters) of a start tag are,
/// 64 bytes at a time: a block costs four 16-byte compares, and each attribute's bounds
/// are then bit scans in it.
struct Blocks<'a> {
    b: &'a [u8],
    base: usize,
    end: usize,
    quote: u64,
    eq: u64,
    special: u64,
}

impl<'a> Blocks<'a> {
    fn new(b: &'a [u8]) -> Self {
        Blocks {
            b,
            base: 0,
            end: 0,
            quote: 0,
            eq: 0,
            special: 0,
        }
    }

    /// Makes sure the block holds `pos` (the positions asked for only grow); `false` past
    /// the input.
    #[inline]
    fn reach(&mut self, pos: usize) -> bool {
        if pos < self.end {
            return true;
        }
        if pos >= self.b.len() {
            return false;
        }
        let mut padded = [0u8; 64];
        let block: &[u8; 64] = match self.b.get(pos..pos + 64) {
            Some(block) => block.try_into().expect("64 bytes"),
            None => {
                let rest = &self.b[pos..];
                padded[..rest.len()].copy_from_slice(rest);
                &padded
            }
        };
        (self.quote, self.eq, self.special) = masks(block);
        self.base = pos;
        self.end = pos + 64;
        true
    }

    /// The first `=` from `pos`.
    #[inline]
    fn eq_from(&mut self, mut pos: usize) -> Option<usize> {
        loop {
            if !self.reach(pos) {
                return None;
            }
            let m = self.eq >> (pos - self.base);
            if m != 0 {
                let at = pos + m.trailing_zeros() as usize;
                return (at < self.b.len()).then_some(at);
            }
            pos = self.end;
        }
    }

    /// The first `"` from `pos`, and whether a special byte comes before it.
    #[inline]
    fn quote_from(&mut self, mut pos: usize) -> Option<(usize, bool)> {
        let mut special = false;
        loop {
            if !self.reach(pos) {
                return None;
            }
            let shift = pos - self.base;
            let (q, s) = (self.quote >> shift, self.special >> shift);
            if q != 0 {
                let k = q.trailing_zeros();
                let at = pos + k as usize;
                special |= s & ((1u64 << k) - 1) != 0;
                return (at < self.b.len()).then_some((at, special));
            }
            special |= s != 0;
            pos = self.end;
        }
    }
}

/// Bit `k` of each mask says whether byte `k` is a `"`, a `=`, a special byte.
#[inline]
fn masks(block: &[u8; 64]) -> (u64, u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let (mut quote, mut eq, mut special) = (0u64, 0u64, 0u64);
        for k in 0..4 {
            // SAFETY: SSE2 is part of x86_64, and the 16 bytes read are inside `block`.
            let (q, e, s) = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
                let hit = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
                let special = _mm_or_si128(_mm_or_si128(hit(b'&'), hit(b'<')), control);
                (
                    _mm_movemask_epi8(hit(b'"')) as u16,
                    _mm_movemask_epi8(hit(b'=')) as u16,
                    _mm_movemask_epi8(special) as u16,
                )
            };
            quote |= u64::from(q) << (16 * k);
            eq |= u64::from(e) << (16 * k);
            special |= u64::from(s) << (16 * k);
        }
        (quote, eq, special)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (mut quote, mut eq, mut special) = (0u64, 0u64, 0u64);
        for (k, &c) in block.iter().enumerate() {
            quote |= u64::from(c == b'"') << k;
            eq |= u64::from(c == b'=') << k;
            special |= u64::from(c == b'&' || c == b'<' || c < 0x20) << k;
        }
        (quote, eq, special)
    }
}

/// An attribute value with its references resolved and tabs and line breaks turned into
/// spaces, as [`attrs::value_of`] makes it, for the references it takes without a doubt:
/// the five predefined entities and character references of up to 6 digits. `None` for
/// anything else.
fn normalized(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut last = 0;
    let mut i = 0;
    // `&` stands in for the quote: the value has none.
    while let Some(at) = find_stop(b, i, b'&') {
        out.push_str(&raw[last..at]);
        i = at + 1;
        match b[at] {
            b'&' => {
                let (c, len) = reference(&b[i..])?;
                out.push(c);
                i += len;
            }
            b'\r' if b.get(i) == Some(&b'\n') => {
                out.push(' ');
                i += 1;
            }
            b'\t' | b'\n' | b'\r' => out.push(' '),
            _ => out.push(char::from(b[at])),
        }
        last = i;
    }
    out.push_str(&raw[last..]);
    Some(out)
}

/// The character a reference stands for, and how many bytes after its `&` it takes.
fn reference(b: &[u8]) -> Option<(char, usize)> {
    let entity = |name: &[u8], c: char| b.starts_with(name).then_some((c, name.len()));
    match b.first()? {
        b'l' => entity(b"lt;", '<'),
        b'g' => entity(b"gt;", '>'),
        b'a' => entity(b"amp;", '&').or_else(|| entity(b"apos;", '\'')),
        b'q' => entity(b"quot;", '"'),
        b'#' => {
            let (radix, digits) = match b.get(1)? {
                b'x' => (16, 2),
                _ => (10, 1),
            };
            let end = digits + b[digits..].iter().take(7).position(|&c| c == b';')?;
            let number = std::str::from_utf8(&b[digits..end]).ok()?;
            if number.is_empty() || !number.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let code = u32::from_str_radix(number, radix).ok()?;
            char::from_u32(code)
                .filter(|&c| c != '\0')
                .map(|c| (c, end + 1))
        }
        _ => None,
    }
}

/// The index of the closing `quote` from `start`, and whether the value needs
/// [`attrs::value_of`]; `None` for a raw `<` or no closing quote.
fn value_end(b: &[u8], start: usize, quote: u8) -> Option<(usize, bool)> {
    let mut special = false;
    let mut j = start;
    loop {
        j = find_stop(b, j, quote)?;
        match b[j] {
            c if c == quote => return Some((j, special)),
            b'<' => return None,
            _ => special = true,
        }
        j += 1;
    }
}

/// The first byte from `from` that ends or complicates a value: `quote`, `&`, `<` or a
/// control character.
#[inline]
fn find_stop(b: &[u8], from: usize, quote: u8) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let mut j = from;
        while j + 16 <= b.len() {
            // SAFETY: SSE2 is part of x86_64, and the 16 bytes read are inside `b`.
            let mask = unsafe {
                let v = _mm_loadu_si128(b.as_ptr().add(j).cast());
                let hit = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
                let any = _mm_or_si128(
                    _mm_or_si128(hit(quote), hit(b'&')),
                    _mm_or_si128(hit(b'<'), control),
                );
                _mm_movemask_epi8(any) as u32
            };
            if mask != 0 {
                return Some(j + mask.trailing_zeros() as usize);
            }
            j += 16;
        }
        find_stop_bytewise(b, j, quote)
    }
    #[cfg(not(target_arch = "x86_64"))]
    find_stop_bytewise(b, from, quote)
}

fn find_stop_bytewise(b: &[u8], from: usize, quote: u8) -> Option<usize> {
    b[from..]
        .iter()
        .position(|&c| c == quote || c == b'&' || c == b'<' || c < 0x20)
        .map(|p| from + p)
}

/// Bytes of a name in the subset: ASCII letters, digits, `_`, `-`, `.`, `:`.
static NAME: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':');
        c += 1;
    }
    t
};

fn name_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && NAME[b[i] as usize] {
        i += 1;
    }
    i
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures(suffix: &str) -> Vec<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mediawiki-1.39");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_str().unwrap().ends_with(suffix))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// The recorded changes all take the fast path, and read as the full reader reads them.
    #[test]
    fn recorded_changes_take_the_fast_path() {
        for (suffix, form) in [(".rc.xml", Form::RcXml), (".feed.xml", Form::FeedXml)] {
            let inputs = fixtures(suffix);
            assert!(inputs.len() > 10);
            for input in inputs {
                let fast = parse(&input, Some(form)).unwrap_or_else(|| panic!("slow: {input}"));
                assert_eq!(Ok(fast), super::super::xml::parse_full(&input, Some(form)));
            }
        }
    }

    #[test]
    fn resolves_references_and_line_breaks_as_the_full_reader() {
        for input in [
            "<rc type=\"edit\" comment=\"a &lt;b&gt; &amp; &quot;&apos; &#233;&#x41;&#10;x\ty\r\nz\rw\" />",
            "<recentchange type='edit' title='&#x1F600;'><tags><tag>x y</tag>\n<tag>z</tag></tags></recentchange>",
            "<rc type=\"edit\"><logparams><g>a</g><g>b</g></logparams></rc>",
        ] {
            let fast = parse(input, None).unwrap_or_else(|| panic!("slow: {input}"));
            assert_eq!(Ok(fast), super::super::xml::parse_full(input, None));
        }
    }

    #[test]
    fn leaves_the_rest_to_the_full_reader() {
        for input in [
            r#"<?xml version="1.0"?><rc type="edit"/>"#,
            r#"<rc type="edit" title="a<b"/>"#,
            r#"<rc type="edit"title="a"/>"#,
            r#"<rc type = "edit"/>"#,
            r#"<rc type="edit" type="log"/>"#,
            r#"<rc type="edit" rcid="x"/>"#,
            r#"<rc title="A"/>"#,
            r#"<rc type="edit"><!-- c --></rc>"#,
            r#"<rc type="edit"><tags><tag>a&amp;b</tag></tags></rc>"#,
            r#"<rc type="edit"><x:tags/></rc>"#,
            r#"<rc type="edit"><tags></tag></rc>"#,
            r#"<rc type="edit"><logparams a="1" a="2"/></rc>"#,
            r#"<rc type="edit"><logparams xmlns="urn:x"/></rc>"#,
            r#"<rc type="edit"/> x"#,
            r#"<rc type="edit">"#,
            r#"<rc type="edit" title="A &nbsp; B"/>"#,
            r#"<recentchange type="edit"><length old="x"/></recentchange>"#,
        ] {
            assert_eq!(parse(input, None), None, "{input}");
        }
        assert_eq!(parse(r#"<rc type="edit"/>"#, Some(Form::FeedXml)), None);
    }

    #[cfg(feature = "minidom")]
    #[test]
    fn a_namespace_declaration_is_no_field_of_the_change_either_way() {
        // As an XML library reads it (from_element), the declaration is markup.
        let input =
            r#"<rc xmlns="jabber:client" xmlns:p="urn:p" type="edit" rcid="7" wiki="enwiki"/>"#;
        let element: minidom::Element = input.parse().unwrap();
        let by_element = crate::from_element(&element).unwrap();
        let by_string = crate::parse_rc(input).unwrap();
        assert_eq!(by_string, by_element);
        assert_eq!(by_string.extra.keys().collect::<Vec<_>>(), ["wiki"]);
    }

    fn attribute() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let name = prop_oneof![
            Just("type"),
            Just("rcid"),
            Just("title"),
            Just("minor"),
            Just("timestamp"),
            Just("id"),
            Just("namespace"),
            Just("x"),
            Just("xmlns"),
            Just("a:b"),
        ];
        let value = proptest::string::string_regex(
            r#"(edit|log|12|0|2026-11-23T08:59:04Z|1795424344|[a-z ]|&(amp|lt|gt|quot|apos|x|#10|#0|#65|#x41|#xD800|#1114112|#0000065|#a|#);|&|[\t\n\r<>'"\x01é])*"#,
        )
        .unwrap();
        let sep = proptest::string::string_regex(r#"[ \t\n]{0,2}"#).unwrap();
        (sep, name, value, any::<bool>()).prop_map(|(sep, n, v, single)| {
            if single {
                format!("{sep}{n}='{v}'")
            } else {
                format!("{sep}{n}=\"{v}\"")
            }
        })
    }

    fn child() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("<tags />".to_string()),
            Just("<tags/>".to_string()),
            Just("<tags></tags>".to_string()),
            Just("<tags><tag>a</tag><tag>b c</tag></tags>".to_string()),
            Just("<tags>\n <tag>x</tag>\n</tags>".to_string()),
            Just(r#"<logparams userid="3" />"#.to_string()),
            Just("<logparams><x>1</x><x>2</x></logparams>".to_string()),
            Just(r#"<length old="1" new="2"/>"#.to_string()),
            Just(r#"<revision old='3' new="4"/>"#.to_string()),
            Just(r#"<log_params a="1"><b c="d"/></log_params>"#.to_string()),
            Just(r#"<x a='1' b="&amp;"/>"#.to_string()),
            Just("<y>t</y>".to_string()),
            proptest::string::string_regex(
                r#"<(tags|tag|x)( (old|new|a)="[0-9a-z&;]{0,3}"){0,2} ?/?>|</(tags|tag|x) ?>|[a-z \n\r&;]{1,3}|<!--c-->|<![CDATA[z]]>"#,
            )
            .unwrap(),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// Whatever the fast path accepts, the full reader reads the same.
        #[test]
        fn agrees_with_the_full_reader(
            root in proptest::prop_oneof![proptest::strategy::Just("rc"), proptest::strategy::Just("recentchange")],
            attributes in proptest::collection::vec(attribute(), 0..6),
            children in proptest::option::of(proptest::collection::vec(child(), 0..5)),
            after in proptest::string::string_regex(r#"[ \n]{0,2}(x|<!---->)?"#).unwrap(),
        ) {
            let mut input = format!("<{root}{}", attributes.concat());
            match children {
                None => input.push_str("/>"),
                Some(children) => input.push_str(&format!(">{}</{root}>", children.concat())),
            }
            input.push_str(&after);
            if let Some(fast) = parse(&input, None) {
                proptest::prop_assert_eq!(Ok(fast), super::super::xml::parse_full(&input, None), "{:?}", input);
            }
        }
    }
}
