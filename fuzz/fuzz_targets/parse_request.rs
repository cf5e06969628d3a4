//! Fuzz target: `http::parse_request`, with pipelining and partial reads (properties in `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rinha_fuzz::parse_request(data));
