//! Unit tests of `router`.

use super::*;
use Processor::{Default as D, Fallback as F};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn send(processor: Processor) -> Route {
    Route::Send {
        processor,
        probe: false,
    }
}

fn probe(processor: Processor) -> Route {
    Route::Send {
        processor,
        probe: true,
    }
}

/// A router at `t0` and a way to send through it with fresh ids.
struct Bench {
    router: Router,
    t0: Instant,
    next_id: u64,
}

impl Bench {
    fn new() -> Bench {
        Bench::with(Policy::default())
    }

    fn with(policy: Policy) -> Bench {
        let t0 = Instant::now();
        Bench {
            router: Router::new(policy, t0),
            t0,
            next_id: 0,
        }
    }

    fn at(&self, millis: u64) -> Instant {
        self.t0 + ms(millis)
    }

    /// Routes one payment at `millis`; a payment sent to the fallback (not
    /// a probe) is answered 1 ms later, as a healthy one would.
    fn route_to_healthy_fallback(&mut self, millis: u64) -> Route {
        let (route, id) = self.route(millis);
        if route == send(F) {
            self.answer(F, id, Answer::Works, millis + 1);
        }
        route
    }

    /// Routes one payment at `millis` and sends it if told to.
    fn route(&mut self, millis: u64) -> (Route, u64) {
        let now = self.at(millis);
        let route = self.router.route(now);
        self.next_id += 1;
        self.router.sent(route, self.next_id, now);
        (route, self.next_id)
    }

    fn answer(&mut self, processor: Processor, id: u64, answer: Answer, millis: u64) {
        let now = self.at(millis);
        self.router.answered(processor, id, Some(answer), now);
    }
}

#[test]
fn a_healthy_default_takes_everything() {
    let mut bench = Bench::new();
    for t in 0..100 {
        let (route, id) = bench.route(t);
        assert_eq!(route, send(D));
        bench.answer(D, id, Answer::Works, t + 1);
    }
}

#[test]
fn a_rising_delay_holds_payments_until_it_is_known() {
    let mut bench = Bench::new();
    let (_, first) = bench.route(0);
    bench.answer(D, first, Answer::Works, 5);
    // The delay rises to 1 s: the request sent at 10 ms is still out.
    let (route, slow) = bench.route(10);
    assert_eq!(route, send(D));
    assert_eq!(bench.route(30).0, send(D), "within 2 × 5 ms + grace");
    assert_eq!(
        bench.route(100).0,
        Route::Hold,
        "suspect: hold, not the fallback"
    );
    bench.answer(D, slow, Answer::Works, 1010);
    bench.answer(D, slow + 1, Answer::Works, 1030);
    assert_eq!(
        bench.route(1031).0,
        send(D),
        "1 s is safe: back to the default"
    );
}

#[test]
fn a_delay_past_the_safe_latency_moves_payments_to_a_ready_fallback() {
    let mut bench = Bench::new();
    let (_, id) = bench.route(0);
    assert_eq!(bench.route(1000).0, Route::Hold, "suspect");
    let (route, on_fallback) = bench.route(1750);
    assert_eq!(route, send(F), "slow: the fallback takes it");
    bench.answer(F, on_fallback, Answer::Works, 1751);
    bench.answer(D, id, Answer::Works, 2000);
    assert_eq!(bench.route(2001).0, send(F), "2 s is not safe");
    let health = Health {
        failing: false,
        min_response_time_ms: 100,
    };
    bench.router.health(D, health, bench.at(5000));
    assert_eq!(bench.route(5001).0, send(D), "health says it is fast again");
}

#[test]
fn a_new_leader_starts_from_the_latency_its_predecessor_saw() {
    // Issue 15, item 3: with a latency of zero, a new leader's requests
    // to a default taking 1.5 s made it suspect within 50 ms, and payments
    // waited a whole delay for the first answer.
    let mut bench = Bench::new();
    bench.router.inherit_latency(D, ms(1500));
    assert_eq!(bench.router.latency(D), ms(1500));
    let (_, first) = bench.route(0);
    assert_eq!(bench.route(100).0, send(D), "not suspect: 1.5 s is usual");
    assert_eq!(bench.route(1000).0, send(D));
    bench.answer(D, first, Answer::Works, 1500);
    assert_eq!(bench.route(1501).0, send(D));
    assert_eq!(bench.router.latency(D), ms(1500), "its own answer now");
    // A slow processor inherited is slow at once: the fallback takes over.
    let mut bench = Bench::new();
    bench.router.inherit_latency(D, ms(2000));
    assert_eq!(bench.route(0).0, send(F));
}

