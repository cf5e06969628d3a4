//! `rinha api`: one HTTP front end over the shared file, and a candidate
//! for draining it.
//!
//! With `--floor` the very same event loop answers through [`api::floor`]
//! instead of [`api::handle`]: no shared file is opened and no election is
//! stood for, so a benchmark against it measures everything but the payment
//! path.

use std::error::Error;
use std::sync::Arc;

use crate::api;
use crate::config::ApiConfig;
use crate::drain::election;
use crate::http::Request;
use crate::http::server::Server;
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
    let stopper = server.stopper();
    ctrlc::set_handler(move || stopper.stop())?;
    if config.drain {
        election::spawn_candidate(shared.clone(), &config)?;
    }
    crate::log!(
        "rinha api listening on {} shared file {}",
        server.describe()?,
        config.shared_file.display()
    );
    let purge_enabled = config.purge_enabled;
    server.serve(&|request: &Request, out: &mut Vec<u8>| {
        api::handle(request, &shared, purge_enabled, out)
    })?;
    Ok(())
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
