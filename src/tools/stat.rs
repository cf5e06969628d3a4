//! `rinha stat`: what the shared file says right now, read without touching it.
//!
//! ```text
//! rinha stat [--shared-file /tmp/rinha.shm] [--watch] [--json]
//! ```
//!
//! Prints, once (or every second with `--watch`, until interrupted):
//!
//! - the ring: depth (tail − head), payments pending and in flight per
//!   processor (each slot between head and tail, by its state), and the age
//!   of the oldest payment not yet done (from the acceptance time producers
//!   write into each slot);
//! - the ledger: entries used, the purge generation, and the current
//!   generation's count and amount per processor (what the summary reports);
//! - the leader's pid and since when, if one was ever elected, and its
//!   lease: the epoch (one more at every takeover; the fencing tag) and
//!   when it expires unless renewed;
//! - each processor's last health answer and when it was asked for, and
//!   its latency as the leader last saw it (what a new leader starts from);
//! - the router's current choice (`unknown` until a drainer sets it);
//! - per processor, how many payments it refused with a 3xx or a 4xx other
//!   than 422, and the latest such status: the drainer keeps and retries
//!   those payments, so a count that grows says why nothing is paid.
//!
//! The file is opened read-only and mapped without write permission
//! ([`SharedFile::open_read_only`]): stat never creates, locks, resizes or
//! writes it, so it is safe on a live stack (`rinha local`, or `/rinha stat`
//! inside the contest's scratch image, where `RINHA_SHARED_FILE` is already
//! set). A missing file, a foreign one or one of another layout version is
//! refused with the reason. Every figure is a snapshot taken while producers
//! and the drainer keep going: each is exact for what it read, and they may
//! disagree by the payments that moved in between.
//!
//! `--json` prints one object per line (what `bench/run.sh` samples):
//! `now_ms`, `layout_version`, `ring` {`slots`, `head`, `tail`, `depth`,
//! `pending`, `in_flight` {`default`, `fallback`}, `unpublished`,
//! `unreadable`, `oldest_accepted_at_ms`, `oldest_age_ms`}, `ledger`
//! {`capacity`, `entries`, `generation`, `default`/`fallback` {`count`,
//! `amount_cents`}}, `leader` ({`pid`, `since_ms`} or null), `lease`
//! ({`epoch`, `deadline_ms`} or null), `health` {`default`/`fallback`:
//! {`checked_at_ms`, `failing`, `min_response_time_ms`} or null},
//! `latency` {`default`/`fallback`: {`latency_ms`, `at_ms`} or null},
//! `route`, `rejected`
//! {`default`/`fallback`: {`count`, `last_status` (or null)}}. Times are ms since the epoch,
//! money integer cents; a value that does not exist is `null`.

use std::error::Error;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::thread;
use std::time::Duration;

use crate::config::{Capacities, StatConfig};
use crate::domain::money::write_cents;
use crate::domain::payment::{Health, Processor};
use crate::domain::summary::{Summary, Totals, Window};
use crate::domain::time::{ISO8601_LEN, format_iso8601, now_millis};
use crate::store::layout::{LAYOUT_VERSION, ObservedLatency, RouteChoice};
use crate::store::ring::RingSnapshot;
use crate::store::shared_file::SharedFile;

/// How often `--watch` prints.
const WATCH_PERIOD: Duration = Duration::from_secs(1);
const PROCESSORS: [Processor; 2] = [Processor::Default, Processor::Fallback];

/// Prints the file's status once, or every second with `--watch` until
/// interrupted or stdout is closed.
pub fn run(config: StatConfig) -> Result<(), Box<dyn Error>> {
    let shared = SharedFile::open_read_only(&config.shared_file)
        .map_err(|error| format!("{}: {error}", config.shared_file.display()))?;
    let mut stdout = io::stdout().lock();
    loop {
        let status = Status::read(&shared, now_millis());
        let text = if config.json {
            status.json()
        } else {
            status.text(&config.shared_file.display().to_string())
        };
        // A closed pipe (`rinha stat --watch | head`) ends the watch quietly.
        if stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return Ok(());
        }
        if !config.watch {
            return Ok(());
        }
        thread::sleep(WATCH_PERIOD);
    }
}

/// When a processor's health was last asked for, and its answer if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthSeen {
    /// When the call was claimed, ms since the epoch.
    pub checked_at_ms: u64,
    /// What it answered; `None` if no answer was stored (yet).
    pub answer: Option<Health>,
}

