//! What `rinha sim` prints: one timeline's run, or a population's regret.

use std::fmt::Write as _;

use super::engine::AT_RISK_MS;
use super::population::{Row, summarize};
use super::timeline::{Fees, Timeline};

/// The worst timelines a population report names.
const WORST_NAMED: usize = 5;

/// One timeline's run.
pub fn one(timeline: &Timeline, fees: Fees, row: &Row) -> String {
    let ours = &row.ours;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{}: {} s, {} VUs, fees {} / {}",
        row.name, timeline.duration_s, timeline.vus, fees.default, fees.fallback
    );
    let _ = writeln!(
        text,
        "  arrived {} (refused for a full ring {}), stored by the end: default {} / fallback {}, lag {} (the end excuses {:.0})",
        ours.arrived,
        ours.refused,
        ours.stored[0],
        ours.stored[1],
        ours.lag(),
        row.lag_allowance
    );
    let _ = writeln!(
        text,
        "  profit {:.2} % · best with hindsight {:.2} % (default {:.0} / fallback {:.0}) · regret {:.2} points",
        row.profit,
        100.0 * row.best.profit,
        row.best.default,
        row.best.fallback,
        row.regret
    );
    let _ = writeln!(
        text,
        "  stored ≥ {AT_RISK_MS} ms after their stamp (at risk at the check's 2 s margin): {} · recorded {} · requests {}",
        ours.at_risk[0] + ours.at_risk[1],
        ours.recorded,
        ours.requests
    );
    let _ = writeln!(
        text,
        "  with those earning nothing (the best never stores one): profit {:.2} %, regret {:.2} points",
        100.0 * ours.safe_profit(fees),
        row.safe_regret
    );
    text
}

/// A population's regret at one fee set.
pub fn population(fees: Fees, rows: &[Row]) -> String {
    let summary = summarize(rows, WORST_NAMED);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "fees {} / {}: {} timelines · regret (points) mean {:.3} · p90 {:.3} · worst {:.3} · mean lag {:.1} · mean at risk {:.1}",
        fees.default,
        fees.fallback,
        summary.count,
        summary.mean,
        summary.p90,
        summary.worst,
        summary.mean_lag,
        summary.mean_at_risk
    );
    let _ = writeln!(
        text,
        "  with the payments at risk earning nothing: regret mean {:.3} · p90 {:.3} · worst {:.3}",
        summary.safe[0], summary.safe[1], summary.safe[2]
    );
    let _ = writeln!(
        text,
        "  lag over what the end excuses (the best's loss, and what arrives within the last usable delay): {} of {} timelines, {} by over 0.1 % of the payments",
        summary.over_allowance[0], summary.count, summary.over_allowance[1]
    );
    for (name, regret) in &summary.worst_names {
        let _ = writeln!(text, "  worst: {name}: {regret:.2} points");
    }
    text
}
