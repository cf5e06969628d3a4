//! Fuzz target: `time::parse_iso8601` (properties in `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rinha_fuzz::parse_iso8601(data));
