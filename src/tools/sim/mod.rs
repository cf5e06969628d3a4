//! `rinha sim`: the drainer's routing decisions on a virtual clock, fast
//! enough to judge a policy on hundreds of timelines.
//!
//! # What it models
//!
//! - The load: the final's k6 ramp, VUs from 1 to `vus` linearly over the
//!   duration, each posting 20.05 once a second, spread over the
//!   milliseconds by a fractional accumulator (deterministic).
//! - The drainer (src/drain/drainer.rs), turn by turn in 1 ms ticks: the
//!   **real** [`Router`](crate::drain::router::Router), the real
//!   [`Pacer`](crate::drain::pacer::Pacer) at `--max-send-rate`, the real
//!   exactly-once state machine [`fate::next`](crate::drain::fate::next)
//!   and the real retry backoff of a pinned payment
//!   ([`Job::back_off`](crate::drain::intake::Job::back_off)); requests
//!   unanswered after `--processor-timeout-ms` end unknown and pin their
//!   payment, as the pool's expiry does; the health poller's answer
//!   reaches the router every 5.25 s.
//! - Each processor ([`processor`]): 800 at work, 500 waiting, 429 beyond;
//!   the delay read when a request gets its place, the failure flag when
//!   the delay ends, as the emulator does.
//! - The score: a payment counts when a processor stored it by the end of
//!   the load; profit is (stored × (1 − fee), summed) ÷ arrived, the best
//!   with hindsight is bench/timeline.py's ([`hindsight`]).
//!
//! # What it does not model
//!
//! CPU (the drainer's loop and the emulators never run late here; on the
//! 2-vCPU machine they share cores with k6 and HAProxy), HAProxy and the
//! API instances (a payment is in the backlog the millisecond it arrives),
//! the network beyond one [`engine::RTT_MS`] per answer, connection setup
//! and the descriptor limit, the health endpoint's own 5 s window seen from
//! two instances, leader changes, k6's iterations slowing when responses
//! do (it posts exactly `VUs` a second), and the consistency check itself:
//! [`outcomes::Outcomes::at_risk`] counts the payments stored late enough to
//! risk one instead.
//!
//! # Layout
//!
//! - [`timeline`]: the timeline files' one grammar (bench/timeline.py's).
//! - [`hindsight`]: the best profit with hindsight.
//! - [`processor`]: one processor's limits, delays and failures.
//! - [`engine`]: the drainer's loop on the virtual clock.
//! - [`outcomes`]: what a run ended with, and its profit.
//! - [`generate`]: random timelines with the final's structure.
//! - [`population`]: many timelines, one policy, the regret.
//! - [`report`]: what the commands print.

pub mod engine;
pub mod generate;
pub mod hindsight;
pub mod outcomes;
pub mod population;
pub mod processor;
pub mod report;
pub mod timeline;

use std::error::Error;

use crate::config::{RouterFlags, SimCommand, SimConfig};
use crate::drain::router::Policy;
use engine::Setup;
use timeline::{FINAL_FEES, Fees, PREVIEW_FEES, Timeline};

/// The simulated drainer's setup from the flags, at `fees`: the one place
/// the router's [`Policy`] is built for the simulator, as `Drainer::new`
/// builds it from `ApiConfig` (a policy that weighs the fees takes them
/// from here).
pub fn setup(config: &SimConfig, fees: Fees) -> Setup {
    let _ = fees; // today's policy does not weigh them
    let router: &RouterFlags = &config.router;
    Setup {
        policy: Policy {
            max_hold: router.max_hold,
            safe_latency: router.safe_latency,
            max_latency: router.max_latency,
            max_in_flight: router.max_in_flight,
        },
        max_send_rate: router.max_send_rate,
        processor_timeout_ms: router.processor_timeout.as_millis() as u64,
        ring_slots: u64::from(crate::config::Capacities::default().ring_slots),
        read_after_ms: config.read_after.as_millis() as u64,
        trace: config.trace,
    }
}

/// The setup `rinha sim population` gets with no flags and no environment:
/// `rinha api`'s defaults, taken from the flag table, for tests.
#[cfg(test)]
pub(crate) fn default_setup() -> Setup {
    crate::log::silence(true);
    let config = SimConfig::parse_with(&["population".to_string()], &|_| None)
        .expect("the flag table's defaults parse");
    setup(&config, FINAL_FEES)
}

/// Runs `rinha sim`, with the router's log silenced meanwhile (an error
/// is still reported: the log is back on when this returns).
pub fn run(config: SimConfig) -> Result<(), Box<dyn Error>> {
    crate::log::silence(true);
    let result = run_silently(&config);
    crate::log::silence(false);
    result
}

fn run_silently(config: &SimConfig) -> Result<(), Box<dyn Error>> {
    match config.command.clone() {
        SimCommand::Run { file, fees } => {
            let timeline = Timeline::load(&file)?;
            let fees = fees.map_or(timeline.fees, fees_of);
            let entry = population::Entry {
                name: file.display().to_string(),
                timeline,
            };
            let row = population::row(&entry, fees, setup(config, fees));
            crate::log::report(&report::one(&entry.timeline, fees, &row));
        }
        SimCommand::Generate { seed, count, out } => {
            std::fs::create_dir_all(&out)?;
            for index in 0..count {
                let timeline = generate::generate(seed, index);
                let path = out.join(format!("gen-{seed}-{index:04}.txt"));
                let comment = format!(
                    "Generated: `rinha sim generate --seed {seed} --count {}` (timeline #{index}).",
                    index + 1
                );
                std::fs::write(&path, timeline.to_text(&comment))?;
            }
            crate::log::report(&format!("wrote {count} timelines to {}\n", out.display()));
        }
        SimCommand::Population {
            seed,
            count,
            fees,
            timelines,
        } => {
            let mut entries = population::generated(seed, count);
            entries.extend(population::named(&timelines)?);
            let fee_sets = match fees {
                Some(fees) => vec![fees_of(fees)],
                None => vec![PREVIEW_FEES, FINAL_FEES],
            };
            let scorings: Vec<_> = fee_sets
                .into_iter()
                .map(|fees| (fees, setup(config, fees)))
                .collect();
            let rows = population::run(&entries, &scorings);
            for ((fees, _), rows) in scorings.iter().zip(&rows) {
                crate::log::report(&report::population(*fees, rows));
            }
        }
    }
    Ok(())
}

fn fees_of([default, fallback]: [f64; 2]) -> Fees {
    Fees { default, fallback }
}
