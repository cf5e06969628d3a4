//! What the integration tests share: the real parts started and stopped,
//! raw HTTP, load, the summaries the contest compares, and the rules for a
//! missing tool. Every test file has `mod support;`.
//!
//! # Layout
//!
//! - [`processes`]: the built `rinha` binary, child processes with their
//!   stderr kept line by line, signals, bounded stops, free ports.
//! - [`stack`]: the contest topology as `rinha local` runs it (HAProxy in
//!   front of two instances).
//! - [`cluster`]: processors and instances started one by one on one shared
//!   file, for the tests that kill, freeze and restart them.
//! - [`emulator`]: the switches of the processor emulator.
//! - [`http`]: requests written by hand and the one response reader.
//! - [`load`]: clients posting payments, and the account of what each was
//!   told; the window check run alongside.
//! - [`summary`]: the backend's and the processors' summaries, read
//!   exactly, and the wait until they agree.
//! - [`json`]: the few JSON values the tests read.
//! - [`rng`]: fresh correlation ids and a replayable generator.
//! - [`prerequisite`]: a missing tool fails under `CI=true`, else skips loudly.
//! - [`k6`]: `bench/run.sh` bounded in time, and its result JSON.
//!
//! `tests/compose/` (the compose file reader) stays apart: it is a reader
//! of one format with its own table tests in `compose_rules.rs`, needed by
//! two test files only.

// Cargo compiles each test file as its own crate with this module in it,
// and each uses a subset: the rest would warn as dead code.
#![allow(dead_code)]

pub mod cluster;
pub mod emulator;
pub mod http;
pub mod json;
pub mod k6;
pub mod load;
pub mod prerequisite;
pub mod processes;
pub mod rng;
pub mod stack;
pub mod summary;
