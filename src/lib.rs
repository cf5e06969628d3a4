//! # rinha — a payment intermediary built for p99
//!
//! Clients `POST /payments`; the backend forwards each payment to the cheap
//! *default* processor or the dear *fallback* one (5 % / 15 % in the
//! contest's preview, 7 % / 10 % in its final), choosing by what each earns,
//! and `GET /payments-summary` reports exactly what the processors recorded.
//!
//! ## Design
//!
//! ```text
//!   clients ──► HAProxy :9999 ──unix──► rinha api #1 ─┐   push (lock-free)
//!                         └─────unix──► rinha api #2 ─┤──────────────────┐
//!                                                     │                  ▼
//!                                                     │    ┌─ shared file (mmap) ─────┐
//!              GET /payments-summary  ◄── scan ───────┘    │ header │ ring │ ledger   │
//!                                                          └──────────────────────────┘
//!                                                                 │ drain   ▲ record
//!               elected leader (flock + lease) ─ event loop (mio) ┴─────────┘
//!                                                   │
//!                           payment-processor-default / -fallback
//! ```
//!
//! The request path never waits on a processor: an accepted payment is a
//! 64-byte record pushed into a ring in a memory-mapped file shared by every
//! instance, and the response is written as soon as the push succeeds. One
//! process at a time — whichever holds an advisory lock — drains the ring to
//! the processors and appends each success to a ledger in the same file, so
//! any instance answers the summary by scanning it.
//!
//! ## Layout
//!
//! One folder per layer, listed from the bottom up: a module imports only
//! from layers listed before its own (never from one listed after it), and
//! [`config`], [`log`] and [`json`] are leaves every layer may use.
//!
//! - [`domain`]: payments, money in cents, timestamps, summary windows — the
//!   contest's vocabulary, with no I/O.
//! - [`http`]: incremental HTTP/1.1 parsing, response writing and the mio
//!   event loop; knows nothing of payments.
//! - [`store`]: the memory-mapped file every instance shares — its layout,
//!   the ring of pending payments and the ledger of processed ones, and
//!   who may do what to them, as types (producer, reader, leader).
//! - [`api`]: what each endpoint does with a parsed request, against the store.
//! - [`drain`]: the elected leader's work — election, routing, forwarding
//!   payments to the processors and recording what they stored.
//! - [`tools`]: `rinha processor` (an emulator of the official processor),
//!   `rinha local` (the whole stack on one machine), `rinha stat` (what
//!   the shared file holds, read-only) and `rinha sim` (the drainer's
//!   routing on a virtual clock, over one timeline or a population).
//! - [`cli`]: the subcommands' wiring: flags in, layers connected, run.
//! - [`config`]: flags and their environment twins, one struct per subcommand.
//! - [`log`]: one stderr line per write, whole even when processes share a pipe.
//! - [`json`]: the one JSON scanner — a validating visitor over an object's
//!   top-level fields, for every body the crate reads.

#![deny(
    unsafe_code,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]
#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod config;
pub mod domain;
pub mod drain;
pub mod http;
pub mod json;
pub mod log;
pub mod store;
pub mod tools;