/// Everything `rinha stat` prints, read at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// When it was read, ms since the epoch.
    pub now_ms: i64,
    /// The file's capacities.
    pub capacities: Capacities,
    /// The ring between head and tail.
    pub ring: RingSnapshot,
    /// Ledger entries used (all generations).
    pub ledger_entries: u64,
    /// The purge generation.
    pub generation: u64,
    /// The current generation's totals per processor.
    pub summary: Summary,
    /// The leader's pid and since when (ms); `None` if never written.
    pub leader: Option<(u64, u64)>,
    /// The lease's epoch and deadline (ms); `None` if nobody ever led.
    pub lease: Option<(u64, u64)>,
    /// Per processor (by index), the last health call; `None` if never made.
    pub health: [Option<HealthSeen>; 2],
    /// Per processor (by index), its latency as a leader last recorded it.
    pub latency: [Option<ObservedLatency>; 2],
    /// The router's choice.
    pub route: RouteChoice,
    /// Per processor (by index), payments refused with a 3xx or a 4xx
    /// other than 422, and the latest such status.
    pub rejected: [(u64, Option<u16>); 2],
}

impl Status {
    /// Reads every figure from `shared` (loads only).
    pub fn read(shared: &SharedFile, now_ms: i64) -> Status {
        let health = PROCESSORS.map(|processor| {
            let (checked_at_ms, answer) = shared.health(processor);
            (checked_at_ms != 0).then_some(HealthSeen {
                checked_at_ms,
                answer,
            })
        });
        Status {
            now_ms,
            capacities: shared.capacities(),
            ring: shared.reader().snapshot(),
            ledger_entries: shared.reader().ledger_len(),
            generation: shared.generation(),
            summary: shared.reader().summary(Window::ALL),
            leader: shared.leader(),
            lease: shared.lease(),
            health,
            latency: PROCESSORS.map(|processor| shared.observed_latency(processor)),
            route: shared.route_choice(),
            rejected: PROCESSORS.map(|processor| shared.rejections(processor)),
        }
    }

    /// How long the oldest waiting payment has waited, in ms.
    pub fn oldest_age_ms(&self) -> Option<i64> {
        let oldest = self.ring.oldest_accepted_at_ms?;
        Some(self.now_ms.saturating_sub(oldest as i64).max(0))
    }

