//! The leader's work: one process at a time, chosen by [`election`], drains
//! the ring to the processors ([`drainer`]), choosing where each payment
//! goes ([`router`]) and talking HTTP to each processor ([`client`]).

pub mod client;
pub mod drainer;
pub mod election;
pub mod fate;
pub mod pacer;
pub mod router;
pub mod wire;
