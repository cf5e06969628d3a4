//! Forwarding pending payments to the processors: the leader's job.
//!
//! One thread runs one mio poll: it reads payments from the ring, asks the
//! [`Router`] where each goes, keeps hundreds of requests out at once on
//! the [`Pool`]'s keep-alive connections, and settles each answer with the
//! pure state machine in [`fate`]. Nothing blocks: a payment whose outcome
//! is unknown waits in a list for its next attempt without holding a
//! thread or a connection that others need.
//!
//! Every step is written to the payment's ring slot before it is taken, so
//! a leader that dies at any instant leaves its successor exactly what it
//! needs:
//!
//! ```text
//!  Pending ──send──► InFlight{processor, requestedAt} ──stored──► ledger entry ──► Done
//!     ▲                         │
//!     └── proven not stored ────┘   (unknown outcome: stays InFlight, pinned)
//! ```
//!
//! A payment is recorded only with the `requestedAt` the processor stored,
//! so the summary agrees with the processors' own to the millisecond; it is
//! recorded once, because its ledger entry carries its ring position and a
//! new leader skips positions already in the ledger; and it is paid once,
//! because an unknown outcome is never re-routed and a correlation id
//! already paid in this generation is never sent again.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Events, Poll};

use crate::config::Capacities;
use crate::domain::payment::{Health, Processor};
use crate::domain::time::now_millis;
use crate::drain::client::{HealthClient, Lookup, Outcome, lookup_of, outcome_of};
use crate::drain::fate::{self, Action, Known, Proof};
use crate::drain::health;
use crate::drain::intake::{Call, Job, Seen, Waiting};
use crate::drain::pacer::Pacer;
use crate::drain::pool::{Ended, Finished, Pool, Request, StartError};
use crate::drain::router::{Answer, Policy, Route, Router};
use crate::drain::wire::MAX_RESPONSE;
use crate::store::Leader;
use crate::store::layout;
use crate::store::leader::RecordError;
use crate::store::ledger::Record;
use crate::store::ring::{Pending, Step};

/// How long a claimed position may stay unpublished before the leader
/// decides its producer died and abandons it. Longer than a CFS throttling
/// period (100 ms), so a merely throttled producer is rarely abandoned (and
/// if it is, it simply pushes again).
pub const ABANDON_AFTER: Duration = Duration::from_millis(250);

/// The longest the loop sleeps: a payment pushed into an idle ring waits
/// at most this long before it is read (the ring has no doorbell).
const TICK: Duration = Duration::from_millis(2);

/// Payments read from the ring and not yet done, at most. Reading ahead
/// lets the router see the backlog; the ring keeps the rest.
const READ_AHEAD: usize = 16_384;

/// How often requests are checked against their deadline, and the
/// latencies written to the file for the next leader.
const EXPIRY_EVERY: Duration = Duration::from_millis(50);

/// What one request out may hold at most, in bytes: its connection's
/// answer buffer (a processor may send up to `MAX_RESPONSE` before the
/// answer is refused) and request buffer (512 B), the connection itself,
/// and its entries in the drainer's and the router's maps.
const PER_REQUEST: usize = MAX_RESPONSE + 2048;

/// Bytes per entry of a hash set at worst: the element and a control
/// byte, at a load factor of 7/8, just after the table doubled.
const fn per_hashed(size: usize) -> usize {
    (size + 1) * 16 / 7 + 1
}

/// How old a latency an earlier leader left in the file may be and still
/// be taken (see `layout::ObservedLatency`): a leader that dies writes it
/// until its last 50 ms, so a takeover finds it fresh; an older one was
/// left by a leader frozen or long gone, and by then the health endpoint
/// (asked every 5 s) tells more recent news.
const INHERIT_LATENCY_WITHIN: Duration = Duration::from_secs(5);

/// What the drainer may allocate at most, in bytes: the figure the memory
/// budget (`--memory-budget-mb`) sets aside for it in the leader's
/// container. Each part is bounded by a flag or a constant:
///
/// ```text
///   requests out      2 processors × --max-in-flight × 10 KiB (PER_REQUEST):
///                     payments and lookups together (the router holds
///                     either at a processor with --max-in-flight out), and
///                     never more connections than requests out at once
/// + read ahead        READ_AHEAD jobs, in the backlog or the waiting list,
///                     each of which may once have held them all: twice,
///                     twice their size (collections double)
/// + paid ids          every id of the generation, at most --ledger-entries,
///                     39 B each in a hash set (16 B, control byte, load
///                     factor, doubling; a purge's reload holds the old
///                     generation's and the new one's, no more than the
///                     ledger in all)
/// + recorded          ring positions the ledger holds past the ring's head,
///                     at most --ring-slots, 21 B each, twice while a purge
///                     reloads them
/// + stacks            1 MiB (the loop's and the health poller's, as touched)
/// ```
///
/// With the defaults: 15.6 + 6 + 9.8 + 2.6 + 1 ≈ 35 MiB at worst; a
/// contest run (90 000 ids, answers of a few dozen bytes) touches about 8
/// of them.
pub fn memory_bound(max_in_flight: usize, capacities: Capacities) -> usize {
    let requests = 2 * max_in_flight * PER_REQUEST;
    let read_ahead = 2 * READ_AHEAD * 2 * std::mem::size_of::<Job>();
    let paid_ids = capacities.ledger_entries as usize * per_hashed(16);
    let positions = capacities.ring_slots.min(capacities.ledger_entries) as usize;
    let recorded = 2 * positions * per_hashed(8);
    requests + read_ahead + paid_ids + recorded + (1 << 20)
}

