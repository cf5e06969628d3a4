//! Which processor a payment goes to, and when it waits instead.
//!
//! The contest pays 95 % of a payment sent to the default processor and
//! 85 % of one sent to the fallback, and nothing for a payment still
//! waiting when the test ends. The default processor's outages in the
//! official test last 20 s and the backlog drains in about 2 s once it
//! recovers, so the profitable policy is to **hold** payments for the
//! default processor, and to use the fallback only when the default one
//! has been failing for longer than `max_hold` (25 s by default, longer
//! than any outage in the official timeline).
//!
//! Each processor has a circuit. A refusal or an unknown outcome opens it;
//! while it is open, workers wait on a condition variable instead of
//! sending, except for *probes*: one every [`PROBE_INTERVAL`], at most
//! [`MAX_PROBES`] out at once. Several may be out because a failing
//! processor can take seconds to answer (2 s in the official timeline),
//! and a probe sent before it recovers cannot see the recovery; a fresh
//! one sent just after can. A success, or a health check saying the
//! processor is no longer failing, closes the circuit and wakes everybody.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::domain::payment::{Health, Processor};
use crate::drain::client::Outcome;

/// How often a probe may test an open circuit.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// How many probes may be out at once on one circuit.
pub const MAX_PROBES: u32 = 4;

/// Permission to send one request to `processor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// Where to send.
    pub processor: Processor,
    /// Whether this request tests an open circuit.
    pub probe: bool,
}

#[derive(Clone, Copy, Debug)]
struct Circuit {
    /// When the current run of failures began; `None` while closed.
    failing_since: Option<Instant>,
    /// Probes sent and not yet answered.
    probes_out: u32,
    /// The earliest moment of the next probe.
    next_probe: Instant,
    /// When a change of state was last logged: a processor that flaps
    /// (say, drops one answer in ten) is logged at most once a second.
    logged_at: Option<Instant>,
}

impl Circuit {
    fn closed(now: Instant) -> Circuit {
        Circuit {
            failing_since: None,
            probes_out: 0,
            next_probe: now,
            logged_at: None,
        }
    }

    fn is_closed(&self) -> bool {
        self.failing_since.is_none()
    }

    fn failing_for(&self, now: Instant) -> Duration {
        self.failing_since
            .map_or(Duration::ZERO, |since| now - since)
    }

    /// Takes a probe if one is due and fewer than [`MAX_PROBES`] are out.
    fn try_probe(&mut self, now: Instant) -> bool {
        let due = self.probes_out < MAX_PROBES && now >= self.next_probe;
        if due {
            self.probes_out += 1;
            self.next_probe = now + PROBE_INTERVAL;
        }
        due
    }

    fn close(&mut self) {
        self.failing_since = None;
        self.probes_out = 0;
    }

    fn log_change(&mut self, processor: Processor, now: Instant) {
        if self
            .logged_at
            .is_some_and(|at| now - at < Duration::from_secs(1))
        {
            return;
        }
        self.logged_at = Some(now);
        let name = processor.name();
        match self.is_closed() {
            true => crate::log!("rinha drainer: {name} processor answers again"),
            false => crate::log!("rinha drainer: {name} processor failing; holding its payments"),
        }
    }

    fn open(&mut self, now: Instant) {
        self.failing_since.get_or_insert(now);
        self.next_probe = now + PROBE_INTERVAL;
    }
}

/// The drainer's routing state, shared by its workers.
pub struct Router {
    circuits: Mutex<[Circuit; 2]>,
    changed: Condvar,
    max_hold: Duration,
}

impl Router {
    /// Both circuits closed; the fallback is allowed after `max_hold` of
    /// continuous default failure.
    pub fn new(max_hold: Duration) -> Router {
        let now = Instant::now();
        Router {
            circuits: Mutex::new([Circuit::closed(now); 2]),
            changed: Condvar::new(),
            max_hold,
        }
    }

