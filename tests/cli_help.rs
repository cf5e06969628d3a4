//! `rinha --help` and `rinha <command> --help` through the real binary:
//! exit 0, every command listed, every flag of the command's table printed
//! with its default; a bad flag exits 2 and points at `--help`.

mod support;

use std::process::Output;

use rinha::config::COMMANDS;

fn rinha(args: &[&str]) -> Output {
    support::processes::rinha()
        .args(args)
        .output()
        .expect("the rinha binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("help is UTF-8")
}

#[test]
fn rinha_help_lists_every_command_and_exits_zero() {
    for spelling in ["--help", "-h", "help"] {
        let output = rinha(&[spelling]);
        assert!(output.status.success(), "rinha {spelling}: {output:?}");
        let text = stdout(&output);
        for command in COMMANDS {
            assert!(
                text.contains(&format!("  {}", command.name)),
                "rinha {spelling} lacks {}:\n{text}",
                command.name
            );
        }
    }
}

#[test]
fn every_command_answers_help_with_its_flags_and_defaults() {
    assert!(COMMANDS.len() >= 4, "api, processor, local, stat at least");
    for command in COMMANDS {
        for spelling in ["--help", "-h"] {
            // After other flags too: --help wins, nothing is started.
            let output = rinha(&[command.name, "--port", "1", spelling]);
            assert!(
                output.status.success(),
                "rinha {} {spelling}: {output:?}",
                command.name
            );
            let text = stdout(&output);
            assert!(text.starts_with(&format!("usage: rinha {}", command.name)));
            for flag in command.flags {
                let line = text
                    .lines()
                    .find(|line| line.trim_start().starts_with(&format!("--{} ", flag.name)))
                    .unwrap_or_else(|| {
                        panic!("rinha {} --help lacks --{}", command.name, flag.name)
                    });
                assert!(
                    line.contains(flag.default_text()),
                    "--{}'s line lacks its default: {line}",
                    flag.name
                );
            }
        }
    }
}

#[test]
fn an_unknown_flag_exits_two_and_points_at_help() {
    for command in COMMANDS {
        // `rinha sim` takes its form (FILE, generate, population) first.
        let form: &[&str] = if command.name == "sim" {
            &["population"]
        } else {
            &[]
        };
        let args = [&[command.name], form, &["--no-such-flag", "1"]].concat();
        let output = rinha(&args);
        assert_eq!(output.status.code(), Some(2), "rinha {}", command.name);
        let text = String::from_utf8_lossy(&output.stderr);
        assert!(text.contains("unknown flag --no-such-flag"), "{text}");
        assert!(
            text.contains(&format!("rinha {} --help", command.name)),
            "{text}"
        );
    }
}

#[test]
fn a_reader_that_quits_early_is_not_a_crash() {
    // `rinha sim FILE --trace | head` used to panic in `println!` once
    // head had quit: a closed stdout ends the output quietly instead.
    for args in [
        &["stat", "--help"][..],
        &["sim", "bench/timelines/preview.txt", "--trace"][..],
    ] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let output = support::processes::rinha()
            .args(args)
            .stdout(writer)
            .output()
            .expect("the rinha binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "rinha {args:?}: {output:?}");
        assert!(!stderr.contains("panicked"), "rinha {args:?}: {stderr}");
    }
}
