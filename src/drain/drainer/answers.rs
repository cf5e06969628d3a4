//! Answers: what a request's end proves about its payment and its
//! processor, and what the drainer then does with the payment — record it,
//! discard it, or queue its next call.

use std::time::{Duration, Instant};

use crate::domain::payment::Processor;
use crate::domain::time::now_millis;
use crate::drain::client::{Lookup, Outcome, lookup_of, outcome_of};
use crate::drain::fate::{self, Action, Known, Proof};
use crate::drain::intake::{Call, Job};
use crate::drain::pool::{Ended, Finished, Request};
use crate::drain::router::Answer;
use crate::store::leader::RecordError;
use crate::store::ledger::Record;

use super::Drainer;

impl Drainer {
    /// A processor refused a payment (a 3xx, a 4xx but 422): counted for
    /// `rinha stat`, and said once a second at most, because the payment
    /// is kept and nothing will be paid while it goes on.
    fn rejected(&mut self, processor: Processor, status: u16, now: Instant) {
        self.leader.count_rejection(processor, status);
        let quiet = self
            .rejection_warning
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1));
        if !quiet {
            self.rejection_warning = Some(now);
            let (count, _) = self.leader.shared().rejections(processor);
            crate::log!(
                "rinha drainer: {} processor refused a payment with {status} ({count} so far); payments are kept and retried",
                processor.name()
            );
        }
    }

    /// A request ended: tell the router, then the payment's state machine.
    pub(super) fn settle(&mut self, finished: Finished, now: Instant) {
        let Some((job, request)) = self.out.remove(&finished.id) else {
            return;
        };
        let answer = match request {
            Request::Pay { .. } if finished.stale => Some(Answer::Stale),
            Request::Pay { .. } => {
                let outcome = outcome(&finished.ended);
                if let Outcome::Rejected(status) = outcome
                    && !fate::proves_nothing(status)
                {
                    self.rejected(finished.processor, status, now);
                }
                Some(answer_of(outcome))
            }
            Request::LookUp { .. } => None,
        };
        self.router
            .answered(finished.processor, finished.id, answer, now);
        self.conclude(job, request, finished.processor, &finished.ended, now);
    }

    pub(super) fn conclude(
        &mut self,
        job: Job,
        request: Request,
        processor: Processor,
        ended: &Ended,
        now: Instant,
    ) {
        let proof = match request {
            Request::Pay { stamp, .. } => Proof::Paid {
                processor,
                stamp,
                outcome: outcome(ended),
            },
            Request::LookUp { .. } => Proof::LookedUp {
                lookup: looked_up(ended),
                age: match job.known {
                    Known::Pinned { stamp, .. } => age_of(stamp),
                    Known::Unsent => Duration::ZERO,
                },
                latency: self.store_latency(processor),
            },
        };
        self.apply(job, fate::next(job.known, proof), now);
    }

    fn apply(&mut self, job: Job, action: Action, now: Instant) {
        match action {
            Action::Record { processor, stamp } => self.record(&job, processor, stamp),
            Action::Discard(why) => {
                crate::log!(
                    "rinha drainer: payment {} not recorded: {}",
                    job.pending.payment.correlation_id,
                    why.describe()
                );
                self.done(&job.pending);
            }
            // Proven not stored: any processor may take it, first in line.
            Action::Send(Known::Unsent) => self.put_back(job, now),
            // Refused: not stored either, but not at once (it was refused).
            Action::SendLater(Known::Unsent) => {
                let _ = self.leader.put_back(job.pending.position);
                self.queue(job, Known::Unsent, Call::Pay, true, now);
            }
            Action::Send(known) => self.queue(job, known, Call::Pay, false, now),
            Action::LookUp(known) => self.queue(job, known, Call::LookUp, false, now),
            Action::SendLater(known) => self.queue(job, known, Call::Pay, true, now),
            Action::LookUpLater(known) => self.queue(job, known, Call::LookUp, true, now),
            // Not the backoff: the wait is when the POST should be out.
            Action::LookUpIn(known, wait) => {
                let mut job = job;
                job.known = known;
                job.call = Call::LookUp;
                job.not_before = now + wait;
                self.later.push(job);
            }
        }
    }

    /// Puts a payment in the waiting list for its next `call`: at once, or
    /// after its backoff.
    fn queue(&mut self, mut job: Job, known: Known, call: Call, back_off: bool, now: Instant) {
        job.requeue(known, call, back_off, now);
        self.later.push(job);
    }

    /// Appends the confirmed payment to the ledger, then marks it done.
    fn record(&mut self, job: &Job, processor: Processor, stamp: i64) {
        let pending = &job.pending;
        let entry = Record {
            processor,
            requested_at_ms: stamp,
            amount_cents: pending.payment.amount_cents,
            generation: pending.generation,
            correlation_id: pending.payment.correlation_id,
            ring_position: pending.position,
        };
        // Replaced: not recorded by us; the successor looks it up.
        while self.leader.record(&entry) == Err(RecordError::Full) {
            // Unreachable while `accept` keeps room for every waiting
            // payment (it answers 503 first); never drop a paid one.
            crate::log!(
                "rinha drainer: ledger full; payment {} paid but not recorded yet",
                entry.correlation_id
            );
            // Short sleeps that keep the lease: a leader that waits here
            // is not frozen.
            std::thread::sleep(Duration::from_millis(100));
            if !self.leader.hold() {
                return;
            }
        }
    }
}

/// How long ago `stamp` (ms since the epoch) was; zero if in the future.
pub(super) fn age_of(stamp: i64) -> Duration {
    Duration::from_millis(now_millis().saturating_sub(stamp).max(0) as u64)
}

/// What a payment request's end proves.
fn outcome(ended: &Ended) -> Outcome {
    match ended {
        Ended::Answer(response) => outcome_of(response.status),
        Ended::NotSent => Outcome::Refused,
        Ended::Lost => Outcome::Unknown,
    }
}

/// What a lookup's end shows.
fn looked_up(ended: &Ended) -> Lookup {
    match ended {
        Ended::Answer(response) => lookup_of(response.status, &response.body),
        Ended::NotSent | Ended::Lost => Lookup::Unknown,
    }
}

/// What an outcome tells the router about the processor. A refusal (a
/// 3xx, a 4xx but 422) stored nothing, like a 500: the processor fails, so
/// payments are held and then move to the other one rather than loop on
/// it; 408 and 425 are a hop's timeout, silence. The simulator asks the same.
pub fn answer_of(outcome: Outcome) -> Answer {
    match outcome {
        Outcome::Stored | Outcome::AlreadyStored => Answer::Works,
        Outcome::Rejected(status) if fate::proves_nothing(status) => Answer::Silent,
        Outcome::Refused | Outcome::Rejected(_) => Answer::Fails,
        Outcome::Unknown => Answer::Silent,
    }
}
