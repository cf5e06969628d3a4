//! The payment endpoint's concurrency limit: 800 at work, 500 waiting, then 429.
//!
//! A counting semaphore with a bounded waiting room, built from a `Mutex` and
//! a `Condvar` because each connection already has its own thread and simply
//! blocks. Waking is not strictly first-in first-out (a `Condvar` promises no
//! order), which only matters to a client the official processor would also
//! have kept waiting.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The official processor's limits for `POST /payments`.
pub const MAX_ACTIVE: usize = 800;
/// Requests that may wait for a slot before the next one gets HTTP 429.
pub const MAX_WAITING: usize = 500;

/// Both counts, guarded together so a decision sees a consistent pair.
#[derive(Debug, Default)]
struct Counts {
    /// Holders of a [`Pass`]; at most `max_active`.
    active: usize,
    /// Threads blocked in [`Gate::enter`]; at most `max_waiting`.
    waiting: usize,
}

/// A counting gate; see the module documentation.
#[derive(Debug)]
pub struct Gate {
    counts: Mutex<Counts>,
    /// Signalled once per released pass.
    freed: Condvar,
    max_active: usize,
    max_waiting: usize,
}

/// Both the active and the waiting places are taken (HTTP 429).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

/// The right to process one request; dropping it frees the place.
#[derive(Debug)]
pub struct Pass<'g> {
    gate: &'g Gate,
}

impl Gate {
    /// A gate admitting `max_active` at once with `max_waiting` more queued.
    pub fn new(max_active: usize, max_waiting: usize) -> Gate {
        Gate {
            counts: Mutex::new(Counts::default()),
            freed: Condvar::new(),
            max_active,
            max_waiting,
        }
    }

    /// Takes a place now, or waits for one if the waiting room has room.
    pub fn enter(&self) -> Result<Pass<'_>, Busy> {
        let mut counts = self.lock();
        if counts.active >= self.max_active {
            if counts.waiting >= self.max_waiting {
                return Err(Busy);
            }
            counts.waiting += 1;
            while counts.active >= self.max_active {
                counts = self
                    .freed
                    .wait(counts)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            counts.waiting -= 1;
        }
        counts.active += 1;
        Ok(Pass { gate: self })
    }

    /// A poisoned lock only means a handler panicked; the counts it guards
    /// are updated in single statements and stay consistent.
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.gate.lock().active -= 1;
        self.gate.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn waiters_get_in_when_a_place_frees_and_the_rest_are_refused() {
        let gate = Gate::new(2, 1);
        let first = gate.enter().unwrap();
        let _second = gate.enter().unwrap();
        let (done, entered) = mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let pass = gate.enter();
                done.send(pass.is_ok()).unwrap();
            });
            // The third caller must be queued, not refused and not admitted.
            while gate.lock().waiting == 0 {
                std::thread::yield_now();
            }
            assert!(entered.try_recv().is_err());
            assert_eq!(gate.enter().unwrap_err(), Busy);
            drop(first);
            assert_eq!(entered.recv_timeout(Duration::from_secs(5)), Ok(true));
        });
        let counts = gate.lock();
        assert_eq!((counts.active, counts.waiting), (1, 0));
    }

    #[test]
    fn a_gate_without_waiting_room_refuses_at_once() {
        let gate = Gate::new(1, 0);
        let pass = gate.enter().unwrap();
        assert_eq!(gate.enter().unwrap_err(), Busy);
        drop(pass);
        assert!(gate.enter().is_ok());
    }
}
