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
//!            │   └─ no proof (timeout, reset, 408, 425) ──┐ (look up  │        │
//!            │                                            ▼  first)   │        │
//!            │                       Pinned{processor, requestedAt} ──┘ (same  │
//!            │                          │  POST again, same stamp:   processor)│
//!            │                          │  200 ───────────────────────────────►┤
//!            │                          │  500/429 ──► again, later            │
//!            │                          │  no proof ──► LookUp                 │
//!            │                          │  422 or other 4xx ──► look up, later │
//!            │                          ▼                                      │
//!            │                 GET /payments/{id}: found with our stamp ───────┘
//!            │                   found with another stamp ──► Discard
//!            │                   404, and the POST may still be inside the processor
//!            │                     ──► look up again when it should be out
//!            │                   404, and it cannot be any more ──► POST again, later
//!            │                   no answer ──► look up again, later
//!
//! A payment whose outcome is unknown (a new leader's inheritance, an
//! answer lost to a reset or a timeout) is looked up before it is sent
//! again: a lookup costs no delay at the processor, while a second POST
//! of a payment it already stored is answered `422` only after its whole
//! delay, and the payment then enters the consistency check's window with
//! our summary behind the processor's. A 404 proves nothing while the
//! first POST may still be inside the processor's delay, so the lookup is
//! made again when the request should be out — judged from the stamp's
//! age against how long the processor took to store a payment, as last
//! heard ([`Proof`] carries both: this function stays pure; never how
//! fast it refused one, see `Router::store_latency`), a latency an earlier
//! leader left in the shared file for a new one — and only a 404 after that
//! sends the payment again (still safe if it was wrong: a duplicate is
//! answered `422`, and a `422` leads to a lookup). A new leader's first
//! lookup of an inherited payment waits for that moment too, but never
//! past 1.9 s after the stamp ([`first_lookup_in`]):
//! the processor stores a payment its delay after the stamp, and it is
//! inside the check's window 2 s after it, so each inherited payment is
//! looked up once, in that gap, rather than all of them at the takeover
//! and again and again. See [`look_again_in`].
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

use std::time::Duration;

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
    LookedUp {
        /// What it found.
        lookup: Lookup,
        /// How long ago the payment's pinned stamp was (when its POST left),
        /// 0 if in the future.
        age: Duration,
        /// How long the processor takes to store a payment, as last heard
        /// (`Router::store_latency`: a 200 or 422, its health's
        /// minResponseTime, or an earlier leader's); `None` before any.
        latency: Option<Duration>,
    },
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
    /// Ask again after `wait`: not found, but the POST may still be inside
    /// the processor's delay.
    LookUpIn(Known, Duration),
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

/// Margin over the processor's latency for the network and our own loop.
pub const LOOKUP_GRACE: Duration = Duration::from_millis(100);
/// The shortest wait between two lookups of one payment: a lookup that
/// found nothing is never repeated at once.
pub const LOOK_AGAIN_MIN: Duration = Duration::from_millis(20);
/// Between two lookups once the POST should have come out of the
/// processor and was not found (its delay rose, the request was lost, or
/// the processor stored it late): short, because a payment stored now is
/// inside the check's window soon (2 s after its stamp, and at a contest
/// delay of 1.5 s that is 500 ms after the store), and bounded, because a
/// lost request is looked up this often until it is sent again.
pub const LOOK_AGAIN_OVERDUE: Duration = Duration::from_millis(100);
/// How old a stamp may be before the consistency check's window holds it
/// (`[now − 15 s, now − 2 s]`): a payment stored before then must be
/// recorded before then too.
pub const CHECK_MARGIN: Duration = Duration::from_secs(2);
/// Between two lookups while no latency is known at all (a leader that
/// has heard nothing, and inherited nothing fresh, from a processor): it
/// cannot tell when the POST should come out, so it asks every 250 ms.
pub const LOOK_AGAIN_BLIND: Duration = Duration::from_millis(250);
/// With no latency known, how long a POST may stay inside the processor:
/// the contest's longest delay. Reached only while nothing answers; any
/// answer replaces it.
pub const UNKNOWN_LATENCY_BOUND: Duration = Duration::from_secs(5);

/// How long until a POST sent `age` ago to a processor whose latency is
/// `latency` should be out of it, stored or refused (its latency plus
/// [`LOOKUP_GRACE`], from its stamp): before then a lookup's 404 proves
/// nothing, so a lookup is wasted. Zero once due, and zero with no
/// latency known (nothing tells when: look at once).
///
/// A new leader's first lookup of each inherited payment waits this
/// long, so the lookups of a takeover go out one by one, as the payments
/// come out of the processor, not in a burst that would find most of
/// them not stored yet.
pub fn out_in(age: Duration, latency: Option<Duration>) -> Duration {
    latency.map_or(Duration::ZERO, |latency| {
        (latency + LOOKUP_GRACE).saturating_sub(age)
    })
}

