//! Forwarding pending payments to the processors: the leader's job.
//!
//! One *dispatcher* thread walks the ring in order and hands each payment to
//! one of `workers` threads; a worker owns its payment until it is `Done`.
//! Every step is written to the payment's ring slot before it is taken, so
//! a leader that dies at any instant leaves its successor exactly what it
//! needs (see [`recover`]):
//!
//! ```text
//!  Pending ──send──► InFlight{processor, requestedAt} ──200──► ledger entry ──► Done
//!     ▲                         │  │
//!     └──── 500 / 429 / refused ┘  └── timeout, reset: outcome unknown ──┐
//!           (proven not stored)       retry at the SAME processor with   │
//!                                     the SAME requestedAt; 422 → look   │
//!                                     it up and record what it stored ◄──┘
//! ```
//!
//! A payment is recorded only with the `requestedAt` the processor stored,
//! so the summary agrees with the processors' own to the millisecond; it is
//! recorded once, because its ledger entry carries its ring position and a
//! new leader skips positions already in the ledger; and it is paid once,
//! because an unknown outcome is never re-routed and a correlation id
//! already paid in this generation is never sent again.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use uuid::Uuid;

use crate::config::ApiConfig;
use crate::domain::payment::{Payment, Processor};
use crate::domain::time::now_millis;
use crate::drain::client::{Lookup, Outcome, ProcessorClient};
use crate::drain::router::{Router, Ticket};
use crate::store::ledger::Record;
use crate::store::ring::{Cursor, Pending, SlotState, Step};
use crate::store::shared_file::{HealthRecord, SharedFile};

/// How long a claimed position may stay unpublished before the leader
/// decides its producer died and abandons it. Longer than a CFS throttling
/// period (100 ms), so a merely throttled producer is rarely abandoned (and
/// if it is, it simply pushes again).
pub const ABANDON_AFTER: Duration = Duration::from_millis(250);

/// How long the dispatcher sleeps when the ring is empty: a payment waits
/// at most this long before it is sent, and an idle leader wakes 500 times
/// a second (under 1 % of a core, measured).
const IDLE_SLEEP: Duration = Duration::from_millis(2);

/// The processors' health endpoint allows one call per 5 s per processor,
/// in fixed windows; 100 ms of margin keeps two calls out of one window even
/// when the first one travels slower than the second.
const HEALTH_INTERVAL_MS: u64 = 5_100;

/// What every worker shares.
struct Context {
    shared: Arc<SharedFile>,
    router: Router,
    clients: [ProcessorClient; 2],
}

/// Drains the ring forever. Called by the elected leader only.
pub fn run(shared: Arc<SharedFile>, config: &ApiConfig) -> ! {
    let context = Arc::new(Context {
        shared,
        router: Router::new(config.max_hold),
        clients: [
            ProcessorClient::new(
                &config.default_url,
                config.workers,
                config.processor_timeout,
            ),
            ProcessorClient::new(
                &config.fallback_url,
                config.workers,
                config.processor_timeout,
            ),
        ],
    });
    let (jobs, inbox) = crossbeam_channel::bounded::<Pending>(config.workers);
    for index in 0..config.workers {
        let (context, inbox) = (context.clone(), inbox.clone());
        spawn(&format!("worker-{index}"), move || work(&context, &inbox));
    }
    let health_context = context.clone();
    spawn("health", move || poll_health(&health_context));
    dispatch(&context, &jobs)
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .name(name.to_string())
        .stack_size(256 * 1024)
        .spawn(body)
        .expect("the drainer cannot run without its threads");
}

/// What a new leader learns from the file before dispatching anything.
struct Recovered {
    /// Ring positions already in the ledger: done, even if not marked so.
    recorded: HashSet<u64>,
    /// Correlation ids already paid in this generation.
    paid: HashSet<Uuid>,
}

fn recover(shared: &SharedFile) -> Recovered {
    let ledger = shared.ledger();
    Recovered {
        recorded: ledger.positions_since(shared.ring().head()),
        paid: ledger.ids_of_current_generation(),
    }
}

