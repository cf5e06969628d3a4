//! The harness the integration tests share: the real stack, raw HTTP, tiny
//! JSON reading.
//!
//! [`Stack::start`] runs the `rinha local` binary that cargo just built
//! (two processor emulators, two `rinha api` instances, HAProxy) on free
//! ports of 127.0.0.1 and waits for its ready line. HAProxy is required:
//! these tests exercise the contest's topology, so a machine without
//! `haproxy` fails them with a message saying so (`rinha local` would quietly
//! fall back to SO_REUSEPORT, which is not what the contest runs). `.ci/run`
//! installs it.
//!
//! Stacks are serialized (one at a time per test binary): several stacks
//! under load on a small machine would turn timing assertions into noise.
//!
//! The HTTP client writes requests by hand over `std::net::TcpStream` and
//! reads one `Content-Length` response; it never retries, because a retried
//! `POST /payments` could be paid twice and the tests count exactly.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How long `rinha local` may take to say it is ready (it gives up at 10 s).
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `rinha local` may take to clean up after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Socket read/write bound: a stack that stops answering fails the test.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The admin token `rinha local` gives both emulators.
pub const TOKEN: &str = "123";

/// One stack at a time per test binary.
static SERIAL: Mutex<()> = Mutex::new(());

/// A free TCP port on 127.0.0.1 (bound, read and released: another process
/// could take it meanwhile, so [`Stack::start`] retries on failure).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Everything `rinha local` and its children wrote to stderr, line by line.
#[derive(Default)]
pub struct Log {
    lines: Mutex<LogLines>,
    grew: Condvar,
}

#[derive(Default)]
struct LogLines {
    lines: Vec<String>,
    closed: bool,
}

impl Log {
    /// Echoes and stores each line until the pipe closes.
    fn collect(self: Arc<Self>, stderr: ChildStderr) {
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Shown by the test harness when the test fails.
                eprintln!("  | {line}");
                self.lines.lock().unwrap().lines.push(line);
                self.grew.notify_all();
            }
            self.lines.lock().unwrap().closed = true;
            self.grew.notify_all();
        });
    }

    /// A copy of every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().lines.clone()
    }

    /// The first line at index `from` or later that satisfies `wanted`, with
    /// its index; `None` if the pipe closes or `timeout` passes first.
    pub fn wait_for(
        &self,
        from: usize,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<(usize, String)> {
        let deadline = Instant::now() + timeout;
        let mut guard = self.lines.lock().unwrap();
        let mut next = from;
        loop {
            if let Some(offset) = guard.lines[next..].iter().position(|l| wanted(l)) {
                let index = next + offset;
                return Some((index, guard.lines[index].clone()));
            }
            next = guard.lines.len();
            let left = deadline.checked_duration_since(Instant::now())?;
            if guard.closed {
                return None;
            }
            guard = self.grew.wait_timeout(guard, left).unwrap().0;
        }
    }
}

/// The whole stack, run by `rinha local`; stopped on drop.
pub struct Stack {
    /// HAProxy's address: the backend under test.
    pub backend: SocketAddr,
    /// The default processor emulator's port.
    pub default_port: u16,
    /// The fallback processor emulator's port.
    pub fallback_port: u16,
    /// stderr of `rinha local` and of every child.
    pub log: Arc<Log>,
    /// `name=pid` pairs from the `pids` line (`api1`, `api2`, `haproxy`, ...).
    pids: Vec<(String, u32)>,
    local: Child,
    _serial: MutexGuard<'static, ()>,
}

