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
//! The `flock` alone cannot tell a dead leader from a frozen one (SIGSTOP,
//! a paused container, a VM stall): the kernel keeps a frozen process's
//! lock, and draining would stop until it wakes. So the leader also holds a
//! *lease*: one header word, `lock bit (63) | epoch (44–62) | deadline in ms
//! since the epoch (0–43)`, which it renews ([`Leader::hold`], every
//! [`RENEW_EVERY_MS`]) with a CAS that keeps its epoch. A candidate takes
//! over, with a CAS to the next epoch, when
//!
//! - the word is 0 (nobody ever led), or
//! - it holds the `flock` and the lease's lock bit is set: the holder held
//!   the lock, and the kernel gave it to us, so the holder is gone (the
//!   fast path for a dead leader: one poll, [`POLL_MS`]), or
//! - the deadline has passed ([`LEASE_MS`]): the holder is frozen or dead.
//!
//! A leader that took over without the lock (its holder was frozen) tries
//! for it at every renewal and sets the lock bit once it has it, and
//! candidates leave the lock alone while such a lease is live, so that its
//! death is again seen within a poll rather than a lease.
//!
//! A frozen leader that wakes must then write nothing, even in the middle
//! of a turn, with requests out whose answers arrive as it wakes. Every
//! write it makes to the ring's states and the ledger is *fenced* by its
//! epoch (modulo 2^16, its *tag*), in the very word it writes:
//!
//! - A slot's state word carries the tag of the leader that wrote it, and
//!   a leader changes it only with a CAS from a word carrying *its own*
//!   tag. On taking over, a new leader first tags every slot of the ring
//!   (a CAS per slot, keeping the state; microseconds for the whole ring)
//!   *before* reading any: from then on, every CAS of the old leader fails.
//!   A write the old one made before the slot was tagged is read by that
//!   tagging CAS (AcqRel, pairing with the write's Release), so the new
//!   leader acts on it: a payment the old one dispatched is `InFlight`, an
//!   unknown outcome resolved at the same processor, lookup first.
//! - Freeing a slot resets its state with the same fenced CAS, then frees
//!   `seq` with a CAS from *published for this position* (never a plain
//!   store, which could undo a later lap), and `head` moves by `fetch_max`.
//! - The ledger's `reserved` counter carries the tag of the leader that may
//!   claim entries; an index is claimed by a CAS that checks it, and an
//!   entry is committed by a CAS of its `meta` from 0. On taking over, the
//!   new leader tags the counter, then voids every claimed entry that is
//!   not committed (a CAS from 0 to VOID): an old leader frozen between
//!   claiming and committing can no longer commit.
//!
//! So a replaced leader's record, free, put back or dispatch fails before
//! any request leaves ([`Deposed`]), and it steps down: answers that reach
//! it are never recorded by it; its successor resolves those payments by
//! lookup. It counts the writes refused, and any that landed after it was
//! replaced (checked after each write), and the drainer logs both.
//!
//! Only slot states, `seq` frees, `head` and the ledger are fenced. The
//! cursor abandoning a claim that stayed unpublished is not: whichever
//! leader does it, the producer pushes again. Status words (route,
//! rejections, leader pid) are for humans.
//!
//! # Choosing the lease
//!
//! Too short, and a busy or CPU-throttled leader looks frozen: the compose
//! file gives each api 0.5 CPU with CFS's 100 ms period, so a throttled
//! leader can be stopped for up to ~50 ms at a time, and the drainer's loop
//! renews every turn (a turn is at most a few ms). Too long, and a frozen
//! leader stops payments for that long. [`LEASE_MS`] = 1 s is twenty
//! throttled periods: nothing but a real stall lets it lapse, and it costs
//! at most a second of draining (payments wait in the ring meanwhile).
//! Measured on the preview load (`bench/run.sh --limits`, 550 VUs, cgroup
//! v1 sized like the compose file): 0 of ~600 periods throttled per api,
//! so today's leader is far from even one throttled period per renewal.

use std::cell::Cell;
use std::collections::HashSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use uuid::Uuid;

use crate::domain::payment::Processor;
use crate::domain::time::now_millis;
use crate::store::layout::RouteChoice;
use crate::store::ledger::{AppendError, Record};
use crate::store::ring::{Cursor, Fenced, SlotState, Step};
use crate::store::shared_file::SharedFile;

/// How long a lease lasts unrenewed; see the module docs for the choice.
pub const LEASE_MS: u64 = 1000;

/// How often the leader renews: four times a lease.
pub const RENEW_EVERY_MS: u64 = LEASE_MS / 4;

/// How often a candidate looks at the lock and the lease.
pub const POLL_MS: u64 = 10;

const LOCKED: u64 = 1 << 63;
const EPOCH_SHIFT: u32 = 44;
const EPOCH_MASK: u64 = (1 << 19) - 1;
const DEADLINE_MASK: u64 = (1 << EPOCH_SHIFT) - 1;

/// The lease word's three parts (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lease {
    epoch: u64,
    deadline_ms: u64,
    locked: bool,
}

impl Lease {
    fn decode(word: u64) -> Lease {
        Lease {
            epoch: (word >> EPOCH_SHIFT) & EPOCH_MASK,
            deadline_ms: word & DEADLINE_MASK,
            locked: word & LOCKED != 0,
        }
    }

    fn encode(self) -> u64 {
        let locked = if self.locked { LOCKED } else { 0 };
        locked | (self.epoch & EPOCH_MASK) << EPOCH_SHIFT | self.deadline_ms & DEADLINE_MASK
    }

    /// The next epoch (never 0, which means nobody ever led).
    fn next_epoch(self) -> u64 {
        match (self.epoch + 1) & EPOCH_MASK {
            0 => 1,
            epoch => epoch,
        }
    }
}

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
    /// process leads (see the module docs for when a candidate takes
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

impl SharedFile {
    /// The lease word (see `store/leader.rs`).
    fn lease_word(&self) -> &AtomicU64 {
        &self.header().lease.0
    }

    /// The current lease: its epoch, and its deadline in ms since the
    /// epoch; `None` if nobody ever led. For `rinha stat` and tests.
    pub fn lease(&self) -> Option<(u64, u64)> {
        // Relaxed: a status value.
        let word = self.lease_word().load(Ordering::Relaxed);
        let lease = Lease::decode(word);
        (word != 0).then_some((lease.epoch, lease.deadline_ms))
    }
}
