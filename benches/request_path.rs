//! The `POST /payments` hot path, end to end and piece by piece.
//!
//! Target: parse + validate + enqueue one request in under 1 µs. The pieces
//! (HTTP parse, body parse, ring push) are benched alone too, so a miss says
//! which one to look at.
//!
//! The ring is the production size (65 536 slots) on tmpfs; it is drained,
//! untimed, whenever the timed batch would fill it, so every push succeeds.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rinha::api;
use rinha::api::payment_body;
use rinha::config::Capacities;
use rinha::domain::payment::Payment;
use rinha::http::{self, Status};
use rinha::store::test_support::TempStore;

mod common;
use common::timed_with_ring_drained;

/// A k6 `POST /payments` as the instances receive it: HAProxy forwards the
/// client's headers and adds none (`haproxy.cfg` has no `forwardfor`).
/// 211 bytes.
const REQUEST: &[u8] = b"POST /payments HTTP/1.1\r\n\
Host: localhost:9999\r\n\
User-Agent: k6/0.49.0 (https://k6.io/)\r\n\
Content-Type: application/json\r\n\
Content-Length: 70\r\n\
\r\n\
{\"correlationId\":\"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3\",\"amount\":19.9}";

fn body() -> &'static [u8] {
    let at = REQUEST
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head ends");
    &REQUEST[at + 4..]
}

fn request_path(c: &mut Criterion) {
    let temp = TempStore::new("request-path", Capacities::default());
    let shared = &*temp;
    // Sanity: the bench measures the success path, not an error answer.
    {
        let Ok(Status::Complete(request)) = http::parse_request(REQUEST) else {
            panic!("bench request does not parse");
        };
        assert_eq!(request.body.len(), 70);
        let mut out = Vec::new();
        assert!(api::handle(
            &request,
            shared,
            &api::Options::default(),
            &mut out
        ));
        assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }

    let mut group = c.benchmark_group("request_path");
    group.throughput(Throughput::Elements(1));

    group.bench_function("post_payment_end_to_end", |b| {
        // The connection's output buffer keeps its capacity, as in the server.
        let mut out = Vec::with_capacity(4096);
        b.iter_custom(|iters| {
            timed_with_ring_drained(shared, iters, || {
                out.clear();
                let Ok(Status::Complete(request)) = http::parse_request(black_box(REQUEST)) else {
                    unreachable!("checked above");
                };
                black_box(api::handle(
                    &request,
                    shared,
                    &api::Options::default(),
                    &mut out,
                ));
                black_box(&out);
            })
        });
    });

    group.bench_function("handle_parsed_request", |b| {
        let Ok(Status::Complete(request)) = http::parse_request(REQUEST) else {
            unreachable!("checked above");
        };
        let mut out = Vec::with_capacity(4096);
        b.iter_custom(|iters| {
            timed_with_ring_drained(shared, iters, || {
                out.clear();
                black_box(api::handle(
                    black_box(&request),
                    shared,
                    &api::Options::default(),
                    &mut out,
                ));
                black_box(&out);
            })
        });
    });

    group.bench_function("accept_only", |b| {
        let payment = payment_body::parse_payment(body()).expect("valid body");
        b.iter_custom(|iters| {
            timed_with_ring_drained(shared, iters, || {
                black_box(shared.producer().accept(black_box(&payment))).expect("drained ring");
            })
        });
    });
    group.finish();

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(REQUEST.len() as u64));
    group.bench_function("http_parse_request", |b| {
        b.iter(|| match http::parse_request(black_box(REQUEST)) {
            Ok(Status::Complete(request)) => black_box(request.len),
            _ => unreachable!("checked above"),
        });
    });
    let body = body();
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("payment_parse_payment", |b| {
        b.iter(|| -> Payment { payment_body::parse_payment(black_box(body)).expect("valid body") });
    });
    group.finish();
}

criterion_group!(benches, request_path);
criterion_main!(benches);
