#![no_main]
//! See `harness::check_spec` for the input's layout.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::check_spec(data);
});
