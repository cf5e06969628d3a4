//! The `rinha` binary: parse the subcommand, hand over to its module.

use std::process::ExitCode;

use rinha::config::{
    self, ApiConfig, COMMANDS, EmulatorConfig, LocalConfig, SimConfig, StatConfig,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = config::usage(COMMANDS);
    let Some((command, flags)) = args.split_first() else {
        rinha::log!("{usage}");
        return ExitCode::from(2);
    };
    let wants_help = flags.iter().any(|flag| flag == "--help" || flag == "-h");
    if let Some(known) = config::command(command).filter(|_| wants_help) {
        rinha::log::report(&format!("{}\n", config::help(known)));
        return ExitCode::SUCCESS;
    }
    let outcome = match command.as_str() {
        "api" => ApiConfig::parse(flags).map(rinha::cli::api::run),
        "processor" => EmulatorConfig::parse(flags).map(rinha::tools::emulator::run),
        "local" => LocalConfig::parse(flags).map(rinha::tools::local::run),
        "stat" => StatConfig::parse(flags).map(rinha::tools::stat::run),
        "sim" => SimConfig::parse(flags).map(rinha::tools::sim::run),
        "help" | "--help" | "-h" => {
            rinha::log::report(&format!("{usage}\n"));
            return ExitCode::SUCCESS;
        }
        other => {
            rinha::log!("rinha: unknown command {other:?}\n\n{usage}");
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
            rinha::log!("rinha {command}: {error}\n\n`rinha {command} --help` lists its flags.");
            ExitCode::from(2)
        }
    }
}
