//! Unit tests of `drainer::memory`.

use std::collections::HashSet;

use super::*;

/// The bytes of a hash set's table: hashbrown keeps 7/8 of its buckets
/// usable (`capacity`), and a control byte per bucket plus one group.
fn table_bytes<T>(set: &HashSet<T>) -> usize {
    let buckets = (set.capacity() * 8).div_ceil(7).next_power_of_two();
    buckets * (std::mem::size_of::<T>() + 1) + 16
}

#[test]
fn a_hash_set_just_grown_costs_no_more_per_entry_than_counted() {
    // Just past a doubling is the worst: 7/8 of 2^k entries, plus one.
    for k in [4, 10, 16] {
        let n = (1usize << k) * 7 / 8 + 1;
        let ids: HashSet<uuid::Uuid> = (0..n as u128).map(uuid::Uuid::from_u128).collect();
        assert!(table_bytes(&ids) <= n * per_hashed(16), "{n} ids");
        let positions: HashSet<u64> = (0..n as u64).collect();
        assert!(
            table_bytes(&positions) <= n * per_hashed(8),
            "{n} positions"
        );
    }
}

#[test]
fn the_memory_bound_covers_the_worst_case_it_claims() {
    // Issue 15, item 8: the bound counted 2 KiB per request although an
    // answer buffer may reach MAX_RESPONSE, let lookups go past the
    // in-flight limit, and left out the set of recorded positions.
    let caps = Capacities::default();
    let max_in_flight = 800;
    // Every request out with an answer buffer at its cap and its request
    // buffer; every id of the ledger in the paid set; every ring position
    // in the recorded set, twice over a purge's reload; the read-ahead
    // in both of its collections at once, each at twice the length.
    let requests = 2 * (max_in_flight + LOOKUP_ROOM) * (MAX_RESPONSE + 512);
    let ledger = caps.ledger_entries as usize;
    let ids: HashSet<uuid::Uuid> = (0..ledger as u128).map(uuid::Uuid::from_u128).collect();
    let ring = caps.ring_slots as usize;
    let positions: HashSet<u64> = (0..ring as u64).collect();
    let read_ahead = 2 * 2 * READ_AHEAD * std::mem::size_of::<Job>();
    let worst = requests + table_bytes(&ids) + 2 * table_bytes(&positions) + read_ahead;
    let bound = memory_bound(max_in_flight, caps);
    assert!(worst <= bound, "worst {worst} > bound {bound}");
    // And it is what api.rs and README row 16 say: 37 MiB.
    assert_eq!(bound.div_ceil(1 << 20), 37, "{bound}");
}
