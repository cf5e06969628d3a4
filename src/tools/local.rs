//! `rinha local`: the whole stack on one machine, without Docker.
//!
//! ```text
//!   127.0.0.1:<port> ── haproxy ──unix──► api1 ─┐
//!                                └─unix──► api2 ─┴─ <tmp>/rinha.shm ─► processor default  :<default-port>
//!                                                                   └► processor fallback :<fallback-port>
//! ```
//!
//! Every child is this very binary (`std::env::current_exe`) except HAProxy,
//! so a fresh `cargo build` is all a developer needs. The children live in a
//! fresh temp dir (`rinha-local-<pid>-<nanos>`: the sockets, the shared file,
//! the adapted `haproxy.cfg`) that is removed on the way out.
//!
//! HAProxy gets the repository's `haproxy.cfg` (or the copy compiled into
//! this binary, so the command works from any directory) with the contest's
//! `/sockets/` replaced by the temp dir and `*:9999` by `127.0.0.1:<port>`:
//! what runs here is the contest's configuration, not a look-alike. Without
//! `haproxy` on `PATH` (or with `--no-haproxy`) both instances bind
//! `127.0.0.1:<port>` with `SO_REUSEPORT` and the kernel spreads connections.
//!
//! Once everything accepts connections, stderr gets one `pids` line (tests
//! use it to kill an instance) and one `ready` line. Ctrl-C, SIGTERM, a
//! processor or HAProxy exiting, or the last instance exiting stops every
//! child and removes the temp dir; one instance exiting is reported and
//! survived, as in production. The children's stderr is ours, so their logs
//! show up as they happen.

use std::error::Error;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::LocalConfig;

/// The contest configuration, for when `--haproxy-cfg` is left at its
/// default and the current directory is not the repository.
const EMBEDDED_HAPROXY_CFG: &str = include_str!("../../haproxy.cfg");
const DEFAULT_HAPROXY_CFG: &str = "haproxy.cfg";
/// The official processors' initial admin token.
const ADMIN_TOKEN: &str = "123";
/// How long the stack may take to accept connections before we give up.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often readiness and the children's liveness are looked at.
const POLL: Duration = Duration::from_millis(20);
/// A Ctrl-C in a terminal reaches the children too, and one of them may exit
/// before our handler runs: wait this long for the signal before calling an
/// exit unexpected.
const SIGNAL_GRACE: Duration = Duration::from_millis(300);

/// Runs the stack until Ctrl-C, SIGTERM or a child's unexpected exit (an
/// error naming the child and its status).
pub fn run(config: LocalConfig) -> Result<(), Box<dyn Error>> {
    let (signal_tx, signals) = mpsc::channel();
    ctrlc::set_handler(move || {
        // The receiver is gone only once we are stopping anyway.
        let _ = signal_tx.send(());
    })?;
    let dir = TempDir::create()?;
    let mut stack = Stack::default();
    let outcome = start(&config, &dir.0, &mut stack, &signals).and_then(|started| match started {
        Started::Ready => stack.supervise(&signals),
        Started::Interrupted => Ok(()),
    });
    stack.stop();
    drop(dir);
    outcome
}

/// Whether start-up finished, or a signal asked us to stop first.
enum Started {
    Ready,
    Interrupted,
}