#[test]
fn the_time_to_store_is_heard_from_stores_not_from_instant_refusals() {
    // `faults`: a default full at 800 answered a new leader's payments
    // 429 at once; with that 0 ms as its delay, every 404 to a lookup of
    // an inherited payment looked final, and they were all sent again.
    let mut bench = Bench::new();
    assert_eq!(bench.router.store_latency(D), None, "nothing heard yet");
    bench.router.inherit_latency(D, ms(1500));
    assert_eq!(bench.router.store_latency(D), Some(ms(1500)));
    let ids: Vec<u64> = (0..4)
        .map(|n| bench.route(n))
        .map(|(route, id)| {
            assert_eq!(route, send(D));
            id
        })
        .collect();
    bench.answer(D, ids[0], Answer::Fails, 4);
    assert_eq!(bench.router.latency(D), ms(4), "routing hears the 429");
    assert_eq!(
        bench.router.store_latency(D),
        Some(ms(1500)),
        "storing does not"
    );
    bench.answer(D, ids[1], Answer::Works, 1901);
    assert_eq!(bench.router.store_latency(D), Some(ms(1900)));
    bench.answer(D, ids[2], Answer::Silent, 3002);
    assert_eq!(
        bench.router.store_latency(D),
        Some(ms(3000)),
        "at least that slow"
    );
    let health = Health {
        failing: false,
        min_response_time_ms: 1200,
    };
    bench.router.health(D, health, bench.at(3100));
    assert_eq!(bench.router.store_latency(D), Some(ms(1200)));
    bench.answer(D, ids[3], Answer::Silent, 3200);
    assert_eq!(
        bench.router.store_latency(D),
        Some(ms(1200)),
        "an answer older than the health's news changes nothing"
    );
    // Silence alone says nothing of how long storing takes.
    let mut bench = Bench::new();
    let (_, id) = bench.route(0);
    bench.answer(D, id, Answer::Silent, 5000);
    assert_eq!(bench.router.store_latency(D), None);
}

#[test]
fn a_failing_default_hands_payments_to_a_ready_fallback_and_is_probed_back() {
    let mut bench = Bench::new();
    let (_, id) = bench.route(0);
    bench.answer(D, id, Answer::Fails, 10);
    assert_eq!(
        bench.route_to_healthy_fallback(20),
        send(F),
        "no hold: the fallback at once"
    );
    let (route, probe_id) = bench.route(110);
    assert_eq!(route, probe(D), "one probe per interval");
    assert_eq!(bench.route_to_healthy_fallback(111), send(F));
    bench.answer(D, probe_id, Answer::Works, 130);
    assert_eq!(
        bench.route(131).0,
        send(D),
        "the default's recovery is seen by the next probe"
    );
}

#[test]
fn a_failing_default_is_probed_and_held_for_until_the_hold_ends() {
    let mut bench = Bench::with(Policy {
        max_hold: ms(25_000),
        ..Policy::default()
    });
    let (_, id) = bench.route(0);
    bench.answer(D, id, Answer::Fails, 10);
    assert_eq!(bench.route(20).0, Route::Hold, "no probe due yet");
    let (route, probe_id) = bench.route(110);
    assert_eq!(route, probe(D));
    assert_eq!(bench.route(150).0, Route::Hold, "one probe per interval");
    bench.answer(D, probe_id, Answer::Fails, 160);
    assert_eq!(
        bench.route(24_999).0,
        probe(D),
        "still holding for the default"
    );
    assert_eq!(bench.route(25_010).0, send(F), "the hold is over");
    let (route, probe_id) = bench.route(25_200);
    assert_eq!(
        route,
        probe(D),
        "still probed while the fallback carries the load"
    );
    bench.answer(D, probe_id, Answer::Works, 25_201);
    assert_eq!(
        bench.route(25_202).0,
        send(D),
        "and wins back the traffic, though older probes are still out"
    );
}

#[test]
fn answers_to_older_requests_do_not_undo_newer_news() {
    let mut bench = Bench::new();
    let (_, id) = bench.route(0);
    bench.answer(D, id, Answer::Fails, 10);
    // A probe caught in a 2 s delay ...
    let (route, old_probe) = bench.route(110);
    assert_eq!(route, probe(D));
    // ... and one sent after the recovery, answered first.
    let (_, new_probe) = bench.route(210);
    bench.answer(D, new_probe, Answer::Works, 230);
    bench.answer(D, old_probe, Answer::Works, 2110);
    assert_eq!(
        bench.route(2111).0,
        send(D),
        "the old probe's 2 s says nothing about the default now"
    );
}

