//! End to end, against the real stack: two processor emulators, two
//! `rinha api` instances sharing one file, HAProxy in front (`rinha local`).
//! No mocks; every request is raw HTTP over 127.0.0.1.
//!
//! The invariants are the contest's: every acknowledged payment is paid
//! exactly once, the backend's summary equals the processors' own in any
//! window, and the dear fallback is not used for an outage shorter than the
//! hold. Every wait is bounded.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::emulator::{set_drop, set_failure};
use support::http::{Client, payment_body, post_payment};
use support::load::post_load;
use support::processes::signal;
use support::rng::new_id;
use support::stack::Stack;
use support::summary::{Summary, Totals, now_ms};

/// Every payment in these tests is 19.90.
const CENTS: u64 = 1990;
/// How long the drain may take to catch up once nothing blocks it.
const SETTLE: Duration = Duration::from_secs(30);

/// `requests` payments of 19.90, all to the default processor.
fn all_default(requests: u64) -> Summary {
    Summary {
        default: Totals {
            requests,
            cents: requests * CENTS,
        },
        fallback: Totals::default(),
    }
}

#[test]
fn thousands_of_payments_agree_with_the_processors_in_every_window() {
    let stack = Stack::start();
    let started = now_ms();
    let load = post_load(stack.backend, 6, 500, Duration::ZERO, || false);
    let load_ended = now_ms();
    assert_eq!(load.acknowledged, 3000, "{load:?}");

    let settled = stack.settle(3000, SETTLE);
    assert_eq!(settled, all_default(3000));
    let ended = now_ms();

    // Cuts inside the load, where several payments share each millisecond,
    // so inclusive bounds are exercised on both sides.
    let cut = |fraction: i64| started + (load_ended - started) * fraction / 4;
    let (a, b, c) = (cut(1), cut(2), cut(3));
    let partition = [(started, a), (a + 1, b), (b + 1, c), (c + 1, ended)];
    let mut sum = Summary::default();
    let mut busy = 0;
    for (from, to) in partition {
        let window = Some((from, to));
        let backend = stack.backend_summary(window);
        assert_eq!(backend, stack.processors_summary(window), "[{from}, {to}]");
        sum.default.requests += backend.default.requests;
        sum.default.cents += backend.default.cents;
        busy += usize::from(backend.requests() > 0);
    }
    assert_eq!(
        sum, settled,
        "the partition's windows must add up to the total"
    );
    assert!(
        busy >= 2,
        "the windows should split the load; only {busy} held any"
    );

    for (from, to) in [
        (a, a),                          // one millisecond, both bounds inclusive
        (a, b),                          // overlaps the partition on both ends
        (b, b + 1),                      // two milliseconds
        (started - 60_000, a),           // from before everything
        (c, ended + 60_000),             // to after everything
        (ended - 15_000, ended - 1_500), // the contest's consistency window
        (started - 10_000, started - 1), // before anything was paid
        (b + 1, b),                      // empty: from after to
    ] {
        let window = Some((from, to));
        assert_eq!(
            stack.backend_summary(window),
            stack.processors_summary(window),
            "[{from}, {to}]"
        );
    }
}

#[test]
fn a_failing_default_hands_payments_to_the_fallback_and_wins_them_back() {
    let stack = Stack::start();
    set_failure(stack.default_port, true);
    let load = post_load(stack.backend, 3, 200, Duration::from_millis(2), || false);
    assert_eq!(
        load.acknowledged, 600,
        "payments are accepted during an outage"
    );
    // No hold (`--max-hold-ms` 0): the working fallback takes them at once,
    // while probes that the failing default answers with 500 store nothing.
    let during = stack.settle(600, SETTLE);
    assert_eq!(during.requests(), 600, "{during:?}");
    assert_eq!(during.default.requests, 0, "{during:?}");

    set_failure(stack.default_port, false);
    // Probes are real payments: a trickle of them finds the default back,
    // within a probe interval (100 ms) of the first one sent.
    let recovered = Instant::now();
    let mut trickle = 0;
    while stack.processors_summary(None).default.requests == 0 {
        assert!(recovered.elapsed() < Duration::from_secs(5), "never back");
        trickle += post_load(stack.backend, 1, 1, Duration::ZERO, || false).acknowledged;
        thread::sleep(Duration::from_millis(20));
    }
    let before = stack.settle(600 + trickle, SETTLE);
    let more = post_load(stack.backend, 2, 50, Duration::ZERO, || false);
    assert_eq!(more.acknowledged, 100);
    let after = stack.settle(700 + trickle, SETTLE);
    assert_eq!(
        after.fallback, before.fallback,
        "the default took them back"
    );
    assert_eq!(after.default.requests, before.default.requests + 100);
}

#[test]
fn payments_whose_answer_is_lost_are_recorded_once() {
    let stack = Stack::start();
    set_drop(stack.default_port, true);
    let load = post_load(stack.backend, 3, 100, Duration::from_millis(2), || false);
    assert_eq!(load.acknowledged, 300);
    thread::sleep(Duration::from_secs(1));
    set_drop(stack.default_port, false);
    // Stored by the processor without a word back: the drainer must find
    // out what it stored (a lookup, or a 422 on the retry and then a
    // lookup) and record each payment once, with the requestedAt the
    // processor kept. The default looks failing meanwhile, so the fallback
    // takes the payments not yet sent (no hold: README, Routing).
    let settled = stack.settle(300, SETTLE);
    assert_eq!(settled.requests(), 300, "{settled:?}");
    assert!(
        settled.default.requests > 0,
        "the payments whose answers were dropped are found at the default: {settled:?}"
    );
    let window = Some((now_ms() - 60_000, now_ms()));
    assert_eq!(
        stack.backend_summary(window),
        stack.processors_summary(window)
    );
}

