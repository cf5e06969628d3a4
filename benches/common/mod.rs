//! What every bench needs besides its shared file (that is
//! `rinha::store::test_support::TempStore`, shared with the tests): a way
//! to keep the ring from filling up, and timing in batches.
//!
//! Included with `#[path]`/`mod common;` by each bench binary; not every
//! binary uses every item.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use rinha::store::ring::{Cursor, SlotState, Step};
use rinha::store::shared_file::SharedFile;

/// What the leader would do, minus the processors: takes every published
/// payment, marks it done and frees its slot, so producers never see `Full`.
/// Returns how many payments it took.
pub fn drain(shared: &SharedFile) -> u64 {
    let ring = shared.ring();
    let mut cursor = Cursor::new(ring.head(), Duration::from_secs(3600));
    let mut taken = 0;
    while let Step::Payment(pending) = cursor.step(&ring) {
        ring.set_state(pending.position, SlotState::Done);
        taken += 1;
    }
    ring.free_done(cursor.position());
    taken
}

/// Times `op` `iters` times in batches: before each batch, `make_room`
/// (untimed) empties whatever `op` fills and says how many calls fit.
/// Returns the time spent in `op` alone.
pub fn timed_in_batches(
    iters: u64,
    mut make_room: impl FnMut() -> u64,
    mut op: impl FnMut(),
) -> Duration {
    let mut left = iters;
    let mut spent = Duration::ZERO;
    while left > 0 {
        let batch = left.min(make_room());
        let start = Instant::now();
        for _ in 0..batch {
            op();
        }
        spent += start.elapsed();
        left -= batch;
    }
    spent
}

/// Runs `op` `iters` times against a ring that must never fill: the ring is
/// drained, untimed, between batches that fit its free slots.
pub fn timed_with_ring_drained(shared: &SharedFile, iters: u64, op: impl FnMut()) -> Duration {
    let capacity = shared.ring().capacity();
    let make_room = || {
        drain(shared);
        let ring = shared.ring();
        capacity - (ring.tail() - ring.head())
    };
    let spent = timed_in_batches(iters, make_room, op);
    drain(shared);
    spent
}
