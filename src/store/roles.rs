//! Who may do what to the shared file, as types: a [`Producer`] accepts
//! payments (and purges), a [`Reader`] sums and counts, and only the
//! [`crate::store::leader::Leader`] changes slot states or the ledger.
//!
//! Both views here borrow a [`SharedFile`] and hand out no ring or ledger
//! view, so a front end that holds one cannot reach the leader's writes.
//! The compiler checks it:
//!
//! ```
//! # use rinha::config::Capacities;
//! # use rinha::domain::payment::Payment;
//! # use rinha::store::shared_file::SharedFile;
//! # let dir = std::env::temp_dir().join(format!("rinha-doc-ok-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let shared = SharedFile::open_or_create(&dir.join("f"), Capacities { ring_slots: 8, ledger_entries: 64 }).unwrap();
//! # let payment = Payment { correlation_id: uuid::Uuid::from_u128(1), amount_cents: 1990 };
//! let producer = shared.producer();
//! producer.accept(&payment).unwrap();
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! while the same producer changing a slot's state does not compile (it has
//! no such method, and no way to a ring):
//!
//! ```compile_fail
//! # use rinha::config::Capacities;
//! # use rinha::domain::payment::{Payment, Processor};
//! # use rinha::store::shared_file::SharedFile;
//! # let dir = std::env::temp_dir().join(format!("rinha-doc-no-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let shared = SharedFile::open_or_create(&dir.join("f"), Capacities { ring_slots: 8, ledger_entries: 64 }).unwrap();
//! # let payment = Payment { correlation_id: uuid::Uuid::from_u128(1), amount_cents: 1990 };
//! let producer = shared.producer();
//! producer.accept(&payment).unwrap();
//! producer.dispatch(0, Processor::Default, 1_752_000_000_000);
//! ```

use crate::domain::payment::Payment;
use crate::domain::summary::{Summary, Window};
use crate::store::ring::RingSnapshot;
use crate::store::shared_file::{AcceptError, SharedFile};

/// A front end's view: puts payments in the ring, and purges.
#[derive(Clone, Copy)]
pub struct Producer<'a> {
    shared: &'a SharedFile,
}

impl<'a> Producer<'a> {
    pub(in crate::store) fn new(shared: &'a SharedFile) -> Producer<'a> {
        Producer { shared }
    }

    /// Puts an accepted payment in the ring; once this returns `Ok`, the
    /// payment will be processed even if this process dies right after.
    pub fn accept(&self, payment: &Payment) -> Result<(), AcceptError> {
        self.shared.accept(payment)
    }

    /// Forgets every payment accepted so far: the summary restarts from zero
    /// and pending payments of older generations are discarded, not sent.
    pub fn purge(&self) {
        self.shared.purge();
    }
}

/// A view that only reads: the summary, and what `rinha stat` counts.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    shared: &'a SharedFile,
}

impl<'a> Reader<'a> {
    pub(in crate::store) fn new(shared: &'a SharedFile) -> Reader<'a> {
        Reader { shared }
    }

    /// What has been processed within `window` in the current generation.
    pub fn summary(&self, window: Window) -> Summary {
        self.shared.ledger_view().summarize(window)
    }

    /// What lies between the ring's head and tail (see [`RingSnapshot`]).
    pub fn snapshot(&self) -> RingSnapshot {
        self.shared.ring_view().snapshot()
    }

    /// Ledger entries committed or claimed.
    pub fn ledger_len(&self) -> u64 {
        self.shared.ledger_view().len() as u64
    }
}
