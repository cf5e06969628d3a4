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
const STAMP_SHIFT: u32 = 8;

impl SlotState {
    /// Packs the state in one word so that it changes atomically: kind in
    /// bits 0–1, processor in bit 2, `requested_at_ms` (non-negative, < 2^56)
    /// in bits 8–63.
    pub fn encode(self) -> u64 {
        match self {
            SlotState::Pending => KIND_PENDING,
            SlotState::Done => KIND_DONE,
            SlotState::InFlight {
                processor,
                requested_at_ms,
            } => {
                debug_assert!((0..1 << 56).contains(&requested_at_ms));
                let processor_bit = match processor {
                    Processor::Default => 0,
                    Processor::Fallback => PROCESSOR_BIT,
                };
                KIND_IN_FLIGHT | processor_bit | (requested_at_ms as u64) << STAMP_SHIFT
            }
        }
    }

    /// Unpacks a word read from the file; `None` if no state encodes to it.
    pub fn decode(word: u64) -> Option<SlotState> {
        match word & KIND_MASK {
            KIND_PENDING if word == KIND_PENDING => Some(SlotState::Pending),
            KIND_DONE if word == KIND_DONE => Some(SlotState::Done),
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
