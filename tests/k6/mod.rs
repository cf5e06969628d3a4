//! What the k6 tests share: free ports, running `bench/run.sh` bounded in
//! time, and reading numbers out of the result JSON `bench/report.py`
//! pretty-prints.

#![allow(dead_code)] // each test file uses its own subset

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// `bench/run.sh`'s status when k6 cannot be installed.
pub const EXIT_SKIP: i32 = 77;

/// N distinct free ports of 127.0.0.1.
pub fn free_ports<const N: usize>() -> [u16; N] {
    // Held together so that the N ports differ.
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// Runs `bench/run.sh ARGS` with the binary cargo built, on free ports,
/// writing into `out`; SIGTERM (which stops the stack) then SIGKILL after
/// `timeout`. `None` when the script says k6 could not be installed.
pub fn run_bench(args: &[&str], out: &Path, timeout: Duration) -> Option<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let [port, default_port, fallback_port] = free_ports::<3>();
    let mut child = Command::new("bash")
        .arg(root.join("bench/run.sh"))
        .args(args)
        .args(["--no-publish", "--bin", env!("CARGO_BIN_EXE_rinha")])
        .arg("--out")
        .arg(out)
        .args(["--port", &port.to_string()])
        .args(["--default-port", &default_port.to_string()])
        .args(["--fallback-port", &fallback_port.to_string()])
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
            panic!("bench/run.sh still running after {timeout:?}");
        }
        thread::sleep(Duration::from_millis(200));
    };
    if status.code() == Some(EXIT_SKIP) {
        return None;
    }
    assert!(status.success(), "bench/run.sh failed: {status}");
    Some(())
}

/// The number after `"key": ` in `json` (pretty-printed by bench/report.py).
pub fn number(json: &str, key: &str) -> f64 {
    let needle = format!("\"{key}\": ");
    let start = json
        .find(&needle)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + needle.len();
    let text: String = json[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+'))
        .collect();
    text.parse()
        .unwrap_or_else(|_| panic!("{key} is not a number: {text:?}"))
}

/// The text of the object that follows `"name": ` up to its closing brace.
pub fn object<'a>(json: &'a str, name: &str) -> &'a str {
    let start = json
        .find(&format!("\"{name}\": {{"))
        .unwrap_or_else(|| panic!("no {name} object in {json}"));
    let mut depth = 0;
    for (i, c) in json[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &json[start..start + i + 1];
                }
            }
            _ => {}
        }
    }
    panic!("unterminated {name} object");
}
