//! The ring shared by real OS processes: every acknowledged payment is
//! drained exactly once, and a producer that dies between claiming and
//! publishing does not wedge the drainer.
//!
//! Producers are this same test binary re-executed with `RINHA_TEST_PRODUCER`
//! set, running only the `producer_role` test; each prints `ack <n>` after a
//! push returned `Ok`, which is what a client would have been told.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rinha::config::Capacities;
use rinha::domain::payment::Payment;
use rinha::store::ring::{Cursor, Peek, SlotState, Step};
use rinha::store::shared_file::SharedFile;
use rinha::store::test_support::TempStore;
use uuid::Uuid;

const ROLE: &str = "RINHA_TEST_PRODUCER";
const CAPS: Capacities = Capacities {
    ring_slots: 1024,
    ledger_entries: 16,
};
const ABANDON_AFTER: Duration = Duration::from_millis(200);

/// Producer `p`'s n-th payment id.
fn id(producer: u64, n: u64) -> u128 {
    u128::from(producer) << 64 | u128::from(n)
}

/// Runs only inside a re-executed child: `path,producer,count,mode`.
#[test]
fn producer_role() {
    let Ok(spec) = std::env::var(ROLE) else {
        return;
    };
    let parts: Vec<&str> = spec.split(',').collect();
    let shared = SharedFile::open_or_create(Path::new(parts[0]), CAPS).unwrap();
    let producer: u64 = parts[1].parse().unwrap();
    let count: u64 = parts[2].parse().unwrap();
    if parts[3] == "claim-and-die" {
        shared.ring().claim().unwrap();
        std::process::abort();
    }
    for n in 0..count {
        let payment = Payment {
            correlation_id: Uuid::from_u128(id(producer, n)),
            amount_cents: 1990,
        };
        while shared.ring().push(&payment, 0).is_err() {
            std::thread::yield_now();
        }
        println!("ack {n}");
    }
}

/// A producer process and the thread that collects what it acknowledged
/// (read concurrently, so a full pipe never blocks the producer).
struct Producer {
    child: Child,
    acks: std::thread::JoinHandle<Vec<u64>>,
}

fn spawn_producer(path: &Path, producer: u64, count: u64, mode: &str) -> Producer {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "producer_role",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            ROLE,
            format!("{},{producer},{count},{mode}", path.display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let acks = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // The harness prints "test producer_role ... " without a newline first.
            .filter_map(|line| line.rsplit_once("ack ").and_then(|(_, n)| n.parse().ok()))
            .collect()
    });
    Producer { child, acks }
}

/// The acknowledged sequence numbers a producer printed before it ended.
fn acknowledged(mut producer: Producer) -> Vec<u64> {
    producer.child.wait().unwrap();
    producer.acks.join().unwrap()
}

/// Drains until `done` says so or the deadline passes; counts every id.
fn drain(
    shared: &SharedFile,
    deadline: Duration,
    done: impl Fn(&HashMap<u128, u32>) -> bool,
) -> HashMap<u128, u32> {
    let ring = shared.ring();
    let mut cursor = Cursor::new(ring.head(), ABANDON_AFTER);
    let mut seen = HashMap::new();
    let start = Instant::now();
    while !done(&seen) && start.elapsed() < deadline {
        match cursor.step(&ring) {
            Step::Payment(pending) => {
                *seen
                    .entry(pending.payment.correlation_id.as_u128())
                    .or_insert(0) += 1;
                ring.set_state(pending.position, SlotState::Done);
                ring.free_done(cursor.position());
            }
            Step::Idle | Step::Abandoned(_) => std::thread::sleep(Duration::from_micros(100)),
        }
    }
    seen
}

#[test]
fn two_processes_push_and_one_drains_every_payment_once() {
    let shared = TempStore::new("ring-processes-two", CAPS);
    let path = shared.path();
    let per_producer = 20_000;
    let producers: Vec<Producer> = (1..=2)
        .map(|p| spawn_producer(path, p, per_producer, "push"))
        .collect();
    let seen = drain(&shared, Duration::from_secs(60), |seen| {
        seen.len() as u64 == 2 * per_producer
    });
    let acks: Vec<Vec<u64>> = producers.into_iter().map(acknowledged).collect();
    for (producer, acks) in (1..=2).zip(&acks) {
        assert_eq!(
            acks.len() as u64,
            per_producer,
            "producer {producer} finished"
        );
        for &n in acks {
            assert_eq!(
                seen.get(&id(producer, n)),
                Some(&1),
                "producer {producer} payment {n}"
            );
        }
    }
    assert_eq!(seen.len() as u64, 2 * per_producer, "nothing else came out");
}

#[test]
fn a_producer_that_dies_between_claim_and_publish_is_skipped() {
    let shared = TempStore::new("ring-processes-dies", CAPS);
    let path = shared.path();
    // Producer 1 claims a position and aborts before publishing it.
    assert!(acknowledged(spawn_producer(path, 1, 0, "claim-and-die")).is_empty());
    assert_eq!(
        shared.ring().tail(),
        1,
        "the dead producer's claim is in the ring"
    );
    // Producer 2 pushes behind the dead claim.
    // It takes the lowest free producer id: the dead one's, whose claim it
    // releases at once (its predecessor is gone), so nobody waits for it.
    let acks = acknowledged(spawn_producer(path, 2, 500, "push"));
    assert_eq!(acks.len(), 500);
    assert_eq!(
        shared.ring().peek(0),
        Peek::Abandoned,
        "released by the next holder of the dead producer's id"
    );
    let seen = drain(&shared, Duration::from_secs(10), |seen| seen.len() == 500);
    for n in acks {
        assert_eq!(seen.get(&id(2, n)), Some(&1), "payment {n}");
    }
    assert_eq!(seen.len(), 500);
}

#[test]
fn a_producer_killed_at_a_random_moment_loses_nothing_it_acknowledged() {
    for round in 0..5u64 {
        let shared = TempStore::new(&format!("ring-processes-killed-{round}"), CAPS);
        let path = shared.path();
        let mut victim = spawn_producer(path, 1, u64::MAX, "push");
        // Let it push for a while, draining meanwhile so it never sees Full.
        let early = drain(&shared, Duration::from_millis(20 + round * 15), |_| false);
        victim.child.kill().unwrap();
        let acks = acknowledged(victim);
        let late = drain(&shared, Duration::from_secs(10), |seen| {
            seen.len() + early.len() >= acks.len() && shared.ring().head() == shared.ring().tail()
        });
        for n in &acks {
            let times = early.get(&id(1, *n)).unwrap_or(&0) + late.get(&id(1, *n)).unwrap_or(&0);
            assert_eq!(times, 1, "round {round}: acknowledged payment {n}");
        }
        assert!(
            early.keys().all(|k| !late.contains_key(k)),
            "round {round}: drained twice"
        );
    }
}
