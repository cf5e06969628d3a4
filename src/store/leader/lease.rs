//! The leader's lease: the one header word that tells a live leader from a
//! frozen or dead one, and the epoch in it whose tag fences every write a
//! replaced leader could still attempt. [`Leader`](super::Leader) takes,
//! renews and checks it; this file holds the word's encoding, its timings,
//! and the reasoning behind both.
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
//!
//! [`Leader::hold`]: super::Leader::hold
//! [`Deposed`]: super::Deposed

use std::sync::atomic::{AtomicU64, Ordering};

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
pub(super) struct Lease {
    pub(super) epoch: u64,
    pub(super) deadline_ms: u64,
    pub(super) locked: bool,
}

impl Lease {
    pub(super) fn decode(word: u64) -> Lease {
        Lease {
            epoch: (word >> EPOCH_SHIFT) & EPOCH_MASK,
            deadline_ms: word & DEADLINE_MASK,
            locked: word & LOCKED != 0,
        }
    }

    pub(super) fn encode(self) -> u64 {
        let locked = if self.locked { LOCKED } else { 0 };
        locked | (self.epoch & EPOCH_MASK) << EPOCH_SHIFT | self.deadline_ms & DEADLINE_MASK
    }

    /// The next epoch (never 0, which means nobody ever led).
    pub(super) fn next_epoch(self) -> u64 {
        match (self.epoch + 1) & EPOCH_MASK {
            0 => 1,
            epoch => epoch,
        }
    }
}

impl SharedFile {
    /// The lease word (see the module docs).
    pub(super) fn lease_word(&self) -> &AtomicU64 {
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
