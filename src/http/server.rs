//! The mio event loop that serves HTTP on a TCP or Unix listener.
//!
//! One thread, one `epoll`, no locks: every request is answered from the
//! shared file without waiting on anything, so a single loop keeps up with the
//! contest's peak (about 550 requests per second) with room to spare, and
//! nothing in it can make one client wait for another.
//!
//! The loop has the shape of mio's `examples/tcp_server.rs`: constant tokens
//! for the listener and the waker, accept until `WouldBlock`, retry on
//! `Interrupted`, ignore spurious events, and a per-connection handler that
//! says whether the connection is done. Each connection owns a read buffer
//! (4 KiB, grown only up to [`http::MAX_HEAD`] + [`http::MAX_BODY`], which
//! always holds one complete request) and a write buffer; after their first
//! growth no request allocates. How many connections and how much output
//! each may hold are [`Limits`], derived by `rinha api` from its memory
//! budget so that every connection at its worst still fits.
//!
//! The listener is TCP or a Unix socket (HAProxy reaches the instances through
//! Unix sockets, which skip the TCP stack on both sides).
//!
//! What each request gets is a generic [`Respond`] parameter supplied by the
//! caller (`crate::cli::api` passes the payment API, or the benchmark floor's
//! fixed responses), so the loop knows nothing of payments and neither
//! responder pays for the other.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mio::event::Event;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::config::Listen;
use crate::http::listener::Listener;
use crate::http::{self, Request};

mod connection;

use connection::Connection;

/// Open connections beyond this are closed as soon as they are accepted,
/// unless [`Server::set_limits`] says otherwise. HAProxy keeps a small pool
/// per instance; the bound only protects memory.
pub const MAX_CONNECTIONS: usize = 4096;

/// How soon accepting is tried again after it failed for want of
/// descriptors or memory.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Connection `i` is registered as `Token(FIRST_CONNECTION + i)`.
const FIRST_CONNECTION: usize = 2;

/// The most one connection's input buffer holds: one complete request.
pub const MAX_INPUT: usize = http::MAX_HEAD + http::MAX_BODY;

/// Requests are not answered while this much output waits for a client that
/// does not read, so a pipelining client cannot grow our memory without bound
/// (the default; see [`Limits`]).
const OUTPUT_HIGH_WATER: usize = 64 * 1024;
/// The longest single response we write (a summary, an error): the output
/// may exceed the high-water mark by this much.
const MAX_RESPONSE: usize = 512;

/// How many connections an instance keeps and how much each may buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open connections beyond this are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Pending output at which a connection stops answering until its
    /// client reads.
    pub output_high_water: usize,
}

impl Default for Limits {
    /// 4 096 connections, 64 KiB of output each: up to 136 KiB a connection,
    /// 544 MiB in all. Only for tests and tools; `rinha api` derives its
    /// limits from its memory budget ([`Limits::within`]).
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            output_high_water: OUTPUT_HIGH_WATER,
        }
    }
}

impl Limits {
    /// Output a connection may hold under these limits: 16 KiB, enough for
    /// about 100 pipelined responses before the client must read.
    pub const BUDGETED_OUTPUT: usize = 16 * 1024;

    /// The most one connection can hold at once: a full input buffer
    /// ([`MAX_INPUT`], 72 KiB) plus output up to the high-water mark and one
    /// response beyond it.
    pub fn per_connection(output_high_water: usize) -> usize {
        MAX_INPUT + output_high_water + MAX_RESPONSE
    }

    /// Limits whose worst case fits in `bytes`: as many connections as can
    /// each hold [`Limits::per_connection`] at once, with output capped at
    /// [`Limits::BUDGETED_OUTPUT`]; at least one connection, at most
    /// [`MAX_CONNECTIONS`].
    pub fn within(bytes: usize) -> Limits {
        let each = Self::per_connection(Self::BUDGETED_OUTPUT);
        Limits {
            max_connections: (bytes / each).clamp(1, MAX_CONNECTIONS),
            output_high_water: Self::BUDGETED_OUTPUT,
        }
    }
}

/// A bound listener, its poll and its connections.
pub struct Server {
    poll: Poll,
    listener: Listener,
    /// Slot `i` holds the connection registered as `FIRST_CONNECTION + i`;
    /// closed slots are reused (through `free`) so tokens stay small.
    connections: Vec<Option<Connection>>,
    /// Indices of `None` slots in `connections`.
    free: Vec<usize>,
    /// Connection count and per-connection output bound.
    limits: Limits,
    stopper: Stopper,
}

