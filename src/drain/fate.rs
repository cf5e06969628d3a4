//! The exactly-once state machine of one payment, as a pure function.
//!
//! Everything the drainer does with money follows from [`next`]: given what
//! it knew of a payment before a call and what the call proved, it says
//! what to do. Keeping it free of I/O lets the table test below walk every
//! transition of the diagram:
//!
//! ```text
//!            ┌───────────── Refused (500, 429, never sent) ──────────┐
//!            ▼                                                        │
//!        Unsent ──POST──► 200 ─────────────────────────────► Record ◄─┼────────┐
//!            │   │                                                    │        │
//!            │   ├─ 422 (someone else's) ──────────────────► Discard  │        │
//!            │   ├─ other 4xx ──► Unsent, later (backoff) ────────────┤        │
//!            │   └─ no proof (timeout, reset, 408, 425) ──┐           │        │
//!            │                                            ▼           │        │
//!            │                       Pinned{processor, requestedAt} ──┘ (same  │
//!            │                          │  POST again, same stamp:   processor)│
//!            │                          │  200 ───────────────────────────────►┤
//!            │                          │  500/429/no proof ──► again, later   │
//!            │                          │  422 or other 4xx ──► look up, later │
//!            │                          ▼                                      │
//!            │                 GET /payments/{id}: found with our stamp ───────┘
//!            │                   found with another stamp ──► Discard
//!            │                   404 ──► POST again, later; no answer ──► look up again, later
//!
//! Every edge that leads back to a request at the pinned processor goes
//! through the bounded backoff (`intake::Job::back_off`), so no loop of
//! POST, lookup, POST runs without a pause.
//! ```
//!
//! Why each edge is safe:
//! - a payment is recorded only on a 200 to our own request, or when the
//!   processor shows it stored *our* `requestedAt`: the ledger then agrees
//!   with the processor to the millisecond;
//! - once a request may have reached a processor without a proof of its
//!   outcome, the payment is pinned there with its stamp: it is never sent
//!   to the other processor, so it cannot be paid twice;
//! - an unpinned 422 means another payment with this correlation id is
//!   stored (an earlier request of ours would have pinned it first);
//! - any other 4xx to a first request (a 404 or 403 from something in
//!   front of a restarting processor, a misconfigured URL, a 413) says the
//!   request was refused, not performed: nothing was stored, as with a
//!   500. An accepted payment is never given up for it: it goes back to
//!   the unsent ones after the bounded backoff, free to go to either
//!   processor, and the drainer counts and logs the answer
//!   (`rinha stat`'s `rejected`) so that an operator sees why nothing is
//!   paid. The router hears it as a failure, so payments move to the other
//!   processor after the hold rather than loop on this one.

use crate::domain::payment::Processor;
use crate::drain::client::{Lookup, Outcome};

/// What the drainer knows of a payment between two calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// Never sent, or every attempt proven not stored: any processor may take it.
    Unsent,
    /// Sent to `processor` with `stamp`, outcome unknown: only that processor,
    /// only that stamp, for ever.
    Pinned {
        /// Where it may have been stored.
        processor: Processor,
        /// The `requestedAt` it was sent with, ms since the epoch.
        stamp: i64,
    },
}

/// What one call proved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// The answer to `POST /payments` sent to `processor` with `stamp`.
    Paid {
        /// Where it was sent.
        processor: Processor,
        /// The `requestedAt` it carried.
        stamp: i64,
        /// What the answer proved.
        outcome: Outcome,
    },
    /// The answer to `GET /payments/{id}` at the pinned processor.
    LookedUp(Lookup),
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Stored by `processor` with `stamp`: append to the ledger, mark done.
    Record {
        /// Who stored it.
        processor: Processor,
        /// The `requestedAt` it stored.
        stamp: i64,
    },
    /// Never to be paid by us: mark done without a ledger entry.
    Discard(Why),
    /// Send again as `Known` says: anywhere if unsent, else to the pin.
    Send(Known),
    /// Send again as `Known` says, but not before the bounded backoff:
    /// the processor is busy, refused it, or the outcome is still unknown.
    SendLater(Known),
    /// Ask the pinned processor what it stored under the id.
    LookUp(Known),
    /// Ask again later: the lookup had no usable answer.
    LookUpLater(Known),
}

/// Why a payment is discarded, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// 422 to a first request: another payment holds this correlation id.
    IdTaken,
    /// The processor stored another payment under this id.
    OtherStored,
}

