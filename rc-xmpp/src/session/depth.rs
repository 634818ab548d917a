//! A limit on how deep elements from the server may nest, applied to the bytes before
//! tokio-xmpp parses them; and the framing of each stanza for the room's
//! [short way](super::shortcut).
//!
//! tokio-xmpp builds each stanza through xso's element builder, one stack frame per open
//! level, and minidom drops an element recursively: a message of ~30k nested elements,
//! which a server relays as it is (Prosody does in a room without an archive), overflows
//! the stack and aborts the process. [`DepthGuard`] sits under the XML parser and tracks
//! element depth with a small lexer; anything nested more than [`MAX_STANZA_DEPTH`]
//! levels inside a stanza is cut out of the byte stream, subtree by subtree, so the
//! stanza still arrives, well-formed and shallower: its payload then fails
//! rc-core's own depth cap (32 levels) and is reported as a bad payload item, the
//! position moves past it, and the stream goes on. Failing the connection instead would
//! not do: the rejoin would replay the same message from the room history or archive,
//! forever.
//!
//! The lexer knows just enough XML: `<` opens a start tag unless followed by `/` (an end
//! tag), `?` (a processing instruction, up to `?>`) or `!` (a comment up to `-->`, a
//! CDATA section up to `]]>`, or a declaration up to `>`); a start tag ends at the first
//! `>` outside a quoted attribute value and is empty when that `>` follows `/`. The
//! stream header (`<stream:stream>`, again at each stream restart after STARTTLS or SASL
//! on the same bytes) sets the depth to 1 when it comes outside any stanza.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::shortcut::Shortcut;

/// How many levels of elements a stanza may have (the stanza itself is level 1): deeper
/// elements are cut out. Far more than any XMPP extension nests (a change is 3-5), and
/// shallow enough for tokio-xmpp's recursive element building and minidom's recursive
/// drop: measured in a debug build on tokio's 2 MiB worker stack, 512 levels pass and
/// 1,000 overflow, so 128 leaves a margin of 4 or more for the rest of the call chain.
pub(crate) const MAX_STANZA_DEPTH: usize = 128;

/// Bytes read from the server at a time.
const CHUNK: usize = 8 * 1024;

/// The stream's root element.
const STREAM_ROOT: &[u8] = b"stream:stream";

/// The most bytes of one `<message>` held back for the [`Shortcut`]: a longer one goes
/// on to tokio-xmpp as it comes. A change is a few KiB; a message tokio-xmpp sees
/// nothing of for long would look like silence to its keepalive.
const MAX_HELD: usize = 64 * 1024;

/// An `AsyncRead + AsyncWrite` whose reads have elements nested deeper than
/// `limit` levels inside a stanza removed, and, once the [`Shortcut`] is enabled, a
/// room's groupchat changes taken out, each released to the session loop when the
/// parser reaches its place (`lexer.marks`); writes pass through.
///
/// While a `<message>` is coming in, its bytes are held back (`lexer.held`) until its
/// end tag says whether it goes the short way.
pub(crate) struct DepthGuard<S> {
    inner: S,
    lexer: Lexer,
    scratch: Box<[u8]>,
    out: Vec<u8>,
    out_pos: usize,
}

impl<S> DepthGuard<S> {
    pub fn new(inner: S, shortcut: Arc<Shortcut>) -> Self {
        let mut guard = Self::with_limit(inner, MAX_STANZA_DEPTH);
        guard.lexer.shortcut = Some(shortcut);
        guard
    }