impl Stack {
    /// Starts the stack on free ports; retries twice in case a port was
    /// taken between [`free_port`] and the bind.
    pub fn start() -> Stack {
        // A test that panicked while holding the lock already failed.
        let serial = SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Stack::try_start() {
                Ok((local, log, ports, pids)) => {
                    return Stack {
                        backend: SocketAddr::from((Ipv4Addr::LOCALHOST, ports[0])),
                        default_port: ports[1],
                        fallback_port: ports[2],
                        log,
                        pids,
                        local,
                        _serial: serial,
                    };
                }
                Err(failure) => failures.push(failure),
            }
        }
        panic!("rinha local did not start:\n{}", failures.join("\n---\n"));
    }

    #[allow(clippy::type_complexity)]
    fn try_start() -> Result<(Child, Arc<Log>, [u16; 3], Vec<(String, u32)>), String> {
        let ports = [free_port(), free_port(), free_port()];
        let mut local = Command::new(env!("CARGO_BIN_EXE_rinha"))
            .arg("local")
            .args(["--port", &ports[0].to_string()])
            .args(["--default-port", &ports[1].to_string()])
            .args(["--fallback-port", &ports[2].to_string()])
            // The repository's haproxy.cfg, the one the contest runs.
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot run rinha local: {error}"))?;
        let log = Arc::new(Log::default());
        log.clone()
            .collect(local.stderr.take().expect("piped stderr"));
        let ready = log.wait_for(0, READY_TIMEOUT, |l| l.starts_with("rinha local: ready"));
        let pids = log
            .lines()
            .iter()
            .find_map(|l| l.strip_prefix("rinha local: pids "))
            .map(parse_pids)
            .unwrap_or_default();
        if ready.is_none() {
            stop(&mut local, &pids);
            return Err(log.lines().join("\n"));
        }
        if !pids.iter().any(|(name, _)| name == "haproxy") {
            stop(&mut local, &pids);
            panic!(
                "rinha local ran without HAProxy; these tests exercise the contest topology: \
                 apt-get install haproxy (or run .ci/run)\n{}",
                log.lines().join("\n")
            );
        }
        Ok((local, log, ports, pids))
    }

    /// The pid of child `name` (`api1`, `api2`, `haproxy`, ...).
    pub fn pid(&self, name: &str) -> u32 {
        self.pids
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.pids))
            .1
    }

    /// Waits for an instance to announce it drains (at log line `from` or
    /// later); returns its pid and the line's index.
    pub fn wait_for_leader(&self, from: usize, timeout: Duration) -> Option<(u32, usize)> {
        let (index, line) = self.log.wait_for(from, timeout, |l| {
            l.contains("elected to drain") && leader_pid(l).is_some()
        })?;
        Some((leader_pid(&line)?, index))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        stop(&mut self.local, &self.pids);
    }
}

/// SIGTERM to `rinha local` (it stops its children and removes its temp
/// dir); if it has not exited within [`STOP_TIMEOUT`], SIGKILL to it and to
/// every child it reported.
fn stop(local: &mut Child, pids: &[(String, u32)]) {
    signal("TERM", local.id());
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = local.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    eprintln!("rinha local ignored SIGTERM; killing it and its children");
    let _ = local.kill();
    let _ = local.wait();
    for &(_, pid) in pids {
        signal("KILL", pid);
    }
}

/// `kill -<name> <pid>` (std has no way to send a signal but SIGKILL to a
/// child of ours, and the instances are grandchildren).
pub fn signal(name: &str, pid: u32) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("kill -{name} {pid} failed (already gone?)");
    }
}

/// `processor-default=1 api1=2` → `[("processor-default", 1), ("api1", 2)]`.
fn parse_pids(text: &str) -> Vec<(String, u32)> {
    text.split_whitespace()
        .filter_map(|pair| {
            let (name, pid) = pair.split_once('=')?;
            Some((name.to_string(), pid.parse().ok()?))
        })
        .collect()
}

/// The pid in `rinha api (pid 42): elected to drain`.
fn leader_pid(line: &str) -> Option<u32> {
    let rest = &line[line.find("(pid ")? + 5..];
    rest[..rest.find(')')?].parse().ok()
}

/// One HTTP response: its status and body.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The body as text (every body here is JSON, HTML or empty).
    pub body: String,
}

/// A keep-alive HTTP/1.1 connection, opened on first use and reopened after
/// an error or a `Connection: close` (never re-sending anything).
pub struct Client {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    input: Vec<u8>,
}

impl Client {
    /// A client of `addr`; nothing is connected yet.
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            stream: None,
            input: Vec::new(),
        }
    }

    /// A client of `127.0.0.1:port`.
    pub fn local(port: u16) -> Client {
        Client::new(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    /// Sends one request with `Content-Length` (and a JSON content type when
    /// there is a body) plus `headers`, and reads its response.
    pub fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        let mut request = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            request.push_str("Content-Type: application/json\r\n");
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes)
    }

    /// Writes `bytes` as they are and reads one response.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<Response> {
        let outcome = self.exchange(bytes);
        if outcome.as_ref().map_or(true, |(_, close)| *close) {
            self.stream = None;
            self.input.clear();
        }
        outcome.map(|(response, _)| response)
    }

    fn exchange(&mut self, bytes: &[u8]) -> io::Result<(Response, bool)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream.write_all(bytes)?;
        read_response(stream, &mut self.input)
    }
}

