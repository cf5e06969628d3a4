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
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::domain::payment::{Payment, Processor};
use crate::store::producers::Liveness;
use crate::store::shared_file::Line;

/// One ring slot: a 64-byte line of atomics.
#[repr(C, align(64))]
pub struct Slot {
    /// See the table in the module docs.
    seq: AtomicU64,
    /// The dispatch state, encoded by [`SlotState::encode`]; leader only.
    state: AtomicU64,
    /// The correlation id, big-endian halves of the UUID's 16 bytes.
    id_high: AtomicU64,
    id_low: AtomicU64,
    /// The amount in cents (≤ `money::MAX_CENTS`).
    amount_cents: AtomicU64,
    /// The purge generation the payment was accepted in.
    generation: AtomicU64,
    _reserved: [AtomicU64; 2],
}

impl Slot {
    /// A slot of zeros (free for position 0 once [`Ring::initialise`]d).
    fn zeroed() -> Slot {
        Slot {
            seq: AtomicU64::new(0),
            state: AtomicU64::new(0),
            id_high: AtomicU64::new(0),
            id_low: AtomicU64::new(0),
            amount_cents: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            _reserved: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }
}

/// Where a published payment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Never sent, or sent and definitely refused: any processor may take it.
    Pending,
    /// Sent to `processor` stamped `requested_at_ms`, outcome not yet known:
    /// it may only ever be resolved at that processor, with that stamp.
    InFlight {
        /// Where the payment was sent.
        processor: Processor,
        /// The `requestedAt` it was sent with, in ms since the epoch.
        requested_at_ms: i64,
    },
    /// Recorded in the ledger, or discarded (purged, duplicate, rejected).
    Done,
}

const KIND_MASK: u64 = 0b11;
const KIND_PENDING: u64 = 0;
const KIND_IN_FLIGHT: u64 = 1;
const KIND_DONE: u64 = 2;
const PROCESSOR_BIT: u64 = 1 << 2;
const STAMP_SHIFT: u32 = 8;

impl SlotState {
    /// Packs the state in one word so that it changes atomically: kind in
    /// bits 0–1, processor in bit 2, `requested_at_ms` (non-negative, < 2^56)
    /// in bits 8–63.
    pub fn encode(self) -> u64 {
        match self {
            SlotState::Pending => KIND_PENDING,
            SlotState::Done => KIND_DONE,
            SlotState::InFlight {
                processor,
                requested_at_ms,
            } => {
                debug_assert!((0..1 << 56).contains(&requested_at_ms));
                let processor_bit = match processor {
                    Processor::Default => 0,
                    Processor::Fallback => PROCESSOR_BIT,
                };
                KIND_IN_FLIGHT | processor_bit | (requested_at_ms as u64) << STAMP_SHIFT
            }
        }
    }

    /// Unpacks a word read from the file; `None` if no state encodes to it.
    pub fn decode(word: u64) -> Option<SlotState> {
        match word & KIND_MASK {
            KIND_PENDING if word == KIND_PENDING => Some(SlotState::Pending),
            KIND_DONE if word == KIND_DONE => Some(SlotState::Done),
            KIND_IN_FLIGHT => Some(SlotState::InFlight {
                processor: if word & PROCESSOR_BIT == 0 {
                    Processor::Default
                } else {
                    Processor::Fallback
                },
                requested_at_ms: (word >> STAMP_SHIFT) as i64,
            }),
            _ => None,
        }
    }
}

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

/// Bits of `seq` below the lap: see the module docs.
const TAG_BITS: u32 = 10;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const OWNER_MASK: u64 = 0xff;
const OWNED: u64 = 1 << 8;
const POISONED: u64 = 1 << 9;

/// The sequence word for `lap` with `tag`.
fn seq_word(lap: u64, tag: u64) -> u64 {
    debug_assert!(tag <= TAG_MASK);
    lap << TAG_BITS | tag
}

/// `(lap, tag)` of a sequence word.
fn split(word: u64) -> (u64, u64) {
    (word >> TAG_BITS, word & TAG_MASK)
}

/// The owner id in a tag (meaningful with `OWNED` or `POISONED` set).
fn owner(tag: u64) -> u8 {
    (tag & OWNER_MASK) as u8
}

