//! `rinha api` as its clients see it: the real binary, raw bytes on a socket.
//!
//! Every test starts its own instance with `--no-drain`, so nothing is ever
//! processed and every summary must stay exactly at zero, and with
//! `--listen 127.0.0.1:0`: the instance prints the port it was given.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

mod support;

use support::http::{self, Response, get, payment_body, request};
use support::processes::{Proc, rinha, scratch_dir};
use support::rng::new_id;

const ZERO_SUMMARY: &str = r#"{"default":{"totalRequests":0,"totalAmount":0.00},"fallback":{"totalRequests":0,"totalAmount":0.00}}"#;
const TIMEOUT: Duration = Duration::from_secs(10);

/// A running `rinha api` in its own temporary directory; killed and cleaned
/// up on drop if a test did not stop it.
struct Api {
    proc: Proc,
    dir: PathBuf,
    /// `127.0.0.1:port`, or `unix:/path` as printed.
    listening_on: String,
}

impl Api {
    fn start(name: &str, unix: bool) -> Api {
        let dir = scratch_dir(&format!("api-server-{name}"));
        let listen = if unix {
            format!("unix:{}", dir.join("api.sock").display())
        } else {
            "127.0.0.1:0".to_string()
        };
        let mut proc = Proc::spawn(
            "api",
            rinha()
                .arg("api")
                .arg("--no-drain")
                .arg("--shared-file")
                .arg(dir.join("shared.bin"))
                .args(["--ring-slots", "1024", "--ledger-entries", "1024"])
                .args(["--listen", &listen]),
        );
        let line = proc.ready_line("rinha api listening on ", TIMEOUT);
        let rest = &line["rinha api listening on ".len()..];
        let listening_on = rest.split(" shared file ").next().unwrap().to_string();
        Api {
            proc,
            dir,
            listening_on,
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.listening_on).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// SIGTERM, then the exit status.
    fn terminate(&mut self) -> ExitStatus {
        self.proc.signal("TERM");
        self.proc
            .wait_exit(TIMEOUT)
            .expect("rinha api ignored SIGTERM")
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.proc.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads exactly `count` responses (framed by Content-Length) from `stream`.
fn read_responses(stream: &mut impl Read, count: usize) -> Vec<Response> {
    let (responses, ended) = http::read_responses(stream, count);
    assert!(
        !ended,
        "closed after {} responses: {responses:?}",
        responses.len()
    );
    responses
}

fn assert_closed(stream: &mut impl Read) {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("closed in time");
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

/// `POST /payments` of 19.90 with a fresh correlation id.
fn payment() -> String {
    post("/payments", &payment_body(&new_id(), "19.90"))
}

/// A JSON `POST` with a correct `Content-Length`.
fn post(path: &str, body: &str) -> String {
    request("POST", path, "Content-Type: application/json\r\n", body)
}

#[test]
fn each_request_gets_its_status_on_one_kept_connection() {
    let api = Api::start("table", false);
    let mut stream = api.connect();
    let cases: &[(String, u16, Option<&str>)] = &[
        (payment(), 200, Some("")),
        (post("/payments", r#"{"correlationId":"#), 400, None),
        (
            post("/payments", r#"{"correlationId":"x","amount":1}"#),
            400,
            None,
        ),
        (
            post(
                "/payments",
                r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":0}"#,
            ),
            400,
            None,
        ),
        (get("/payments-summary"), 200, Some(ZERO_SUMMARY)),
        (
            get("/payments-summary?from=2000-01-01T00:00:00.000Z&to=2100-01-01T00:00:00.000Z"),
            200,
            Some(ZERO_SUMMARY),
        ),
        (get("/payments-summary?from=soon"), 400, None),
        (get("/payments"), 405, None),
        (get("/"), 404, None),
        (
            post("/purge-payments", ""),
            200,
            Some(r#"{"message":"All payments purged."}"#),
        ),
        (payment(), 200, Some("")),
        (payment(), 200, Some("")),
        // Nothing drains with --no-drain: accepted is not processed.
        (get("/payments-summary"), 200, Some(ZERO_SUMMARY)),
    ];
    for (request, status, body) in cases {
        stream.write_all(request.as_bytes()).unwrap();
        let response = read_responses(&mut stream, 1).pop().unwrap();
        assert_eq!(response.status, *status, "{request:?}: {response:?}");
        assert!(!response.close, "{request:?}");
        if let Some(body) = body {
            assert_eq!(response.body, *body, "{request:?}");
        } else {
            assert!(response.body.starts_with(r#"{"error":""#), "{response:?}");
        }
    }
}

#[test]
fn a_request_the_server_cannot_frame_is_answered_then_closed() {
    let api = Api::start("malformed", false);
    let huge_header = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
    let cases: &[(&str, u16)] = &[
        ("GARBAGE\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (
            "POST /payments HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            501,
        ),
        (
            "POST /payments HTTP/1.1\r\nContent-Length: 100000\r\n\r\n",
            413,
        ),
        (&huge_header, 431),
        (
            "GET /payments-summary HTTP/1.1\r\nConnection: close\r\n\r\n",
            200,
        ),
        ("GET /payments-summary HTTP/1.0\r\n\r\n", 200),
    ];
    for &(request, status) in cases {
        let mut stream = api.connect();
        stream.write_all(request.as_bytes()).unwrap();
        let response = read_responses(&mut stream, 1).pop().unwrap();
        assert_eq!(response.status, status, "{request:?}");
        assert!(response.close, "{request:?}");
        assert_closed(&mut stream);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let api = Api::start("pipelined", false);
    let mut stream = api.connect();
    let requests = [
        (payment(), 200),
        (get("/nope"), 404),
        (get("/payments-summary"), 200),
        (post("/payments", "{}"), 400),
        (payment(), 200),
        (get("/purge-payments"), 405),
    ];
    let all: String = requests
        .iter()
        .map(|(request, _)| request.as_str())
        .collect();
    // Twice: all in one write, then with the last request cut in two.
    stream.write_all(all.as_bytes()).unwrap();
    let statuses: Vec<u16> = read_responses(&mut stream, requests.len())
        .iter()
        .map(|response| response.status)
        .collect();
    let expected: Vec<u16> = requests.iter().map(|&(_, status)| status).collect();
    assert_eq!(statuses, expected);

    let (first, second) = all.split_at(all.len() - 7);
    stream.write_all(first.as_bytes()).unwrap();
    let early = read_responses(&mut stream, requests.len() - 1);
    assert_eq!(early.len(), requests.len() - 1);
    stream.write_all(second.as_bytes()).unwrap();
    assert_eq!(read_responses(&mut stream, 1)[0].status, 405);
}

#[test]
fn a_request_sent_byte_by_byte_is_answered_once_complete() {
    let api = Api::start("bytes", false);
    let mut stream = api.connect();
    for request in [payment(), get("/payments-summary")] {
        for byte in request.as_bytes() {
            stream.write_all(&[*byte]).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
        assert_eq!(read_responses(&mut stream, 1)[0].status, 200);
    }
}

#[test]
fn a_slow_client_does_not_hold_up_another() {
    let api = Api::start("slow", false);
    let request = payment();
    let (first, rest) = request.split_at(request.len() / 2);

    let mut slow = api.connect();
    slow.write_all(first.as_bytes()).unwrap();
    let mut fast = api.connect();
    fast.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    for _ in 0..3 {
        fast.write_all(get("/payments-summary").as_bytes()).unwrap();
        assert_eq!(read_responses(&mut fast, 1)[0].body, ZERO_SUMMARY);
    }
    slow.write_all(rest.as_bytes()).unwrap();
    assert_eq!(read_responses(&mut slow, 1)[0].status, 200);
}

#[test]
fn a_client_that_does_not_read_cannot_stall_the_server() {
    let api = Api::start("backpressure", false);
    const COUNT: usize = 20_000;
    let mut greedy = api.connect();
    let mut writer = greedy.try_clone().unwrap();
    // Far more responses than socket buffers hold: the server must stop
    // answering this client while still serving others.
    let sending = std::thread::spawn(move || {
        let request = get("/payments-summary");
        for _ in 0..COUNT {
            writer.write_all(request.as_bytes()).unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut other = api.connect();
    other
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    other.write_all(payment().as_bytes()).unwrap();
    assert_eq!(read_responses(&mut other, 1)[0].status, 200);

    let responses = read_responses(&mut greedy, COUNT);
    assert!(responses.iter().all(|r| r.body == ZERO_SUMMARY));
    sending.join().unwrap();
}

#[test]
fn a_half_closed_client_still_gets_its_answers() {
    let api = Api::start("half-close", false);
    let mut stream = api.connect();
    let two = format!("{}{}", payment(), get("/payments-summary"));
    stream.write_all(two.as_bytes()).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let statuses: Vec<u16> = read_responses(&mut stream, 2)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [200, 200]);
    assert_closed(&mut stream);
}

#[test]
fn sigterm_stops_the_server_and_removes_its_unix_socket() {
    let mut api = Api::start("unix", true);
    let path = PathBuf::from(api.listening_on.strip_prefix("unix:").unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o666, "HAProxy may run as another user");

    let mut stream = UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.write_all(payment().as_bytes()).unwrap();
    assert_eq!(read_responses(&mut stream, 1)[0].status, 200);

    let status = api.terminate();
    assert!(status.success(), "{status:?}");
    assert!(!path.exists());
    // An open connection does not keep a stopped server alive.
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn sigterm_stops_a_tcp_server_with_an_idle_connection() {
    let mut api = Api::start("tcp-stop", false);
    let _idle = api.connect();
    let status = api.terminate();
    assert!(status.success(), "{status:?}");
    let refused = TcpStream::connect(&api.listening_on).map(|_| ());
    assert_eq!(
        refused.unwrap_err().kind(),
        io::ErrorKind::ConnectionRefused
    );
}
