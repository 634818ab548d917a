//! The short way for a room's changes: a groupchat message carrying an `<rc>` is read
//! from its bytes ([`scan`]) under tokio-xmpp, and only a tiny stand-in goes through
//! tokio-xmpp's XML parser, so that the change is parsed once, by rc-core's one-pass
//! parser, instead of being tokenized and built into a typed stanza with its payloads as
//! element trees first (most of a change's cost in a room; see benches/README.md).
//!
//! The [`DepthGuard`](super::depth::DepthGuard) under the parser frames each stanza,
//! hands a whole `<message>` to [`Shortcut::divert`], and passes on either the message
//! or, when it was read here, its stand-in in its place: XEP-0198's acknowledgement
//! `<a xmlns='urn:xmpp:sm:3' h='n'/>`, numbering what was read. A server sends that only
//! to a client that enabled stream management, which rc-xmpp never does; and nobody but
//! the server can put an element at the top of the stream (another occupant's message
//! is a stanza), so a stand-in cannot be forged. It keeps the message's place among the
//! other stanzas (a room's presence, an archive page's end): the session loop hands its
//! number to the room driver ([`InSession::short`](super::task::InSession::short)),
//! which [takes](Shortcut::take) what was read and checks it as any message.
//!
//! Nothing diverts until the room client [enables](Shortcut::enable) it; the other
//! clients (PubSub, publishers) never do.

pub(crate) mod scan;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub(crate) use scan::Groupchat;

/// What one connection's guard and its room driver share.
#[derive(Default)]
pub(crate) struct Shortcut {
    enabled: AtomicBool,
    /// What was read, with the number its stand-in carries, oldest first.
    read: Mutex<Read>,
}

#[derive(Default)]
pub(super) struct Read {
    next: u32,
    waiting: VecDeque<(u32, Groupchat)>,
}

impl Shortcut {
    /// Lets the guard divert groupchat changes from now on.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Reads `stanza` if it is a groupchat change, writing the stand-in to `out`;
    /// returns whether it did (if not, nothing was written).
    pub fn divert(&self, stanza: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(read) = scan::read(stanza) else {
            return false;
        };
        let mut state = self.lock();
        let n = state.next;
        state.next = n.wrapping_add(1);
        state.waiting.push_back((n, read));
        let _ = write!(out, "<a xmlns='urn:xmpp:sm:3' h='{n}'/>");
        true
    }

    /// What was read for the stand-in numbered `n`: the oldest waiting, when it is
    /// that one.
    pub fn take(&self, n: u32) -> Option<Groupchat> {
        let mut state = self.lock();
        match state.waiting.front() {
            Some((k, _)) if *k == n => state.waiting.pop_front().map(|(_, g)| g),
            _ => None,
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Read> {
        self.read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Read {
    #[cfg(test)]
    pub(super) fn waiting(&self) -> &VecDeque<(u32, Groupchat)> {
        &self.waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANGE: &str = "<message from='r@c/n' type='groupchat'><rc rcid='7'/></message>";

    /// The number of the stand-in `divert` wrote for `stanza`.
    fn stand_in(s: &Shortcut, stanza: &str) -> u32 {
        let mut out = Vec::new();
        assert!(s.divert(stanza.as_bytes(), &mut out));
        let text = String::from_utf8(out).unwrap();
        let a = xmpp_parsers::sm::A::try_from(text.parse::<minidom::Element>().unwrap())
            .expect("an XEP-0198 acknowledgement");
        a.h
    }

    #[test]
    fn a_stand_in_gives_back_what_was_read_once_in_order() {
        let s = Shortcut::default();
        let first = stand_in(&s, CHANGE);
        let second = stand_in(&s, &CHANGE.replace("'7'", "'8'"));
        assert_eq!(s.take(second), None, "not before the first");
        assert_eq!(
            s.take(first).map(|g| g.rc),
            Some("<rc rcid='7'/>".to_owned())
        );
        assert_eq!(s.take(first), None);
        assert_eq!(
            s.take(second).map(|g| g.rc),
            Some("<rc rcid='8'/>".to_owned())
        );
        assert!(s.lock().waiting().is_empty());
    }

    #[test]
    fn anything_else_is_left_as_it_was() {
        let s = Shortcut::default();
        let mut out = Vec::new();
        let chat = CHANGE.replace("groupchat", "chat");
        assert!(!s.divert(chat.as_bytes(), &mut out));
        assert!(out.is_empty() && s.lock().waiting().is_empty());
    }
}
