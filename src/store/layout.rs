//! The bytes of the shared file: what lies at which offset, and in which
//! version. A leaf: it imports nothing from the crate, so the layout can be
//! read (and checked against the version) without the code that uses it.
//!
//! # Layout (version 5)
//!
//! ```text
//!  offset  size                      what                                   written by
//!  ──────  ────────────────────────  ─────────────────────────────────────  ─────────────────
//!       0  128                       identity: magic, version, capacities,  creator, once
//!                                    total length
//!     128  128                       ring tail  (next position to claim)    producers (CAS)
//!     256  128                       ring head  (first position not freed)  leader
//!     384  128                       ledger reserved (entries claimed)      leader (CAS)
//!     512  128                       purge: generation, ledger start        any instance
//!     640  2 × 128                   per processor (default, fallback):     leader
//!                                    its health window and last answer
//!                                    (HealthRecord), and its latency as
//!                                    the leader last saw it, with when
//!                                    (ObservedLatency)
//!     896  128                       leader: pid, since (for humans)        leader
//!    1024  128                       route: the router's choice (RouteChoice) leader
//!    1152  128                       rejected: per processor, refusals of   leader
//!                                    payments (3xx, 4xx but 422) and the
//!                                    last such status (Rejections)
//!    1280  128                       lease: epoch, deadline, lock bit       leader (CAS)
//!    1408  ring_slots × 64           ring slots        (ring.rs)            producers, leader
//!       …  ledger_entries × 24       ledger entries    (ledger.rs)          leader
//!       …  ledger_entries × 24       ledger keys       (ledger.rs)          leader
//! ```
//!
//! Version 2 added the `route` line and, in each ring slot, the time the
//! producer accepted the payment (one of version 1's two reserved words);
//! both are for status output only (`rinha stat`): no decision reads them.
//! Version 3 changed the meaning of a ring slot's sequence word (a lap and
//! an owner tag, see `ring.rs`). Version 4 added the `rejected` line, for
//! status output only: the drainer keeps a refused payment and retries it,
//! and the count tells an operator why nothing is paid; and, in each health
//! line, the leader's observed latency: unlike the other status words, a decision
//! reads it (a new leader starts from it, see [`ObservedLatency`]). Version 5
//! added the `lease` line and fencing tags: in each slot's state word (bits
//! 3–18, the stamp moved to bits 19–63), in the ledger's `reserved`
//! counter (bits 32–47) and a VOID meta; see `store/leader/lease.rs`. Files of
//! other versions are refused. Next
//! to the file live its lock files: `<file>.leader` (election) and
//! `<file>.producer-<id>` (one per open handle, see `producers.rs`).
//!
//! Each header field sits on its own 128-byte line, so producers hammering
//! the tail never invalidate the line the leader reads the head from (128,
//! not 64, because x86's adjacent-line prefetcher pairs lines; crossbeam's
//! `CachePadded` makes the same choice).
//!
//! # Rules that make sharing safe
//!
//! - Only fixed-size plain data lives in the file, and every field is an
//!   atomic (`AtomicU64`): two processes touching the same word is then
//!   defined behaviour, never a data race. Relaxed atomics compile to plain
//!   loads and stores on x86, so this costs nothing.
//! - Structures are addressed by offsets computed from capacities that were
//!   validated at open; positions read from the file are reduced modulo the
//!   capacity before use, so a corrupt value is a wrong answer at worst,
//!   never an out-of-bounds access.
//! - Creation happens under an exclusive `flock` on the file itself, so
//!   processes that start at the same moment never see a half-written
//!   header. A file whose header is incomplete while we hold that lock was
//!   left by a creator that died mid-way, and is initialised again.
//! - A file with another magic, version or capacities is refused with an
//!   error that says which, never reinterpreted.
//!
//! The fields are visible to the store alone (`pub(super)`): other layers
//! go through [`crate::store::shared_file::SharedFile`]'s methods, which
//! carry the orderings and their reasons.

use std::sync::atomic::AtomicU64;

/// `RINHA\0SH` read as a little-endian word.
pub const MAGIC: u64 = u64::from_le_bytes(*b"RINHA\0SH");

/// Bumped whenever the meaning of any byte in the file changes.
pub const LAYOUT_VERSION: u64 = 5;

/// The header's length: where the ring slots start.
pub const HEADER_LEN: usize = 1408;

/// Bytes of one ring slot (`ring::Slot` asserts it is its size).
pub const SLOT_LEN: usize = 64;

/// Bytes of one ledger entry (`ledger::Entry` asserts it is its size).
pub const ENTRY_LEN: usize = 24;

/// Bytes of one ledger key (`ledger::EntryKey` asserts it is its size).
pub const KEY_LEN: usize = 24;

/// One header field alone on a 128-byte line (see the module docs).
#[repr(C, align(128))]
pub struct Line<T>(pub T);

/// Written once by the creator; `magic` last, so a non-zero magic means the
/// rest of the file is initialised.
#[repr(C)]
pub struct Identity {
    pub(super) magic: AtomicU64,
    pub(super) version: AtomicU64,
    pub(super) ring_slots: AtomicU64,
    pub(super) ledger_entries: AtomicU64,
    pub(super) total_len: AtomicU64,
}

