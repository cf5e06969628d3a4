//! Command-line configuration: one struct per subcommand.
//!
//! Every flag has an environment-variable twin (`--shared-file` ⇔
//! `RINHA_SHARED_FILE`) so that docker-compose can configure the binary with
//! `environment:` alone. A flag on the command line wins over the environment,
//! and the environment wins over the default. Unknown flags and unparsable
//! values are errors that name the flag: a typo must never silently fall back
//! to a default in a contest submission.
//!
//! Each subcommand's flags are declared once, in its [`Command`] table
//! (name, default, one line of help): the parser reads its defaults from
//! that table and `rinha <command> --help` prints it, so the two agree.
//! Adding a flag is a line in the table and a line in the `parse_with`
//! that reads it; a flag in one but not the other fails every parse.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

mod flags;

pub use flags::{Command, Env, Flag, Kind, help, usage};
use flags::{Flags, process_env};

/// Where an HTTP server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address such as `0.0.0.0:9999`.
    Tcp(SocketAddr),
    /// A Unix stream socket path; written as `unix:/path/to/socket`.
    Unix(PathBuf),
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.strip_prefix("unix:") {
            Some("") => Err("a unix socket path is empty".into()),
            Some(path) => Ok(Listen::Unix(PathBuf::from(path))),
            None => text
                .parse()
                .map(Listen::Tcp)
                .map_err(|_| format!("{text:?} is neither host:port nor unix:/path")),
        }
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tcp(addr) => write!(f, "{addr}"),
            Listen::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Sizes of the shared file's two regions, fixed when the file is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacities {
    /// Ring slots; a power of two. Bounds the payments waiting to be drained.
    pub ring_slots: u32,
    /// Ledger entries: the processed payments the file can ever record.
    pub ledger_entries: u32,
}

impl Default for Capacities {
    /// 65 536 pending payments (≈ 2 minutes of the contest's peak with both
    /// processors down) and 262 144 processed ones: the final test's 90 600
    /// payments almost three times over, in 16 MiB of file with the ring.
    /// Each ledger entry costs the file 48 B and the leader's set of paid
    /// ids 40 B more (`drain::drainer::memory_bound`), so capacity no run
    /// uses is memory taken from the connections' budget.
    fn default() -> Self {
        Capacities {
            ring_slots: 1 << 16,
            ledger_entries: 1 << 18,
        }
    }
}

/// `rinha api`: one HTTP front end, and a candidate for draining.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Where HAProxy (or a client) reaches this instance.
    pub listen: Listen,
    /// Set SO_REUSEPORT on a TCP listener, so several instances can share
    /// one port without a load balancer (`rinha local` without HAProxy).
    pub reuse_port: bool,
    /// The memory-mapped file shared by every instance.
    pub shared_file: PathBuf,
    /// Sizes used when this instance is the one that creates the file.
    pub capacities: Capacities,
    /// Base URL of the cheap processor.
    pub default_url: String,
    /// Base URL of the dear processor.
    pub fallback_url: String,
    /// Whether `POST /purge-payments` is honoured (the official test calls it).
    pub purge_enabled: bool,
    /// Refuse (503) a `POST /payments` that HAProxy stamped longer ago than
    /// this, in milliseconds; 0 never refuses. See `crate::api::Options`.
    pub max_request_age_ms: u64,
    /// Benchmark floor: answer every request with a fixed response, touching
    /// neither the shared file nor the processors, so that a run measures
    /// what HAProxy, the kernel and the event loop cost on their own.
    pub floor: bool,
    /// Whether this instance stands for election as the drainer.
    pub drain: bool,
    /// Requests the drainer keeps out at once to one processor (the
    /// official processor works on 800 at once, then queues).
    pub max_in_flight: usize,
    /// How long a call to a processor may take before its outcome counts
    /// as unknown. Longer than any delay a processor is set to (5 s in the
    /// contest): a failing processor's 500 must be seen, or its payment
    /// stays pinned to it.
    pub processor_timeout: Duration,
    /// How long payments wait for a failing default processor before a
    /// working fallback takes them (0: at once).
    pub max_hold: Duration,
    /// Processor latency from which it is avoided while the other can take
    /// payments (the consistency check's margin is 2 s).
    pub safe_latency: Duration,
    /// Processor latency from which it is sent no new payment at all: what
    /// it stores would land inside the consistency check's window.
    pub max_latency: Duration,
    /// Payments the drainer sends per second at most.
    pub max_send_rate: u32,
    /// What this instance may use in all, in MiB (2^20 bytes, the unit of
    /// Docker's `memory: 125MB`); connections get what the shared file and
    /// the drainer leave (see `cli::api::connection_limits`).
    pub memory_budget_mb: u64,
}

