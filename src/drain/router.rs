//! Where each payment goes — default, fallback, or nowhere yet — decided
//! by what it earns.
//!
//! # The economics (see docs/contest.md for the facts)
//!
//! - The default's fee is always the lower one (7 % against 10 % in the
//!   final test, 5 % against 15 % in the preview): with both able to store
//!   a payment at once, the default earns more.
//! - A payment not stored by a processor when the test ends earns nothing.
//!   Waiting is free only while the test goes on.
//! - One inconsistency costs 35 % of everything. The check compares the
//!   window `[now − 15 s, now − 2 s]`; a processor stores a payment after
//!   its delay, with the `requestedAt` we stamped at sending. A payment
//!   whose delay is under 2 s is stored before its stamp enters the window,
//!   so both sides always agree on it. One with a delay of 2 s or more is
//!   stored while its stamp is inside the window, and a check that lands
//!   between the processor's store and our record of the answer sees them
//!   disagree. So a processor whose latency is at or above
//!   [`Policy::safe_latency`] (1.75 s: 250 ms of margin for the processor's
//!   own work and our recording) is not used while the other can store the
//!   payment quickly, and one at or above [`Policy::max_latency`] (1.9 s)
//!   is not sent new payments at all: if neither can take them, they wait.
//! - Waiting for the default while the fallback works is a bet that the
//!   test does not end during the wait: it wins the fee difference (3
//!   points at the final's fees) on each held payment and loses everything
//!   the fallback would have earned (90 points) on each one if the test
//!   ends first. On a population of random timelines (`rinha sim
//!   population`, docs/sim.md) no hold tried — 25 s, 6 s, 2 s, or one sized
//!   from the fees against the chance of the test ending — beat sending to
//!   the fallback at once, at either fee set: [`Policy::max_hold`] is 0.
//!
//! # Each processor's condition
//!
//! From what its answers showed (latency of the last answer, 500/429 and
//! refused connections, the age of the oldest request still out) and its
//! health endpoint, each processor is in one [`Condition`]: `Ready`,
//! `Busy` (as many requests out as it processes at once), `Suspect` (a
//! request has been out much longer than the last latency: the delay just
//! rose, by how much is not known yet), `Slow` (latency at or above the safe
//! one) or `Failing` (its last answers stored nothing).
//!
//! A request given up on unanswered shows the processor is at least as
//! slow as the request was old: one that accepts connections and never
//! answers fails *slowly* after the first timeout. A keep-alive connection
//! the server closed as idle just as a request went out on it
//! ([`Answer::Stale`]) shows nothing at all.
//!
//! # The policy
//!
//! In this order, for a payment that may go anywhere:
//!
//! 1. A `Ready` default takes it.
//! 2. A `Suspect` default keeps it waiting: within `safe_latency` the
//!    requests out tell whether it is still safe, and waiting that long
//!    costs nothing; paying the fallback would cost the fee difference.
//! 3. A `Failing` default is probed with it, one probe per
//!    [`PROBE_INTERVAL`] and at most [`MAX_PROBES`] out: a failing
//!    processor stores nothing, so a probe risks nothing, and one sent just
//!    after a recovery sees it. When it fails *slowly* (latency at or
//!    above the safe one), a probe out when it recovers is stored seconds
//!    after its stamp, inside the check's window: then only
//!    [`MAX_SLOW_PROBES`], spread over one delay, so a recovery is seen
//!    within a quarter of the old delay (plus the new one) and at most
//!    that many payments land late. One that never answers is not probed:
//!    its health answer (every 5 s) tells the recovery.
//! 4. The fallback, if `Ready`, takes it when the default is `Busy`
//!    (overflow: more waiting would only grow the backlog), `Slow` (it will
//!    not get safe by waiting on our side), or `Failing` for at least
//!    [`Policy::max_hold`] — at once by default (see the economics above):
//!    the probes of rule 3 hand the payments back to the default within
//!    [`PROBE_INTERVAL`] of its recovery.
//! 5. A `Failing` fallback the payment may go to is probed like the default.
//! 6. When neither takes it, a `Slow` processor still below
//!    [`Policy::max_latency`] does, the default first: it stores the payment
//!    before the stamp enters the check's window, and a late payment is
//!    better than none. One at or past that latency never does: what it
//!    stores lands inside the window, and a check that falls between its
//!    store and our record costs 35 % of everything.
//! 7. Otherwise the payment waits.
//!
//! A payment whose outcome is unknown is pinned to its processor and only
//! ever sent there, as a probe while that processor is failing.
//!
//! Nothing here knows the test's timeline: every input is observed.

