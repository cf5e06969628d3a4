//! The memory-mapped file that every instance shares: a header, a ring of
//! accepted payments waiting to be drained, and a ledger of the payments the
//! processors stored. API instances push into the ring and scan the ledger;
//! the elected drainer consumes the ring and appends to the ledger.
//! The file's bytes and version are drawn in [`layout`]; [`shared_file`]
//! creates, validates and hands out views of it; the proof of every ordering
//! lives next to it in [`shared_file`], [`ring`] and [`ledger`];
//! [`producers`] says which producer may still write into the ring. The
//! crate's only `unsafe` (viewing the mapped bytes as atomics) is in the
//! private `mapping` module, with its invariant written down.
//! `test_support` (tests and benches only) makes throwaway stores.

pub mod layout;
pub mod ledger;
// The crate denies `unsafe_code` everywhere else.
#[allow(unsafe_code)]
mod mapping;
pub mod producers;
pub mod ring;
pub mod shared_file;
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod test_support;
