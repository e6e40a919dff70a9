#![no_main]
//! See `harness::log_signatures` for the input's layout.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::log_signatures(data);
});