/// `rinha processor`: an emulator of the official payment processor.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Address to listen on, e.g. `127.0.0.1:8001` or `0.0.0.0:8080`.
    pub listen: SocketAddr,
    /// Fee per transaction as written by the official processor, e.g. `0.05`.
    pub fee: String,
    /// Initial admin token (`X-Rinha-Token`).
    pub token: String,
}

/// `rinha local`: the whole stack on this machine.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// Port HAProxy (or the SO_REUSEPORT fallback) listens on.
    pub port: u16,
    /// Port of the default processor emulator.
    pub default_port: u16,
    /// Port of the fallback processor emulator.
    pub fallback_port: u16,
    /// The HAProxy configuration adapted to the local sockets.
    pub haproxy_cfg: PathBuf,
    /// Whether HAProxy is used at all (`--no-haproxy` forces the fallback).
    pub use_haproxy: bool,
    /// The default emulator's `--fee` (the preview's 0.05; the final ran 0.07).
    pub default_fee: String,
    /// The fallback emulator's `--fee` (the preview's 0.15; the final ran 0.10).
    pub fallback_fee: String,
}

/// `rinha stat`: a read-only look at a shared file.
#[derive(Clone, Debug)]
pub struct StatConfig {
    /// The file to read (the same default and twin as `rinha api`'s).
    pub shared_file: PathBuf,
    /// Print every second until interrupted.
    pub watch: bool,
    /// One JSON object per line instead of text.
    pub json: bool,
}

/// A parse failure that names the offending flag.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Every subcommand the binary has, in the order `rinha --help` lists them.
pub const COMMANDS: &[Command] = &[API, PROCESSOR, LOCAL, STAT, SIM];

/// The subcommand called `name`.
pub fn command(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|command| command.name == name)
}

/// `rinha api`'s flags.
pub const API: Command = Command {
    name: "api",
    summary: "serve the backend on --listen (tcp host:port or unix:/path); one instance may drain",
    flags: &[
        Flag::value(
            "listen",
            "127.0.0.1:9999",
            "host:port or unix:/path where HAProxy (or a client) reaches this instance",
        ),
        Flag::switch(
            "reuse-port",
            "SO_REUSEPORT on a TCP listener, so instances share a port without a load balancer",
        ),
        Flag::value(
            "shared-file",
            "/tmp/rinha.shm",
            "the memory-mapped file every instance shares",
        ),
        Flag::value(
            "ring-slots",
            "65536",
            "pending payments the file holds (a power of two); fixed when the file is created",
        ),
        Flag::value(
            "ledger-entries",
            "262144",
            "processed payments the file can ever record; fixed when the file is created",
        ),
        Flag::value(
            "default-url",
            "http://payment-processor-default:8080",
            "base URL of the default (cheap) processor",
        ),
        Flag::value(
            "fallback-url",
            "http://payment-processor-fallback:8080",
            "base URL of the fallback (dear) processor",
        ),
        Flag::switch(
            "no-purge",
            "answer POST /purge-payments with 403 and change nothing",
        ),
        Flag::value(
            "max-request-age-ms",
            "1000",
            "answer 503 to a POST /payments HAProxy stamped longer ago than this; 0 never refuses",
        ),
        Flag::switch(
            "floor",
            "fixed responses, touching neither the file nor the processors: the benchmark floor",
        ),
        Flag::switch("no-drain", "never stand for election as the drainer"),
        MAX_IN_FLIGHT,
        PROCESSOR_TIMEOUT,
        MAX_HOLD,
        SAFE_LATENCY,
        MAX_LATENCY,
        MAX_SEND_RATE,
        Flag::value(
            "memory-budget-mb",
            "120",
            "MiB this instance may use in all; the connection cap is derived from it",
        ),
    ],
};

