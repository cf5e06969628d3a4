//! What the leader works on: the payments it took from the ring, and what
//! it knows of the ledger to decide whether each needs work at all.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::domain::payment::Processor;
use crate::drain::fate::Known;
use crate::drain::router::{Route, Router};
use crate::store::Leader;
use crate::store::ring::{Pending, SlotState};

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

    /// Sets what it knows and the call it needs next, due at once or after
    /// its backoff: one rule for the drainer and the simulator.
    pub fn requeue(&mut self, known: Known, call: Call, back_off: bool, now: Instant) {
        self.known = known;
        self.call = call;
        if back_off {
            self.back_off(now);
        } else {
            self.not_before = now;
        }
    }

    /// What this payment, waiting for its next call, does at `now`: one
    /// decision for the drainer's loop and the simulator's.
    pub fn waiting(&self, router: &mut Router, now: Instant) -> Waiting {
        let Some(processor) = self.pinned_to() else {
            // Refused, not pinned: back in line once its backoff is over.
            return if self.not_before <= now {
                Waiting::Backlog
            } else {
                Waiting::Stay
            };
        };
        let route = match self.call {
            _ if self.not_before > now => Route::Hold,
            Call::LookUp => router.route_lookup(processor),
            Call::Pay => router.route_pinned(processor, now),
        };
        match route {
            Route::Hold => Waiting::Stay,
            route => Waiting::Send(route),
        }
    }
}

/// See [`Job::waiting`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// Not yet: it stays in the waiting list.
    Stay,
    /// An unpinned payment whose wait is over: to the front of the backlog,
    /// where the router may send it anywhere.
    Backlog,
    /// Its next call goes out on this route.
    Send(Route),
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
    pub fn load(leader: &Leader) -> Seen {
        let generation = leader.shared().generation();
        Seen {
            generation,
            paid: leader.paid_ids(),
            recorded: leader.recorded_positions(),
        }
    }
}

impl Seen {
    /// Decides what a published payment needs: `Some` to work on it; a
    /// payment that needs nothing is marked done in its slot.
    pub fn triage(&mut self, leader: &Leader, pending: Pending, now: Instant) -> Option<Job> {
        let state = pending.state.unwrap_or_else(|| {
            crate::log!(
                "rinha drainer: position {} has an unreadable state; treating it as unsent",
                pending.position
            );
            SlotState::Pending
        });
        if pending.generation > self.generation {
            // Accepted after a purge this loop has not seen yet.
            *self = Seen::load(leader);
        }
        let id = pending.payment.correlation_id;
        let known = match state {
            SlotState::Done => return None,
            _ if self.recorded.contains(&pending.position) => return mark_done(leader, &pending),
            _ if pending.generation < self.generation => return mark_done(leader, &pending),
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
                return mark_done(leader, &pending);
            }
            SlotState::Pending => Known::Unsent,
        };
        self.paid.insert(id);
        // A payment left in flight by an earlier leader may be stored
        // already: look it up first (no delay at the processor) rather than
        // POST it again and wait a whole delay for the 422 (see `fate`).
        let call = match known {
            Known::Pinned { .. } => Call::LookUp,
            Known::Unsent => Call::Pay,
        };
        Some(Job {
            pending,
            known,
            call,
            retries: 0,
            not_before: now,
        })
    }
}