/// What `POST /purge-payments` moves.
#[repr(C)]
pub struct Purge {
    /// Starts at 0 and only grows. Every ring slot and ledger entry carries
    /// the generation it was accepted in; the summary counts only the
    /// current one and the drainer discards pending payments of older ones.
    pub(super) generation: AtomicU64,
    /// Ledger entries below this index belong to older generations, so the
    /// summary need not scan them.
    pub(super) ledger_start: AtomicU64,
}

/// The last health check of one processor, shared so that the limit of one
/// call per 5 s holds across instances and across changes of leader.
#[repr(C)]
pub struct HealthRecord {
    /// When the last call was claimed, in ms since the epoch (0: never).
    pub(super) checked_at_ms: AtomicU64,
    /// Its answer, see [`HealthAnswer`]; 0 = none yet. Only `rinha stat`
    /// reads it: the router acts on the answer its own call got.
    pub(super) answer: AtomicU64,
    /// How long the processor takes to store a payment, as the leader last
    /// heard it (`drain::router::Router::store_latency`: never the instant
    /// of a refusal), and when; see [`ObservedLatency`]; 0 = none yet. Stored Relaxed by the leader
    /// (every 50 ms while it knows one) and loaded Relaxed by the next
    /// leader when it takes over: the word publishes nothing else, so
    /// nothing needs ordering against it, and being one word it is never
    /// torn (a latency is never paired with another's time). The new leader
    /// reads it after it took the lock its predecessor's death released,
    /// so it sees the dead leader's last value; even a stale one would only
    /// be a worse hint: a lookup made before the processor stored the
    /// payment finds nothing and is made again (`drain::fate`).
    pub(super) latency: AtomicU64,
}

/// The word a [`HealthRecord`] keeps the leader's observed latency in:
/// bit 63 set (a value exists), bits 21–62 when it was observed, in ms
/// since the epoch (42 bits: until the year 2109), bits 0–20 the latency in
/// ms (clamped to about 35 minutes, far past any timeout). Plain numbers,
/// so the layout stays a leaf.
///
/// Why it is shared: a new leader knows no latency until its first
/// answers, a whole processor delay after it takes over; meanwhile it
/// cannot tell when the payments its predecessor left in flight come out
/// of the processor, and those must be looked up (and recorded) in the
/// moments between the processor storing them and their stamp entering
/// the consistency check's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObservedLatency {
    /// The latency, in ms.
    pub latency_ms: u64,
    /// When the leader last held it, in ms since the epoch.
    pub at_ms: u64,
}

impl ObservedLatency {
    const LATENCY_BITS: u32 = 21;
    const AT_BITS: u32 = 42;

    /// Packs it in one word (see the type's docs).
    pub fn encode(self) -> u64 {
        let latency = self.latency_ms.min((1 << Self::LATENCY_BITS) - 1);
        let at = self.at_ms & ((1 << Self::AT_BITS) - 1);
        1 << 63 | at << Self::LATENCY_BITS | latency
    }

    /// The value stored by [`ObservedLatency::encode`]; `None` for 0 (none
    /// yet) or any word without bit 63.
    pub fn decode(word: u64) -> Option<ObservedLatency> {
        (word >> 63 == 1).then_some(ObservedLatency {
            latency_ms: word & ((1 << Self::LATENCY_BITS) - 1),
            at_ms: (word >> Self::LATENCY_BITS) & ((1 << Self::AT_BITS) - 1),
        })
    }
}

/// The word a [`HealthRecord`] keeps its answer in: bit 63 set (an answer
/// exists), bit 0 failing, bits 1–62 the minResponseTime in ms (clamped).
/// Plain numbers rather than `domain::payment::Health`, so the layout
/// stays a leaf; the store converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthAnswer {
    /// The processor said it is failing.
    pub failing: bool,
    /// Its minResponseTime, in ms.
    pub min_response_time_ms: u64,
}

impl HealthAnswer {
    /// Packs the answer in one word (see the type's docs).
    pub fn encode(self) -> u64 {
        let delay = self.min_response_time_ms.min((1 << 62) - 1);
        1 << 63 | delay << 1 | u64::from(self.failing)
    }

    /// The answer stored by [`HealthAnswer::encode`]; `None` for 0 (no
    /// answer yet) or any word without bit 63.
    pub fn decode(word: u64) -> Option<HealthAnswer> {
        (word >> 63 == 1).then_some(HealthAnswer {
            failing: word & 1 == 1,
            min_response_time_ms: (word >> 1) & ((1 << 62) - 1),
        })
    }
}

/// What the router is doing with the payments it takes, as stored in the
/// header's `route` word: 0 default, 1 fallback, 2 holding (waiting for a
/// processor), 3 unknown (never set; a fresh file starts there). Any other
/// word reads as unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteChoice {
    /// Payments go to the default processor.
    Default = 0,
    /// Payments go to the fallback processor.
    Fallback = 1,
    /// Payments wait in the ring for a processor to recover.
    Holding = 2,
    /// Nobody said (no leader yet, or a drainer that does not set it).
    Unknown = 3,
}

