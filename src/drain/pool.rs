//! Keep-alive connections to the two processors, many requests out at once
//! on one thread.
//!
//! A processor answers each payment after its delay, so the payments per
//! second it can take from us are the requests we keep out ÷ its latency
//! (Little's law): 800 out at a 2 s delay is 400 a second. Threads that
//! block per request cannot reach that in a 0.5-CPU container; one mio
//! poll with a few hundred non-blocking sockets can. Each connection
//! carries one request at a time (HTTP/1.1 without pipelining: a server
//! answers a connection's requests in order, so a second one would wait
//! behind the first one's delay); a finished connection goes back to its
//! processor's idle stack and the next request reuses it, newest first, so
//! that idle ones age out on the server's side rather than under a request.
//!
//! What a request's end proves is decided here, once: an answer parsed
//! whole is an [`Ended::Answer`]; a connection that failed before any byte
//! of the request left is [`Ended::NotSent`] (the processor cannot have
//! stored anything); anything else — a reset, a close, a timeout after the
//! request was written — is [`Ended::Lost`]: the processor may have stored
//! the payment, or may still.
//!
//! What it says about the processor is another matter: a server closes
//! keep-alive connections it finds idle, and when it does so just as a
//! request goes out on one, the request ends with a reset or a close
//! before any byte of an answer. That ends the request like any other
//! failure (the payment's outcome is still unknown, or `NotSent` if the
//! write itself failed), but it is marked [`Finished::stale`]: it shows
//! nothing about how the processor is doing.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::domain::payment::Processor;
use crate::drain::wire::{self, MAX_RESPONSE, Response};

mod budget;
mod target;

use budget::{Budget, descriptor_budget};
use target::Target;

/// `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`, `EADDRNOTAVAIL` (Linux
/// numbers): this process or host ran out of something, the processor did
/// not refuse. (Docker's default soft limit of 1 024 descriptors is below
/// two processors × 800 connections: docker-compose.yml raises it.)
const LOCAL_EXHAUSTION: [i32; 5] = [24, 23, 105, 12, 99];

/// A request to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `POST /payments`.
    Pay {
        /// The correlation id.
        id: uuid::Uuid,
        /// The amount, in cents.
        cents: u64,
        /// The `requestedAt` to send, ms since the epoch.
        stamp: i64,
    },
    /// `GET /payments/{id}`.
    LookUp {
        /// The correlation id.
        id: uuid::Uuid,
    },
}

/// How a request ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The processor answered.
    Answer(Response),
    /// No byte of the request left: nothing can have been stored.
    NotSent,
    /// The request may have been processed; no answer says how.
    Lost,
}

/// Why [`Pool::start`] sent nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartError {
    /// The processor's name does not resolve: it is not there.
    Unreachable,
    /// This process is out of sockets (descriptors, ports or buffers): our
    /// own limit, which says nothing about the processor. Try later.
    NoSocket,
}

/// A request that ended, with what [`Pool::start`] returned for it.
#[derive(Debug)]
pub struct Finished {
    /// The id `start` gave it.
    pub id: u64,
    /// Where it went.
    pub processor: Processor,
    /// How it ended.
    pub ended: Ended,
    /// It went out on a connection reused from the idle stack, and the
    /// peer closed that connection (not our deadline) before any byte of
    /// an answer: most likely the server dropped it as idle.
    pub stale: bool,
}

/// One connection and the request it carries.
struct Connection {
    stream: TcpStream,
    processor: Processor,
    /// Set once the non-blocking connect is known to have succeeded.
    connected: bool,
    /// Whether its request came from the idle stack (not a fresh connect).
    reused: bool,
    /// The request in flight: `(id, deadline)`; `None` while idle.
    request: Option<(u64, Instant)>,
    /// Request bytes; `output[written..]` still to send.
    output: Vec<u8>,
    written: usize,
    /// Response bytes received so far.
    input: Vec<u8>,
}

/// Every connection of the drainer, indexed by their poll token.
pub struct Pool {
    targets: [Target; 2],
    connections: Vec<Option<Connection>>,
    /// Free indices of `connections`.
    free: Vec<usize>,
    /// Idle, connected connections per processor (a stack).
    idle: [Vec<usize>; 2],
    timeout: Duration,
    next_id: u64,
    /// Reused for request bodies.
    scratch: Vec<u8>,
    /// Connections open now, and the most this process may hold: half its
    /// descriptor limit, so the HTTP side always has the other half (less
    /// for a while after the OS refused a socket: [`budget`]).
    open: usize,
    budget: Budget,
}

impl Pool {
    /// Connections to the processors at these base URLs
    /// (`http://host:port`); a request unanswered after `timeout` is lost.
    pub fn new(default_url: &str, fallback_url: &str, timeout: Duration) -> Pool {
        Pool {
            targets: [Target::new(default_url), Target::new(fallback_url)],
            connections: Vec::new(),
            free: Vec::new(),
            idle: [Vec::new(), Vec::new()],
            timeout,
            next_id: 0,
            scratch: Vec::with_capacity(256),
            open: 0,
            budget: Budget::new(descriptor_budget()),
        }
    }

