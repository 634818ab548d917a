//! `cargo fuzz run parse_any`: no input panics the form-detecting `recentchanges_core::parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = recentchanges_core::detect(data);
    let _ = recentchanges_core::parse(data);
});
