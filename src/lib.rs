//! # rinha — a payment intermediary built for p99
//!
//! Clients `POST /payments`; the backend forwards each payment to the cheap
//! *default* processor (5 % fee) or the dear *fallback* one (15 %), and
//! `GET /payments-summary` reports exactly what the processors recorded.
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
//!                      elected leader (flock) ── workers (ureq) ──┴─────────┘
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
//! - [`config`]: flags and their environment twins, one struct per subcommand.
//! - [`time`]: ISO-8601 UTC timestamps ⇔ milliseconds since the epoch.
//! - [`money`]: decimal amounts ⇔ integer cents, rounded like the processors.
//! - [`payment`]: the payment body extractor and the processor identities.
//! - [`summary`]: the summary's query window, totals and JSON.
//! - [`http`]: incremental HTTP/1.1 request parsing and response writing.
//! - [`shared_file`]: the memory-mapped file: layout, version, creation.
//! - [`ring`]: the cross-process ring of pending payments.
//! - [`ledger`]: the append-only record of processed payments.
//! - [`api`]: what each endpoint does with a parsed request.
//! - [`server`]: the mio event loop of `rinha api`.
//! - [`election`]: which process drains, and the hand-over when it dies.
//! - [`drainer`]: forwarding pending payments to the processors.
//! - [`router`]: which processor a payment goes to, and when it waits.
//! - [`processor_client`]: the drainer's HTTP calls to one processor.
//! - [`emulator`]: `rinha processor`, a faithful stand-in for the official one.
//! - [`local`]: `rinha local`, the whole stack on one machine.
//! - [`log`]: one stderr line per write, whole even when processes share a pipe.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod api;
pub mod config;
pub mod drainer;
pub mod election;
pub mod emulator;
pub mod http;
pub mod ledger;
pub mod local;
pub mod log;
pub mod money;
pub mod payment;
pub mod processor_client;
pub mod ring;
pub mod router;
pub mod server;
pub mod shared_file;
pub mod summary;
pub mod time;
