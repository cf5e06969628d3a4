//! The processed payments, as the official processor's `payments` table.
//!
//! A plain `HashMap` behind the caller's mutex: the emulator stores a few
//! tens of thousands of payments per test, and a summary scans them all in
//! well under a millisecond, so no ordered index is kept.

use std::collections::HashMap;

use uuid::Uuid;

use crate::domain::summary::{Totals, Window};

/// One stored payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The amount rounded half-to-even to cents, as the processor keeps it.
    pub amount_cents: u64,
    /// The `requestedAt` the client sent, in ms since the epoch.
    pub requested_at_ms: i64,
}

/// What an insert did; a duplicate leaves the first payment untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The payment is new and now stored.
    Stored,
    /// A payment with this correlationId was already stored (HTTP 422).
    Duplicate,
}

/// Every payment stored since start or the last purge, by correlationId.
#[derive(Debug, Default)]
pub struct Store {
    payments: HashMap<Uuid, Stored>,
}

impl Store {
    /// Stores `payment` unless its correlationId is already there, like the
    /// table's unique key.
    pub fn insert(&mut self, id: Uuid, payment: Stored) -> Insert {
        match self.payments.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => Insert::Duplicate,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(payment);
                Insert::Stored
            }
        }
    }

    /// The payment stored under `id`, if any.
    pub fn get(&self, id: Uuid) -> Option<Stored> {
        self.payments.get(&id).copied()
    }

    /// Count and sum of the payments whose `requestedAt` lies in `window`
    /// (both bounds inclusive, like SQL `BETWEEN`).
    pub fn totals(&self, window: Window) -> Totals {
        let mut totals = Totals::default();
        for stored in self.payments.values() {
            if window.contains(stored.requested_at_ms) {
                totals.requests += 1;
                totals.cents += u128::from(stored.amount_cents);
            }
        }
        totals
    }

    /// Forgets every payment (`POST /admin/purge-payments`).
    pub fn purge(&mut self) {
        self.payments.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn stored(cents: u64, ms: i64) -> Stored {
        Stored {
            amount_cents: cents,
            requested_at_ms: ms,
        }
    }

    #[test]
    fn a_duplicate_keeps_the_first_payment() {
        let mut store = Store::default();
        assert_eq!(store.insert(id(1), stored(1990, 10)), Insert::Stored);
        assert_eq!(store.insert(id(1), stored(5, 20)), Insert::Duplicate);
        assert_eq!(store.get(id(1)), Some(stored(1990, 10)));
        assert_eq!(store.get(id(2)), None);
    }

    #[test]
    fn totals_count_both_bounds_of_the_window() {
        let mut store = Store::default();
        for (n, ms) in [(1, 999), (2, 1000), (3, 1500), (4, 2000), (5, 2001)] {
            store.insert(id(n), stored(100 * n as u64, ms));
        }
        let cases = [
            (
                Window {
                    from_ms: 1000,
                    to_ms: 2000,
                },
                3,
                900,
            ),
            (
                Window {
                    from_ms: 1000,
                    to_ms: 1000,
                },
                1,
                200,
            ),
            (
                Window {
                    from_ms: 2001,
                    to_ms: 1000,
                },
                0,
                0,
            ),
            (Window::ALL, 5, 1500),
        ];
        for (window, requests, cents) in cases {
            assert_eq!(
                store.totals(window),
                Totals { requests, cents },
                "{window:?}"
            );
        }
        store.purge();
        assert_eq!(store.totals(Window::ALL), Totals::default());
        assert_eq!(store.insert(id(1), stored(1, 1)), Insert::Stored);
    }
}