    fn lock(&self) -> MutexGuard<'_, [Circuit; 2]> {
        // A worker that panicked cannot leave the circuits inconsistent
        // (every update is a single assignment), so poisoning is ignored.
        self.circuits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a request may be sent; `pinned` restricts the choice to
    /// the one processor whose outcome for this payment is unknown.
    pub fn acquire(&self, pinned: Option<Processor>) -> Ticket {
        let mut circuits = self.lock();
        loop {
            let now = Instant::now();
            if let Some(ticket) = self.choose(&mut circuits, pinned, now) {
                return ticket;
            }
            // Sleep until the next probe may go out. Circuits that cannot be
            // probed (closed ones, or all probes out) must not shorten the
            // wait: a closed fallback's `next_probe` lies in the past, and
            // counting it had 64 held workers waking every millisecond (30 %
            // of a core while the default failed, measured).
            let wait = circuits
                .iter()
                .filter(|c| !c.is_closed() && c.probes_out < MAX_PROBES)
                .map(|c| c.next_probe.saturating_duration_since(now))
                .min()
                .unwrap_or(PROBE_INTERVAL)
                .max(Duration::from_millis(1));
            circuits = self
                .changed
                .wait_timeout(circuits, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn choose(
        &self,
        circuits: &mut [Circuit; 2],
        pinned: Option<Processor>,
        now: Instant,
    ) -> Option<Ticket> {
        let candidates: &[Processor] = match pinned {
            Some(Processor::Default) => &[Processor::Default],
            Some(Processor::Fallback) => &[Processor::Fallback],
            None if circuits[0].failing_for(now) >= self.max_hold => {
                &[Processor::Default, Processor::Fallback]
            }
            None => &[Processor::Default],
        };
        // In order of preference: a closed circuit is used, an open one
        // probed when a probe is due. So while the fallback carries the load
        // after the hold, the default is still probed and wins back the
        // traffic the moment it answers.
        candidates.iter().find_map(|&processor| {
            let circuit = &mut circuits[processor as usize];
            let probe = !circuit.is_closed();
            (!probe || circuit.try_probe(now)).then_some(Ticket { processor, probe })
        })
    }

    /// Learns from the outcome of a request sent with `ticket`.
    pub fn report(&self, ticket: Ticket, outcome: Outcome) {
        let now = Instant::now();
        let mut circuits = self.lock();
        let circuit = &mut circuits[ticket.processor as usize];
        let was_closed = circuit.is_closed();
        match outcome {
            Outcome::Stored | Outcome::AlreadyStored | Outcome::Rejected(_) => {
                circuit.close();
                if !was_closed {
                    self.changed.notify_all();
                }
            }
            Outcome::Refused | Outcome::Unknown => {
                circuit.open(now);
                if ticket.probe {
                    circuit.probes_out = circuit.probes_out.saturating_sub(1);
                }
            }
        }
        if was_closed != circuit.is_closed() {
            circuit.log_change(ticket.processor, now);
        }
    }
    /// Learns from a health check: a processor that says it is not failing
    /// is trusted at once (saving the wait for a probe); one that says it is
    /// failing is not sent to before a probe proves otherwise.
    pub fn report_health(&self, processor: Processor, health: Health) {
        let now = Instant::now();
        let mut circuits = self.lock();
        let circuit = &mut circuits[processor as usize];
        let was_closed = circuit.is_closed();
        if health.failing {
            circuit.open(now);
        } else if !was_closed {
            circuit.close();
            self.changed.notify_all();
        }
        if was_closed != circuit.is_closed() {
            circuit.log_change(processor, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Ticket = Ticket {
        processor: Processor::Default,
        probe: false,
    };

    #[test]
    fn a_healthy_default_takes_everything() {
        let router = Router::new(Duration::from_secs(25));
        assert_eq!(router.acquire(None), DEFAULT);
        router.report(DEFAULT, Outcome::Stored);
        assert_eq!(router.acquire(None), DEFAULT);
    }

    #[test]
    fn a_failing_default_is_probed_at_a_bounded_rate() {
        let router = Router::new(Duration::from_secs(25));
        let start = Instant::now();
        let mut circuits = [Circuit::closed(start); 2];
        circuits[0].open(start);
        let probe = Some(Ticket {
            probe: true,
            ..DEFAULT
        });
        assert_eq!(
            router.choose(&mut circuits, None, start),
            None,
            "not due yet"
        );
        let mut at = start;
        for _ in 0..MAX_PROBES {
            at += PROBE_INTERVAL;
            assert_eq!(router.choose(&mut circuits, None, at), probe);
            assert_eq!(
                router.choose(&mut circuits, None, at),
                None,
                "one per interval"
            );
        }
        at += PROBE_INTERVAL * 10;
        assert_eq!(
            router.choose(&mut circuits, None, at),
            None,
            "all probes out"
        );
        circuits[0].close();
        assert_eq!(router.choose(&mut circuits, None, at), Some(DEFAULT));
    }

    #[test]
    fn a_successful_probe_closes_the_circuit() {
        let router = Router::new(Duration::from_secs(25));
        router.report(DEFAULT, Outcome::Refused);
        let probe = router.acquire(None);
        assert!(probe.probe);
        router.report(probe, Outcome::Stored);
        assert_eq!(router.acquire(None), DEFAULT);
    }

    #[test]
    fn the_fallback_is_used_only_after_the_hold_expires() {
        let hold = Duration::from_secs(25);
        let router = Router::new(hold);
        let start = Instant::now();
        let mut circuits = [Circuit::closed(start); 2];
        circuits[0].open(start);
        let probe = router.choose(&mut circuits, None, start + PROBE_INTERVAL);
        assert_eq!(
            probe,
            Some(Ticket {
                probe: true,
                ..DEFAULT
            }),
            "holding for default"
        );
        let meanwhile = router.choose(&mut circuits, None, start + hold / 2);
        assert_eq!(meanwhile, probe, "only probes to default meanwhile");
        let fallback = Some(Ticket {
            processor: Processor::Fallback,
            probe: false,
        });
        let expired = start + hold;
        assert_eq!(
            router.choose(&mut circuits, None, expired),
            probe,
            "default probed first"
        );
        assert_eq!(
            router.choose(&mut circuits, None, expired),
            fallback,
            "then the fallback"
        );
        assert_eq!(router.choose(&mut circuits, None, expired), fallback);
        let later = expired + PROBE_INTERVAL;
        assert_eq!(
            router.choose(&mut circuits, None, later),
            probe,
            "still probed"
        );
    }

    #[test]
    fn a_pinned_payment_never_changes_processor() {
        let router = Router::new(Duration::ZERO);
        router.report(DEFAULT, Outcome::Unknown);
        let ticket = router.acquire(Some(Processor::Default));
        assert_eq!(
            ticket,
            Ticket {
                probe: true,
                ..DEFAULT
            }
        );
    }

    #[test]
    fn a_health_check_closes_and_opens_circuits() {
        let router = Router::new(Duration::from_secs(25));
        router.report(DEFAULT, Outcome::Refused);
        router.report_health(
            Processor::Default,
            Health {
                failing: false,
                min_response_time_ms: 0,
            },
        );
        assert_eq!(router.acquire(None), DEFAULT);
        router.report_health(
            Processor::Default,
            Health {
                failing: true,
                min_response_time_ms: 0,
            },
        );
        assert!(router.acquire(None).probe);
    }
}
