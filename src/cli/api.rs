//! `rinha api`: one HTTP front end over the shared file, and a candidate
//! for draining it.
//!
//! With `--floor` the very same event loop answers through [`api::floor`]
//! instead of [`api::handle`]: no shared file is opened and no election is
//! stood for, so a benchmark against it measures everything but the payment
//! path.

use std::error::Error;
use std::sync::Arc;
use std::thread;

use crate::api;
use crate::config::ApiConfig;
use crate::drain::router::Policy;
use crate::drain::{drainer, election};
use crate::http::Request;
use crate::http::server::{Limits, Server};
use crate::store::shared_file::SharedFile;

/// Runs `rinha api` until SIGINT or SIGTERM.
pub fn run(config: ApiConfig) -> Result<(), Box<dyn Error>> {
    if config.floor {
        return run_floor(&config);
    }
    #[allow(unused_mut)] // mutated only by the test-support hook
    let mut shared = SharedFile::open_or_create(&config.shared_file, config.capacities)?;
    #[cfg(feature = "test-support")]
    stall_push_from_env(&mut shared)?;
    let shared = Arc::new(shared);
    let mut server = Server::bind(&config.listen, config.reuse_port)?;
    let limits = connection_limits(&config)?;
    server.set_limits(limits);
    let stopper = server.stopper();
    ctrlc::set_handler(move || stopper.stop())?;
    if config.drain {
        stand_for_election(shared.clone(), &config)?;
    }
    crate::log!(
        "rinha api listening on {} shared file {}",
        server.describe()?,
        config.shared_file.display()
    );
    crate::log!(
        "rinha api: memory budget {} MiB: up to {} connections, {} KiB each at most",
        config.memory_budget_mb,
        limits.max_connections,
        Limits::per_connection(limits.output_high_water) / 1024
    );
    let options = api::Options {
        purge_enabled: config.purge_enabled,
        max_request_age_ms: config.max_request_age_ms,
    };
    server.serve(&|request: &Request, out: &mut Vec<u8>| {
        api::handle(request, &shared, &options, out)
    })?;
    Ok(())
}

/// Starts this process's candidate thread: it waits to be elected, then
/// drains for as long as it leads, and stands again if it is replaced.
fn stand_for_election(shared: Arc<SharedFile>, config: &ApiConfig) -> std::io::Result<()> {
    let settings = drainer_settings(config);
    let path = config.shared_file.clone();
    thread::Builder::new()
        .name("candidate".into())
        .spawn(move || -> std::io::Result<()> {
            // A leader replaced while frozen steps down and stands again.
            loop {
                let leader = election::lead(&shared, &path).inspect_err(|error| {
                    crate::log!("rinha api: cannot stand for election: {error}");
                })?;
                drainer::run(leader, &settings);
            }
        })?;
    Ok(())
}

/// What the drainer needs of the command line.
fn drainer_settings(config: &ApiConfig) -> drainer::Settings {
    drainer::Settings {
        default_url: config.default_url.clone(),
        fallback_url: config.fallback_url.clone(),
        processor_timeout: config.processor_timeout,
        policy: Policy {
            max_hold: config.max_hold,
            safe_latency: config.safe_latency,
            max_latency: config.max_latency,
            max_in_flight: config.max_in_flight,
        },
        max_send_rate: config.max_send_rate,
    }
}

/// Test support: `RINHA_TEST_STALL_PUSH=<uuid>:<ms>` makes the push of that
/// payment pause `ms` between claiming its ring slot and writing it, so that
/// `tests/faults.rs` can stop or kill a producer exactly there. Compiled
/// only into test builds (see `Cargo.toml`'s `test-support`).
#[cfg(feature = "test-support")]
fn stall_push_from_env(shared: &mut SharedFile) -> Result<(), Box<dyn Error>> {
    let Ok(spec) = std::env::var("RINHA_TEST_STALL_PUSH") else {
        return Ok(());
    };
    let parsed = spec
        .split_once(':')
        .and_then(|(id, ms)| Some((id.parse().ok()?, ms.parse().ok()?)));
    let Some((id, ms)) = parsed else {
        return Err(format!("RINHA_TEST_STALL_PUSH {spec:?} is not <uuid>:<ms>").into());
    };
    shared.stall_push_of(id, std::time::Duration::from_millis(ms));
    Ok(())
}

/// Memory every instance needs besides its connections, whatever the load:
/// the binary, its libc and allocator arenas, the main thread's stack.
/// Measured: an idle instance has a VmRSS of 2–3 MiB; 8 leaves room.
const BASELINE_BYTES: usize = 8 << 20;

