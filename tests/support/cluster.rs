//! A stack assembled piece by piece, for the tests that break pieces:
//! two processor emulators and any number of `rinha api` instances on one
//! shared file, each a child of the test, talking TCP on 127.0.0.1.
//!
//! `rinha local` ([`super::stack`]) runs the contest topology but owns its
//! shared file and its children; the fault tests need to kill, freeze and
//! restart single instances on the *same* file, restart a processor on the
//! same port, and pass instance flags (`--ring-slots`,
//! `--processor-timeout-ms`, `--max-hold-ms`). There is no HAProxy here:
//! clients reach the instances directly, so a frozen or killed instance is
//! taken out of the load's targets by the test itself.
//!
//! Clusters are serialized per test binary, like stacks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::emulator::{self, TOKEN};
use super::http::Client;
use super::load::Tally;
use super::processes::{Proc, rinha, scratch_dir};
use super::summary::{self, Summary, Window};

/// How long a child may take to print that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// One cluster at a time per test binary.
static SERIAL: Mutex<()> = Mutex::new(());

/// `rinha processor` on 127.0.0.1.
pub struct Processor {
    /// Its port (fixed across restarts).
    pub port: u16,
    fee: &'static str,
    /// The running emulator; `None` while stopped.
    pub proc: Option<Proc>,
}

impl Processor {
    /// Starts an emulator charging `fee` on `port` (0: any free port).
    pub fn start(fee: &'static str, port: u16) -> Processor {
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
                rinha().args([
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
        emulator::configure(self.port, name, value);
    }

    /// Sleep `ms` before each payment.
    pub fn delay(&self, ms: u64) {
        emulator::set_delay(self.port, ms);
    }

    /// Answer 500 and store nothing.
    pub fn fail(&self, failing: bool) {
        emulator::set_failure(self.port, failing);
    }

    /// Store, then close the connection without answering (emulator only).
    pub fn drop_answers(&self, dropping: bool) {
        emulator::set_drop(self.port, dropping);
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
        let dir = scratch_dir(name);
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
        let mut command = rinha();
        command
            .args(["api", "--listen", "127.0.0.1:0", "--shared-file"])
            .arg(&self.shared_file)
            .args(["--default-url", &self.default.url()])
            .args(["--fallback-url", &self.fallback.url()])
            .args(&self.api_args)
            .args(args)
            .envs(env.iter().copied());
        let mut proc = Proc::spawn("api", &mut command);
        let line = proc.ready_line("rinha api listening on", START_TIMEOUT);
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
        summary::backend_summary(addr, window)
    }

    /// Both processors' admin summaries.
    pub fn processors_summary(&self, window: Window) -> Summary {
        summary::processors_summary([self.default.port, self.fallback.port], window)
    }

    /// Waits until the backend's summary equals the processors' and stays
    /// so for a few polls, with at least `min` payments; fails after
    /// `timeout`. Returns the settled summary.
    pub fn settle(&mut self, min: u64, timeout: Duration) -> Summary {
        summary::settle_with(min, timeout, || {
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