/// Spawns every child, waits for them to accept, prints the ready lines.
fn start(
    config: &LocalConfig,
    dir: &Path,
    stack: &mut Stack,
    signals: &Receiver<()>,
) -> Result<Started, Box<dyn Error>> {
    let exe = std::env::current_exe()?;
    let backend = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
    for (name, port, fee) in [
        (
            "processor-default",
            config.default_port,
            &config.default_fee,
        ),
        (
            "processor-fallback",
            config.fallback_port,
            &config.fallback_fee,
        ),
    ] {
        let mut command = Command::new(&exe);
        command.args(["processor", "--port", &port.to_string(), "--fee", fee]);
        command.args(["--token", ADMIN_TOKEN]);
        let probe = Probe::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        stack.spawn(name, command, probe)?;
    }
    let haproxy = if config.use_haproxy {
        find_on_path("haproxy")
    } else {
        None
    };
    for name in ["api1", "api2"] {
        let mut command = api_command(&exe, config, dir);
        let probe = match haproxy {
            Some(_) => {
                let socket = dir.join(format!("{name}.sock"));
                command
                    .arg("--listen")
                    .arg(format!("unix:{}", socket.display()));
                Probe::Unix(socket)
            }
            None => {
                command.args(["--listen", &backend.to_string(), "--reuse-port"]);
                Probe::Tcp(backend)
            }
        };
        stack.spawn(name, command, probe)?;
    }
    match haproxy {
        Some(program) => {
            let cfg = write_haproxy_cfg(config, dir)?;
            let mut command = Command::new(program);
            command.arg("-db").arg("-f").arg(cfg);
            stack.spawn("haproxy", command, Probe::Tcp(backend))?;
        }
        None => crate::log!(
            "rinha local: {}; the two instances share {backend} with SO_REUSEPORT instead of \
             sitting behind HAProxy",
            if config.use_haproxy {
                "haproxy is not on PATH (apt-get install haproxy)"
            } else {
                "--no-haproxy given"
            }
        ),
    }
    if !stack.wait_ready(signals)? {
        return Ok(Started::Interrupted);
    }
    crate::log!("rinha local: pids {}", stack.pids());
    crate::log!(
        "rinha local: ready — backend http://{backend} · default processor \
         http://127.0.0.1:{} · fallback http://127.0.0.1:{} (admin token {ADMIN_TOKEN}) · \
         Ctrl-C to stop",
        config.default_port,
        config.fallback_port
    );
    Ok(Started::Ready)
}

/// `rinha api` sharing the temp dir's file, pointed at the local processors.
fn api_command(exe: &Path, config: &LocalConfig, dir: &Path) -> Command {
    let mut command = Command::new(exe);
    command
        .arg("api")
        .arg("--shared-file")
        .arg(dir.join("rinha.shm"));
    command.args([
        "--default-url",
        &format!("http://127.0.0.1:{}", config.default_port),
        "--fallback-url",
        &format!("http://127.0.0.1:{}", config.fallback_port),
    ]);
    command
}

/// Adapts the contest's HAProxy configuration to this machine and writes it
/// into `dir`; returns its path.
fn write_haproxy_cfg(config: &LocalConfig, dir: &Path) -> Result<PathBuf, Box<dyn Error>> {
    let original = match fs::read_to_string(&config.haproxy_cfg) {
        Ok(text) => text,
        Err(error)
            if error.kind() == io::ErrorKind::NotFound
                && config.haproxy_cfg == Path::new(DEFAULT_HAPROXY_CFG) =>
        {
            EMBEDDED_HAPROXY_CFG.to_string()
        }
        Err(error) => {
            return Err(format!("cannot read {}: {error}", config.haproxy_cfg.display()).into());
        }
    };
    for needle in ["/sockets/", "*:9999"] {
        if !original.contains(needle) {
            return Err(format!(
                "{} has no {needle:?} to adapt to this machine",
                config.haproxy_cfg.display()
            )
            .into());
        }
    }
    let adapted = original
        .replace("/sockets/", &format!("{}/", dir.display()))
        .replace("*:9999", &format!("127.0.0.1:{}", config.port));
    let path = dir.join("haproxy.cfg");
    fs::write(&path, adapted)?;
    Ok(path)
}

/// The first executable called `program` in a `PATH` directory.
fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// How we know a child is ready: it accepts a connection here.
enum Probe {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Probe {
    fn accepts(&self) -> bool {
        match self {
            Probe::Tcp(addr) => TcpStream::connect_timeout(addr, POLL).is_ok(),
            Probe::Unix(path) => UnixStream::connect(path).is_ok(),
        }
    }
}

/// One running child and what it is called in our messages.
struct Running {
    name: &'static str,
    child: Child,
    probe: Probe,
}

/// The children, in start order.
#[derive(Default)]
struct Stack {
    children: Vec<Running>,
}

impl Stack {
    /// Starts `command` with our stderr and no stdin.
    fn spawn(
        &mut self,
        name: &'static str,
        mut command: Command,
        probe: Probe,
    ) -> Result<(), Box<dyn Error>> {
        let child = command
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("cannot start {name}: {error}"))?;
        self.children.push(Running { name, child, probe });
        Ok(())
    }

