//! The short way for a room's changes: a groupchat message carrying an `<rc>` is read
//! from its bytes ([`scan`]) under tokio-xmpp, and only a small stand-in goes through
//! tokio-xmpp's XML parser, so that the change is parsed once, by rc-core's one-pass
//! parser, instead of being tokenized and built into an element tree first (most of a
//! change's cost in a room; see benches/README.md).
//!
//! The [`DepthGuard`](super::depth::DepthGuard) under the parser frames each stanza,
//! hands a whole `<message>` to [`Shortcut::divert`], and passes on either the message
//! or, when it was read here, the stand-in in its place:
//! `<message from='…' type='groupchat'><shortcut xmlns='urn:x-rc-xmpp:shortcut' token='…'
//! n='…'/></message>`. The stand-in keeps the message's place among the other stanzas (a
//! room's presence, an archive page's end) and its sender, so the room driver checks it
//! as any message; [`Shortcut::take`] then gives what was read. The token is random
//! for each connection: a stand-in that somebody else sent is a plain message.
//!
//! Nothing diverts until the room client [enables](Shortcut::enable) it; the other
//! clients (PubSub, publishers) never do.

pub(crate) mod scan;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use minidom::Element;
use xmpp_parsers::message::Message;

pub(crate) use scan::Groupchat;

const NS: &str = "urn:x-rc-xmpp:shortcut";

/// What one connection's guard and its room driver share.
pub(crate) struct Shortcut {
    token: String,
    enabled: AtomicBool,
    next: AtomicU64,
    read: Mutex<VecDeque<(u64, Groupchat)>>,
}

impl Default for Shortcut {
    fn default() -> Self {
        Shortcut {
            token: format!("{:032x}", rand::random::<u128>()),
            enabled: AtomicBool::new(false),
            next: AtomicU64::new(0),
            read: Mutex::new(VecDeque::new()),
        }
    }
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
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let q = read.from_quote as char;
        let _ = write!(
            out,
            "<message type='groupchat' from={q}{}{q}><shortcut xmlns='{NS}' token='{}' n='{n}'/></message>",
            read.from, self.token
        );
        self.lock().push_back((n, read));
        true
    }

    /// What was read for the stand-in `m`, if `m` is one of this connection's.
    pub fn take(&self, m: &Message) -> Option<Groupchat> {
        let n = m.payloads.iter().find_map(|e| self.number(e))?;
        let mut read = self.lock();
        // Stand-ins tokio-xmpp refused (a `from` that is no address) never came here:
        // what was read for them goes.
        while read.front().is_some_and(|(k, _)| *k < n) {
            read.pop_front();
        }
        match read.front() {
            Some((k, _)) if *k == n => read.pop_front().map(|(_, g)| g),
            _ => None,
        }
    }

    fn number(&self, e: &Element) -> Option<u64> {
        if !e.is("shortcut", NS) || e.attr("token") != Some(self.token.as_str()) {
            return None;
        }
        e.attr("n")?.parse().ok()
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, Groupchat)>> {
        self.read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANGE: &str = "<message from='r@c/n' type='groupchat'><rc rcid='7'/></message>";

    fn stand_in(s: &Shortcut, stanza: &str) -> Message {
        let mut out = Vec::new();
        assert!(s.divert(stanza.as_bytes(), &mut out));
        let text = String::from_utf8(out)
            .unwrap()
            .replace("<message ", "<message xmlns='jabber:client' ");
        Message::try_from(text.parse::<Element>().unwrap()).unwrap()
    }

    #[test]
    fn a_stand_in_gives_back_what_was_read_once() {
        let s = Shortcut::default();
        let m = stand_in(&s, CHANGE);
        assert_eq!(m.from.as_ref().map(|j| j.as_str()), Some("r@c/n"));
        assert_eq!(s.take(&m).map(|g| g.rc), Some("<rc rcid='7'/>".to_owned()));
        assert_eq!(s.take(&m), None);
    }

    #[test]
    fn a_stand_in_from_anybody_else_is_a_plain_message() {
        let s = Shortcut::default();
        let _ours = stand_in(&s, CHANGE);
        let forged = Message::try_from(
            "<message xmlns='jabber:client' from='r@c/n' type='groupchat'><shortcut xmlns='urn:x-rc-xmpp:shortcut' token='0' n='0'/></message>"
                .parse::<Element>()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(s.take(&forged), None);
    }

    #[test]
    fn what_was_read_for_a_lost_stand_in_goes_with_the_next() {
        let s = Shortcut::default();
        let _lost = stand_in(&s, CHANGE);
        let next = stand_in(&s, &CHANGE.replace("'7'", "'8'"));
        assert_eq!(
            s.take(&next).map(|g| g.rc),
            Some("<rc rcid='8'/>".to_owned())
        );
        assert!(s.lock().is_empty());
    }
}
