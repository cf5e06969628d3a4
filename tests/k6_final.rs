//! The final's scenario, compressed in time, as a functional test: with the
//! final's stage table (every delay and failure as in the final, only the
//! stage times and the ramp scaled to one minute) and its fees, our stack
//! must fail no payment, show no inconsistency, lose nothing (lag 0) and
//! report exactly what the processors hold. Profit and latency are printed,
//! never asserted: `bench/run.sh --final` at full size measures those
//! (docs/bench.md).
//!
//! The run is `bench/run.sh --final --seconds 60` on free ports with the
//! binary cargo just built; when k6 cannot be installed the script exits 77
//! and this test fails under `CI=true`
//! and says loudly that it did not run elsewhere.

mod support;

use std::fs;
use std::time::Duration;

use support::k6::{number, object, out_dir, run_bench};

/// The load's length: the final's 300 s scaled by 0.2.
const SECONDS: u32 = 60;
/// VUs at the end of the ramp: a third of the final's 603, so that k6, the
/// stack and both processors fit CI's two cores (~6 000 payments, up to
/// ~200 a second at the end).
const MAX_REQUESTS: u32 = 200;
/// The run, start-up, the per-second reading and the report take about
/// two minutes; this only bounds a wedged run.
const RUN_TIMEOUT: Duration = Duration::from_secs(420);

#[test]
fn the_final_compressed_in_time_pays_everything_once_and_agrees() {
    let out = out_dir("k6-final");
    let (seconds, max_requests) = (SECONDS.to_string(), MAX_REQUESTS.to_string());
    let args = [
        "--final",
        "--seconds",
        &seconds,
        "--max-requests",
        &max_requests,
        "--no-floor",
    ];
    let Some(result) = run_bench(&args, &out, RUN_TIMEOUT) else {
        return;
    };
    let run = object(&result, "ours");
    let payments = object(run, "payments");
    let http = object(run, "http");
    eprintln!(
        "final ×0.2: profit {:.2} % (best {:.2} %), p99 {:.3} ms, {} payments, lag {}, \
         inconsistencies {}",
        100.0 * number(run, "profit"),
        100.0 * number(object(&result, "best"), "profit"),
        number(run, "p99_raw_ms"),
        number(payments, "success"),
        number(run, "lag"),
        number(run, "inconsistencies"),
    );
    assert!(number(payments, "success") > 1000.0, "{run}");
    assert_eq!(number(payments, "failure"), 0.0, "failed POSTs");
    assert_eq!(number(http, "failed"), 0.0, "failed HTTP requests");
    assert!(number(run, "consistency_checks") >= 5.0, "{run}");
    assert_eq!(number(run, "inconsistencies"), 0.0, "{run}");
    assert_eq!(number(run, "lag"), 0.0, "{run}");
    assert!(
        run.contains("\"backend_matches_processors\": true"),
        "the backend's summary differs from the processors': {run}"
    );
    let _ = fs::remove_dir_all(&out);
}
