//! Reading a room's groupchat message that carries an `<rc>` change straight from its
//! bytes: the sender, the stanza ids (XEP-0359), the delays (XEP-0203) and the change's
//! own bytes, for rc-core's one-pass parser.
//!
//! Only the plain shape servers send is read here: a `<message type='groupchat'>` in
//! the stream's default namespace, no namespace prefix declared on it or used by its
//! children, no comment, CDATA section or processing instruction, no character data
//! beside its children, and no entity in the attribute values read. Anything else is
//! left to tokio-xmpp ([`read`] returns `None`), which reads every shape XML allows.

use memchr::memchr;

/// What a message says that the room client reads, as written in the stanza (attribute
/// values still escaped where noted; [`read`] refuses entities in the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Groupchat {
    /// The `from` attribute as written, escapes included, and its quote.
    pub from: String,
    pub from_quote: u8,
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
/// `<rc>` change in the plain shape; `None` otherwise.
pub(crate) fn read(stanza: &[u8]) -> Option<Groupchat> {
    if memchr::memmem::find(stanza, b"<!").is_some()
        || memchr::memmem::find(stanza, b"<?").is_some()
    {
        return None;
    }
    let mut cur = Cursor { s: stanza, i: 0 };
    let top = cur.start_tag()?;
    if top.name != b"message" || top.empty {
        return None;
    }
    let mut from = None;
    let mut groupchat = false;
    for a in &top.attrs {
        match a.name {
            b"from" => from = Some((a.value, a.quote)),
            b"type" => groupchat = a.value == b"groupchat",
            b"xmlns" if a.value != NS_CLIENT => return None,
            b"xmlns" | b"xml:lang" | b"id" | b"to" => {}
            name if name.contains(&b':') => return None,
            _ => {}
        }
    }
    let (from, from_quote) = from?;
    if !groupchat {
        return None;
    }
    let mut read = Groupchat {
        from: String::from_utf8(from.to_vec()).ok()?,
        from_quote,
        stanza_ids: Vec::new(),
        delays: Vec::new(),
        rc: String::new(),
    };
    loop {
        // Between children: white space only.
        let lt = cur.i + memchr(b'<', &cur.s[cur.i..])?;
        if !cur.s[cur.i..lt].iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        cur.i = lt;
        if cur.s.get(lt + 1) == Some(&b'/') {
            // The message's end tag: the lexer that framed the stanza matched it.
            break;
        }
        let child = cur.start_tag()?;
        if child.name.contains(&b':') {
            return None;
        }
        if !child.empty {
            cur.skip_content()?;
        }
        let bytes = &cur.s[child.start..cur.i];
        let xmlns = child.attr(b"xmlns");
        match child.name {
            b"stanza-id" if xmlns == Some(NS_SID) => {
                let id = plain(child.attr(b"id")?)?;
                let by = plain(child.attr(b"by")?)?;
                read.stanza_ids.push((id, by));
            }
            b"delay" if xmlns == Some(NS_DELAY) => read.delays.push(plain(child.attr(b"stamp")?)?),
            b"rc" if read.rc.is_empty() => read.rc = String::from_utf8(bytes.to_vec()).ok()?,
            // The first change must be this `<rc>`: a `<recentchange>` first is left to
            // tokio-xmpp.
            b"recentchange" if read.rc.is_empty() => return None,
            _ => {}
        }
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

struct Attr<'a> {
    name: &'a [u8],
    value: &'a [u8],
    quote: u8,
}

struct StartTag<'a> {
    start: usize,
    name: &'a [u8],
    attrs: Vec<Attr<'a>>,
    empty: bool,
}

impl StartTag<'_> {
    fn attr(&self, name: &[u8]) -> Option<&[u8]> {
        self.attrs.iter().find(|a| a.name == name).map(|a| a.value)
    }
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

    /// A start tag at the cursor, with its attributes; the cursor ends after its `>`.
    fn start_tag(&mut self) -> Option<StartTag<'a>> {
        let start = self.i;
        if self.peek()? != b'<' {
            return None;
        }
        self.i += 1;
        let name = self.name()?;
        let mut attrs = Vec::new();
        loop {
            self.skip_space();
            match self.peek()? {
                b'>' => {
                    self.i += 1;
                    return Some(StartTag {
                        start,
                        name,
                        attrs,
                        empty: false,
                    });
                }
                b'/' => {
                    if self.s.get(self.i + 1) != Some(&b'>') {
                        return None;
                    }
                    self.i += 2;
                    return Some(StartTag {
                        start,
                        name,
                        attrs,
                        empty: true,
                    });
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
                    if value.contains(&b'<') {
                        return None;
                    }
                    attrs.push(Attr { name, value, quote });
                    self.i = end + 1;
                }
            }
        }
    }

    /// Skips an element's content after its start tag, through its end tag.
    fn skip_content(&mut self) -> Option<()> {
        let mut depth = 1usize;
        while depth > 0 {
            self.i += memchr(b'<', &self.s[self.i..])?;
            if self.s.get(self.i + 1) == Some(&b'/') {
                self.i += 2 + memchr(b'>', &self.s[self.i + 2..])? + 1;
                depth -= 1;
            } else if !self.start_tag()?.empty {
                depth += 1;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROSODY: &str = r#"<message xmlns='jabber:client' from='changes@conference.localhost/bridge' type='groupchat' id='e1' to='reader@localhost/r'><body>[[Page]] edited</body><rc xmlns='jabber:client' type='edit' ns='0' title='Page' rcid='12' comment="it's &lt;fine&gt;"><tags><tag>mobile edit</tag></tags></rc><stanza-id xmlns='urn:xmpp:sid:0' id='Qx-1' by='changes@conference.localhost'/><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/></x></message>"#;

    #[test]
    fn a_servers_groupchat_change_is_read_from_its_bytes() {
        let g = read(PROSODY.as_bytes()).expect("read");
        assert_eq!(g.from, "changes@conference.localhost/bridge");
        assert_eq!(g.from_quote, b'\'');
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
        assert_eq!(g.from_quote, b'"');
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
