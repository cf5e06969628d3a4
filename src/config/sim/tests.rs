use std::time::Duration;

use super::*;

fn parse(line: &str) -> Result<SimConfig, ConfigError> {
    let args: Vec<String> = line.split_whitespace().map(String::from).collect();
    SimConfig::parse(&args)
}

#[test]
fn the_three_forms_and_the_router_flags() {
    let config = parse("final.txt --fees 0.05 0.15 --max-hold-ms 0 --trace").unwrap();
    assert_eq!(
        config.command,
        SimCommand::Run {
            file: "final.txt".into(),
            fees: Some([0.05, 0.15]),
        }
    );
    assert_eq!(config.router.max_hold, Duration::ZERO);
    assert!(config.trace);
    let config = parse("population --count 7 --fees 0.07,0.10").unwrap();
    assert_eq!(
        config.command,
        SimCommand::Population {
            seed: 1,
            count: 7,
            fees: Some([0.07, 0.10]),
            timelines: "bench/timelines".into(),
        }
    );
    // rinha api's defaults.
    assert_eq!(config.router.max_hold, Duration::ZERO);
    assert_eq!(config.router.safe_latency, Duration::from_millis(1_750));
    assert_eq!(
        (config.router.max_in_flight, config.router.max_send_rate),
        (800, 10_000)
    );
    let config = parse("generate --seed 3 --count 2 --out /tmp/x").unwrap();
    assert!(matches!(
        config.command,
        SimCommand::Generate {
            seed: 3,
            count: 2,
            ..
        }
    ));
}

#[test]
fn mistakes_are_errors_naming_the_flag() {
    let cases = [
        ("", "FILE"),
        ("final.txt --fees 0.07", "--fees"),
        ("final.txt --fees 0.07 1.5", "--fees"),
        ("population --trace", "--trace"),
        ("population --max-in-flight 0", "--max-in-flight"),
        ("--seed 1", "--seed"),
        ("generate --sed 1", "--sed"),
    ];
    for (line, named) in cases {
        let error = parse(line).unwrap_err();
        assert!(error.0.contains(named), "{line:?}: {error}");
    }
}
