//! The cross-process ring of accepted payments waiting to be processed.
//!
//! # Algorithm
//!
//! Dmitry Vyukov's bounded MPMC queue ("Bounded MPMC queue", 1024cores.net;
//! the same design as crossbeam's `ArrayQueue`), adapted in four ways:
//!
//! 1. **It lives in shared memory.** Producers are the API processes, the
//!    consumer is whichever process leads; every field is an atomic in the
//!    mapped file, addressed by position modulo the capacity.
//! 2. **Consuming is not freeing.** The leader reads a slot when it
//!    dispatches the payment, but the slot keeps the payment and its
//!    dispatch [`SlotState`] until it is `Done`, so a leader that dies with
//!    payments in flight leaves everything its successor needs to finish
//!    them. Only then does `head` pass the slot and hand it to the next lap.
//!    The state word belongs to the leader alone: it resets it to `Pending`
//!    before freeing the slot, and producers never store to it.
//! 3. **A claim is owned before it is written.** After winning its position
//!    on `tail` (Vyukov's enqueue), a producer CASes the slot's sequence
//!    word from *free* to *owned by me* (its producer id, see
//!    [`crate::store::producers`]), and only then writes the payload; it
//!    publishes with a CAS from *owned by me* to *published*. A producer
//!    killed between claiming and publishing would otherwise wedge the
//!    consumer forever, so after a bounded wait the leader *abandons* the
//!    position (below), and a producer that was merely slow then fails its
//!    publishing CAS, knows its payment was not taken, and pushes again:
//!    nothing acknowledged is ever lost.
//! 4. **An abandoned slot is not reused while its owner may still write.**
//!    Abandoning an *unowned* claim (the producer stopped between `tail`
//!    and the owning CAS), or one whose owner's lock is free (it is dead),
//!    frees the slot for the next lap at once: nobody can store into it any
//!    more. Abandoning a claim whose owner is alive *poisons* the slot: the
//!    position counts as settled (the leader and `head` move past it), but
//!    the slot is not free, so the next lap cannot claim it (producers see
//!    it as full) and a late payload store can only land in a slot nobody
//!    else uses. The poison is cleared, making the slot free for the next
//!    lap, by the first of: the owner itself, when its publishing CAS fails
//!    (its stores are over by then); the leader's cursor, which re-checks
//!    poisoned slots every `abandon_after` and clears those whose owner's
//!    lock the kernel has released; or the next process to take the same
//!    producer id, which clears every slot still tagged with it.
//!
//!    The price: positions are claimed in order, so when the tail comes
//!    round to a poisoned slot the ring is full there. A producer stalled
//!    while a whole lap is claimed (65 536 payments with the default ring,
//!    two minutes at the contest's peak; a handful on a tiny test ring)
//!    makes every instance answer 503 until it resumes or dies (then the
//!    kernel frees its lock and the leader's next sweep, within
//!    `abandon_after`, frees its slot). Like a frozen leader, a frozen
//!    producer pauses acceptance rather than risk money.
//!
//! # Slot sequence word
//!
//! `seq = lap << 10 | tag`, where `lap` is a position-like counter and
//! `tag` is 0, `OWNED | id` or `POISONED | id` (`id` in bits 0–7). For the
//! position `pos` whose slot is `pos % capacity`:
//!
//! | `lap`            | `tag`          | meaning                                          |
//! |------------------|----------------|--------------------------------------------------|
//! | `pos`            | 0              | free for `pos` (or claimed on `tail`, not owned)  |
//! | `pos`            | `OWNED \| id`   | claimed by producer `id`, payload being written  |
//! | `pos`            | `POISONED \| id`| abandoned; `id` may still write: not reusable    |
//! | `pos + 1`        | 0              | published: the payment at `pos` is in the slot   |
//! | `pos + capacity` | 0 or more      | freed (done or abandoned): the next lap's        |
//!
//! `lap` only grows (2^54 positions: centuries at any rate), so no CAS can
//! mistake a later lap for an earlier one (no ABA). A capacity of at least 2
//! keeps `pos + 1` (published) apart from `pos + capacity` (freed).
//!
//! # Orderings
//!
//! - Publication: the producer writes the payload (Relaxed), then CASes
//!   `seq` to published with Release; the leader loads `seq` with Acquire,
//!   so it sees the payload.
//! - Freeing, in all its forms (the leader's `free_done` and `abandon`, the
//!   owner clearing its own poison, the cursor or a new id holder clearing
//!   a dead owner's), is a Release store or CAS of the next lap's free
//!   value; the next producer's Acquire load in `claim` reads it, so
//!   everything done to the slot before (the leader's reads and its reset
//!   of the state word, the stale owner's last payload stores) happens
//!   before that producer's writes. A dead owner's stores precede the
//!   kernel releasing its lock, which precedes our observing it free.
//! - Owning is a CAS with Acquire (it reads the same freeing store the
//!   claim's load did); poisoning needs no ordering for data (it publishes
//!   nothing) and uses Release only so every freeing-like store is alike.
//! - `tail` only hands out unique positions (a CAS, Relaxed): nothing is
//!   published through it. `head` is written by the leader alone.
//! - Dispatch states are stored with Release and loaded with Acquire so a
//!   new leader's scan sees the ledger entry written before a `Done`.