    /// Sends `request` to `processor` on an idle connection, or a new one.
    /// Returns its id, or why nothing left this process.
    pub fn start(
        &mut self,
        registry: &Registry,
        processor: Processor,
        request: Request,
        now: Instant,
    ) -> Result<u64, StartError> {
        let (index, reused) = match self.idle[processor as usize].pop() {
            Some(index) => (index, true),
            None => (self.connect(registry, processor, now)?, false),
        };
        self.next_id += 1;
        let id = self.next_id;
        let host = &self.targets[processor as usize].authority;
        let connection = self.connections[index]
            .as_mut()
            .expect("idle and new indices hold connections");
        connection.reused = reused;
        connection.output.clear();
        connection.written = 0;
        connection.input.clear();
        match request {
            Request::Pay { id, cents, stamp } => wire::write_payment(
                &mut connection.output,
                &mut self.scratch,
                host,
                id,
                cents,
                stamp,
            ),
            Request::LookUp { id } => wire::write_lookup(&mut connection.output, host, id),
        }
        connection.request = Some((id, now + self.timeout));
        if connection.connected {
            // Usually the whole request leaves here; the rest on WRITABLE.
            let _ = connection.send();
        }
        Ok(id)
    }

    fn connect(
        &mut self,
        registry: &Registry,
        processor: Processor,
        now: Instant,
    ) -> Result<usize, StartError> {
        let room = self.budget.room(self.open, now, descriptor_budget);
        if !room && !self.close_idle(registry) {
            return Err(StartError::NoSocket);
        }
        let target = &mut self.targets[processor as usize];
        let address = match target.address {
            Some(address) => address,
            None => {
                target.resolve(now);
                target.address.ok_or(StartError::Unreachable)?
            }
        };
        // A non-blocking connect reports the peer's refusal later, on the
        // socket; failing here means a local resource ran out (or, rarely,
        // no route: then the processor is unreachable all the same).
        let mut stream = match TcpStream::connect(address) {
            Ok(stream) => stream,
            Err(error)
                if error
                    .raw_os_error()
                    .is_some_and(|c| LOCAL_EXHAUSTION.contains(&c)) =>
            {
                self.learn_budget(registry, now);
                return Err(StartError::NoSocket);
            }
            Err(_) => return Err(StartError::Unreachable),
        };
        let index = self.free.pop().unwrap_or_else(|| {
            self.connections.push(None);
            self.connections.len() - 1
        });
        let interest = Interest::READABLE | Interest::WRITABLE;
        if registry
            .register(&mut stream, Token(index), interest)
            .is_err()
        {
            self.free.push(index);
            return Err(StartError::NoSocket);
        }
        self.open += 1;
        self.connections[index] = Some(Connection {
            stream,
            processor,
            connected: false,
            reused: false,
            request: None,
            output: Vec::with_capacity(512),
            written: 0,
            input: Vec::with_capacity(512),
        });
        Ok(index)
    }

    /// Handles a poll event; a request it ends is pushed to `finished`.
    pub fn on_event(
        &mut self,
        registry: &Registry,
        event: &Event,
        now: Instant,
        finished: &mut Vec<Finished>,
    ) {
        let index = event.token().0;
        let Some(connection) = self.connections.get_mut(index).and_then(Option::as_mut) else {
            return; // spurious: already closed
        };
        let progress = connection.progress(event);
        match progress {
            Progress::Pending => {}
            Progress::Answered(response) => {
                let keep = response.keep_alive;
                let (id, _) = connection
                    .request
                    .take()
                    .expect("answered implies a request");
                let processor = connection.processor;
                finished.push(Finished {
                    id,
                    processor,
                    ended: Ended::Answer(response),
                    stale: false,
                });
                // Over the budget (it shrank under us): give it back.
                if keep && self.open <= self.budget.max_open() {
                    self.idle[processor as usize].push(index);
                } else {
                    self.close(registry, index);
                }
            }
            Progress::Broken => self.fail(registry, index, Cause::Peer, now, finished),
        }
    }

    /// Ends every request past its deadline as [`Ended::Lost`] (or
    /// `NotSent` if it never left), closing its connection.
    pub fn expire(&mut self, registry: &Registry, now: Instant, finished: &mut Vec<Finished>) {
        for index in 0..self.connections.len() {
            let late = self.connections[index]
                .as_ref()
                .and_then(|c| c.request)
                .is_some_and(|(_, deadline)| now >= deadline);
            if late {
                self.fail(registry, index, Cause::Deadline, now, finished);
            }
        }
    }

