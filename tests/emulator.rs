//! `rinha processor` end to end: the real binary on a loopback port, spoken
//! to in raw HTTP/1.1 bytes, one fresh process per test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod support;

use support::cluster::Processor;
use support::emulator::TOKEN;
use support::http::{Response, read_until_close};
use support::processes::rinha;

/// Upper bound on any single exchange, so a broken emulator fails a test
/// instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// A running emulator (killed when dropped), spoken to on fresh connections.
struct Emulator {
    /// Held: dropping it kills the emulator.
    _running: Processor,
    address: SocketAddr,
}

impl Emulator {
    /// An emulator charging `fee` on a free port; its ready line names the fee.
    fn start(fee: &'static str) -> Emulator {
        let processor = Processor::start(fee, 0);
        let proc = processor.proc.as_ref().expect("started");
        // "rinha processor listening on 127.0.0.1:PORT fee F"
        let line = proc
            .log
            .wait_for(IO_TIMEOUT, |l| {
                l.starts_with("rinha processor listening on ")
            })
            .expect("a ready line");
        assert_eq!(line.trim_end().rsplit(' ').next(), Some(fee), "{line}");
        Emulator {
            address: SocketAddr::from(([127, 0, 0, 1], processor.port)),
            _running: processor,
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.address).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    /// One request on a fresh connection (`Connection: close`).
    fn call(&self, method: &str, target: &str, token: Option<&str>, body: &str) -> Response {
        let mut stream = self.connect();
        stream
            .write_all(request(method, target, token, body, false).as_bytes())
            .unwrap();
        read_until_close(&mut stream).unwrap()
    }

    fn admin(&self, method: &str, target: &str, body: &str) -> Response {
        self.call(method, target, Some(TOKEN), body)
    }

    fn pay(&self, id: &str, amount: &str, requested_at: &str) -> Response {
        self.call(
            "POST",
            "/payments",
            None,
            &payment(id, amount, requested_at),
        )
    }
}

fn request(method: &str, target: &str, token: Option<&str>, body: &str, keep: bool) -> String {
    let token = token.map_or(String::new(), |token| format!("X-Rinha-Token: {token}\r\n"));
    let connection = if keep { "keep-alive" } else { "close" };
    format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\n{token}Connection: {connection}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn payment(id: &str, amount: &str, requested_at: &str) -> String {
    format!(r#"{{"correlationId":"{id}","amount":{amount},"requestedAt":"{requested_at}"}}"#)
}

const ID: &str = "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3";
const AT: &str = "2025-07-10T12:34:56.000Z";

#[test]
fn a_payment_is_stored_once_and_can_be_read_back() {
    let processor = Emulator::start("0.05");
    let first = processor.pay(ID, "19.90", AT);
    assert_eq!(first.status, 200);
    assert_eq!(
        first.body,
        r#"{"message":"payment processed successfully"}"#
    );
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(processor.pay(ID, "19.90", AT).status, 422);

    let read = processor.call("GET", &format!("/payments/{ID}"), None, "");
    assert_eq!(read.status, 200);
    assert_eq!(
        read.body,
        format!(r#"{{"correlationId":"{ID}","amount":19.90,"requestedAt":"{AT}"}}"#)
    );
    let unknown = "00000000-0000-4000-8000-000000000000";
    let missing = processor.call("GET", &format!("/payments/{unknown}"), None, "");
    assert_eq!(missing.status, 404);
    assert_eq!(processor.call("POST", "/payments", None, "{").status, 400);
}

#[test]
fn failure_answers_500_after_the_delay_and_stores_nothing() {
    let processor = Emulator::start("0.05");
    let set = processor.admin(
        "PUT",
        "/admin/configurations/failure",
        r#"{"failure":true}"#,
    );
    assert_eq!(set.body, r#"{"config":"failure","was":false,"is":true}"#);
    let set = processor.admin("PUT", "/admin/configurations/delay", r#"{"delay":150}"#);
    assert_eq!(set.body, r#"{"config":"delay","was":0,"is":150}"#);

    let started = Instant::now();
    assert_eq!(processor.pay(ID, "19.90", AT).status, 500);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(
        processor
            .call("GET", &format!("/payments/{ID}"), None, "")
            .status,
        404
    );
    let summary = processor.admin("GET", "/admin/payments-summary", "");
    assert!(
        summary.body.contains(r#""totalRequests":0"#),
        "{}",
        summary.body
    );

    processor.admin(
        "PUT",
        "/admin/configurations/failure",
        r#"{"failure":false}"#,
    );
    assert_eq!(processor.pay(ID, "19.90", AT).status, 200);
}

#[test]
fn the_delay_is_slept_and_reported_by_health() {
    let processor = Emulator::start("0.05");
    let set = processor.admin("PUT", "/admin/configurations/delay", r#"{"delay":300}"#);
    assert_eq!(
        (set.status, set.body.as_str()),
        (200, r#"{"config":"delay","was":0,"is":300}"#)
    );
    let started = Instant::now();
    assert_eq!(processor.pay(ID, "19.90", AT).status, 200);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "answered after {took:?}"
    );
    let health = processor.call("GET", "/payments/service-health", None, "");
    assert_eq!(health.body, r#"{"failing":false,"minResponseTime":300}"#);
}

#[test]
fn every_admin_endpoint_requires_the_current_token() {
    let processor = Emulator::start("0.05");
    let endpoints = [
        ("GET", "/admin/payments-summary", ""),
        ("POST", "/admin/purge-payments", ""),
        ("PUT", "/admin/configurations/token", r#"{"token":"x"}"#),
        ("PUT", "/admin/configurations/delay", r#"{"delay":1}"#),
        (
            "PUT",
            "/admin/configurations/failure",
            r#"{"failure":true}"#,
        ),
        ("PUT", "/admin/configurations/drop", r#"{"drop":true}"#),
    ];
    for token in [None, Some("1234"), Some("")] {
        for (method, target, body) in endpoints {
            let response = processor.call(method, target, token, body);
            assert_eq!(response.status, 401, "{method} {target} with {token:?}");
        }
    }
    // Nothing above took effect.
    let health = processor.call("GET", "/payments/service-health", None, "");
    assert_eq!(health.body, r#"{"failing":false,"minResponseTime":0}"#);

    let changed = processor.admin(
        "PUT",
        "/admin/configurations/token",
        r#"{"token":"s3cret"}"#,
    );
    assert_eq!(changed.status, 204);
    assert_eq!(
        processor.admin("GET", "/admin/payments-summary", "").status,
        401
    );
    let summary = processor.call("GET", "/admin/payments-summary", Some("s3cret"), "");
    assert_eq!(summary.status, 200);
}

#[test]
fn summary_bounds_are_inclusive_and_fees_exact() {
    let processor = Emulator::start("0.15");
    let times = [
        "2025-07-10T12:00:00.999Z",
        "2025-07-10T12:00:01.000Z",
        "2025-07-10T12:00:01.500Z",
        "2025-07-10T12:00:02.000Z",
        "2025-07-10T12:00:02.001Z",
    ];
    for (n, at) in times.iter().enumerate() {
        let id = format!("00000000-0000-4000-8000-00000000000{n}");
        assert_eq!(processor.pay(&id, "19.90", at).status, 200);
    }
    let cases = [
        // Exactly at `from` and exactly at `to` both count.
        (
            "?from=2025-07-10T12:00:01.000Z&to=2025-07-10T12:00:02.000Z",
            3,
            "59.70",
            "8.9550",
        ),
        (
            "?from=2025-07-10T12%3A00%3A01.000Z&to=2025-07-10T12%3A00%3A02.000Z",
            3,
            "59.70",
            "8.9550",
        ),
        (
            "?to=2025-07-10T12:00:02.000Z&from=2025-07-10T12:00:01.000Z",
            3,
            "59.70",
            "8.9550",
        ),
        (
            "?from=2025-07-10T12:00:02.000Z&to=2025-07-10T12:00:02.000Z",
            1,
            "19.90",
            "2.9850",
        ),
        (
            "?from=2025-07-10T12:00:02.002Z&to=2025-07-10T13:00:00.000Z",
            0,
            "0.00",
            "0.0000",
        ),
        // A missing bound means every payment, like the official processor.
        ("?from=2025-07-10T12:00:02.000Z", 5, "99.50", "14.9250"),
        ("", 5, "99.50", "14.9250"),
    ];
    for (query, requests, amount, fee) in cases {
        let summary = processor.admin("GET", &format!("/admin/payments-summary{query}"), "");
        let expected = format!(
            r#"{{"totalAmount":{amount},"totalRequests":{requests},"totalFee":{fee},"feePerTransaction":0.15}}"#
        );
        assert_eq!((summary.status, summary.body), (200, expected), "{query}");
    }
    let bad = processor.admin("GET", "/admin/payments-summary?from=yesterday&to=now", "");
    assert_eq!(bad.status, 400);
}

#[test]
fn purge_forgets_every_payment() {
    let processor = Emulator::start("0.05");
    assert_eq!(processor.pay(ID, "19.90", AT).status, 200);
    let purged = processor.admin("POST", "/admin/purge-payments", "");
    assert_eq!(
        (purged.status, purged.body.as_str()),
        (200, r#"{"message":"All payments purged."}"#)
    );
    let summary = processor.admin("GET", "/admin/payments-summary", "");
    assert!(
        summary
            .body
            .starts_with(r#"{"totalAmount":0.00,"totalRequests":0,"#),
        "{}",
        summary.body
    );
    assert_eq!(
        processor
            .call("GET", &format!("/payments/{ID}"), None, "")
            .status,
        404
    );
    assert_eq!(processor.pay(ID, "19.90", AT).status, 200);
}

#[test]
fn drop_stores_the_payment_then_closes_without_an_answer() {
    let processor = Emulator::start("0.05");
    let set = processor.admin("PUT", "/admin/configurations/drop", r#"{"drop":true}"#);
    assert_eq!(set.body, r#"{"config":"drop","was":false,"is":true}"#);

    let mut stream = processor.connect();
    let sent = request("POST", "/payments", None, &payment(ID, "19.90", AT), true);
    stream.write_all(sent.as_bytes()).unwrap();
    let mut answer = Vec::new();
    // EOF or a reset: either way not one byte of a response.
    let _ = stream.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));

    assert_eq!(
        processor
            .call("GET", &format!("/payments/{ID}"), None, "")
            .status,
        200
    );
    // A retry of the dropped payment is a duplicate, even while dropping.
    assert_eq!(processor.pay(ID, "19.90", AT).status, 422);
    processor.admin("PUT", "/admin/configurations/drop", r#"{"drop":false}"#);
    let other = "00000000-0000-4000-8000-000000000001";
    assert_eq!(processor.pay(other, "19.90", AT).status, 200);
}

#[test]
fn one_connection_serves_several_requests() {
    let processor = Emulator::start("0.05");
    let mut stream = processor.connect();
    let pipelined = [
        request("POST", "/payments", None, &payment(ID, "19.90", AT), true),
        request("GET", &format!("/payments/{ID}"), None, "", true),
        request("GET", "/admin/payments-summary", Some(TOKEN), "", false),
    ]
    .concat();
    stream.write_all(pipelined.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert_eq!(raw.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{raw}");
    assert!(
        raw.ends_with(r#""totalRequests":1,"totalFee":0.9950,"feePerTransaction":0.05}"#),
        "{raw}"
    );
}

#[test]
fn a_bad_fee_stops_the_processor_at_start() {
    let output = rinha()
        .args(["processor", "--port", "0", "--fee", "5%"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--fee"), "{stderr}");
}

/// The only slow test (about 5 s): one answer per 5 s window.
#[test]
fn health_answers_once_per_window_queues_two_and_refuses_the_rest() {
    let processor = Emulator::start("0.05");
    let started = Instant::now();
    let first = processor.call("GET", "/payments/service-health", None, "");
    assert_eq!(first.status, 200);
    assert!(started.elapsed() < Duration::from_secs(2));

    // Three more at once: two wait (for windows 1 and 2), one is refused.
    let (done, results) = mpsc::channel();
    for _ in 0..3 {
        let done = done.clone();
        let mut stream = processor.connect();
        thread::spawn(move || {
            let sent = request("GET", "/payments/service-health", None, "", false);
            stream.write_all(sent.as_bytes()).unwrap();
            if let Ok(response) = read_until_close(&mut stream) {
                let _ = done.send(response);
            }
        });
    }
    let refused = results
        .recv_timeout(Duration::from_secs(2))
        .expect("a quick 429");
    assert_eq!(refused.status, 429);
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry_after), "Retry-After: {retry_after}");

    let queued = results
        .recv_timeout(Duration::from_secs(8))
        .expect("the first waiter");
    let waited = started.elapsed();
    assert_eq!(queued.status, 200);
    assert!(
        waited >= Duration::from_millis(4_500),
        "answered after {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(9_000),
        "answered after {waited:?}"
    );
    // The second waiter is due at the 10 s window: not worth waiting for.
}

/// The official limit on `POST /payments`, with real connections: with a
/// delay of `D`, 800 requests are processed at once (answered after `D`), 500
/// more wait for a place (answered after about `2D`), and one more is
/// refused at once with 429. About 2D = 6 s.
#[test]
fn payments_beyond_800_at_work_and_500_waiting_are_refused_429() {
    const DELAY_MS: u64 = 3_000;
    let processor = Emulator::start("0.05");
    let set = processor.admin(
        "PUT",
        "/admin/configurations/delay",
        &format!(r#"{{"delay":{DELAY_MS}}}"#),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    // Connections and reader threads first, so that the requests themselves
    // go out in a few milliseconds, long before the first delay ends.
    let (done, answers) = mpsc::channel();
    let started = std::sync::Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut streams: Vec<TcpStream> = (0..=1_300).map(|_| processor.connect()).collect();
    for (n, stream) in streams.iter().enumerate().take(1_300) {
        let mut stream = stream.try_clone().unwrap();
        let (done, started) = (done.clone(), started.clone());
        thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let status = read_until_close(&mut stream).map_or(0, |r| r.status);
                let _ = done.send((n, status, started.get().unwrap().elapsed()));
            })
            .unwrap();
    }
    let send = |n: usize, stream: &mut TcpStream| {
        let id = format!("00000000-0000-4000-8000-{n:012}");
        let sent = request("POST", "/payments", None, &payment(&id, "19.90", AT), false);
        stream.write_all(sent.as_bytes()).unwrap();
    };
    started.set(Instant::now()).unwrap();
    for (n, stream) in streams.iter_mut().enumerate().take(1_300) {
        send(n, stream);
    }
    // Every one of the 1 300 is inside the gate (at work or waiting) well
    // before the first delay ends.
    thread::sleep(Duration::from_millis(DELAY_MS / 3));
    let sent_all = started.get().unwrap().elapsed();
    assert!(
        sent_all < Duration::from_millis(DELAY_MS / 2),
        "sending took {sent_all:?}: the machine is too slow for this test"
    );
    let mut last = streams.pop().unwrap();
    send(1_300, &mut last);
    let answer = read_until_close(&mut last).unwrap();
    let refused_at = started.get().unwrap().elapsed();
    assert_eq!(answer.status, 429, "the 1 301st: {answer:?}");
    assert!(
        refused_at < Duration::from_millis(DELAY_MS),
        "refused at {refused_at:?}, without waiting"
    );

    let mut times: Vec<Duration> = (0..1_300)
        .map(|_| {
            let (n, status, at) = answers.recv_timeout(IO_TIMEOUT).unwrap();
            assert_eq!(status, 200, "payment {n}");
            at
        })
        .collect();
    times.sort();
    let delay = Duration::from_millis(DELAY_MS);
    // The 800 at work end after one delay, the 500 waiting after two: the
    // 801st answer comes a good part of a delay after the 800th.
    assert!(times[0] >= delay, "first answer at {:?}", times[0]);
    assert!(
        times[800] - times[799] > delay / 3,
        "800th at {:?}, 801st at {:?}",
        times[799],
        times[800]
    );
    assert!(times[800] >= delay * 2, "801st at {:?}", times[800]);
    let summary = processor.admin("GET", "/admin/payments-summary", "");
    assert!(
        summary.body.contains(r#""totalRequests":1300,"#),
        "{}",
        summary.body
    );
}
