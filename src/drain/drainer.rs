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

use crate::domain::payment::{Health, Processor};
use crate::drain::client::HealthClient;
use crate::drain::fate::{self, Known};
use crate::drain::health;
use crate::drain::intake::{Job, Seen};
use crate::drain::pacer::Pacer;
use crate::drain::pool::{Finished, Pool, Request};
use crate::drain::router::{Policy, Router};
use crate::store::Leader;
use crate::store::layout;
use crate::store::ring::{Pending, Step};

mod answers;
mod latencies;
mod memory;
mod send;

use answers::age_of;
pub use answers::answer_of;
pub use memory::memory_bound;

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
            pacer: Pacer::for_new_leader(settings.max_send_rate, now),
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
            leader,
        };
        drainer.inherit_latencies();
        Ok(drainer)
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
                                // its POST should be out, and before its
                                // stamp nears the check's window
                                // (`fate::first_lookup_in`).
                                let wait = fate::first_lookup_in(
                                    age_of(stamp),
                                    self.store_latency(processor),
                                );
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
}
