//! The cross-process ring of accepted payments waiting to be processed.
//!
//! # Algorithm
//!
//! Dmitry Vyukov's bounded MPMC queue ("Bounded MPMC queue", 1024cores.net;
//! the same design as crossbeam's `ArrayQueue`), adapted in three ways:
//!
//! 1. **It lives in shared memory.** Producers are the API processes, the
//!    consumer is whichever process leads; every field is an atomic in the
//!    mapped file, addressed by position modulo the capacity.
//! 2. **Consuming is not freeing.** The leader reads a slot when it
//!    dispatches the payment, but the slot keeps the payment and its
//!    dispatch [`SlotState`] until it is `Done`, so a leader that dies with
//!    payments in flight leaves everything its successor needs to finish
//!    them. Only then does `head` pass the slot and hand it to the next lap.
//! 3. **Publishing is a CAS.** A producer killed between claiming a
//!    position and publishing it would otherwise wedge the consumer forever.
//!    After a bounded wait the leader *abandons* the position by CAS-ing the
//!    slot's sequence from `pos` (claimed) to `pos + capacity` (free for the
//!    next lap). A producer that was merely slow then fails its publishing
//!    CAS, knows its payment was not taken, and pushes again: nothing
//!    acknowledged is ever lost.
//!
//! # Slot sequence
//!
//! For the position `pos` whose slot is `pos % capacity`, `seq` reads:
//!
//! | `seq`                | meaning                                           |
//! |----------------------|---------------------------------------------------|
//! | `pos`                | free for `pos` (or claimed, being written)        |
//! | `pos + 1`            | published: the payment at `pos` is in the slot    |
//! | `pos + capacity`     | freed (done or abandoned): free for the next lap  |
//! | `pos + capacity + 1` | already published again by the next lap           |
//!
//! # Orderings
//!
//! - Publication: the producer writes the payload (Relaxed), then CASes
//!   `seq` to `pos + 1` with Release; the leader loads `seq` with Acquire, so
//!   it sees the payload. Freeing is the mirror image: the leader's Release
//!   store of `pos + capacity` pairs with the next producer's Acquire load,
//!   so the leader's reads of the old payload happen before the overwrite.
//! - `tail` only hands out unique positions (a CAS, Relaxed): nothing is
//!   published through it. `head` is written by the leader alone.
//! - Dispatch states are stored with Release and loaded with Acquire so a
//!   new leader's scan sees the ledger entry written before a `Done`.
//!
//! # Known limit
//!
//! A producer frozen *in the middle of writing* a payload (a window of a few
//! stores) for longer than the ring takes to wrap a full lap could overwrite
//! the next lap's payload. At the contest's rate a lap of 65 536 slots takes
//! two minutes; the producer's own payment is not lost (its CAS fails and it
//! retries), but the payment it overwrote would be. We accept that window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::domain::payment::{Payment, Processor};
use crate::domain::time::now_millis;

/// One ring slot: a 64-byte line of atomics.
#[repr(C, align(64))]
pub struct Slot {
    /// See the table in the module docs.
    seq: AtomicU64,
    /// The dispatch state, encoded by [`SlotState::encode`].
    state: AtomicU64,
    /// The correlation id, big-endian halves of the UUID's 16 bytes.
    id_high: AtomicU64,
    id_low: AtomicU64,
    /// The amount in cents (≤ `money::MAX_CENTS`).
    amount_cents: AtomicU64,
    /// The purge generation the payment was accepted in.
    generation: AtomicU64,
    /// When a producer wrote the payment, in ms since the epoch (layout
    /// version 2): only for status output (`rinha stat`'s oldest age), no
    /// decision reads it.
    accepted_at_ms: AtomicU64,
    _reserved: AtomicU64,
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
    /// Every slot holds a payment that is not done yet.
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
    /// The position was abandoned and its slot handed to the next lap.
    Abandoned,
}

/// How many times a producer whose claim was abandoned pushes again before
/// reporting the ring as full. Each retry needs the leader to have waited
/// out a full abandon timeout, so two cannot happen in a healthy system.
const PUSH_ATTEMPTS: usize = 3;

/// A view of the ring in a [`crate::store::shared_file::SharedFile`].
#[derive(Clone, Copy)]
pub struct Ring<'a> {
    slots: &'a [Slot],
    tail: &'a AtomicU64,
    head: &'a AtomicU64,
    mask: u64,
}

