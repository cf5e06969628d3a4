//! The crate's only `unsafe`: turning the bytes of the mapped file into the
//! typed atomics of [`crate::store::layout`].
//!
//! INVARIANT: a [`Mapping`] is never shorter than the layout of the
//! capacities it holds (`Offsets::of(..).total`, which includes the
//! header), and every type viewed through it is `repr(C)`, made only of
//! `AtomicU64`, at an offset that is a multiple of its alignment. Both
//! constructors check the length before a `Mapping` exists, and the
//! offsets come from [`Offsets::of`] alone; every view below relies on it.
//!
//! Why that makes the views sound: every bit pattern is a valid
//! `AtomicU64`, so whatever another process (or a corrupt file) left there
//! is a value, not undefined behaviour; atomics make access by several
//! processes at once defined; the mapping is page-aligned, which covers the
//! header's 128-byte alignment; and the views borrow `self`, so they cannot
//! outlive the mapping. A read-only mapping (`PROT_READ`) is only loaded
//! through (`rinha stat`): std documents atomic loads on read-only memory
//! as allowed, and a store would fault, not corrupt.

use std::fs::File;
use std::io;

use memmap2::{MmapOptions, MmapRaw};

use crate::config::Capacities;
use crate::store::layout::{HEADER_LEN, Header, Identity, Offsets};
use crate::store::ledger::{Entry, EntryKey};
use crate::store::ring::Slot;

/// Why a file could not be mapped as a layout.
#[derive(Debug)]
pub enum MapError {
    /// The operating system refused the mapping.
    Io(io::Error),
    /// The mapping is shorter than the layout (or than a header).
    TooShort,
}

impl From<io::Error> for MapError {
    fn from(e: io::Error) -> Self {
        MapError::Io(e)
    }
}

/// A whole file mapped, with the capacities its layout was checked for.
pub struct Mapping {
    map: MmapRaw,
    capacities: Capacities,
    offsets: Offsets,
}

impl Mapping {
    /// Maps `file` read-write for a layout of `capacities`; the file must
    /// already have (at least) that layout's length.
    pub fn read_write(file: &File, capacities: Capacities) -> Result<Mapping, MapError> {
        Mapping::checked(MmapRaw::map_raw(file)?, capacities)
    }

    /// Maps `file` read-only; `layout_of` reads the capacities from the
    /// file's own identity line (and may refuse them), then the mapping is
    /// checked against them.
    pub fn read_only<E: From<MapError>>(
        file: &File,
        layout_of: impl FnOnce(&Identity) -> Result<Capacities, E>,
    ) -> Result<Mapping, E> {
        let map = MmapOptions::new()
            .map_raw_read_only(file)
            .map_err(MapError::Io)?;
        if map.len() < HEADER_LEN {
            return Err(MapError::TooShort.into());
        }
        let capacities = layout_of(&header_of(&map).identity.0)?;
        Ok(Mapping::checked(map, capacities)?)
    }

    /// Establishes the module's invariant: the mapping covers the layout.
    fn checked(map: MmapRaw, capacities: Capacities) -> Result<Mapping, MapError> {
        let offsets = Offsets::of(capacities.ring_slots, capacities.ledger_entries);
        if map.len() < offsets.total {
            return Err(MapError::TooShort);
        }
        Ok(Mapping {
            map,
            capacities,
            offsets,
        })
    }

    /// The capacities the layout was checked for.
    pub fn capacities(&self) -> Capacities {
        self.capacities
    }

    /// Where everything lies.
    pub fn offsets(&self) -> Offsets {
        self.offsets
    }

    /// The header at offset 0.
    pub fn header(&self) -> &Header {
        header_of(&self.map)
    }

    /// The ring's slots.
    pub fn slots(&self) -> &[Slot] {
        self.array(self.offsets.ring, self.capacities.ring_slots as usize)
    }

    /// The ledger's summed halves.
    pub fn entries(&self) -> &[Entry] {
        self.array(
            self.offsets.entries,
            self.capacities.ledger_entries as usize,
        )
    }

    /// The ledger's keys.
    pub fn keys(&self) -> &[EntryKey] {
        self.array(self.offsets.keys, self.capacities.ledger_entries as usize)
    }

    /// A typed view of `len` elements of `T` at byte `offset`. Private:
    /// called only above, with offsets from `Offsets::of` and the `T` of
    /// each region (all made of `AtomicU64`).
    fn array<T>(&self, offset: usize, len: usize) -> &[T] {
        debug_assert!(offset.is_multiple_of(std::mem::align_of::<T>()));
        debug_assert!(offset + len * std::mem::size_of::<T>() <= self.map.len());
        // SAFETY: the range lies within the mapping (the module's invariant,
        // asserted above), its start is aligned for T (page-aligned base,
        // offset a multiple of T's alignment), and T is made only of atomics.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(offset).cast::<T>(), len) }
    }
}

/// The header of a mapping of at least [`HEADER_LEN`] bytes.
fn header_of(map: &MmapRaw) -> &Header {
    debug_assert!(map.len() >= HEADER_LEN);
    // SAFETY: the mapping holds at least HEADER_LEN bytes (both callers
    // check it first), its page-aligned base satisfies Header's 128-byte
    // alignment, and Header is repr(C) and made only of atomics.
    unsafe { &*map.as_ptr().cast::<Header>() }
}
