//! The memory-mapped file that every instance shares: a header, a ring of
//! accepted payments waiting to be drained, and a ledger of the payments the
//! processors stored. API instances push into the ring and scan the ledger;
//! the elected drainer consumes the ring and appends to the ledger.
//! The file's bytes and version are drawn in [`layout`]; [`shared_file`]
//! creates and validates it. Who may do what is a type: a [`Producer`]
//! accepts, a [`Reader`] reads, and only the [`Leader`] ([`leader`], won by
//! election) changes slot states or the ledger; its writes and their
//! orderings are in [`leader`], the ring's and the ledger's in [`ring`] and
//! [`ledger`];
//! [`producers`] says which producer may still write into the ring. The
//! crate's only `unsafe` (viewing the mapped bytes as atomics) is in the
//! private `mapping` module, with its invariant written down.
//! `test_support` (tests and benches only) makes throwaway stores.

pub mod layout;
pub mod leader;
pub mod ledger;
// The crate denies `unsafe_code` everywhere else.
#[allow(unsafe_code)]
mod mapping;
pub mod producers;
pub mod ring;
pub mod roles;
pub mod shared_file;
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod test_support;

pub use leader::Leader;
pub use roles::{Producer, Reader};
