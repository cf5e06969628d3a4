//! Hooks for tests only (built for unit tests and with the `test-support`
//! feature): a producer that stops after claiming, and a
//! drain that empties a ring nobody else uses.

use super::{PushError, Ring};

impl Ring<'_> {
    /// Claims the next free position and owns its slot: the first half of
    /// [`Ring::push`]. Test support only, to play a producer that stops
    /// between claiming and publishing; see `Cargo.toml`'s `test-support`.
    #[doc(hidden)]
    pub fn claim(&self) -> Result<u64, PushError> {
        self.claim_and_own()
    }

    /// Drops every pending payment: moves head to tail as if all were done.
    /// Test helper for a ring nobody else uses.
    #[cfg(test)]
    pub fn drain_all_for_test(&self) -> Vec<super::Pending> {
        use super::{Peek, SlotState};
        let mut taken = Vec::new();
        let tail = self.tail();
        for position in self.head()..tail {
            if let Peek::Published(pending) = self.peek(position) {
                taken.push(pending);
                self.set_state(position, SlotState::Done);
            }
        }
        self.free_done(tail);
        taken
    }
}