    /// Waits until every child accepts; `Ok(false)` if a signal came first.
    fn wait_ready(&mut self, signals: &Receiver<()>) -> Result<bool, Box<dyn Error>> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut pending: Vec<usize> = (0..self.children.len()).collect();
        loop {
            pending.retain(|&i| !self.children[i].probe.accepts());
            if pending.is_empty() {
                return Ok(true);
            }
            if let Some(exit) = self.first_exit()? {
                return Err(format!("{exit} during start-up").into());
            }
            if Instant::now() >= deadline {
                let names: Vec<&str> = pending.iter().map(|&i| self.children[i].name).collect();
                return Err(format!(
                    "not accepting connections after {READY_TIMEOUT:?}: {}",
                    names.join(", ")
                )
                .into());
            }
            match signals.recv_timeout(POLL) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(false),
            }
        }
    }

    /// Returns when a signal arrives, or fails when a child exits.
    fn supervise(&mut self, signals: &Receiver<()>) -> Result<(), Box<dyn Error>> {
        loop {
            match signals.recv_timeout(POLL) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            let Some(exit) = self.first_exit()? else {
                continue;
            };
            if signals.recv_timeout(SIGNAL_GRACE).is_ok() {
                return Ok(());
            }
            if is_instance(exit.name) && self.children.iter().any(|r| is_instance(r.name)) {
                crate::log!("rinha local: {exit}; the other instance carries on");
                continue;
            }
            return Err(format!("{exit}; stopping the stack").into());
        }
    }

    /// Forgets the first child found to have exited, and describes it.
    fn first_exit(&mut self) -> io::Result<Option<Exit>> {
        for (i, running) in self.children.iter_mut().enumerate() {
            if let Some(status) = running.child.try_wait()? {
                let exit = Exit {
                    name: running.name,
                    pid: running.child.id(),
                    status,
                };
                self.children.remove(i);
                return Ok(Some(exit));
            }
        }
        Ok(None)
    }

    /// `name=pid` for every child, e.g. `api1=4242 api2=4243`.
    fn pids(&self) -> String {
        let pairs: Vec<String> = self
            .children
            .iter()
            .map(|r| format!("{}={}", r.name, r.child.id()))
            .collect();
        pairs.join(" ")
    }

    /// Kills every child and reaps it (SIGKILL: nothing in the temp dir
    /// needs a graceful shutdown, and the dir goes away next).
    fn stop(&mut self) {
        for running in &mut self.children {
            // Fails only if the child was already reaped; it is gone then.
            let _ = running.child.kill();
        }
        for running in &mut self.children {
            let _ = running.child.wait();
        }
    }
}

/// Whether the child is one of the `rinha api` instances. The stack is built
/// to survive losing one (the other takes over draining, HAProxy sends
/// everything to it), so that exit is reported, not fatal: this is how the
/// takeover is tried by hand (`kill -9` an instance) and tested.
fn is_instance(name: &str) -> bool {
    name.starts_with("api")
}

/// A child that exited while it should have been running.
struct Exit {
    name: &'static str,
    pid: u32,
    status: ExitStatus,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (pid {}) exited: {}",
            self.name, self.pid, self.status
        )
    }
}

/// The run's private directory, removed (with everything in it) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> io::Result<TempDir> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("rinha-local-{}-{nanos}", std::process::id()));
        fs::create_dir(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_dir_all(&self.0) {
            crate::log!("rinha local: cannot remove {}: {error}", self.0.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_haproxy_cfg_adapts_to_a_temp_dir_and_port() {
        let dir = TempDir::create().unwrap();
        let config = LocalConfig {
            port: 19999,
            default_port: 18001,
            fallback_port: 18002,
            haproxy_cfg: PathBuf::from("/nonexistent/but/explicit.cfg"),
            use_haproxy: true,
            default_fee: "0.05".into(),
            fallback_fee: "0.15".into(),
        };
        assert!(write_haproxy_cfg(&config, &dir.0).is_err());
        let config = LocalConfig {
            haproxy_cfg: dir.0.join("missing").join(DEFAULT_HAPROXY_CFG),
            ..config
        };
        assert!(write_haproxy_cfg(&config, &dir.0).is_err());
        fs::write(dir.0.join("in.cfg"), EMBEDDED_HAPROXY_CFG).unwrap();
        let config = LocalConfig {
            haproxy_cfg: dir.0.join("in.cfg"),
            ..config
        };
        let text = fs::read_to_string(write_haproxy_cfg(&config, &dir.0).unwrap()).unwrap();
        assert!(text.contains("bind 127.0.0.1:19999"), "{text}");
        assert!(text.contains(&format!("unix@{}/api1.sock", dir.0.display())));
        assert!(!text.contains("/sockets/"));
    }
}
