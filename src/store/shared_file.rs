//! The memory-mapped file every instance shares: creation, validation, and
//! the typed views the rest of the crate uses (ring, ledger, header words).
//!
//! What lies at which offset, the layout version and its history, and the
//! rules that make sharing the file safe are in [`crate::store::layout`];
//! the raw mapping is `store/mapping.rs`. The header's status words (route,
//! health, leader) are read and written in `shared_file/status.rs`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

use crate::config::Capacities;
use crate::domain::payment::Payment;
use crate::store::layout::{
    HEADER_LEN, Header, Identity, LAYOUT_VERSION, MAGIC, Offsets, RouteChoice,
};
use crate::store::ledger::Ledger;
use crate::store::mapping::{MapError, Mapping};
use crate::store::producers::{Liveness, Producers};
use crate::store::ring::{PushError, READER, Ring};
use crate::store::roles::{Producer, Reader};

mod status;
#[cfg(test)]
mod tests;

/// The identity words of a file opened read-only, before its capacities are
/// known (so before the rest of its header can be trusted).
struct IdentityWords {
    ring_slots: u64,
    ledger_entries: u64,
    total_len: u64,
}

impl IdentityWords {
    /// Reads and checks magic and version from a (read-only) identity line.
    fn read(identity: &Identity) -> Result<IdentityWords, OpenError> {
        // Acquire pairs with the creator's Release store of the magic: a
        // non-zero magic proves the identity words were written.
        match identity.magic.load(Ordering::Acquire) {
            MAGIC => {}
            0 => {
                return Err(OpenError::Incompatible(
                    "is not initialised yet (its magic is 0): no instance has created it".into(),
                ));
            }
            other => {
                return Err(OpenError::Incompatible(format!(
                    "bad magic {other:#018x}: not a rinha shared file"
                )));
            }
        }
        let version = identity.version.load(Ordering::Relaxed);
        if version != LAYOUT_VERSION {
            return Err(OpenError::Incompatible(format!(
                "has layout version {version}, this binary reads version {LAYOUT_VERSION}"
            )));
        }
        Ok(IdentityWords {
            ring_slots: identity.ring_slots.load(Ordering::Relaxed),
            ledger_entries: identity.ledger_entries.load(Ordering::Relaxed),
            total_len: identity.total_len.load(Ordering::Relaxed),
        })
    }

    /// The capacities, if they can describe a file at all.
    fn capacities(&self) -> Result<Capacities, OpenError> {
        let bad = || {
            OpenError::Incompatible(format!(
                "its header has ring_slots={} ledger_entries={}: not a valid layout",
                self.ring_slots, self.ledger_entries
            ))
        };
        let ring_slots = u32::try_from(self.ring_slots).map_err(|_| bad())?;
        let ledger_entries = u32::try_from(self.ledger_entries).map_err(|_| bad())?;
        if !ring_slots.is_power_of_two() || ledger_entries == 0 {
            return Err(bad());
        }
        Ok(Capacities {
            ring_slots,
            ledger_entries,
        })
    }
}

/// Where everything lies in a file of `caps`.
fn offsets_of(caps: Capacities) -> Offsets {
    Offsets::of(caps.ring_slots, caps.ledger_entries)
}

/// Why a shared file could not be used.
#[derive(Debug)]
pub enum OpenError {
    /// The operating system refused (open, lock, resize or map).
    Io(io::Error),
    /// The capacities asked for cannot describe a ring (not a power of two
    /// of at least 2 slots, or no ledger entry).
    BadCapacities(Capacities),
    /// The file exists but is not ours, or not of our layout.
    Incompatible(String),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io(e) => write!(f, "shared file: {e}"),
            OpenError::BadCapacities(c) => write!(
                f,
                "shared file: ring slots must be a power of two of at least 2 and ledger entries non-zero, got {c:?}"
            ),
            OpenError::Incompatible(why) => write!(f, "shared file: {why}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        OpenError::Io(e)
    }
}