/// The dispatcher: walks the ring from its head and hands out payments.
fn dispatch(context: &Context, jobs: &Sender<Pending>) -> ! {
    let shared = &context.shared;
    let ring = shared.ring();
    let Recovered { recorded, mut paid } = recover(shared);
    let mut generation = shared.generation();
    let mut cursor = Cursor::new(ring.head(), ABANDON_AFTER);
    crate::log!(
        "rinha drainer: leading from position {} ({} waiting, {} recorded but not marked done)",
        cursor.position(),
        ring.tail().saturating_sub(cursor.position()),
        recorded.len()
    );
    loop {
        ring.free_done(cursor.position());
        if shared.generation() != generation {
            generation = shared.generation();
            paid.clear();
        }
        match cursor.step(&ring) {
            Step::Idle => thread::sleep(IDLE_SLEEP),
            Step::Abandoned(position) => {
                crate::log!(
                    "rinha drainer: abandoned position {position}: claimed, never published"
                );
            }
            Step::Payment(pending) => {
                if let Some(job) = triage(shared, pending, generation, &recorded, &mut paid) {
                    hand_over(context, jobs, job, cursor.position());
                }
            }
        }
    }
}

/// Decides what to do with a published payment: `Some` to send it.
fn triage(
    shared: &SharedFile,
    pending: Pending,
    generation: u64,
    recorded: &HashSet<u64>,
    paid: &mut HashSet<Uuid>,
) -> Option<Pending> {
    let ring = shared.ring();
    let state = pending.state.unwrap_or_else(|| {
        crate::log!(
            "rinha drainer: position {} has an unreadable state; treating it as unsent",
            pending.position
        );
        SlotState::Pending
    });
    let discard = |why: &str| {
        if !why.is_empty() {
            crate::log!(
                "rinha drainer: payment {} not sent: {why}",
                pending.payment.correlation_id
            );
        }
        ring.set_state(pending.position, SlotState::Done);
        None
    };
    match state {
        SlotState::Done => None,
        _ if pending.generation != generation => discard(""),
        SlotState::InFlight { .. } if recorded.contains(&pending.position) => discard(""),
        SlotState::Pending if paid.contains(&pending.payment.correlation_id) => {
            discard("its correlationId was already paid")
        }
        _ => {
            paid.insert(pending.payment.correlation_id);
            Some(Pending {
                state: Some(state),
                ..pending
            })
        }
    }
}

/// Sends a job to the workers, freeing done slots while they are all busy.
fn hand_over(context: &Context, jobs: &Sender<Pending>, mut job: Pending, cursor: u64) {
    loop {
        match jobs.send_timeout(job, Duration::from_millis(5)) {
            Ok(()) => return,
            Err(SendTimeoutError::Timeout(back)) => {
                job = back;
                context.shared.ring().free_done(cursor);
            }
            Err(SendTimeoutError::Disconnected(_)) => unreachable!("workers never exit"),
        }
    }
}

/// A worker: resolves one payment at a time, for ever.
fn work(context: &Context, inbox: &Receiver<Pending>) {
    let mut body = Vec::with_capacity(256);
    for pending in inbox {
        resolve(context, pending, &mut body);
    }
}

