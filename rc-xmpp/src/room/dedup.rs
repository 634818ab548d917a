//! Dropping changes seen before, by (wiki, rcid), within a bounded window
//! ([`recentchanges_core::dedup::Recent`]).

use recentchanges_core::dedup::Recent;

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
}
