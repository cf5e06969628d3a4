//! The rate limit of `GET /payments/service-health`.
//!
//! The official processor uses ASP.NET's fixed-window limiter with one permit
//! per 5 s window and a queue of two (oldest first). A window hands out one
//! permit, so a queued caller is answered when the next window with a free
//! permit opens: the first waiter at the next window, the second one a window
//! later. Beyond two waiters the caller gets HTTP 429 at once.
//!
//! That reduces to arithmetic: windows are numbered from the first call, and
//! `next_free` is the first window whose permit nobody holds yet. A caller
//! either takes the current window's permit, or reserves the window
//! `next_free` and sleeps until it opens (no `Condvar` needed), or is refused.
//! The clock is passed in, so tests drive time without sleeping.

/// Length of a window in ms (`RATE_LIMIT_SECONDS` = 5).
pub const WINDOW_MS: i64 = 5_000;
/// Callers that may wait for a later window (`QueueLimit` = 2).
pub const QUEUE_LIMIT: i64 = 2;

/// The limiter's whole state; `admit` is O(1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthLimiter {
    /// When window 0 opened: the first call ever, like the lazily created
    /// ASP.NET limiter. `None` before the first call.
    origin_ms: Option<i64>,
    /// The first window whose permit is not yet granted or reserved; every
    /// window before it is spoken for.
    next_free: i64,
}

/// The limiter's answer to one caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Answer now.
    Now,
    /// Answer when the clock reaches this instant (same clock as `now_ms`).
    At(i64),
    /// HTTP 429; `Retry-After` is the whole seconds until the next window
    /// opens, at least 1.
    Refused {
        /// Seconds for the `Retry-After` header.
        retry_after_s: i64,
    },
}

impl HealthLimiter {
    /// Decides for a caller arriving at `now_ms` (a monotonic clock in ms).
    pub fn admit(&mut self, now_ms: i64) -> Admission {
        let origin = *self.origin_ms.get_or_insert(now_ms);
        // A clock before the origin cannot happen with a monotonic clock;
        // clamping keeps the arithmetic meaningful if it ever does.
        let current = (now_ms - origin).max(0) / WINDOW_MS;
        if self.next_free <= current {
            self.next_free = current + 1;
            return Admission::Now;
        }
        let queued = self.next_free - (current + 1);
        if queued < QUEUE_LIMIT {
            let opens = origin + self.next_free * WINDOW_MS;
            self.next_free += 1;
            return Admission::At(opens);
        }
        let next_window_ms = origin + (current + 1) * WINDOW_MS;
        let retry_after_s = (next_window_ms - now_ms + 999) / 1000;
        Admission::Refused {
            retry_after_s: retry_after_s.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_answer_per_window_two_waiters_then_refusals() {
        let mut limiter = HealthLimiter::default();
        let t0 = 1_000_000;
        let cases = [
            // (arrival, expected)
            (t0, Admission::Now),
            (t0 + 10, Admission::At(t0 + 5_000)),
            (t0 + 20, Admission::At(t0 + 10_000)),
            (t0 + 30, Admission::Refused { retry_after_s: 5 }),
            (t0 + 4_001, Admission::Refused { retry_after_s: 1 }),
            (t0 + 4_999, Admission::Refused { retry_after_s: 1 }),
            // Window 1 opens: its permit went to the first waiter, one waits
            // still, so there is room for one more in the queue.
            (t0 + 5_000, Admission::At(t0 + 15_000)),
            (t0 + 6_500, Admission::Refused { retry_after_s: 4 }),
            // Long quiet: the queue has drained, a call is answered at once
            // and a second in the same window waits for the next one.
            (t0 + 60_001, Admission::Now),
            (t0 + 60_002, Admission::At(t0 + 65_000)),
            (t0 + 65_000, Admission::At(t0 + 70_000)),
            (t0 + 70_000, Admission::At(t0 + 75_000)),
            (t0 + 70_001, Admission::At(t0 + 80_000)),
            (t0 + 70_002, Admission::Refused { retry_after_s: 5 }),
        ];
        for (now, expected) in cases {
            assert_eq!(limiter.admit(now), expected, "at t0 + {}", now - t0);
        }
    }

    #[test]
    fn windows_are_counted_from_the_first_call() {
        let mut limiter = HealthLimiter::default();
        assert_eq!(limiter.admit(7), Admission::Now);
        assert_eq!(limiter.admit(5_006), Admission::At(5_007));
        assert_eq!(limiter.admit(5_007), Admission::At(10_007));
        // A backwards clock is clamped to window 0 rather than misbehaving.
        let mut limiter = HealthLimiter::default();
        assert_eq!(limiter.admit(100), Admission::Now);
        assert_eq!(limiter.admit(50), Admission::At(5_100));
    }
}