use std::time::{Duration, Instant};

use crate::domain::payment::{Health, Processor};

mod lane;

pub use lane::Condition;
use lane::Lane;

/// Lookups a processor may have out beyond `max_in_flight`. A lookup is
/// answered at once (it is never delayed), and it must not wait behind
/// payments that each hold a slot for the processor's whole delay: a
/// payment a dead leader left in flight is stored at its stamp plus the
/// delay, and unless its lookup records it before the stamp enters the
/// check's window (2 s), the window disagrees. A new leader sending 800
/// payments at once would otherwise take every slot for that long.
pub const LOOKUP_ROOM: usize = 64;

/// How often a probe may test a failing processor.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// Probes out at once on one failing processor: enough that one leaves
/// every interval even when each takes 5 s to fail.
pub const MAX_PROBES: usize = 64;

/// Probes out at once on a processor that fails *slowly* (latency at or
/// above the safe one): each is stored late, inside the check's window, if
/// the processor recovers while the probe waits out its delay, so only a
/// few, spread over one delay. Without them a recovery is heard only
/// through the health endpoint, up to 5 s late, while the backlog grows.
pub const MAX_SLOW_PROBES: u32 = 4;

/// The routing parameters, all observable quantities: no timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How long payments wait for a failing default before a working
    /// fallback takes them (0: at once; see the module docs).
    pub max_hold: Duration,
    /// Latency at or above which a processor is not used while the other
    /// can take payments (see the module docs).
    pub safe_latency: Duration,
    /// Latency at or above which a processor is sent no new payment at
    /// all: the consistency check's 2 s margin less 100 ms for our record.
    pub max_latency: Duration,
    /// Requests out at once to one processor (the official one works on
    /// 800 at once and queues 500 more).
    pub max_in_flight: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_hold: Duration::ZERO,
            safe_latency: Duration::from_millis(1750),
            max_latency: Duration::from_millis(1900),
            max_in_flight: 800,
        }
    }
}

/// Where one payment goes now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Send it; `probe` when it tests a failing processor.
    Send {
        /// Where.
        processor: Processor,
        /// Whether this request is a probe.
        probe: bool,
    },
    /// Keep it.
    Hold,
}

/// How a request ended, as far as routing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The processor works: 200 or 422.
    Works,
    /// It stored nothing: 5xx, 429, another 4xx or a 3xx, connection refused.
    Fails,
    /// No answer (timeout, reset): it may be slow or gone, and it is at
    /// least as slow as the request was old when given up on.
    Silent,
    /// The request went out on a keep-alive connection reused after
    /// idling, which the peer closed before any byte of an answer: the
    /// server dropped it as idle while the request was on its way. That
    /// says nothing about the processor.
    Stale,
}

/// The drainer's routing state. Single-threaded: the drainer's event loop
/// owns it and tells it every request sent and every answer.
#[derive(Debug)]
pub struct Router {
    policy: Policy,
    lanes: [Lane; 2],
    /// One more than the largest request id sent.
    next_id: u64,
}

impl Router {
    /// Both processors presumed ready.
    pub fn new(policy: Policy, now: Instant) -> Router {
        Router {
            policy,
            lanes: [Lane::new(now), Lane::new(now)],
            next_id: 0,
        }
    }

    /// A processor's condition now.
    pub fn condition(&self, processor: Processor, now: Instant) -> Condition {
        self.lanes[processor as usize].condition(&self.policy, now)
    }

    /// The latency of `processor`'s last answer (or its health's
    /// minResponseTime); zero before any. Routing's own view, read only by
    /// the tests: the drainer judges lookups by [`Router::store_latency`].
    #[cfg(test)]
    fn latency(&self, processor: Processor) -> Duration {
        self.lanes[processor as usize].latency
    }