/// Marks a payment done in its slot: it needs no more work.
pub fn mark_done(leader: &Leader, pending: &Pending) -> Option<Job> {
    // Refused only once replaced: the drainer then steps down.
    let _ = leader.discard(pending.position);
    None
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use uuid::Uuid;

    use super::*;
    use crate::config::Capacities;
    use crate::domain::payment::Payment;
    use crate::store::ring::Step;
    use crate::store::test_support::TempStore;

    const CAPS: Capacities = Capacities {
        ring_slots: 8,
        ledger_entries: 64,
    };

    fn payment(n: u128) -> Payment {
        Payment {
            correlation_id: Uuid::from_u128(n),
            amount_cents: 2005,
        }
    }

    /// A leader over the store's file, from a second handle on it.
    fn leader(store: &TempStore) -> Leader {
        let shared = crate::store::shared_file::SharedFile::open_or_create(store.path(), CAPS);
        Leader::for_test(std::sync::Arc::new(shared.unwrap()), Duration::from_secs(1))
    }

    /// The published payment at `position`.
    fn published(store: &TempStore, position: u64) -> Pending {
        let mut cursor = crate::store::ring::Cursor::new(position, Duration::from_secs(1));
        match cursor.step(&store.ring()) {
            Step::Payment(pending) => pending,
            other => panic!("position {position}: {other:?}"),
        }
    }

    #[test]
    fn a_payment_accepted_after_a_purge_the_leader_has_not_seen_is_sent() {
        // Issue 9, item 2: the leader's view is from before the purge; the
        // old triage dropped any payment of another generation, so one
        // accepted right after a purge was marked done, never paid,
        // although its client had a 200.
        let store = TempStore::new("intake-purge", CAPS);
        store.producer().accept(&payment(1)).unwrap();
        let leader = leader(&store);
        let mut seen = Seen::load(&leader);
        store.producer().purge();
        store.producer().accept(&payment(2)).unwrap();
        let now = Instant::now();
        let old = published(&store, 0);
        let fresh = published(&store, 1);
        assert_eq!(
            seen.triage(&leader, old, now).map(|job| job.known),
            Some(Known::Unsent),
            "the leader has not seen the purge yet: still its generation"
        );
        let job = seen.triage(&leader, fresh, now).expect("sent, not dropped");
        assert_eq!(job.pending.payment, payment(2));
        assert_eq!(seen.generation, 1, "the newer generation was loaded");
        // Once the purge is seen, the older generation's payment is done.
        let old = published(&store, 0);
        assert!(seen.triage(&leader, old, now).is_none());
        assert_eq!(store.ring().peek(0), {
            let mut done = old;
            done.state = Some(SlotState::Done);
            crate::store::ring::Peek::Published(done)
        });
    }

    #[test]
    fn a_payment_an_earlier_leader_left_in_flight_is_looked_up_first() {
        // Issue 15, item 3: it was sent again at once, and its 422 came a
        // whole processor delay later, after the processor had stored it.
        let store = TempStore::new("intake-inherited", CAPS);
        store.producer().accept(&payment(1)).unwrap();
        store.producer().accept(&payment(2)).unwrap();
        store.ring().set_state(
            0,
            SlotState::InFlight {
                processor: Processor::Default,
                requested_at_ms: 1_752_000_000_123,
            },
        );
        let leader = leader(&store);
        let mut seen = Seen::load(&leader);
        let now = Instant::now();
        let inherited = seen.triage(&leader, published(&store, 0), now).unwrap();
        assert_eq!(
            (inherited.known, inherited.call),
            (
                Known::Pinned {
                    processor: Processor::Default,
                    stamp: 1_752_000_000_123
                },
                Call::LookUp
            )
        );
        let fresh = seen.triage(&leader, published(&store, 1), now).unwrap();
        assert_eq!((fresh.known, fresh.call), (Known::Unsent, Call::Pay));
    }

    #[test]
    fn the_backoff_grows_and_is_bounded() {
        // Issue 9, item 4: an unanswered lookup (or retry) is not repeated
        // at once against an overloaded processor, nor left for ever.
        let store = TempStore::new("intake-backoff", CAPS);
        store.producer().accept(&payment(1)).unwrap();
        let now = Instant::now();
        let leader = leader(&store);
        let mut job = Seen::load(&leader)
            .triage(&leader, published(&store, 0), now)
            .unwrap();
        let waits: Vec<Duration> = (0..10)
            .map(|_| {
                job.back_off(now);
                job.not_before - now
            })
            .collect();
        assert_eq!(waits[0], RETRY_FIRST);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        assert_eq!(*waits.last().unwrap(), RETRY_MAX);
    }
}
