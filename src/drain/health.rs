//! Polling each processor's health endpoint as often as its limit allows.
//!
//! The endpoint answers one call per 5 s per processor, whoever calls, so
//! the window is claimed through the shared file: an instance that just
//! became leader does not spend a call its predecessor already made. Every
//! answer goes to the router (through a channel: the router lives on the
//! drainer's event loop) and into the file for `rinha stat`.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::domain::payment::{Health, Processor};
use crate::domain::time::now_millis;
use crate::drain::client::HealthClient;
use crate::store::shared_file::SharedFile;

/// The limit is one call per 5 s per processor, in fixed windows; 100 ms
/// of margin keeps two calls out of one window even when the first one
/// travels slower than the second.
const HEALTH_INTERVAL_MS: u64 = 5_100;

/// How often the poller looks whether a window is due.
const TICK: Duration = Duration::from_millis(250);

/// Starts the poller thread; answers arrive on `answers`.
pub fn spawn(
    shared: Arc<SharedFile>,
    clients: [HealthClient; 2],
    answers: Sender<(Processor, Health)>,
) {
    let body = move || {
        loop {
            for processor in [Processor::Default, Processor::Fallback] {
                if let Some(health) = poll_once(&shared, &clients[processor as usize], processor)
                    && answers.send((processor, health)).is_err()
                {
                    return; // the drainer is gone
                }
            }
            thread::sleep(TICK);
        }
    };
    thread::Builder::new()
        .name("health".into())
        .stack_size(256 * 1024)
        .spawn(body)
        .expect("the drainer cannot run without its health poller");
}

/// Calls `processor`'s health endpoint if its window is due and this
/// process wins the claim on it.
fn poll_once(shared: &SharedFile, client: &HealthClient, processor: Processor) -> Option<Health> {
    if !shared.claim_health_window(processor, now_millis() as u64, HEALTH_INTERVAL_MS) {
        return None;
    }
    let health = client.health()?;
    shared.record_health(processor, health);
    Some(health)
}
