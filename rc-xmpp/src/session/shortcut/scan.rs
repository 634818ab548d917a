//! Reading a room's groupchat message that carries an `<rc>` change straight from its
//! bytes: the sender, the stanza ids (XEP-0359), the delays (XEP-0203) and the change's
//! own bytes, for rc-core's one-pass parser.
//!
//! Only the plain shape servers send is read here: a `<message type='groupchat'>` in
//! the stream's default namespace, no namespace prefix declared on it or used by its
//! children, no comment, CDATA section or processing instruction, no character data
//! beside its children, and no entity in the attribute values read. Anything else is
//! left to tokio-xmpp ([`read_framed`] returns `None`), which reads every shape XML
//! allows.

use memchr::memchr;

/// What a message says that the room client reads, as written in the stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Groupchat {
    /// The room that sent it: the `from` address up to its resource (the sender's nick,
    /// which must be there).
    pub room: String,
    /// Each `<stanza-id xmlns='urn:xmpp:sid:0'>`: its `id` and `by`.
    pub stanza_ids: Vec<(String, String)>,
    /// Each `<delay xmlns='urn:xmpp:delay'>`'s `stamp`.
    pub delays: Vec<String>,
    /// The first `<rc>` child, whole.
    pub rc: String,
}

const NS_CLIENT: &[u8] = b"jabber:client";
const NS_SID: &[u8] = b"urn:xmpp:sid:0";
const NS_DELAY: &[u8] = b"urn:xmpp:delay";

/// Reads `stanza` (one whole top-level element) when it is a groupchat message with an
/// `<rc>` change in the plain shape; `None` otherwise. `children` are where each child
/// element of the message starts and ends in `stanza` (in order) and `markup` whether a
/// comment, CDATA section or processing instruction came, as the depth guard's lexer
/// found them: only the message's start tag and those of the children read here
/// (`stanza-id`, `delay`) are parsed again, and an `<rc>`'s bytes are taken whole.
pub(crate) fn read_framed(
    stanza: &[u8],
    children: impl Iterator<Item = (usize, usize)>,
    markup: bool,
) -> Option<Groupchat> {
    if markup {
        return None;
    }
    let mut cur = Cursor { s: stanza, i: 0 };
    let mut from = None;
    let mut groupchat = false;
    let top = cur.start_tag(|name, value| {
        match name {
            b"from" => from = Some(value),
            b"type" => groupchat = value == b"groupchat",
            b"xmlns" => return value == NS_CLIENT,
            b"xml:lang" => {}
            // A namespace declared here could be used below.
            name => return !name.contains(&b':'),
        }
        true
    })?;
    if top.name != b"message" || top.empty || !groupchat {
        return None;
    }
    // room@service/nick: the room's address without escapes, and a nick.
    let from = from?;
    let slash = memchr(b'/', from)?;
    let (room, nick) = (&from[..slash], &from[slash + 1..]);
    if nick.is_empty() || room.contains(&b'&') {
        return None;
    }
    let mut read = Groupchat {
        room: String::from_utf8(room.to_vec()).ok()?,
        stanza_ids: Vec::new(),
        delays: Vec::new(),
        rc: String::new(),
    };
    // Between children, and before the end tag: white space only.
    let blank =
        |from: usize, to: usize| from <= to && stanza[from..to].iter().all(u8::is_ascii_whitespace);
    let mut at = cur.i;
    for (start, end) in children {
        if start >= end || end > stanza.len() || !blank(at, start) {
            return None;
        }
        at = end;
        let mut child = Cursor {
            s: &stanza[..end],
            i: start + 1,
        };
        let name = child.name()?;
        if name.contains(&b':') {
            return None;
        }
        match name {
            b"stanza-id" | b"delay" => {
                child.i = start;
                let (mut xmlns, mut id, mut by, mut stamp) = (None, None, None, None);
                child.start_tag(|name, value| {
                    match name {
                        b"xmlns" => xmlns = Some(value),
                        b"id" => id = Some(value),
                        b"by" => by = Some(value),
                        b"stamp" => stamp = Some(value),
                        _ => {}
                    }
                    true
                })?;
                match (name, xmlns) {
                    (b"stanza-id", Some(NS_SID)) => {
                        read.stanza_ids.push((plain(id?)?, plain(by?)?));
                    }
                    (b"delay", Some(NS_DELAY)) => read.delays.push(plain(stamp?)?),
                    _ => {}
                }
            }
            b"rc" if read.rc.is_empty() => {
                read.rc = String::from_utf8(stanza[start..end].to_vec()).ok()?;
            }
            // The first change must be this `<rc>`: a `<recentchange>` first is left to
            // tokio-xmpp.
            b"recentchange" if read.rc.is_empty() => return None,
            _ => {}
        }
    }
    let end_tag = memchr::memrchr(b'<', stanza)?;
    if !blank(at, end_tag) || stanza.get(end_tag + 1) != Some(&b'/') {
        return None;
    }
    (!read.rc.is_empty()).then_some(read)
}

