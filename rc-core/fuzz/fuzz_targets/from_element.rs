//! `cargo fuzz run from_element`: whatever minidom accepts as an element, reading a change
//! from it (the XMPP path) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(el) = text.parse::<minidom::Element>() {
            let _ = recentchanges_core::from_element(&el);
        }
    }
});
