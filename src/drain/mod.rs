//! The leader's work: one process at a time, chosen by [`election`], drains
//! the ring to the processors.
//!
//! - [`election`]: who drains (a `flock`), and the hand-over when it dies.
//! - [`drainer`]: the event loop — ring in, requests out, answers settled.
//! - [`fate`]: the exactly-once state machine of one payment, pure.
//! - [`intake`]: the payments taken from the ring, and which need work.
//! - [`router`]: where each payment goes, by what it earns.
//! - [`pool`]: keep-alive connections, hundreds of requests out at once.
//! - [`wire`]: the bytes of those requests and their answers.
//! - [`pacer`]: a token bucket so a released backlog does not starve the
//!   HTTP loop of CPU.
//! - [`health`]: the health endpoint, polled within its shared limit.
//! - [`client`]: a blocking client for the health endpoint (ureq), and what
//!   each answer proves.

pub mod client;
pub mod drainer;
pub mod election;
pub mod fate;
pub mod health;
pub mod intake;
pub mod pacer;
pub mod pool;
pub mod router;
pub mod wire;