impl RouteChoice {
    /// The word read from the file, trusted only as far as its four values.
    pub fn decode(word: u64) -> RouteChoice {
        match word {
            0 => RouteChoice::Default,
            1 => RouteChoice::Fallback,
            2 => RouteChoice::Holding,
            _ => RouteChoice::Unknown,
        }
    }

    /// Its name in `rinha stat`'s output.
    pub fn name(self) -> &'static str {
        match self {
            RouteChoice::Default => "default",
            RouteChoice::Fallback => "fallback",
            RouteChoice::Holding => "holding",
            RouteChoice::Unknown => "unknown",
        }
    }
}

/// How often each processor refused a payment with a 3xx or a 4xx other
/// than 422 (a misconfigured URL, something in front of a restarting
/// processor): the drainer keeps such payments and retries them, so this
/// is where an operator sees why nothing is paid. Indexed by processor: 0
/// default, 1 fallback. For `rinha stat` only; no decision reads it.
#[repr(C)]
pub struct Rejections {
    /// Refusals since the file was created (every leader adds to it).
    pub(super) count: [AtomicU64; 2],
    /// The status of the latest one (0: none yet).
    pub(super) last_status: [AtomicU64; 2],
}

/// Who drains, for `rinha stat` and for humans reading the file.
#[repr(C)]
pub struct LeaderRecord {
    /// Process id of the current leader (0: none yet).
    pub(super) pid: AtomicU64,
    /// When it took over, in ms since the epoch.
    pub(super) since_ms: AtomicU64,
}

/// The first [`HEADER_LEN`] bytes of the file.
#[repr(C)]
pub struct Header {
    pub(super) identity: Line<Identity>,
    /// Producers claim positions here (Vyukov's enqueue counter).
    pub(super) ring_tail: Line<AtomicU64>,
    /// Positions below it are freed for the next lap; only the leader moves it.
    pub(super) ring_head: Line<AtomicU64>,
    /// Ledger entries claimed so far; the leader claims with a CAS.
    pub(super) ledger_reserved: Line<AtomicU64>,
    /// See [`Purge`].
    pub(super) purge: Line<Purge>,
    /// Indexed by processor: 0 default, 1 fallback.
    pub(super) health: [Line<HealthRecord>; 2],
    /// See [`LeaderRecord`].
    pub(super) leader: Line<LeaderRecord>,
    /// A [`RouteChoice`], as its discriminant.
    pub(super) route: Line<AtomicU64>,
    /// See [`Rejections`].
    pub(super) rejected: Line<Rejections>,
    /// The leader's lease: epoch, deadline and lock bit in one word, so
    /// that renewing and taking over are each one CAS (`store/leader/lease.rs`).
    pub(super) lease: Line<AtomicU64>,
}

const _: () = assert!(std::mem::size_of::<Header>() == HEADER_LEN);

/// Byte offsets of the three arrays, derived from the capacities alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offsets {
    /// The first ring slot.
    pub ring: usize,
    /// The first ledger entry.
    pub entries: usize,
    /// The first ledger key.
    pub keys: usize,
    /// The file's length.
    pub total: usize,
}

impl Offsets {
    /// Where everything lies in a file of these capacities.
    ///
    /// Plain numbers rather than `config::Capacities`: the layout and the
    /// configuration are both leaves, and neither should import the other.
    pub fn of(ring_slots: u32, ledger_entries: u32) -> Offsets {
        let ring = HEADER_LEN;
        let entries = ring + ring_slots as usize * SLOT_LEN;
        let keys = entries + ledger_entries as usize * ENTRY_LEN;
        let total = keys + ledger_entries as usize * KEY_LEN;
        Offsets {
            ring,
            entries,
            keys,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_answers_decode_to_what_was_encoded() {
        assert_eq!(HealthAnswer::decode(0), None);
        for answer in [
            HealthAnswer {
                failing: false,
                min_response_time_ms: 0,
            },
            HealthAnswer {
                failing: true,
                min_response_time_ms: 2000,
            },
        ] {
            assert_eq!(HealthAnswer::decode(answer.encode()), Some(answer));
        }
    }

    #[test]
    fn observed_latencies_decode_to_what_was_encoded() {
        assert_eq!(ObservedLatency::decode(0), None);
        for observed in [
            ObservedLatency {
                latency_ms: 0,
                at_ms: 0,
            },
            ObservedLatency {
                latency_ms: 1500,
                at_ms: 1_752_000_000_123,
            },
            ObservedLatency {
                latency_ms: (1 << 21) - 1,
                at_ms: (1 << 42) - 1,
            },
        ] {
            assert_eq!(ObservedLatency::decode(observed.encode()), Some(observed));
        }
        // Out of range: the latency is clamped, never spills into the time.
        let huge = ObservedLatency {
            latency_ms: u64::MAX,
            at_ms: 7,
        };
        assert_eq!(
            ObservedLatency::decode(huge.encode()),
            Some(ObservedLatency {
                latency_ms: (1 << 21) - 1,
                at_ms: 7
            })
        );
    }
}
