//! Command-line configuration: one struct per subcommand.
//!
//! Every flag has an environment-variable twin (`--shared-file` ⇔
//! `RINHA_SHARED_FILE`) so that docker-compose can configure the binary with
//! `environment:` alone. A flag on the command line wins over the environment,
//! and the environment wins over the default. Unknown flags and unparsable
//! values are errors that name the flag: a typo must never silently fall back
//! to a default in a contest submission.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

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
    /// How long payments wait for a failing default processor before the
    /// fallback may take them.
    pub max_hold: Duration,
    /// Processor latency from which it is avoided while the other can take
    /// payments (the consistency check's margin is 2 s).
    pub safe_latency: Duration,
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

/// Where a flag's environment twin is looked up: the process environment
/// in the binary, a table in tests (no test has to mutate the environment
/// of a process whose other threads read it).
pub type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

/// The process environment, for [`Env`].
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The flags of one subcommand, consumed as they are looked up.
struct Flags<'e> {
    pairs: Vec<(String, Option<String>)>,
    env: Env<'e>,
}

impl<'e> Flags<'e> {
    /// Splits `--name value`, `--name=value` and bare `--switch`; a flag
    /// given twice is an error (which of the two was meant?).
    fn new(args: &[String], env: Env<'e>) -> Result<Flags<'e>, ConfigError> {
        let mut pairs: Vec<(String, Option<String>)> = Vec::new();
        let mut rest = args.iter().peekable();
        while let Some(arg) = rest.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(ConfigError(format!("unexpected argument {arg:?}")));
            };
            let pair = match name.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => {
                    let value = rest.next_if(|next| !next.starts_with("--")).cloned();
                    (name.to_string(), value)
                }
            };
            if pairs.iter().any(|(name, _)| *name == pair.0) {
                return Err(ConfigError(format!("--{} given twice", pair.0)));
            }
            pairs.push(pair);
        }
        Ok(Flags { pairs, env })
    }

    /// The flag's value, else its environment twin, else `default`.
    fn get<T: FromStr>(&mut self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let text = match self.take(name)? {
            Some(text) => text,
            None => match (self.env)(&env_name(name)) {
                Some(text) => text,
                None => return Ok(default),
            },
        };
        text.parse()
            .map_err(|e| ConfigError(format!("--{name} {text:?}: {e}")))
    }

    /// A duration given in milliseconds.
    fn millis(&mut self, name: &str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.get(name, default_ms).map(Duration::from_millis)
    }

    /// A bare switch such as `--no-purge`; `--switch=false` turns it off,
    /// and so does its environment twin set to `0`, `false`, `no` or `off`.
    fn switch(&mut self, name: &str) -> Result<bool, ConfigError> {
        match self.take_pair(name) {
            Some((_, None)) => Ok(true),
            Some((_, Some(text))) => parse_switch(&text)
                .ok_or_else(|| ConfigError(format!("--{name} {SWITCH_SPELLINGS}, not {text:?}"))),
            None => match (self.env)(&env_name(name)) {
                None => Ok(false),
                Some(text) => parse_switch(&text).ok_or_else(|| {
                    ConfigError(format!(
                        "{} {SWITCH_SPELLINGS}, not {text:?}",
                        env_name(name)
                    ))
                }),
            },
        }
    }

    fn take(&mut self, name: &str) -> Result<Option<String>, ConfigError> {
        match self.take_pair(name) {
            Some((_, Some(value))) => Ok(Some(value)),
            Some((_, None)) => Err(ConfigError(format!("--{name} needs a value"))),
            None => Ok(None),
        }
    }

    fn take_pair(&mut self, name: &str) -> Option<(String, Option<String>)> {
        let index = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.remove(index))
    }

    /// Every flag must have been looked up by now.
    fn finish(self) -> Result<(), ConfigError> {
        match self.pairs.first() {
            Some((name, _)) => Err(ConfigError(format!("unknown flag --{name}"))),
            None => Ok(()),
        }
    }
}

/// What a switch accepts, for its error message.
const SWITCH_SPELLINGS: &str = "takes 1/true/yes/on or 0/false/no/off";

