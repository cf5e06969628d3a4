//! The contest's topology, run by `rinha local`: two processor emulators,
//! two `rinha api` instances on one shared file, HAProxy in front.
//!
//! [`Stack::start`] runs the binary cargo just built on free ports of
//! 127.0.0.1 and waits for its ready line. HAProxy is required: these tests
//! exercise the contest's topology, so a machine without `haproxy` fails
//! them with a message saying so (`rinha local` would quietly fall back to
//! SO_REUSEPORT, which is not what the contest runs). `.ci/run` installs it.
//!
//! Stacks are serialized (one at a time per test binary): several stacks
//! under load on a small machine would turn timing assertions into noise.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::processes::{Log, free_ports, rinha, signal, stop};
use super::summary::{self, Summary, Window};

/// How long `rinha local` may take to say it is ready (it gives up at 10 s).
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `rinha local` may take to clean up after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// One stack at a time per test binary.
static SERIAL: Mutex<()> = Mutex::new(());

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

/// What a started `rinha local` gave: the process, its stderr, its ports
/// (backend, default, fallback) and its children's pids.
type Started = (Child, Arc<Log>, [u16; 3], Vec<(String, u32)>);

impl Stack {
    /// Starts the stack on free ports; retries twice in case a port was
    /// taken between choosing it and the bind.
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

    fn try_start() -> Result<Started, String> {
        let ports = free_ports::<3>();
        let mut local = rinha()
            .arg("local")
            .args(["--port", &ports[0].to_string()])
            .args(["--default-port", &ports[1].to_string()])
            .args(["--fallback-port", &ports[2].to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot run rinha local: {error}"))?;
        let stderr = local.stderr.take().expect("piped stderr");
        let log = Log::collect("local".to_string(), stderr);
        let ready = log.wait_for(READY_TIMEOUT, |l| l.starts_with("rinha local: ready"));
        let pids = log
            .lines()
            .iter()
            .find_map(|l| l.strip_prefix("rinha local: pids "))
            .map(parse_pids)
            .unwrap_or_default();
        if ready.is_none() {
            stop_local(&mut local, &pids);
            return Err(log.lines().join("\n"));
        }
        if !pids.iter().any(|(name, _)| name == "haproxy") {
            stop_local(&mut local, &pids);
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
        let (index, line) = self.log.wait_for_from(from, timeout, |l| {
            l.contains("elected to drain") && leader_pid(l).is_some()
        })?;
        Some((leader_pid(&line)?, index))
    }

    /// `GET /payments-summary` through HAProxy.
    pub fn backend_summary(&self, window: Window) -> Summary {
        summary::backend_summary(self.backend, window)
    }

    /// Both processors' admin summaries.
    pub fn processors_summary(&self, window: Window) -> Summary {
        summary::processors_summary([self.default_port, self.fallback_port], window)
    }

    /// Waits until the backend's summary equals the processors' and stays
    /// so for a few polls, with at least `min_requests` paid; fails after
    /// `timeout`. Returns the settled summary.
    pub fn settle(&self, min_requests: u64, timeout: Duration) -> Summary {
        summary::settle_with(min_requests, timeout, || {
            (self.backend_summary(None), self.processors_summary(None))
        })
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        stop_local(&mut self.local, &self.pids);
    }
}

/// SIGTERM to `rinha local` (it stops its children and removes its temp
/// dir); if it has not exited within [`STOP_TIMEOUT`], SIGKILL to it and to
/// every child it reported.
fn stop_local(local: &mut Child, pids: &[(String, u32)]) {
    if stop(local, STOP_TIMEOUT) {
        return;
    }
    eprintln!("rinha local ignored SIGTERM; killed it, now its children");
    for &(_, pid) in pids {
        signal("KILL", pid);
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