/// Reads one response (head, then `Content-Length` bytes of body; no
/// length means no body, which holds for every answer these tests get).
/// Returns it and whether the server will close the connection.
fn read_response(stream: &mut TcpStream, input: &mut Vec<u8>) -> io::Result<(Response, bool)> {
    let head_end = loop {
        if let Some(at) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        fill(stream, input)?;
    };
    let head = String::from_utf8_lossy(&input[..head_end]).into_owned();
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad response head {head:?}"),
        )
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(bad)?;
    let mut length = 0;
    let mut close = head.starts_with("HTTP/1.0");
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(|_| bad())?;
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    while input.len() < head_end + length {
        fill(stream, input)?;
    }
    let body = String::from_utf8_lossy(&input[head_end..head_end + length]).into_owned();
    input.drain(..head_end + length);
    Ok((Response { status, body }, close))
}

fn fill(stream: &mut TcpStream, input: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0; 4096];
    match stream.read(&mut chunk)? {
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        n => {
            input.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}

/// A fresh correlation id: a UUID v4 made of a per-process seed and a
/// counter, so ids never repeat within a run (processors are fresh per run).
pub fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ u64::from(std::process::id()) << 32
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let bits = (u128::from(splitmix(seed)) << 64) | u128::from(count);
    uuid::Builder::from_random_bytes(bits.to_be_bytes())
        .into_uuid()
        .to_string()
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The body of `POST /payments`.
pub fn payment_body(id: &str, amount: &str) -> String {
    format!(r#"{{"correlationId":"{id}","amount":{amount}}}"#)
}

/// Posts one payment of 19.90 with a fresh id; returns the status (an I/O
/// error counts as no answer).
pub fn post_payment(client: &mut Client) -> io::Result<u16> {
    let body = payment_body(&new_id(), "19.90");
    client
        .send("POST", "/payments", &[], body.as_bytes())
        .map(|r| r.status)
}

/// Milliseconds since the epoch, UTC.
pub fn now_ms() -> i64 {
    rinha::domain::time::now_millis()
}

/// `2025-07-10T12:34:56.789Z` for `ms`.
pub fn iso(ms: i64) -> String {
    let mut out = [0; rinha::domain::time::ISO8601_LEN];
    rinha::domain::time::format_iso8601(ms, &mut out);
    String::from_utf8(out.to_vec()).expect("ASCII")
}

/// An inclusive window in milliseconds; `None` means all payments.
pub type Window = Option<(i64, i64)>;

fn window_query(window: Window) -> String {
    match window {
        Some((from, to)) => format!("?from={}&to={}", iso(from), iso(to)),
        None => String::new(),
    }
}

/// What one processor (or one side of a summary) counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// `totalRequests`.
    pub requests: u64,
    /// `totalAmount`, in cents.
    pub cents: u64,
}

/// Both processors' totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The default processor's.
    pub default: Totals,
    /// The fallback processor's.
    pub fallback: Totals,
}

impl Summary {
    /// Requests on both sides.
    pub fn requests(&self) -> u64 {
        self.default.requests + self.fallback.requests
    }
}

/// The text of the JSON number after `"key":` (the first one), e.g. `19.90`.
pub fn json_number<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = json[start..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|n| !n.is_empty())
}