/// The usual spellings of a boolean, in any case; `None` for anything else
/// (an empty value included): a typo must not silently mean "off".
fn parse_switch(text: &str) -> Option<bool> {
    const ON: [&str; 4] = ["1", "true", "yes", "on"];
    const OFF: [&str; 4] = ["0", "false", "no", "off"];
    let spelled = |words: [&str; 4]| words.iter().any(|w| w.eq_ignore_ascii_case(text));
    match (spelled(ON), spelled(OFF)) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// `--shared-file` → `RINHA_SHARED_FILE`.
fn env_name(flag: &str) -> String {
    format!("RINHA_{}", flag.replace('-', "_").to_ascii_uppercase())
}

impl ApiConfig {
    /// Parses the flags that follow `rinha api`, with the process's
    /// environment for their twins.
    pub fn parse(args: &[String]) -> Result<ApiConfig, ConfigError> {
        Self::parse_with(args, &process_env)
    }

    /// Parses the flags that follow `rinha api`, looking twins up in `env`.
    pub fn parse_with(args: &[String], env: Env<'_>) -> Result<ApiConfig, ConfigError> {
        let mut flags = Flags::new(args, env)?;
        let defaults = Capacities::default();
        let config = ApiConfig {
            listen: flags.get("listen", Listen::Tcp(([127, 0, 0, 1], 9999).into()))?,
            reuse_port: flags.switch("reuse-port")?,
            shared_file: flags.get("shared-file", PathBuf::from("/tmp/rinha.shm"))?,
            capacities: Capacities {
                ring_slots: flags.get("ring-slots", defaults.ring_slots)?,
                ledger_entries: flags.get("ledger-entries", defaults.ledger_entries)?,
            },
            default_url: flags.get(
                "default-url",
                "http://payment-processor-default:8080".to_string(),
            )?,
            fallback_url: flags.get(
                "fallback-url",
                "http://payment-processor-fallback:8080".to_string(),
            )?,
            purge_enabled: !flags.switch("no-purge")?,
            max_request_age_ms: flags.get("max-request-age-ms", 1_000)?,
            floor: flags.switch("floor")?,
            drain: !flags.switch("no-drain")?,
            max_in_flight: flags.get("max-in-flight", 800)?,
            processor_timeout: flags.millis("processor-timeout-ms", 15_000)?,
            max_hold: flags.millis("max-hold-ms", 25_000)?,
            safe_latency: flags.millis("safe-latency-ms", 1_750)?,
            max_send_rate: flags.get("max-send-rate", 2_500)?,
            memory_budget_mb: flags.get("memory-budget-mb", 120)?,
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
        let mut flags = Flags::new(args, env)?;
        let host: std::net::IpAddr = flags.get("host", [127, 0, 0, 1].into())?;
        let port: u16 = flags.get("port", 8080)?;
        let config = EmulatorConfig {
            listen: SocketAddr::new(host, port),
            fee: flags.get("fee", "0.05".to_string())?,
            token: flags.get("token", "123".to_string())?,
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
        let mut flags = Flags::new(args, env)?;
        let config = LocalConfig {
            port: flags.get("port", 9999)?,
            default_port: flags.get("default-port", 8001)?,
            fallback_port: flags.get("fallback-port", 8002)?,
            haproxy_cfg: flags.get("haproxy-cfg", PathBuf::from("haproxy.cfg"))?,
            use_haproxy: !flags.switch("no-haproxy")?,
            default_fee: flags.get("default-fee", "0.05".to_string())?,
            fallback_fee: flags.get("fallback-fee", "0.15".to_string())?,
        };
        flags.finish()?;
        Ok(config)
    }
}

impl StatConfig {
    /// Parses the flags that follow `rinha stat`.
    pub fn parse(args: &[String]) -> Result<StatConfig, ConfigError> {
        let mut flags = Flags::new(args, &process_env)?;
        let config = StatConfig {
            shared_file: flags.get("shared-file", PathBuf::from("/tmp/rinha.shm"))?,
            watch: flags.switch("watch")?,
            json: flags.switch("json")?,
        };
        flags.finish()?;
        Ok(config)
    }
}

mod sim;
pub use sim::{RouterFlags, SimCommand, SimConfig};

#[cfg(test)]
mod tests;
