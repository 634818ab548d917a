//! Dropping changes seen before, by (wiki, rcid), within a bounded window
//! ([`recentchanges_core::dedup::Recent`]).

use std::collections::HashMap;

use recentchanges_core::dedup::Recent;

/// The most recent `capacity` change identities (wiki, rcid). Wikis are numbered as
/// they come (0 for none), so that a change's identity is two numbers: no allocation
/// and a short hash per change.
#[derive(Debug)]
pub(crate) struct Window {
    recent: Recent<(u32, u64)>,
    wikis: HashMap<String, u32>,
}

impl Window {
    pub fn new(capacity: usize) -> Self {
        Window {
            recent: Recent::new(capacity),
            wikis: HashMap::new(),
        }
    }

    /// Whether this change is new; remembers it. Changes without an rcid are always new.
    pub fn first_time(&mut self, wiki: Option<&str>, rcid: Option<u64>) -> bool {
        match rcid {
            Some(rcid) => {
                let wiki = self.number(wiki);
                self.recent.first_time((wiki, rcid))
            }
            None => true,
        }
    }

    fn number(&mut self, wiki: Option<&str>) -> u32 {
        let Some(wiki) = wiki else {
            return 0;
        };
        if let Some(&n) = self.wikis.get(wiki) {
            return n;
        }
        let n = self.wikis.len() as u32 + 1;
        self.wikis.insert(wiki.to_owned(), n);
        n
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