impl Why {
    /// One line for the log.
    pub fn describe(self) -> String {
        match self {
            Why::IdTaken => "the processor already holds its correlationId".into(),
            Why::OtherStored => "another payment with its correlationId was stored".into(),
        }
    }
}

/// 408 Request Timeout and 425 Too Early say the request was not processed
/// *as far as that hop knows*: a proxy in between may still have passed it
/// on, so they prove nothing. Every other 4xx but 422 is a refusal.
pub fn proves_nothing(status: u16) -> bool {
    matches!(status, 408 | 425)
}

/// The transition function; see the module docs.
pub fn next(known: Known, proof: Proof) -> Action {
    match (known, proof) {
        (
            _,
            Proof::Paid {
                processor,
                stamp,
                outcome: Outcome::Stored,
            },
        ) => Action::Record { processor, stamp },
        (
            Known::Unsent,
            Proof::Paid {
                processor,
                stamp,
                outcome,
            },
        ) => match outcome {
            Outcome::AlreadyStored => Action::Discard(Why::IdTaken),
            Outcome::Refused => Action::Send(Known::Unsent),
            Outcome::Rejected(status) if !proves_nothing(status) => {
                Action::SendLater(Known::Unsent)
            }
            _ => Action::SendLater(Known::Pinned { processor, stamp }),
        },
        (pinned @ Known::Pinned { .. }, Proof::Paid { outcome, .. }) => match outcome {
            Outcome::Rejected(status) if proves_nothing(status) => Action::SendLater(pinned),
            // Later, not at once: with a 404 sending again, a processor that
            // answers 4xx to everything would otherwise be hit round after
            // round with no pause while this payment holds the ring's head.
            Outcome::AlreadyStored | Outcome::Rejected(_) => Action::LookUpLater(pinned),
            _ => Action::SendLater(pinned),
        },
        (pinned @ Known::Pinned { processor, stamp }, Proof::LookedUp(lookup)) => match lookup {
            Lookup::Found {
                requested_at_ms, ..
            } if requested_at_ms == stamp => Action::Record { processor, stamp },
            Lookup::Found { .. } => Action::Discard(Why::OtherStored),
            Lookup::NotFound => Action::SendLater(pinned),
            Lookup::Unknown => Action::LookUpLater(pinned),
        },
        // Only a pinned payment is ever looked up; an unsent one simply
        // goes out again.
        (Known::Unsent, Proof::LookedUp(_)) => Action::Send(Known::Unsent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Processor = Processor::Default;
    const STAMP: i64 = 1_752_000_000_123;
    const PINNED: Known = Known::Pinned {
        processor: D,
        stamp: STAMP,
    };

    fn paid(outcome: Outcome) -> Proof {
        Proof::Paid {
            processor: D,
            stamp: STAMP,
            outcome,
        }
    }

    fn found(requested_at_ms: i64) -> Proof {
        Proof::LookedUp(Lookup::Found {
            requested_at_ms,
            amount_cents: 2005,
        })
    }

    #[test]
    fn every_edge_of_the_diagram() {
        let record = Action::Record {
            processor: D,
            stamp: STAMP,
        };
        let table = [
            // From Unsent.
            (Known::Unsent, paid(Outcome::Stored), record),
            (
                Known::Unsent,
                paid(Outcome::AlreadyStored),
                Action::Discard(Why::IdTaken),
            ),
            (
                Known::Unsent,
                paid(Outcome::Refused),
                Action::Send(Known::Unsent),
            ),
            // Issue 15, item 2: a refusal on a first attempt discarded an
            // accepted payment for good; it is kept, and retried later.
            (
                Known::Unsent,
                paid(Outcome::Rejected(400)),
                Action::SendLater(Known::Unsent),
            ),
            (
                Known::Unsent,
                paid(Outcome::Rejected(404)),
                Action::SendLater(Known::Unsent),
            ),
            (
                Known::Unsent,
                paid(Outcome::Rejected(403)),
                Action::SendLater(Known::Unsent),
            ),
            (
                Known::Unsent,
                paid(Outcome::Rejected(413)),
                Action::SendLater(Known::Unsent),
            ),
            (
                Known::Unsent,
                paid(Outcome::Rejected(301)),
                Action::SendLater(Known::Unsent),
            ),
            (
                Known::Unsent,
                paid(Outcome::Rejected(408)),
                Action::SendLater(PINNED),
            ),
            (
                Known::Unsent,
                paid(Outcome::Rejected(425)),
                Action::SendLater(PINNED),
            ),
            (
                Known::Unsent,
                paid(Outcome::Unknown),
                Action::SendLater(PINNED),
            ),
            // From Pinned: never anywhere else, never forgotten.
            (PINNED, paid(Outcome::Stored), record),
            (PINNED, paid(Outcome::Refused), Action::SendLater(PINNED)),
            (PINNED, paid(Outcome::Unknown), Action::SendLater(PINNED)),
            (
                PINNED,
                paid(Outcome::Rejected(408)),
                Action::SendLater(PINNED),
            ),
            // Issue 15, item 5: these two and the 404 below went at once.
            (
                PINNED,
                paid(Outcome::AlreadyStored),
                Action::LookUpLater(PINNED),
            ),
            (
                PINNED,
                paid(Outcome::Rejected(400)),
                Action::LookUpLater(PINNED),
            ),
            // Lookups.
            (PINNED, found(STAMP), record),
            (PINNED, found(STAMP - 1), Action::Discard(Why::OtherStored)),
            (
                PINNED,
                Proof::LookedUp(Lookup::NotFound),
                Action::SendLater(PINNED),
            ),
            (
                PINNED,
                Proof::LookedUp(Lookup::Unknown),
                Action::LookUpLater(PINNED),
            ),
            (Known::Unsent, found(STAMP), Action::Send(Known::Unsent)),
        ];
        for (known, proof, expected) in table {
            assert_eq!(next(known, proof), expected, "{known:?} + {proof:?}");
        }
    }

    #[test]
    fn an_accepted_payment_is_discarded_only_when_another_holds_its_id() {
        for status in 100..600 {
            let action = next(
                Known::Unsent,
                paid(crate::drain::client::outcome_of(status)),
            );
            let discarded = matches!(action, Action::Discard(_));
            assert_eq!(discarded, status == 422, "{status}: {action:?}");
        }
    }

    /// Every proof a pinned payment's call can get: its POST's answers if
    /// `pay`, else its lookup's.
    fn proofs_of(pay: bool) -> Vec<Proof> {
        if pay {
            [
                Outcome::Stored,
                Outcome::AlreadyStored,
                Outcome::Refused,
                Outcome::Unknown,
            ]
            .into_iter()
            .chain((300..500).map(Outcome::Rejected))
            .map(paid)
            .collect()
        } else {
            vec![
                found(STAMP),
                found(STAMP + 1),
                Proof::LookedUp(Lookup::NotFound),
                Proof::LookedUp(Lookup::Unknown),
            ]
        }
    }

    #[test]
    fn a_pinned_payment_never_goes_round_without_a_pause() {
        // Issue 15, item 5: POST → 4xx → lookup at once → 404 → POST at
        // once looped with no pause. Follow every chain of calls made at
        // once (no backoff between them) from a pinned payment's POST or
        // lookup: no chain may make the same call twice.
        let mut chains = vec![vec![true], vec![false]];
        while let Some(chain) = chains.pop() {
            let last = *chain.last().expect("chains are never empty");
            for proof in proofs_of(last) {
                let pay = match next(PINNED, proof) {
                    Action::Send(_) => true,
                    Action::LookUp(_) => false,
                    _ => continue,
                };
                assert!(
                    !chain.contains(&pay),
                    "{} again at once after {chain:?} (true: POST) and {proof:?}",
                    if pay { "POST" } else { "lookup" }
                );
                chains.push([chain.clone(), vec![pay]].concat());
            }
        }
    }

    #[test]
    fn a_pinned_payment_never_leaves_its_processor() {
        let outcomes = [
            Outcome::Stored,
            Outcome::AlreadyStored,
            Outcome::Refused,
            Outcome::Rejected(400),
            Outcome::Rejected(408),
            Outcome::Unknown,
        ];
        for outcome in outcomes {
            match next(PINNED, paid(outcome)) {
                Action::Send(known)
                | Action::SendLater(known)
                | Action::LookUp(known)
                | Action::LookUpLater(known) => assert_eq!(known, PINNED, "{outcome:?}"),
                Action::Record { processor, stamp } => assert_eq!((processor, stamp), (D, STAMP)),
                other => panic!("{outcome:?} led to {other:?}"),
            }
        }
    }
}
