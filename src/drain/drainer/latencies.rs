//! The processors' latencies across a change of leader: a new leader
//! starts from the ones its predecessor wrote into the file, if they are
//! fresh, and writes the ones it knows there for its successor.

use std::time::Duration;

use crate::domain::payment::Processor;
use crate::domain::time::now_millis;

use super::Drainer;

/// How old a latency an earlier leader left in the file may be and still
/// be taken (see `layout::ObservedLatency`): a leader that dies writes it
/// until its last 50 ms, so a takeover finds it fresh; an older one was
/// left by a leader frozen or long gone, and by then the health endpoint
/// (asked every 5 s) tells more recent news.
const INHERIT_LATENCY_WITHIN: Duration = Duration::from_secs(5);

impl Drainer {
    /// Starts from the latencies the previous leader saw, if it wrote them
    /// lately: without them this leader could not tell, for a whole delay,
    /// when the payments it inherited in flight come out of the processor
    /// (`fate::out_in`), and would look them up blindly, hundreds at a time.
    pub(super) fn inherit_latencies(&mut self) {
        let now_ms = now_millis().max(0) as u64;
        for processor in [Processor::Default, Processor::Fallback] {
            let Some(seen) = self.leader.shared().observed_latency(processor) else {
                continue;
            };
            let age = Duration::from_millis(now_ms.saturating_sub(seen.at_ms));
            if age > INHERIT_LATENCY_WITHIN {
                continue;
            }
            let latency = Duration::from_millis(seen.latency_ms);
            self.router.inherit_latency(processor, latency);
            crate::log!(
                "rinha drainer: {} processor's latency was {} ms {} ms ago",
                processor.name(),
                seen.latency_ms,
                age.as_millis()
            );
        }
    }

    /// Writes how long each processor takes to store, as this leader knows
    /// it, into the file, for the next.
    pub(super) fn publish_latencies(&self) {
        let now_ms = now_millis().max(0) as u64;
        for processor in [Processor::Default, Processor::Fallback] {
            if let Some(latency) = self.store_latency(processor) {
                let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
                self.leader
                    .shared()
                    .record_latency(processor, latency_ms, now_ms);
            }
        }
    }

    /// How long `processor` takes to store a payment, if heard (or
    /// inherited): what `fate` judges a lookup's 404 by
    /// ([`crate::drain::router::Router::store_latency`]).
    pub(super) fn store_latency(&self, processor: Processor) -> Option<Duration> {
        self.router.store_latency(processor)
    }
}
