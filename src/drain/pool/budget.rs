//! How many connections the pool may hold: half the descriptor limit,
//! lowered to what it holds when the OS refuses a socket, and raised again
//! step by step once the OS has stopped refusing.
//!
//! A shortage may be passing (the limit lowered then raised with
//! `prlimit`, the HTTP side briefly holding many descriptors, the host
//! short of ports): a budget that only ever shrinks would keep the drainer
//! at a handful of requests out for the rest of the process — 10 out at a
//! 1 s delay is 10 payments a second while hundreds arrive. So after
//! [`REGROW_AFTER`] without a refusal, a full budget grows: doubled plus
//! [`REGROW_STEP`], never above half the limit read at that moment, and a
//! full budget reads the limit again every [`REGROW_AFTER`] (a limit raised
//! after the budget met its lowered half is found too). If the shortage
//! persists, the next refusal lowers it again; each costs one deferred send.

use std::time::{Duration, Instant};

/// How long the OS must have stopped refusing before the budget grows by
/// one step, and between steps.
pub const REGROW_AFTER: Duration = Duration::from_millis(500);

/// Added to the doubled budget at each step, so a budget cut to one or
/// two connections grows back in a few steps too.
pub const REGROW_STEP: usize = 16;

/// The most connections the pool may hold now; see the module docs.
#[derive(Debug)]
pub struct Budget {
    max_open: usize,
    /// When the budget was last cut, or the limit last read for a full
    /// budget: it grows no sooner than [`REGROW_AFTER`] after either.
    /// `None` before either: a full budget reads the limit at once.
    last_look: Option<Instant>,
}

impl Budget {
    /// A budget of `limit` (half the descriptor limit).
    pub fn new(limit: usize) -> Budget {
        Budget {
            max_open: limit,
            last_look: None,
        }
    }

    /// The most connections the pool may hold now.
    pub fn max_open(&self) -> usize {
        self.max_open
    }

    /// The OS refused a socket while the pool held `open`; `limit` is half
    /// the descriptor limit read now. Keep below what is held.
    pub fn refused(&mut self, open: usize, limit: usize, now: Instant) {
        self.max_open = limit.min(open.max(1));
        self.last_look = Some(now);
    }

    /// Whether the pool, holding `open`, may open one more connection.
    /// A full budget grows a step if the OS has not refused for
    /// [`REGROW_AFTER`]; `limit` (half the descriptor limit) is read only
    /// then.
    pub fn room(&mut self, open: usize, now: Instant, limit: impl FnOnce() -> usize) -> bool {
        if open < self.max_open {
            return true;
        }
        let due = self
            .last_look
            .is_none_or(|at| now.saturating_duration_since(at) >= REGROW_AFTER);
        if due {
            // Read again while full, not only until the budget first meets
            // the limit: the limit itself may have been raised since (a
            // budget that reached a lowered limit's half stayed there).
            self.last_look = Some(now);
            let step = self.max_open.saturating_mul(2).saturating_add(REGROW_STEP);
            self.max_open = self.max_open.max(step.min(limit()));
        }
        open < self.max_open
    }
}

/// Half the soft descriptor limit from `/proc/self/limits` (the other
/// half is the HTTP side's), or no bound where it cannot be read.
pub fn descriptor_budget() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            let soft = line.split_whitespace().nth(3)?;
            soft.parse::<usize>().ok()
        })
        .map_or(usize::MAX, |soft| soft / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_cut_by_a_refusal_grows_back_step_by_step_once_quiet() {
        // Issue 15, item 4: the budget only ever shrank, so one shortage
        // capped the drainer for the rest of the process.
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut budget = Budget::new(512);
        assert!(budget.room(511, t0, || unreachable!("not full: no read")));
        budget.refused(10, 24, t0);
        assert_eq!(budget.max_open(), 10, "kept below what is held");
        assert!(!budget.room(10, at(499), || unreachable!("not quiet yet")));
        // The limit was raised meanwhile: quiet, it grows a step at a time.
        let mut steps = Vec::new();
        let mut now = 500;
        while budget.max_open() < 2048 {
            assert!(now < 10_000, "stuck at {}", budget.max_open());
            let before = budget.max_open();
            let room = budget.room(before, at(now), || 2048);
            if budget.max_open() != before {
                assert!(room);
                steps.push((now, budget.max_open()));
            }
            now += 100;
        }
        assert_eq!(
            steps,
            [
                (500, 36),
                (1000, 88),
                (1500, 192),
                (2000, 400),
                (2500, 816),
                (3000, 1648),
                (3500, 2048)
            ]
        );
        assert!(!budget.room(2048, at(60_000), || 2048), "at the limit");
        assert_eq!(budget.max_open(), 2048);
    }

    #[test]
    fn a_budget_that_met_a_lowered_limit_grows_when_the_limit_is_raised() {
        // Issue 15, item 4, as the drainer test found it: the budget grew
        // back to half of a limit still lowered, then never looked again.
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut budget = Budget::new(2048);
        budget.refused(10, 24, t0);
        assert!(budget.room(10, at(500), || 24));
        assert_eq!(budget.max_open(), 24, "half the lowered limit");
        assert!(!budget.room(24, at(1000), || 24), "still lowered");
        assert!(!budget.room(24, at(1200), || unreachable!("not due")));
        assert!(budget.room(24, at(1500), || 2048), "raised: it grows");
        assert_eq!(budget.max_open(), 64);
    }

    #[test]
    fn a_shortage_that_persists_cuts_the_budget_again() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut budget = Budget::new(2048);
        budget.refused(0, 2048, t0);
        assert_eq!(budget.max_open(), 1, "one connection, not none");
        assert!(budget.room(1, at(500), || 2048));
        assert_eq!(budget.max_open(), 18);
        // The OS still says no at 12 open: back down, and quiet again first.
        budget.refused(12, 2048, at(600));
        assert_eq!(budget.max_open(), 12);
        assert!(!budget.room(12, at(1000), || 2048));
        assert!(budget.room(12, at(1100), || 2048));
        // A limit lowered under us bounds the growth.
        budget.refused(12, 2048, at(1200));
        assert!(budget.room(12, at(1700), || 20));
        assert_eq!(budget.max_open(), 20);
        assert!(!budget.room(20, at(5000), || 20), "at the limit");
    }
}
