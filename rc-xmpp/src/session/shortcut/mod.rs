//! The short way for a room's changes: a groupchat message carrying an `<rc>` is read
//! from its bytes ([`scan`]) under tokio-xmpp and never reaches tokio-xmpp's XML parser,
//! so that the change is parsed once, by rc-core's one-pass parser, instead of being
//! tokenized and built into a typed stanza with its payloads as element trees first
//! (most of a change's cost in a room; see benches/README.md).
//!
//! The [`DepthGuard`](super::depth::DepthGuard) under the parser frames each stanza and
//! hands a whole `<message>` to [`Shortcut::divert`]; what was read there is left out of
//! the bytes and *staged*, its place in the byte stream marked. When the parser has read
//! every byte before that place and asks for more, every stanza before the message has
//! been handed to the session loop and handled (tokio-xmpp returns an element as soon as
//! its end tag is read); the guard then [releases](Shortcut::release) what was read and
//! makes the parser wait, the session loop takes it ([`Shortcut::ready`]) and hands it to
//! the room driver ([`InSession::short`](super::task::InSession::short)), which checks it
//! as any message, and only then does the parser get the bytes after it. So a change
//! keeps its place among the other stanzas (a room's presence, an archive page's end).
//!
//! Nothing diverts until the room client [enables](Shortcut::enable) it; the other
//! clients (PubSub, publishers) never do.

pub(crate) mod scan;

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::task::{Poll, Waker};

pub(crate) use scan::Groupchat;

/// What one connection's guard and its session loop share.
#[derive(Default)]
pub(crate) struct Shortcut {
    enabled: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
pub(super) struct State {
    /// Read, each waiting for the parser to reach its place, oldest first.
    staged: VecDeque<Groupchat>,
    /// Released: their turn has come, for the session loop to take, oldest first.
    ready: VecDeque<Groupchat>,
    /// The session loop waiting for one.
    waker: Option<Waker>,
}

impl Shortcut {
    /// Lets the guard divert groupchat changes from now on.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Reads `stanza` if it is a groupchat change and stages it; returns whether it did
    /// (the guard then leaves the stanza out and marks its place).
    ///
    /// `children` and `markup` are what the guard's lexer found (see
    /// [`scan::read_framed`]).
    pub fn divert(
        &self,
        stanza: &[u8],
        children: impl Iterator<Item = (usize, usize)>,
        markup: bool,
    ) -> bool {
        let Some(read) = scan::read_framed(stanza, children, markup) else {
            return false;
        };
        self.lock().staged.push_back(read);
        true
    }

    /// The parser reached the place of the `n` oldest staged messages (back to back in
    /// the stream, nothing between them): they are ready for the session loop.
    pub fn release(&self, n: usize) {
        let mut state = self.lock();
        debug_assert!(
            state.ready.is_empty(),
            "released before the last were taken"
        );
        let n = n.min(state.staged.len());
        let released: Vec<_> = state.staged.drain(..n).collect();
        state.ready.extend(released);
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }

    /// Whether the session loop took all that was released.
    pub fn taken(&self) -> bool {
        self.lock().ready.is_empty()
    }

    /// The next released message, when there is one.
    pub async fn ready(&self) -> Groupchat {
        poll_fn(|cx| {
            let mut state = self.lock();
            match state.ready.pop_front() {
                Some(read) => Poll::Ready(read),
                None => {
                    state.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    #[cfg(test)]
    pub(super) fn staged(&self) -> &VecDeque<Groupchat> {
        &self.staged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANGE: &str = "<message from='r@c/n' type='groupchat'><rc rcid='7'/></message>";

    /// `stanza` diverted with the one child `<rc rcid='…'/>` it has.
    fn divert(s: &Shortcut, stanza: &str) -> bool {
        let start = stanza.find("<rc").unwrap();
        let end = stanza.find("/>").unwrap() + 2;
        s.divert(stanza.as_bytes(), std::iter::once((start, end)), false)
    }

    #[tokio::test]
    async fn what_was_read_is_ready_once_released_in_order() {
        let s = Shortcut::default();
        assert!(divert(&s, CHANGE));
        assert!(divert(&s, &CHANGE.replace("'7'", "'8'")));
        assert!(divert(&s, &CHANGE.replace("'7'", "'9'")));
        assert!(s.taken(), "nothing released yet");
        s.release(1);
        assert!(!s.taken());
        assert_eq!(s.ready().await.rc, "<rc rcid='7'/>");
        assert!(s.taken());
        s.release(2);
        assert_eq!(s.ready().await.rc, "<rc rcid='8'/>");
        assert!(!s.taken(), "one more released");
        assert_eq!(s.ready().await.rc, "<rc rcid='9'/>");
        assert!(s.taken() && s.lock().staged().is_empty());
    }

    #[test]
    fn anything_else_is_left_as_it_was() {
        let s = Shortcut::default();
        assert!(!divert(&s, &CHANGE.replace("groupchat", "chat")));
        assert!(s.lock().staged().is_empty());
    }
}
