use super::*;
use crate::tools::sim::engine::Outcomes;
use crate::tools::sim::hindsight::Best;

fn row(name: &str, regret: f64, lag: u64) -> Row {
    Row {
        name: name.into(),
        ours: Outcomes {
            arrived: 100 + lag,
            stored: [100, 0],
            ..Outcomes::default()
        },
        best: Best {
            payments: 0.0,
            default: 0.0,
            fallback: 0.0,
            lost: 0.0,
            profit: 0.0,
        },
        profit: 0.0,
        regret,
        safe_regret: regret + 1.0,
        lag_allowance: 5.0,
    }
}

#[test]
fn mean_p90_worst_and_the_worst_named() {
    let rows: Vec<Row> = (1..=10)
        .map(|i| row(&format!("#{i}"), i as f64, i))
        .collect();
    let summary = summarize(&rows, 3);
    assert_eq!(summary.count, 10);
    assert_eq!(summary.mean, 5.5);
    assert_eq!(summary.p90, 9.0, "nearest rank: the 9th of 10");
    assert_eq!(summary.worst, 10.0);
    assert_eq!(summary.safe, [6.5, 10.0, 11.0]);
    assert_eq!(summary.mean_lag, 5.5);
    assert_eq!(summary.over_allowance, [5, 5], "lags 6 to 10 of 1 to 10");
    let names: Vec<&str> = summary
        .worst_names
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["#10", "#9", "#8"]);
}

#[test]
fn two_threads_give_the_rows_in_order_and_as_one_would() {
    use crate::tools::sim::timeline::{FINAL_FEES, PREVIEW_FEES};
    let entries = generated(5, 6);
    let setup = crate::tools::sim::default_setup();
    let both = run(&entries, &[(FINAL_FEES, setup), (PREVIEW_FEES, setup)]);
    assert_eq!(both.len(), 2);
    let rows = &both[0];
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let expected: Vec<String> = (0..6).map(|i| format!("seed 5 #{i}")).collect();
    assert_eq!(names, expected);
    for (i, entry) in entries.iter().enumerate() {
        let alone = super::row(entry, FINAL_FEES, setup);
        assert_eq!(alone.ours, rows[i].ours);
        assert_eq!(alone.regret, rows[i].regret);
        let preview = super::row(entry, PREVIEW_FEES, setup);
        assert_eq!(
            preview.ours, both[1][i].ours,
            "simulated once, scored twice"
        );
        assert_eq!(preview.regret, both[1][i].regret);
    }
}
