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
//!   to the next lap with a Release CAS that the next producer's Acquire
//!   reads (see `ring.rs`).
//!
//! # The lease, and fencing
//!
//! Why a leader also holds a lease in the shared file, when a candidate
//! takes over, how every write above is fenced by the leader's epoch so
//! that a replaced one writes nothing, and how long the lease lasts: see
//! `leader/lease.rs`.

use std::cell::Cell;
use std::collections::HashSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use uuid::Uuid;

use crate::domain::payment::Processor;
use crate::domain::time::now_millis;
use crate::store::layout::RouteChoice;
use crate::store::ledger::{AppendError, Record};
use crate::store::ring::{Cursor, Fenced, SlotState, Step};
use crate::store::shared_file::SharedFile;

mod lease;

use lease::Lease;
pub use lease::{LEASE_MS, POLL_MS, RENEW_EVERY_MS};

/// The writer was replaced by a newer leader: nothing was written, and it
/// must step down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deposed;

/// Why [`Leader::record`] did not record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// The ledger has no free entry; nothing was written.
    Full,
    /// Replaced: nothing was written.
    Deposed,
}

/// The lock file that elects the leader, next to the shared file.
pub fn lock_path(shared_file: &Path) -> PathBuf {
    let mut name = shared_file.as_os_str().to_owned();
    name.push(".leader");
    PathBuf::from(name)
}

fn now_ms() -> u64 {
    now_millis().max(0) as u64
}

/// The process that drains the ring; see the module docs.
pub struct Leader {
    shared: Arc<SharedFile>,
    cursor: Cursor,
    /// The election's lock file (`None` only in tests); held locked for
    /// as long as this value lives once `locked`.
    lock: Option<File>,
    /// Whether this leader holds the lock: it took over a frozen holder's
    /// lease without it, and tries for it at every renewal, so that its
    /// own death is then seen at once rather than when its lease lapses.
    locked: Cell<bool>,
    /// The lease word as this leader last wrote it.
    lease: Cell<u64>,
    /// Its epoch modulo 2^16: the tag its writes carry.
    tag: u64,
    renewed_at_ms: Cell<u64>,
    deposed: Cell<bool>,
    /// Fenced writes refused, and fenced writes that landed after a newer
    /// leader took over (read after each write).
    refused: Cell<u64>,
    late: Cell<u64>,
}

impl Leader {
    /// Stands for election on the file at `path` and blocks until this
    /// process leads (see `leader/lease.rs` for when a candidate takes
    /// over). `abandon_after` is how long a claimed position may stay
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
        let mut locked = false;
        loop {
            // Acquire pairs with the holder's Release renewal, so the
            // deadline read is one it wrote; a stale word only makes the
            // takeover CAS below fail, which decides.
            let word = shared.lease_word().load(Ordering::Acquire);
            let lease = Lease::decode(word);
            let now = now_ms();
            if word != 0 && !lease.locked && now <= lease.deadline_ms {
                // A live leader without the lock: leave the lock to it (it
                // tries at every renewal), so that its death is seen fast.
                if locked {
                    lock.unlock()?;
                    locked = false;
                }
                std::thread::sleep(Duration::from_millis(POLL_MS));
                continue;
            }
            if !locked {
                locked = match lock.try_lock() {
                    Ok(()) => true,
                    Err(TryLockError::WouldBlock) => false,
                    Err(TryLockError::Error(error)) => return Err(error),
                };
            }
            let free = word == 0 || (locked && lease.locked) || now > lease.deadline_ms;
            if free {
                let next = Lease {
                    epoch: lease.next_epoch(),
                    deadline_ms: now + LEASE_MS,
                    locked,
                };
                // AcqRel: Acquire sees the old leader's writes to the lease
                // (and, through its renewals, nothing else: the fencing CASes
                // carry their own orderings); Release publishes ours. Only
                // one candidate's CAS from `word` succeeds.
                let taken = shared.lease_word().compare_exchange(
                    word,
                    next.encode(),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
                if taken.is_ok() {
                    return Ok(Leader::take(shared, Some(lock), next, abandon_after));
                }
                continue;
            }
            std::thread::sleep(Duration::from_millis(POLL_MS));
        }
    }

    /// Test support: a leader of the next epoch without the election, for
    /// a file that no other process drains.
    #[cfg(any(test, feature = "test-support"))]
    #[doc(hidden)]
    pub fn for_test(shared: Arc<SharedFile>, abandon_after: Duration) -> Leader {
        let word = shared.lease_word().load(Ordering::Acquire);
        let next = Lease {
            epoch: Lease::decode(word).next_epoch(),
            deadline_ms: now_ms() + LEASE_MS,
            locked: false,
        };
        shared.lease_word().store(next.encode(), Ordering::Release);
        Leader::take(shared, None, next, abandon_after)
    }

    /// Fences the ring and the ledger with the new epoch's tag, then leads
    /// from the ring's head. A newer tag found while fencing means another
    /// leader took over meanwhile: this one starts deposed.
    fn take(
        shared: Arc<SharedFile>,
        lock: Option<File>,
        lease: Lease,
        abandon_after: Duration,
    ) -> Leader {
        let tag = lease.epoch & crate::store::ring::slot_fence::FENCE_MASK;
        let fenced = shared
            .ring_view()
            .fence_all(tag)
            .and_then(|()| shared.ledger_view().fence(tag));
        let cursor = Cursor::new(shared.ring_view().head(), abandon_after);
        Leader {
            shared,
            cursor,
            lock,
            locked: Cell::new(lease.locked),
            lease: Cell::new(lease.encode()),
            tag,
            renewed_at_ms: Cell::new(now_ms()),
            deposed: Cell::new(fenced.is_err()),
            refused: Cell::new(0),
            late: Cell::new(0),
        }
    }

