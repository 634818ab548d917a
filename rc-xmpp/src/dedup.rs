//! Dropping a change seen before: by (wiki, rcid), within a bounded window.

use std::collections::{HashSet, VecDeque};

/// The most recent `capacity` change identities.
#[derive(Debug)]
pub(crate) struct Window {
    seen: HashSet<(Option<String>, u64)>,
    order: VecDeque<(Option<String>, u64)>,
    capacity: usize,
}

impl Window {
    pub fn new(capacity: usize) -> Self {
        Window {
            seen: HashSet::with_capacity(capacity.min(1 << 16)),
            order: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity,
        }
    }

    /// Whether this change is new; remembers it. Changes without an rcid are always new.
    pub fn first_time(&mut self, wiki: Option<&str>, rcid: Option<u64>) -> bool {
        let (Some(rcid), true) = (rcid, self.capacity > 0) else {
            return true;
        };
        let key = (wiki.map(str::to_owned), rcid);
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
}
