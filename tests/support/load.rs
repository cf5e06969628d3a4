//! Load: keep-alive clients posting payments of 19.90 with fresh ids, and
//! an account of what each was told, id by id; plus the contest's window
//! check run alongside.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::http::{Client, payment_body};
use super::rng::new_id;
use super::summary::{Summary, now_ms, processor_totals, try_backend_summary};

/// What a load was told, payment by payment.
#[derive(Debug, Default)]
pub struct Tally {
    /// Correlation ids answered 2xx: promised.
    pub acked: Vec<String>,
    /// Ids answered with another status: refused, never to be paid.
    pub refused: Vec<String>,
    /// Ids that got no answer (connection refused, reset, timed out).
    pub unknown: Vec<String>,
    /// How many answers of each status.
    pub statuses: BTreeMap<u16, u64>,
}

impl Tally {
    /// Adds another load's account to this one.
    pub fn merge(&mut self, other: Tally) {
        self.acked.extend(other.acked);
        self.refused.extend(other.refused);
        self.unknown.extend(other.unknown);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
    }

    /// Every payment attempted.
    pub fn attempted(&self) -> u64 {
        (self.acked.len() + self.refused.len() + self.unknown.len()) as u64
    }

    /// Acknowledged payments.
    pub fn acked(&self) -> u64 {
        self.acked.len() as u64
    }

    /// A one-line account.
    pub fn brief(&self) -> String {
        format!(
            "{} acknowledged, {} refused, {} unanswered, statuses {:?}",
            self.acked.len(),
            self.refused.len(),
            self.unknown.len(),
            self.statuses
        )
    }
}

/// Where a load sends payments: the test changes the list as it kills,
/// freezes and restarts instances.
pub type Targets = Mutex<Vec<SocketAddr>>;

/// How a load's threads space their payments.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// Each thread sleeps this long after each payment.
    Pause(Duration),
    /// The threads together aim at this many payments per second.
    Rate(f64),
}

/// Posts payments of 19.90 with fresh ids from `threads` keep-alive
/// clients, round-robin over `targets`, `per_thread` at most from each,
/// paced by `pace`; each thread stops early once `stop` returns true.
pub fn post_payments(
    targets: &Targets,
    threads: usize,
    per_thread: usize,
    pace: Pace,
    stop: impl Fn() -> bool + Sync,
) -> Tally {
    let stop = &stop;
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|index| {
                scope.spawn(move || {
                    let mut clients: BTreeMap<SocketAddr, Client> = BTreeMap::new();
                    let mut tally = Tally::default();
                    let started = Instant::now();
                    let mut turn = index;
                    let mut sent = 0u32;
                    while (sent as usize) < per_thread && !stop() {
                        let Some(addr) = ({
                            let targets = targets.lock().unwrap();
                            (!targets.is_empty()).then(|| targets[turn % targets.len()])
                        }) else {
                            thread::sleep(Duration::from_millis(1));
                            continue;
                        };
                        turn += 1;
                        let id = new_id();
                        let body = payment_body(&id, "19.90");
                        let client = clients.entry(addr).or_insert_with(|| Client::new(addr));
                        match client.send("POST", "/payments", &[], body.as_bytes()) {
                            Ok(response) => {
                                *tally.statuses.entry(response.status).or_default() += 1;
                                if (200..300).contains(&response.status) {
                                    tally.acked.push(id);
                                } else {
                                    tally.refused.push(id);
                                }
                            }
                            Err(_) => tally.unknown.push(id),
                        }
                        sent += 1;
                        match pace {
                            Pace::Rate(rate) => {
                                let every = Duration::from_secs_f64(threads as f64 / rate);
                                let due = started + every * sent;
                                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                    thread::sleep(wait);
                                }
                            }
                            Pace::Pause(pause) if !pause.is_zero() => thread::sleep(pause),
                            Pace::Pause(_) => {}
                        }
                    }
                    tally
                })
            })
            .collect();
        let mut total = Tally::default();
        for worker in workers {
            total.merge(worker.join().expect("load thread"));
        }
        total
    })
}

/// [`post_payments`] with no bound but `stop`: with `rate`, the threads
/// together aim at that many payments per second; without, each thread
/// sleeps `pause` between payments.
pub fn load(
    targets: &Targets,
    threads: usize,
    pause: Duration,
    rate: Option<f64>,
    stop: &AtomicBool,
) -> Tally {
    let pace = rate.map_or(Pace::Pause(pause), Pace::Rate);
    post_payments(targets, threads, usize::MAX, pace, || {
        stop.load(Ordering::Relaxed)
    })
}

