//! Sending: which waiting payment goes out next, on which processor, and
//! what becomes of one that cannot leave (no socket, no route): the
//! drainer's side of a request before it is out.

use std::time::{Duration, Instant};

use crate::domain::payment::Processor;
use crate::domain::time::now_millis;
use crate::drain::fate::Known;
use crate::drain::intake::{Call, Job, Waiting};
use crate::drain::pool::{Ended, Request, StartError};
use crate::drain::router::Route;
use crate::store::layout;

use super::Drainer;

impl Drainer {
    /// Payments whose wait is over: a pinned one to its processor, if it
    /// may be sent to now; an unsent one back to the front of the backlog.
    pub(super) fn send_later(&mut self, now: Instant) {
        let mut index = 0;
        while index < self.later.len() {
            match self.later[index].waiting(&mut self.router, now) {
                Waiting::Stay => index += 1,
                Waiting::Backlog => {
                    let job = self.later.swap_remove(index);
                    self.backlog.push_front(job);
                }
                Waiting::Send(route) => {
                    let job = self.later.swap_remove(index);
                    if !self.send(job, route, now) && self.leader.deposed() {
                        return;
                    }
                }
            }
        }
    }

    /// Unsent payments, oldest first, for as long as the router sends them
    /// somewhere and the pace allows.
    pub(super) fn send_backlog(&mut self, now: Instant) {
        while let Some(job) = self.backlog.front() {
            if job.pending.generation < self.seen.generation {
                let job = self.backlog.pop_front().expect("front exists");
                self.done(&job.pending);
                continue;
            }
            if !self.pacer.take(now) {
                return;
            }
            let route = self.router.route(now);
            self.show_choice(route);
            if route == Route::Hold {
                self.pacer.give_back();
                return;
            }
            let job = self.backlog.pop_front().expect("front exists");
            if !self.send(job, route, now) {
                return;
            }
        }
    }

    /// Writes where payments go now into the file, when it changes: a
    /// probe is not a choice, the payments behind it are held.
    fn show_choice(&mut self, route: Route) {
        let choice = match route {
            Route::Send {
                processor: Processor::Default,
                probe: false,
            } => layout::RouteChoice::Default,
            Route::Send {
                processor: Processor::Fallback,
                probe: false,
            } => layout::RouteChoice::Fallback,
            Route::Send { probe: true, .. } | Route::Hold => layout::RouteChoice::Holding,
        };
        if choice != self.shown_choice {
            self.shown_choice = choice;
            self.leader.show_route(choice);
        }
    }

    /// Starts the job's next call on `route`'s processor; `false` when it
    /// had to be put back for want of a socket.
    fn send(&mut self, job: Job, route: Route, now: Instant) -> bool {
        let Route::Send { processor, .. } = route else {
            unreachable!("callers send only on Route::Send");
        };
        let payment = job.pending.payment;
        let request = match (job.call, job.known) {
            (Call::LookUp, _) => Request::LookUp {
                id: payment.correlation_id,
            },
            (Call::Pay, known) => {
                let stamp = match known {
                    Known::Pinned { stamp, .. } => stamp,
                    Known::Unsent => now_millis(),
                };
                // Written before the request leaves: a successor that finds
                // it knows the payment may be at this processor.
                if self
                    .leader
                    .dispatch(job.pending.position, processor, stamp)
                    .is_err()
                {
                    // Replaced: the payment is the successor's now.
                    return false;
                }
                Request::Pay {
                    id: payment.correlation_id,
                    cents: payment.amount_cents,
                    stamp,
                }
            }
        };
        match self
            .pool
            .start(self.poll.registry(), processor, request, now)
        {
            Ok(id) => {
                self.router.sent(route, id, now);
                self.out.insert(id, (job, request));
            }
            Err(StartError::Unreachable) => {
                self.router.unreachable(processor, now);
                self.conclude(job, request, processor, &Ended::NotSent, now);
            }
            Err(StartError::NoSocket) => {
                self.out_of_sockets(now);
                self.put_back(job, now);
                return false;
            }
        }
        true
    }

    /// Returns a job that could not be sent to where it came from: it is
    /// tried again on a later turn, in its place.
    pub(super) fn put_back(&mut self, mut job: Job, now: Instant) {
        match job.known {
            Known::Unsent => {
                let _ = self.leader.put_back(job.pending.position);
                self.backlog.push_front(job);
            }
            Known::Pinned { .. } => {
                job.back_off(now);
                self.later.push(job);
            }
        }
    }

    /// Says, once a second at most, that sends wait for sockets.
    fn out_of_sockets(&mut self, now: Instant) {
        let quiet = self
            .socket_warning
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1));
        if !quiet {
            self.socket_warning = Some(now);
            crate::log!(
                "rinha drainer: out of sockets (raise the descriptor limit, or lower --max-in-flight); sends wait"
            );
        }
    }
}
