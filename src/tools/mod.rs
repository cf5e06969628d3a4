//! Programs that surround the backend rather than serve the contest:
//! an emulator of the official payment processor, and the whole stack on
//! one machine for trying and benchmarking it.

pub mod emulator;
pub mod local;
