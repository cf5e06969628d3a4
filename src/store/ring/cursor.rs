//! The leader's walk over the ring: waits for, abandons and skips claims.

use std::time::{Duration, Instant};

use super::{Peek, Pending, Ring};

/// The leader's walk over the ring, one position after the other.
///
/// It never skips a position a producer may still publish, except one that
/// stayed claimed and unpublished for `abandon_after`: that producer is
/// presumed stuck or dead, and [`Ring::abandon`] makes sure it cannot
/// publish late nor write into a reused slot. Poisoned slots are re-checked
/// every `abandon_after` (once at the start too, for a new leader) and
/// freed when their owner is gone.
#[derive(Debug)]
pub struct Cursor {
    position: u64,
    claimed_since: Option<(u64, Instant)>,
    abandon_after: Duration,
    /// Some slot may be poisoned: sweep when `last_sweep` is old enough.
    sweep_wanted: bool,
    last_sweep: Option<Instant>,
}

/// What one [`Cursor::step`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to take now (empty, or a producer is still writing).
    Idle,
    /// The position was claimed and never published; the cursor moved on.
    Abandoned(u64),
    /// A published payment; the cursor moved on.
    Payment(Pending),
}

impl Cursor {
    /// Starts at `position` (the head, for a new leader).
    pub fn new(position: u64, abandon_after: Duration) -> Cursor {
        Cursor {
            position,
            claimed_since: None,
            abandon_after,
            sweep_wanted: true,
            last_sweep: None,
        }
    }

    /// The next position to look at.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Looks at the current position and moves past it if it is settled,
    /// skipping every abandoned position in one call (a loop: a run of
    /// them is as long as the ring at most).
    pub fn step(&mut self, ring: &Ring<'_>) -> Step {
        self.sweep_if_due(ring);
        loop {
            match ring.peek(self.position) {
                Peek::Empty => return Step::Idle,
                Peek::Abandoned => self.position += 1,
                Peek::Published(pending) => {
                    self.position += 1;
                    return Step::Payment(pending);
                }
                Peek::Claimed => return self.wait_or_abandon(ring),
            }
        }
    }

    fn wait_or_abandon(&mut self, ring: &Ring<'_>) -> Step {
        let since = match self.claimed_since {
            Some((position, since)) if position == self.position => since,
            _ => self.claimed_since.insert((self.position, Instant::now())).1,
        };
        if since.elapsed() < self.abandon_after || !ring.abandon(self.position) {
            return Step::Idle;
        }
        self.sweep_wanted = true;
        self.position += 1;
        Step::Abandoned(self.position - 1)
    }

    /// Frees poisoned slots of dead producers, at most every `abandon_after`
    /// and only while some may exist: a scan of the ring costs microseconds
    /// plus one lock probe per poisoned slot.
    fn sweep_if_due(&mut self, ring: &Ring<'_>) {
        // The flag first: reading the clock on every step would cost the
        // common case (no poison anywhere) a clock read per payment.
        if !self.sweep_wanted {
            return;
        }
        let due = self
            .last_sweep
            .is_none_or(|at| at.elapsed() >= self.abandon_after);
        if due {
            self.sweep_wanted = ring.clear_dead_poison() > 0;
            self.last_sweep = Some(Instant::now());
        }
    }
}
