//! The drainer's throughput follows the processors' latency, and it stays
//! correct when its own process runs short of sockets.
//!
//! Real parts only: `rinha api` instances and `rinha processor` emulators
//! from the cluster harness, `rinha stat` reading the shared file, and
//! `prlimit` (util-linux) shrinking a live instance's descriptor limit.

mod support;

use std::process::Command;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use support::cluster::Cluster;
use support::json;
use support::load::{Pace, Tally, post_payments};
use support::prerequisite;
use support::processes::rinha;

const SETTLE: Duration = Duration::from_secs(60);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Posts `count` payments to `addr` from `threads` threads, as fast as
/// the instance answers.
fn post(addr: std::net::SocketAddr, count: usize, threads: usize) -> Tally {
    let per_thread = count.div_ceil(threads);
    let targets = Mutex::new(vec![addr]);
    let total = post_payments(
        &targets,
        threads,
        per_thread,
        Pace::Pause(Duration::ZERO),
        || false,
    );
    assert_eq!(
        total.acked(),
        (per_thread * threads) as u64,
        "{}",
        total.brief()
    );
    total
}

/// `rinha stat --json`'s payments in flight at each processor.
fn in_flight(shared_file: &std::path::Path) -> (u64, u64) {
    let output = rinha()
        .args(["stat", "--json", "--shared-file"])
        .arg(shared_file)
        .output()
        .expect("rinha stat runs");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let block = json::object(&text, "in_flight");
    (
        json::parse(block, "default"),
        json::parse(block, "fallback"),
    )
}

fn settle_and_verify(cluster: &mut Cluster, tally: &Tally) {
    let settled = cluster.settle(tally.acked(), SETTLE);
    assert_eq!(cluster.verify(tally), settled.requests());
    assert_eq!(settled.requests(), tally.acked(), "{}", tally.brief());
}

#[test]
fn hundreds_of_payments_are_out_at_once_at_a_slow_processor() {
    // 64 blocking workers once capped this at 64: Little's law then gave
    // 64 / latency payments a second, 32/s at a 2 s delay.
    let mut cluster = Cluster::start("in-flight", 1, &["--safe-latency-ms", "10000"]);
    cluster.default.delay(4000);
    let addr = cluster.apis[0].addr;
    // First the router learns the delay: until an answer shows it, a
    // request out far longer than the last latency holds the next ones.
    let warm_up = post(addr, 8, 2);
    cluster.settle(warm_up.acked(), SETTLE);
    let mut tally = post(addr, 600, 8);
    // Every payment is sent within a second (pacing: 2 500/s) and each
    // stays out for 4 s: look while they all are.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut most = 0;
    while Instant::now() < deadline && most < 500 {
        most = most.max(in_flight(&cluster.shared_file).0);
        thread::sleep(ms(100));
    }
    assert!(most >= 500, "at most {most} payments out at once");
    tally.merge(warm_up);
    settle_and_verify(&mut cluster, &tally);
    assert_eq!(
        cluster.processors_summary(None).fallback.requests,
        0,
        "a slow but safe default takes everything"
    );
}

/// The most `rinha stat` shows out at the default within `within`,
/// looking every 100 ms, stopping early once `enough` are.
fn most_in_flight(shared_file: &std::path::Path, within: Duration, enough: u64) -> u64 {
    let deadline = Instant::now() + within;
    let mut most = 0;
    while Instant::now() < deadline && most < enough {
        most = most.max(in_flight(shared_file).0);
        thread::sleep(ms(100));
    }
    most
}

/// Sets the soft descriptor limit of a live process; `false` (after
/// [`prerequisite::missing`]) when `prlimit` cannot.
fn set_soft_nofile(pid: u32, soft: u32) -> bool {
    let limited = Command::new("prlimit")
        .arg(format!("--nofile={soft}:"))
        .args(["--pid", &pid.to_string()])
        .status();
    match limited {
        Ok(status) if status.success() => true,
        other => {
            let why = format!("prlimit --pid gave {other:?}");
            prerequisite::missing("prlimit", &why, "apt-get install util-linux");
            false
        }
    }
}

#[test]
fn an_instance_given_its_descriptors_back_has_hundreds_out_again() {
    // Issue 15, item 4: one shortage used to cap the pool at what it held
    // then, for the rest of the process.
    let mut cluster = Cluster::start("fds-back", 1, &["--safe-latency-ms", "10000"]);
    cluster.default.delay(4000);
    let api = &cluster.apis[0];
    assert!(api.wait_leader(Duration::from_secs(10)));
    let (addr, pid) = (api.addr, api.proc.pid);
    let log = api.proc.log.clone();
    let mut tally = post(addr, 8, 2);
    cluster.settle(tally.acked(), SETTLE);
    // Short of descriptors with a few connections open ...
    if !set_soft_nofile(pid, 48) {
        return;
    }
    tally.merge(post(addr, 100, 4));
    let refused = log.wait_for(Duration::from_secs(20), |l| l.contains("out of sockets"));
    assert!(refused.is_some(), "never short: {:?}", log.lines());
    let short = most_in_flight(&cluster.shared_file, Duration::from_secs(2), u64::MAX);
    assert!(short < 48, "{short} out with 48 descriptors");
    // ... then given them back: hundreds out again at the 4 s delay.
    assert!(set_soft_nofile(pid, 4096));
    tally.merge(post(addr, 600, 8));
    let most = most_in_flight(&cluster.shared_file, Duration::from_secs(20), 400);
    assert!(most >= 400, "at most {most} out once descriptors were back");
    settle_and_verify(&mut cluster, &tally);
    assert_eq!(cluster.processors_summary(None).fallback.requests, 0);
}

#[test]
fn an_instance_out_of_descriptors_defers_sends_and_pays_everything_once() {
    let mut cluster = Cluster::start("no-fds", 1, &[]);
    cluster.default.delay(200);
    let api = &cluster.apis[0];
    assert!(api.wait_leader(Duration::from_secs(10)));
    // Enough descriptors for the listener, the shared file, the epolls and
    // a few connections, far fewer than the payments in flight want.
    let limited = Command::new("prlimit")
        .args(["--nofile=48:48", "--pid", &api.proc.pid.to_string()])
        .status();
    match limited {
        Ok(status) if status.success() => {}
        other => {
            let why = format!("prlimit --pid gave {other:?}");
            prerequisite::missing("prlimit", &why, "apt-get install util-linux");
            return;
        }
    }
    let tally = post(api.addr, 400, 4);
    settle_and_verify(&mut cluster, &tally);
    let log = cluster.apis[0].proc.log.lines().join("\n");
    assert!(log.contains("out of sockets"), "{log}");
    assert_eq!(
        cluster.processors_summary(None).fallback.requests,
        0,
        "running out of our own sockets says nothing about the default"
    );
}
