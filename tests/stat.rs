//! `rinha stat` against a shared file whose contents we know: every figure
//! it prints must be the one we put there, the file must be byte-for-byte
//! the same afterwards, and files that are not ours are refused with a
//! reason. The real binary reads a file written through the library, as a
//! running stack would have written it.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use rinha::config::Capacities;
use rinha::domain::payment::{Health, Payment, Processor};
use rinha::domain::time::now_millis;
use rinha::store::Leader;
use rinha::store::layout::LAYOUT_VERSION;
use rinha::store::layout::RouteChoice;
use rinha::store::ledger::Record;
use rinha::store::ring::SlotState;
use rinha::store::shared_file::SharedFile;
use rinha::store::test_support::{TempDir, TempStore};
use support::json;
use support::processes::rinha;
use uuid::Uuid;

const CAPS: Capacities = Capacities {
    ring_slots: 16,
    ledger_entries: 32,
};

fn stat(path: &Path, extra: &[&str]) -> Output {
    rinha()
        .arg("stat")
        .arg("--shared-file")
        .arg(path)
        .args(extra)
        .env_remove("RINHA_SHARED_FILE")
        .output()
        .expect("run rinha stat")
}

fn record(processor: Processor, cents: u64, generation: u64, n: u128) -> Record {
    Record {
        processor,
        requested_at_ms: 1_752_151_696_000 + n as i64,
        amount_cents: cents,
        generation,
        correlation_id: Uuid::from_u128(n),
        ring_position: n as u64,
    }
}