#[test]
fn a_slowly_failing_processor_gets_a_few_probes_spread_over_its_delay() {
    // Each probe out when it recovers is stored 2 s after its stamp, so
    // four at most, one every 500 ms for a 2 s failure; before, none went
    // and a recovery was heard only through health, up to 5 s late.
    let mut bench = Bench::new();
    let (_, id) = bench.route(0);
    bench.answer(D, id, Answer::Fails, 2000);
    assert_eq!(
        bench.route(2200).0,
        send(F),
        "no probe due yet: it fails in 2 s; the fallback takes the payment"
    );
    let mut probes = Vec::new();
    for t in (2_400..6_000).step_by(10) {
        let (route, id) = bench.route(t);
        match route {
            Route::Send { processor: D, .. } => probes.push((t, id)),
            Route::Send { processor: F, .. } => bench.answer(F, id, Answer::Works, t + 1),
            Route::Hold => {}
        }
    }
    let sent: Vec<u64> = probes.iter().map(|&(t, _)| t).collect();
    assert_eq!(sent, [2500, 3000, 3500, 4000], "four, 500 ms apart");
    // The first fails after its 2 s, the next leaves 500 ms later; one
    // sent after the recovery comes back fast and hands the default back.
    let (_, first) = probes[0];
    bench.answer(D, first, Answer::Fails, 4500);
    let (route, id) = bench.route(5000);
    assert_eq!(route, probe(D));
    bench.answer(D, id, Answer::Works, 5020);
    assert_eq!(bench.route(5021).0, send(D), "back at the default");
}

#[test]
fn a_slowly_failing_processor_health_is_heard() {
    let mut bench = Bench::new();
    let (_, id) = bench.route(0);
    bench.answer(D, id, Answer::Fails, 2000);
    let health = Health {
        failing: false,
        min_response_time_ms: 20,
    };
    bench.router.health(D, health, bench.at(2100));
    assert_eq!(bench.route(2101).0, send(D));
}

#[test]
fn overflow_goes_to_a_ready_fallback() {
    let mut bench = Bench::new();
    bench.router.policy.max_in_flight = 2;
    assert_eq!(bench.route(0).0, send(D));
    assert_eq!(bench.route(0).0, send(D));
    assert_eq!(bench.route(0).0, send(F), "the default is busy");
    assert_eq!(bench.route(0).0, send(F));
    assert_eq!(bench.route(0).0, Route::Hold, "both busy");
}

#[test]
fn when_nothing_else_can_a_slow_processor_within_the_margin_takes_payments() {
    let health = |failing, min_response_time_ms| Health {
        failing,
        min_response_time_ms,
    };
    // The default slow but storing before the check's margin, the
    // fallback failing: the default, at once.
    let mut bench = Bench::new();
    bench.router.health(D, health(false, 1800), bench.at(0));
    bench.router.health(F, health(true, 0), bench.at(0));
    assert_eq!(bench.route(1).0, send(D));
    // Past the margin, never: only the failing fallback's probes leave.
    let mut bench = Bench::new();
    bench.router.health(D, health(false, 3000), bench.at(0));
    bench.router.health(F, health(true, 0), bench.at(0));
    assert_eq!(bench.route(1).0, Route::Hold, "no probe due yet");
    assert_eq!(
        bench.route(100).0,
        probe(F),
        "the failing fallback is probed"
    );
    for t in (101..60_000).step_by(1_000) {
        assert_ne!(bench.route(t).0, send(D), "at {t} ms");
    }
    // A request out past the margin counts as much as an answer: the
    // default's latency was 1.8 s, but one request has been out for 1.95 s.
    let mut bench = Bench::new();
    bench.router.health(D, health(false, 1800), bench.at(0));
    bench.router.health(F, health(true, 0), bench.at(0));
    let (route, _) = bench.route(1);
    assert_eq!(route, send(D));
    assert_ne!(bench.route(1_951).0, send(D), "past the margin now");
    // Both slow within the margin: the default first.
    let mut bench = Bench::new();
    bench.router.health(D, health(false, 1800), bench.at(0));
    bench.router.health(F, health(false, 1850), bench.at(0));
    assert_eq!(bench.route(1).0, send(D));
}