/// An attribute value without entities, as a string.
fn plain(value: &[u8]) -> Option<String> {
    if value.contains(&b'&') {
        return None;
    }
    String::from_utf8(value.to_vec()).ok()
}

struct StartTag<'a> {
    name: &'a [u8],
    empty: bool,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.i += 1;
        }
    }

    /// A name: up to white space, `=`, `/` or `>`.
    fn name(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| !is_space(b) && !matches!(b, b'=' | b'/' | b'>' | b'<'))
        {
            self.i += 1;
        }
        (self.i > start).then(|| &self.s[start..self.i])
    }

    /// A start tag at the cursor, each attribute handed to `attr` (name, value as
    /// written), which refuses the tag by returning false; the cursor ends after its `>`.
    fn start_tag(
        &mut self,
        mut attr: impl FnMut(&'a [u8], &'a [u8]) -> bool,
    ) -> Option<StartTag<'a>> {
        if self.peek()? != b'<' {
            return None;
        }
        self.i += 1;
        let name = self.name()?;
        loop {
            self.skip_space();
            match self.peek()? {
                b'>' => {
                    self.i += 1;
                    return Some(StartTag { name, empty: false });
                }
                b'/' => {
                    if self.s.get(self.i + 1) != Some(&b'>') {
                        return None;
                    }
                    self.i += 2;
                    return Some(StartTag { name, empty: true });
                }
                _ => {
                    let name = self.name()?;
                    self.skip_space();
                    if self.peek()? != b'=' {
                        return None;
                    }
                    self.i += 1;
                    self.skip_space();
                    let quote = self.peek()?;
                    if quote != b'"' && quote != b'\'' {
                        return None;
                    }
                    let from = self.i + 1;
                    let end = from + memchr(quote, &self.s[from..])?;
                    let value = &self.s[from..end];
                    if value.contains(&b'<') || !attr(name, value) {
                        return None;
                    }
                    self.i = end + 1;
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// [`read_framed`] on the children this scanner finds itself (the depth guard's lexer
    /// finds them in the real stream): a reference to test against.
    pub(crate) fn read(stanza: &[u8]) -> Option<Groupchat> {
        let at_markup = |at: usize| matches!(stanza.get(at + 1), Some(b'!' | b'?'));
        if memchr::memchr_iter(b'<', stanza).any(at_markup) {
            return None; // a comment, CDATA section or processing instruction
        }
        let mut cur = Cursor { s: stanza, i: 0 };
        if cur.start_tag(|_, _| true)?.empty {
            return None;
        }
        let mut children = Vec::new();
        loop {
            cur.i += memchr(b'<', &cur.s[cur.i..])?;
            if cur.s.get(cur.i + 1) == Some(&b'/') {
                break; // the message's end tag
            }
            let start = cur.i;
            if !cur.start_tag(|_, _| true)?.empty {
                skip_content(&mut cur)?;
            }
            children.push((start, cur.i));
        }
        read_framed(stanza, children.into_iter(), false)
    }

    /// Skips an element's content after its start tag, through its end tag.
    fn skip_content(cur: &mut Cursor<'_>) -> Option<()> {
        let mut depth = 1usize;
        while depth > 0 {
            cur.i += memchr(b'<', &cur.s[cur.i..])?;
            if cur.s.get(cur.i + 1) == Some(&b'/') {
                cur.i += 2 + memchr(b'>', &cur.s[cur.i + 2..])? + 1;
                depth -= 1;
            } else if !cur.start_tag(|_, _| true)?.empty {
                depth += 1;
            }
        }
        Some(())
    }

    const PROSODY: &str = r#"<message xmlns='jabber:client' from='changes@conference.localhost/bridge' type='groupchat' id='e1' to='reader@localhost/r'><body>[[Page]] edited</body><rc xmlns='jabber:client' type='edit' ns='0' title='Page' rcid='12' comment="it's &lt;fine&gt;"><tags><tag>mobile edit</tag></tags></rc><stanza-id xmlns='urn:xmpp:sid:0' id='Qx-1' by='changes@conference.localhost'/><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/></x></message>"#;

    #[test]
    fn a_servers_groupchat_change_is_read_from_its_bytes() {
        let g = read(PROSODY.as_bytes()).expect("read");
        assert_eq!(g.room, "changes@conference.localhost");
        assert_eq!(
            g.stanza_ids,
            vec![("Qx-1".into(), "changes@conference.localhost".into())]
        );
        assert!(g.delays.is_empty());
        assert!(g.rc.starts_with("<rc xmlns='jabber:client' type='edit'"));
        assert!(g.rc.ends_with("</tags></rc>"));
    }

    #[test]
    fn delays_and_several_stanza_ids_are_all_kept_in_order() {
        let m = "<message from=\"r@c/n\" type=\"groupchat\">\n  <delay xmlns='urn:xmpp:delay' stamp='2026-12-06T10:00:00Z' from='r@c'/>\n  <stanza-id xmlns='urn:xmpp:sid:0' id='a' by='other@x'/><stanza-id xmlns='urn:xmpp:sid:0' id='b' by='r@c'/>\n  <rc rcid='1'/><rc rcid='2'/>\n</message>";
        let g = read(m.as_bytes()).expect("read");
        assert_eq!(g.delays, vec!["2026-12-06T10:00:00Z".to_owned()]);
        assert_eq!(g.stanza_ids.len(), 2);
        assert_eq!(g.rc, "<rc rcid='1'/>");
    }

    #[test]
    fn anything_but_the_plain_shape_is_left_to_tokio_xmpp() {
        let left = [
            // not groupchat, no rc, a recentchange first, no sender
            PROSODY.replace("type='groupchat'", "type='chat'"),
            PROSODY
                .replace("<rc ", "<other ")
                .replace("</rc>", "</other>"),
            PROSODY.replace("<body>", "<recentchange/><body>"),
            PROSODY.replace("from='changes@conference.localhost/bridge' ", ""),
            // from the room itself (no nick), or an escape in the room's address
            PROSODY.replace("localhost/bridge'", "localhost'"),
            PROSODY.replace("localhost/bridge'", "localhost/'"),
            PROSODY.replace("changes@conference", "ch&amp;nges@conference"),
            // another namespace, a prefix declared or used
            PROSODY.replace("xmlns='jabber:client' from", "xmlns='jabber:server' from"),
            PROSODY.replace("<message ", "<message xmlns:p='urn:p' "),
            PROSODY.replace("<body>", "<p:x/><body>"),
            // comments, CDATA, processing instructions, text beside the children
            PROSODY.replace("<body>", "<!-- hi --><body>"),
            PROSODY.replace("<body>", "<body><![CDATA[x]]>"),
            PROSODY.replace("<body>", "<?pi x?><body>"),
            PROSODY.replace("<body>", "text<body>"),
            // an entity in a stanza id, truncated bytes, an empty message
            PROSODY.replace("id='Qx-1'", "id='Q&amp;1'"),
            PROSODY[..PROSODY.len() - 30].to_owned(),
            "<message from='r@c/n' type='groupchat'/>".to_owned(),
        ];
        for m in left {
            assert_eq!(read(m.as_bytes()), None, "{m}");
        }
    }

    #[test]
    fn children_that_do_not_fit_the_stanza_never_panic() {
        let s = PROSODY.as_bytes();
        let n = s.len();
        for (a, b) in [
            (0, 0),
            (5, 3),
            (n, n + 1),
            (n + 5, n + 9),
            (40, 40),
            (10, n),
        ] {
            for markup in [false, true] {
                assert_eq!(read_framed(s, [(a, b)].into_iter(), markup), None);
            }
        }
        assert_eq!(read_framed(b"", std::iter::empty(), false), None);
    }

    #[test]
    fn bytes_that_are_not_a_stanza_never_panic() {
        for cut in 0..PROSODY.len() {
            let _ = read(&PROSODY.as_bytes()[..cut]);
            let _ = read(&PROSODY.as_bytes()[cut..]);
        }
        for m in [
            "",
            "<",
            "<message",
            "<message from='a",
            "<message/",
            "</message>",
        ] {
            assert_eq!(read(m.as_bytes()), None, "{m}");
        }
    }
}
