//! `rinha sim`'s flags: the subcommand's form (`FILE`, `generate`,
//! `population`) and the router's flags as `rinha api` takes them.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    Command, ConfigError, Env, Flag, Flags, MAX_HOLD, MAX_IN_FLIGHT, MAX_LATENCY, MAX_SEND_RATE,
    PROCESSOR_TIMEOUT, SAFE_LATENCY, process_env,
};

/// `rinha sim`'s flags: its own, then `rinha api`'s routing flags (the
/// same declarations, so the same defaults).
pub const SIM: Command = Command {
    name: "sim",
    summary: "simulate the drainer's routing on a virtual clock: `rinha sim FILE`, \
              `rinha sim generate`, `rinha sim population` (docs/sim.md)",
    flags: &[
        Flag::value(
            "fees",
            "auto",
            "FILE, population: default and fallback fee, `D F` or `D,F`; auto: the file's own \
             (FILE), both the preview's and the final's (population)",
        ),
        Flag::value("seed", "1", "generate, population: the population's seed"),
        Flag::value("count", "500", "generate, population: how many timelines"),
        Flag::value(
            "out",
            "target/sim-timelines",
            "generate: the folder the timelines are written to",
        ),
        Flag::value(
            "timelines",
            "bench/timelines",
            "population: the named timelines run beside the generated ones",
        ),
        Flag::value(
            "read-after-ms",
            "0",
            "when the processors are read after the load ends (k6's teardown: about 1000)",
        ),
        Flag::switch(
            "trace",
            "FILE: one line a second of the queues and the router's view",
        ),
        MAX_IN_FLIGHT,
        PROCESSOR_TIMEOUT,
        MAX_HOLD,
        SAFE_LATENCY,
        MAX_LATENCY,
        MAX_SEND_RATE,
    ],
};

/// `rinha sim`: the drainer's decisions on a virtual clock.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// What to simulate.
    pub command: SimCommand,
    /// The router's and the drainer's flags, as `rinha api` takes them.
    pub router: RouterFlags,
    /// `--read-after-ms`: when, after the load ends, the processors are
    /// read (0, the contest's rule, by default).
    pub read_after: Duration,
    /// `--trace`: one line a second of the drainer's queues and the
    /// router's view (one timeline only).
    pub trace: bool,
}

/// The three forms of `rinha sim`.
#[derive(Clone, Debug, PartialEq)]
pub enum SimCommand {
    /// `rinha sim FILE [--fees D F]`: one timeline; fees default to the
    /// file's own.
    Run {
        /// The timeline file (bench/timeline.py's text format).
        file: PathBuf,
        /// Default and fallback fee, overriding the file's.
        fees: Option<[f64; 2]>,
    },
    /// `rinha sim generate --seed S --count N --out DIR`.
    Generate {
        /// The population's seed.
        seed: u64,
        /// Timelines to write.
        count: u64,
        /// The folder to write `gen-S-IIII.txt` files into.
        out: PathBuf,
    },
    /// `rinha sim population --seed S --count N [--fees D F] [--timelines DIR]`.
    Population {
        /// The population's seed.
        seed: u64,
        /// Generated timelines.
        count: u64,
        /// One fee set; both the preview's and the final's when `None`.
        fees: Option<[f64; 2]>,
        /// The named timelines run too.
        timelines: PathBuf,
    },
}

/// The flags of `rinha api` that the simulated drainer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouterFlags {
    /// `--max-hold-ms`, as in [`super::ApiConfig::max_hold`].
    pub max_hold: Duration,
    /// `--safe-latency-ms`, as in [`super::ApiConfig::safe_latency`].
    pub safe_latency: Duration,
    /// `--max-latency-ms`, as in [`super::ApiConfig::max_latency`].
    pub max_latency: Duration,
    /// `--max-in-flight`, as in [`super::ApiConfig::max_in_flight`].
    pub max_in_flight: usize,
    /// `--max-send-rate`, as in [`super::ApiConfig::max_send_rate`].
    pub max_send_rate: u32,
    /// `--processor-timeout-ms`, as in [`super::ApiConfig::processor_timeout`].
    pub processor_timeout: Duration,
}

