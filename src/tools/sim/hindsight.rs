//! The most profit any backend could make on a timeline, knowing it in
//! advance: a port of bench/timeline.py's `best()` (the reference; a test
//! runs both on every named timeline).
//!
//! Per second: the arrivals, and each processor's capacity to store
//! payments *within the check's margin* and before the load ends (0 while
//! failing or while its delay plus a 100 ms recording allowance reaches
//! the 2 s margin; else 800 ÷ delay a second). Waiting in the backend is
//! free, so the plan sends the default what it can take now, holds what
//! the default will have room for later, gives the fallback the rest if it
//! can take it, and loses what still waits at the end.

use super::timeline::{Fees, Setting, Timeline};

/// The consistency check's margin (its window ends 2 s before now).
pub const CHECK_MARGIN_MS: u32 = 2_000;
/// What a backend needs between the processor's store and its own record.
pub const RECORD_ALLOWANCE_MS: u32 = 100;
/// Requests a processor works on at once.
const PROCESSOR_CONCURRENCY: f64 = 800.0;

/// The best plan's totals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Best {
    /// Payments arriving over the load.
    pub payments: f64,
    /// Stored at the default.
    pub default: f64,
    /// Stored at the fallback.
    pub fallback: f64,
    /// Never stored.
    pub lost: f64,
    /// (stored × (1 − fee), summed) ÷ payments, as a fraction.
    pub profit: f64,
}

/// Payments arriving in each second: VUs ramp linearly from 1 to `vus`
/// over the duration, and each makes one payment a second.
pub fn arrivals_per_second(timeline: &Timeline) -> Vec<f64> {
    let duration = timeline.duration_s;
    let vus = f64::from(timeline.vus);
    (0..duration.ceil() as u64)
        .map(|s| {
            let middle = (s as f64 + 0.5).min(duration);
            1.0 + (vus - 1.0) * middle / duration
        })
        .collect()
}

/// Payments a second `setting` can store within the margin, and before
/// the end, when sent in `second`.
fn usable_capacity(setting: Setting, second: u64, duration: f64) -> f64 {
    let delay = setting.delay_ms;
    if setting.failing || delay + RECORD_ALLOWANCE_MS >= CHECK_MARGIN_MS {
        return 0.0;
    }
    if second as f64 + 1.0 + f64::from(delay) / 1000.0 > duration {
        return 0.0;
    }
    if delay == 0 {
        f64::INFINITY
    } else {
        PROCESSOR_CONCURRENCY * 1000.0 / f64::from(delay)
    }
}

/// The best plan at `fees`; see the module docs.
pub fn best(timeline: &Timeline, fees: Fees) -> Best {
    let arrivals = arrivals_per_second(timeline);
    let seconds = arrivals.len();
    let duration = timeline.duration_s;
    let (cap_default, cap_fallback): (Vec<f64>, Vec<f64>) = (0..seconds as u64)
        .map(|s| {
            let (default, fallback) = timeline.setting_at(s * 1000);
            (
                usable_capacity(default, s, duration),
                usable_capacity(fallback, s, duration),
            )
        })
        .unzip();
    let mut spare = vec![0.0; seconds + 1];
    for s in (0..seconds).rev() {
        spare[s] = (spare[s + 1] + cap_default[s] - arrivals[s]).max(0.0);
    }
    let (mut waiting, mut stored_default, mut stored_fallback) = (0.0, 0.0, 0.0);
    for s in 0..seconds {
        waiting += arrivals[s];
        let to_default = waiting.min(cap_default[s]);
        waiting -= to_default;
        let keep = waiting.min(spare[s + 1]);
        let to_fallback = (waiting - keep).min(cap_fallback[s]);
        waiting -= to_fallback;
        stored_default += to_default;
        stored_fallback += to_fallback;
    }
    let payments: f64 = arrivals.iter().sum();
    Best {
        payments,
        default: stored_default,
        fallback: stored_fallback,
        lost: waiting,
        profit: (stored_default * (1.0 - fees.default) + stored_fallback * (1.0 - fees.fallback))
            / payments,
    }
}

/// The lag the end of `timeline` excuses (issue 14): what arrives within
/// the delay (and the recording allowance) of the processor a payment goes
/// to at the end — the default if it stores within the margin, else the
/// fallback if it does — or what the best with hindsight loses too, if
/// more (with neither usable at the end, everything since; `best()` also
/// loses the last whole second, which it counts in).
pub fn lag_allowance(timeline: &Timeline, best: &Best) -> f64 {
    let (default, fallback) = timeline.setting_at(timeline.duration_ms().saturating_sub(1));
    let usable = |s: Setting| !s.failing && s.delay_ms + RECORD_ALLOWANCE_MS < CHECK_MARGIN_MS;
    let delay_ms = [default, fallback]
        .into_iter()
        .find(|&s| usable(s))
        .map_or(0, |s| s.delay_ms + RECORD_ALLOWANCE_MS);
    let rate_at_end = arrivals_per_second(timeline).last().copied().unwrap_or(0.0);
    best.lost.max(rate_at_end * f64::from(delay_ms) / 1000.0)
}

#[cfg(test)]
mod tests;
