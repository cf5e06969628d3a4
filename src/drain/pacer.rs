//! A token bucket for the drainer's sends.
//!
//! A backlog released at once (a processor back after an outage) would send
//! thousands of payments in a few milliseconds, and the CPU that takes is
//! taken from the HTTP loop sharing the leader's container quota: p99
//! spikes right after every outage. Pacing the sends spreads that work
//! while still draining a 25-second backlog in seconds.
//!
//! A leader that just took over starts slower ([`Pacer::for_new_leader`]):
//! its predecessor's payments still inside a processor are stored at their
//! stamp plus the delay, and each must be looked up and recorded before
//! its stamp enters the consistency check's window, 2 s after it. A new
//! leader that opens hundreds of connections and sends hundreds of fresh
//! payments at once in those 2 s delays those lookups at the processor
//! (`faults::the_windows_agree_with_the_processors_while_payments_are_in_flight_across_a_takeover`
//! failed about one run in three at 10 000 a second from the start, and
//! never at 2 500; the larger part of that was the new leader judging
//! lookups by the processor's instant 429s, see
//! `crate::drain::router::Router::store_latency`, but a calm start still
//! leaves the lookups the most room).

use std::time::{Duration, Instant};

/// Sends allowed in one go after a quiet spell.
const BURST: u64 = 64;

/// How long a new leader keeps to [`TAKEOVER_RATE`]: the check's margin,
/// by which every payment its predecessor left in flight is either
/// recorded or not yet stored.
pub const TAKEOVER_CALM: Duration = Duration::from_secs(2);

/// Sends a second at most during [`TAKEOVER_CALM`].
pub const TAKEOVER_RATE: u32 = 2_500;

/// Allows `rate` sends a second, `BURST` at once at most.
#[derive(Debug)]
pub struct Pacer {
    /// Nanoseconds of credit per send: 1 s ÷ rate.
    cost_ns: u64,
    /// The cost at the full rate, and until when the slower one holds.
    full: Option<(u64, Instant)>,
    /// Credit in nanoseconds, at most `BURST × cost_ns`.
    credit_ns: u64,
    last: Instant,
}

impl Pacer {
    /// A full bucket for `rate` sends a second (at least 1).
    pub fn new(rate: u32, now: Instant) -> Pacer {
        let cost_ns = cost_of(rate);
        Pacer {
            cost_ns,
            full: None,
            credit_ns: BURST * cost_ns,
            last: now,
        }
    }

    /// A pacer for a leader that just took over: at most
    /// [`TAKEOVER_RATE`] (or `rate`, if lower) for [`TAKEOVER_CALM`], then
    /// `rate` (see the module docs).
    pub fn for_new_leader(rate: u32, now: Instant) -> Pacer {
        let mut pacer = Pacer::new(rate.min(TAKEOVER_RATE), now);
        pacer.full = Some((cost_of(rate), now + TAKEOVER_CALM));
        pacer
    }

    /// Takes one send's credit if there is enough.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some((cost_ns, from)) = self.full
            && now >= from
        {
            self.cost_ns = cost_ns;
            self.full = None;
        }
        let earned = now.saturating_duration_since(self.last).as_nanos();
        self.last = now;
        let cap = BURST * self.cost_ns;
        self.credit_ns = (self.credit_ns as u128 + earned).min(cap as u128) as u64;
        let enough = self.credit_ns >= self.cost_ns;
        if enough {
            self.credit_ns -= self.cost_ns;
        }
        enough
    }

    /// Returns the credit of a send that did not happen.
    pub fn give_back(&mut self) {
        self.credit_ns = (self.credit_ns + self.cost_ns).min(BURST * self.cost_ns);
    }
}

/// Nanoseconds of credit per send at `rate` a second (at least 1).
fn cost_of(rate: u32) -> u64 {
    1_000_000_000 / u64::from(rate.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(1000, t0);
        let burst = (0..1000).take_while(|_| pacer.take(t0)).count();
        assert_eq!(burst, BURST as usize);
        let one_second = t0 + Duration::from_secs(1);
        let mut sent = 0;
        for ms in 1..=1000 {
            if pacer.take(t0 + Duration::from_millis(ms)) {
                sent += 1;
            }
        }
        assert_eq!(sent, 1000, "one a millisecond at 1 000/s");
        assert!(!pacer.take(one_second));
        pacer.give_back();
        assert!(pacer.take(one_second));
    }

    #[test]
    fn a_new_leader_keeps_to_the_takeover_rate_for_the_calm_then_the_full_rate() {
        let t0 = Instant::now();
        let mut pacer = Pacer::for_new_leader(10_000, t0);
        // Every send the pacer allows in the second from `from`, asked
        // for as often as it says yes, once a millisecond.
        let sent_in = |pacer: &mut Pacer, from: Duration| -> usize {
            (1..=1000)
                .map(|ms| {
                    let now = t0 + from + Duration::from_millis(ms);
                    (0..100).take_while(|_| pacer.take(now)).count()
                })
                .sum()
        };
        let first_second = sent_in(&mut pacer, Duration::ZERO);
        assert!(
            (2_500..=2_500 + BURST as usize).contains(&first_second),
            "{first_second}"
        );
        sent_in(&mut pacer, Duration::from_secs(1));
        let third_second = sent_in(&mut pacer, Duration::from_secs(2));
        assert!(
            (9_990..=10_000 + BURST as usize).contains(&third_second),
            "{third_second}"
        );
    }
}
