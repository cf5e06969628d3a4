//! `rinha processor`: a faithful stand-in for the official payment processor.
//!
//! Our tests and `rinha local` need processors that behave like the contest's
//! (a .NET service over Postgres; what it does is in `docs/contest.md`)
//! without Docker.
//! Every behaviour the backend can observe is reproduced:
//!
//! | request | answer |
//! |---|---|
//! | `POST /payments` `{"correlationId","amount","requestedAt"}` | sleeps the delay; then 500 if failing (nothing stored), 422 if the id is stored already, else stores and 200 `{"message":"payment processed successfully"}`; 400 for a bad body; 429 beyond 800 at work + 500 waiting |
//! | `GET /payments/service-health` | 200 `{"failing":b,"minResponseTime":ms}`; one per 5 s window, two more wait for later windows, else 429 with `Retry-After` |
//! | `GET /payments/{id}` | 200 `{"correlationId","amount","requestedAt"}`, 404 unknown, 400 not a UUID |
//! | `GET /admin/payments-summary?from&to` | 200 `{"totalAmount","totalRequests","totalFee","feePerTransaction"}`, bounds inclusive, all payments if a bound is missing; 400 for an unparsable bound |
//! | `PUT /admin/configurations/token` `{"token"}` | 204 |
//! | `PUT /admin/configurations/delay` `{"delay":ms}` | 200 `{"config":"delay","was":..,"is":..}` |
//! | `PUT /admin/configurations/failure` `{"failure":b}` | 200 `{"config":"failure","was":..,"is":..}` |
//! | `POST /admin/purge-payments` | 200 `{"message":"All payments purged."}` |
//!
//! Every `/admin/` request needs `X-Rinha-Token` equal to the current token,
//! else 401 (checked before the body is looked at). A bad admin body is 400;
//! an unknown path 404; a known path with another method 405.
//!
//! ## Emulator-only extension (fault injection for our tests)
//!
//! `PUT /admin/configurations/drop` `{"drop": bool}` (token required) →
//! 200 `{"config":"drop","was":..,"is":..}`. While set, a payment that gets
//! stored is answered with nothing: the connection is closed right after the
//! insert, as when a processor stores a payment and the network then fails.
//! Failures (500) and duplicates (422) are still answered.
//!
//! `PUT /admin/configurations/status` `{"status": n}` (token required) →
//! 200 `{"config":"status","was":..,"is":..}`, n 0 (off) or 300 to 599.
//! While set, every `POST /payments` is answered with that status at once,
//! with no body, and nothing is stored: what a proxy in front of a
//! restarting processor, or a misconfigured URL, answers.
//!
//! ## Differences that cannot matter to a correct backend
//!
//! - A body missing a field is 400 here; .NET would store a default value.
//! - `requestedAt` is kept to the millisecond (a finer fraction is truncated).
//!
//! ## Layout
//!
//! - `routes`: the shared state and the public endpoints above.
//! - `admin`: the `/admin/` endpoints.
//! - `store`: the stored payments.
//! - `fee`: the fee as an exact fraction, and `totalFee` (the exact
//!   product, `19.90 × 0.05` = `0.9950`, as .NET's `decimal` prints it).
//! - `gate`: the 800 + 500 concurrency limit of `POST /payments`.
//! - `health`: the fixed-window limiter of the health endpoint.
//! - `json`: the request bodies' fields, read with the crate's one JSON
//!   scanner (`crate::json`).
//!
//! The server is deliberately plain: a blocking listener and one small thread
//! per connection, so a request may simply sleep through its delay, exactly
//! like the official processor keeps working on a request whose client gave up.

mod admin;
mod fee;
mod gate;
mod health;
mod json;
mod routes;
mod store;

use std::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::config::EmulatorConfig;
use crate::http::{self, Status};

use self::fee::Fee;
use self::routes::{Emulator, Reply};

/// Stack of a connection thread. A handler's deepest path (httparse's header
/// array, the JSON scanner at its nesting limit, a 4 KiB read chunk) needs a
/// fraction of this; 1 300 connections at the concurrency limit then reserve
/// about 80 MiB of address space, not 2.6 GiB.
const STACK_BYTES: usize = 64 * 1024;

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 4 * 1024;

/// Serves the emulated processor on `config.listen` until the process ends.
///
/// Prints `rinha processor listening on ADDR fee F` to stderr once the
/// socket is bound (ADDR is the actual address, so `--port 0` works).
pub fn run(config: EmulatorConfig) -> Result<(), Box<dyn Error>> {
    let fee =
        Fee::parse(&config.fee).map_err(|error| format!("--fee {:?}: {error}", config.fee))?;
    let listener = TcpListener::bind(config.listen)
        .map_err(|error| format!("cannot listen on {}: {error}", config.listen))?;
    let address = listener.local_addr()?;
    let emulator = Arc::new(Emulator::new(fee, config.token));
    crate::log!(
        "rinha processor listening on {address} fee {}",
        emulator.fee().text()
    );
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            // Out of descriptors or memory: back off instead of spinning;
            // the pending connection is accepted once something closes.
            Err(error) if is_resource_exhaustion(&error) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            // A client that reset before we accepted it, EINTR and the like.
            Err(_) => continue,
        };
        let emulator = Arc::clone(&emulator);
        // If no thread can be made the stream is dropped inside the failed
        // closure: the client sees its connection closed, like a refused one.
        let _ = std::thread::Builder::new()
            .name("processor-conn".into())
            .stack_size(STACK_BYTES)
            .spawn(move || serve(stream, &emulator));
    }
}

/// EMFILE, ENFILE, ENOBUFS, ENOMEM.
fn is_resource_exhaustion(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(23 | 24 | 105 | 12))
        || error.kind() == ErrorKind::OutOfMemory
}

/// One keep-alive connection: answer each complete request in turn
/// (pipelined ones too), read more when a request is partial, stop at EOF,
/// on an error, or after a response that closes the connection.
fn serve(mut stream: TcpStream, emulator: &Emulator) {
    let _ = stream.set_nodelay(true);
    let mut input = Vec::with_capacity(READ_CHUNK);
    let mut body = Vec::with_capacity(256);
    let mut out = Vec::with_capacity(512);
    let mut chunk = [0; READ_CHUNK];
    loop {
        loop {
            out.clear();
            let (consumed, keep_alive) = match http::parse_request(&input) {
                Ok(Status::Partial) => break,
                Ok(Status::Complete(request)) => {
                    match emulator.handle(&request, &mut body, &mut out) {
                        Reply::Send => (request.len, request.keep_alive),
                        Reply::Drop => {
                            let _ = stream.shutdown(Shutdown::Both);
                            return;
                        }
                    }
                }
                Err(error) => {
                    // The framing of whatever follows is unknown: answer, close.
                    http::write_response(
                        &mut out,
                        error.status(),
                        true,
                        error.message().as_bytes(),
                        false,
                    );
                    let _ = stream.write_all(&out);
                    return;
                }
            };
            if stream.write_all(&out).is_err() || !keep_alive {
                return;
            }
            input.drain(..consumed);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(read) => input.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
