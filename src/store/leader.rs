//! The leader: the one process that changes slot states and the ledger.
//!
//! A [`Leader`] is obtained only by winning the election ([`Leader::elect`]:
//! an exclusive `flock` on `<shared file>.leader`), and it owns that lock
//! and the cursor that walks the ring. It alone has the methods that move a
//! payment through its states, each one the write of the protocol below;
//! front ends hold a [`crate::store::Producer`] and `rinha stat` a
//! [`crate::store::Reader`], which have none of them.
//!
//! # The leader's writes, in order
//!
//! ```text
//!  step ──► dispatch (InFlight{processor, stamp}) ──► request out
//!              │                                  ├─► record: ledger entry, then Done
//!              │                                  ├─► discard: Done, no entry
//!              └──────────── put back (Pending) ◄─┘   (proven not stored)
//!  free: every Done slot from head on goes to the next lap
//! ```
//!
//! - A state is stored with Release and loaded with Acquire (in the ring's
//!   `peek`), so a successor that reads `Done` also sees the ledger entry
//!   `record` committed before it.
//! - `record` appends first and marks done second: a leader that dies in
//!   between leaves a payment that is in the ledger and not done, which
//!   its successor finds by ring position and marks done without paying.
//! - `dispatch` is stored before the request leaves: a successor that finds
//!   `InFlight` knows the payment may be at that processor, with that stamp,
//!   and resolves it there (a lookup first), never elsewhere.
//! - `free` resets a done slot's state to `Pending` before handing the slot
//!   to the next lap with a Release store that the next producer's Acquire
//!   reads (see `ring.rs`).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::domain::payment::Processor;
use crate::store::layout::RouteChoice;
use crate::store::ledger::{LedgerFull, Record};
use crate::store::ring::{Cursor, SlotState, Step};
use crate::store::shared_file::SharedFile;

/// The lock file that elects the leader, next to the shared file.
pub fn lock_path(shared_file: &Path) -> PathBuf {
    let mut name = shared_file.as_os_str().to_owned();
    name.push(".leader");
    PathBuf::from(name)
}

/// The process that drains the ring; see the module docs.
pub struct Leader {
    shared: Arc<SharedFile>,
    cursor: Cursor,
    /// The election's lock, held for as long as this value lives; `None`
    /// only in tests that play a leader on a file nobody else drains.
    _lock: Option<File>,
}

impl Leader {
    /// Blocks until this process holds the leader lock of the file at
    /// `path` (the kernel grants it to one process at a time and releases
    /// it when its holder exits, for any reason), then leads from the
    /// ring's head. `abandon_after` is how long a claimed position may stay
    /// unpublished before the cursor gives up on it.
    pub fn elect(
        shared: Arc<SharedFile>,
        path: &Path,
        abandon_after: Duration,
    ) -> io::Result<Leader> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(path))?;
        lock.lock()?;
        Ok(Leader::leading(shared, Some(lock), abandon_after))
    }

    /// Test support: a leader without the election, for a file that no
    /// other process drains.
    #[cfg(any(test, feature = "test-support"))]
    #[doc(hidden)]
    pub fn for_test(shared: Arc<SharedFile>, abandon_after: Duration) -> Leader {
        Leader::leading(shared, None, abandon_after)
    }

    fn leading(shared: Arc<SharedFile>, lock: Option<File>, abandon_after: Duration) -> Leader {
        let cursor = Cursor::new(shared.ring_view().head(), abandon_after);
        Leader {
            shared,
            cursor,
            _lock: lock,
        }
    }

    /// The shared file, for what is not the leader's alone (status words,
    /// the health windows, the generation).
    pub fn shared(&self) -> &Arc<SharedFile> {
        &self.shared
    }

    /// The next position the cursor will look at.
    pub fn position(&self) -> u64 {
        self.cursor.position()
    }

    /// Positions between the cursor and the tail: what waits to be read.
    pub fn waiting(&self) -> u64 {
        self.shared
            .ring_view()
            .tail()
            .saturating_sub(self.position())
    }

    /// The next published payment, if any (see [`Cursor::step`]).
    pub fn step(&mut self) -> Step {
        self.cursor.step(&self.shared.ring_view())
    }

    /// Records that the payment at `position` is being sent to `processor`
    /// stamped `requested_at_ms`: to be called before the request leaves.
    pub fn dispatch(&self, position: u64, processor: Processor, requested_at_ms: i64) {
        self.set_state(
            position,
            SlotState::InFlight {
                processor,
                requested_at_ms,
            },
        );
    }

    /// Puts the payment at `position` back to unsent: it was proven not
    /// stored, so any processor may take it.
    pub fn put_back(&self, position: u64) {
        self.set_state(position, SlotState::Pending);
    }

    /// Appends a payment a processor stored to the ledger, then marks it
    /// done; on `Err` nothing was written and it is not done.
    pub fn record(&self, record: &Record) -> Result<(), LedgerFull> {
        self.shared.ledger_view().append(record)?;
        self.set_state(record.ring_position, SlotState::Done);
        Ok(())
    }

    /// Marks the payment at `position` done without a ledger entry: it is
    /// never to be paid by us (purged, a duplicate id, already recorded).
    pub fn discard(&self, position: u64) {
        self.set_state(position, SlotState::Done);
    }

    /// Hands every done slot from the head up to the cursor to the next lap.
    pub fn free(&self) {
        self.shared.ring_view().free_done(self.cursor.position());
    }

    fn set_state(&self, position: u64, state: SlotState) {
        self.shared.ring_view().set_state(position, state);
    }

    /// Correlation ids the ledger holds in the current generation.
    pub fn paid_ids(&self) -> HashSet<Uuid> {
        self.shared.ledger_view().ids_of_current_generation()
    }

    /// Ring positions the ledger holds from the ring's head on.
    pub fn recorded_positions(&self) -> HashSet<u64> {
        let head = self.shared.ring_view().head();
        self.shared.ledger_view().positions_since(head)
    }

    /// Shows where payments go now, for `rinha stat`.
    pub fn show_route(&self, choice: RouteChoice) {
        self.shared.set_route_choice(choice);
    }

    /// Counts a payment `processor` refused with `status`, for `rinha stat`.
    pub fn count_rejection(&self, processor: Processor, status: u16) {
        self.shared.count_rejection(processor, status);
    }
}
