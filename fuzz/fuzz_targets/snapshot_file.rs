#![no_main]
//! See `harness::snapshot_file` for the input's layout.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::snapshot_file(data);
});
