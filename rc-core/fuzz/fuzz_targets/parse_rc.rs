//! `cargo fuzz run parse_rc`: no input panics `rc_core::parse_rc`, and whatever
//! parses reads back equal from its own JSON shape.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rc) = rc_core::parse_rc(data) {
        let json = serde_json::to_string(&rc).unwrap();
        assert_eq!(serde_json::from_str::<rc_core::RecentChange>(&json).unwrap(), rc);
    }
});
