//! The shared file's unit tests: creation, validation, refusal, and the
//! header words behind `SharedFile`'s methods.

use super::*;
use crate::domain::payment::{Health, Processor};
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
    assert_eq!(
        reader.route_choice(),
        RouteChoice::Unknown,
        "a fresh file says unknown"
    );
    for route in [
        RouteChoice::Holding,
        RouteChoice::Fallback,
        RouteChoice::Default,
    ] {
        writer.set_route_choice(route);
        assert_eq!(reader.route_choice(), route);
    }
    writer.header().route.0.store(77, Ordering::Relaxed);
    assert_eq!(
        reader.route_choice(),
        RouteChoice::Unknown,
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
fn a_latency_one_handle_records_is_what_another_reads_per_processor() {
    // What a new leader reads of its predecessor (issue 15, item 3).
    let shared = TempStore::new("latency", SMALL);
    let other = SharedFile::open_or_create(shared.path(), SMALL).unwrap();
    assert_eq!(other.observed_latency(Processor::Default), None, "none yet");
    shared.record_latency(Processor::Default, 1500, 1_752_000_000_123);
    shared.record_latency(Processor::Fallback, 7, 1_752_000_000_200);
    shared.record_latency(Processor::Default, 1510, 1_752_000_000_173);
    let read = |processor| {
        other
            .observed_latency(processor)
            .map(|seen| (seen.latency_ms, seen.at_ms))
    };
    assert_eq!(read(Processor::Default), Some((1510, 1_752_000_000_173)));
    assert_eq!(read(Processor::Fallback), Some((7, 1_752_000_000_200)));
    assert_eq!(
        shared.health(Processor::Default),
        (0, None),
        "apart from health"
    );
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
