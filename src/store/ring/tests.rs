//! The ring's unit tests, on heap memory so that miri can run them.

use std::cell::Cell;
use std::time::Duration;

use super::*;
use crate::domain::payment::Processor;
use crate::domain::time::now_millis;

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
    for garbage in [3, 2 | 1 << 19, 1 << 20] {
        assert_eq!(SlotState::decode(garbage), None, "{garbage:#x}");
    }
    // The fencing tag changes no state.
    let done = SlotState::Done.encode_tagged(0xbeef);
    assert_eq!(SlotState::decode(done), Some(SlotState::Done));
    assert_eq!(slot::fence_of(done), 0xbeef);
}

#[test]
fn a_replaced_leader_changes_no_state_and_frees_nothing() {
    // Issue 16: leader 1 is frozen, leader 2 takes over and tags the ring;
    // leader 1 wakes and every write it tries is refused.
    let heap = HeapRing::new(4);
    let ring = heap.ring(1, ALIVE);
    let (old, new) = (1, 2);
    ring.fence_all(old).unwrap();
    for n in 0..3 {
        ring.push(&payment(n), 0).unwrap();
    }
    let sent = SlotState::InFlight {
        processor: Processor::Default,
        requested_at_ms: 1_752_000_000_000,
    };
    ring.set_state_fenced(1, sent, old).unwrap();
    ring.set_state_fenced(0, SlotState::Done, old).unwrap();
    ring.fence_all(new).unwrap();
    // What the old leader wrote before is what the new one reads.
    let Peek::Published(pending) = ring.peek(1) else {
        panic!("published")
    };
    assert_eq!(pending.state, Some(sent));
    // From now on the old leader writes nothing: no answer recorded, no
    // put back, no dispatch, no free, no fencing back.
    assert_eq!(ring.set_state_fenced(1, SlotState::Done, old), Err(Fenced));
    assert_eq!(
        ring.set_state_fenced(1, SlotState::Pending, old),
        Err(Fenced)
    );
    assert_eq!(ring.set_state_fenced(2, sent, old), Err(Fenced));
    assert_eq!(ring.free_done_as(3, Some(old)), Err((0, Fenced)));
    assert_eq!(ring.fence_all(old), Err(Fenced));
    assert_eq!(ring.head(), 0);
    assert_eq!(ring.peek(0), {
        let Peek::Published(p) = ring.peek(0) else {
            panic!()
        };
        Peek::Published(Pending {
            state: Some(SlotState::Done),
            ..p
        })
    });
    // The new leader frees what is done.
    ring.set_state_fenced(1, SlotState::Done, new).unwrap();
    assert_eq!(ring.free_done_as(3, Some(new)), Ok(2));
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
fn a_claim_whose_owner_is_gone_is_freed_at_once() {
    let heap = HeapRing::new(2);
    let liveness = |id: u8| id != 1; // producer 1 has died
    let dead = heap.ring(1, &liveness);
    let leader = heap.ring(2, &liveness);
    let position = dead.claim().unwrap();
    dead.write(position, &payment(666), 0); // half-written, then killed
    assert!(leader.abandon(position));
    assert_eq!(leader.peek(position), Peek::Abandoned);
    assert_eq!(leader.free_done(leader.tail()), 1);
    assert_eq!(fill(&leader, 1), [1, 2], "no poison: its slot is reused");
    let mut cursor = Cursor::new(1, Duration::from_secs(3600));
    assert_eq!(take_all(&mut cursor, &leader), [1, 2]);
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

#[test]
fn a_snapshot_counts_each_slot_between_head_and_tail_by_its_state() {
    let heap = HeapRing::new(8);
    let ring = heap.ring(1, ALIVE);
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