impl<'a> Ring<'a> {
    /// Wraps the slots and the two counters; `slots.len()` is a power of two.
    pub fn new(slots: &'a [Slot], tail: &'a AtomicU64, head: &'a AtomicU64) -> Ring<'a> {
        debug_assert!(slots.len().is_power_of_two());
        Ring {
            slots,
            tail,
            head,
            mask: slots.len() as u64 - 1,
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
            slot.seq.store(index as u64, Ordering::Relaxed);
        }
        self.tail.store(0, Ordering::Relaxed);
        self.head.store(0, Ordering::Relaxed);
    }

    /// Enqueues a payment; returns its position.
    pub fn push(&self, payment: &Payment, generation: u64) -> Result<u64, PushError> {
        for _ in 0..PUSH_ATTEMPTS {
            let position = self.claim()?;
            self.write(position, payment, generation);
            if self.publish(position) {
                return Ok(position);
            }
        }
        Err(PushError::Full)
    }

    /// Claims the next free position (Vyukov's enqueue loop): the first
    /// half of [`Ring::push`]. Public so that tests can play a producer
    /// that dies between claiming and publishing.
    pub fn claim(&self) -> Result<u64, PushError> {
        let mut position = self.tail.load(Ordering::Relaxed);
        loop {
            // Acquire pairs with the Release that freed this slot (`free` or
            // `abandon`), so the leader's reads of the previous lap's payload
            // happen before our overwrite.
            let seq = self.slot(position).seq.load(Ordering::Acquire);
            match self.lap_offset(seq, position) {
                0 => match self.tail.compare_exchange_weak(
                    position,
                    position + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(position),
                    Err(current) => position = current,
                },
                lag if lag < 0 => return Err(PushError::Full),
                _ => position = self.tail.load(Ordering::Relaxed),
            }
        }
    }

    fn write(&self, position: u64, payment: &Payment, generation: u64) {
        let slot = self.slot(position);
        let id = payment.correlation_id.as_u128();
        // Relaxed: published by the Release CAS in `publish`.
        slot.state
            .store(SlotState::Pending.encode(), Ordering::Relaxed);
        slot.id_high.store((id >> 64) as u64, Ordering::Relaxed);
        slot.id_low.store(id as u64, Ordering::Relaxed);
        slot.amount_cents
            .store(payment.amount_cents, Ordering::Relaxed);
        slot.generation.store(generation, Ordering::Relaxed);
        // A vDSO clock read (tens of ns), the request path's only one.
        slot.accepted_at_ms
            .store(now_millis().max(0) as u64, Ordering::Relaxed);
    }

    /// Makes the payload visible; false if the leader abandoned the claim.
    fn publish(&self, position: u64) -> bool {
        // Release: the payload stores above happen-before the leader's
        // Acquire load that sees `position + 1`. Failure ordering Relaxed:
        // on failure we read nothing from the slot.
        self.slot(position)
            .seq
            .compare_exchange(position, position + 1, Ordering::Release, Ordering::Relaxed)
            .is_ok()
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
        let seq = slot.seq.load(Ordering::Acquire);
        match self.lap_offset(seq, position) {
            1 => Peek::Published(self.read(position)),
            offset if offset >= self.capacity() as i64 => Peek::Abandoned,
            // `seq == position`, or an older lap still in the slot (seen
            // just before a producer claimed it): the tail tells which.
            _ if self.tail() > position => Peek::Claimed,
            _ => Peek::Empty,
        }
    }

    /// `seq - position` as a signed distance. A position below the tail was
    /// claimed, so its distance is 0, 1 or at least the capacity; one at or
    /// above the tail has 0 (free) or a negative distance (older lap).
    fn lap_offset(&self, seq: u64, position: u64) -> i64 {
        seq.wrapping_sub(position) as i64
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
    /// abandoned it (false: it was published meanwhile, or already freed).
    pub fn abandon(&self, position: u64) -> bool {
        // Release pairs with the next lap's Acquire in `claim`. The CAS
        // races the producer's `publish`: exactly one of the two wins.
        self.slot(position)
            .seq
            .compare_exchange(
                position,
                position + self.capacity(),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok()
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
            let seq = slot.seq.load(Ordering::Acquire);
            let finished = match self.lap_offset(seq, head) {
                1 => slot.state.load(Ordering::Acquire) == SlotState::Done.encode(),
                offset => offset >= self.capacity() as i64, // abandoned: already free
            };
            if !finished {
                break;
            }
            if seq == head + 1 {
                // Release pairs with the next lap's Acquire in `claim`.
                slot.seq.store(head + self.capacity(), Ordering::Release);
            }
            head += 1;
        }
        self.head.store(head, Ordering::Relaxed);
        head
    }

    /// Counts what lies between head and tail, reading only (`rinha stat`
    /// uses it on a read-only mapping). Positions are scanned from head for
    /// at most one lap, so a corrupt head or tail costs a wrong count,
    /// never a long loop; slots move while we read, so the figures are a
    /// moment's approximation, each one exact for the slot it read.
    pub fn snapshot(&self) -> RingSnapshot {
        let head = self.head();
        let tail = self.tail();
        let mut snapshot = RingSnapshot {
            head,
            tail,
            ..RingSnapshot::default()
        };
        for position in head..tail.min(head.saturating_add(self.capacity())) {
            let Peek::Published(pending) = self.peek(position) else {
                snapshot.unpublished += 1;
                continue;
            };
            match pending.state {
                Some(SlotState::Done) => continue,
                Some(SlotState::Pending) => snapshot.pending += 1,
                Some(SlotState::InFlight { processor, .. }) => {
                    snapshot.in_flight[processor as usize] += 1;
                }
                None => snapshot.unreadable += 1,
            }
            // Relaxed: published with the payload by the producer's Release
            // CAS, which `peek`'s Acquire load of `seq` paired with.
            let accepted = self.slot(position).accepted_at_ms.load(Ordering::Relaxed);
            snapshot.oldest_accepted_at_ms = Some(match snapshot.oldest_accepted_at_ms {
                Some(oldest) => oldest.min(accepted),
                None => accepted,
            });
        }
        snapshot
    }

    /// Drops every pending payment: moves head to tail as if all were done.
    /// Test helper for a file nobody else uses.
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

/// What [`Ring::snapshot`] counted between head and tail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingSnapshot {
    /// The first position not yet freed.
    pub head: u64,
    /// The next position a producer will claim.
    pub tail: u64,
    /// Published payments never sent, or sent and refused.
    pub pending: u64,
    /// Published payments sent and not yet resolved, by processor index.
    pub in_flight: [u64; 2],
    /// Positions claimed but not (yet) published, or abandoned.
    pub unpublished: u64,
    /// Published slots whose state word decodes to no state (corrupt).
    pub unreadable: u64,
    /// The earliest acceptance time among the payments not done, ms since
    /// the epoch; `None` when none waits.
    pub oldest_accepted_at_ms: Option<u64>,
}

impl RingSnapshot {
    /// Positions between head and tail: what waits, and what is done but
    /// not yet freed behind a slot that is not.
    pub fn depth(&self) -> u64 {
        self.tail.saturating_sub(self.head)
    }
}

/// The leader's walk over the ring, one position after the other.
///
/// It never skips a position a producer may still publish, except one that
/// stayed claimed and unpublished for `abandon_after`: that producer is
/// presumed dead, and [`Ring::abandon`] makes sure it cannot publish late.
#[derive(Debug)]
pub struct Cursor {
    position: u64,
    claimed_since: Option<(u64, Instant)>,
    abandon_after: Duration,
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
        }
    }

