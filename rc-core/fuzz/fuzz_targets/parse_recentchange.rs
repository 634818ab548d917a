//! `cargo fuzz run parse_recentchange`: no input panics `recentchanges_core::parse_recentchange`, and whatever
//! parses reads back equal from its own JSON shape.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rc) = recentchanges_core::parse_recentchange(data) {
        let json = serde_json::to_string(&rc).unwrap();
        assert_eq!(serde_json::from_str::<recentchanges_core::RecentChange>(&json).unwrap(), rc);
    }
});
