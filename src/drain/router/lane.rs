//! A lane: one processor as the router sees it — what its answers and its
//! health endpoint showed, its requests out and its probes — and the
//! [`Condition`] that follows from them, which the policy in `router`
//! decides on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{MAX_PROBES, MAX_SLOW_PROBES, PROBE_INTERVAL, Policy};

/// A request out longer than twice the last latency plus this is a sign
/// the delay rose; below it, scheduling noise.
const SUSPECT_GRACE: Duration = Duration::from_millis(50);

/// What the router says about one processor right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Takes payments and stores them well inside the check's margin.
    Ready,
    /// As many requests out as allowed.
    Busy,
    /// A request has been out much longer than the last latency.
    Suspect,
    /// Latency at or above the safe one.
    Slow,
    /// Its last answers stored nothing.
    Failing,
}

/// One processor as the router sees it.
pub(super) struct Lane {
    /// When its current run of failures began; `None` while it works.
    pub(super) failing_since: Option<Instant>,
    pub(super) probes_out: usize,
    pub(super) next_probe: Instant,
    /// The latency of its last answer (or its health's minResponseTime).
    pub(super) latency: Duration,
    /// How long it takes to store a payment, as last heard; see
    /// [`super::Router::store_latency`].
    pub(super) stores_in: Option<Duration>,
    /// Whether its last request ended unanswered (and no answer or health
    /// answer came since): one that stayed silent that long is not probed.
    pub(super) silent: bool,
    /// Requests out: id → (when sent, whether a probe). Ids grow, so the
    /// first is the oldest.
    pub(super) out: BTreeMap<u64, (Instant, bool)>,
    /// Requests below this id were sent before the processor's last change
    /// (a recovery, a health answer): how long they take says nothing
    /// about it now, so they do not make it suspect or slow.
    pub(super) fresh_from: u64,
    /// The newest information taken: the id of the request whose answer
    /// last set the condition, or the first id sent after the last health
    /// answer. An answer to an older request says how the processor *was*
    /// (a probe sent during a 2 s outage, answered after the recovery), so
    /// it changes nothing.
    pub(super) newest: u64,
    /// When a change of condition was last logged (at most once a second).
    pub(super) logged: Option<(Condition, Instant)>,
}

impl Lane {
    pub(super) fn new(now: Instant) -> Lane {
        Lane {
            failing_since: None,
            probes_out: 0,
            next_probe: now,
            latency: Duration::ZERO,
            stores_in: None,
            silent: false,
            out: BTreeMap::new(),
            fresh_from: 0,
            newest: 0,
            logged: None,
        }
    }

    fn oldest_age(&self, now: Instant) -> Duration {
        self.out
            .range(self.fresh_from..)
            .map(|(_, sent)| sent)
            .next()
            .map_or(Duration::ZERO, |&(sent, _)| {
                now.saturating_duration_since(sent)
            })
    }

    /// The latency its last answer showed, or the age of its oldest
    /// request still out if that is more: how long a payment sent now
    /// may take to be stored, as far as is known.
    pub(super) fn slowest(&self, now: Instant) -> Duration {
        self.latency.max(self.oldest_age(now))
    }

    pub(super) fn condition(&self, policy: &Policy, now: Instant) -> Condition {
        let oldest = self.oldest_age(now);
        if self.failing_since.is_some() {
            Condition::Failing
        } else if self.latency.max(oldest) >= policy.safe_latency {
            Condition::Slow
        } else if oldest > self.latency * 2 + SUSPECT_GRACE {
            Condition::Suspect
        } else if self.out.len() >= policy.max_in_flight {
            Condition::Busy
        } else {
            Condition::Ready
        }
    }

    /// Whether a probe may leave now (see [`Lane::probing`]).
    pub(super) fn probe_due(&self, policy: &Policy, now: Instant) -> bool {
        let (most, _) = self.probing(policy);
        self.probes_out < most && self.out.len() < policy.max_in_flight && now >= self.next_probe
    }

    /// How many probes may be out at once, and how far apart they leave:
    /// many and often while the processor fails fast; [`MAX_SLOW_PROBES`]
    /// spread over one delay while it fails slowly; none while it is
    /// silent, where each would be a payment unanswered until the timeout
    /// (its health endpoint tells the recovery instead).
    pub(super) fn probing(&self, policy: &Policy) -> (usize, Duration) {
        if self.silent && self.latency >= policy.safe_latency {
            (0, PROBE_INTERVAL)
        } else if self.latency < policy.safe_latency {
            (MAX_PROBES, PROBE_INTERVAL)
        } else {
            let spread = self.latency / MAX_SLOW_PROBES;
            (MAX_SLOW_PROBES as usize, spread.max(PROBE_INTERVAL))
        }
    }

    /// A failure: the circuit opens (if it was closed) and the next probe
    /// waits an interval from the latest failure seen.
    pub(super) fn fail(&mut self, policy: &Policy, now: Instant) {
        self.failing_since.get_or_insert(now);
        self.next_probe = now + self.probing(policy).1;
    }

    pub(super) fn recover(&mut self, next_id: u64) {
        if self.failing_since.take().is_some() {
            self.fresh_from = next_id;
        }
    }
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("failing_since", &self.failing_since)
            .field("latency", &self.latency)
            .field("out", &self.out.len())
            .finish()
    }
}