    /// The next position to look at.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Looks at the current position and moves past it if it is settled.
    pub fn step(&mut self, ring: &Ring<'_>) -> Step {
        match ring.peek(self.position) {
            Peek::Empty => Step::Idle,
            Peek::Abandoned => {
                self.position += 1;
                self.step(ring)
            }
            Peek::Published(pending) => {
                self.position += 1;
                Step::Payment(pending)
            }
            Peek::Claimed => self.wait_or_abandon(ring),
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
        self.position += 1;
        Step::Abandoned(self.position - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Capacities;
    use crate::store::shared_file::SharedFile;
    use crate::store::shared_file::tests::temp_shared;

    fn shared(name: &str, ring_slots: u32) -> SharedFile {
        let caps = Capacities {
            ring_slots,
            ledger_entries: 16,
        };
        temp_shared(&format!("ring-{name}"), caps)
    }

    fn payment(n: u128) -> Payment {
        Payment {
            correlation_id: Uuid::from_u128(n),
            amount_cents: 1990,
        }
    }

    #[test]
    fn a_snapshot_counts_each_slot_between_head_and_tail_by_its_state() {
        let shared = shared("snapshot", 8);
        let ring = shared.ring();
        assert_eq!(ring.snapshot(), RingSnapshot::default());
        let before = now_millis() as u64;
        for n in 0..5 {
            ring.push(&payment(n), 0).unwrap();
        }
        let after = now_millis() as u64;
        let in_flight = |processor| SlotState::InFlight {
            processor,
            requested_at_ms: 1,
        };
        ring.set_state(0, SlotState::Done);
        ring.set_state(1, in_flight(Processor::Default));
        ring.set_state(2, in_flight(Processor::Fallback));
        ring.set_state(3, in_flight(Processor::Fallback));
        let claimed = ring.claim().unwrap();
        let snapshot = ring.snapshot();
        assert_eq!((snapshot.head, snapshot.tail, snapshot.depth()), (0, 6, 6));
        assert_eq!(snapshot.in_flight, [1, 2]);
        assert_eq!((snapshot.pending, snapshot.unpublished), (1, 1));
        let oldest = snapshot.oldest_accepted_at_ms.unwrap();
        assert!(
            (before..=after).contains(&oldest),
            "{before} {oldest} {after}"
        );
        // Once everything is done and freed, nothing waits.
        assert!(ring.abandon(claimed));
        for position in 1..5 {
            ring.set_state(position, SlotState::Done);
        }
        ring.free_done(ring.tail());
        let snapshot = ring.snapshot();
        assert_eq!(
            (snapshot.depth(), snapshot.oldest_accepted_at_ms),
            (0, None)
        );
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
        let shared = shared("order", 8);
        let ring = shared.ring();
        for n in 0..5 {
            assert_eq!(ring.push(&payment(n), 3), Ok(n as u64));
        }
        let taken = ring.drain_all_for_test();
        let ids: Vec<u128> = taken
            .iter()
            .map(|p| p.payment.correlation_id.as_u128())
            .collect();
        assert_eq!(ids, [0, 1, 2, 3, 4]);
        assert!(
            taken
                .iter()
                .all(|p| p.generation == 3 && p.state == Some(SlotState::Pending))
        );
        assert_eq!(ring.head(), 5);
    }

    #[test]
    fn full_is_a_value_until_done_payments_are_freed() {
        let shared = shared("full", 4);
        let ring = shared.ring();
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
    }

    #[test]
    fn an_abandoned_claim_is_skipped_and_its_producer_pushes_again() {
        let shared = shared("abandon", 4);
        let ring = shared.ring();
        // A producer claims position 0 and stalls before publishing.
        let stalled = ring.claim().unwrap();
        assert_eq!(ring.peek(stalled), Peek::Claimed);
        ring.push(&payment(1), 0).unwrap();

        assert!(ring.abandon(stalled));
        assert_eq!(ring.peek(stalled), Peek::Abandoned);
        // The stalled producer wakes up: its publish fails, so it knows.
        ring.write(stalled, &payment(0), 0);
        assert!(!ring.publish(stalled));
        // Published positions cannot be abandoned.
        assert!(!ring.abandon(1));

        let ids: Vec<u128> = ring
            .drain_all_for_test()
            .iter()
            .map(|p| p.payment.correlation_id.as_u128())
            .collect();
        assert_eq!(ids, [1]);
        assert_eq!(ring.head(), 2);
        assert_eq!(ring.peek(2), Peek::Empty);
    }

    #[test]
    fn threads_pushing_and_one_draining_see_every_payment_once() {
        let shared = shared("threads", 64);
        let producers = 4;
        let per_producer = 5_000u128;
        let mut seen = vec![false; (producers * per_producer) as usize];
        std::thread::scope(|scope| {
            for p in 0..producers {
                let shared = &shared;
                scope.spawn(move || {
                    for n in 0..per_producer {
                        let payment = payment(p * per_producer + n);
                        while shared.ring().push(&payment, 0).is_err() {
                            std::thread::yield_now();
                        }
                    }
                });
            }
            let ring = shared.ring();
            let mut cursor = Cursor::new(0, Duration::from_secs(60));
            let mut count = 0;
            while count < seen.len() {
                match cursor.step(&ring) {
                    Step::Payment(pending) => {
                        let id = pending.payment.correlation_id.as_u128() as usize;
                        assert!(!seen[id], "payment {id} seen twice");
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