/// `rinha processor`'s flags.
pub const PROCESSOR: Command = Command {
    name: "processor",
    summary: "emulate an official payment processor on --host:--port",
    flags: &[
        Flag::value("host", "127.0.0.1", "address to listen on"),
        Flag::value("port", "8080", "port to listen on"),
        Flag::value(
            "fee",
            "0.05",
            "fee per transaction as the official processor writes it",
        ),
        Flag::value("token", "123", "initial admin token (X-Rinha-Token)"),
    ],
};

/// `rinha local`'s flags.
pub const LOCAL: Command = Command {
    name: "local",
    summary: "run the whole stack on this machine: two emulated processors, two instances, HAProxy",
    flags: &[
        Flag::value(
            "port",
            "9999",
            "port the backend listens on (HAProxy, or the SO_REUSEPORT fallback)",
        ),
        Flag::value(
            "default-port",
            "8001",
            "port of the default processor's emulator",
        ),
        Flag::value(
            "fallback-port",
            "8002",
            "port of the fallback processor's emulator",
        ),
        Flag::value(
            "haproxy-cfg",
            "haproxy.cfg",
            "the HAProxy configuration to adapt (else the copy built into the binary)",
        ),
        Flag::switch(
            "no-haproxy",
            "share the port with SO_REUSEPORT instead of HAProxy",
        ),
        Flag::value(
            "default-fee",
            "0.05",
            "the default emulator's fee (the preview's; the final ran 0.07)",
        ),
        Flag::value(
            "fallback-fee",
            "0.15",
            "the fallback emulator's fee (the preview's; the final ran 0.10)",
        ),
    ],
};

/// The routing flags `rinha api` and `rinha sim` share: one declaration,
/// so the simulator's defaults are the drainer's.
pub const MAX_IN_FLIGHT: Flag = Flag::value(
    "max-in-flight",
    "800",
    "requests the drainer keeps out at once to each processor",
);
/// See [`MAX_IN_FLIGHT`].
pub const PROCESSOR_TIMEOUT: Flag = Flag::value(
    "processor-timeout-ms",
    "15000",
    "how long a request may go unanswered before its outcome counts as unknown",
);
/// See [`MAX_IN_FLIGHT`].
pub const MAX_HOLD: Flag = Flag::value(
    "max-hold-ms",
    "0",
    "how long payments wait for a failing default before a working fallback takes them",
);
/// See [`MAX_IN_FLIGHT`].
pub const SAFE_LATENCY: Flag = Flag::value(
    "safe-latency-ms",
    "1750",
    "processor latency from which it is avoided while the other can take payments",
);
/// See [`MAX_IN_FLIGHT`].
pub const MAX_LATENCY: Flag = Flag::value(
    "max-latency-ms",
    "1900",
    "processor latency from which it gets no new payment at all (the check's 2 s margin)",
);
/// See [`MAX_IN_FLIGHT`].
pub const MAX_SEND_RATE: Flag = Flag::value(
    "max-send-rate",
    "10000",
    "payments sent per second at most (a released backlog is paced)",
);

/// `rinha stat`'s flags.
pub const STAT: Command = Command {
    name: "stat",
    summary: "print what the shared file holds, reading it only",
    flags: &[
        Flag::value(
            "shared-file",
            "/tmp/rinha.shm",
            "the file to read (the same as rinha api's)",
        ),
        Flag::switch("watch", "print every second until interrupted"),
        Flag::switch("json", "one JSON object per line instead of text"),
    ],
};

impl ApiConfig {
    /// Parses the flags that follow `rinha api`, with the process's
    /// environment for their twins.
    pub fn parse(args: &[String]) -> Result<ApiConfig, ConfigError> {
        Self::parse_with(args, &process_env)
    }

