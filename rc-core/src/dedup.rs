//! Dropping what was seen before, within a bounded window. Every transport can deliver a
//! change twice (a room's archive replay, an API catch-up overlapping live changes, a
//! PubSub node's stored items); each remembers the last keys it delivered here.
//!
//! ```
//! use recentchanges_core::dedup::Recent;
//!
//! let mut seen = Recent::new(2);
//! assert!(seen.first_time(("enwiki", 1)));
//! assert!(!seen.first_time(("enwiki", 1)), "a duplicate");
//! assert!(seen.first_time(("enwiki", 2)) && seen.first_time(("enwiki", 3)));
//! assert!(seen.first_time(("enwiki", 1)), "forgotten once out of the window");
//! ```

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// Keys a window reserves room for before it grows.
const INITIAL: usize = 256;

/// The most recent `capacity` keys (capacity 0: remembers nothing, everything is new).
#[derive(Debug, Clone)]
pub struct Recent<K> {
    seen: HashSet<K>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone> Recent<K> {
    /// An empty window of `capacity` keys. It grows as keys come, up to `capacity`:
    /// reserving a large window at once (the default room window is 100,000 keys, 6 MB)
    /// costs a page fault on most of the first thousands of keys, each landing on a page
    /// of the hash table not touched yet.
    pub fn new(capacity: usize) -> Self {
        Recent {
            seen: HashSet::with_capacity(capacity.min(INITIAL)),
            order: VecDeque::with_capacity(capacity.min(INITIAL)),
            capacity,
        }
    }

    /// Whether `key` is in the window (without remembering it).
    ///
    /// ```
    /// let mut seen = recentchanges_core::dedup::Recent::new(4);
    /// seen.first_time(7);
    /// assert!(seen.contains(&7) && !seen.contains(&8));
    /// ```
    pub fn contains(&self, key: &K) -> bool {
        self.seen.contains(key)
    }

    /// Whether `key` is new; remembers it (forgetting the oldest key if the window is full).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_window_remembers_nothing() {
        let mut off = Recent::new(0);
        assert!(off.first_time(1) && off.first_time(1));
    }
}