    pub fn with_limit(inner: S, limit: usize) -> Self {
        DepthGuard {
            inner,
            lexer: Lexer::new(limit),
            scratch: vec![0; CHUNK].into_boxed_slice(),
            out: Vec::with_capacity(CHUNK + 1),
            out_pos: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for DepthGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let lexer = &mut this.lexer;
            let mark = lexer.marks.front().copied();
            let ready_to = mark
                .unwrap_or(usize::MAX)
                .min(lexer.held.unwrap_or(this.out.len()));
            if this.out_pos < ready_to {
                let n = buf.remaining().min(ready_to - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                return Poll::Ready(Ok(()));
            }
            if mark == Some(this.out_pos) {
                // The parser read all before a diverted message: every stanza before it
                // was handled. Its turn; the bytes after it wait until it is taken.
                // Messages back to back share their place: released together.
                let here = lexer
                    .marks
                    .iter()
                    .take_while(|&&m| m == this.out_pos)
                    .count();
                let shortcut = lexer.shortcut.as_ref().expect("marks only with a shortcut");
                if !lexer.released {
                    shortcut.release(here);
                    lexer.released = true;
                    return Poll::Pending; // the session loop is woken for them
                }
                if !shortcut.taken() {
                    return Poll::Pending; // the session loop handles them, then reads on
                }
                lexer.marks.drain(..here);
                lexer.released = false;
                continue;
            }
            // All that is ready was read: keep what is held.
            this.out.drain(..this.out_pos);
            if let Some(held) = &mut this.lexer.held {
                *held -= this.out_pos;
                let frame = &mut this.lexer.frame;
                frame.child_start = frame.child_start.saturating_sub(this.out_pos);
                for (start, end) in &mut frame.children {
                    (*start, *end) = (*start - this.out_pos, *end - this.out_pos);
                }
            }
            for mark in &mut this.lexer.marks {
                *mark -= this.out_pos; // none: a mark comes before the held message
            }
            this.out_pos = 0;
            let mut read = ReadBuf::new(&mut this.scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let n = read.filled().len();
            if n == 0 {
                if this.out.is_empty() {
                    return Poll::Ready(Ok(())); // end of stream
                }
                this.lexer.held = None; // a message cut short: tokio-xmpp says so
                continue;
            }
            let cut = this.lexer.cut;
            this.lexer.feed(&this.scratch[..n], &mut this.out);
            if this.lexer.cut > cut {
                tracing::warn!(
                    limit = this.lexer.limit,
                    "cut out elements nested too deep in a stanza from the server"
                );
            }
            if this
                .lexer
                .held
                .is_some_and(|h| this.out.len() - h > MAX_HELD)
            {
                this.lexer.held = None;
            }
            // Everything read may have been cut or held: read again rather than return
            // nothing, which would mean the end of the stream.
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for DepthGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Character data, or between tags.
    Text,
    /// Just after `<`: what follows says what it opens (the `<` is not written yet).
    Lt,
    /// In a start tag's name.
    Name,
    /// In a start tag after its name; `quote` is the open attribute value's quote.
    Tag { quote: Option<u8>, slash: bool },
    /// In an end tag.
    EndTag,
    /// In `<?...?>`; `q` when the last byte was `?`.
    Pi { q: bool },
    /// Just after `<!`.
    Bang,
    /// After `<!-`.
    BangDash,
    /// After `<!` and `seen` bytes of `[CDATA[`.
    CDataOpen { seen: u8 },
    /// In `<!--...-->`; `dashes` in a row just seen.
    Comment { dashes: u8 },
    /// In `<![CDATA[...]]>`; `brackets` in a row just seen.
    CData { brackets: u8 },
    /// In any other `<!...>`.
    Decl,
}

/// What the lexer found in the message being held: where each child element starts and
/// ends in the output, and whether any comment, CDATA section or processing instruction
/// came.
#[derive(Debug, Default)]
struct Frame {
    children: Vec<(usize, usize)>,
    child_start: usize,
    markup: bool,
}

/// Tracks element depth over the stream's bytes and copies out what is kept.
struct Lexer {
    limit: usize,
    state: State,
    /// Elements open, the stream's root included.
    depth: usize,
    /// The level of the element whose subtree is being cut out, while one is.
    cutting: Option<usize>,
    /// The start of the current start tag's name, to spot the stream header.
    name: [u8; STREAM_ROOT.len()],
    name_len: usize,
    /// Subtrees cut out so far.
    cut: u64,
    /// Where the `<message>` being held starts in the output, while one is.
    held: Option<usize>,
    /// The held message's children, as the lexer found them.
    frame: Frame,
    /// Where held messages go, once enabled.
    shortcut: Option<Arc<Shortcut>>,
    /// Where in the output each message the shortcut staged was (its bytes left out).
    marks: VecDeque<usize>,
    /// The messages at the first mark were released to the session loop.
    released: bool,
}

impl Lexer {
    fn new(limit: usize) -> Self {
        Lexer {
            limit,
            state: State::Text,
            depth: 0,
            cutting: None,
            name: [0; STREAM_ROOT.len()],
            name_len: 0,
            cut: 0,
            held: None,
            frame: Frame::default(),
            shortcut: None,
            marks: VecDeque::new(),
            released: false,
        }
    }

    /// The deepest level kept: the stream's root, plus `limit` levels of a stanza.
    fn max_level(&self) -> usize {
        1 + self.limit
    }

    /// Runs `input` through, appending what is kept to `out`.
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            // Fast paths: text up to the next `<`, and an attribute value up to its
            // closing quote (most of a change's bytes), kept or cut as a whole.
            let until = match self.state {
                State::Text => Some(b'<'),
                State::Tag { quote: Some(q), .. } => Some(q),
                _ => None,
            };
            if let Some(stop) = until {
                let end = memchr::memchr(stop, &input[i..]).map_or(input.len(), |p| i + p);
                if self.cutting.is_none() {
                    out.extend_from_slice(&input[i..end]);
                }
                i = end;
                if i == input.len() {
                    break;
                }
            } else if self.state == State::EndTag {
                // An end tag's name, up to its `>`.
                let end = memchr::memchr(b'>', &input[i..]).map_or(input.len(), |p| i + p);
                if self.cutting.is_none() {
                    out.extend_from_slice(&input[i..end]);
                }
                i = end;
                if i == input.len() {
                    break;
                }
            } else if let State::Tag { quote: None, .. } = self.state {
                // Between attribute values: names, `=` and spaces up to the next quote
                // or `>`; only whether the last of them was `/` matters.
                let end =
                    memchr::memchr3(b'\'', b'"', b'>', &input[i..]).map_or(input.len(), |p| i + p);
                if end > i {
                    if self.cutting.is_none() {
                        out.extend_from_slice(&input[i..end]);
                    }
                    self.state = State::Tag {
                        quote: None,
                        slash: input[end - 1] == b'/',
                    };
                    i = end;
                    if i == input.len() {
                        break;
                    }
                }
            }
            let b = input[i];
            i += 1;
            self.step(b, out);
        }
    }

    fn keep(&self, b: u8, out: &mut Vec<u8>) {
        if self.cutting.is_none() {
            out.push(b);
        }
    }

    fn step(&mut self, b: u8, out: &mut Vec<u8>) {
        match self.state {
            State::Text => {
                debug_assert_eq!(b, b'<');
                self.state = State::Lt;
                return; // written with the next byte, which says whether it is cut
            }
            State::Lt => {
                match b {
                    b'/' => self.state = State::EndTag,
                    b'?' => {
                        self.state = State::Pi { q: false };
                        self.frame.markup = true;
                    }
                    b'!' => {
                        self.state = State::Bang;
                        self.frame.markup = true;
                    }
                    _ => {
                        // A start tag: its element is at level depth + 1.
                        let level = self.depth + 1;
                        if self.cutting.is_none() && level > self.max_level() {
                            self.cutting = Some(level);
                            self.cut += 1;
                        }
                        // A stanza: held until its name says whether it is a message.
                        if level == 2 && self.shortcut.as_ref().is_some_and(|s| s.enabled()) {
                            self.held = Some(out.len());
                            self.frame = Frame::default();
                        }
                        if level == 3 && self.cutting.is_none() {
                            self.frame.child_start = out.len();
                        }
                        self.state = State::Name;
                        self.name_len = 0;
                        self.name_byte(b);
                    }
                }
                self.keep(b'<', out);
            }
            State::Name => match b {
                b'>' => {
                    self.keep(b, out);
                    self.start_tag_end(false, out.len());
                    return;
                }
                b'/' | b' ' | b'\t' | b'\r' | b'\n' => {
                    self.state = State::Tag {
                        quote: None,
                        slash: b == b'/',
                    }
                }
                _ => self.name_byte(b),
            },
            State::Tag { quote, slash } => match (quote, b) {
                (Some(q), _) if b == q => {
                    self.state = State::Tag {
                        quote: None,
                        slash: false,
                    }
                }
                (Some(_), _) => {}
                (None, b'\'' | b'"') => {
                    self.state = State::Tag {
                        quote: Some(b),
                        slash: false,
                    }
                }
                (None, b'>') => {
                    self.keep(b, out);
                    self.start_tag_end(slash, out.len());
                    return;
                }
                (None, _) => {
                    self.state = State::Tag {
                        quote: None,
                        slash: b == b'/',
                    }
                }
            },
            State::EndTag => {
                if b == b'>' {
                    self.keep(b, out);
                    let level = self.depth;
                    self.depth = self.depth.saturating_sub(1);
                    self.state = State::Text;
                    if self.cutting == Some(level) {
                        self.cutting = None;
                    }
                    if level == 3 && self.held.is_some() {
                        self.frame
                            .children
                            .push((self.frame.child_start, out.len()));
                    }
                    if level == 2 {
                        if let Some(start) = self.held.take() {
                            self.divert(start, out);
                        }
                    }
                    return;
                }
            }
            State::Pi { q } => {
                if q && b == b'>' {
                    self.state = State::Text;
                } else {
                    self.state = State::Pi { q: b == b'?' };
                }
            }
            State::Bang => {
                self.state = match b {
                    b'-' => State::BangDash,
                    b'[' => State::CDataOpen { seen: 1 },
                    b'>' => State::Text,
                    _ => State::Decl,
                }
            }
            State::BangDash => {
                self.state = match b {
                    b'-' => State::Comment { dashes: 0 },
                    b'>' => State::Text,
                    _ => State::Decl,
                }
            }
            State::CDataOpen { seen } => {
                const CDATA: &[u8] = b"[CDATA[";
                self.state = match b {
                    _ if CDATA[seen as usize] == b && seen as usize + 1 == CDATA.len() => {
                        State::CData { brackets: 0 }
                    }
                    _ if CDATA[seen as usize] == b => State::CDataOpen { seen: seen + 1 },
                    b'>' => State::Text,
                    _ => State::Decl,
                }
            }
            State::Comment { dashes } => {
                self.state = match b {
                    b'>' if dashes >= 2 => State::Text,
                    b'-' => State::Comment {
                        dashes: dashes.saturating_add(1),
                    },
                    _ => State::Comment { dashes: 0 },
                }
            }
            State::CData { brackets } => {
                self.state = match b {
                    b'>' if brackets >= 2 => State::Text,
                    b']' => State::CData {
                        brackets: brackets.saturating_add(1),
                    },
                    _ => State::CData { brackets: 0 },
                }
            }
            State::Decl => {
                if b == b'>' {
                    self.state = State::Text;
                }
            }
        }
        self.keep(b, out);
    }

    fn name_byte(&mut self, b: u8) {
        if self.name_len < self.name.len() {
            self.name[self.name_len] = b;
        }
        self.name_len += 1;
    }

    /// A whole `<message>` held at `out[start..]`: left out, its place marked, when the
    /// shortcut reads it.
    fn divert(&mut self, start: usize, out: &mut Vec<u8>) {
        let Some(shortcut) = &self.shortcut else {
            return;
        };
        if out.len() - start > MAX_HELD {
            return; // released as it came (see `poll_read`), or held no longer
        }
        let children = self
            .frame
            .children
            .iter()
            .map(|&(a, b)| (a - start, b - start));
        if shortcut.divert(&out[start..], children, self.frame.markup) {
            out.truncate(start);
            self.marks.push_back(start);
        }
    }

    /// The `>` of a start tag, ending at `end` in the output; `empty` when it was `/>`.
    fn start_tag_end(&mut self, empty: bool, end: usize) {
        self.state = State::Text;
        let level = self.depth + 1;
        if empty && level == 3 && self.held.is_some() {
            self.frame.children.push((self.frame.child_start, end));
        }
        let message = self.name_len == 7 && self.name[..7] == *b"message";
        if level == 2 && (empty || !message) {
            self.held = None; // only a whole message may go the short way
        }
        let stream_root = self.depth <= 1
            && self.name_len == STREAM_ROOT.len()
            && self.name == STREAM_ROOT
            && !empty;
        if stream_root {
            // The stream's header, again after a restart on the same bytes.
            self.depth = 1;
            self.held = None;
        } else if !empty {
            self.depth = level;
        } else if self.cutting == Some(level) {
            self.cutting = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(limit: usize, input: &[u8], split: usize) -> Vec<u8> {
        let mut lexer = Lexer::new(limit);
        let mut out = Vec::new();
        lexer.feed(&input[..split], &mut out);
        lexer.feed(&input[split..], &mut out);
        out
    }

    /// `input` through a lexer with `limit`, cut in two at every place, and byte by byte:
    /// always the same output, which is returned.
    fn filtered(limit: usize, input: &str) -> String {
        let input = input.as_bytes();
        let whole = run(limit, input, input.len());
        for split in 0..input.len() {
            assert_eq!(run(limit, input, split), whole, "split at {split}");
        }
        let mut lexer = Lexer::new(limit);
        let mut out = Vec::new();
        for b in input {
            lexer.feed(std::slice::from_ref(b), &mut out);
        }
        assert_eq!(out, whole, "byte by byte");
        String::from_utf8(whole).unwrap()
    }

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' version='1.0'>";

    #[test]
    fn shallow_streams_pass_unchanged() {
        let input = format!(
            "{HEADER}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>\
             <success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>{HEADER}\
             <message from='r@c/n' type='groupchat'><body>a &gt; b &lt; c</body>\
             <rc xmlns='jabber:client' title='a > b' comment=\"it's /> fine\" rcid='1'/>\
             <x><![CDATA[<a><a><a>]]></x><y><!-- <a><a> --></y></message></stream:stream>"
        );
        assert_eq!(filtered(3, &input), input);
    }

    #[test]
    fn elements_deeper_than_the_limit_are_cut_out_and_the_rest_kept() {
        // limit 3: message (1), rc (2), a (3) kept; deeper cut, subtree by subtree.
        let deep = "<b x='>'><c/>text<d><e/></d></b>";
        let input = format!(
            "{HEADER}<success xmlns='s'/>{HEADER}\
             <message id='m1'><rc rcid='1'><a>kept{deep}tail<b/><b2 q=\"/>\"/></a></rc></message>\
             <message id='m2'><rc rcid='2'><a/></rc></message>"
        );
        let expected = format!(
            "{HEADER}<success xmlns='s'/>{HEADER}\
             <message id='m1'><rc rcid='1'><a>kepttail</a></rc></message>\
             <message id='m2'><rc rcid='2'><a/></rc></message>"
        );
        assert_eq!(filtered(3, &input), expected);
    }

    #[test]
    fn thirty_thousand_levels_become_the_limit() {
        let depth = 30_000;
        let input = format!(
            "{HEADER}<message id='deep'><rc rcid='1'>{}{}</rc></message><message id='next'/>",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        );
        let mut lexer = Lexer::new(MAX_STANZA_DEPTH);
        let mut out = Vec::new();
        for chunk in input.as_bytes().chunks(CHUNK) {
            lexer.feed(chunk, &mut out);
        }
        let kept = MAX_STANZA_DEPTH - 2; // the message and the rc are two of the levels
        let expected = format!(
            "{HEADER}<message id='deep'><rc rcid='1'>{}{}</rc></message><message id='next'/>",
            "<a>".repeat(kept),
            "</a>".repeat(kept)
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert_eq!((lexer.cut, lexer.depth, lexer.cutting), (1, 1, None));
    }

    #[tokio::test]
    async fn the_reader_never_returns_an_empty_read_before_the_end() {
        use tokio::io::AsyncReadExt;
        // Two reads, the first wholly cut: the reader must go on to the second.
        let first = format!("{HEADER}<m><a><b>{}", "<c>".repeat(CHUNK));
        let second = format!("{}</b></a></m><m/>", "</c>".repeat(CHUNK));
        let inner = tokio_test_reader(vec![first.into_bytes(), second.into_bytes()]);
        let mut guard = DepthGuard::with_limit(inner, 2);
        let mut got = String::new();
        guard.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, format!("{HEADER}<m><a></a></m><m/>"));
    }

    /// `input` read in pieces of `piece` bytes through a guard with the shortcut
    /// enabled, by a loop like the session's: the bytes the parser gets, with
    /// `[rc …]` where the loop took a change read the short way.
    async fn through_shortcut(input: &str, piece: usize) -> (String, Arc<Shortcut>) {
        use tokio::io::AsyncReadExt;
        let shortcut = Arc::new(Shortcut::default());
        shortcut.enable();
        let chunks = input.as_bytes().chunks(piece).map(<[u8]>::to_vec).collect();
        let mut guard = DepthGuard::new(tokio_test_reader(chunks), shortcut.clone());
        let mut got = String::new();
        let mut buf = [0u8; 16];
        loop {
            tokio::select! {
                n = guard.read(&mut buf) => match n.unwrap() {
                    0 => break,
                    n => got.push_str(std::str::from_utf8(&buf[..n]).unwrap()),
                },
                read = shortcut.ready() => got.push_str(&format!("[{}]", read.rc)),
            }
        }
        (got, shortcut)
    }

    #[tokio::test]
    async fn a_groupchat_change_is_taken_in_its_place_however_it_is_split() {
        let change = "<message from='r@c/n' type='groupchat'><body>b</body><rc rcid='1'/><stanza-id xmlns='urn:xmpp:sid:0' id='s1' by='r@c'/></message>";
        let others = [
            "<presence from='r@c/n'><x xmlns='http://jabber.org/protocol/muc#user'/></presence>",
            "<message from='r@c' type='groupchat'><subject/></message>",
            "<iq type='result' id='q1'/>",
            "<message from='r@c/n' type='groupchat'/>",
        ];
        let input = format!(
            "{HEADER}{}{change}{}{}{change}{change}{}",
            others[0], others[1], others[2], others[3]
        );
        let expected = format!(
            "{HEADER}{}[<rc rcid='1'/>]{}{}[<rc rcid='1'/>][<rc rcid='1'/>]{}",
            others[0], others[1], others[2], others[3]
        );
        for piece in [1, 7, 64, input.len()] {
            let (got, shortcut) = through_shortcut(&input, piece).await;
            assert_eq!(got, expected, "piece {piece}");
            assert!(shortcut.lock().staged().is_empty() && shortcut.taken());
        }
    }

    #[test]
    fn the_lexers_frame_reads_a_message_as_the_scanner_alone_does() {
        use crate::session::shortcut::scan;
        let messages = [
            "<message from='r@c/n' type='groupchat' id='1'><body>b</body><rc rcid='1' title='a &gt; b'><tags><tag>x</tag></tags></rc><stanza-id xmlns='urn:xmpp:sid:0' id='s1' by='r@c'/><x xmlns='http://jabber.org/protocol/muc#user'><item role='participant'/></x></message>",
            "<message from=\"r@c/n\" type=\"groupchat\">\n  <delay xmlns='urn:xmpp:delay' stamp='2026-12-06T10:00:00Z'/>\n  <stanza-id xmlns='urn:xmpp:sid:0' id='a' by='x@y'/><stanza-id xmlns='urn:xmpp:sid:0' id='b' by='r@c'/>\n  <rc rcid='1'/><rc rcid='2'/>\n</message>",
            "<message from='r@c/n' type='groupchat'><rc rcid='1'/>text<body/></message>",
            "<message from='r@c/n' type='groupchat'><!-- c --><rc rcid='1'/></message>",
            "<message from='r@c/n' type='groupchat'><recentchange/><rc rcid='1'/></message>",
            "<message from='r@c/n' type='chat'><rc rcid='1'/></message>",
            "<message from='r@c/n' type='groupchat'><p:rc xmlns:p='u' rcid='1'/></message>",
        ];
        for (i, m) in messages.into_iter().enumerate() {
            let shortcut = Arc::new(Shortcut::default());
            shortcut.enable();
            let mut lexer = Lexer::new(MAX_STANZA_DEPTH);
            lexer.shortcut = Some(shortcut.clone());
            let mut out = Vec::new();
            lexer.feed(format!("{HEADER}{m}").as_bytes(), &mut out);
            let staged = shortcut.lock().staged().front().cloned();
            assert_eq!(staged, scan::tests::read(m.as_bytes()), "{m}");
            assert_eq!(staged.is_some(), lexer.marks.len() == 1, "{m}");
            assert_eq!(
                staged.is_some(),
                i < 2,
                "the first two are read, the rest left: {m}"
            );
        }
    }

    #[tokio::test]
    async fn nothing_is_held_or_taken_before_the_shortcut_is_enabled_or_after_a_cut_end() {
        use tokio::io::AsyncReadExt;
        let change = "<message from='r@c/n' type='groupchat'><rc rcid='1'/></message>";
        let input = format!("{HEADER}{change}");
        let shortcut = Arc::new(Shortcut::default());
        let mut guard = DepthGuard::new(
            tokio_test_reader(vec![input.clone().into_bytes()]),
            shortcut,
        );
        let mut got = String::new();
        guard.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, input);
        // A message longer than what is held goes on as it comes, whole.
        let long = format!(
            "{HEADER}<message from='r@c/n' type='groupchat'><rc rcid='1' comment='{}'/></message>",
            "x".repeat(MAX_HELD)
        );
        let (got, shortcut) = through_shortcut(&long, 4096).await;
        assert_eq!(got, long);
        assert!(shortcut.lock().staged().is_empty());
        // A message the connection cut short is passed on as far as it came.
        let cut = &input[..input.len() - 5];
        let (got, shortcut) = through_shortcut(cut, 16).await;
        assert_eq!(got, cut);
        assert!(shortcut.lock().staged().is_empty());
    }

    /// A reader that returns `chunks` one read each.
    fn tokio_test_reader(chunks: Vec<Vec<u8>>) -> impl AsyncRead + Unpin {
        struct Chunks(std::collections::VecDeque<Vec<u8>>);
        impl AsyncRead for Chunks {
            fn poll_read(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                if let Some(mut c) = self.0.pop_front() {
                    let n = c.len().min(buf.remaining());
                    buf.put_slice(&c[..n]);
                    if n < c.len() {
                        self.0.push_front(c.split_off(n));
                    }
                }
                Poll::Ready(Ok(()))
            }
        }
        Chunks(chunks.into())
    }
}
