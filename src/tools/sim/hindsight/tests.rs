use std::path::Path;

use super::*;
use crate::tools::sim::generate::generate;
use crate::tools::sim::timeline::tests::{named_files, python};

/// timeline.py's `best()` at the file's fees: profit, default, fallback, lost.
fn python_best(file: &Path) -> [f64; 4] {
    let out = python(
        "r = t.best(t.load(sys.argv[1]))\nprint(repr(r['profit']), repr(r['default']), repr(r['fallback']), repr(r['lost']))",
        file,
    );
    let numbers: Vec<f64> = out.split_whitespace().map(|w| w.parse().unwrap()).collect();
    numbers.try_into().unwrap()
}

fn assert_agrees(timeline: &Timeline, file: &Path) {
    let ours = best(timeline, timeline.fees);
    let theirs = python_best(file);
    let what = file.display();
    assert!(
        (100.0 * (ours.profit - theirs[0])).abs() < 0.01,
        "{what}: {ours:?} vs {theirs:?}"
    );
    for (ours, theirs) in [ours.default, ours.fallback, ours.lost]
        .iter()
        .zip(&theirs[1..])
    {
        assert!((ours - theirs).abs() < 1e-6, "{what}: {ours} vs {theirs}");
    }
}

#[test]
fn agrees_with_timeline_py_on_every_named_timeline() {
    for file in named_files() {
        assert_agrees(&Timeline::load(&file).unwrap(), &file);
    }
}

#[test]
fn agrees_with_timeline_py_on_generated_timelines() {
    let dir = std::env::temp_dir().join(format!("rinha-hindsight-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for index in 0..12 {
        let timeline = generate(3, index);
        let file = dir.join(format!("{index}.txt"));
        std::fs::write(&file, timeline.to_text("test")).unwrap();
        assert_agrees(&timeline, &file);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_final_and_a_whole_outage() {
    let final_ = Timeline::load(&named_files()[3]).unwrap();
    assert!(named_files()[3].ends_with("final.txt"));
    let result = best(&final_, final_.fees);
    assert!((result.payments - 90_600.0).abs() < 1e-6);
    assert!((100.0 * result.profit - 92.43).abs() < 0.005, "{result:?}");
    // Both failing throughout: nothing can be stored.
    let dead = Timeline::parse("10 0 yes 0 yes\n", "dead").unwrap();
    let result = best(&dead, FINAL_FEES_FOR_TEST);
    assert!(result.lost > 0.0 && result.default + result.fallback < 600.0);
}

const FINAL_FEES_FOR_TEST: Fees = crate::tools::sim::timeline::FINAL_FEES;

#[test]
fn the_lag_the_end_excuses_is_the_usable_delay_s_arrivals_or_the_best_s_loss() {
    let timeline = |last: &str| {
        let text = format!("duration 300\nvus 600\nfees 0.07 0.1\n1 0 no 0 no\n290 {last}\n");
        Timeline::parse(&text, "t").unwrap()
    };
    let best_of = |t: &Timeline| best(t, t.fees);
    // The default at 1 s at the end: about 600 a second arrive, and the
    // last 1.1 s of them cannot be stored in time.
    let at_one_second = timeline("1000 no 5 no");
    let allowance = lag_allowance(&at_one_second, &best_of(&at_one_second));
    assert!((allowance - 599.0 * 1.1).abs() < 1.0, "{allowance}");
    // The default failing: the fallback's 5 ms is less than the last
    // whole second best() loses too.
    let fallback = timeline("1000 yes 5 no");
    let best = best_of(&fallback);
    assert!((best.lost - 599.0).abs() < 1.0, "{best:?}");
    assert_eq!(lag_allowance(&fallback, &best), best.lost);
    // Both failing: what the best loses, the last 10 s.
    let neither = timeline("0 yes 0 yes");
    let best = best_of(&neither);
    assert!(best.lost > 5_000.0);
    assert_eq!(lag_allowance(&neither, &best), best.lost);
}