use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

use crate::domain::payment::Payment;
use crate::domain::time::now_millis;
use crate::store::producers::Liveness;

mod abandon;
mod cursor;
mod heap;
mod slot;
mod snapshot;
mod states;
#[cfg(any(test, feature = "test-support"))]
mod test_support;
#[cfg(test)]
mod tests;

pub use cursor::{Cursor, Step};
pub use heap::HeapRing;
use slot::{OWNED, POISONED, seq_word, split};
pub use slot::{Slot, SlotState};
/// The fencing tag's helpers, for the ledger's fenced counter.
pub(in crate::store) mod slot_fence {
    pub(in crate::store) use super::slot::{FENCE_MASK, newer};
}
pub use snapshot::RingSnapshot;

/// A fenced write was refused: the word carries a newer leader's tag, so
/// the writer has been replaced and wrote nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fenced;

/// Why a push did not take the payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// Every slot holds a payment that is not done yet (or is poisoned).
    Full,
}

/// A published payment as the leader reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Its position in the ring.
    pub position: u64,
    /// What the client sent.
    pub payment: Payment,
    /// The purge generation it was accepted in.
    pub generation: u64,
    /// Its dispatch state; `None` if the word in the file is not a state.
    pub state: Option<SlotState>,
}

/// What the leader finds at a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peek {
    /// Nobody has claimed the position yet.
    Empty,
    /// A producer claimed it and has not published yet (or died doing so).
    Claimed,
    /// A payment is there.
    Published(Pending),
    /// The position was abandoned (its slot freed for the next lap, or
    /// poisoned until its producer gives it up): nothing will come of it.
    Abandoned,
}

/// How many times a producer whose claim was abandoned pushes again before
/// reporting the ring as full. Each retry needs the leader to have waited
/// out a full abandon timeout, so two cannot happen in a healthy system.
const PUSH_ATTEMPTS: usize = 3;

/// The producer id of a view that only reads (`rinha stat`'s): it holds no
/// producer lock, and never claims a slot.
pub const READER: u8 = 0;

/// A view of the ring in a [`crate::store::shared_file::SharedFile`] (or in
/// a [`HeapRing`]), as producer `producer`.
#[derive(Clone, Copy)]
pub struct Ring<'a> {
    slots: &'a [Slot],
    tail: &'a AtomicU64,
    head: &'a AtomicU64,
    mask: u64,
    /// Our producer id (1–255), written into the slots we claim; 0 for a
    /// view that only reads ([`READER`]).
    producer: u8,
    /// Tells whether another producer could still store into a slot.
    liveness: &'a dyn Liveness,
}