/// Makes [`Server::serve`] return; cheap to clone and usable from any thread
/// (including a signal handler's thread).
#[derive(Clone)]
pub struct Stopper {
    stopped: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Stopper {
    /// Asks the loop to stop and wakes it if it is waiting.
    pub fn stop(&self) {
        // Relaxed: the flag publishes nothing else, and the waker's write
        // wakes the loop, which then loads the flag.
        self.stopped.store(true, Ordering::Relaxed);
        // Nothing to do if waking fails: the poll is gone, so the loop is too.
        let _ = self.waker.wake();
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

impl Server {
    /// Binds `listen` (a Unix socket is made reachable by every user and
    /// removed again when the server is dropped); `reuse_port` lets several
    /// processes share one TCP port, the kernel spreading connections.
    pub fn bind(listen: &Listen, reuse_port: bool) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut listener = Listener::bind(listen, reuse_port)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Server {
            poll,
            listener,
            connections: Vec::new(),
            free: Vec::new(),
            limits: Limits::default(),
            stopper: Stopper {
                stopped: Arc::new(AtomicBool::new(false)),
                waker,
            },
        })
    }

    /// The TCP address actually bound (useful with port 0); `None` for Unix.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.listener {
            Listener::Tcp(listener) => listener.local_addr().ok(),
            Listener::Unix { .. } => None,
        }
    }

    /// Where it listens, as `--listen` spells it.
    pub fn describe(&self) -> io::Result<String> {
        self.listener.describe()
    }

    /// Bounds connections and their buffers (before [`Server::serve`]).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// A handle that stops [`Server::serve`].
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Answers requests with `respond` until [`Stopper::stop`] is called.
    /// Trouble with one connection closes that connection only; errors
    /// returned are the poll's own.
    pub fn serve(&mut self, respond: &impl Respond) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        // Set when accepting failed for want of descriptors or memory: the
        // listener is edge-triggered, so the clients left in its backlog
        // would wait for the next one to arrive; we retry on a timer instead.
        let mut accept_stalled = false;
        while !self.stopper.is_stopped() {
            let timeout = accept_stalled.then_some(ACCEPT_RETRY);
            if let Err(error) = self.poll.poll(&mut events, timeout) {
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            if accept_stalled {
                accept_stalled = self.accept_or_stall(true);
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => accept_stalled = self.accept_or_stall(accept_stalled),
                    // The loop condition reads the flag the waker is about.
                    WAKER => {}
                    Token(token) => self.on_connection_event(token, event, respond),
                }
            }
        }
        Ok(())
    }

    /// Accepts what waits; `true` when accepting stalled for want of a
    /// resource (said once, unless it had `already` stalled).
    fn accept_or_stall(&mut self, already: bool) -> bool {
        match self.accept_all() {
            Ok(()) => false,
            Err(error) => {
                if !already {
                    crate::log!("rinha api: accept: {error}; retrying every 10 ms");
                }
                true
            }
        }
    }

    /// Accepts until the backlog is empty, or until accepting fails for
    /// want of descriptors or memory (the error: try again later).
    fn accept_all(&mut self) -> io::Result<()> {
        loop {
            let mut stream = match self.listener.accept() {
                Ok(stream) => stream,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    continue;
                }
                // Out of descriptors or memory: the pending clients wait in
                // the backlog until a retry.
                Err(error) => return Err(error),
            };
            // Beyond the bound the stream is dropped here, which closes it.
            let Some(index) = self.free_slot() else {
                continue;
            };
            let token = Token(FIRST_CONNECTION + index);
            if self
                .poll
                .registry()
                .register(&mut stream, token, Interest::READABLE)
                .is_ok()
            {
                self.connections[index] = Some(Connection::new(stream));
            } else {
                self.free.push(index);
            }
        }
    }

    fn free_slot(&mut self) -> Option<usize> {
        if let Some(index) = self.free.pop() {
            return Some(index);
        }
        if self.connections.len() < self.limits.max_connections {
            self.connections.push(None);
            return Some(self.connections.len() - 1);
        }
        None
    }

    fn on_connection_event(&mut self, token: usize, event: &Event, respond: &impl Respond) {
        let index = token - FIRST_CONNECTION;
        // A connection closed earlier in this batch: a spurious event.
        let Some(Some(connection)) = self.connections.get_mut(index) else {
            return;
        };
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            connection.readable = true;
        }
        if event.is_read_closed() {
            connection.peer_closed = true;
        }
        // An I/O error ends this connection only.
        let done = connection
            .drive(respond, self.limits.output_high_water)
            .unwrap_or(true);
        let keep = !done
            && connection
                .update_interest(self.poll.registry(), Token(token))
                .is_ok();
        if !keep && let Some(mut connection) = self.connections[index].take() {
            // Closing the descriptor would deregister it too; deregistering
            // first is what mio recommends.
            let _ = self.poll.registry().deregister(&mut connection.stream);
            self.free.push(index);
        }
    }
}

/// Appends the response to one request and says whether the connection
/// stays open; any `Fn(&Request, &mut Vec<u8>) -> bool` is one.
pub trait Respond: Fn(&Request, &mut Vec<u8>) -> bool {}

impl<F: Fn(&Request, &mut Vec<u8>) -> bool> Respond for F {}

#[cfg(test)]
mod tests;