/// [`load`] for `run`, then stopped: the load's account.
pub fn load_for(targets: &Targets, threads: usize, pause: Duration, run: Duration) -> Tally {
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        let loader = scope.spawn(|| load(targets, threads, pause, None, &stop));
        thread::sleep(run);
        stop.store(true, Ordering::Relaxed);
        loader.join().expect("load")
    })
}

/// What a counting load got back.
#[derive(Clone, Copy, Debug, Default)]
pub struct Load {
    /// Payments answered 2xx: the backend promised to pay them.
    pub acknowledged: u64,
    /// Payments answered otherwise, or not at all.
    pub refused: u64,
}

impl Load {
    /// Every payment attempted.
    pub fn attempted(&self) -> u64 {
        self.acknowledged + self.refused
    }
}

/// Posts `per_thread` payments of 19.90 from each of `threads` keep-alive
/// clients of `addr`, pausing `pause` between two payments of one client;
/// counts what was acknowledged. Stops early once `stop` returns true.
pub fn post_load(
    addr: SocketAddr,
    threads: usize,
    per_thread: usize,
    pause: Duration,
    stop: impl Fn() -> bool + Sync,
) -> Load {
    let tally = post_payments(
        &Mutex::new(vec![addr]),
        threads,
        per_thread,
        Pace::Pause(pause),
        stop,
    );
    Load {
        acknowledged: tally.acked(),
        refused: tally.attempted() - tally.acked(),
    }
}

/// Work on a thread of its own, told to stop through a flag: stopped and
/// joined on [`Background::finish`] or on drop.
pub struct Background<T = Tally> {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<T>>,
}

impl<T: Send + 'static> Background<T> {
    /// Runs `work` with the stop flag on a new thread.
    pub fn spawn(work: impl FnOnce(&AtomicBool) -> T + Send + 'static) -> Background<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::spawn(move || work(&flag));
        Background {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops the work and returns what it made.
    pub fn finish(mut self) -> T {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .expect("finished once")
            .join()
            .expect("background thread")
    }
}

impl Background<Tally> {
    /// Starts a [`load`] over `targets`.
    pub fn start(targets: Arc<Targets>, threads: usize, pause: Duration) -> Background<Tally> {
        Background::spawn(move |stop| load(&targets, threads, pause, None, stop))
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The contest's consistency check, run again and again on a thread of
/// its own while the test breaks things: every `every`, the window
/// `[now − 15 s, now − 2 s]` is asked of a running instance and of both
/// processors at the same time, and any difference in the number of
/// payments is an inconsistency.
pub struct WindowChecks(Background<(u64, Vec<String>)>);

impl WindowChecks {
    /// Starts checking the first instance in `targets` against the
    /// processors on these ports.
    pub fn start(targets: Arc<Targets>, ports: [u16; 2], every: Duration) -> WindowChecks {
        WindowChecks(Background::spawn(move |stop| {
            let (mut checks, mut inconsistencies) = (0, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let now = now_ms();
                let window = Some((now - 15_000, now - 2_000));
                let Some(addr) = targets.lock().unwrap().first().copied() else {
                    thread::sleep(every);
                    continue;
                };
                let (backend, processors) = thread::scope(|scope| {
                    let backend = scope.spawn(move || try_backend_summary(addr, window));
                    let [default, fallback] =
                        ports.map(|port| scope.spawn(move || processor_totals(port, window)));
                    let processors = Summary {
                        default: default.join().expect("default summary"),
                        fallback: fallback.join().expect("fallback summary"),
                    };
                    (backend.join().expect("backend summary"), processors)
                });
                // An instance killed under the question answers nothing:
                // no check, not an inconsistency.
                if let Some(backend) = backend {
                    checks += 1;
                    let delta = backend
                        .default
                        .requests
                        .abs_diff(processors.default.requests)
                        + backend
                            .fallback
                            .requests
                            .abs_diff(processors.fallback.requests);
                    if delta > 0 {
                        inconsistencies.push(format!(
                            "{delta} at {now}: backend {backend:?}, processors {processors:?}"
                        ));
                    }
                }
                thread::sleep(every);
            }
            (checks, inconsistencies)
        }))
    }

    /// Stops checking: how many checks ran, and each inconsistency found.
    pub fn finish(self) -> (u64, Vec<String>) {
        self.0.finish()
    }
}
