//! Fuzz target: `money::parse_cents` (properties in `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rinha_fuzz::parse_cents(data));
