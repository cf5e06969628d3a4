//! What the drainer may allocate at most: the figure `rinha api` sets
//! aside for it in the leader's memory budget, and the per-request and
//! per-entry costs that figure is added up from.

use crate::config::Capacities;
use crate::drain::intake::Job;
use crate::drain::router::LOOKUP_ROOM;
use crate::drain::wire::MAX_RESPONSE;

use super::READ_AHEAD;

/// What one request out may hold at most, in bytes: its connection's
/// answer buffer (a processor may send up to `MAX_RESPONSE` before the
/// answer is refused) and request buffer (512 B), the connection itself,
/// and its entries in the drainer's and the router's maps.
const PER_REQUEST: usize = MAX_RESPONSE + 2048;

/// Bytes per entry of a hash set at worst: the element and a control
/// byte, at a load factor of 7/8, just after the table doubled.
const fn per_hashed(size: usize) -> usize {
    (size + 1) * 16 / 7 + 1
}

/// What the drainer may allocate at most, in bytes: the figure the memory
/// budget (`--memory-budget-mb`) sets aside for it in the leader's
/// container. Each part is bounded by a flag or a constant:
///
/// ```text
///   requests out      2 processors × (--max-in-flight + LOOKUP_ROOM) ×
///                     10 KiB (PER_REQUEST): payments and lookups together
///                     (the router holds a payment at a processor with
///                     --max-in-flight out, a lookup with 64 more), and
///                     never more connections than requests out at once
/// + read ahead        READ_AHEAD jobs, in the backlog or the waiting list,
///                     each of which may once have held them all: twice,
///                     twice their size (collections double)
/// + paid ids          every id of the generation, at most --ledger-entries,
///                     39 B each in a hash set (16 B, control byte, load
///                     factor, doubling; a purge's reload holds the old
///                     generation's and the new one's, no more than the
///                     ledger in all)
/// + recorded          ring positions the ledger holds past the ring's head,
///                     at most --ring-slots, 21 B each, twice while a purge
///                     reloads them
/// + stacks            1 MiB (the loop's and the health poller's, as touched)
/// ```
///
/// With the defaults: 16.9 + 6 + 9.8 + 2.6 + 1 ≈ 37 MiB at worst; a
/// contest run (90 000 ids, answers of a few dozen bytes) touches about 8
/// of them.
pub fn memory_bound(max_in_flight: usize, capacities: Capacities) -> usize {
    let requests = 2 * (max_in_flight + LOOKUP_ROOM) * PER_REQUEST;
    let read_ahead = 2 * READ_AHEAD * 2 * std::mem::size_of::<Job>();
    let paid_ids = capacities.ledger_entries as usize * per_hashed(16);
    let positions = capacities.ring_slots.min(capacities.ledger_entries) as usize;
    let recorded = 2 * positions * per_hashed(8);
    requests + read_ahead + paid_ids + recorded + (1 << 20)
}

#[cfg(test)]
mod tests;
