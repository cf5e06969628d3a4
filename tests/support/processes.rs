//! Processes the tests start: the built `rinha` binary, its stderr kept line
//! by line, signals, bounded stops, free ports and scratch folders.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// `rinha` as cargo built it for this test, run from the repository's
/// folder (where `haproxy.cfg` and `bench/` are).
pub fn rinha() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rinha"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// A free TCP port on 127.0.0.1 (bound, read and released: another process
/// could take it meanwhile, so callers that bind it retry on failure).
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// N distinct free ports of 127.0.0.1.
pub fn free_ports<const N: usize>() -> [u16; N] {
    // Held together so that the N ports differ.
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// `$TMPDIR/rinha-<name>-<pid>`, emptied and created.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rinha-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// `kill -<name> <pid>` (std has no way to send a signal but SIGKILL to a
/// child of ours, and some processes are grandchildren).
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

/// Waits up to `timeout` for `child` to exit on its own; its status, or
/// `None` if it is still running then.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// SIGTERM to `child` (so that it can stop its own children and tidy up),
/// then SIGKILL if it has not exited within `grace`. Whether it exited of
/// the SIGTERM.
pub fn stop(child: &mut Child, grace: Duration) -> bool {
    signal("TERM", child.id());
    if wait_exit(child, grace).is_some() {
        return true;
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Everything a process wrote to stderr, line by line, echoed as it comes
/// (the test harness shows the echo when a test fails).
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
    /// Collects `stderr` on a thread of its own until the pipe closes,
    /// echoing each line after `name`.
    pub fn collect(name: String, stderr: ChildStderr) -> Arc<Log> {
        let log = Arc::new(Log::default());
        let sink = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("  {name} | {line}");
                sink.lines.lock().unwrap().lines.push(line);
                sink.grew.notify_all();
            }
            sink.lines.lock().unwrap().closed = true;
            sink.grew.notify_all();
        });
        log
    }

    /// A copy of every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().lines.clone()
    }

    /// The first line satisfying `wanted`, waiting up to `timeout`; `None`
    /// if the pipe closes or time runs out first.
    pub fn wait_for(&self, timeout: Duration, wanted: impl Fn(&str) -> bool) -> Option<String> {
        self.wait_for_from(0, timeout, wanted).map(|(_, line)| line)
    }

    /// The first line at index `from` or later that satisfies `wanted`, with
    /// its index; `None` if the pipe closes or `timeout` passes first.
    pub fn wait_for_from(
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
            if guard.closed {
                return None;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            guard = self.grew.wait_timeout(guard, left).unwrap().0;
        }
    }
}

/// A child process of the test with its stderr collected; killed on drop.
pub struct Proc {
    child: Child,
    /// Its stderr.
    pub log: Arc<Log>,
    /// Its pid.
    pub pid: u32,
}

impl Proc {
    /// Starts `command` (stdin and stdout to /dev/null) with its stderr
    /// collected under `name`.
    pub fn spawn(name: &str, command: &mut Command) -> Proc {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Log::collect(format!("{name}[{}]", child.id()), stderr);
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
        signal(name, self.pid);
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit on its own; its exit status, or `None`
    /// if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, timeout)
    }

    /// The first line of its stderr that starts with `prefix` (a ready
    /// line such as `rinha api listening on`), waiting up to `timeout`;
    /// kills it and fails with its stderr if none comes.
    pub fn ready_line(&mut self, prefix: &str, timeout: Duration) -> String {
        match self.log.wait_for(timeout, |l| l.starts_with(prefix)) {
            Some(line) => line,
            None => {
                self.kill();
                panic!("no {prefix:?} line:\n{}", self.log.lines().join("\n"));
            }
        }
    }

    /// Resident memory in KiB, from `/proc/<pid>/status`.
    pub fn rss_kib(&self) -> u64 {
        memory_kib(self.pid).0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A stopped process must be resumed to die of SIGTERM; SIGKILL works
        // either way, and these are test children: no grace needed.
        self.kill();
    }
}

/// `VmRSS` and `VmHWM` (the peak) of a process, in KiB.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("pid {pid}: {e}"));
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}