/// A view of the ring in a [`crate::store::shared_file::SharedFile`] (or in
/// a [`HeapRing`]), as producer `producer`.
#[derive(Clone, Copy)]
pub struct Ring<'a> {
    slots: &'a [Slot],
    tail: &'a AtomicU64,
    head: &'a AtomicU64,
    mask: u64,
    /// Our producer id (1–255), written into the slots we claim.
    producer: u8,
    /// Tells whether another producer could still store into a slot.
    liveness: &'a dyn Liveness,
}

impl<'a> Ring<'a> {
    /// Wraps the slots and the two counters; `slots.len()` is a power of
    /// two, at least 2. `producer` is this handle's id (non-zero).
    pub fn new(
        slots: &'a [Slot],
        tail: &'a AtomicU64,
        head: &'a AtomicU64,
        producer: u8,
        liveness: &'a dyn Liveness,
    ) -> Ring<'a> {
        debug_assert!(slots.len().is_power_of_two() && slots.len() >= 2);
        debug_assert!(producer != 0);
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

    /// Claims the next free position and owns its slot: the first half of
    /// [`Ring::push`]. Test support only, to play a producer that stops
    /// between claiming and publishing; see `Cargo.toml`'s `test-support`.
    #[cfg(any(test, feature = "test-support"))]
    #[doc(hidden)]
    pub fn claim(&self) -> Result<u64, PushError> {
        self.claim_and_own()
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

    /// Gives up on a position claimed but never published; true if this call
    /// settled it (freed its slot, or poisoned it while its owner may still
    /// write), false if it was published meanwhile or is not claimed.
    pub fn abandon(&self, position: u64) -> bool {
        let slot = self.slot(position);
        let word = slot.seq.load(Ordering::Relaxed);
        let (lap, tag) = split(word);
        if lap != position || tag & POISONED != 0 {
            return false;
        }
        let next = if tag & OWNED != 0 && self.liveness.may_still_write(owner(tag)) {
            seq_word(position, POISONED | (tag & OWNER_MASK))
        } else {
            // Unowned (nobody may write: owning would now fail) or owned by
            // a producer that is gone: free for the next lap at once.
            seq_word(position + self.capacity(), 0)
        };
        // Release pairs with the next lap's Acquire in `claim_position`.
        // The CAS races the producer's `own` or `publish`: one of them wins.
        slot.seq
            .compare_exchange(word, next, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }

    /// Frees every poisoned slot whose owner is gone, and every slot still
    /// claimed or poisoned by `dead_id` if given (a producer id whose lock
    /// the caller now holds, so its previous holder is gone); returns how
    /// many poisoned slots remain (owners alive). Scans the whole ring.
    fn clear_claims(&self, dead_id: Option<u8>) -> u64 {
        let mut remaining = 0;
        for slot in self.slots {
            loop {
                let word = slot.seq.load(Ordering::Relaxed);
                let (lap, tag) = split(word);
                let tagged = tag & (OWNED | POISONED) != 0;
                let gone = tagged
                    && (dead_id == Some(owner(tag))
                        || (tag & POISONED != 0 && !self.liveness.may_still_write(owner(tag))));
                if !gone {
                    remaining += u64::from(tag & POISONED != 0);
                    break;
                }
                // Release pairs with the next lap's Acquire in `claim_position`.
                let freed = seq_word(lap + self.capacity(), 0);
                if slot
                    .seq
                    .compare_exchange(word, freed, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
                {
                    break;
                }
            }
        }
        remaining
    }

    /// Frees the poisoned slots whose owners are gone; returns how many
    /// poisoned slots remain. Called by the leader's [`Cursor`].
    pub fn clear_dead_poison(&self) -> u64 {
        self.clear_claims(None)
    }

    /// Frees every slot claimed or poisoned by producer `id`, whose lock the
    /// caller has just taken: its previous holder is gone, and these slots
    /// would otherwise look owned by a live producer for ever.
    pub fn release_claims_of(&self, id: u8) {
        self.clear_claims(Some(id));
    }

    /// Records where the payment at `position` stands.
    pub fn set_state(&self, position: u64, state: SlotState) {
        // Release: what the leader did before (a ledger entry before Done)
        // is visible to whoever loads this state with Acquire.
        self.slot(position)
            .state
            .store(state.encode(), Ordering::Release);
    }

    /// Frees every position from `head` on whose payment is done, up to
    /// (not including) `limit`; returns the new head. Leader only.
    pub fn free_done(&self, limit: u64) -> u64 {
        let mut head = self.head();
        while head < limit {
            let slot = self.slot(head);
            // Acquire: see the state stored with Release by a worker.
            let (lap, tag) = split(slot.seq.load(Ordering::Acquire));
            match lap.wrapping_sub(head) as i64 {
                1 if tag == 0 => {
                    if slot.state.load(Ordering::Acquire) != SlotState::Done.encode() {
                        break;
                    }
                    // The leader, not the next producer, resets the state:
                    // producers never store to it. Relaxed: ordered before
                    // the next lap by the Release below.
                    slot.state
                        .store(SlotState::Pending.encode(), Ordering::Relaxed);
                    // Release pairs with the next lap's Acquire in `claim_position`.
                    slot.seq
                        .store(seq_word(head + self.capacity(), 0), Ordering::Release);
                }
                // Poisoned: settled, though its slot is freed only later.
                0 if tag & POISONED != 0 => {}
                // Abandoned and freed already.
                offset if offset >= self.capacity() as i64 => {}
                _ => break,
            }
            head += 1;
        }
        self.head.store(head, Ordering::Relaxed);
        head
    }

    /// Drops every pending payment: moves head to tail as if all were done.
    /// Test helper for a ring nobody else uses.
    #[cfg(test)]
    pub fn drain_all_for_test(&self) -> Vec<Pending> {
        let mut taken = Vec::new();
        let tail = self.tail();
        for position in self.head()..tail {
            if let Peek::Published(pending) = self.peek(position) {
                taken.push(pending);
                self.set_state(position, SlotState::Done);
            }
        }
        self.free_done(tail);
        taken
    }
}

/// A ring over heap memory instead of a mapping: the same slots and
/// counters, owned by this value. For tests that must run without files
/// (`cargo +nightly miri test` cannot map files) and for benchmarks.
pub struct HeapRing {
    /// `Slot` is `align(64)`, so the boxed slice is aligned like the file's.
    slots: Box<[Slot]>,
    tail: Line<AtomicU64>,
    head: Line<AtomicU64>,
}

impl HeapRing {
    /// `capacity` slots (a power of two, at least 2), all free for lap 0.
    pub fn new(capacity: usize) -> HeapRing {
        assert!(
            capacity.is_power_of_two() && capacity >= 2,
            "a ring needs a power of two of at least 2 slots, not {capacity}"
        );
        let heap = HeapRing {
            slots: (0..capacity).map(|_| Slot::zeroed()).collect(),
            tail: Line(AtomicU64::new(0)),
            head: Line(AtomicU64::new(0)),
        };
        heap.ring(1, &|_| true).initialise();
        heap
    }

    /// A view as producer `producer`, asking `liveness` about the others.
    pub fn ring<'a>(&'a self, producer: u8, liveness: &'a dyn Liveness) -> Ring<'a> {
        Ring::new(&self.slots, &self.tail.0, &self.head.0, producer, liveness)
    }
}

/// The leader's walk over the ring, one position after the other.
///
/// It never skips a position a producer may still publish, except one that
/// stayed claimed and unpublished for `abandon_after`: that producer is
/// presumed stuck or dead, and [`Ring::abandon`] makes sure it cannot
/// publish late nor write into a reused slot. Poisoned slots are re-checked
/// every `abandon_after` (once at the start too, for a new leader) and
/// freed when their owner is gone.
#[derive(Debug)]
pub struct Cursor {
    position: u64,
    claimed_since: Option<(u64, Instant)>,
    abandon_after: Duration,
    /// Some slot may be poisoned: sweep when `last_sweep` is old enough.
    sweep_wanted: bool,
    last_sweep: Option<Instant>,
}

/// What one [`Cursor::step`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to take now (empty, or a producer is still writing).
    Idle,
    /// The position was claimed and never published; the cursor moved on.
    Abandoned(u64),
    /// A published payment; the cursor moved on.
    Payment(Pending),
}

impl Cursor {
    /// Starts at `position` (the head, for a new leader).
    pub fn new(position: u64, abandon_after: Duration) -> Cursor {
        Cursor {
            position,
            claimed_since: None,
            abandon_after,
            sweep_wanted: true,
            last_sweep: None,
        }
    }

    /// The next position to look at.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Looks at the current position and moves past it if it is settled,
    /// skipping every abandoned position in one call (a loop: a run of
    /// them is as long as the ring at most).
    pub fn step(&mut self, ring: &Ring<'_>) -> Step {
        self.sweep_if_due(ring);
        loop {
            match ring.peek(self.position) {
                Peek::Empty => return Step::Idle,
                Peek::Abandoned => self.position += 1,
                Peek::Published(pending) => {
                    self.position += 1;
                    return Step::Payment(pending);
                }
                Peek::Claimed => return self.wait_or_abandon(ring),
            }
        }
    }

    fn wait_or_abandon(&mut self, ring: &Ring<'_>) -> Step {
        let since = match self.claimed_since {
            Some((position, since)) if position == self.position => since,
            _ => self.claimed_since.insert((self.position, Instant::now())).1,
        };
        if since.elapsed() < self.abandon_after || !ring.abandon(self.position) {
            return Step::Idle;
        }
        self.sweep_wanted = true;
        self.position += 1;
        Step::Abandoned(self.position - 1)
    }

    /// Frees poisoned slots of dead producers, at most every `abandon_after`
    /// and only while some may exist: a scan of the ring costs microseconds
    /// plus one lock probe per poisoned slot.
    fn sweep_if_due(&mut self, ring: &Ring<'_>) {
        let due = self
            .last_sweep
            .is_none_or(|at| at.elapsed() >= self.abandon_after);
        if self.sweep_wanted && due {
            self.sweep_wanted = ring.clear_dead_poison() > 0;
            self.last_sweep = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// Every producer alive (none is known to be gone).
    fn every_producer_alive(_: u8) -> bool {
        true
    }
    const ALIVE: &dyn Liveness = &(every_producer_alive as fn(u8) -> bool);

    fn payment(n: u128) -> Payment {
        Payment {
            correlation_id: Uuid::from_u128(n),
            amount_cents: 1990 + n as u64,
        }
    }

    fn ids(taken: &[Pending]) -> Vec<u128> {
        taken
            .iter()
            .map(|p| p.payment.correlation_id.as_u128())
            .collect()
    }

    /// Pushes `from..` until the ring says full; returns what it took.
    fn fill(ring: &Ring<'_>, from: u128) -> Vec<u128> {
        (from..)
            .map_while(|n| ring.push(&payment(n), 0).ok().map(|_| n))
            .collect()
    }

    #[test]
    fn states_round_trip_through_their_encoding() {
        for state in [
            SlotState::Pending,
            SlotState::Done,
            SlotState::InFlight {
                processor: Processor::Default,
                requested_at_ms: 1_752_151_696_123,
            },
            SlotState::InFlight {
                processor: Processor::Fallback,
                requested_at_ms: 0,
            },
        ] {
            assert_eq!(SlotState::decode(state.encode()), Some(state));
        }
        for garbage in [3, 2 | 1 << 9, 1 << 5] {
            assert_eq!(SlotState::decode(garbage), None, "{garbage:#x}");
        }
    }

    #[test]
    fn payments_come_out_in_order_with_their_fields() {
        let heap = HeapRing::new(8);
        let ring = heap.ring(1, ALIVE);
        for n in 0..5 {
            assert_eq!(ring.push(&payment(n), 3), Ok(n as u64));
        }
        let taken = ring.drain_all_for_test();
        assert_eq!(ids(&taken), [0, 1, 2, 3, 4]);
        assert!(taken.iter().all(|p| p.generation == 3
            && p.state == Some(SlotState::Pending)
            && p.payment == payment(p.position.into())));
        assert_eq!(ring.head(), 5);
    }

    #[test]
    fn full_is_a_value_until_done_payments_are_freed() {
        let heap = HeapRing::new(4);
        let ring = heap.ring(1, ALIVE);
        for n in 0..4 {
            ring.push(&payment(n), 0).unwrap();
        }
        assert_eq!(ring.push(&payment(9), 0), Err(PushError::Full));
        // The leader's cursor at the tail of a full ring must wait, not skip.
        assert_eq!(ring.peek(ring.tail()), Peek::Empty);

        // Dispatched but not done: still occupies its slot.
        ring.set_state(
            0,
            SlotState::InFlight {
                processor: Processor::Default,
                requested_at_ms: 1,
            },
        );
        assert_eq!(ring.free_done(ring.tail()), 0);
        assert_eq!(ring.push(&payment(9), 0), Err(PushError::Full));

        ring.set_state(0, SlotState::Done);
        ring.set_state(2, SlotState::Done); // out of order: waits for 1
        assert_eq!(ring.free_done(ring.tail()), 1);
        assert_eq!(ring.push(&payment(9), 0), Ok(4));
        assert_eq!(ring.push(&payment(10), 0), Err(PushError::Full));
        // The leader reset the freed slot's state; the producer did not.
        let Peek::Published(reused) = ring.peek(4) else {
            panic!("position 4 is published");
        };
        assert_eq!(reused.state, Some(SlotState::Pending));
    }

    /// Takes every published payment the cursor reaches, marks each done
    /// and frees it, as the leader does; returns their ids.
    fn take_all(cursor: &mut Cursor, ring: &Ring<'_>) -> Vec<u128> {
        let mut taken = Vec::new();
        loop {
            match cursor.step(ring) {
                Step::Payment(pending) => {
                    let id = pending.payment.correlation_id.as_u128();
                    assert_eq!(pending.payment, payment(id), "payment {id} intact");
                    taken.push(id);
                    ring.set_state(pending.position, SlotState::Done);
                }
                Step::Abandoned(_) => {}
                Step::Idle => break,
            }
        }
        ring.free_done(cursor.position());
        taken
    }

    /// Issue 9, item 1: a producer claims a position and stalls before
    /// writing; the leader abandons it; producers fill the ring; then the
    /// stalled producer finishes its write. Before the fix the slot had
    /// been handed to the next lap at once, and the late write replaced a
    /// payment acknowledged to someone else.
    #[test]
    fn a_stalled_producers_late_write_never_lands_in_a_reused_slot() {
        let heap = HeapRing::new(4);
        let stalled = heap.ring(1, ALIVE);
        let others = heap.ring(2, ALIVE);
        let mut cursor = Cursor::new(0, Duration::ZERO);

        let position = stalled.claim().unwrap();
        assert_eq!(fill(&others, 100), [100, 101, 102]);
        assert_eq!(cursor.step(&others), Step::Abandoned(position));
        assert_eq!(take_all(&mut cursor, &others), [100, 101, 102]);
        assert_eq!(others.head(), 4);
        assert_eq!(
            fill(&others, 200),
            [0u128; 0],
            "the abandoned slot is not reused while its owner may still write"
        );
        // The stalled producer wakes up and writes, late.
        stalled.write(position, &payment(666), 0);
        assert!(!stalled.publish(position), "abandoned: it must push again");
        // It freed its slot itself: the ring is whole again.
        assert_eq!(fill(&others, 300), [300, 301, 302, 303]);
        assert_eq!(take_all(&mut cursor, &others), [300, 301, 302, 303]);
    }

    #[test]
    fn an_abandoned_claim_is_skipped_and_its_producer_pushes_again() {
        let heap = HeapRing::new(4);
        let producer = heap.ring(1, ALIVE);
        // A producer claims position 0 and stalls before publishing.
        let stalled = producer.claim().unwrap();
        assert_eq!(producer.peek(stalled), Peek::Claimed);
        producer.push(&payment(1), 0).unwrap();

        assert!(producer.abandon(stalled));
        assert_eq!(producer.peek(stalled), Peek::Abandoned);
        assert!(!producer.abandon(stalled), "settled once");
        // The stalled producer wakes up: its publish fails, so it knows.
        producer.write(stalled, &payment(0), 0);
        assert!(!producer.publish(stalled));
        // Published positions cannot be abandoned.
        assert!(!producer.abandon(1));

        assert_eq!(ids(&producer.drain_all_for_test()), [1]);
        assert_eq!(producer.head(), 2);
        assert_eq!(producer.peek(2), Peek::Empty);
        // Its own clearing made slot 0 free for position 4.
        assert_eq!(fill(&producer, 10), [10, 11, 12, 13]);
    }

    #[test]
    fn a_claim_never_owned_is_freed_at_once_and_cannot_be_owned_late() {
        let heap = HeapRing::new(2);
        let ring = heap.ring(1, ALIVE);
        let position = ring.claim_position().unwrap();
        assert_eq!(ring.peek(position), Peek::Claimed);
        assert!(ring.abandon(position));
        assert!(!ring.own(position), "the leader was first");
        assert_eq!(ring.free_done(ring.tail()), 1);
        assert_eq!(fill(&ring, 0), [0, 1], "its slot serves the next lap");
    }

    #[test]
    fn a_poisoned_slot_is_freed_once_its_owner_is_gone() {
        let heap = HeapRing::new(2);
        let owner_alive = Cell::new(true);
        let liveness = |id: u8| id != 1 || owner_alive.get();
        let stalled = heap.ring(1, &liveness);
        let leader = heap.ring(2, &liveness);
        let mut cursor = Cursor::new(0, Duration::ZERO);

        stalled.claim().unwrap();
        assert_eq!(cursor.step(&leader), Step::Abandoned(0));
        assert_eq!(fill(&leader, 1), [1]);
        assert_eq!(take_all(&mut cursor, &leader), [1]);
        assert_eq!(leader.head(), 2, "the head passes a poisoned position");
        assert_eq!(fill(&leader, 2), [0u128; 0], "slot 0 stays poisoned");
        assert_eq!(cursor.step(&leader), Step::Idle);

        owner_alive.set(false); // its process died: the kernel freed its lock
        assert_eq!(cursor.step(&leader), Step::Idle, "this step sweeps");
        assert_eq!(fill(&leader, 3), [3, 4], "the cursor's sweep freed slot 0");
        assert_eq!(take_all(&mut cursor, &leader), [3, 4]);
    }

    #[test]
    fn a_new_holder_of_an_id_frees_what_its_predecessor_left() {
        let heap = HeapRing::new(4);
        let dead = heap.ring(7, ALIVE);
        let leader = heap.ring(2, ALIVE);
        let claimed = dead.claim().unwrap();
        let poisoned = dead.claim().unwrap();
        assert!(leader.abandon(poisoned));
        assert_eq!(fill(&leader, 10), [10, 11]);
        // The next process to take id 7 (its lock was free: 7 is dead).
        heap.ring(7, ALIVE).release_claims_of(7);
        assert_eq!(leader.peek(claimed), Peek::Abandoned);
        assert_eq!(leader.peek(poisoned), Peek::Abandoned);
        let mut cursor = Cursor::new(0, Duration::from_secs(3600));
        assert_eq!(ids(&[cursor_payment(&mut cursor, &leader)]), [10]);
        leader.drain_all_for_test();
        assert_eq!(fill(&leader, 20), [20, 21, 22, 23], "every slot is free");
    }

    fn cursor_payment(cursor: &mut Cursor, ring: &Ring<'_>) -> Pending {
        match cursor.step(ring) {
            Step::Payment(pending) => pending,
            other => panic!("expected a payment, got {other:?}"),
        }
    }

    /// Issue 9, item 6: a run of abandoned positions is skipped by a loop.
    #[test]
    fn a_run_of_abandoned_positions_is_skipped_in_one_step() {
        let run = if cfg!(miri) { 64 } else { 100_000 };
        let heap = HeapRing::new(128);
        let ring = heap.ring(1, ALIVE);
        for _ in 0..run {
            let position = ring.claim_position().unwrap();
            assert!(ring.abandon(position));
            ring.free_done(ring.tail());
        }
        ring.push(&payment(1), 0).unwrap();
        let mut cursor = Cursor::new(0, Duration::from_secs(3600));
        assert_eq!(cursor_payment(&mut cursor, &ring).position, run);
    }

    #[test]
    fn threads_pushing_and_one_draining_see_every_payment_once() {
        let heap = HeapRing::new(64);
        let producers = 4u8;
        let per_producer: u128 = if cfg!(miri) { 50 } else { 5_000 };
        let total = u128::from(producers) * per_producer;
        let mut seen = vec![false; total as usize];
        std::thread::scope(|scope| {
            for p in 0..producers {
                let heap = &heap;
                scope.spawn(move || {
                    let ring = heap.ring(p + 1, ALIVE);
                    for n in 0..per_producer {
                        let payment = payment(u128::from(p) * per_producer + n);
                        while ring.push(&payment, 0).is_err() {
                            std::thread::yield_now();
                        }
                    }
                });
            }
            let ring = heap.ring(producers + 1, ALIVE);
            let mut cursor = Cursor::new(0, Duration::from_secs(60));
            let mut count = 0;
            while count < seen.len() {
                match cursor.step(&ring) {
                    Step::Payment(pending) => {
                        let id = pending.payment.correlation_id.as_u128() as usize;
                        assert!(!seen[id], "payment {id} seen twice");
                        assert_eq!(pending.payment, payment(id as u128), "intact");
                        seen[id] = true;
                        count += 1;
                        ring.set_state(pending.position, SlotState::Done);
                        ring.free_done(cursor.position());
                    }
                    Step::Idle => std::thread::yield_now(),
                    Step::Abandoned(position) => unreachable!("abandoned {position}"),
                }
            }
        });
        assert!(seen.iter().all(|&s| s));
    }
}
