//! Unit tests of `config`.

use super::*;

fn args(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

#[test]
fn flags_override_defaults_in_both_spellings() {
    let config = ApiConfig::parse(&args(
        "--listen unix:/tmp/a.sock --max-in-flight=8 --no-purge --default-url http://d:1",
    ))
    .unwrap();
    assert_eq!(config.listen, Listen::Unix("/tmp/a.sock".into()));
    assert_eq!(config.max_in_flight, 8);
    assert!(!config.purge_enabled);
    assert_eq!(config.max_request_age_ms, 1_000);
    assert!(config.drain);
    assert_eq!(config.default_url, "http://d:1");
}

#[test]
fn bad_flags_are_named_in_the_error() {
    for (line, expected) in [
        ("--bogus 1", "unknown flag --bogus"),
        ("--max-in-flight many", "--max-in-flight"),
        ("--max-in-flight 0", "--max-in-flight must be at least 1"),
        ("--max-send-rate 0", "--max-send-rate must be at least 1"),
        ("--ring-slots 1000", "power of two"),
        ("--listen nowhere", "neither host:port"),
        ("--listen", "--listen needs a value"),
        ("stray", "unexpected argument"),
        (
            "--max-in-flight 1 --max-in-flight 2",
            "--max-in-flight given twice",
        ),
        ("--no-purge --no-purge=false", "--no-purge given twice"),
        (
            "--no-purge=maybe",
            "--no-purge takes 1/true/yes/on or 0/false/no/off",
        ),
    ] {
        let error = ApiConfig::parse(&args(line)).unwrap_err().0;
        assert!(error.contains(expected), "{line}: {error}");
    }
}

#[test]
fn environment_switches_take_the_usual_spellings_and_refuse_the_rest() {
    // (RINHA_NO_PURGE, Ok(purge enabled) or a piece of the error)
    let cases: [(&str, Result<bool, &str>); 14] = [
        ("1", Ok(false)),
        ("true", Ok(false)),
        ("TRUE", Ok(false)),
        ("yes", Ok(false)),
        ("On", Ok(false)),
        ("0", Ok(true)),
        ("false", Ok(true)),
        ("no", Ok(true)),
        ("OFF", Ok(true)),
        (
            "",
            Err("RINHA_NO_PURGE takes 1/true/yes/on or 0/false/no/off, not \"\""),
        ),
        ("y", Err("RINHA_NO_PURGE takes")),
        ("2", Err("RINHA_NO_PURGE takes")),
        ("enabled", Err("not \"enabled\"")),
        (" true", Err("RINHA_NO_PURGE takes")),
    ];
    for (value, expected) in cases {
        let env = |name: &str| (name == "RINHA_NO_PURGE").then(|| value.to_string());
        let got = ApiConfig::parse_with(&[], &env).map(|c| c.purge_enabled);
        match (got, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{value:?}"),
            (Err(error), Err(want)) => assert!(error.0.contains(want), "{value:?}: {error}"),
            (got, want) => panic!("{value:?}: got {got:?}, want {want:?}"),
        }
    }
    // A flag on the command line wins over its twin, even a bad one.
    let env = |name: &str| (name == "RINHA_NO_PURGE").then(|| "bogus".to_string());
    let config = ApiConfig::parse_with(&args("--no-purge=off"), &env).unwrap();
    assert!(config.purge_enabled);
}

#[test]
fn every_flag_is_documented_in_the_readme() {
    let readme = include_str!("../../README.md");
    for command in COMMANDS {
        for flag in command.flags {
            assert!(
                readme.contains(&format!("--{}", flag.name)),
                "rinha {} --{} is not in README.md",
                command.name,
                flag.name
            );
        }
    }
}

/// Parses `args` as the flags of `command`, with an empty environment.
fn parse(command: &str, args: &[String]) -> Result<(), ConfigError> {
    let env = |_: &str| None;
    match command {
        "api" => ApiConfig::parse_with(args, &env).map(drop),
        "processor" => EmulatorConfig::parse_with(args, &env).map(drop),
        "local" => LocalConfig::parse_with(args, &env).map(drop),
        "stat" => StatConfig::parse_with(args, &env).map(drop),
        // A flag of `rinha sim` belongs to one form or more: any will do.
        "sim" => ["final.txt", "generate", "population"]
            .iter()
            .map(|form| {
                let with_form: Vec<String> = std::iter::once(form.to_string())
                    .chain(args.iter().cloned())
                    .collect();
                SimConfig::parse_with(&with_form, &env).map(drop)
            })
            .find(Result::is_ok)
            .unwrap_or_else(|| {
                let first = vec!["population".to_string()];
                SimConfig::parse_with(&[first, args.to_vec()].concat(), &env).map(drop)
            }),
        other => panic!("rinha {other} is in COMMANDS but not in this test's parse"),
    }
}

/// The flag names `--help` lists, one per flag line.
fn flags_in_help(command: &Command) -> Vec<String> {
    help(command)
        .lines()
        .filter_map(|line| line.strip_prefix("  --"))
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn the_parser_accepts_exactly_the_flags_the_help_lists() {
    for command in COMMANDS {
        // No flags: every table entry is read by the parser (`finish`
        // refuses otherwise) and every default in the table parses.
        parse(command.name, &[]).unwrap_or_else(|e| panic!("rinha {}: {e}", command.name));
        let listed = flags_in_help(command);
        let declared: Vec<&str> = command.flags.iter().map(|flag| flag.name).collect();
        assert_eq!(listed, declared, "rinha {} --help", command.name);
        let text = help(command);
        for flag in command.flags {
            assert!(
                text.contains(flag.default_text()) && text.contains(flag.help),
                "rinha {} --help lacks --{}'s default or help",
                command.name,
                flag.name
            );
        }
        // Every flag the help lists is accepted, given its default.
        for name in &listed {
            let flag = command.flags.iter().find(|f| f.name == name).unwrap();
            let given = match flag.kind {
                Kind::Value(default) => args(&format!("--{name} {default}")),
                Kind::Switch => args(&format!("--{name}")),
            };
            parse(command.name, &given).unwrap_or_else(|e| panic!("rinha {}: {e}", command.name));
        }
        // And a flag it does not list is refused.
        let error = parse(command.name, &args("--not-a-flag 1")).unwrap_err();
        assert!(error.0.contains("unknown flag --not-a-flag"), "{error}");
    }
}

#[test]
fn rinha_help_lists_every_command() {
    let text = usage(COMMANDS);
    for command in COMMANDS {
        assert!(text.contains(command.name) && text.contains(command.summary));
    }
}

#[test]
fn the_tables_defaults_are_the_documented_capacities() {
    let config = ApiConfig::parse_with(&[], &|_| None).unwrap();
    assert_eq!(config.capacities, Capacities::default());
    assert_eq!(config.listen, Listen::Tcp(([127, 0, 0, 1], 9999).into()));
    assert_eq!(config.processor_timeout, Duration::from_millis(15_000));
    let stat = StatConfig::parse_with(&[], &|_| None).unwrap();
    assert_eq!(stat.shared_file, config.shared_file);
}

#[test]
fn emulator_defaults_match_the_official_processor() {
    let config = EmulatorConfig::parse(&args("--port 8001 --fee 0.15")).unwrap();
    assert_eq!(config.listen, "127.0.0.1:8001".parse().unwrap());
    assert_eq!(config.fee, "0.15");
    assert_eq!(config.token, "123");
}

#[test]
fn local_passes_the_preview_fees_unless_told_the_finals() {
    let config = LocalConfig::parse(&args("")).unwrap();
    assert_eq!(
        (config.default_fee.as_str(), config.fallback_fee.as_str()),
        ("0.05", "0.15")
    );
    let config = LocalConfig::parse(&args("--default-fee 0.07 --fallback-fee=0.10")).unwrap();
    assert_eq!(
        (config.default_fee.as_str(), config.fallback_fee.as_str()),
        ("0.07", "0.10")
    );
}