#[test]
fn stat_prints_what_the_file_holds_and_leaves_it_untouched() {
    let shared = TempStore::new("stat-known", CAPS);
    let path = shared.path();

    // Seven payments accepted: one done, two in flight at the default, one
    // at the fallback, three never sent.
    let before = now_millis() as u64;
    for n in 0..7 {
        let payment = Payment {
            correlation_id: Uuid::from_u128(100 + n),
            amount_cents: 2005,
        };
        shared.producer().accept(&payment).unwrap();
    }
    let after = now_millis() as u64;
    let ring = shared.ring();
    let in_flight = |processor| SlotState::InFlight {
        processor,
        requested_at_ms: 1,
    };
    ring.set_state(0, SlotState::Done);
    ring.set_state(1, in_flight(Processor::Default));
    ring.set_state(2, in_flight(Processor::Default));
    ring.set_state(3, in_flight(Processor::Fallback));

    // One entry of generation 0, a purge, then three of generation 1: only
    // the last three are the current totals.
    let ledger = shared.ledger();
    ledger
        .append(&record(Processor::Default, 999, 0, 1))
        .unwrap();
    shared.producer().purge();
    ledger
        .append(&record(Processor::Default, 1990, 1, 2))
        .unwrap();
    ledger
        .append(&record(Processor::Default, 2005, 1, 3))
        .unwrap();
    ledger
        .append(&record(Processor::Fallback, 2005, 1, 4))
        .unwrap();

    shared.set_leader(4242, 1_700_000_000_000);
    // A leader of epoch 1 from a second handle, as another process would
    // be; its latency of the default is what a successor starts from.
    let other = Arc::new(SharedFile::open_or_create(path, CAPS).unwrap());
    let leader = Leader::for_test(other, Duration::from_millis(250));
    shared.record_latency(Processor::Default, 1500, 1_700_000_002_000);
    assert!(shared.claim_health_window(Processor::Default, 1_700_000_001_000, 5_100));
    shared.record_health(
        Processor::Default,
        Health {
            failing: true,
            min_response_time_ms: 2000,
        },
    );
    shared.set_route_choice(RouteChoice::Fallback);
    shared.count_rejection(Processor::Fallback, 403);
    shared.count_rejection(Processor::Fallback, 404);

    let bytes_before = fs::read(path).unwrap();
    let modified_before = fs::metadata(path).unwrap().modified().unwrap();

    let output = stat(path, &["--json"]);
    assert!(output.status.success(), "{output:?}");
    let json = String::from_utf8(output.stdout).unwrap();
    assert_eq!(json.lines().count(), 1, "one line without --watch: {json}");
    let version = format!(r#""layout_version":{LAYOUT_VERSION}"#);
    for expected in [
        version.as_str(),
        r#""ring":{"slots":16,"head":0,"tail":7,"depth":7,"pending":3,"in_flight":{"default":2,"fallback":1},"unpublished":0,"unreadable":0,"#,
        r#""ledger":{"capacity":32,"entries":4,"generation":1,"default":{"count":2,"amount_cents":3995},"fallback":{"count":1,"amount_cents":2005}}"#,
        r#""leader":{"pid":4242,"since_ms":1700000000000},"lease":{"epoch":1,"deadline_ms":"#,
        r#""latency":{"default":{"latency_ms":1500,"at_ms":1700000002000},"fallback":null}"#,
        r#""health":{"default":{"checked_at_ms":1700000001000,"failing":true,"min_response_time_ms":2000},"fallback":null}"#,
        r#""route":"fallback""#,
        r#""rejected":{"default":{"count":0,"last_status":null},"fallback":{"count":2,"last_status":404}}"#,
    ] {
        assert!(json.contains(expected), "missing {expected}\nin {json}");
    }
    let oldest = json::parse::<u64>(&json, "oldest_accepted_at_ms");
    assert!(
        (before..=after).contains(&oldest),
        "{before} ≤ {oldest} ≤ {after}"
    );

    let output = stat(path, &[]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "depth 7 (head 0, tail 7): 3 pending, in flight 2 default / 1 fallback",
        "4 of 32 entries used, generation 1: default 2 payments, 39.95 · fallback 1 payments, 20.05",
        "pid 4242 since 2023-11-14T22:13:20.000Z",
        "lease        epoch 1, expire",
        "latency      default 1500 ms (",
        "· fallback -",
        "default: failing, 2000 ms",
        "fallback: never asked",
        "route        fallback",
        "rejected     default 0 · fallback 2 (last 404)",
    ] {
        assert!(text.contains(expected), "missing {expected:?}\nin {text}");
    }

    assert_eq!(
        fs::read(path).unwrap(),
        bytes_before,
        "stat changed the file"
    );
    assert_eq!(
        fs::metadata(path).unwrap().modified().unwrap(),
        modified_before
    );
    drop(leader);
}

#[test]
fn a_fresh_file_reads_empty_with_the_route_unknown() {
    let fresh = TempStore::new("stat-fresh", CAPS);
    let output = stat(fresh.path(), &["--json"]);
    assert!(output.status.success(), "{output:?}");
    let json = String::from_utf8(output.stdout).unwrap();
    for expected in [
        r#""depth":0"#,
        r#""oldest_accepted_at_ms":null"#,
        r#""leader":null,"lease":null"#,
        r#""health":{"default":null,"fallback":null}"#,
        r#""latency":{"default":null,"fallback":null}"#,
        r#""route":"unknown""#,
    ] {
        assert!(json.contains(expected), "missing {expected}\nin {json}");
    }
}

#[test]
fn files_that_are_not_ours_are_refused_with_the_reason_and_never_created() {
    let dir = TempDir::new("stat-refused");
    let missing = dir.file("missing.shm");
    let foreign = dir.file("foreign.shm");
    fs::write(&foreign, vec![0x5a; 4096]).unwrap();
    let old_version = dir.file("old.shm");
    drop(SharedFile::open_or_create(&old_version, CAPS).unwrap());
    let mut bytes = fs::read(&old_version).unwrap();
    bytes[8..16].copy_from_slice(&1u64.to_le_bytes()); // the version word
    fs::write(&old_version, &bytes).unwrap();
    let short = dir.file("short.shm");
    fs::write(&short, b"rinha").unwrap();

    let version = format!("has layout version 1, this binary reads version {LAYOUT_VERSION}");
    for (path, reason) in [
        (&missing, "No such file"),
        (&foreign, "not a rinha shared file"),
        (&old_version, version.as_str()),
        (&short, "is 5 bytes"),
    ] {
        let output = stat(path, &["--json"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {stderr}",
            path.display()
        );
        assert!(output.stdout.is_empty(), "{}", path.display());
        assert!(stderr.contains(reason), "{}: {stderr}", path.display());
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    }
    assert!(!missing.exists(), "stat created the missing file");
    assert_eq!(
        fs::read(&old_version).unwrap(),
        bytes,
        "stat changed the file"
    );
}
