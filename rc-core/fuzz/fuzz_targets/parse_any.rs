//! `cargo fuzz run parse_any`: no input panics the form-detecting `rc_core::parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rc_core::detect(data);
    let _ = rc_core::parse(data);
});
