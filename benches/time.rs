//! ISO-8601 timestamps: formatting the `requestedAt` the drainer sends with
//! every payment, and parsing the `from`/`to` of every summary query.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rinha::domain::time::{ISO8601_LEN, Round, format_iso8601, parse_iso8601};

fn time(c: &mut Criterion) {
    let mut group = c.benchmark_group("time");
    group.throughput(Throughput::Elements(1));

    group.bench_function("format_iso8601", |b| {
        let mut out = [0; ISO8601_LEN];
        b.iter(|| {
            format_iso8601(black_box(1_752_150_896_123), &mut out);
            black_box(out)
        });
    });

    // What k6 sends, and the longest form we accept (nanoseconds, offset).
    let cases: [(&str, &[u8], i64); 2] = [
        (
            "parse_iso8601_ms_z",
            b"2025-07-10T12:34:56.123Z",
            1_752_150_896_123,
        ),
        (
            "parse_iso8601_ns_offset",
            b"2025-07-10T09:34:56.123456789-03:00",
            1_752_150_896_124,
        ),
    ];
    for (name, text, expected) in cases {
        assert_eq!(parse_iso8601(text, Round::Up), Some(expected), "{name}");
        group.bench_function(name, |b| {
            b.iter(|| parse_iso8601(black_box(text), Round::Up));
        });
    }
    group.finish();
}

criterion_group!(benches, time);
criterion_main!(benches);