impl From<MapError> for OpenError {
    fn from(e: MapError) -> Self {
        match e {
            MapError::Io(e) => OpenError::Io(e),
            MapError::TooShort => {
                OpenError::Incompatible("mapping is shorter than the layout".into())
            }
        }
    }
}

/// Why a payment was not accepted (the API answers 503 with its own text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptError {
    /// Every ring slot holds a payment not yet processed.
    Full,
    /// The ledger could not record every payment already waiting plus this
    /// one: accepting it could mean paying it and never reporting it.
    LedgerFull,
}

/// Producers that may pass the ledger check at the same moment (one per
/// instance, each single-threaded), each of which may push one payment the
/// check did not count.
const RACING_PRODUCERS: u64 = 8;

/// What a read-only handle tells the ring about other producers: alive,
/// the answer that never frees a slot.
fn assume_alive(_: u8) -> bool {
    true
}
const ASSUME_ALIVE: fn(u8) -> bool = assume_alive;

/// The mapped file. Cheap to share behind an `Arc`; all access is atomic.
pub struct SharedFile {
    /// The bytes, with the capacities they were checked for.
    map: Mapping,
    /// This handle's producer id, held for its life (see `producers.rs`);
    /// `None` for a read-only handle, which never pushes.
    producers: Option<Producers>,
    /// Test support: the push of this id pauses this long mid-push.
    #[cfg(feature = "test-support")]
    stall: Option<(uuid::Uuid, std::time::Duration)>,
}