    /// How long `processor` takes to store a payment, as last heard: the
    /// age of the newest answer that proved a store (200, or 422 for one
    /// stored before, which also comes after the whole delay), raised by
    /// a request that stayed unanswered longer; its health's
    /// minResponseTime; or what an earlier leader left. `None` before any.
    ///
    /// Not the routing latency (the newest answer's age, whatever it
    /// said): a processor that refuses (429 when full, 500 when failing)
    /// answers at once, while what it admitted is stored a whole delay
    /// later. A new leader that took the 0 ms of a 429 as
    /// the time to store judged every inherited payment's 404 final and
    /// sent them all again; each came back 422 a whole delay later, long
    /// after its stamp was inside the check's window (`faults`).
    pub fn store_latency(&self, processor: Processor) -> Option<Duration> {
        self.lanes[processor as usize].stores_in
    }

    /// What an earlier leader last observed of `processor`'s latency: taken
    /// as if this router had heard it, until its own answers replace it.
    /// Without it a new leader's latency is zero for a whole delay, and its
    /// first requests make the processor look suspect, or a slow one ready.
    pub fn inherit_latency(&mut self, processor: Processor, latency: Duration) {
        let lane = &mut self.lanes[processor as usize];
        lane.latency = latency;
        lane.stores_in = Some(latency);
    }

    /// Where a payment that may go anywhere goes now (see the module docs).
    pub fn route(&mut self, now: Instant) -> Route {
        use Condition::*;
        use Processor::{Default, Fallback};
        let default = self.condition(Default, now);
        let fallback = self.condition(Fallback, now);
        let fallback_allowed = match default {
            Busy | Slow => true,
            Failing => self.failing_for(Default, now) >= self.policy.max_hold,
            Ready | Suspect => false,
        };
        if default == Ready {
            self.send(Default)
        } else if default == Suspect {
            Route::Hold
        } else if default == Failing && self.take_probe(Default, now) {
            self.probe(Default)
        } else if fallback_allowed && fallback == Ready {
            self.send(Fallback)
        } else if fallback_allowed && fallback == Failing && self.take_probe(Fallback, now) {
            self.probe(Fallback)
        } else {
            self.last_resort(default, fallback, now)
        }
    }

    /// Rule 6: a slow processor still below `max_latency` takes the
    /// payment rather than none doing so.
    fn last_resort(&self, default: Condition, fallback: Condition, now: Instant) -> Route {
        let in_margin = |processor: Processor| {
            self.lanes[processor as usize].slowest(now) < self.policy.max_latency
        };
        match (default, fallback) {
            (Condition::Slow, _) if in_margin(Processor::Default) => self.send(Processor::Default),
            (_, Condition::Slow) if in_margin(Processor::Fallback) => {
                self.send(Processor::Fallback)
            }
            _ => Route::Hold,
        }
    }

    /// Where a payment pinned to `processor` goes now: there, or nowhere.
    pub fn route_pinned(&mut self, processor: Processor, now: Instant) -> Route {
        match self.condition(processor, now) {
            Condition::Busy => Route::Hold,
            Condition::Failing if self.take_probe(processor, now) => self.probe(processor),
            Condition::Failing => Route::Hold,
            _ => self.send(processor),
        }
    }

    /// A payment request to `processor`, unless it has `max_in_flight`
    /// requests out already: the limit holds whatever the condition (a
    /// `Slow` or `Suspect` processor may be full too), so that the
    /// connections and the drainer's memory stay bounded.
    fn send(&self, processor: Processor) -> Route {
        if !self.has_room(processor) {
            return Route::Hold;
        }
        Route::Send {
            processor,
            probe: false,
        }
    }

    /// Whether `processor` has fewer than `max_in_flight` requests out,
    /// payments and lookups together.
    fn has_room(&self, processor: Processor) -> bool {
        self.lanes[processor as usize].out.len() < self.policy.max_in_flight
    }

    /// Where a lookup of a payment pinned to `processor` goes now: a lookup
    /// changes nothing at the processor, so there whatever its condition,
    /// within the in-flight limit plus [`LOOKUP_ROOM`].
    pub fn route_lookup(&self, processor: Processor) -> Route {
        let out = self.lanes[processor as usize].out.len();
        if out >= self.policy.max_in_flight + LOOKUP_ROOM {
            return Route::Hold;
        }
        Route::Send {
            processor,
            probe: false,
        }
    }

