//! Settling claims that will never be published: the leader's cursor
//! abandoning a position whose producer stalled or died between claiming
//! and publishing (freeing its slot, or poisoning it while the owner may
//! still write), and freeing for the next lap the slots whose owner is gone
//! (the cursor's sweep, or the next holder of the same producer id). The
//! rules are adaptation 4 in `ring.rs`'s module docs, the orderings its
//! "Orderings".

use std::sync::atomic::Ordering;

use super::Ring;
use super::slot::{OWNED, OWNER_MASK, POISONED, owner, seq_word, split};

impl Ring<'_> {
    /// Gives up on a position claimed but never published; true if this call
    /// settled it (freed its slot, or poisoned it while its owner may still
    /// write), false if it was published meanwhile or is not claimed.
    pub fn abandon(&self, position: u64) -> bool {
        let slot = self.slot(position);
        let word = slot.seq.load(Ordering::Relaxed);
        let (lap, tag) = split(word);
        if lap != position || tag & POISONED != 0 {
            return false;
        }
        let next = if tag & OWNED != 0 && self.liveness.may_still_write(owner(tag)) {
            seq_word(position, POISONED | (tag & OWNER_MASK))
        } else {
            // Unowned (nobody may write: owning would now fail) or owned by
            // a producer that is gone: free for the next lap at once.
            seq_word(position + self.capacity(), 0)
        };
        // Release pairs with the next lap's Acquire in `claim_position`.
        // The CAS races the producer's `own` or `publish`: one of them wins.
        slot.seq
            .compare_exchange(word, next, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }

    /// Frees every poisoned slot whose owner is gone, and every slot still
    /// claimed or poisoned by `dead_id` if given (a producer id whose lock
    /// the caller now holds, so its previous holder is gone); returns how
    /// many poisoned slots remain (owners alive). Scans the whole ring.
    fn clear_claims(&self, dead_id: Option<u8>) -> u64 {
        let mut remaining = 0;
        for slot in self.slots {
            loop {
                let word = slot.seq.load(Ordering::Relaxed);
                let (lap, tag) = split(word);
                let tagged = tag & (OWNED | POISONED) != 0;
                let gone = tagged
                    && (dead_id == Some(owner(tag))
                        || (tag & POISONED != 0 && !self.liveness.may_still_write(owner(tag))));
                if !gone {
                    remaining += u64::from(tag & POISONED != 0);
                    break;
                }
                // Release pairs with the next lap's Acquire in `claim_position`.
                let freed = seq_word(lap + self.capacity(), 0);
                if slot
                    .seq
                    .compare_exchange(word, freed, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
                {
                    break;
                }
            }
        }
        remaining
    }

    /// Frees the poisoned slots whose owners are gone; returns how many
    /// poisoned slots remain. Called by the leader's [`Cursor`](super::Cursor).
    pub fn clear_dead_poison(&self) -> u64 {
        self.clear_claims(None)
    }

    /// Frees every slot claimed or poisoned by producer `id`, whose lock the
    /// caller has just taken: its previous holder is gone, and these slots
    /// would otherwise look owned by a live producer for ever.
    pub fn release_claims_of(&self, id: u8) {
        self.clear_claims(Some(id));
    }
}
