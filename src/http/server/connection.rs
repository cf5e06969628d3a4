//! One client's connection: its stream, its read and write buffers, and
//! the handler the event loop calls on each of its events — answer what is
//! buffered, send, read until `WouldBlock` — which says whether the
//! connection is done.

use std::io::{self, Read, Write};

use mio::{Interest, Registry, Token};

use crate::http::listener::Stream;
use crate::http::{self, Status};

use super::{MAX_INPUT, Respond};

const INITIAL_INPUT: usize = 4 * 1024;
const INITIAL_OUTPUT: usize = 4 * 1024;

/// One client (HAProxy keeps several) and its buffers.
pub(super) struct Connection {
    pub(super) stream: Stream,
    /// Bytes received; `input[..filled]` are valid, the rest is room to read
    /// into. Never longer than `MAX_INPUT`.
    input: Vec<u8>,
    filled: usize,
    /// Responses not yet sent: `output[written..]`.
    output: Vec<u8>,
    written: usize,
    /// Reading may find data: set by a readable event, cleared on
    /// `WouldBlock`, on a short read (see [`Connection::fill`]) or at end of
    /// stream.
    pub(super) readable: bool,
    /// The peer's FIN was seen by epoll: read on until the end of stream.
    pub(super) peer_closed: bool,
    /// The peer closed its side; answer what is complete, then close.
    eof: bool,
    /// The last response says `Connection: close`; close once it is sent.
    closing: bool,
    /// Whether the registration currently includes `WRITABLE`.
    writable_interest: bool,
}

impl Connection {
    pub(super) fn new(stream: Stream) -> Connection {
        Connection {
            stream,
            input: vec![0; INITIAL_INPUT],
            filled: 0,
            output: Vec::with_capacity(INITIAL_OUTPUT),
            written: 0,
            readable: false,
            peer_closed: false,
            eof: false,
            closing: false,
            writable_interest: false,
        }
    }

    /// Answers, sends and reads until the connection has to wait for the
    /// client. `Ok(true)`: done, close it.
    pub(super) fn drive(&mut self, respond: &impl Respond, high_water: usize) -> io::Result<bool> {
        loop {
            let more = self.answer(respond, high_water);
            if !self.flush()? {
                return Ok(false);
            }
            if more {
                continue;
            }
            if self.closing || self.eof {
                return Ok(true);
            }
            if !self.readable {
                return Ok(false);
            }
            self.fill()?;
        }
    }

    /// Parses every complete request buffered and appends the responses,
    /// stopping early at a request that closes the connection, at malformed
    /// input (answered with its error and `Connection: close`), or at
    /// `high_water` bytes of output: then it returns `true`, as buffered
    /// requests may wait for an answer once the output is sent.
    fn answer(&mut self, respond: &impl Respond, high_water: usize) -> bool {
        if self.closing {
            return false;
        }
        if self.written > 0 {
            // Only after a short write: keep the pending bytes at the front
            // so `output` does not creep forward.
            self.output.drain(..self.written);
            self.written = 0;
        }
        let mut start = 0;
        while start < self.filled && self.output.len() < high_water {
            match http::parse_request(&self.input[start..self.filled]) {
                Ok(Status::Complete(request)) => {
                    start += request.len;
                    if !respond(&request, &mut self.output) {
                        self.closing = true;
                        break;
                    }
                }
                Ok(Status::Partial) => break,
                Err(error) => {
                    let body = error.message().as_bytes();
                    http::write_response(&mut self.output, error.status(), true, body, false);
                    self.closing = true;
                    break;
                }
            }
        }
        if start > 0 {
            self.input.copy_within(start..self.filled, 0);
            self.filled -= start;
        }
        !self.closing && self.filled > 0 && self.output.len() >= high_water
    }

    /// Writes pending output. `Ok(true)` when all of it is sent.
    fn flush(&mut self) -> io::Result<bool> {
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    // A short write means the socket buffer is full: another
                    // write would only return `WouldBlock` (as tokio assumes).
                    if self.written < self.output.len() {
                        return Ok(false);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        self.output.clear();
        self.written = 0;
        Ok(true)
    }

    /// Reads what the client has sent, growing `input` up to `MAX_INPUT`;
    /// returns with the buffer full, leaving `readable` set, so that
    /// [`Connection::answer`] makes room first.
    fn fill(&mut self) -> io::Result<()> {
        loop {
            if self.filled == self.input.len() {
                if self.input.len() >= MAX_INPUT {
                    return Ok(());
                }
                let grown = (self.input.len() * 2).min(MAX_INPUT);
                self.input.resize(grown, 0);
            }
            let room = self.input.len() - self.filled;
            match self.stream.read(&mut self.input[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    self.readable = false;
                    return Ok(());
                }
                Ok(n) => {
                    self.filled += n;
                    // A short read emptied the socket: on Linux a later
                    // arrival raises a new edge, so the read that would say
                    // `WouldBlock` is a wasted syscall per request (tokio's
                    // `PollEvented` clears readiness the same way). A FIN
                    // already seen by epoll raises no new edge, so then read on.
                    if n < room && !self.peer_closed {
                        self.readable = false;
                        return Ok(());
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Asks for `WRITABLE` only while output is pending, so an idle
    /// connection costs no wake-ups; re-registers only on a change.
    pub(super) fn update_interest(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let want_writable = self.written < self.output.len();
        if want_writable != self.writable_interest {
            let interest = if want_writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry.reregister(&mut self.stream, token, interest)?;
            self.writable_interest = want_writable;
        }
        Ok(())
    }
}