impl RouterFlags {
    /// The router's flags with `rinha api`'s defaults.
    fn parse(flags: &mut Flags<'_>) -> Result<RouterFlags, ConfigError> {
        let router = RouterFlags {
            max_hold: flags.millis("max-hold-ms")?,
            safe_latency: flags.millis("safe-latency-ms")?,
            max_latency: flags.millis("max-latency-ms")?,
            max_in_flight: flags.get("max-in-flight")?,
            max_send_rate: flags.get("max-send-rate")?,
            processor_timeout: flags.millis("processor-timeout-ms")?,
        };
        if router.max_in_flight == 0 || router.max_send_rate == 0 {
            return Err(ConfigError(
                "--max-in-flight and --max-send-rate must be at least 1".into(),
            ));
        }
        Ok(router)
    }
}

impl SimConfig {
    /// Parses what follows `rinha sim`: `FILE`, `generate` or `population`,
    /// then flags. `--fees D F` takes two values (or `--fees D,F`).
    pub fn parse(args: &[String]) -> Result<SimConfig, ConfigError> {
        Self::parse_with(args, &process_env)
    }

    /// [`SimConfig::parse`], looking twins up in `env`.
    pub fn parse_with(args: &[String], env: Env<'_>) -> Result<SimConfig, ConfigError> {
        let Some((first, rest)) = args.split_first() else {
            return Err(ConfigError(
                "rinha sim needs FILE, `generate` or `population`".into(),
            ));
        };
        if first.starts_with("--") {
            return Err(ConfigError(format!(
                "rinha sim needs FILE, `generate` or `population` before {first}"
            )));
        }
        let rest = join_fees(rest);
        let mut flags = Flags::new(SIM.flags, &rest, env)?;
        let form = match first.as_str() {
            "generate" | "population" => first.as_str(),
            _ => "FILE",
        };
        let fees = |flags: &mut Flags<'_>| -> Result<Option<[f64; 2]>, ConfigError> {
            let text: String = flags.get("fees")?;
            (text != "auto").then(|| parse_fees(&text)).transpose()
        };
        // Each form reads its own flags; one given to another form is an
        // error rather than silently ignored.
        let only = |flags: &mut Flags<'_>, names: &[&str]| -> Result<(), ConfigError> {
            for name in names {
                flags.not_for(name, &format!("rinha sim {form}"))?;
            }
            Ok(())
        };
        let command = match form {
            "generate" => {
                only(&mut flags, &["fees", "timelines", "trace"])?;
                SimCommand::Generate {
                    seed: flags.get("seed")?,
                    count: flags.get("count")?,
                    out: flags.get("out")?,
                }
            }
            "population" => {
                only(&mut flags, &["out", "trace"])?;
                SimCommand::Population {
                    seed: flags.get("seed")?,
                    count: flags.get("count")?,
                    fees: fees(&mut flags)?,
                    timelines: flags.get("timelines")?,
                }
            }
            _ => {
                only(&mut flags, &["seed", "count", "out", "timelines"])?;
                SimCommand::Run {
                    file: PathBuf::from(first),
                    fees: fees(&mut flags)?,
                }
            }
        };
        let router = RouterFlags::parse(&mut flags)?;
        let read_after = flags.millis("read-after-ms")?;
        let trace = matches!(command, SimCommand::Run { .. }) && flags.switch("trace")?;
        flags.finish()?;
        Ok(SimConfig {
            command,
            router,
            read_after,
            trace,
        })
    }
}

/// `--fees D F` → `--fees=D F`, so that the one-value flag parser takes it.
fn join_fees(args: &[String]) -> Vec<String> {
    let mut joined = Vec::with_capacity(args.len());
    let mut rest = args.iter().peekable();
    while let Some(arg) = rest.next() {
        let two = rest
            .clone()
            .take(2)
            .filter(|a| !a.starts_with("--"))
            .count()
            == 2;
        if arg == "--fees" && two {
            let (d, f) = (rest.next().expect("peeked"), rest.next().expect("peeked"));
            joined.push(format!("--fees={d} {f}"));
        } else {
            joined.push(arg.clone());
        }
    }
    joined
}

/// `D F` or `D,F`, each a fraction in `[0, 1)`.
fn parse_fees(text: &str) -> Result<[f64; 2], ConfigError> {
    let words: Vec<&str> = text.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let fee = |word: &str| word.parse::<f64>().ok().filter(|f| (0.0..1.0).contains(f));
    match words[..] {
        [d, f] => match (fee(d), fee(f)) {
            (Some(d), Some(f)) => Ok([d, f]),
            _ => Err(ConfigError(format!(
                "--fees {text:?}: two fractions in [0, 1)"
            ))),
        },
        _ => Err(ConfigError(format!(
            "--fees {text:?}: needs two values, D F"
        ))),
    }
}

#[cfg(test)]
mod tests;