/// How long until a payment whose POST left `age` ago nears the check's
/// window: [`CHECK_MARGIN`] less [`LOOKUP_GRACE`] after its stamp, zero
/// once there. A payment the processor stored by then must be recorded
/// by then, so no lookup of it is planned later than this.
fn edge_in(age: Duration) -> Duration {
    (CHECK_MARGIN - LOOKUP_GRACE).saturating_sub(age)
}

/// When a new leader first looks up a payment it inherited in flight:
/// when its POST should be out ([`out_in`]), but never past the window's
/// edge (`edge_in`). The latency it goes by is its predecessor's, and a
/// processor that queued part of a burst answers slower than it stores:
/// at an observed 1 975 ms, a payment stored 1.5 s after its stamp
/// would otherwise first be looked up 2 075 ms after it, and sit in the
/// window, stored and not recorded, for 75 ms.
pub fn first_lookup_in(age: Duration, latency: Option<Duration>) -> Duration {
    out_in(age, latency).min(edge_in(age))
}

/// After a lookup found nothing, when to look again: `Some(wait)` while
/// the payment's POST, sent `age` ago, may still be inside a processor
/// whose latency is `latency`; `None` once it cannot be (twice the
/// latency plus [`LOOKUP_GRACE`]: longer means the delay rose, and a POST
/// again is then safe), and the payment is sent again.
///
/// With a latency known, the next lookup is when the POST should be out
/// ([`out_in`], however long: one lookup then finds it), at least
/// [`LOOK_AGAIN_MIN`] on; past that, every [`LOOK_AGAIN_OVERDUE`]. With
/// none, every [`LOOK_AGAIN_BLIND`] for up to [`UNKNOWN_LATENCY_BOUND`].
pub fn look_again_in(age: Duration, latency: Option<Duration>) -> Option<Duration> {
    let Some(known) = latency else {
        return (age < UNKNOWN_LATENCY_BOUND).then_some(LOOK_AGAIN_BLIND);
    };
    if age >= known * 2 + LOOKUP_GRACE {
        return None;
    }
    // The latency may have risen since this lookup was planned (a loaded
    // processor, a new leader's burst): one planned past the window's edge
    // would find a payment stored meanwhile too late. So never later than
    // the edge; between the edge and the margin every LOOK_AGAIN_MIN, so
    // that one stored there is recorded before its stamp is in the window;
    // then every LOOK_AGAIN_OVERDUE.
    let edge = edge_in(age);
    Some(match out_in(age, latency) {
        due if due.is_zero() => LOOK_AGAIN_OVERDUE,
        _ if age < CHECK_MARGIN && edge.is_zero() => LOOK_AGAIN_MIN,
        due if age < CHECK_MARGIN && due > edge => edge.max(LOOK_AGAIN_MIN),
        due => due.max(LOOK_AGAIN_MIN),
    })
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
            _ => Action::LookUp(Known::Pinned { processor, stamp }),
        },
        (pinned @ Known::Pinned { .. }, Proof::Paid { outcome, .. }) => match outcome {
            Outcome::Rejected(status) if proves_nothing(status) => Action::LookUp(pinned),
            Outcome::Unknown => Action::LookUp(pinned),
            // Later, not at once: with a 404 sending again, a processor that
            // answers 4xx to everything would otherwise be hit round after
            // round with no pause while this payment holds the ring's head.
            Outcome::AlreadyStored | Outcome::Rejected(_) => Action::LookUpLater(pinned),
            _ => Action::SendLater(pinned),
        },
        (
            pinned @ Known::Pinned { processor, stamp },
            Proof::LookedUp {
                lookup,
                age,
                latency,
            },
        ) => match lookup {
            Lookup::Found {
                requested_at_ms, ..
            } if requested_at_ms == stamp => Action::Record { processor, stamp },
            Lookup::Found { .. } => Action::Discard(Why::OtherStored),
            Lookup::NotFound => match look_again_in(age, latency) {
                Some(wait) => Action::LookUpIn(pinned, wait),
                None => Action::SendLater(pinned),
            },
            Lookup::Unknown => Action::LookUpLater(pinned),
        },
        // Only a pinned payment is ever looked up; an unsent one simply
        // goes out again.
        (Known::Unsent, Proof::LookedUp { .. }) => Action::Send(Known::Unsent),
    }
}

#[cfg(test)]
mod tests;
