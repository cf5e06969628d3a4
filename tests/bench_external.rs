//! `bench/run.sh --external` scores a backend it did not start: the
//! participant's case. Two ways a backend meets its processors:
//!
//! - `rinha local` started here, emulators and all; run.sh is told the
//!   processors are up (`--processors-up`) and starts nothing but k6;
//! - one `rinha api` started here, pointed at ports where nothing listens
//!   yet; run.sh starts the two emulators there, as it does for a
//!   participant's stack pointed at localhost:8001/8002.
//!
//! Each runs the final's stage table compressed to 20 s at 60 VUs (bounded:
//! about a minute with start-up and the per-second reading) and asserts on
//! the result JSON: payments accepted, none failed, lag 0, 0
//! inconsistencies, the backend's summary equal to the processors'. Under
//! CI=true a k6 that cannot be installed fails the test.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use support::k6::{number, object, out_dir, run_script};
use support::processes::{free_ports, rinha, scratch_dir, stop};

/// The load's length and size: the final's stages in 20 s, 60 VUs at the end.
const SECONDS: &str = "20";
const MAX_REQUESTS: &str = "60";
/// Bounds a wedged run; a normal one takes about a minute.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// A process started by the test, stopped with SIGTERM (so `rinha local`
/// stops its children) and then SIGKILL when dropped.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        stop(&mut self.0, Duration::from_secs(10));
    }
}

fn start_rinha(args: &[&str]) -> Started {
    Started(
        rinha()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start rinha"),
    )
}

/// `bench/run.sh --external --final ARGS`, bounded; `None` when k6 could
/// not be installed (a failure under CI=true).
fn run_external(args: &[&str], out: &Path) -> Option<String> {
    let mut all = vec!["--external", "--final", "--seconds", SECONDS];
    all.extend(["--max-requests", MAX_REQUESTS]);
    all.extend(args);
    run_script(&all, out, RUN_TIMEOUT)
}

/// What every scored run of a correct backend must show.
fn assert_scored_clean(result: &str) {
    let run = object(result, "ours");
    let payments = object(run, "payments");
    eprintln!(
        "external: profit {:.2} %, {} payments, lag {}, inconsistencies {}",
        100.0 * number(run, "profit"),
        number(payments, "success"),
        number(run, "lag"),
        number(run, "inconsistencies"),
    );
    assert!(number(payments, "success") > 300.0, "{run}");
    assert_eq!(number(payments, "failure"), 0.0, "failed POSTs: {run}");
    assert!(number(run, "consistency_checks") >= 2.0, "{run}");
    assert_eq!(number(run, "inconsistencies"), 0.0, "{run}");
    assert_eq!(number(run, "lag"), 0.0, "{run}");
    assert!(
        run.contains("\"backend_matches_processors\": true"),
        "the backend's summary differs from the processors': {run}"
    );
    assert!(number(run, "profit") > 0.5, "{run}");
}

#[test]
fn a_backend_started_apart_with_its_own_processors_is_scored() {
    let [port, default_port, fallback_port] = free_ports::<3>();
    let (port, default_port, fallback_port) = (
        port.to_string(),
        default_port.to_string(),
        fallback_port.to_string(),
    );
    // The final's fees, as the participant's processors would have them.
    let _stack = start_rinha(&[
        "local",
        "--port",
        &port,
        "--default-port",
        &default_port,
        "--fallback-port",
        &fallback_port,
        "--default-fee",
        "0.07",
        "--fallback-fee",
        "0.10",
    ]);
    let out = out_dir("bench-external-local");
    let ports = [
        "--processors-up",
        "--port",
        &port,
        "--default-port",
        &default_port,
        "--fallback-port",
        &fallback_port,
    ];
    let Some(result) = run_external(&ports, &out) else {
        return;
    };
    assert_scored_clean(&result);
    let _ = fs::remove_dir_all(&out);
}

#[test]
fn a_backend_pointed_at_the_processor_ports_is_scored_against_the_emulators_run_sh_starts() {
    let [port, default_port, fallback_port] = free_ports::<3>();
    let dir = scratch_dir("bench-external-api-files");
    let shared = dir.join("rinha.shm");
    let listen = format!("127.0.0.1:{port}");
    let default_url = format!("http://127.0.0.1:{default_port}");
    let fallback_url = format!("http://127.0.0.1:{fallback_port}");
    // Nothing listens on the processor ports yet: run.sh starts them.
    let _backend = start_rinha(&[
        "api",
        "--listen",
        &listen,
        "--shared-file",
        shared.to_str().unwrap(),
        "--default-url",
        &default_url,
        "--fallback-url",
        &fallback_url,
    ]);
    let out = out_dir("bench-external-api");
    let (port, default_port, fallback_port) = (
        port.to_string(),
        default_port.to_string(),
        fallback_port.to_string(),
    );
    let ports = [
        "--port",
        &port,
        "--default-port",
        &default_port,
        "--fallback-port",
        &fallback_port,
    ];
    let Some(result) = run_external(&ports, &out) else {
        return;
    };
    assert_scored_clean(&result);
    let picture = fs::read_to_string(out.join("chart.svg")).expect("chart.svg");
    assert!(
        picture.contains(&format!("the backend on :{port}")),
        "the picture names the backend it measured"
    );
    let _ = fs::remove_dir_all(&out);
    let _ = fs::remove_dir_all(&dir);
}
