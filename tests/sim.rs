//! `rinha sim` as a user runs it: the binary, its output and its errors.

mod support;

use std::process::Output;

use support::processes::rinha;

fn sim(args: &[&str]) -> Output {
    rinha()
        .arg("sim")
        .args(args)
        .output()
        .expect("the rinha binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn one_timeline_prints_profit_best_regret_and_lag() {
    let text = stdout(&sim(&["bench/timelines/both-failing-20s.txt"]));
    assert!(text.contains("lag 0"), "{text}");
    assert!(
        text.contains("profit 93.00 % · best with hindsight 93.00 %"),
        "{text}"
    );
    assert!(text.contains("regret 0.00 points"), "{text}");
    // The file's own fees unless told otherwise.
    let text = stdout(&sim(&[
        "bench/timelines/final.txt",
        "--fees",
        "0.05",
        "0.15",
    ]));
    assert!(text.contains("fees 0.05 / 0.15"), "{text}");
    // Nothing from the router's log: the simulator silences it.
    assert!(sim(&["bench/timelines/final.txt"]).stderr.is_empty());
}

#[test]
fn generate_writes_files_that_run_and_regenerate_the_same() {
    let dir = std::env::temp_dir().join(format!("rinha-sim-gen-{}", std::process::id()));
    let out = dir.to_str().unwrap();
    stdout(&sim(&[
        "generate", "--seed", "9", "--count", "3", "--out", out,
    ]));
    let first = std::fs::read_to_string(dir.join("gen-9-0002.txt")).unwrap();
    stdout(&sim(&[
        "generate", "--seed", "9", "--count", "3", "--out", out,
    ]));
    assert_eq!(
        std::fs::read_to_string(dir.join("gen-9-0002.txt")).unwrap(),
        first
    );
    let file = dir.join("gen-9-0001.txt");
    let text = stdout(&sim(&[file.to_str().unwrap()]));
    assert!(text.contains("best with hindsight"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_population_reports_both_fee_sets_and_names_the_worst() {
    let text = stdout(&sim(&["population", "--seed", "2", "--count", "4"]));
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("fees")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("fees 0.05 / 0.15: 9 timelines"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("fees 0.07 / 0.1: 9 timelines"),
        "{text}"
    );
    assert!(text.contains("worst: "), "{text}");
}

#[test]
fn bad_flags_are_errors_naming_them() {
    let cases: [(&[&str], &str); 4] = [
        (&["population", "--sede", "1"], "--sede"),
        (&["bench/timelines/final.txt", "--fees", "0.07"], "--fees"),
        (
            &["bench/timelines/final.txt", "--max-hold-ms", "soon"],
            "--max-hold-ms",
        ),
        (&["no-such-file.txt"], "no-such-file.txt"),
    ];
    for (args, named) in cases {
        let output = sim(args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}
