//! The `rinha` binary: parse the subcommand, hand over to its module.

use std::process::ExitCode;

use rinha::config::{ApiConfig, EmulatorConfig, LocalConfig, SimConfig, StatConfig};

const USAGE: &str = "\
usage: rinha <command> [--flag value ...]

commands:
  api        serve the backend on --listen (tcp host:port or unix:/path)
  processor  emulate an official payment processor on --port
  local      run the whole stack on this machine (emulators, 2 instances, HAProxy :9999)
  stat       print what the shared file holds, read-only (--shared-file, --watch, --json)
  sim        simulate the drainer's routing on a virtual clock (docs/sim.md):
               rinha sim FILE [--fees D F]            one timeline (bench/timelines/*.txt)
               rinha sim generate --seed S --count N --out DIR
               rinha sim population --seed S --count N [--fees D F] [--timelines DIR]
             with rinha api's --max-hold-ms --safe-latency-ms --max-in-flight
             --max-send-rate --processor-timeout-ms

local flags:
  --port 9999 --default-port 8001 --fallback-port 8002
  --haproxy-cfg PATH  the HAProxy configuration to adapt (default ./haproxy.cfg,
                      else the copy built into the binary)
  --no-haproxy        share the port with SO_REUSEPORT instead of HAProxy

Every --flag also reads RINHA_FLAG from the environment (e.g. --shared-file ⇔ RINHA_SHARED_FILE);
a switch there takes 1/true/yes/on or 0/false/no/off. A flag given twice is an error.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, flags)) = args.split_first() else {
        rinha::log!("{USAGE}");
        return ExitCode::from(2);
    };
    let outcome = match command.as_str() {
        "api" => ApiConfig::parse(flags).map(rinha::cli::api::run),
        "processor" => EmulatorConfig::parse(flags).map(rinha::tools::emulator::run),
        "local" => LocalConfig::parse(flags).map(rinha::tools::local::run),
        "stat" => StatConfig::parse(flags).map(rinha::tools::stat::run),
        "sim" => SimConfig::parse(flags).map(rinha::tools::sim::run),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            rinha::log!("rinha: unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            rinha::log!("rinha {command}: {error}");
            ExitCode::FAILURE
        }
        Err(error) => {
            rinha::log!("rinha {command}: {error}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
