//! What the leader works on: the payments it took from the ring, and what
//! it knows of the ledger to decide whether each needs work at all.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::domain::payment::Processor;
use crate::drain::fate::Known;
use crate::store::ring::{Pending, SlotState};
use crate::store::shared_file::SharedFile;

/// The first and the longest wait before a pinned payment is tried again.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The next call a payment needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `POST /payments`.
    Pay,
    /// `GET /payments/{id}`.
    LookUp,
}

/// A payment the drainer is working on.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// The payment and where it sits in the ring.
    pub pending: Pending,
    /// What its calls proved so far.
    pub known: Known,
    /// The call it needs next.
    pub call: Call,
    /// Attempts that ended without settling it, for the backoff.
    pub retries: u32,
    /// Not before this moment.
    pub not_before: Instant,
}

impl Job {
    /// The processor it is pinned to, if any.
    pub fn pinned_to(&self) -> Option<Processor> {
        match self.known {
            Known::Pinned { processor, .. } => Some(processor),
            Known::Unsent => None,
        }
    }

    /// Waits a little longer after every inconclusive attempt, up to a bound:
    /// a processor that cannot answer is not hammered, and a payment waiting
    /// here blocks nothing else.
    pub fn back_off(&mut self, now: Instant) {
        let wait = RETRY_FIRST.saturating_mul(1 << self.retries.min(6));
        self.not_before = now + wait.min(RETRY_MAX);
        self.retries += 1;
    }
}

/// What the leader knows of the ledger and the purge generation.
pub struct Seen {
    /// The purge generation the rest is about.
    pub generation: u64,
    /// Correlation ids already dispatched in this generation.
    paid: HashSet<Uuid>,
    /// Ring positions the ledger holds: done, whatever their slot says.
    pub recorded: HashSet<u64>,
}

impl Seen {
    /// Reads the generation first, then the ids paid in it: a purge in
    /// between leaves a newer generation in the file, which the next
    /// check sees and reloads.
    pub fn load(shared: &SharedFile) -> Seen {
        let generation = shared.generation();
        let ledger = shared.ledger();
        Seen {
            generation,
            paid: ledger.ids_of_current_generation(),
            recorded: ledger.positions_since(shared.ring().head()),
        }
    }
}

impl Seen {
    /// Decides what a published payment needs: `Some` to work on it; a
    /// payment that needs nothing is marked done in its slot.
    pub fn triage(&mut self, shared: &SharedFile, pending: Pending, now: Instant) -> Option<Job> {
        let state = pending.state.unwrap_or_else(|| {
            crate::log!(
                "rinha drainer: position {} has an unreadable state; treating it as unsent",
                pending.position
            );
            SlotState::Pending
        });
        if pending.generation > self.generation {
            // Accepted after a purge this loop has not seen yet.
            *self = Seen::load(shared);
        }
        let id = pending.payment.correlation_id;
        let known = match state {
            SlotState::Done => return None,
            _ if self.recorded.contains(&pending.position) => return mark_done(shared, &pending),
            _ if pending.generation < self.generation => return mark_done(shared, &pending),
            SlotState::InFlight {
                processor,
                requested_at_ms,
            } => Known::Pinned {
                processor,
                stamp: requested_at_ms,
            },
            SlotState::Pending if self.paid.contains(&id) => {
                crate::log!(
                    "rinha drainer: payment {id} not sent: its correlationId was already paid"
                );
                return mark_done(shared, &pending);
            }
            SlotState::Pending => Known::Unsent,
        };
        self.paid.insert(id);
        Some(Job {
            pending,
            known,
            call: Call::Pay,
            retries: 0,
            not_before: now,
        })
    }
}

/// Marks a payment done in its slot: it needs no more work.
pub fn mark_done(shared: &SharedFile, pending: &Pending) -> Option<Job> {
    shared.ring().set_state(pending.position, SlotState::Done);
    None
}
