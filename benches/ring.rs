//! The cross-process ring: one push and its pop on one thread, then 2–4
//! producer threads pushing while one consumer drains.
//!
//! Threads stand in for processes: the ring only ever sees atomics in a
//! mapping, so threads sharing one mapping contend on the same cache lines
//! as processes sharing the file do.
//!
//! On a 2-core machine the contended cases are oversubscribed (3–5 threads
//! on 2 cores): producers and the consumer yield when they cannot make
//! progress, so the numbers include scheduler hand-offs. That is also what
//! production looks like (two API processes and a drainer on 1.5 CPUs).

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rinha::config::Capacities;
use rinha::domain::payment::Payment;
use rinha::store::ring::{Cursor, SlotState, Step};
use rinha::store::shared_file::SharedFile;
use rinha::store::test_support::TempStore;
use uuid::Uuid;

mod common;
use common::{drain, timed_with_ring_drained};

/// How many payments the consumer takes before it frees their slots: the
/// drainer frees in runs too, and one `free_done` per payment would make
/// the consumer the bottleneck for no reason the production leader has.
const FREE_EVERY: u64 = 64;

fn payment(n: u64) -> Payment {
    Payment {
        correlation_id: Uuid::from_u128(u128::from(n) | 0x4a79_01b8_7d26_4d9d_aa19_0000_0000_0000),
        amount_cents: 1990,
    }
}

fn single_thread(c: &mut Criterion) {
    let temp = TempStore::new("ring-single", Capacities::default());
    let shared = &*temp;
    let mut group = c.benchmark_group("ring");
    group.throughput(Throughput::Elements(1));

    group.bench_function("push", |b| {
        let payment = payment(1);
        let ring = shared.ring();
        b.iter_custom(|iters| {
            timed_with_ring_drained(shared, iters, || {
                black_box(ring.push(black_box(&payment), 0)).expect("drained ring");
            })
        });
    });

    group.bench_function("push_pop", |b| {
        let payment = payment(2);
        let ring = shared.ring();
        drain(shared);
        let mut cursor = Cursor::new(ring.head(), Duration::from_secs(3600));
        b.iter(|| {
            ring.push(black_box(&payment), 0)
                .expect("one slot in use at most");
            let Step::Payment(pending) = cursor.step(&ring) else {
                unreachable!("just pushed");
            };
            ring.set_state(pending.position, SlotState::Done);
            black_box(ring.free_done(cursor.position()));
            black_box(pending)
        });
    });
    group.finish();
}

/// Pushes `iters` payments from `producers` threads while this thread drains
/// them; the time runs from the moment every thread is ready to the moment
/// the consumer has taken the last payment.
fn contended_run(shared: &SharedFile, producers: u64, iters: u64) -> Duration {
    let barrier = Barrier::new(producers as usize + 1);
    std::thread::scope(|scope| {
        for p in 0..producers {
            let share = iters / producers + u64::from(p < iters % producers);
            let barrier = &barrier;
            scope.spawn(move || {
                let ring = shared.ring();
                barrier.wait();
                for n in 0..share {
                    let payment = payment(p << 48 | n);
                    while ring.push(&payment, 0).is_err() {
                        // Full: only the consumer can help, and it may be
                        // waiting for this core.
                        std::thread::yield_now();
                    }
                }
            });
        }
        let ring = shared.ring();
        let mut cursor = Cursor::new(ring.head(), Duration::from_secs(3600));
        barrier.wait();
        let start = Instant::now();
        let mut taken = 0;
        while taken < iters {
            match cursor.step(&ring) {
                Step::Payment(pending) => {
                    ring.set_state(pending.position, SlotState::Done);
                    taken += 1;
                    if taken % FREE_EVERY == 0 {
                        ring.free_done(cursor.position());
                    }
                }
                Step::Idle => {
                    ring.free_done(cursor.position());
                    std::thread::yield_now();
                }
                Step::Abandoned(position) => unreachable!("abandoned {position}"),
            }
        }
        let elapsed = start.elapsed();
        ring.free_done(cursor.position());
        elapsed
    })
}

fn contended(c: &mut Criterion) {
    let temp = TempStore::new("ring-contended", Capacities::default());
    let shared = &*temp;
    let mut group = c.benchmark_group("ring_contended");
    group.throughput(Throughput::Elements(1));
    for producers in [2u64, 3, 4] {
        group.bench_with_input(
            BenchmarkId::new("producers", producers),
            &producers,
            |b, &producers| b.iter_custom(|iters| contended_run(shared, producers, iters)),
        );
    }
    group.finish();
}

criterion_group!(benches, single_thread, contended);
criterion_main!(benches);
