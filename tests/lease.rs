//! A frozen leader (SIGSTOP: a paused container, a debugger, a VM stall)
//! no longer stops every payment: once its lease lapses another instance
//! takes over under a new epoch, and the frozen one, when it wakes, writes
//! nothing (every write it tries is fenced), steps down and stands again.
//! Whatever it had out is an unknown outcome its successor resolves at the
//! same processor; nothing is lost, nothing paid or recorded twice.
//!
//! Bounded: each test runs a few seconds of load against real processes
//! (`support::cluster`) and every wait has a timeout.

mod support;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rinha::store::leader::LEASE_MS;
use support::cluster::Cluster;
use support::load::{Background, Tally};
use support::summary::{Summary, backend_summary};

/// How long the drain may take to catch up once nothing blocks it.
const SETTLE: Duration = Duration::from_secs(30);
/// How long the first election may take.
const TAKEOVER: Duration = Duration::from_secs(2);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Settles, checks every id at both processors, and the totals against
/// the load: at least everything acknowledged, at most everything tried.
fn settle_and_verify(cluster: &mut Cluster, tally: &Tally) -> Summary {
    let settled = cluster.settle(tally.acked(), SETTLE);
    let paid = cluster.verify(tally);
    assert_eq!(paid, settled.requests(), "paid ids the load never posted");
    assert!(
        (tally.acked()..=tally.attempted()).contains(&settled.requests()),
        "{} but processors hold {settled:?}",
        tally.brief()
    );
    settled
}

/// Freezes the leader under load for `freeze` (longer than the lease)
/// while the default processor takes `delay` ms per payment, and checks
/// that the other instance pays meanwhile, that the frozen one steps down
/// without a write when it resumes, and that nothing is lost or doubled.
fn freeze_past_the_lease(name: &str, delay: u64, freeze: Duration) {
    assert!(freeze > ms(LEASE_MS));
    let mut cluster = Cluster::start(name, 2, &[]);
    let frozen = cluster.leader(TAKEOVER);
    let follower = 1 - frozen;
    let follower_addr = cluster.apis[follower].addr;
    cluster.default.delay(delay);
    // The frozen instance cannot answer its own clients: the load goes to
    // the other one (behind HAProxy, those clients would time out).
    let load = Background::start(Arc::new(Mutex::new(vec![follower_addr])), 4, ms(1));
    thread::sleep(ms(700));

    cluster.apis[frozen].proc.signal("STOP");
    let stopped = Instant::now();
    let recorded_before = backend_summary(follower_addr, None).requests();
    // The follower takes over once the lease lapses, and records payments
    // (only a leader records) within the lease plus a second, plus the
    // processor's own delay.
    let within = ms(LEASE_MS + 1000 + delay);
    assert!(
        cluster.apis[follower].wait_leader(within),
        "no takeover within {within:?} of the freeze"
    );
    let took_over = stopped.elapsed();
    let paying = loop {
        if backend_summary(follower_addr, None).requests() > recorded_before {
            break stopped.elapsed();
        }
        assert!(
            stopped.elapsed() < within,
            "nothing recorded within {within:?} of the freeze"
        );
        thread::sleep(ms(20));
    };
    thread::sleep(freeze.saturating_sub(stopped.elapsed()));

    cluster.apis[frozen].proc.signal("CONT");
    let stepped_down = cluster.apis[frozen]
        .proc
        .log
        .wait_for(Duration::from_secs(5), |l| l.contains("stepping down"))
        .expect("the resumed leader never stepped down");
    assert!(
        stepped_down.contains("landed after replacement 0"),
        "the replaced leader wrote after it was replaced: {stepped_down}"
    );
    let out: u64 = stepped_down
        .split("stepping down with ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of requests out in {stepped_down}"));
    if delay >= 1000 {
        assert!(out > 0, "nothing was out when it resumed: {stepped_down}");
    }
    thread::sleep(ms(500));
    let tally = load.finish();
    cluster.default.delay(0);
    assert!(
        tally.unknown.is_empty() && tally.refused.is_empty(),
        "{}",
        tally.brief()
    );
    let settled = settle_and_verify(&mut cluster, &tally);
    assert_eq!(settled.requests(), tally.acked());
    assert_eq!(
        backend_summary(cluster.apis[frozen].addr, None),
        cluster.processors_summary(None),
        "the resumed instance answers the processors' totals too"
    );
    eprintln!(
        "took over {took_over:?} and recorded {paying:?} after the freeze; {stepped_down}; {}",
        tally.brief()
    );
}

#[test]
fn a_leader_frozen_past_its_lease_is_replaced_and_steps_down_without_a_write() {
    freeze_past_the_lease("lease-freeze", 50, ms(3000));
}

#[test]
fn a_leader_resumed_with_requests_still_out_records_none_of_their_answers() {
    // A 3 s processor: what the leader sent just before the freeze is
    // still at the processor when it resumes 2 s later, and answered after.
    freeze_past_the_lease("lease-out", 3000, ms(2000));
}
