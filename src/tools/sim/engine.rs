//! The drainer's loop on a virtual clock: src/drain/drainer.rs with the
//! sockets replaced by two [`ProcessorModel`]s and the ring by the k6 ramp.
//!
//! Each 1 ms tick does what one turn of the real loop does, in its order:
//! expire requests past the processor timeout (every 50 ms), settle the
//! answers that arrived (the real [`Router::answered`] and
//! [`fate::next`]), hand the health poller's answers to
//! [`Router::health`], take in the payments that arrived, send the pinned
//! ones whose wait is over ([`Router::route_pinned`]), then the backlog in
//! arrival order for as long as the [`Pacer`] and [`Router::route`] allow.
//! Answers reach the drainer [`RTT_MS`] after the processor is done.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use uuid::Uuid;

pub use super::outcomes::{AT_RISK_MS, Outcomes};
use super::processor::{Post, ProcessorModel, Reply};
use super::timeline::{Setting, Timeline};
use crate::domain::payment::{Health, Payment, Processor};
use crate::drain::client::{Lookup, Outcome};
use crate::drain::drainer::answer_of;
use crate::drain::fate::{self, Action, Known, Proof};
use crate::drain::intake::{Call, Job, Waiting};
use crate::drain::pacer::Pacer;
use crate::drain::router::{Policy, Route, Router};
use crate::store::ring::{Pending, SlotState};

/// From the drainer sending a request to the processor admitting it plus
/// from its answer to the drainer reading it: one loop turn.
pub const RTT_MS: u64 = 1;
/// How often the health poller gets an answer from each processor: its
/// 5 100 ms window, claimed on its 250 ms tick (src/drain/health.rs).
pub const HEALTH_EVERY_MS: u64 = 5_250;
/// When the first health answer arrives. Not 0: the real poller's phase
/// against a stage change is anything, and with answers at multiples of
/// 5 250 ms one lands exactly on a whole second (126 s, 252 s) where
/// stages change, showing the router a recovery at once that a real run
/// learns up to 5 s later. At 2 625 + 5 250·k no answer ever lands on a
/// whole second (625 + 250·k is never a multiple of 1 000).
pub const HEALTH_PHASE_MS: u64 = 2_625;
/// How often the real loop expires requests past their deadline.
const EXPIRY_EVERY_MS: u64 = 50;
/// Every payment of the contest: 20.05.
const AMOUNT_CENTS: u64 = 2005;

/// What the simulated drainer is run with: the router's policy and the
/// drainer's own flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The router's parameters.
    pub policy: Policy,
    /// `--max-send-rate`.
    pub max_send_rate: u32,
    /// `--processor-timeout-ms`.
    pub processor_timeout_ms: u64,
    /// Ring slots: payments accepted and not yet done, at most (the API
    /// answers 503 beyond).
    pub ring_slots: u64,
    /// How long after the end of the load the processors are read: what
    /// they stored by then counts. 0 is the contest's rule as
    /// bench/timeline.py's best scores it; k6's teardown reads about a
    /// second later (docs/sim.md).
    pub read_after_ms: u64,
    /// Print one line a second (`--trace`).
    pub trace: bool,
}

/// A request out: the payment's job and what was asked.
struct Out {
    job: Job,
    processor: Processor,
    /// `Some(stamp)` for a payment, `None` for a lookup.
    stamp: Option<u64>,
}

/// An answer on its way back to the drainer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Back {
    Paid(Reply),
    LookedUp(Option<u64>),
}

/// The simulated drainer and processors; see the module docs.
struct Engine<'t> {
    timeline: &'t Timeline,
    setup: Setup,
    base: Instant,
    router: Router,
    pacer: Pacer,
    processors: [ProcessorModel; 2],
    backlog: VecDeque<Job>,
    later: Vec<Job>,
    out: HashMap<u64, Out>,
    /// (deadline ms, request id), in sending order: deadlines grow.
    deadlines: VecDeque<(u64, u64)>,
    /// (arrives at ms, request id, answer).
    transit: BinaryHeap<Reverse<(u64, u64, Back)>>,
    next_id: u64,
    /// Fractional payments owed by the ramp.
    owed: f64,
    /// Accepted and not yet done (the ring's occupancy).
    unsettled: u64,
    outcomes: Outcomes,
}

/// Runs the drainer over `timeline` with `setup`; deterministic.
pub fn simulate(timeline: &Timeline, setup: Setup) -> Outcomes {
    let base = Instant::now();
    let mut engine = Engine {
        timeline,
        setup,
        base,
        router: Router::new(setup.policy, base),
        pacer: Pacer::new(setup.max_send_rate, base),
        processors: [ProcessorModel::new(), ProcessorModel::new()],
        backlog: VecDeque::new(),
        later: Vec::new(),
        out: HashMap::new(),
        deadlines: VecDeque::new(),
        transit: BinaryHeap::new(),
        next_id: 0,
        owed: 0.0,
        unsettled: 0,
        outcomes: Outcomes::default(),
    };
    let end = timeline.duration_ms() + setup.read_after_ms;
    for ms in 0..end {
        engine.turn(ms);
    }
    engine.finish(end)
}

