//! A stack assembled piece by piece, for the tests that break pieces:
//! two processor emulators and any number of `rinha api` instances on one
//! shared file, each a child of the test, talking TCP on 127.0.0.1.
//!
//! `rinha local` (see `common`) runs the contest topology but owns its
//! shared file and its children; the fault tests need to kill, freeze and
//! restart single instances on the *same* file, restart a processor on the
//! same port, and pass instance flags (`--ring-slots`,
//! `--processor-timeout-ms`, `--max-hold-ms`). There is no HAProxy here:
//! clients reach the instances directly, so a frozen or killed instance is
//! taken out of the load's targets by the test itself.
//!
//! Uses `common` for HTTP and JSON; every test file that has `mod cluster;`
//! has `mod common;` too. Clusters are serialized per test binary, like
//! `common::Stack`.

#![allow(dead_code)] // each test file uses its own subset

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{self, Client, Summary, TOKEN, Window};

/// How long a child may take to print that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// One cluster at a time per test binary.
static SERIAL: Mutex<()> = Mutex::new(());

/// A child's stderr, kept line by line (and echoed, so a failing test shows it).
#[derive(Default)]
pub struct Log {
    lines: Mutex<(Vec<String>, bool)>,
    grew: Condvar,
}

impl Log {
    fn collect(name: String, child: &mut Child) -> Arc<Log> {
        let log = Arc::new(Log::default());
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("  {name} | {line}");
                sink.lines.lock().unwrap().0.push(line);
                sink.grew.notify_all();
            }
            sink.lines.lock().unwrap().1 = true;
            sink.grew.notify_all();
        });
        log
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().0.clone()
    }

    /// The first line satisfying `wanted`, waiting up to `timeout`; `None`
    /// if the pipe closes or time runs out first.
    pub fn wait_for(&self, timeout: Duration, wanted: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut guard = self.lines.lock().unwrap();
        loop {
            if let Some(line) = guard.0.iter().find(|l| wanted(l)) {
                return Some(line.clone());
            }
            if guard.1 {
                return None;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            guard = self.grew.wait_timeout(guard, left).unwrap().0;
        }
    }
}

/// A child process of the test, killed on drop.
pub struct Proc {
    child: Child,
    /// Its stderr.
    pub log: Arc<Log>,
    /// Its pid.
    pub pid: u32,
}

impl Proc {
    /// Starts `command` with its stderr collected under `name`.
    pub fn spawn(name: &str, command: &mut Command) -> Proc {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let log = Log::collect(format!("{name}[{}]", child.id()), &mut child);
        Proc {
            pid: child.id(),
            child,
            log,
        }
    }

    /// Whether the process is still running (a stopped one is).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `kill -<name>`: `STOP`, `CONT`, `TERM`, ...
    pub fn signal(&self, name: &str) {
        common::signal(name, self.pid);
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit on its own; its exit code, or `None`
    /// if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Resident memory in KiB, from `/proc/<pid>/status`.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .unwrap_or_else(|e| panic!("pid {}: {e}", self.pid));
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A stopped process must be resumed to die of SIGTERM; SIGKILL works
        // either way, and these are test children: no grace needed.
        self.kill();
    }
}

/// `rinha processor` on 127.0.0.1.
pub struct Processor {
    /// Its port (fixed across restarts).
    pub port: u16,
    fee: &'static str,
    /// The running emulator; `None` while stopped.
    pub proc: Option<Proc>,
}

impl Processor {
    fn start(fee: &'static str, port: u16) -> Processor {
        let mut processor = Processor {
            port,
            fee,
            proc: None,
        };
        processor.restart();
        processor
    }