/// What the drainer is told by the command that starts it: where the
/// processors are and how to treat them (the router's [`Policy`] and the
/// pool's limits).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Base URL of the cheap processor.
    pub default_url: String,
    /// Base URL of the dear processor.
    pub fallback_url: String,
    /// How long a call may take before its outcome counts as unknown.
    pub processor_timeout: Duration,
    /// Where each payment goes (see [`Policy`]).
    pub policy: Policy,
    /// Payments sent per second at most (see [`Pacer`]).
    pub max_send_rate: u32,
}

/// The leader's state; see the module docs.
struct Drainer {
    leader: Leader,
    poll: Poll,
    events: Events,
    pool: Pool,
    router: Router,
    pacer: Pacer,
    seen: Seen,
    /// Unsent payments in arrival order.
    backlog: VecDeque<Job>,
    /// Pinned payments waiting for their next attempt.
    later: Vec<Job>,
    /// Requests out, by the pool's id.
    out: HashMap<u64, (Job, Request)>,
    finished: Vec<Finished>,
    health: Receiver<(Processor, Health)>,
    last_expiry: Instant,
    /// The choice last written to the file for `rinha stat`.
    shown_choice: layout::RouteChoice,
    /// When running out of sockets was last logged.
    socket_warning: Option<Instant>,
    /// When a refused payment was last logged.
    rejection_warning: Option<Instant>,
    /// Per processor, whether the router has heard its latency yet (an
    /// answer to a POST, a health answer, or a fresh latency an earlier
    /// leader left in the file): until then its latency says nothing, and a
    /// lookup's 404 is judged without it (`fate`).
    heard: [bool; 2],
}

/// Drains the ring for as long as `leader` leads: what the election's
/// winner does with its [`Leader`]. Returns once a newer leader replaced
/// it (it was frozen past its lease), having written nothing since.
pub fn run(leader: Leader, settings: &Settings) {
    let (answers, health_answers) = crossbeam_channel::bounded(16);
    let clients = [&settings.default_url, &settings.fallback_url]
        .map(|url| HealthClient::new(url, settings.processor_timeout));
    health::spawn(leader.shared().clone(), clients, answers);
    let mut drainer = Drainer::new(leader, settings, health_answers)
        .unwrap_or_else(|error| panic!("the drainer cannot poll: {error}"));
    while drainer.turn() {}
    let (refused, late) = drainer.leader.fencing();
    crate::log!(
        "rinha drainer (pid {}): replaced after epoch {}: stepping down with {} requests out; \
         fenced writes refused {refused}, landed after replacement {late}",
        std::process::id(),
        drainer.leader.epoch(),
        drainer.out.len()
    );
}

impl Drainer {
    fn new(
        leader: Leader,
        settings: &Settings,
        health: Receiver<(Processor, Health)>,
    ) -> std::io::Result<Drainer> {
        let now = Instant::now();
        let seen = Seen::load(&leader);
        crate::log!(
            "rinha drainer: leading from position {} ({} waiting, {} recorded but not marked done)",
            leader.position(),
            leader.waiting(),
            seen.recorded.len()
        );
        let mut drainer = Drainer {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            pool: Pool::new(
                &settings.default_url,
                &settings.fallback_url,
                settings.processor_timeout,
            ),
            router: Router::new(settings.policy, now),
            pacer: Pacer::new(settings.max_send_rate, now),
            seen,
            backlog: VecDeque::new(),
            later: Vec::new(),
            out: HashMap::new(),
            finished: Vec::new(),
            health,
            last_expiry: now,
            shown_choice: layout::RouteChoice::Unknown,
            socket_warning: None,
            rejection_warning: None,
            heard: [false; 2],
            leader,
        };
        drainer.inherit_latencies();
        Ok(drainer)
    }

