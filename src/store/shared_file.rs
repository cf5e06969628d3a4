//! The memory-mapped file every instance shares: creation, validation, and
//! the typed views the rest of the crate uses (ring, ledger, header words).
//!
//! What lies at which offset, the layout version and its history, and the
//! rules that make sharing the file safe are in [`crate::store::layout`].

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

pub use crate::store::layout::{LAYOUT_VERSION, MAGIC, Route};

use crate::config::Capacities;
use crate::domain::payment::{Health, Payment, Processor};
use crate::domain::summary::{Summary, Window};
use crate::store::layout::{HEADER_LEN, Header, HealthAnswer, HealthRecord, Identity, Offsets};
use crate::store::ledger::Ledger;
use crate::store::mapping::{MapError, Mapping};
use crate::store::producers::{Liveness, Producers};
use crate::store::ring::{PushError, READER, Ring};

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
            shared.ring().release_claims_of(producers.id());
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
        self.ring().initialise();
        self.set_route(Route::Unknown);
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

    /// The router's current choice (see [`Route`]).
    pub fn route(&self) -> Route {
        // Relaxed: a status value; nothing else is published through it.
        Route::decode(self.header().route.0.load(Ordering::Relaxed))
    }

    /// Records the router's choice for status output. Leader only.
    pub fn set_route(&self, route: Route) {
        // Relaxed: for `rinha stat` and humans; no decision reads it.
        self.header().route.0.store(route as u64, Ordering::Relaxed);
    }

    /// Claims `processor`'s health window at `now_ms` if the last claim,
    /// by any process, is at least `interval_ms` old; true if this caller
    /// won it and may call the health endpoint. At most one caller wins
    /// each window, across instances and changes of leader.
    pub fn claim_health_window(&self, processor: Processor, now_ms: u64, interval_ms: u64) -> bool {
        let record = self.health_record(processor);
        // Relaxed: a stale value only makes the CAS below fail.
        let last = record.checked_at_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < interval_ms {
            return false;
        }
        // Relaxed CAS: it only has to let one caller claim each window;
        // nothing else is published through the timestamp.
        record
            .checked_at_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Stores what `processor`'s health endpoint answered, for status
    /// output (`rinha stat`). Called by the winner of the window.
    pub fn record_health(&self, processor: Processor, health: Health) {
        let answer = HealthAnswer {
            failing: health.failing,
            min_response_time_ms: health.min_response_time_ms,
        };
        // Relaxed: the answer is read by `rinha stat` and humans; no decision
        // in another process reads it, so nothing needs ordering against it.
        self.health_record(processor)
            .answer
            .store(answer.encode(), Ordering::Relaxed);
    }

    /// When `processor`'s health window was last claimed (ms since the
    /// epoch, 0: never) and the last answer stored, if any.
    pub fn health(&self, processor: Processor) -> (u64, Option<Health>) {
        let record = self.health_record(processor);
        // Relaxed, both: status values stored Relaxed for humans; nothing
        // read afterwards depends on them.
        let checked_at_ms = record.checked_at_ms.load(Ordering::Relaxed);
        let answer = HealthAnswer::decode(record.answer.load(Ordering::Relaxed));
        let health = answer.map(|answer| Health {
            failing: answer.failing,
            min_response_time_ms: answer.min_response_time_ms,
        });
        (checked_at_ms, health)
    }

    fn health_record(&self, processor: Processor) -> &HealthRecord {
        &self.header().health[processor as usize].0
    }

    /// Records who drains and since when, for `rinha stat` and humans.
    /// Called by a process once it holds the leader lock.
    pub fn set_leader(&self, pid: u64, since_ms: u64) {
        let leader = &self.header().leader.0;
        // Relaxed: informational fields; the lock, not these words, decides
        // who drains, and no decision reads them.
        leader.pid.store(pid, Ordering::Relaxed);
        leader.since_ms.store(since_ms, Ordering::Relaxed);
    }

    /// The leader's pid and since when (ms since the epoch); `None` if no
    /// leader ever wrote them (pid 0).
    pub fn leader(&self) -> Option<(u64, u64)> {
        let leader = &self.header().leader.0;
        // Relaxed: status values (see `set_leader`); the two words may come
        // from two successive leaders, which a status line can afford.
        let pid = leader.pid.load(Ordering::Relaxed);
        let since_ms = leader.since_ms.load(Ordering::Relaxed);
        (pid != 0).then_some((pid, since_ms))
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

    /// The ring of pending payments, as this handle's producer (or, for a
    /// read-only handle, as a reader that never claims a slot).
    pub fn ring(&self) -> Ring<'_> {
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
    pub fn ledger(&self) -> Ledger<'_> {
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

    /// Puts an accepted payment in the ring; once this returns `Ok`, the
    /// payment will be processed even if this process dies right after.
    pub fn accept(&self, payment: &Payment) -> Result<(), AcceptError> {
        let ring = self.ring();
        // Every payment waiting in the ring may need one ledger entry. Stale
        // loads only err on the safe side (an old head counts too many
        // waiting), except for producers racing this check: the margin.
        let waiting = ring.tail().saturating_sub(ring.head());
        if self.ledger().room() <= waiting + RACING_PRODUCERS {
            return Err(AcceptError::LedgerFull);
        }
        match self.push(&ring, payment) {
            Ok(_) => Ok(()),
            Err(PushError::Full) => Err(AcceptError::Full),
        }
    }

    /// What has been processed within `window` in the current generation.
    pub fn summary(&self, window: Window) -> Summary {
        self.ledger().summarize(window)
    }

    /// Forgets every payment accepted so far: the summary restarts from zero
    /// and pending payments of older generations are discarded, not sent.
    pub fn purge(&self) {
        self.ledger().purge();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{TempDir, TempStore};

    const SMALL: Capacities = Capacities {
        ring_slots: 8,
        ledger_entries: 16,
    };

    #[test]
    fn a_second_open_sees_the_first_ones_layout() {
        let dir = TempDir::new("reopen");
        let path = dir.file("shared.bin");
        let first = SharedFile::open_or_create(&path, SMALL).unwrap();
        let second = SharedFile::open_or_create(&path, SMALL).unwrap();
        assert_eq!(
            first.header().identity.0.magic.load(Ordering::Relaxed),
            MAGIC
        );
        assert_eq!(second.capacities(), SMALL);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            offsets_of(SMALL).total as u64
        );
    }

    #[test]
    fn other_capacities_or_versions_are_refused_with_a_reason() {
        let dir = TempDir::new("incompatible");
        let path = dir.file("shared.bin");
        let shared = SharedFile::open_or_create(&path, SMALL).unwrap();
        let bigger = Capacities {
            ring_slots: 16,
            ..SMALL
        };
        let error = SharedFile::open_or_create(&path, bigger)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("need"), "{error}");

        shared
            .header()
            .identity
            .0
            .version
            .store(99, Ordering::Relaxed);
        let error = SharedFile::open_or_create(&path, SMALL)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("version is 99"), "{error}");

        shared.header().identity.0.magic.store(7, Ordering::Relaxed);
        let error = SharedFile::open_or_create(&path, SMALL)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("not a rinha shared file"), "{error}");
    }

    #[test]
    fn a_file_left_half_initialised_is_initialised_again() {
        let dir = TempDir::new("half");
        let path = dir.file("shared.bin");
        std::fs::write(&path, vec![0u8; offsets_of(SMALL).total]).unwrap();
        let shared = SharedFile::open_or_create(&path, SMALL).unwrap();
        assert_eq!(
            shared.header().identity.0.version.load(Ordering::Relaxed),
            LAYOUT_VERSION
        );
    }

    #[test]
    fn a_truncated_file_is_refused() {
        let dir = TempDir::new("truncated");
        let path = dir.file("shared.bin");
        drop(SharedFile::open_or_create(&path, SMALL).unwrap());
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(100).unwrap();
        let error = SharedFile::open_or_create(&path, SMALL)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("is 100 bytes"), "{error}");
    }

    #[test]
    fn payments_the_ledger_could_not_record_are_refused_up_front() {
        let caps = Capacities {
            ring_slots: 64,
            ledger_entries: RACING_PRODUCERS as u32 + 3,
        };
        let shared = TempStore::new("ledger-room", caps);
        let payment = Payment {
            correlation_id: uuid::Uuid::from_u128(1),
            amount_cents: 1990,
        };
        // Room for 11 entries, 8 of them kept for racing producers: 3 fit.
        for _ in 0..3 {
            assert_eq!(shared.accept(&payment), Ok(()));
        }
        assert_eq!(shared.accept(&payment), Err(AcceptError::LedgerFull));
    }

    #[test]
    fn a_read_only_view_sees_the_writers_state_and_refuses_what_is_not_ours() {
        let dir = TempDir::new("read-only");
        let path = dir.file("shared.bin");
        let missing = SharedFile::open_read_only(&path).err().unwrap().to_string();
        assert!(missing.contains("No such file"), "{missing}");
        assert!(
            !path.exists(),
            "a read-only open must never create the file"
        );

        let writer = SharedFile::open_or_create(&path, SMALL).unwrap();
        let reader = SharedFile::open_read_only(&path).unwrap();
        assert_eq!(reader.capacities(), SMALL);
        assert_eq!(reader.route(), Route::Unknown, "a fresh file says unknown");
        for route in [Route::Holding, Route::Fallback, Route::Default] {
            writer.set_route(route);
            assert_eq!(reader.route(), route);
        }
        writer.header().route.0.store(77, Ordering::Relaxed);
        assert_eq!(
            reader.route(),
            Route::Unknown,
            "a corrupt word reads as unknown"
        );

        let identity = &writer.header().identity.0;
        for (magic, version, expected) in [
            (MAGIC, 1, "has layout version 1"),
            (0, LAYOUT_VERSION, "not initialised"),
            (7, LAYOUT_VERSION, "not a rinha shared file"),
        ] {
            identity.magic.store(magic, Ordering::Relaxed);
            identity.version.store(version, Ordering::Relaxed);
            let error = SharedFile::open_read_only(&path).err().unwrap().to_string();
            assert!(error.contains(expected), "{error}");
        }
        std::fs::write(&path, b"short").unwrap();
        let error = SharedFile::open_read_only(&path).err().unwrap().to_string();
        assert!(error.contains("is 5 bytes"), "{error}");
    }

    #[test]
    fn health_answers_read_back_as_recorded_and_windows_are_claimed_once() {
        let shared = TempStore::new("health", SMALL);
        assert_eq!(shared.health(Processor::Default), (0, None), "never asked");
        assert!(shared.claim_health_window(Processor::Default, 10_000, 5_100));
        assert!(
            !shared.claim_health_window(Processor::Default, 15_099, 5_100),
            "the window is not over"
        );
        assert!(shared.claim_health_window(Processor::Fallback, 15_099, 5_100));
        for health in [
            Health {
                failing: false,
                min_response_time_ms: 0,
            },
            Health {
                failing: true,
                min_response_time_ms: 2000,
            },
        ] {
            shared.record_health(Processor::Default, health);
            assert_eq!(shared.health(Processor::Default), (10_000, Some(health)));
        }
        assert_eq!(shared.health(Processor::Fallback), (15_099, None));
        assert!(shared.claim_health_window(Processor::Default, 15_100, 5_100));

        assert_eq!(shared.leader(), None, "no leader yet");
        shared.set_leader(4242, 1_700_000_000_000);
        assert_eq!(shared.leader(), Some((4242, 1_700_000_000_000)));
    }

    #[test]
    fn capacities_that_cannot_form_a_ring_are_refused() {
        let dir = TempDir::new("badcaps");
        let path = dir.file("shared.bin");
        let caps = Capacities {
            ring_slots: 12,
            ledger_entries: 1,
        };
        assert!(matches!(
            SharedFile::open_or_create(&path, caps),
            Err(OpenError::BadCapacities(_))
        ));
    }
}
