//! Fuzz target: `payment_body::parse_payment` (properties in `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rinha_fuzz::parse_payment(data));
