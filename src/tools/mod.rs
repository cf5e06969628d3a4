//! Programs that surround the backend rather than serve the contest:
//! an emulator of the official payment processor, the whole stack on one
//! machine for trying and benchmarking it, and a read-only look at the
//! shared file.

pub mod emulator;
pub mod local;
pub mod stat;