    /// Starts from the latencies the previous leader saw, if it wrote them
    /// lately: without them this leader could not tell, for a whole delay,
    /// when the payments it inherited in flight come out of the processor
    /// (`fate::out_in`), and would look them up blindly, hundreds at a time.
    fn inherit_latencies(&mut self) {
        let now_ms = now_millis().max(0) as u64;
        for processor in [Processor::Default, Processor::Fallback] {
            let Some(seen) = self.leader.shared().observed_latency(processor) else {
                continue;
            };
            let age = Duration::from_millis(now_ms.saturating_sub(seen.at_ms));
            if age > INHERIT_LATENCY_WITHIN {
                continue;
            }
            let latency = Duration::from_millis(seen.latency_ms);
            self.router.inherit_latency(processor, latency);
            self.heard[processor as usize] = true;
            crate::log!(
                "rinha drainer: {} processor's latency was {} ms {} ms ago",
                processor.name(),
                seen.latency_ms,
                age.as_millis()
            );
        }
    }

    /// Writes the latencies this leader knows into the file, for the next.
    fn publish_latencies(&self) {
        let now_ms = now_millis().max(0) as u64;
        for processor in [Processor::Default, Processor::Fallback] {
            if let Some(latency) = self.latency(processor) {
                let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
                self.leader
                    .shared()
                    .record_latency(processor, latency_ms, now_ms);
            }
        }
    }

    /// `processor`'s latency, if heard (or inherited).
    fn latency(&self, processor: Processor) -> Option<Duration> {
        self.heard[processor as usize].then(|| self.router.latency(processor))
    }

    /// One round of the loop: wait, settle what finished, take in, send;
    /// false once this process no longer leads. The lease is checked (and
    /// renewed) after the wait, before any answer is settled.
    fn turn(&mut self) -> bool {
        self.wait_for_events();
        if !self.leader.hold() {
            return false;
        }
        let now = Instant::now();
        if now.saturating_duration_since(self.last_expiry) >= EXPIRY_EVERY {
            self.last_expiry = now;
            self.pool
                .expire(self.poll.registry(), now, &mut self.finished);
            self.publish_latencies();
        }
        let mut finished = std::mem::take(&mut self.finished);
        for done in finished.drain(..) {
            self.settle(done, now);
        }
        self.finished = finished;
        while let Ok((processor, health)) = self.health.try_recv() {
            self.router.health(processor, health, now);
            self.heard[processor as usize] = true;
        }
        self.check_generation();
        self.read_ring(now);
        self.send_later(now);
        self.send_backlog(now);
        let _ = self.leader.free();
        !self.leader.deposed()
    }

    fn wait_for_events(&mut self) {
        let busy = !self.backlog.is_empty() || !self.later.is_empty();
        let timeout = if busy { TICK / 2 } else { TICK };
        if let Err(error) = self.poll.poll(&mut self.events, Some(timeout))
            && error.kind() != std::io::ErrorKind::Interrupted
        {
            crate::log!("rinha drainer: poll failed: {error}");
        }
        let now = Instant::now();
        let registry = self.poll.registry();
        for event in self.events.iter() {
            self.pool.on_event(registry, event, now, &mut self.finished);
        }
    }

    /// A purge since the last look: payments of the new generation must
    /// not be mistaken for old ones, nor old paid ids block new payments.
    fn check_generation(&mut self) {
        if self.leader.shared().generation() != self.seen.generation {
            self.seen = Seen::load(&self.leader);
        }
    }

    /// Takes published payments from the ring while there is room ahead.
    fn read_ring(&mut self, now: Instant) {
        while self.backlog.len() + self.later.len() + self.out.len() < READ_AHEAD {
            match self.leader.step() {
                Step::Idle => return,
                Step::Abandoned(position) => crate::log!(
                    "rinha drainer: abandoned position {position}: claimed, never published"
                ),
                Step::Payment(pending) => {
                    if let Some(mut job) = self.seen.triage(&self.leader, pending, now) {
                        match job.known {
                            Known::Unsent => self.backlog.push_back(job),
                            Known::Pinned { processor, stamp } => {
                                // Inherited in flight: looked up first, once
                                // its POST should be out (`fate::out_in`).
                                let wait = fate::out_in(age_of(stamp), self.latency(processor));
                                job.not_before = now + wait;
                                self.later.push(job);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Refused only once replaced: the turn then ends the reign.
    fn done(&self, pending: &Pending) {
        let _ = self.leader.discard(pending.position);
    }

    /// Payments whose wait is over: a pinned one to its processor, if it
    /// may be sent to now; an unsent one back to the front of the backlog.
    fn send_later(&mut self, now: Instant) {
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
    fn send_backlog(&mut self, now: Instant) {
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
    fn put_back(&mut self, mut job: Job, now: Instant) {
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
    fn settle(&mut self, finished: Finished, now: Instant) {
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
                let answer = answer_of(outcome);
                self.heard[finished.processor as usize] |= answer != Answer::Silent;
                Some(answer)
            }
            Request::LookUp { .. } => None,
        };
        self.router
            .answered(finished.processor, finished.id, answer, now);
        self.conclude(job, request, finished.processor, &finished.ended, now);
    }

    fn conclude(
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
                latency: self.latency(processor),
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
fn age_of(stamp: i64) -> Duration {
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

#[cfg(test)]
mod tests;
