use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// Every named timeline in bench/timelines/.
pub(crate) fn named_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/timelines");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("bench/timelines/ is part of the repository")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the named timelines: {files:?}");
    files
}

/// Runs python3 with bench/ on its path: `code` reads the timeline at
/// `sys.argv[1]` through timeline.py. A missing python3 fails the test.
pub(crate) fn python(code: &str, file: &Path) -> String {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench");
    let script = format!(
        "import sys; sys.path.insert(0, {bench:?}); import timeline as t\n{code}",
        bench = bench.display().to_string()
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .expect("python3 runs (bench/timeline.py is the reference)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A timeline as one line per fact, the same from either parser.
fn flat(timeline: &Timeline) -> String {
    let mut text = format!(
        "{} {} {} {}\n",
        timeline.duration_s, timeline.vus, timeline.fees.default, timeline.fees.fallback
    );
    for s in &timeline.stages {
        text += &format!(
            "{} {} {} {} {}\n",
            s.at_s, s.default.delay_ms, s.default.failing, s.fallback.delay_ms, s.fallback.failing
        );
    }
    text
}

/// timeline.py's `json` output, flattened like [`flat`].
const PYTHON_FLAT: &str = r#"
import json, subprocess
out = subprocess.run([sys.executable, t.__file__, "json", sys.argv[1]], capture_output=True, check=True, text=True).stdout
tl = json.loads(out)
b = lambda x: "true" if x else "false"
n = lambda x: repr(float(x)).removesuffix(".0") if float(x) == int(x) else repr(float(x))
print(n(tl["duration"]), tl["vus"], n(tl["fees"][0]), n(tl["fees"][1]))
for s in tl["stages"]:
    print(n(s["at"]), s["default"]["delay"], b(s["default"]["failing"]), s["fallback"]["delay"], b(s["fallback"]["failing"]))
"#;

#[test]
fn every_named_timeline_reads_as_timeline_py_reads_it() {
    for file in named_files() {
        let ours = Timeline::load(&file).unwrap();
        assert_eq!(
            flat(&ours),
            python(PYTHON_FLAT, &file),
            "{}",
            file.display()
        );
    }
}

#[test]
fn settings_comments_labels_and_defaults() {
    let text = "# a comment\n\nvus 10   # trailing\n1 0 no 5 YES both ok\n2.5 2000 true 0 0\nfees 0.05 0.15\n";
    let timeline = Timeline::parse(text, "t").unwrap();
    assert_eq!(timeline.duration_s, FINAL_DURATION_S);
    assert_eq!(timeline.vus, 10);
    assert_eq!(timeline.fees, PREVIEW_FEES);
    assert_eq!(timeline.stages.len(), 2);
    assert_eq!(timeline.stages[0].label, "both ok");
    assert!(timeline.stages[0].fallback.failing);
    assert_eq!(timeline.stages[1].at_s, 2.5);
    assert_eq!(timeline.stages[1].default.delay_ms, 2000);
    // Before the first stage both are healthy at 0 ms; then the stage in force.
    assert_eq!(
        timeline.setting_at(999),
        (Setting::default(), Setting::default())
    );
    assert_eq!(timeline.setting_at(2_499).1.delay_ms, 5);
    assert_eq!(timeline.setting_at(2_500).0.delay_ms, 2000);
}

#[test]
fn bad_files_are_errors_naming_the_line() {
    let cases = [
        ("1 0 maybe 0 no\n", "t:1"),
        ("1 0 no 0\n", "t:1"),
        ("1 0 no 0 no\n1 0 no 0 no\n", "out of order"),
        ("1 -5 no 0 no\n", "t:1"),
        ("duration 10\n11 0 no 0 no\n", "past the end"),
        ("fees 0.5 1.5\n1 0 no 0 no\n", "fees"),
        ("# nothing\n", "no stages"),
        ("1 70000 no 0 no\n", "delay"),
    ];
    for (text, expected) in cases {
        let error = Timeline::parse(text, "t").unwrap_err();
        assert!(error.contains(expected), "{text:?}: {error}");
    }
}

#[test]
fn the_text_written_reads_back_the_same() {
    for file in named_files() {
        let timeline = Timeline::load(&file).unwrap();
        let again =
            Timeline::parse(&timeline.to_text("a comment\nover two lines"), "again").unwrap();
        assert_eq!(again, timeline, "{}", file.display());
    }
}
