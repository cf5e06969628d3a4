//! The contest's vocabulary, free of I/O: what a payment is, how money and
//! time are written, and what a summary counts. Every other layer speaks it.

pub mod money;
pub mod payment;
pub mod summary;
pub mod time;
