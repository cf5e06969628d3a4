//! The ledger: one append (the drainer, once per processed payment), and the
//! scan behind every `GET /payments-summary`, over a contest's worth of
//! records (20 000; a run records ~17 000) and over a full default-size
//! ledger (`Capacities::default().ledger_entries`, 262 144 records: about
//! 15 runs without a purge).
//!
//! Target: the 20 k summary in under 100 µs.
//!
//! Each ledger is filled once per group, outside the measurement. Records
//! are spread over a minute, nine in ten on the default processor, and the
//! query window cuts a few seconds off each end, so the window test and both
//! processor branches are exercised as in a real run.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rinha::api;
use rinha::config::Capacities;
use rinha::domain::payment::Processor;
use rinha::domain::summary::{Summary, Window};
use rinha::http::{self, Status};
use rinha::store::ledger::Record;
use rinha::store::shared_file::SharedFile;
use rinha::store::test_support::TempStore;
use uuid::Uuid;

mod common;

/// 2025-07-10T12:34:56.000Z, the start of the simulated run.
const RUN_START_MS: i64 = 1_752_150_896_000;
/// How long the simulated run lasts.
const RUN_MS: i64 = 60_000;

/// The default ledger size: what `rinha api` creates unless told otherwise.
fn full() -> u32 {
    Capacities::default().ledger_entries
}

fn record(n: u64, of: u64) -> Record {
    Record {
        processor: if n % 10 == 9 {
            Processor::Fallback
        } else {
            Processor::Default
        },
        requested_at_ms: RUN_START_MS + (n * RUN_MS as u64 / of) as i64,
        amount_cents: 1990,
        generation: 0,
        correlation_id: Uuid::from_u128(u128::from(n)),
        ring_position: n,
    }
}

/// A shared file whose ledger holds `n` records of one run.
fn filled(name: &str, n: u32) -> TempStore {
    let temp = TempStore::new(
        name,
        Capacities {
            ring_slots: 1024,
            ledger_entries: n,
        },
    );
    let ledger = temp.ledger();
    for i in 0..u64::from(n) {
        ledger.append(&record(i, n.into())).expect("sized to fit");
    }
    temp
}

/// The window a client asks about: the run minus five seconds at each end.
const WINDOW: Window = Window {
    from_ms: RUN_START_MS + 5_000,
    to_ms: RUN_START_MS + RUN_MS - 5_000,
};
const QUERY: &[u8] =
    b"GET /payments-summary?from=2025-07-10T12:35:01.000Z&to=2025-07-10T12:35:51.000Z HTTP/1.1\r\n\
Host: localhost:9999\r\n\r\n";

fn append(c: &mut Criterion) {
    let temp = TempStore::new(
        "ledger-append",
        Capacities {
            ring_slots: 1024,
            ledger_entries: full(),
        },
    );
    let shared = &*temp;
    let mut group = c.benchmark_group("ledger");
    group.throughput(Throughput::Elements(1));
    group.bench_function("append", |b| {
        let ledger = shared.ledger();
        let record = record(7, 20_000);
        b.iter_custom(|iters| {
            timed_with_ledger_reset(shared, iters, || {
                black_box(ledger.append(black_box(&record))).expect("reset before full");
            })
        });
    });
    group.finish();
}

/// Like the ring's drain between batches: appends are timed in batches that
/// fit, and the ledger is emptied (its claim counter rewound), untimed,
/// between them.
fn timed_with_ledger_reset(shared: &SharedFile, iters: u64, op: impl FnMut()) -> Duration {
    let capacity = u64::from(shared.capacities().ledger_entries);
    let ledger = shared.ledger();
    let make_room = || {
        ledger.rewind();
        capacity
    };
    common::timed_in_batches(iters, make_room, op)
}

fn summarize(c: &mut Criterion) {
    let mut group = c.benchmark_group("ledger_summarize");
    for (label, n) in [("20k", 20_000), ("full", full())] {
        let temp = filled(&format!("ledger-summary-{label}"), n);
        let shared = &*temp;
        let expected = shared.reader().summary(WINDOW);
        let in_window = expected.default.requests + expected.fallback.requests;
        assert!(
            in_window > u64::from(n) * 4 / 5 && in_window < u64::from(n),
            "{expected:?}"
        );

        group.throughput(Throughput::Elements(n.into()));
        // A full scan takes milliseconds: 100 samples would not fit in the
        // default measurement time, and 30 still give a stable median.
        group.sample_size(if n > 100_000 { 30 } else { 100 });
        group.bench_with_input(BenchmarkId::new("scan", label), &n, |b, _| {
            b.iter(|| -> Summary { shared.reader().summary(black_box(WINDOW)) });
        });
        // What `GET /payments-summary` costs past the socket: HTTP parse,
        // query window parse, the scan, the JSON and the response head.
        group.bench_with_input(BenchmarkId::new("get_end_to_end", label), &n, |b, _| {
            let mut out = Vec::with_capacity(4096);
            b.iter(|| {
                out.clear();
                let Ok(Status::Complete(request)) = http::parse_request(black_box(QUERY)) else {
                    unreachable!("a valid query");
                };
                black_box(api::handle(
                    &request,
                    shared,
                    &api::Options::default(),
                    &mut out,
                ));
                black_box(&out);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, append, summarize);
criterion_main!(benches);