impl SharedFile {
    /// Opens the file at `path`, creating and initialising it if it is new.
    ///
    /// Safe to call from several processes at once: creation is serialised
    /// by an exclusive `flock`, held only for the duration of this call.
    pub fn open_or_create(path: &Path, caps: Capacities) -> Result<SharedFile, OpenError> {
        if !caps.ring_slots.is_power_of_two() || caps.ring_slots < 2 || caps.ledger_entries == 0 {
            return Err(OpenError::BadCapacities(caps));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        file.lock()?;
        let opened = Self::initialise_or_validate(&file, caps, path);
        file.unlock()?;
        opened
    }

    /// Runs with the creation lock held.
    fn initialise_or_validate(
        file: &File,
        caps: Capacities,
        path: &Path,
    ) -> Result<SharedFile, OpenError> {
        let offsets = offsets_of(caps);
        let len = file.metadata()?.len();
        if len != 0 && len != offsets.total as u64 {
            return Err(OpenError::Incompatible(format!(
                "is {len} bytes but ring_slots={} ledger_entries={} need {} \
                 (another layout or capacities: remove the file or pass the same --ring-slots/--ledger-entries)",
                caps.ring_slots, caps.ledger_entries, offsets.total
            )));
        }
        if len == 0 {
            // Sparse: pages are only backed (and, on tmpfs, charged to a
            // cgroup) once touched.
            file.set_len(offsets.total as u64)?;
        }
        let shared = SharedFile {
            map: Mapping::read_write(file, caps)?,
            producers: Some(Producers::register(path)?),
            #[cfg(feature = "test-support")]
            stall: None,
        };
        let identity = &shared.header().identity.0;
        // Acquire pairs with the Release store of `magic` in `initialise`:
        // a non-zero magic proves the identity and ring slots were written.
        match identity.magic.load(Ordering::Acquire) {
            0 => shared.initialise(),
            MAGIC => shared.validate()?,
            other => {
                return Err(OpenError::Incompatible(format!(
                    "bad magic {other:#018x}: not a rinha shared file"
                )));
            }
        }
        // Our id's previous holder is gone: what it left claimed is free.
        if let Some(producers) = &shared.producers {
            shared.ring_view().release_claims_of(producers.id());
        }
        Ok(shared)
    }

    /// Writes a fresh layout. Only called with the creation lock held and a
    /// zero magic: nobody else reads or writes the file meanwhile.
    fn initialise(&self) {
        let identity = &self.header().identity.0;
        identity.version.store(LAYOUT_VERSION, Ordering::Relaxed);
        identity
            .ring_slots
            .store(self.map.capacities().ring_slots.into(), Ordering::Relaxed);
        identity.ledger_entries.store(
            self.map.capacities().ledger_entries.into(),
            Ordering::Relaxed,
        );
        identity
            .total_len
            .store(self.map.offsets().total as u64, Ordering::Relaxed);
        self.ring_view().initialise();
        self.set_route_choice(RouteChoice::Unknown);
        // Release: everything above happens-before any Acquire load that
        // sees the magic (in `initialise_or_validate` of another process).
        identity.magic.store(MAGIC, Ordering::Release);
    }

    fn validate(&self) -> Result<(), OpenError> {
        let identity = &self.header().identity.0;
        let found = [
            (
                "version",
                identity.version.load(Ordering::Relaxed),
                LAYOUT_VERSION,
            ),
            (
                "ring_slots",
                identity.ring_slots.load(Ordering::Relaxed),
                self.map.capacities().ring_slots.into(),
            ),
            (
                "ledger_entries",
                identity.ledger_entries.load(Ordering::Relaxed),
                self.map.capacities().ledger_entries.into(),
            ),
            (
                "length",
                identity.total_len.load(Ordering::Relaxed),
                self.map.offsets().total as u64,
            ),
        ];
        for (what, got, want) in found {
            if got != want {
                return Err(OpenError::Incompatible(format!(
                    "{what} is {got} in the file but this binary expects {want} (layout version {LAYOUT_VERSION})"
                )));
            }
        }
        Ok(())
    }

    /// Maps an existing file for reading only, taking its capacities from
    /// its own header: what `rinha stat` looks through. The file is opened
    /// read-only and mapped `PROT_READ`, so nothing done through the result
    /// can modify it (a store would fault); it is never created, locked or
    /// resized. A missing file, a file of another magic or layout version,
    /// one not yet initialised, or one whose length disagrees with its
    /// capacities is refused with the reason.
    pub fn open_read_only(path: &Path) -> Result<SharedFile, OpenError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len < HEADER_LEN as u64 {
            return Err(OpenError::Incompatible(format!(
                "is {len} bytes, shorter than a header ({HEADER_LEN}): not a rinha shared file"
            )));
        }
        let map = Mapping::read_only(&file, |identity| {
            let identity = IdentityWords::read(identity)?;
            let caps = identity.capacities()?;
            let total = offsets_of(caps).total as u64;
            if len != total || identity.total_len != total {
                return Err(OpenError::Incompatible(format!(
                    "is {len} bytes, its header says {}, and ring_slots={} ledger_entries={} need {total}",
                    identity.total_len, caps.ring_slots, caps.ledger_entries
                )));
            }
            Ok(caps)
        })?;
        Ok(SharedFile {
            map,
            producers: None,
            #[cfg(feature = "test-support")]
            stall: None,
        })
    }

    /// The length of a file of these capacities: what its pages cost once
    /// all are touched.
    pub fn file_len(caps: Capacities) -> usize {
        offsets_of(caps).total
    }

    /// The capacities the file was opened with (validated against it).
    pub fn capacities(&self) -> Capacities {
        self.map.capacities()
    }

    /// The header at offset 0: for the store's own modules only; every
    /// other layer goes through the methods above, which carry the orderings.
    pub(super) fn header(&self) -> &Header {
        self.map.header()
    }

