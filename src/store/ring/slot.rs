//! One ring slot: the encoding of its sequence word, and the dispatch
//! state the leader keeps in it.

use std::sync::atomic::AtomicU64;

use crate::domain::payment::Processor;
use crate::store::layout;

/// One ring slot: a 64-byte line of atomics.
#[repr(C, align(64))]
pub struct Slot {
    /// See the table in `ring.rs`'s module docs, and [`seq_word`].
    pub(super) seq: AtomicU64,
    /// The dispatch state, encoded by [`SlotState::encode`]; leader only.
    pub(super) state: AtomicU64,
    /// The correlation id, big-endian halves of the UUID's 16 bytes.
    pub(super) id_high: AtomicU64,
    pub(super) id_low: AtomicU64,
    /// The amount in cents (≤ `money::MAX_CENTS`).
    pub(super) amount_cents: AtomicU64,
    /// The purge generation the payment was accepted in.
    pub(super) generation: AtomicU64,
    /// When a producer wrote the payment, in ms since the epoch (layout
    /// version 2): only for status output (`rinha stat`'s oldest age), no
    /// decision reads it.
    pub(super) accepted_at_ms: AtomicU64,
    _reserved: AtomicU64,
}

const _: () = assert!(std::mem::size_of::<Slot>() == layout::SLOT_LEN);

impl Slot {
    /// A slot of zeros (free for position 0 once [`Ring::initialise`]d).
    pub(super) fn zeroed() -> Slot {
        Slot {
            seq: AtomicU64::new(0),
            state: AtomicU64::new(0),
            id_high: AtomicU64::new(0),
            id_low: AtomicU64::new(0),
            amount_cents: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            accepted_at_ms: AtomicU64::new(0),
            _reserved: AtomicU64::new(0),
        }
    }
}

/// Where a published payment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Never sent, or sent and definitely refused: any processor may take it.
    Pending,
    /// Sent to `processor` stamped `requested_at_ms`, outcome not yet known:
    /// it may only ever be resolved at that processor, with that stamp.
    InFlight {
        /// Where the payment was sent.
        processor: Processor,
        /// The `requestedAt` it was sent with, in ms since the epoch.
        requested_at_ms: i64,
    },
    /// Recorded in the ledger, or discarded (purged, duplicate, rejected).
    Done,
}

const KIND_MASK: u64 = 0b11;
const KIND_PENDING: u64 = 0;
const KIND_IN_FLIGHT: u64 = 1;
const KIND_DONE: u64 = 2;
const PROCESSOR_BIT: u64 = 1 << 2;
/// The leader's fencing tag (layout version 5): bits 3–18.
const TAG_SHIFT: u32 = 3;
/// The tag's width: an epoch modulo 2^16 (see `store/leader/lease.rs`).
pub(in crate::store) const FENCE_MASK: u64 = 0xffff;
const STAMP_SHIFT: u32 = 19;

impl SlotState {
    /// Packs the state in one word so that it changes atomically, with a
    /// fencing tag of 0 (see [`SlotState::encode_tagged`]).
    pub fn encode(self) -> u64 {
        self.encode_tagged(0)
    }

    /// Packs the state and the writing leader's fencing `tag` in one word:
    /// kind in bits 0–1, processor in bit 2, tag in bits 3–18,
    /// `requested_at_ms` (non-negative, < 2^45: until the year 3084) in
    /// bits 19–63.
    pub(in crate::store) fn encode_tagged(self, tag: u64) -> u64 {
        let tag = (tag & FENCE_MASK) << TAG_SHIFT;
        match self {
            SlotState::Pending => KIND_PENDING | tag,
            SlotState::Done => KIND_DONE | tag,
            SlotState::InFlight {
                processor,
                requested_at_ms,
            } => {
                debug_assert!((0..1 << 45).contains(&requested_at_ms));
                let processor_bit = match processor {
                    Processor::Default => 0,
                    Processor::Fallback => PROCESSOR_BIT,
                };
                KIND_IN_FLIGHT | processor_bit | tag | (requested_at_ms as u64) << STAMP_SHIFT
            }
        }
    }

    /// Unpacks a word read from the file, whatever its tag; `None` if no
    /// state encodes to it.
    pub fn decode(word: u64) -> Option<SlotState> {
        let untagged = word & !(FENCE_MASK << TAG_SHIFT);
        match untagged & KIND_MASK {
            KIND_PENDING if untagged == KIND_PENDING => Some(SlotState::Pending),
            KIND_DONE if untagged == KIND_DONE => Some(SlotState::Done),
            KIND_IN_FLIGHT => Some(SlotState::InFlight {
                processor: if word & PROCESSOR_BIT == 0 {
                    Processor::Default
                } else {
                    Processor::Fallback
                },
                requested_at_ms: (word >> STAMP_SHIFT) as i64,
            }),
            _ => None,
        }
    }
}

/// The fencing tag a state word carries.
pub(in crate::store) fn fence_of(word: u64) -> u64 {
    (word >> TAG_SHIFT) & FENCE_MASK
}

/// The same state word with another fencing tag.
pub(in crate::store) fn with_fence(word: u64, tag: u64) -> u64 {
    word & !(FENCE_MASK << TAG_SHIFT) | (tag & FENCE_MASK) << TAG_SHIFT
}

/// Whether fencing tag `a` is newer than `b`, modulo 2^16 (half the range
/// either way: no two live leaders are 32 768 epochs apart).
pub(in crate::store) fn newer(a: u64, b: u64) -> bool {
    ((a.wrapping_sub(b) & FENCE_MASK) as u16 as i16) > 0
}

/// Bits of `seq` below the lap: see `ring.rs`'s module docs.
const TAG_BITS: u32 = 10;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
pub(super) const OWNER_MASK: u64 = 0xff;
pub(super) const OWNED: u64 = 1 << 8;
pub(super) const POISONED: u64 = 1 << 9;

/// The sequence word for `lap` with `tag`.
pub(super) fn seq_word(lap: u64, tag: u64) -> u64 {
    debug_assert!(tag <= TAG_MASK);
    lap << TAG_BITS | tag
}

/// `(lap, tag)` of a sequence word.
pub(super) fn split(word: u64) -> (u64, u64) {
    (word >> TAG_BITS, word & TAG_MASK)
}

/// The owner id in a tag (meaningful with `OWNED` or `POISONED` set).
pub(super) fn owner(tag: u64) -> u8 {
    (tag & OWNER_MASK) as u8
}