    fn probe(&self, processor: Processor) -> Route {
        Route::Send {
            processor,
            probe: true,
        }
    }

    fn take_probe(&mut self, processor: Processor, now: Instant) -> bool {
        let lane = &mut self.lanes[processor as usize];
        let due = lane.probe_due(&self.policy, now);
        if due {
            lane.next_probe = now + lane.probing(&self.policy).1;
        }
        due
    }

    fn failing_for(&self, processor: Processor, now: Instant) -> Duration {
        self.lanes[processor as usize]
            .failing_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// A request `id` went out to `route`'s processor at `now`.
    pub fn sent(&mut self, route: Route, id: u64, now: Instant) {
        if let Route::Send { processor, probe } = route {
            let lane = &mut self.lanes[processor as usize];
            lane.out.insert(id, (now, probe));
            lane.probes_out += usize::from(probe);
            self.next_id = self.next_id.max(id + 1);
        }
    }

    /// Request `id` to `processor` ended at `now`. `answer` is what a
    /// payment's end says about the processor; `None` for a lookup, which
    /// says nothing about its payments, and [`Answer::Stale`] says nothing
    /// either: both only end the request.
    pub fn answered(
        &mut self,
        processor: Processor,
        id: u64,
        answer: Option<Answer>,
        now: Instant,
    ) {
        let lane = &mut self.lanes[processor as usize];
        let Some((sent, probe)) = lane.out.remove(&id) else {
            return;
        };
        lane.probes_out -= usize::from(probe);
        let Some(answer) = answer.filter(|&a| a != Answer::Stale) else {
            return;
        };
        if id < lane.newest {
            return;
        }
        lane.newest = id;
        let age = now.saturating_duration_since(sent);
        lane.latency = match answer {
            // Unanswered for `age`: at least that slow. A processor that
            // never answers is then heard through its health endpoint, and
            // is not probed with real payments that would each stay there
            // until the timeout.
            Answer::Silent => lane.latency.max(age),
            _ => age,
        };
        lane.stores_in = match answer {
            Answer::Works => Some(age),
            Answer::Silent => lane.stores_in.map(|stores_in| stores_in.max(age)),
            _ => lane.stores_in,
        };
        lane.silent = answer == Answer::Silent;
        match answer {
            Answer::Works => lane.recover(self.next_id),
            _ => lane.fail(&self.policy, now),
        }
        self.log_change(processor, now);
    }

    /// No connection to `processor` could even be started.
    pub fn unreachable(&mut self, processor: Processor, now: Instant) {
        self.lanes[processor as usize].fail(&self.policy, now);
        self.log_change(processor, now);
    }

    /// What the health endpoint said: its delay replaces the latency (it is
    /// the configured one, and newer than any answer still to come), and
    /// its failure flag opens or closes the circuit.
    pub fn health(&mut self, processor: Processor, health: Health, now: Instant) {
        let lane = &mut self.lanes[processor as usize];
        lane.latency = Duration::from_millis(health.min_response_time_ms);
        lane.stores_in = Some(lane.latency);
        lane.silent = false;
        lane.fresh_from = self.next_id;
        lane.newest = self.next_id;
        if health.failing {
            lane.fail(&self.policy, now);
        } else {
            lane.recover(self.next_id);
        }
        self.log_change(processor, now);
    }

    fn log_change(&mut self, processor: Processor, now: Instant) {
        let lane = &self.lanes[processor as usize];
        let condition = lane.condition(&self.policy, now);
        let quiet = match lane.logged {
            Some((last, at)) => {
                last == condition || now.saturating_duration_since(at) < Duration::from_secs(1)
            }
            None => condition == Condition::Ready,
        };
        if quiet {
            return;
        }
        crate::log!(
            "rinha drainer: {} processor {:?} (latency {} ms, {} out)",
            processor.name(),
            condition,
            lane.latency.as_millis(),
            lane.out.len()
        );
        self.lanes[processor as usize].logged = Some((condition, now));
    }
}

#[cfg(test)]
mod tests;