    /// What a front end does to the file: accept payments, purge.
    pub fn producer(&self) -> Producer<'_> {
        Producer::new(self)
    }

    /// What reads the file without changing it: summary, status counts.
    pub fn reader(&self) -> Reader<'_> {
        Reader::new(self)
    }

    /// Test support: the raw ring, to build a file in a given state or to
    /// play a producer or a leader by hand. Outside tests only the store's
    /// own roles ([`Producer`], [`Reader`], the leader) reach it.
    #[cfg(any(test, feature = "test-support"))]
    #[doc(hidden)]
    pub fn ring(&self) -> Ring<'_> {
        self.ring_view()
    }

    /// Test support: the raw ledger (see [`SharedFile::ring`]).
    #[cfg(any(test, feature = "test-support"))]
    #[doc(hidden)]
    pub fn ledger(&self) -> Ledger<'_> {
        self.ledger_view()
    }

    /// The ring of pending payments, as this handle's producer (or, for a
    /// read-only handle, as a reader that never claims a slot).
    pub(in crate::store) fn ring_view(&self) -> Ring<'_> {
        let header = self.header();
        let (producer, liveness): (u8, &dyn Liveness) = match &self.producers {
            Some(producers) => (producers.id(), producers),
            // "Alive" is the answer that never frees anything.
            None => (READER, &ASSUME_ALIVE),
        };
        Ring::new(
            self.map.slots(),
            &header.ring_tail.0,
            &header.ring_head.0,
            producer,
            liveness,
        )
    }

    /// Test support: from now on, a push of `id` pauses for `pause` after
    /// claiming its slot and before writing it, logging the position, so
    /// that a test can stop or kill a producer exactly there.
    #[cfg(feature = "test-support")]
    #[doc(hidden)]
    pub fn stall_push_of(&mut self, id: uuid::Uuid, pause: std::time::Duration) {
        self.stall = Some((id, pause));
    }

    /// Pushes, pausing mid-push if the payment is the one to stall.
    #[cfg(feature = "test-support")]
    fn push(&self, ring: &Ring<'_>, payment: &Payment) -> Result<u64, PushError> {
        match self.stall {
            Some((id, pause)) if id == payment.correlation_id => {
                ring.push_pausing(payment, self.generation(), |position| {
                    crate::log!("rinha api: test stall: {id} claimed position {position}");
                    std::thread::sleep(pause);
                    crate::log!("rinha api: test stall: {id} resumes");
                })
            }
            _ => ring.push(payment, self.generation()),
        }
    }

    /// Pushes: a plain [`Ring::push`] outside tests.
    #[cfg(not(feature = "test-support"))]
    fn push(&self, ring: &Ring<'_>, payment: &Payment) -> Result<u64, PushError> {
        ring.push(payment, self.generation())
    }

    /// The ledger of processed payments.
    pub(in crate::store) fn ledger_view(&self) -> Ledger<'_> {
        let header = self.header();
        Ledger::new(
            self.map.entries(),
            self.map.keys(),
            &header.ledger_reserved.0,
            &header.purge.0,
        )
    }

    /// The current purge generation.
    pub fn generation(&self) -> u64 {
        // Relaxed: a payment racing a purge may land on either side of it,
        // and nothing else is published through this load.
        self.header().purge.0.generation.load(Ordering::Relaxed)
    }

    /// Puts an accepted payment in the ring (see [`Producer::accept`]).
    pub(in crate::store) fn accept(&self, payment: &Payment) -> Result<(), AcceptError> {
        let ring = self.ring_view();
        // Every payment waiting in the ring may need one ledger entry. Stale
        // loads only err on the safe side (an old head counts too many
        // waiting), except for producers racing this check: the margin.
        let waiting = ring.tail().saturating_sub(ring.head());
        if self.ledger_view().room() <= waiting + RACING_PRODUCERS {
            return Err(AcceptError::LedgerFull);
        }
        match self.push(&ring, payment) {
            Ok(_) => Ok(()),
            Err(PushError::Full) => Err(AcceptError::Full),
        }
    }

    /// Starts a new purge generation (see [`Producer::purge`]).
    pub(in crate::store) fn purge(&self) {
        self.ledger_view().purge();
    }
}