impl<'a> Ring<'a> {
    /// Wraps the slots and the two counters; `slots.len()` is a power of
    /// two, at least 2. `producer` is this handle's id, or [`READER`] for
    /// a view that never pushes.
    pub fn new(
        slots: &'a [Slot],
        tail: &'a AtomicU64,
        head: &'a AtomicU64,
        producer: u8,
        liveness: &'a dyn Liveness,
    ) -> Ring<'a> {
        debug_assert!(slots.len().is_power_of_two() && slots.len() >= 2);
        Ring {
            slots,
            tail,
            head,
            mask: slots.len() as u64 - 1,
            producer,
            liveness,
        }
    }

    /// The number of slots.
    pub fn capacity(&self) -> u64 {
        self.mask + 1
    }

    /// The slot of `position`; always in bounds, whatever the position.
    fn slot(&self, position: u64) -> &'a Slot {
        &self.slots[(position & self.mask) as usize]
    }

    /// Sets every slot free for lap 0. Only for a file nobody else uses yet.
    pub fn initialise(&self) {
        for (index, slot) in self.slots.iter().enumerate() {
            slot.seq.store(seq_word(index as u64, 0), Ordering::Relaxed);
            slot.state
                .store(SlotState::Pending.encode(), Ordering::Relaxed);
        }
        self.tail.store(0, Ordering::Relaxed);
        self.head.store(0, Ordering::Relaxed);
    }

    /// Enqueues a payment; returns its position.
    pub fn push(&self, payment: &Payment, generation: u64) -> Result<u64, PushError> {
        debug_assert!(self.producer != READER, "a reading view never pushes");
        self.push_pausing(payment, generation, |_| {})
    }

    /// [`Ring::push`] that calls `pause` between owning a slot and writing
    /// it: the window a stalled producer leaves open. Only the
    /// `test-support` hook passes anything but a no-op.
    pub(crate) fn push_pausing(
        &self,
        payment: &Payment,
        generation: u64,
        pause: impl Fn(u64),
    ) -> Result<u64, PushError> {
        for _ in 0..PUSH_ATTEMPTS {
            let position = self.claim_and_own()?;
            pause(position);
            self.write(position, payment, generation);
            if self.publish(position) {
                return Ok(position);
            }
        }
        Err(PushError::Full)
    }

    /// Claims a position on `tail`, then owns its slot; if the leader
    /// abandoned the position in between, claims another.
    fn claim_and_own(&self) -> Result<u64, PushError> {
        loop {
            let position = self.claim_position()?;
            if self.own(position) {
                return Ok(position);
            }
        }
    }

    /// Vyukov's enqueue loop: wins a unique position whose slot is free.
    fn claim_position(&self) -> Result<u64, PushError> {
        let mut position = self.tail.load(Ordering::Relaxed);
        loop {
            // Acquire pairs with the Release that freed this slot (see the
            // module docs), so all earlier use of it happens before ours.
            let (lap, tag) = split(self.slot(position).seq.load(Ordering::Acquire));
            match lap.wrapping_sub(position) as i64 {
                0 if tag == 0 => match self.tail.compare_exchange_weak(
                    position,
                    position + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(position),
                    Err(current) => position = current,
                },
                // An older lap not freed yet, or poisoned: full here.
                lag if lag < 0 => return Err(PushError::Full),
                // Taken by another producer already: the tail has moved.
                _ => position = self.tail.load(Ordering::Relaxed),
            }
        }
    }

    /// Tags the claimed slot with our id; false if the leader abandoned the
    /// position first (then we never touched the slot).
    fn own(&self, position: u64) -> bool {
        // Acquire: reads the same freeing store as `claim_position`'s load.
        self.slot(position)
            .seq
            .compare_exchange(
                seq_word(position, 0),
                seq_word(position, OWNED | u64::from(self.producer)),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    fn write(&self, position: u64, payment: &Payment, generation: u64) {
        let slot = self.slot(position);
        let id = payment.correlation_id.as_u128();
        // Relaxed: published by the Release CAS in `publish`, or, if we were
        // abandoned, ordered before the next lap by our Release clearing.
        slot.id_high.store((id >> 64) as u64, Ordering::Relaxed);
        slot.id_low.store(id as u64, Ordering::Relaxed);
        slot.amount_cents
            .store(payment.amount_cents, Ordering::Relaxed);
        slot.generation.store(generation, Ordering::Relaxed);
        // A vDSO clock read (tens of ns), the request path's only one.
        slot.accepted_at_ms
            .store(now_millis().max(0) as u64, Ordering::Relaxed);
    }

    /// Makes the payload visible; false if the leader abandoned the claim,
    /// in which case our stores are over and we free the slot ourselves.
    fn publish(&self, position: u64) -> bool {
        let slot = self.slot(position);
        let owned = seq_word(position, OWNED | u64::from(self.producer));
        // Release: the payload stores above happen-before the leader's
        // Acquire load that sees the published word. Failure Relaxed: the
        // only value it can read is our poisoned word, which carries no data.
        match slot.seq.compare_exchange(
            owned,
            seq_word(position + 1, 0),
            Ordering::Release,
            Ordering::Relaxed,
        ) {
            Ok(_) => true,
            Err(_) => {
                let poisoned = seq_word(position, POISONED | u64::from(self.producer));
                // Release pairs with the next lap's Acquire in
                // `claim_position`: our late payload stores come first.
                // Failing means someone freed it already (we were presumed
                // dead), which is as good.
                let _ = slot.seq.compare_exchange(
                    poisoned,
                    seq_word(position + self.capacity(), 0),
                    Ordering::Release,
                    Ordering::Relaxed,
                );
                false
            }
        }
    }

    /// The next position a producer will claim.
    pub fn tail(&self) -> u64 {
        self.tail.load(Ordering::Relaxed)
    }

    /// The first position not yet freed.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Relaxed)
    }

    /// What is at `position`, without changing anything.
    pub fn peek(&self, position: u64) -> Peek {
        let slot = self.slot(position);
        // Acquire pairs with the producer's Release in `publish`.
        let (lap, tag) = split(slot.seq.load(Ordering::Acquire));
        match lap.wrapping_sub(position) as i64 {
            1 if tag == 0 => Peek::Published(self.read(position)),
            0 if tag & POISONED != 0 => Peek::Abandoned,
            offset if offset >= self.capacity() as i64 => Peek::Abandoned,
            // Free or owned for `position`, or an older lap still in the
            // slot (seen just before a producer claimed it): the tail tells.
            _ if self.tail() > position => Peek::Claimed,
            _ => Peek::Empty,
        }
    }

    fn read(&self, position: u64) -> Pending {
        let slot = self.slot(position);
        let id = (u128::from(slot.id_high.load(Ordering::Relaxed)) << 64)
            | u128::from(slot.id_low.load(Ordering::Relaxed));
        Pending {
            position,
            payment: Payment {
                correlation_id: Uuid::from_u128(id),
                amount_cents: slot.amount_cents.load(Ordering::Relaxed),
            },
            generation: slot.generation.load(Ordering::Relaxed),
            // Acquire pairs with `set_state`'s Release.
            state: SlotState::decode(slot.state.load(Ordering::Acquire)),
        }
    }
}
