//! Fuzz target: `summary::parse_window` (properties in `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rinha_fuzz::parse_window(data));