#[test]
fn killing_the_leader_under_load_hands_over_within_a_second() {
    const THREADS: usize = 4;
    let stack = Stack::start();
    let (leader, elected_at) = stack
        .wait_for_leader(0, Duration::from_secs(5))
        .expect("an instance is elected");
    let (api1, api2) = (stack.pid("api1"), stack.pid("api2"));
    assert!(
        leader == api1 || leader == api2,
        "leader {leader} is neither instance"
    );
    let survivor = if leader == api1 { api2 } else { api1 };

    let stop = AtomicBool::new(false);
    let (load, takeover) = thread::scope(|scope| {
        let loader = scope.spawn(|| {
            let stop = || stop.load(Ordering::Relaxed);
            post_load(
                stack.backend,
                THREADS,
                usize::MAX,
                Duration::from_millis(2),
                stop,
            )
        });
        thread::sleep(Duration::from_secs(1));
        signal("KILL", leader);
        let killed = Instant::now();
        let successor = stack.wait_for_leader(elected_at + 1, Duration::from_secs(5));
        let took = killed.elapsed();
        thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        (loader.join().expect("load thread"), (successor, took))
    });

    let (successor, took) = takeover;
    eprintln!("takeover in {took:?}; {load:?}");
    let (successor, _) = successor.expect("no instance took over within 5 s");
    assert_eq!(successor, survivor);
    assert!(took < Duration::from_secs(1), "takeover took {took:?}");
    assert!(load.acknowledged > 0, "{load:?}");

    // Only acknowledged payments are promised; one that got no answer may or
    // may not have been paid, but never twice, and the summaries agree.
    let settled = stack.settle(load.acknowledged, SETTLE);
    assert!(
        (load.acknowledged..=load.attempted()).contains(&settled.requests()),
        "{load:?} but processors hold {settled:?}"
    );
    assert_eq!(settled, all_default(settled.requests()));

    // The survivor serves everyone.
    let mut client = Client::new(stack.backend);
    for _ in 0..10 {
        assert_eq!(post_payment(&mut client).unwrap(), 200);
    }
    stack.settle(settled.requests() + 10, SETTLE);
}

#[test]
fn malformed_requests_get_4xx_and_everyone_else_is_still_served() {
    let stack = Stack::start();
    let id = new_id();
    let post = |body: &str| {
        format!(
            "POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let get = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
    let cases: Vec<(&str, String, u16)> = vec![
        ("truncated JSON", post(r#"{"correlationId":"#), 400),
        ("not JSON", post("hello"), 400),
        ("empty body", post(""), 400),
        ("array", post("[1,2]"), 400),
        (
            "missing amount",
            post(&format!(r#"{{"correlationId":"{id}"}}"#)),
            400,
        ),
        ("missing correlationId", post(r#"{"amount":19.90}"#), 400),
        ("bad uuid", post(&payment_body("not-a-uuid", "19.90")), 400),
        ("negative amount", post(&payment_body(&id, "-19.90")), 400),
        ("zero amount", post(&payment_body(&id, "0")), 400),
        (
            "amount as string",
            post(&payment_body(&id, "\"19.90\"")),
            400,
        ),
        (
            "trailing garbage",
            post(&(payment_body(&id, "19.90") + "x")),
            400,
        ),
        ("unknown path", get("/nope"), 404),
        ("GET /payments", get("/payments"), 405),
        (
            "DELETE summary",
            "DELETE /payments-summary HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            405,
        ),
        (
            "bad from",
            get("/payments-summary?from=yesterday&to=2025-01-01T00:00:00Z"),
            400,
        ),
        (
            "body too large",
            "POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n".into(),
            413,
        ),
        ("bad request line", "NONSENSE\r\n\r\n".into(), 400),
        (
            "bad content length",
            "POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".into(),
            400,
        ),
    ];

    let stop = AtomicBool::new(false);
    let (load, statuses) = thread::scope(|scope| {
        let loader = scope.spawn(|| {
            let stop = || stop.load(Ordering::Relaxed);
            post_load(stack.backend, 2, usize::MAX, Duration::from_millis(1), stop)
        });
        let statuses: Vec<_> = cases
            .iter()
            .map(|(name, raw, _)| {
                let response = Client::new(stack.backend).send_raw(raw.as_bytes());
                (*name, response.map(|r| r.status).map_err(|e| e.to_string()))
            })
            .collect();
        // Let the valid load run on past the last bad request.
        thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        (loader.join().expect("load thread"), statuses)
    });

    for ((name, status), (_, _, expected)) in statuses.iter().zip(&cases) {
        assert_eq!(status.as_ref().ok(), Some(expected), "{name}: {status:?}");
    }
    assert_eq!(load.refused, 0, "valid payments alongside: {load:?}");
    let mut client = Client::new(stack.backend);
    assert_eq!(post_payment(&mut client).unwrap(), 200);
    // Nothing malformed was paid; every valid payment was, once.
    let paid = load.acknowledged + 1;
    assert_eq!(stack.settle(paid, SETTLE), all_default(paid));
}
