//! Dropping what was seen before, within a bounded window: changes by (wiki, rcid),
//! PubSub items by their own keys.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// The most recent `capacity` keys.
#[derive(Debug)]
pub(crate) struct Recent<K> {
    seen: HashSet<K>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone> Recent<K> {
    pub fn new(capacity: usize) -> Self {
        Recent {
            seen: HashSet::with_capacity(capacity.min(1 << 16)),
            order: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity,
        }
    }

    /// Whether `key` is new; remembers it.
    pub fn first_time(&mut self, key: K) -> bool {
        if self.capacity == 0 {
            return true;
        }
        if self.seen.contains(&key) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

/// The most recent `capacity` change identities (wiki, rcid).
#[derive(Debug)]
pub(crate) struct Window(Recent<(Option<String>, u64)>);

impl Window {
    pub fn new(capacity: usize) -> Self {
        Window(Recent::new(capacity))
    }

    /// Whether this change is new; remembers it. Changes without an rcid are always new.
    pub fn first_time(&mut self, wiki: Option<&str>, rcid: Option<u64>) -> bool {
        match rcid {
            Some(rcid) => self.0.first_time((wiki.map(str::to_owned), rcid)),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_bounded_window() {
        let mut w = Window::new(2);
        assert!(w.first_time(Some("en"), Some(1)));
        assert!(!w.first_time(Some("en"), Some(1)));
        assert!(
            w.first_time(Some("de"), Some(1)),
            "another wiki's rcid 1 is another change"
        );
        assert!(w.first_time(Some("en"), Some(2)));
        assert!(
            w.first_time(Some("en"), Some(1)),
            "forgotten once out of the window"
        );
        assert!(w.first_time(None, None) && w.first_time(None, None));
    }

    #[test]
    fn recent_keys_are_a_bounded_window() {
        let mut w = Recent::new(2);
        assert!(w.first_time("a"));
        assert!(!w.first_time("a"));
        assert!(w.first_time("b"));
        assert!(w.first_time("c"));
        assert!(w.first_time("a"), "forgotten once out of the window");
        let mut off = Recent::new(0);
        assert!(off.first_time(1) && off.first_time(1));
    }
}