/// Sends a payment until its fate is known, records it, marks it done.
fn resolve(context: &Context, pending: Pending, body: &mut Vec<u8>) {
    let ring = context.shared.ring();
    let Payment {
        correlation_id: id,
        amount_cents,
    } = pending.payment;
    let mut pinned = match pending.state {
        Some(SlotState::InFlight {
            processor,
            requested_at_ms,
        }) => Some((processor, requested_at_ms)),
        _ => None,
    };
    loop {
        let ticket = context
            .router
            .acquire(pinned.map(|(processor, _)| processor));
        let stamp = pinned.map_or_else(now_millis, |(_, stamp)| stamp);
        ring.set_state(
            pending.position,
            SlotState::InFlight {
                processor: ticket.processor,
                requested_at_ms: stamp,
            },
        );
        let client = &context.clients[ticket.processor as usize];
        let outcome = client.pay(id, amount_cents, stamp, body);
        context.router.report(ticket, outcome);
        match outcome {
            Outcome::Stored => return record(context, &pending, ticket.processor, stamp),
            Outcome::AlreadyStored if pinned.is_none() => {
                return finish_unrecorded(
                    context,
                    &pending,
                    "the processor already holds its correlationId",
                );
            }
            Outcome::AlreadyStored => {
                if settle_known(context, &pending, ticket, stamp) {
                    return;
                }
            }
            Outcome::Refused if pinned.is_none() => {
                ring.set_state(pending.position, SlotState::Pending)
            }
            Outcome::Refused => {}
            Outcome::Rejected(status) => {
                return finish_unrecorded(
                    context,
                    &pending,
                    &format!("the processor rejected it ({status})"),
                );
            }
            Outcome::Unknown => pinned = Some((ticket.processor, stamp)),
        }
    }
}

/// After a 422 on a retry: was it our own earlier attempt? True when the
/// payment's fate is settled.
fn settle_known(context: &Context, pending: &Pending, ticket: Ticket, stamp: i64) -> bool {
    let client = &context.clients[ticket.processor as usize];
    match client.lookup(pending.payment.correlation_id) {
        Lookup::Found {
            requested_at_ms, ..
        } if requested_at_ms == stamp => {
            record(context, pending, ticket.processor, stamp);
            true
        }
        Lookup::Found { .. } => {
            finish_unrecorded(
                context,
                pending,
                "another payment with its correlationId was stored",
            );
            true
        }
        // Not visible yet, or no answer: ask again on the next round.
        Lookup::NotFound | Lookup::Unknown => false,
    }
}

/// Appends the confirmed payment to the ledger, then marks it done.
fn record(context: &Context, pending: &Pending, processor: Processor, requested_at_ms: i64) {
    let entry = Record {
        processor,
        requested_at_ms,
        amount_cents: pending.payment.amount_cents,
        generation: pending.generation,
        correlation_id: pending.payment.correlation_id,
        ring_position: pending.position,
    };
    while context.shared.ledger().append(&entry).is_err() {
        // Never drop a paid payment: wait for an operator to make room.
        crate::log!(
            "rinha drainer: ledger full; payment {} paid but not recorded yet",
            entry.correlation_id
        );
        thread::sleep(Duration::from_secs(1));
    }
    context
        .shared
        .ring()
        .set_state(pending.position, SlotState::Done);
}

fn finish_unrecorded(context: &Context, pending: &Pending, why: &str) {
    crate::log!(
        "rinha drainer: payment {} not recorded: {why}",
        pending.payment.correlation_id
    );
    context
        .shared
        .ring()
        .set_state(pending.position, SlotState::Done);
}

/// Polls each processor's health as often as its limit allows, sharing the
/// limit with every other instance through the file.
fn poll_health(context: &Context) {
    loop {
        for processor in [Processor::Default, Processor::Fallback] {
            let record = &context.shared.header().health[processor as usize].0;
            let now = now_millis() as u64;
            // Relaxed: a stale value only makes the CAS below fail.
            let last = record.checked_at_ms.load(Ordering::Relaxed);
            let due = now.saturating_sub(last) >= HEALTH_INTERVAL_MS;
            // Relaxed CAS: it only has to let one caller claim each window.
            if due
                && record
                    .checked_at_ms
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                && let Some(health) = context.clients[processor as usize].health()
            {
                let answer = HealthRecord::encode(health);
                // Relaxed: the answer is for `rinha stat` and humans; no
                // decision reads it, so nothing needs ordering against it.
                record.answer.store(answer, Ordering::Relaxed);
                context.router.report_health(processor, health);
            }
        }
        thread::sleep(Duration::from_millis(250));
    }
}