/// The connection limits that keep this instance within its memory budget.
///
/// ```text
///   budget                       --memory-budget-mb (default 120 MiB: the
///                                compose limit is 125 MiB; 5 MiB are left
///                                to the kernel's socket buffers, which the
///                                cgroup is charged too)
/// − the shared file, all of it   ring + ledger: 16 MiB with the default
///                                capacities (tmpfs pages are charged to the
///                                cgroup that touches them first; counted
///                                whole, as this instance may be the one)
/// − the drainer                  drainer::memory_bound: 37 MiB at worst
///                                with the defaults (either instance may
///                                be elected)
/// − the baseline                 8 MiB
/// = for connections              59 MiB with the defaults
/// ÷ the worst connection         72 KiB input + 16 KiB output + 512 B
/// = connections                  about 690 with the defaults
/// ```
///
/// HAProxy keeps a few dozen connections per instance at the contest's
/// load; every connection beyond the cap is closed at once.
pub fn connection_limits(config: &ApiConfig) -> Result<Limits, Box<dyn Error>> {
    let budget = usize::try_from(config.memory_budget_mb)?.saturating_mul(1 << 20);
    let drainer = if config.drain {
        drainer::memory_bound(config.max_in_flight, config.capacities)
    } else {
        0
    };
    let reserved = SharedFile::file_len(config.capacities) + drainer + BASELINE_BYTES;
    let left = budget
        .checked_sub(reserved)
        .filter(|&left| left >= Limits::per_connection(Limits::BUDGETED_OUTPUT));
    let Some(left) = left else {
        return Err(format!(
            "--memory-budget-mb {} leaves no room for one connection: the shared file, \
             the drainer and the baseline take {} MiB",
            config.memory_budget_mb,
            reserved.div_ceil(1 << 20)
        )
        .into());
    };
    Ok(Limits::within(left))
}

/// `rinha api --floor`: the loop with fixed responses, and nothing else.
fn run_floor(config: &ApiConfig) -> Result<(), Box<dyn Error>> {
    let mut server = Server::bind(&config.listen, config.reuse_port)?;
    let stopper = server.stopper();
    ctrlc::set_handler(move || stopper.stop())?;
    crate::log!(
        "rinha api listening on {} as the benchmark floor: fixed responses, no shared file",
        server.describe()?
    );
    server.serve(&api::floor)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::{Limits, connection_limits};
    use crate::config::{ApiConfig, Capacities};
    use crate::drain::drainer;
    use crate::store::shared_file::SharedFile;

    fn limits(args: &str) -> Result<Limits, String> {
        let args: Vec<String> = args.split_whitespace().map(String::from).collect();
        let config = ApiConfig::parse_with(&args, &|_| None).unwrap();
        connection_limits(&config).map_err(|e| e.to_string())
    }

    #[test]
    fn connections_get_what_the_shared_file_and_drainer_leave() {
        let default = limits("").unwrap();
        assert_eq!(default.output_high_water, 16 * 1024);
        let file = SharedFile::file_len(Capacities::default());
        let drainer = drainer::memory_bound(800, Capacities::default());
        let left = (120 << 20) - file - drainer - (8 << 20);
        assert_eq!(default.max_connections, left / (88 * 1024 + 512));
        let worst = default.max_connections * Limits::per_connection(default.output_high_water);
        assert!(worst + file + drainer + (8 << 20) <= 120 << 20, "{worst}");
        // Without the drainer, its share goes to connections.
        let follower = limits("--no-drain").unwrap();
        assert_eq!(
            follower.max_connections,
            (left + drainer) / (88 * 1024 + 512)
        );
        // A budget the file and the drainer alone exceed is refused,
        // naming the flag.
        let error = limits("--memory-budget-mb 40").unwrap_err();
        assert!(
            error.contains("--memory-budget-mb 40 leaves no room"),
            "{error}"
        );
        // A huge budget stops at the hard cap.
        assert_eq!(
            limits("--memory-budget-mb 100000").unwrap().max_connections,
            4096
        );
    }

    use crate::config::Listen;
    use crate::http::server::Server;

    #[test]
    fn the_floor_answers_pipelined_requests_without_a_shared_file() {
        let mut server = Server::bind(&Listen::Tcp(([127, 0, 0, 1], 0).into()), false).unwrap();
        let address = server.local_addr().unwrap();
        let stopper = server.stopper();
        std::thread::scope(|scope| {
            let serving = scope.spawn(|| server.serve(&crate::api::floor));
            let mut client = std::net::TcpStream::connect(address).unwrap();
            client
                .write_all(
                    b"POST /payments HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}\
                      GET /payments-summary HTTP/1.1\r\nConnection: close\r\n\r\n",
                )
                .unwrap();
            let mut response = String::new();
            client.read_to_string(&mut response).unwrap();
            let (payment, summary) = response
                .split_once("HTTP/1.1 200 OK\r\n")
                .unwrap()
                .1
                .split_once("HTTP/1.1 200 OK\r\n")
                .expect("two responses");
            assert!(
                payment.ends_with("Content-Length: 0\r\n\r\n"),
                "{payment:?}"
            );
            assert!(
                summary.ends_with(
                    r#"{"default":{"totalRequests":0,"totalAmount":0.00},"fallback":{"totalRequests":0,"totalAmount":0.00}}"#
                ),
                "{summary:?}"
            );
            stopper.stop();
            serving.join().unwrap().unwrap();
        });
    }
}
