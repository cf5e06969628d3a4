//! A token bucket for the drainer's sends.
//!
//! A backlog released at once (a processor back after an outage) would send
//! thousands of payments in a few milliseconds, and the CPU that takes is
//! taken from the HTTP loop sharing the leader's container quota: p99
//! spikes right after every outage. Pacing the sends spreads that work
//! while still draining a 25-second backlog in seconds.

use std::time::Instant;

/// Sends allowed in one go after a quiet spell.
const BURST: u64 = 64;

/// Allows `rate` sends a second, `BURST` at once at most.
#[derive(Debug)]
pub struct Pacer {
    /// Nanoseconds of credit per send: 1 s ÷ rate.
    cost_ns: u64,
    /// Credit in nanoseconds, at most `BURST × cost_ns`.
    credit_ns: u64,
    last: Instant,
}

impl Pacer {
    /// A full bucket for `rate` sends a second (at least 1).
    pub fn new(rate: u32, now: Instant) -> Pacer {
        let cost_ns = 1_000_000_000 / u64::from(rate.max(1));
        Pacer {
            cost_ns,
            credit_ns: BURST * cost_ns,
            last: now,
        }
    }

    /// Takes one send's credit if there is enough.
    pub fn take(&mut self, now: Instant) -> bool {
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
}
