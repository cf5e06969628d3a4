//! The header words that are neither ring nor ledger: the router's route,
//! each processor's health window, last answer and observed latency, the
//! payments each refused, and who leads. Written by the leader (the health
//! window by whoever claims it), read by `rinha stat`; no decision in
//! another process reads them, but for the observed latency, which the
//! next leader starts from.

use std::sync::atomic::Ordering;

use super::SharedFile;
use crate::domain::payment::{Health, Processor};
use crate::store::layout::{HealthAnswer, HealthRecord, ObservedLatency, RouteChoice};

impl SharedFile {
    /// The router's current choice (see [`RouteChoice`]).
    pub fn route_choice(&self) -> RouteChoice {
        // Relaxed: a status value; nothing else is published through it.
        RouteChoice::decode(self.header().route.0.load(Ordering::Relaxed))
    }

    /// Records the router's choice for status output. Leader only.
    pub fn set_route_choice(&self, route: RouteChoice) {
        // Relaxed: for `rinha stat` and humans; no decision reads it.
        self.header().route.0.store(route as u64, Ordering::Relaxed);
    }

    /// Claims `processor`'s health window at `now_ms` if the last claim,
    /// by any process, is at least `interval_ms` old; true if this caller
    /// won it and may call the health endpoint. At most one caller wins
    /// each window, across instances and changes of leader.
    pub fn claim_health_window(&self, processor: Processor, now_ms: u64, interval_ms: u64) -> bool {
        let record = self.health_record(processor);
        // Relaxed: a stale value only makes the CAS below fail.
        let last = record.checked_at_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < interval_ms {
            return false;
        }
        // Relaxed CAS: it only has to let one caller claim each window;
        // nothing else is published through the timestamp.
        record
            .checked_at_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Stores what `processor`'s health endpoint answered, for status
    /// output (`rinha stat`). Called by the winner of the window.
    pub fn record_health(&self, processor: Processor, health: Health) {
        let answer = HealthAnswer {
            failing: health.failing,
            min_response_time_ms: health.min_response_time_ms,
        };
        // Relaxed: the answer is read by `rinha stat` and humans; no decision
        // in another process reads it, so nothing needs ordering against it.
        self.health_record(processor)
            .answer
            .store(answer.encode(), Ordering::Relaxed);
    }

    /// When `processor`'s health window was last claimed (ms since the
    /// epoch, 0: never) and the last answer stored, if any.
    pub fn health(&self, processor: Processor) -> (u64, Option<Health>) {
        let record = self.health_record(processor);
        // Relaxed, both: status values stored Relaxed for humans; nothing
        // read afterwards depends on them.
        let checked_at_ms = record.checked_at_ms.load(Ordering::Relaxed);
        let answer = HealthAnswer::decode(record.answer.load(Ordering::Relaxed));
        let health = answer.map(|answer| Health {
            failing: answer.failing,
            min_response_time_ms: answer.min_response_time_ms,
        });
        (checked_at_ms, health)
    }

    /// Records `processor`'s latency as the leader sees it at `at_ms` (ms
    /// since the epoch), for the next leader. Leader only.
    pub fn record_latency(&self, processor: Processor, latency_ms: u64, at_ms: u64) {
        let observed = ObservedLatency { latency_ms, at_ms };
        // Relaxed: one self-contained word that publishes nothing else (see
        // `layout::HealthRecord::latency`).
        self.health_record(processor)
            .latency
            .store(observed.encode(), Ordering::Relaxed);
    }

    /// `processor`'s latency as a leader last recorded it, if one did.
    pub fn observed_latency(&self, processor: Processor) -> Option<ObservedLatency> {
        // Relaxed: see `record_latency`; a stale value is a worse hint,
        // never a wrong payment.
        let word = self
            .health_record(processor)
            .latency
            .load(Ordering::Relaxed);
        ObservedLatency::decode(word)
    }

    /// Counts a payment `processor` refused with `status` (a 3xx, or a 4xx
    /// other than 422). Leader only.
    pub fn count_rejection(&self, processor: Processor, status: u16) {
        let rejected = &self.header().rejected.0;
        // Relaxed, both: counters for `rinha stat` and humans; one writer
        // (the leader), and no decision reads them.
        rejected.count[processor as usize].fetch_add(1, Ordering::Relaxed);
        rejected.last_status[processor as usize].store(u64::from(status), Ordering::Relaxed);
    }

    /// How many payments `processor` refused so far, and the latest status
    /// it refused one with (`None` before the first).
    pub fn rejections(&self, processor: Processor) -> (u64, Option<u16>) {
        let rejected = &self.header().rejected.0;
        // Relaxed, both: status values (see `count_rejection`); the two may
        // be one refusal apart, which a status line can afford.
        let count = rejected.count[processor as usize].load(Ordering::Relaxed);
        let last = rejected.last_status[processor as usize].load(Ordering::Relaxed);
        // Read from a shared file: anything but a status reads as none.
        let last = u16::try_from(last).ok().filter(|s| (100..=999).contains(s));
        (count, last)
    }

    fn health_record(&self, processor: Processor) -> &HealthRecord {
        &self.header().health[processor as usize].0
    }

    /// Records who drains and since when, for `rinha stat` and humans.
    /// Called by a process once it holds the leader lock.
    pub fn set_leader(&self, pid: u64, since_ms: u64) {
        let leader = &self.header().leader.0;
        // Relaxed: informational fields; the lock, not these words, decides
        // who drains, and no decision reads them.
        leader.pid.store(pid, Ordering::Relaxed);
        leader.since_ms.store(since_ms, Ordering::Relaxed);
    }

    /// The leader's pid and since when (ms since the epoch); `None` if no
    /// leader ever wrote them (pid 0).
    pub fn leader(&self) -> Option<(u64, u64)> {
        let leader = &self.header().leader.0;
        // Relaxed: status values (see `set_leader`); the two words may come
        // from two successive leaders, which a status line can afford.
        let pid = leader.pid.load(Ordering::Relaxed);
        let since_ms = leader.since_ms.load(Ordering::Relaxed);
        (pid != 0).then_some((pid, since_ms))
    }
}