    /// Parses the flags that follow `rinha api`, looking twins up in `env`.
    pub fn parse_with(args: &[String], env: Env<'_>) -> Result<ApiConfig, ConfigError> {
        let mut flags = Flags::new(API.flags, args, env)?;
        let config = ApiConfig {
            listen: flags.get("listen")?,
            reuse_port: flags.switch("reuse-port")?,
            shared_file: flags.get("shared-file")?,
            capacities: Capacities {
                ring_slots: flags.get("ring-slots")?,
                ledger_entries: flags.get("ledger-entries")?,
            },
            default_url: flags.get("default-url")?,
            fallback_url: flags.get("fallback-url")?,
            purge_enabled: !flags.switch("no-purge")?,
            max_request_age_ms: flags.get("max-request-age-ms")?,
            floor: flags.switch("floor")?,
            drain: !flags.switch("no-drain")?,
            max_in_flight: flags.get("max-in-flight")?,
            processor_timeout: flags.millis("processor-timeout-ms")?,
            max_hold: flags.millis("max-hold-ms")?,
            safe_latency: flags.millis("safe-latency-ms")?,
            max_latency: flags.millis("max-latency-ms")?,
            max_send_rate: flags.get("max-send-rate")?,
            memory_budget_mb: flags.get("memory-budget-mb")?,
        };
        flags.finish()?;
        if !config.capacities.ring_slots.is_power_of_two() {
            return Err(ConfigError("--ring-slots must be a power of two".into()));
        }
        if config.max_in_flight == 0 {
            return Err(ConfigError("--max-in-flight must be at least 1".into()));
        }
        if config.max_send_rate == 0 {
            return Err(ConfigError("--max-send-rate must be at least 1".into()));
        }
        Ok(config)
    }
}

impl EmulatorConfig {
    /// Parses the flags that follow `rinha processor`, with the process's
    /// environment for their twins.
    pub fn parse(args: &[String]) -> Result<EmulatorConfig, ConfigError> {
        Self::parse_with(args, &process_env)
    }

    /// Parses the flags that follow `rinha processor`, looking twins up in `env`.
    pub fn parse_with(args: &[String], env: Env<'_>) -> Result<EmulatorConfig, ConfigError> {
        let mut flags = Flags::new(PROCESSOR.flags, args, env)?;
        let host: std::net::IpAddr = flags.get("host")?;
        let port: u16 = flags.get("port")?;
        let config = EmulatorConfig {
            listen: SocketAddr::new(host, port),
            fee: flags.get("fee")?,
            token: flags.get("token")?,
        };
        flags.finish()?;
        Ok(config)
    }
}

impl LocalConfig {
    /// Parses the flags that follow `rinha local`, with the process's
    /// environment for their twins.
    pub fn parse(args: &[String]) -> Result<LocalConfig, ConfigError> {
        Self::parse_with(args, &process_env)
    }

    /// Parses the flags that follow `rinha local`, looking twins up in `env`.
    pub fn parse_with(args: &[String], env: Env<'_>) -> Result<LocalConfig, ConfigError> {
        let mut flags = Flags::new(LOCAL.flags, args, env)?;
        let config = LocalConfig {
            port: flags.get("port")?,
            default_port: flags.get("default-port")?,
            fallback_port: flags.get("fallback-port")?,
            haproxy_cfg: flags.get("haproxy-cfg")?,
            use_haproxy: !flags.switch("no-haproxy")?,
            default_fee: flags.get("default-fee")?,
            fallback_fee: flags.get("fallback-fee")?,
        };
        flags.finish()?;
        Ok(config)
    }
}

impl StatConfig {
    /// Parses the flags that follow `rinha stat`, with the process's
    /// environment for their twins.
    pub fn parse(args: &[String]) -> Result<StatConfig, ConfigError> {
        Self::parse_with(args, &process_env)
    }

    /// Parses the flags that follow `rinha stat`, looking twins up in `env`.
    pub fn parse_with(args: &[String], env: Env<'_>) -> Result<StatConfig, ConfigError> {
        let mut flags = Flags::new(STAT.flags, args, env)?;
        let config = StatConfig {
            shared_file: flags.get("shared-file")?,
            watch: flags.switch("watch")?,
            json: flags.switch("json")?,
        };
        flags.finish()?;
        Ok(config)
    }
}

mod sim;
pub use sim::{RouterFlags, SIM, SimCommand, SimConfig};

#[cfg(test)]
mod tests;
