//! Programs that surround the backend rather than serve the contest:
//! an emulator of the official payment processor, the whole stack on one
//! machine for trying and benchmarking it, a read-only look at the
//! shared file, and a simulator of the drainer's routing on a virtual
//! clock.

pub mod emulator;
pub mod local;
pub mod sim;
pub mod stat;