/// `19.9` / `19.90` / `20` → cents, exactly (no floats); at most 2 decimals.
pub fn cents(number: &str) -> Option<u64> {
    let (units, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction = format!("{fraction:0<2}");
    Some(units.parse::<u64>().ok()? * 100 + fraction.parse::<u64>().ok()?)
}

/// `totalRequests` and `totalAmount` of a JSON object.
pub fn totals(json: &str) -> Option<Totals> {
    Some(Totals {
        requests: json_number(json, "totalRequests")?.parse().ok()?,
        cents: cents(json_number(json, "totalAmount")?)?,
    })
}

/// Fails with the response when its status is not `expected`.
fn expect_status(response: io::Result<Response>, expected: u16, what: &str) -> Response {
    match response {
        Ok(r) if r.status == expected => r,
        other => panic!("{what}: expected {expected}, got {other:?}"),
    }
}

/// `GET /payments-summary` from the backend.
pub fn backend_summary(stack: &Stack, window: Window) -> Summary {
    let target = format!("/payments-summary{}", window_query(window));
    let response = Client::new(stack.backend).send("GET", &target, &[], b"");
    let body = expect_status(response, 200, &target).body;
    let at = body
        .find("\"fallback\"")
        .unwrap_or_else(|| panic!("no fallback in {body}"));
    let parse = |part: &str| totals(part).unwrap_or_else(|| panic!("bad summary {body}"));
    Summary {
        default: parse(&body[..at]),
        fallback: parse(&body[at..]),
    }
}

/// `GET /admin/payments-summary` from the emulator on `port`.
pub fn processor_totals(port: u16, window: Window) -> Totals {
    let target = format!("/admin/payments-summary{}", window_query(window));
    let response = Client::local(port).send("GET", &target, &[("X-Rinha-Token", TOKEN)], b"");
    let body = expect_status(response, 200, &target).body;
    totals(&body).unwrap_or_else(|| panic!("bad admin summary {body}"))
}

/// Both processors' admin summaries, as the backend's summary would read.
pub fn processors_summary(stack: &Stack, window: Window) -> Summary {
    Summary {
        default: processor_totals(stack.default_port, window),
        fallback: processor_totals(stack.fallback_port, window),
    }
}

/// `PUT /admin/configurations/<name>` with `{"<name>":<value>}`.
fn configure(port: u16, name: &str, value: &str) {
    let target = format!("/admin/configurations/{name}");
    let body = format!(r#"{{"{name}":{value}}}"#);
    let response =
        Client::local(port).send("PUT", &target, &[("X-Rinha-Token", TOKEN)], body.as_bytes());
    expect_status(response, 200, &target);
}

/// Makes the emulator on `port` answer 500 (and store nothing), or stop.
pub fn set_failure(port: u16, failing: bool) {
    configure(port, "failure", if failing { "true" } else { "false" });
}

/// Makes the emulator on `port` close the connection instead of answering
/// a payment it stored (an emulator-only switch): the sender cannot know
/// whether it was paid.
pub fn set_drop(port: u16, dropping: bool) {
    configure(port, "drop", if dropping { "true" } else { "false" });
}

/// Makes the emulator on `port` sleep `ms` before each payment.
pub fn set_delay(port: u16, ms: u64) {
    configure(port, "delay", &ms.to_string());
}

/// Waits until the backend's summary equals the processors' and neither
/// changes for a few polls, with at least `min_requests` paid in all;
/// fails after `timeout` with the last readings. Returns the settled
/// summary.
pub fn settle(stack: &Stack, min_requests: u64, timeout: Duration) -> Summary {
    settle_with(min_requests, timeout, || {
        (
            backend_summary(stack, None),
            processors_summary(stack, None),
        )
    })
}

/// [`settle`] over any source of (backend, processors) summaries, for
/// harnesses that start the pieces themselves.
pub fn settle_with(
    min_requests: u64,
    timeout: Duration,
    mut read: impl FnMut() -> (Summary, Summary),
) -> Summary {
    const STABLE_POLLS: u32 = 5;
    let deadline = Instant::now() + timeout;
    let mut last = None;
    let mut stable = 0;
    loop {
        let (backend, processors) = read();
        let agreed = backend == processors && processors.requests() >= min_requests;
        stable = match (agreed, last == Some(processors)) {
            (true, true) => stable + 1,
            (true, false) => 1,
            (false, _) => 0,
        };
        last = Some(processors);
        if stable >= STABLE_POLLS {
            return processors;
        }
        assert!(
            Instant::now() < deadline,
            "not settled after {timeout:?} (want ≥ {min_requests} paid):\n\
             backend    {backend:?}\nprocessors {processors:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// What a load run got back.
#[derive(Clone, Copy, Debug, Default)]
pub struct Load {
    /// Payments answered 2xx: the backend promised to pay them.
    pub acknowledged: u64,
    /// Payments answered otherwise, or not at all.
    pub refused: u64,
}

impl Load {
    /// Every payment attempted.
    pub fn attempted(&self) -> u64 {
        self.acknowledged + self.refused
    }
}

/// Posts `per_thread` payments of 19.90 from each of `threads` keep-alive
/// clients, pausing `pause` between two payments of one client; counts what
/// was acknowledged. Stops early once `stop` returns true.
pub fn post_load(
    addr: SocketAddr,
    threads: usize,
    per_thread: usize,
    pause: Duration,
    stop: impl Fn() -> bool + Sync,
) -> Load {
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut client = Client::new(addr);
                    let mut load = Load::default();
                    for _ in 0..per_thread {
                        if stop() {
                            break;
                        }
                        match post_payment(&mut client) {
                            Ok(status) if (200..300).contains(&status) => load.acknowledged += 1,
                            _ => load.refused += 1,
                        }
                        if !pause.is_zero() {
                            thread::sleep(pause);
                        }
                    }
                    load
                })
            })
            .collect();
        workers.into_iter().fold(Load::default(), |sum, worker| {
            let load = worker.join().expect("load thread");
            Load {
                acknowledged: sum.acknowledged + load.acknowledged,
                refused: sum.refused + load.refused,
            }
        })
    })
}
