//! What `rinha stat` counts in the ring, reading only.

use std::sync::atomic::Ordering;

use super::{Peek, Ring, SlotState};

impl Ring<'_> {
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