    /// Starts the emulator (again) on its port; a new emulator remembers
    /// no payment.
    pub fn restart(&mut self) {
        assert!(self.proc.is_none(), "already running");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let mut proc = Proc::spawn(
                "processor",
                Command::new(env!("CARGO_BIN_EXE_rinha")).args([
                    "processor",
                    "--port",
                    &self.port.to_string(),
                    "--fee",
                    self.fee,
                    "--token",
                    TOKEN,
                ]),
            );
            let line = proc.log.wait_for(START_TIMEOUT, |l| {
                l.starts_with("rinha processor listening on")
            });
            if let Some(line) = line {
                let address: SocketAddr = line.split(' ').nth(4).unwrap().parse().unwrap();
                self.port = address.port();
                self.proc = Some(proc);
                return;
            }
            // The port may linger for a moment after a kill: try again.
            proc.kill();
            assert!(Instant::now() < deadline, "processor did not start");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: the port refuses connections until [`Processor::restart`].
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.kill();
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `PUT /admin/configurations/<name>` with `{"<name>":<value>}`.
    pub fn configure(&self, name: &str, value: &str) {
        let target = format!("/admin/configurations/{name}");
        let body = format!(r#"{{"{name}":{value}}}"#);
        let response = Client::local(self.port).send(
            "PUT",
            &target,
            &[("X-Rinha-Token", TOKEN)],
            body.as_bytes(),
        );
        assert!(
            matches!(&response, Ok(r) if r.status == 200),
            "{target}: {response:?}"
        );
    }

    /// Sleep `ms` before each payment.
    pub fn delay(&self, ms: u64) {
        self.configure("delay", &ms.to_string());
    }

    /// Answer 500 and store nothing.
    pub fn fail(&self, failing: bool) {
        self.configure("failure", if failing { "true" } else { "false" });
    }

    /// Store, then close the connection without answering (emulator only).
    pub fn drop_answers(&self, dropping: bool) {
        self.configure("drop", if dropping { "true" } else { "false" });
    }
}

/// One `rinha api` instance.
pub struct Api {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The process.
    pub proc: Proc,
}

impl Api {
    /// Whether it has said it drains.
    pub fn is_leader(&self) -> bool {
        self.proc
            .log
            .lines()
            .iter()
            .any(|l| l.contains("elected to drain"))
    }

    /// Waits up to `timeout` for it to say it drains.
    pub fn wait_leader(&self, timeout: Duration) -> bool {
        self.proc
            .log
            .wait_for(timeout, |l| l.contains("elected to drain"))
            .is_some()
    }
}

/// Processors, instances, the shared file and its directory.
pub struct Cluster {
    /// The directory holding the shared file; removed on drop.
    pub dir: PathBuf,
    /// The shared file every instance maps.
    pub shared_file: PathBuf,
    /// The cheap processor (fee 0.05).
    pub default: Processor,
    /// The dear processor (fee 0.15).
    pub fallback: Processor,
    /// Every instance started, dead or alive, in start order.
    pub apis: Vec<Api>,
    api_args: Vec<String>,
    _serial: MutexGuard<'static, ()>,
}

impl Cluster {
    /// Two processors and `apis` instances started with `api_args` (on top
    /// of the listen address, shared file and processor URLs).
    pub fn start(name: &str, apis: usize, api_args: &[&str]) -> Cluster {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let dir = std::env::temp_dir().join(format!("rinha-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = Cluster {
            shared_file: dir.join("rinha.shm"),
            dir,
            default: Processor::start("0.05", 0),
            fallback: Processor::start("0.15", 0),
            apis: Vec::new(),
            api_args: api_args.iter().map(|s| s.to_string()).collect(),
            _serial: serial,
        };
        for _ in 0..apis {
            cluster.add_api();
        }
        cluster
    }

    /// Starts one more instance on the same file; returns its index.
    pub fn add_api(&mut self) -> usize {
        self.add_api_with(&[], &[])
    }

    /// [`Cluster::add_api`] with more flags and environment variables.
    pub fn add_api_with(&mut self, args: &[&str], env: &[(&str, &str)]) -> usize {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rinha"));
        command
            .args(["api", "--listen", "127.0.0.1:0", "--shared-file"])
            .arg(&self.shared_file)
            .args(["--default-url", &self.default.url()])
            .args(["--fallback-url", &self.fallback.url()])
            .args(&self.api_args)
            .args(args)
            .envs(env.iter().copied());
        let mut proc = Proc::spawn("api", &mut command);
        let line = proc
            .log
            .wait_for(START_TIMEOUT, |l| l.starts_with("rinha api listening on"));
        let Some(line) = line else {
            proc.kill();
            panic!("rinha api did not start:\n{}", proc.log.lines().join("\n"));
        };
        let addr = line.split(' ').nth(4).unwrap().parse().unwrap();
        self.apis.push(Api { addr, proc });
        self.apis.len() - 1
    }

    /// Indices of the instances still running.
    pub fn alive(&mut self) -> Vec<usize> {
        (0..self.apis.len())
            .filter(|&i| self.apis[i].proc.alive())
            .collect()
    }

    /// Addresses of the running instances.
    pub fn addrs(&mut self) -> Vec<SocketAddr> {
        self.alive()
            .into_iter()
            .map(|i| self.apis[i].addr)
            .collect()
    }

    /// The running instance that drains, waiting up to `timeout` for one.
    pub fn leader(&mut self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.alive().into_iter().find(|&i| self.apis[i].is_leader()) {
                return i;
            }
            assert!(Instant::now() < deadline, "no leader after {timeout:?}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// `GET /payments-summary` from the first running instance.
    pub fn backend_summary(&mut self, window: Window) -> Summary {
        let addr = *self.addrs().first().expect("a running instance");
        backend_summary(addr, window)
    }

    /// Both processors' admin summaries.
    pub fn processors_summary(&self, window: Window) -> Summary {
        Summary {
            default: common::processor_totals(self.default.port, window),
            fallback: common::processor_totals(self.fallback.port, window),
        }
    }

    /// Waits until the backend's summary equals the processors' and stays
    /// so for a few polls, with at least `min` payments; fails after
    /// `timeout`. Returns the settled summary.
    pub fn settle(&mut self, min: u64, timeout: Duration) -> Summary {
        common::settle_with(min, timeout, || {
            (self.backend_summary(None), self.processors_summary(None))
        })
    }

    /// Where each id was paid, asking both processors (`GET /payments/{id}`).
    pub fn where_paid(&self, ids: &[String]) -> Vec<Paid> {
        let ports = [self.default.port, self.fallback.port];
        let chunk = ids.len().div_ceil(4).max(1);
        thread::scope(|scope| {
            let workers: Vec<_> = ids
                .chunks(chunk)
                .map(|ids| {
                    scope.spawn(move || {
                        let mut clients = ports.map(Client::local);
                        ids.iter()
                            .map(|id| {
                                let mut at = [false; 2];
                                for (side, client) in clients.iter_mut().enumerate() {
                                    let target = format!("/payments/{id}");
                                    let response = client.send("GET", &target, &[], b"");
                                    at[side] = match response {
                                        Ok(r) if r.status == 200 => true,
                                        Ok(r) if r.status == 404 => false,
                                        other => panic!("GET {target}: {other:?}"),
                                    };
                                }
                                Paid {
                                    default: at[0],
                                    fallback: at[1],
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("lookup thread"))
                .collect()
        })
    }

    /// Checks the promise for every payment a load posted: acknowledged ⇒
    /// paid at exactly one processor; refused with a status ⇒ paid nowhere;
    /// no answer ⇒ at most one. Returns how many were paid.
    pub fn verify(&self, tally: &Tally) -> u64 {
        let mut paid = 0;
        type Promise = fn(Paid) -> bool;
        let groups: [(&str, &[String], Promise); 3] = [
            ("acknowledged", &tally.acked, |p| p.count() == 1),
            ("refused", &tally.refused, |p| p.count() == 0),
            ("unanswered", &tally.unknown, |p| p.count() <= 1),
        ];
        for (what, ids, ok) in groups {
            for (id, paid_at) in ids.iter().zip(self.where_paid(ids)) {
                assert!(ok(paid_at), "{what} payment {id} paid at {paid_at:?}");
                paid += paid_at.count();
            }
        }
        paid
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.apis.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where one correlation id was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paid {
    /// By the default processor.
    pub default: bool,
    /// By the fallback processor.
    pub fallback: bool,
}

impl Paid {
    /// At how many processors.
    pub fn count(self) -> u64 {
        u64::from(self.default) + u64::from(self.fallback)
    }
}

/// `GET /payments-summary` from the instance at `addr`.
pub fn backend_summary(addr: SocketAddr, window: Window) -> Summary {
    let query = match window {
        Some((from, to)) => format!("?from={}&to={}", common::iso(from), common::iso(to)),
        None => String::new(),
    };
    let target = format!("/payments-summary{query}");
    let body = match Client::new(addr).send("GET", &target, &[], b"") {
        Ok(r) if r.status == 200 => r.body,
        other => panic!("{target} from {addr}: {other:?}"),
    };
    let at = body.find("\"fallback\"").expect("fallback in summary");
    let parse = |part: &str| common::totals(part).unwrap_or_else(|| panic!("bad summary {body}"));
    Summary {
        default: parse(&body[..at]),
        fallback: parse(&body[at..]),
    }
}

/// What a load was told, payment by payment.
#[derive(Debug, Default)]
pub struct Tally {
    /// Correlation ids answered 2xx: promised.
    pub acked: Vec<String>,
    /// Ids answered with another status: refused, never to be paid.
    pub refused: Vec<String>,
    /// Ids that got no answer (connection refused, reset, timed out).
    pub unknown: Vec<String>,
    /// How many answers of each status.
    pub statuses: BTreeMap<u16, u64>,
}

impl Tally {
    /// Adds another load's account to this one.
    pub fn merge(&mut self, other: Tally) {
        self.acked.extend(other.acked);
        self.refused.extend(other.refused);
        self.unknown.extend(other.unknown);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
    }

    /// Every payment attempted.
    pub fn attempted(&self) -> u64 {
        (self.acked.len() + self.refused.len() + self.unknown.len()) as u64
    }

    /// Acknowledged payments.
    pub fn acked(&self) -> u64 {
        self.acked.len() as u64
    }

    /// A one-line account.
    pub fn brief(&self) -> String {
        format!(
            "{} acknowledged, {} refused, {} unanswered, statuses {:?}",
            self.acked.len(),
            self.refused.len(),
            self.unknown.len(),
            self.statuses
        )
    }
}

/// Where a load sends payments: the test changes the list as it kills,
/// freezes and restarts instances.
pub type Targets = Mutex<Vec<SocketAddr>>;

/// Posts payments of 19.90 with fresh ids from `threads` keep-alive
/// clients, round-robin over `targets`, until `stop` is set. With `rate`,
/// the threads together aim at that many payments per second; without, each
/// thread sleeps `pause` between payments.
pub fn load(
    targets: &Targets,
    threads: usize,
    pause: Duration,
    rate: Option<f64>,
    stop: &AtomicBool,
) -> Tally {
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|index| {
                scope.spawn(move || {
                    let mut clients: BTreeMap<SocketAddr, Client> = BTreeMap::new();
                    let mut tally = Tally::default();
                    let started = Instant::now();
                    let interval = rate.map(|r| Duration::from_secs_f64(threads as f64 / r));
                    let mut turn = index;
                    let mut sent = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        let Some(addr) = ({
                            let targets = targets.lock().unwrap();
                            (!targets.is_empty()).then(|| targets[turn % targets.len()])
                        }) else {
                            thread::sleep(Duration::from_millis(1));
                            continue;
                        };
                        turn += 1;
                        let id = common::new_id();
                        let body = common::payment_body(&id, "19.90");
                        let client = clients.entry(addr).or_insert_with(|| Client::new(addr));
                        match client.send("POST", "/payments", &[], body.as_bytes()) {
                            Ok(response) => {
                                *tally.statuses.entry(response.status).or_default() += 1;
                                if (200..300).contains(&response.status) {
                                    tally.acked.push(id);
                                } else {
                                    tally.refused.push(id);
                                }
                            }
                            Err(_) => tally.unknown.push(id),
                        }
                        sent += 1;
                        match interval {
                            Some(every) => {
                                let due = started + every * sent;
                                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                    thread::sleep(wait);
                                }
                            }
                            None if !pause.is_zero() => thread::sleep(pause),
                            None => {}
                        }
                    }
                    tally
                })
            })
            .collect();
        let mut total = Tally::default();
        for worker in workers {
            total.merge(worker.join().expect("load thread"));
        }
        total
    })
}

/// Runs [`load`] on a thread of its own until the returned handle is stopped.
pub struct Background {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<Tally>>,
}

impl Background {
    /// Starts a load over `targets`.
    pub fn start(targets: Arc<Targets>, threads: usize, pause: Duration) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::spawn(move || load(&targets, threads, pause, None, &flag));
        Background {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops the load and returns what it was told.
    pub fn finish(mut self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .expect("finished once")
            .join()
            .expect("load thread")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// A deterministic xorshift generator for random moments; the seed comes
/// from `RINHA_SOAK_SEED` when set, so a failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `RINHA_SOAK_SEED`, else from the clock (and printed).
    pub fn from_env() -> Rng {
        let seed = std::env::var("RINHA_SOAK_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| common::now_ms() as u64);
        eprintln!("random moments from RINHA_SOAK_SEED={seed}");
        Rng(seed | 1)
    }

    /// A number in `low..high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        low + x.wrapping_mul(0x2545_F491_4F6C_DD1D) % (high - low).max(1)
    }
}

/// The contest's consistency check, run again and again on a thread of
/// its own while the test breaks things: every `every`, the window
/// `[now − 15 s, now − 2 s]` is asked of a running instance and of both
/// processors at the same time, and any difference in the number of
/// payments is an inconsistency.
pub struct WindowChecks {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<(u64, Vec<String>)>>,
}

impl WindowChecks {
    /// Starts checking the first instance in `targets` against the
    /// processors on these ports.
    pub fn start(targets: Arc<Targets>, ports: [u16; 2], every: Duration) -> WindowChecks {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::spawn(move || {
            let (mut checks, mut inconsistencies) = (0, Vec::new());
            while !flag.load(Ordering::Relaxed) {
                let now = common::now_ms();
                let window = Some((now - 15_000, now - 2_000));
                let Some(addr) = targets.lock().unwrap().first().copied() else {
                    thread::sleep(every);
                    continue;
                };
                let (backend, processors) = thread::scope(|scope| {
                    let backend = scope.spawn(move || try_backend_summary(addr, window));
                    let [default, fallback] = ports
                        .map(|port| scope.spawn(move || common::processor_totals(port, window)));
                    let processors = Summary {
                        default: default.join().expect("default summary"),
                        fallback: fallback.join().expect("fallback summary"),
                    };
                    (backend.join().expect("backend summary"), processors)
                });
                // An instance killed under the question answers nothing:
                // no check, not an inconsistency.
                if let Some(backend) = backend {
                    checks += 1;
                    let delta = backend
                        .default
                        .requests
                        .abs_diff(processors.default.requests)
                        + backend
                            .fallback
                            .requests
                            .abs_diff(processors.fallback.requests);
                    if delta > 0 {
                        inconsistencies.push(format!(
                            "{delta} at {now}: backend {backend:?}, processors {processors:?}"
                        ));
                    }
                }
                thread::sleep(every);
            }
            (checks, inconsistencies)
        });
        WindowChecks {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops checking: how many checks ran, and each inconsistency found.
    pub fn finish(mut self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .expect("finished once")
            .join()
            .expect("window checks")
    }
}

impl Drop for WindowChecks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// [`backend_summary`], or `None` when the instance does not answer.
fn try_backend_summary(addr: SocketAddr, window: Window) -> Option<Summary> {
    let (from, to) = window?;
    let target = format!(
        "/payments-summary?from={}&to={}",
        common::iso(from),
        common::iso(to)
    );
    let body = match Client::new(addr).send("GET", &target, &[], b"") {
        Ok(r) if r.status == 200 => r.body,
        _ => return None,
    };
    let at = body.find("\"fallback\"")?;
    Some(Summary {
        default: common::totals(&body[..at])?,
        fallback: common::totals(&body[at..])?,
    })
}