#[test]
fn a_pinned_payment_goes_only_to_its_processor() {
    let mut bench = Bench::new();
    let (_, id) = bench.route(0);
    // Reset 10 ms after it left: failing, but not slowly.
    bench.answer(D, id, Answer::Silent, 10);
    let now = bench.at(11);
    assert_eq!(
        bench.router.route_pinned(D, now),
        Route::Hold,
        "probe not due"
    );
    let later = bench.at(200);
    assert_eq!(bench.router.route_pinned(D, later), probe(D));
    assert_eq!(bench.router.route_pinned(F, later), send(F));
}

#[test]
fn a_processor_that_never_answers_is_heard_through_its_health_not_probed() {
    // Issue 15, item 6: a timeout used to leave the latency alone, so a
    // processor that accepts and never answers was probed every 100 ms,
    // each probe a real payment pinned there until its own timeout.
    let mut bench = Bench::new();
    let (_, id) = bench.route(0);
    bench.answer(D, id, Answer::Silent, 15_000);
    for t in (15_001..24_000).step_by(50) {
        assert_eq!(
            bench.route_to_healthy_fallback(t),
            send(F),
            "at {t} ms: no probe"
        );
        let pinned = bench.router.route_pinned(D, bench.at(t));
        assert_eq!(pinned, Route::Hold, "at {t} ms: no pinned probe");
    }
    assert_eq!(
        bench.router.condition(D, bench.at(24_000)),
        Condition::Failing
    );
    let health = Health {
        failing: false,
        min_response_time_ms: 10,
    };
    bench.router.health(D, health, bench.at(24_100));
    assert_eq!(bench.route(24_101).0, send(D), "its health says it is back");
}

#[test]
fn a_reset_soon_after_sending_is_a_failure_still_probed() {
    let mut bench = Bench::new();
    let (_, id) = bench.route(0);
    bench.answer(D, id, Answer::Works, 20);
    let (_, reset) = bench.route(30);
    bench.answer(D, reset, Answer::Silent, 40);
    assert_eq!(bench.route(41).0, send(F), "failing: no probe due yet");
    assert_eq!(bench.route(140).0, probe(D), "failing fast: probed");
}

#[test]
fn a_stale_keep_alive_connection_closed_says_nothing_about_the_processor() {
    // Issue 15, item 6: the server closing an idle keep-alive connection
    // just as a payment went out on it used to mark a healthy default
    // failing until its next answer.
    let mut bench = Bench::new();
    let (_, first) = bench.route(0);
    bench.answer(D, first, Answer::Works, 20);
    let (_, stale) = bench.route(30);
    bench.answer(D, stale, Answer::Stale, 31);
    assert_eq!(bench.router.condition(D, bench.at(32)), Condition::Ready);
    let (route, next) = bench.route(32);
    assert_eq!(route, send(D), "still the default");
    // Nor does it hide real news that comes after it.
    bench.answer(D, next, Answer::Fails, 40);
    assert_eq!(bench.router.condition(D, bench.at(41)), Condition::Failing);
}

#[test]
fn lookups_and_sends_to_a_slow_processor_stay_within_the_in_flight_limit() {
    // Issue 15, item 8: lookups went out whatever was out, and a pinned
    // payment went to a slow or suspect processor however many were out,
    // so connections (and the drainer's memory) had no bound. Lookups have
    // LOOKUP_ROOM more than payments: with every slot held by payments for
    // a whole delay, the lookup of a payment a dead leader left in flight
    // came too late to record it before its stamp entered the window.
    let mut bench = Bench::new();
    bench.router.policy.max_in_flight = 2;
    assert_eq!(bench.route(0).0, send(D));
    assert_eq!(bench.route(0).0, send(D));
    let now = bench.at(0);
    for n in 0..LOOKUP_ROOM as u64 {
        assert_eq!(bench.router.route_lookup(D), send(D), "lookup {n}");
        bench.router.sent(send(D), 100 + n, now);
    }
    assert_eq!(bench.router.route_lookup(D), Route::Hold, "full");
    assert_eq!(bench.router.route_lookup(F), send(F));
    let later = bench.at(3000);
    assert_eq!(bench.router.condition(D, later), Condition::Slow);
    assert_eq!(bench.router.route_pinned(D, later), Route::Hold, "full");
    bench.router.answered(D, 100, None, later);
    assert_eq!(bench.router.route_lookup(D), send(D), "room again");
}