impl Engine<'_> {
    fn instant(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    fn setting(&self, processor: Processor, ms: u64) -> Setting {
        let (default, fallback) = self.timeline.setting_at(ms);
        match processor {
            Processor::Default => default,
            Processor::Fallback => fallback,
        }
    }

    /// One turn of the drainer's loop at `ms`.
    fn turn(&mut self, ms: u64) {
        let now = self.instant(ms);
        self.run_processors(ms);
        if ms.is_multiple_of(EXPIRY_EVERY_MS) {
            self.expire(ms);
        }
        while let Some(&Reverse((at, id, back))) = self.transit.peek() {
            if at > ms {
                break;
            }
            self.transit.pop();
            self.settle(id, back, ms);
        }
        if ms >= HEALTH_PHASE_MS && (ms - HEALTH_PHASE_MS).is_multiple_of(HEALTH_EVERY_MS) {
            for processor in [Processor::Default, Processor::Fallback] {
                let setting = self.setting(processor, ms);
                let health = Health {
                    failing: setting.failing,
                    min_response_time_ms: u64::from(setting.delay_ms),
                };
                self.router.health(processor, health, now);
            }
        }
        self.arrive(ms);
        self.send_later(ms);
        self.send_backlog(ms);
        if self.setup.trace && ms.is_multiple_of(1000) {
            self.trace(ms, now);
        }
    }

    /// One line a second for `--trace`: the queues and the router's view.
    fn trace(&self, ms: u64, now: Instant) {
        let [default, fallback] = [Processor::Default, Processor::Fallback].map(|p| {
            (
                self.router.condition(p, now),
                self.processors[p as usize].load(),
            )
        });
        crate::log::report(&format!(
            "{:>4} s  backlog {:>5}  pinned {:>4}  out {:>4}  default {:?} (at work, waiting {:?})  fallback {:?} ({:?})\n",
            ms / 1000,
            self.backlog.len(),
            self.later.len(),
            self.out.len(),
            default.0,
            default.1,
            fallback.0,
            fallback.1
        ));
    }

    /// Both processors finish what is done by `ms`; the answers travel back.
    fn run_processors(&mut self, ms: u64) {
        let timeline = self.timeline;
        for processor in [Processor::Default, Processor::Fallback] {
            let setting_at = |at: u64| {
                let (default, fallback) = timeline.setting_at(at);
                [default, fallback][processor as usize]
            };
            let transit = &mut self.transit;
            self.processors[processor as usize].advance(ms, setting_at, |at, post, reply| {
                transit.push(Reverse((at + RTT_MS, post.request, Back::Paid(reply))));
            });
        }
    }

    /// Requests past their deadline end without an answer, like the pool's.
    fn expire(&mut self, ms: u64) {
        while let Some(&(deadline, id)) = self.deadlines.front() {
            if deadline > ms {
                return;
            }
            self.deadlines.pop_front();
            if let Some(out) = self.out.remove(&id) {
                self.conclude(id, out, None, ms);
            }
        }
    }

    /// The ramp's payments for this millisecond: VUs grow linearly from 1
    /// to `vus`, each posting once a second.
    fn arrive(&mut self, ms: u64) {
        if ms >= self.timeline.duration_ms() {
            return;
        }
        let duration = self.timeline.duration_s * 1000.0;
        let vus = 1.0 + (f64::from(self.timeline.vus) - 1.0) * (ms as f64 + 0.5) / duration;
        self.owed += vus / 1000.0;
        while self.owed >= 1.0 {
            self.owed -= 1.0;
            let index = self.outcomes.arrived;
            self.outcomes.arrived += 1;
            if self.unsettled >= self.setup.ring_slots {
                self.outcomes.refused += 1;
                continue;
            }
            self.unsettled += 1;
            self.backlog.push_back(job(index, self.instant(ms)));
        }
    }

    /// drainer/send.rs `send_later`.
    fn send_later(&mut self, ms: u64) {
        let now = self.instant(ms);
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
                    self.send(job, route, ms);
                }
            }
        }
    }

    /// drainer/send.rs `send_backlog`.
    fn send_backlog(&mut self, ms: u64) {
        let now = self.instant(ms);
        while !self.backlog.is_empty() {
            if !self.pacer.take(now) {
                return;
            }
            let route = self.router.route(now);
            if route == Route::Hold {
                self.pacer.give_back();
                return;
            }
            let job = self.backlog.pop_front().expect("not empty");
            self.send(job, route, ms);
        }
    }

    /// drainer/send.rs `send`, with the pool replaced by the processor model.
    fn send(&mut self, job: Job, route: Route, ms: u64) {
        let Route::Send { processor, .. } = route else {
            unreachable!("callers send only on Route::Send");
        };
        let id = self.next_id;
        self.next_id += 1;
        self.outcomes.requests += 1;
        let payment = job.pending.position as u32;
        let stamp = match (job.call, job.known) {
            (Call::LookUp, _) => None,
            (Call::Pay, Known::Pinned { stamp, .. }) => Some(stamp as u64),
            (Call::Pay, Known::Unsent) => Some(ms),
        };
        let setting = self.setting(processor, ms);
        let model = &mut self.processors[processor as usize];
        let back = match stamp {
            None => Some(Back::LookedUp(model.lookup(payment).map(|s| s.stamp))),
            Some(stamp) => {
                let post = Post {
                    request: id,
                    payment,
                    stamp,
                };
                model.post(post, ms, setting).map(Back::Paid)
            }
        };
        if let Some(back) = back {
            self.transit.push(Reverse((ms + RTT_MS, id, back)));
        }
        self.router.sent(route, id, self.instant(ms));
        self.out.insert(
            id,
            Out {
                job,
                processor,
                stamp,
            },
        );
        self.deadlines
            .push_back((ms + self.setup.processor_timeout_ms, id));
    }

    /// An answer reached the drainer: drainer/answers.rs `settle`.
    fn settle(&mut self, id: u64, back: Back, ms: u64) {
        // An answer to a request the drainer already gave up on is lost
        // with its closed connection.
        if let Some(out) = self.out.remove(&id) {
            self.conclude(id, out, Some(back), ms);
        }
    }

    /// Tells the router, then the payment's state machine; `None` is a
    /// request that timed out.
    fn conclude(&mut self, id: u64, out: Out, back: Option<Back>, ms: u64) {
        let now = self.instant(ms);
        let proof = match out.stamp {
            Some(stamp) => {
                let outcome = match back {
                    Some(Back::Paid(Reply::Stored)) => Outcome::Stored,
                    Some(Back::Paid(Reply::Duplicate)) => Outcome::AlreadyStored,
                    Some(Back::Paid(Reply::Failed | Reply::Busy)) => Outcome::Refused,
                    _ => Outcome::Unknown,
                };
                self.router
                    .answered(out.processor, id, Some(answer_of(outcome)), now);
                Proof::Paid {
                    processor: out.processor,
                    stamp: stamp as i64,
                    outcome,
                }
            }
            None => {
                self.router.answered(out.processor, id, None, now);
                let age = match out.job.known {
                    Known::Pinned { stamp, .. } => ms.saturating_sub(stamp as u64),
                    Known::Unsent => 0,
                };
                Proof::LookedUp {
                    lookup: match back {
                        Some(Back::LookedUp(Some(stamp))) => Lookup::Found {
                            requested_at_ms: stamp as i64,
                            amount_cents: AMOUNT_CENTS,
                        },
                        Some(Back::LookedUp(None)) => Lookup::NotFound,
                        _ => Lookup::Unknown,
                    },
                    age: Duration::from_millis(age),
                    latency: self.router.store_latency(out.processor),
                }
            }
        };
        self.apply(out.job, fate::next(out.job.known, proof), now);
    }

    /// drainer/answers.rs `apply`.
    fn apply(&mut self, mut job: Job, action: Action, now: Instant) {
        let (known, call, back_off) = match action {
            Action::Record { .. } => {
                self.outcomes.recorded += 1;
                self.unsettled -= 1;
                return;
            }
            Action::Discard(_) => {
                self.unsettled -= 1;
                return;
            }
            Action::Send(Known::Unsent) => {
                self.backlog.push_front(job);
                return;
            }
            Action::Send(known) => (known, Call::Pay, false),
            Action::LookUp(known) => (known, Call::LookUp, false),
            Action::SendLater(known) => (known, Call::Pay, true),
            Action::LookUpLater(known) => (known, Call::LookUp, true),
            Action::LookUpIn(known, wait) => {
                job.known = known;
                job.call = Call::LookUp;
                job.not_before = now + wait;
                self.later.push(job);
                return;
            }
        };
        job.requeue(known, call, back_off, now);
        self.later.push(job);
    }

    /// What the processors hold when they are read at `end`.
    fn finish(mut self, end: u64) -> Outcomes {
        self.run_processors(end);
        for processor in [Processor::Default, Processor::Fallback] {
            for stored in self.processors[processor as usize].stored() {
                if stored.at > end {
                    continue;
                }
                self.outcomes.stored[processor as usize] += 1;
                if stored.at - stored.stamp >= AT_RISK_MS {
                    self.outcomes.at_risk[processor as usize] += 1;
                }
            }
        }
        self.outcomes
    }
}

/// A payment the load just posted: index `index` in arrival order.
fn job(index: u64, now: Instant) -> Job {
    Job {
        pending: Pending {
            position: index,
            payment: Payment {
                correlation_id: Uuid::from_u128(u128::from(index)),
                amount_cents: AMOUNT_CENTS,
            },
            generation: 0,
            state: Some(SlotState::Pending),
        },
        known: Known::Unsent,
        call: Call::Pay,
        retries: 0,
        not_before: now,
    }
}

#[cfg(test)]
mod tests;