    /// Closes a connection that broke, ending its request if it had one.
    fn fail(
        &mut self,
        registry: &Registry,
        index: usize,
        cause: Cause,
        now: Instant,
        finished: &mut Vec<Finished>,
    ) {
        let Some(connection) = self.connections[index].as_mut() else {
            return;
        };
        let processor = connection.processor;
        if let Some((id, _)) = connection.request.take() {
            let ended = if connection.written == 0 {
                Ended::NotSent
            } else {
                Ended::Lost
            };
            if !connection.connected {
                // The processor may have moved (a restarted container).
                self.targets[processor as usize].resolve(now);
            }
            let stale = cause == Cause::Peer && connection.reused && connection.input.is_empty();
            finished.push(Finished {
                id,
                processor,
                ended,
                stale,
            });
        }
        self.close(registry, index);
    }

    /// The OS said no: the limit may have been lowered under us (prlimit),
    /// so read it again, keep below what we hold now, and give idle
    /// connections back until within it: the HTTP side needs descriptors
    /// to accept with. The budget grows back once the OS stops refusing.
    fn learn_budget(&mut self, registry: &Registry, now: Instant) {
        self.budget.refused(self.open, descriptor_budget(), now);
        while self.open > self.budget.max_open() && self.close_idle(registry) {}
    }

    /// Closes the idle connection unused the longest (the bottom of the
    /// larger idle stack), to make room for one elsewhere.
    fn close_idle(&mut self, registry: &Registry) -> bool {
        let stack = if self.idle[0].len() >= self.idle[1].len() {
            0
        } else {
            1
        };
        if self.idle[stack].is_empty() {
            return false;
        }
        let index = self.idle[stack].remove(0);
        self.close(registry, index);
        true
    }

    fn close(&mut self, registry: &Registry, index: usize) {
        if let Some(mut connection) = self.connections[index].take() {
            self.open -= 1;
            // Deregistering a socket we are about to drop cannot matter.
            let _ = registry.deregister(&mut connection.stream);
            self.idle[connection.processor as usize].retain(|&i| i != index);
            self.free.push(index);
        }
    }
}

/// Why a connection with a request is given up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The peer closed or reset it, or it broke on our side.
    Peer,
    /// Its request outlived the timeout.
    Deadline,
}

/// What an event did to a connection.
enum Progress {
    /// Nothing conclusive yet.
    Pending,
    /// Its request was answered.
    Answered(Response),
    /// It is unusable: closed, reset, refused, or spoke nonsense.
    Broken,
}

impl Connection {
    fn progress(&mut self, event: &Event) -> Progress {
        if !self.connected {
            match self.finish_connect(event) {
                Ok(true) => {}
                Ok(false) => return Progress::Pending,
                Err(_) => return Progress::Broken,
            }
        }
        if self.request.is_some() && self.send().is_err() {
            return Progress::Broken;
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            return self.receive();
        }
        Progress::Pending
    }

    /// mio's recipe: after a WRITABLE event, an error or a peer address
    /// tells whether the non-blocking connect succeeded.
    fn finish_connect(&mut self, event: &Event) -> io::Result<bool> {
        if let Some(error) = self.stream.take_error()? {
            return Err(error);
        }
        if event.is_error() || event.is_read_closed() && !event.is_readable() {
            return Err(io::ErrorKind::ConnectionRefused.into());
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.connected = true;
                // Small requests: no Nagle delay. Failing to set it only slows us.
                let _ = self.stream.set_nodelay(true);
                Ok(true)
            }
            Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Writes what is pending until done or `WouldBlock`.
    fn send(&mut self) -> io::Result<()> {
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Reads until `WouldBlock` or the end of stream, then parses.
    fn receive(&mut self) -> Progress {
        let mut buffer = [0u8; 1024];
        let closed = loop {
            match self.stream.read(&mut buffer) {
                Ok(0) => break true,
                Ok(n) if self.input.len() + n > MAX_RESPONSE => return Progress::Broken,
                Ok(n) => self.input.extend_from_slice(&buffer[..n]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break false,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Progress::Broken,
            }
        };
        match self.parse(closed) {
            Some(progress) => progress,
            // A close before the answer was whole: nothing proves anything.
            None if closed => Progress::Broken,
            None => Progress::Pending,
        }
    }

    /// `Some` when the input settles the connection's fate; `closed` when
    /// the peer will send nothing more.
    fn parse(&mut self, closed: bool) -> Option<Progress> {
        if self.request.is_none() {
            // Bytes (or a close) on an idle connection: unusable.
            return Some(Progress::Broken);
        }
        match wire::parse_response(&self.input) {
            Ok(Some(mut response)) => {
                // An answer stands even if the connection ends with it, or
                // with bytes nobody asked for; the connection does not.
                response.keep_alive &= !closed && response.len == self.input.len();
                Some(Progress::Answered(response))
            }
            Err(_) => Some(Progress::Broken),
            Ok(None) => None,
        }
    }
}

#[cfg(test)]
mod tests;