    /// Checks that this leader still holds its lease, renewing it when due;
    /// false once it was replaced (then it must step down). One load per
    /// call, and a CAS every [`RENEW_EVERY_MS`].
    pub fn hold(&self) -> bool {
        if self.deposed.get() {
            return false;
        }
        let word = self.lease.get();
        // Relaxed: only the value matters; a stale one makes the CAS below
        // fail, or is caught at the next call.
        if self.shared.lease_word().load(Ordering::Relaxed) != word {
            self.deposed.set(true);
            return false;
        }
        let now = now_ms();
        if now.saturating_sub(self.renewed_at_ms.get()) < RENEW_EVERY_MS {
            return true;
        }
        if !self.locked.get()
            && let Some(lock) = &self.lock
        {
            self.locked.set(lock.try_lock().is_ok());
        }
        let renewed = Lease {
            deadline_ms: now + LEASE_MS,
            locked: self.locked.get(),
            ..Lease::decode(word)
        }
        .encode();
        // Relaxed: the word publishes nothing but itself; the CAS fails if
        // a candidate took over since the load.
        match self.shared.lease_word().compare_exchange(
            word,
            renewed,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                self.lease.set(renewed);
                self.renewed_at_ms.set(now);
                true
            }
            Err(_) => {
                self.deposed.set(true);
                false
            }
        }
    }

    /// Whether a fenced write found this leader replaced.
    pub fn deposed(&self) -> bool {
        self.deposed.get()
    }

    /// This leader's epoch.
    pub fn epoch(&self) -> u64 {
        Lease::decode(self.lease.get()).epoch
    }

    /// Fenced writes refused so far, and fenced writes that landed after a
    /// newer leader took over (zero unless this leader was frozen in the
    /// instant between a write's check and its CAS).
    pub fn fencing(&self) -> (u64, u64) {
        (self.refused.get(), self.late.get())
    }

    /// Counts a fenced write's outcome.
    fn fenced<T>(&self, result: Result<T, Fenced>) -> Result<T, Deposed> {
        match result {
            Ok(value) => {
                // SeqCst: ordered after the write's CAS in the single total
                // order, so a newer leader's takeover CAS that preceded the
                // write is seen here. (A plain load on x86.)
                if self.shared.lease_word().load(Ordering::SeqCst) != self.lease.get() {
                    self.late.set(self.late.get() + 1);
                    self.deposed.set(true);
                }
                Ok(value)
            }
            Err(Fenced) => {
                self.refused.set(self.refused.get() + 1);
                self.deposed.set(true);
                Err(Deposed)
            }
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
    /// stamped `requested_at_ms`: to be called before the request leaves,
    /// which must not leave on `Err`.
    pub fn dispatch(
        &self,
        position: u64,
        processor: Processor,
        requested_at_ms: i64,
    ) -> Result<(), Deposed> {
        self.set_state(
            position,
            SlotState::InFlight {
                processor,
                requested_at_ms,
            },
        )
    }

    /// Puts the payment at `position` back to unsent: it was proven not
    /// stored, so any processor may take it.
    pub fn put_back(&self, position: u64) -> Result<(), Deposed> {
        self.set_state(position, SlotState::Pending)
    }

    /// Appends a payment a processor stored to the ledger, then marks it
    /// done; on `Err` it is not done, and nothing was written unless the
    /// error is `Deposed` after the entry (then the entry stands, and the
    /// successor finds it by ring position).
    pub fn record(&self, record: &Record) -> Result<(), RecordError> {
        let appended = match self.shared.ledger_view().append_fenced(record, self.tag) {
            Ok(()) => Ok(()),
            Err(AppendError::Full) => return Err(RecordError::Full),
            Err(AppendError::Fenced) => Err(Fenced),
        };
        self.fenced(appended)
            .map_err(|Deposed| RecordError::Deposed)?;
        self.set_state(record.ring_position, SlotState::Done)
            .map_err(|Deposed| RecordError::Deposed)
    }

    /// Marks the payment at `position` done without a ledger entry: it is
    /// never to be paid by us (purged, a duplicate id, already recorded).
    pub fn discard(&self, position: u64) -> Result<(), Deposed> {
        self.set_state(position, SlotState::Done)
    }

    /// Hands every done slot from the head up to the cursor to the next lap.
    pub fn free(&self) -> Result<(), Deposed> {
        let ring = self.shared.ring_view();
        let before = ring.head();
        match ring.free_done_as(self.cursor.position(), Some(self.tag)) {
            // Only a free that moved the head wrote anything to check.
            Ok(head) if head > before => self.fenced(Ok(())),
            Ok(_) => Ok(()),
            Err((_, fenced)) => self.fenced(Err(fenced)),
        }
    }

    fn set_state(&self, position: u64, state: SlotState) -> Result<(), Deposed> {
        let written = self
            .shared
            .ring_view()
            .set_state_fenced(position, state, self.tag);
        self.fenced(written)
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
