//! The ledger's unit tests: the summary's bounds and generations, a full
//! ledger, fenced appends, and the holes every scan skips.

use super::*;
use crate::config::Capacities;
use crate::store::test_support::TempStore;

fn shared(name: &str, ledger_entries: u32) -> TempStore {
    let caps = Capacities {
        ring_slots: 8,
        ledger_entries,
    };
    TempStore::new(&format!("ledger-{name}"), caps)
}

fn record(processor: Processor, requested_at_ms: i64, cents: u64, n: u64) -> Record {
    Record {
        processor,
        requested_at_ms,
        amount_cents: cents,
        generation: 0,
        correlation_id: Uuid::from_u128(n.into()),
        ring_position: n,
    }
}

#[test]
fn summary_counts_each_processor_within_inclusive_bounds() {
    let shared = shared("bounds", 16);
    let ledger = shared.ledger();
    for (n, (processor, at, cents)) in [
        (Processor::Default, 1_000, 1990),
        (Processor::Default, 2_000, 1990),
        (Processor::Fallback, 2_000, 1000),
        (Processor::Default, 3_000, 5),
        (Processor::Fallback, 3_001, 7),
    ]
    .into_iter()
    .enumerate()
    {
        ledger
            .append(&record(processor, at, cents, n as u64))
            .unwrap();
    }
    let cases = [
        (Window::ALL, (3, 3985), (2, 1007)),
        (
            Window {
                from_ms: 2_000,
                to_ms: 3_000,
            },
            (2, 1995),
            (1, 1000),
        ),
        (
            Window {
                from_ms: 2_001,
                to_ms: 2_999,
            },
            (0, 0),
            (0, 0),
        ),
        (
            Window {
                from_ms: 3_001,
                to_ms: 3_001,
            },
            (0, 0),
            (1, 7),
        ),
        (
            Window {
                from_ms: 5_000,
                to_ms: 1_000,
            },
            (0, 0),
            (0, 0),
        ),
    ];
    for (window, (dn, dc), (fn_, fc)) in cases {
        let summary = ledger.summarize(window);
        assert_eq!(
            (summary.default.requests, summary.default.cents),
            (dn, dc),
            "{window:?}"
        );
        assert_eq!(
            (summary.fallback.requests, summary.fallback.cents),
            (fn_, fc),
            "{window:?}"
        );
    }
}

#[test]
fn purge_restarts_the_summary_and_hides_older_generations() {
    let shared = shared("purge", 16);
    let ledger = shared.ledger();
    ledger
        .append(&record(Processor::Default, 10, 100, 0))
        .unwrap();
    ledger.purge();
    assert_eq!(ledger.summarize(Window::ALL), Summary::default());
    // A straggler of the old generation, recorded after the purge.
    ledger
        .append(&record(Processor::Default, 11, 100, 1))
        .unwrap();
    assert_eq!(ledger.summarize(Window::ALL), Summary::default());
    let fresh = Record {
        generation: 1,
        ..record(Processor::Fallback, 12, 300, 2)
    };
    ledger.append(&fresh).unwrap();
    let summary = ledger.summarize(Window::ALL);
    assert_eq!(
        (summary.fallback.requests, summary.fallback.cents),
        (1, 300)
    );
    assert_eq!(
        ledger.ids_of_current_generation(),
        HashSet::from([Uuid::from_u128(2)])
    );
}

#[test]
fn a_full_ledger_says_so_and_keeps_what_it_has() {
    let shared = shared("full", 2);
    let ledger = shared.ledger();
    ledger.append(&record(Processor::Default, 1, 1, 0)).unwrap();
    ledger.append(&record(Processor::Default, 1, 1, 1)).unwrap();
    assert_eq!(
        ledger.append(&record(Processor::Default, 1, 1, 2)),
        Err(LedgerFull)
    );
    assert_eq!(ledger.summarize(Window::ALL).default.requests, 2);
    assert_eq!(ledger.positions_since(1), HashSet::from([1]));
}

#[test]
fn a_replaced_leader_can_neither_claim_nor_commit_an_entry() {
    // Issue 16: leader 1 claims an index and freezes before committing;
    // leader 2 fences the ledger; leader 1 wakes.
    let shared = shared("fenced", 8);
    let ledger = shared.ledger();
    ledger.fence(1).unwrap();
    ledger
        .append_fenced(&record(Processor::Default, 1, 10, 0), 1)
        .unwrap();
    // Frozen between claiming index 1 and committing it.
    shared
        .header()
        .ledger_reserved
        .0
        .fetch_add(1, Ordering::Relaxed);
    ledger.fence(2).unwrap();
    let late = record(Processor::Default, 2, 10, 1);
    assert_eq!(ledger.append_fenced(&late, 1), Err(AppendError::Fenced));
    assert_eq!(
        ledger.entries[1]
            .meta
            .compare_exchange(0, 1, Ordering::Relaxed, Ordering::Relaxed),
        Err(VOID),
        "the claimed index was voided: its commit fails"
    );
    assert_eq!(ledger.fence(1), Err(Fenced));
    ledger
        .append_fenced(&record(Processor::Fallback, 3, 20, 2), 2)
        .unwrap();
    let summary = ledger.summarize(Window::ALL);
    assert_eq!(
        (summary.default.requests, summary.fallback.requests),
        (1, 1)
    );
    assert_eq!(ledger.len(), 3);
}

#[test]
fn uncommitted_entries_are_holes_every_scan_skips() {
    let shared = shared("hole", 4);
    let ledger = shared.ledger();
    // A leader that died between claiming an index and committing it.
    shared
        .header()
        .ledger_reserved
        .0
        .store(1, Ordering::Relaxed);
    ledger
        .append(&record(Processor::Default, 1, 50, 7))
        .unwrap();
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger.summarize(Window::ALL).default.requests, 1);
    assert_eq!(ledger.positions_since(0), HashSet::from([7]));
}
