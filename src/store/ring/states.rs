//! The leader's writes to the ring's state words: recording where a
//! payment stands, tagging every slot with a new leader's fencing tag, and
//! freeing done slots for the next lap; each fenced by the writing
//! leader's tag (see `store/leader/lease.rs`) unless it is the unfenced
//! form kept for tests and benches. The orderings are those of `ring.rs`'s
//! module docs.

use std::sync::atomic::Ordering;

use super::slot::{POISONED, fence_of, newer, seq_word, split, with_fence};
use super::{Fenced, Ring, Slot, SlotState};

impl Ring<'_> {
    /// Records where the payment at `position` stands, unfenced: for a
    /// file nobody else leads (tests, benches). The leader's writes go
    /// through [`Ring::set_state_fenced`].
    pub fn set_state(&self, position: u64, state: SlotState) {
        // Release: what the writer did before (a ledger entry before Done)
        // is visible to whoever loads this state with Acquire.
        self.slot(position)
            .state
            .store(state.encode(), Ordering::Release);
    }

    /// Records where the payment at `position` stands, if its state word
    /// still carries the leader's fencing `tag`: `Err(Fenced)`, writing
    /// nothing, once a newer leader has tagged it (see `store/leader/lease.rs`).
    pub(in crate::store) fn set_state_fenced(
        &self,
        position: u64,
        state: SlotState,
        tag: u64,
    ) -> Result<(), Fenced> {
        let slot = self.slot(position);
        let new = state.encode_tagged(tag);
        // Relaxed: only the tag matters here, and the CAS re-reads it.
        let mut word = slot.state.load(Ordering::Relaxed);
        loop {
            if fence_of(word) != tag {
                return Err(Fenced);
            }
            // Release on success: what the leader did before (a ledger
            // entry before Done) happens-before any Acquire load or
            // retagging CAS that reads this word. Failure Relaxed: it only
            // reads a word to check again.
            match slot
                .state
                .compare_exchange_weak(word, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(current) => word = current,
            }
        }
    }

    /// Tags every slot's state word with `tag`, keeping the state: from the
    /// moment a slot is tagged, a leader with an older tag can no longer
    /// change it. `Err(Fenced)` if some slot carries a newer tag already.
    pub(in crate::store) fn fence_all(&self, tag: u64) -> Result<(), Fenced> {
        for slot in self.slots {
            // Relaxed: the CAS below re-reads the word.
            let mut word = slot.state.load(Ordering::Relaxed);
            loop {
                let found = fence_of(word);
                if found == tag {
                    break;
                }
                if newer(found, tag) {
                    return Err(Fenced);
                }
                // AcqRel: Acquire pairs with the older leader's Release in
                // `set_state_fenced` (its ledger entry before its Done is
                // ours to see); Release orders our tag before our writes.
                match slot.state.compare_exchange_weak(
                    word,
                    with_fence(word, tag),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(current) => word = current,
                }
            }
        }
        Ok(())
    }

    /// Frees every position from `head` on whose payment is done, up to
    /// (not including) `limit`; returns the new head. Unfenced: for a file
    /// nobody else leads (tests, benches).
    pub fn free_done(&self, limit: u64) -> u64 {
        match self.free_done_as(limit, None) {
            Ok(head) | Err((head, Fenced)) => head,
        }
    }

    /// [`Ring::free_done`] by the leader of fencing `tag` (`None`:
    /// unfenced): each done slot's state is reset to `Pending` with a
    /// fenced CAS before its slot goes to the next lap, so a replaced
    /// leader frees nothing its successor has tagged. The slot itself is
    /// freed with a CAS from *published for this position*, so two leaders
    /// freeing the same slot free it once, and `head` only grows.
    pub(in crate::store) fn free_done_as(
        &self,
        limit: u64,
        tag: Option<u64>,
    ) -> Result<u64, (u64, Fenced)> {
        let mut head = self.head();
        let mut fenced = None;
        while head < limit {
            let slot = self.slot(head);
            // Acquire: see the state the drainer stored with Release.
            let (lap, seq_tag) = split(slot.seq.load(Ordering::Acquire));
            match lap.wrapping_sub(head) as i64 {
                1 if seq_tag == 0 => {
                    let word = slot.state.load(Ordering::Acquire);
                    if SlotState::decode(word) != Some(SlotState::Done) {
                        break;
                    }
                    // The leader, not the next producer, resets the state:
                    // producers never store to it. Relaxed: ordered before
                    // the next lap by the Release CAS of `seq` below.
                    let reset = match tag {
                        Some(tag) => self
                            .set_state_fenced_relaxed(slot, word, tag)
                            .map_err(|f| fenced = Some(f)),
                        None => {
                            slot.state.store(
                                with_fence(SlotState::Pending.encode(), fence_of(word)),
                                Ordering::Relaxed,
                            );
                            Ok(())
                        }
                    };
                    if reset.is_err() {
                        break;
                    }
                    // Release pairs with the next lap's Acquire in
                    // `claim_position`. A CAS, not a store: if another
                    // leader freed it first (and a producer may have
                    // published into it since), ours must not undo that.
                    let _ = slot.seq.compare_exchange(
                        seq_word(head + 1, 0),
                        seq_word(head + self.capacity(), 0),
                        Ordering::Release,
                        Ordering::Relaxed,
                    );
                }
                // Poisoned: settled, though its slot is freed only later.
                0 if seq_tag & POISONED != 0 => {}
                // Abandoned and freed already.
                offset if offset >= self.capacity() as i64 => {}
                _ => break,
            }
            head += 1;
        }
        // Relaxed: the head publishes nothing (the slots' `seq` words do);
        // fetch_max so that a slower leader never moves it back.
        let head = self.head.fetch_max(head, Ordering::Relaxed).max(head);
        match fenced {
            Some(fenced) => Err((head, fenced)),
            None => Ok(head),
        }
    }

    /// Resets a done slot's state word `word` to `Pending` if it carries
    /// `tag` (the fenced half of freeing).
    fn set_state_fenced_relaxed(&self, slot: &Slot, word: u64, tag: u64) -> Result<(), Fenced> {
        if fence_of(word) != tag {
            return Err(Fenced);
        }
        // Relaxed, both: ordered before the next lap by the Release CAS of
        // `seq` that follows; a failure means the word moved (a newer
        // leader's tag), which is what fencing refuses.
        slot.state
            .compare_exchange(
                word,
                SlotState::Pending.encode_tagged(tag),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .map(|_| ())
            .map_err(|_| Fenced)
    }
}
