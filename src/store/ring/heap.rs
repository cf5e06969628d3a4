//! The ring over heap memory: what `cargo +nightly miri test` can run.

use std::sync::atomic::AtomicU64;

use super::{Ring, Slot};
use crate::store::layout::Line;
use crate::store::producers::Liveness;

/// A ring over heap memory instead of a mapping: the same slots and
/// counters, owned by this value. For tests that must run without files
/// (`cargo +nightly miri test` cannot map files).
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