    /// One JSON object on one line (see the module docs).
    pub fn json(&self) -> String {
        let mut out = String::with_capacity(1024);
        let ring = &self.ring;
        let _ = write!(
            out,
            r#"{{"now_ms":{},"layout_version":{LAYOUT_VERSION},"ring":{{"slots":{},"head":{},"tail":{},"depth":{},"pending":{},"in_flight":{{"default":{},"fallback":{}}},"unpublished":{},"unreadable":{},"oldest_accepted_at_ms":{},"oldest_age_ms":{}}},"#,
            self.now_ms,
            self.capacities.ring_slots,
            ring.head,
            ring.tail,
            ring.depth(),
            ring.pending,
            ring.in_flight[0],
            ring.in_flight[1],
            ring.unpublished,
            ring.unreadable,
            json_option(ring.oldest_accepted_at_ms),
            json_option(self.oldest_age_ms()),
        );
        let _ = write!(
            out,
            r#""ledger":{{"capacity":{},"entries":{},"generation":{},"default":{},"fallback":{}}},"#,
            self.capacities.ledger_entries,
            self.ledger_entries,
            self.generation,
            json_totals(&self.summary.default),
            json_totals(&self.summary.fallback),
        );
        let leader = match self.leader {
            Some((pid, since)) => format!(r#"{{"pid":{pid},"since_ms":{since}}}"#),
            None => "null".into(),
        };
        let lease = match self.lease {
            Some((epoch, deadline)) => format!(r#"{{"epoch":{epoch},"deadline_ms":{deadline}}}"#),
            None => "null".into(),
        };
        let [default, fallback] = self.health.map(json_health);
        let [latency_default, latency_fallback] = self.latency.map(|latency| match latency {
            Some(seen) => format!(
                r#"{{"latency_ms":{},"at_ms":{}}}"#,
                seen.latency_ms, seen.at_ms
            ),
            None => "null".into(),
        });
        let [rejected_default, rejected_fallback] = self.rejected.map(|(count, last)| {
            format!(r#"{{"count":{count},"last_status":{}}}"#, json_option(last))
        });
        let _ = writeln!(
            out,
            r#""leader":{leader},"lease":{lease},"health":{{"default":{default},"fallback":{fallback}}},"latency":{{"default":{latency_default},"fallback":{latency_fallback}}},"route":"{}","rejected":{{"default":{rejected_default},"fallback":{rejected_fallback}}}}}"#,
            self.route.name()
        );
        out
    }

    /// A few aligned lines for a terminal.
    pub fn text(&self, path: &str) -> String {
        let ring = &self.ring;
        let mut out = format!(
            "shared file  {path} (layout {LAYOUT_VERSION}, {} ring slots, {} ledger entries) at {}\n",
            self.capacities.ring_slots,
            self.capacities.ledger_entries,
            iso(self.now_ms)
        );
        let _ = writeln!(
            out,
            "ring         depth {} (head {}, tail {}): {} pending, in flight {} default / {} fallback{}; oldest waiting {}",
            ring.depth(),
            ring.head,
            ring.tail,
            ring.pending,
            ring.in_flight[0],
            ring.in_flight[1],
            match ring.unpublished + ring.unreadable {
                0 => String::new(),
                n => format!(", {n} claimed or unreadable"),
            },
            match self.oldest_age_ms() {
                Some(age) => format!("{:.3} s", age as f64 / 1000.0),
                None => "-".into(),
            }
        );
        let _ = writeln!(
            out,
            "ledger       {} of {} entries used, generation {}: default {} · fallback {}",
            self.ledger_entries,
            self.capacities.ledger_entries,
            self.generation,
            text_totals(&self.summary.default),
            text_totals(&self.summary.fallback),
        );
        let _ = writeln!(
            out,
            "leader       {}",
            match self.leader {
                Some((pid, since)) => format!(
                    "pid {pid} since {} ({})",
                    iso(since as i64),
                    self.ago(since)
                ),
                None => "none elected yet".into(),
            }
        );
        if let Some((epoch, deadline)) = self.lease {
            let left = deadline as i64 - self.now_ms;
            let _ = writeln!(
                out,
                "lease        epoch {epoch}, {}",
                match left {
                    0.. => format!("expires in {left} ms unless renewed"),
                    _ => format!("expired {} ms ago", -left),
                }
            );
        }
        let health: Vec<String> = PROCESSORS
            .iter()
            .zip(self.health)
            .map(|(processor, seen)| format!("{}: {}", processor.name(), self.text_health(seen)))
            .collect();
        let _ = writeln!(out, "health       {}", health.join(" · "));
        let latency: Vec<String> = PROCESSORS
            .iter()
            .zip(self.latency)
            .map(|(processor, latency)| match latency {
                Some(seen) => format!(
                    "{} {} ms ({})",
                    processor.name(),
                    seen.latency_ms,
                    self.ago(seen.at_ms)
                ),
                None => format!("{} -", processor.name()),
            })
            .collect();
        let _ = writeln!(out, "latency      {}", latency.join(" · "));
        let _ = writeln!(out, "route        {}", self.route.name());
        let rejected: Vec<String> = PROCESSORS
            .iter()
            .zip(self.rejected)
            .map(|(processor, (count, last))| match last {
                Some(status) => format!("{} {count} (last {status})", processor.name()),
                None => format!("{} {count}", processor.name()),
            })
            .collect();
        let _ = writeln!(out, "rejected     {}", rejected.join(" · "));
        out
    }

    fn text_health(&self, seen: Option<HealthSeen>) -> String {
        match seen {
            None => "never asked".into(),
            Some(HealthSeen {
                checked_at_ms,
                answer: None,
            }) => format!("asked {}, no answer", self.ago(checked_at_ms)),
            Some(HealthSeen {
                checked_at_ms,
                answer: Some(health),
            }) => format!(
                "{}, {} ms, asked {}",
                if health.failing { "failing" } else { "ok" },
                health.min_response_time_ms,
                self.ago(checked_at_ms)
            ),
        }
    }

    /// `1.234 s ago` for a time in ms since the epoch.
    fn ago(&self, ms: u64) -> String {
        let age = self.now_ms.saturating_sub(ms as i64);
        format!("{:.3} s ago", age as f64 / 1000.0)
    }
}

fn json_option(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "null".into(), |v| v.to_string())
}

fn json_totals(totals: &Totals) -> String {
    format!(
        r#"{{"count":{},"amount_cents":{}}}"#,
        totals.requests, totals.cents
    )
}

fn json_health(seen: Option<HealthSeen>) -> String {
    match seen {
        None => "null".into(),
        Some(seen) => format!(
            r#"{{"checked_at_ms":{},"failing":{},"min_response_time_ms":{}}}"#,
            seen.checked_at_ms,
            json_option(seen.answer.map(|h| h.failing)),
            json_option(seen.answer.map(|h| h.min_response_time_ms)),
        ),
    }
}

fn text_totals(totals: &Totals) -> String {
    let mut amount = Vec::new();
    write_cents(totals.cents, &mut amount);
    format!(
        "{} payments, {}",
        totals.requests,
        String::from_utf8_lossy(&amount)
    )
}

fn iso(ms: i64) -> String {
    let mut text = [0u8; ISO8601_LEN];
    format_iso8601(ms, &mut text);
    String::from_utf8_lossy(&text).into_owned()
}
