//! Unit tests of `pool`, against real loopback listeners speaking raw
//! HTTP/1.1.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream as StdStream};
use std::thread;

use mio::{Events, Poll};

use super::*;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

fn payment(n: u128) -> Request {
    Request::Pay {
        id: uuid::Uuid::from_u128(n),
        cents: 1990,
        stamp: 1_752_582_896_000,
    }
}

/// Reads one whole request (head and `Content-Length` body); `false` if
/// the peer closed first.
fn read_request(stream: &mut StdStream) -> bool {
    let mut input = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        if let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&input[..end]).to_ascii_lowercase();
            let body = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |n| n.trim().parse::<usize>().unwrap());
            if input.len() >= end + 4 + body {
                return true;
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return false,
            Ok(n) => input.extend_from_slice(&buffer[..n]),
        }
    }
}

/// A pool whose default processor is `listener`, and a poll for it.
fn pool_for(listener: &TcpListener, timeout: Duration) -> (Pool, Poll) {
    let url = format!("http://{}", listener.local_addr().unwrap());
    (Pool::new(&url, &url, timeout), Poll::new().unwrap())
}

/// Starts `request` at the default and drives the pool until it ends.
fn run(pool: &mut Pool, poll: &mut Poll, request: Request) -> Finished {
    let id = pool
        .start(poll.registry(), Processor::Default, request, Instant::now())
        .expect("started");
    let mut events = Events::with_capacity(64);
    let mut finished = Vec::new();
    let give_up = Instant::now() + Duration::from_secs(10);
    while finished.is_empty() {
        assert!(Instant::now() < give_up, "request {id} never ended");
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
        let now = Instant::now();
        for event in events.iter() {
            pool.on_event(poll.registry(), event, now, &mut finished);
        }
        pool.expire(poll.registry(), now, &mut finished);
    }
    let done = finished.pop().unwrap();
    assert_eq!(done.id, id);
    done
}

#[test]
fn a_reused_connection_closed_before_any_answer_byte_is_stale() {
    // Issue 15, item 6: the server drops a keep-alive connection it saw
    // idle as our request goes out on it. The payment's outcome stays
    // unknown, but the processor did nothing wrong.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (mut pool, mut poll) = pool_for(&listener, Duration::from_secs(5));
    let server = thread::spawn(move || {
        let (mut first, _) = listener.accept().unwrap();
        assert!(read_request(&mut first));
        first.write_all(OK).unwrap();
        // The next request arrives on the same connection: closed unanswered.
        assert!(read_request(&mut first));
        drop(first);
        // A fresh connection closed unanswered is a real failure.
        let (mut second, _) = listener.accept().unwrap();
        assert!(read_request(&mut second));
    });
    let answered = run(&mut pool, &mut poll, payment(1));
    assert!(matches!(answered.ended, Ended::Answer(ref r) if r.status == 200));
    assert!(!answered.stale);
    let dropped = run(&mut pool, &mut poll, payment(2));
    assert_eq!(dropped.ended, Ended::Lost, "the outcome is still unknown");
    assert!(dropped.stale, "a reused connection closed unanswered");
    let fresh = run(&mut pool, &mut poll, payment(3));
    server.join().unwrap();
    assert_eq!(fresh.ended, Ended::Lost);
    assert!(!fresh.stale, "a fresh connection closed unanswered is news");
}

#[test]
fn a_reused_connection_that_times_out_is_not_stale() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (mut pool, mut poll) = pool_for(&listener, Duration::from_millis(300));
    let (release, released) = std::sync::mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        assert!(read_request(&mut stream));
        stream.write_all(OK).unwrap();
        assert!(read_request(&mut stream));
        // Silent until the client has given up.
        let _ = released.recv();
    });
    let answered = run(&mut pool, &mut poll, payment(1));
    assert!(matches!(answered.ended, Ended::Answer(_)));
    let silent = run(&mut pool, &mut poll, payment(2));
    release.send(()).unwrap();
    server.join().unwrap();
    assert_eq!(silent.ended, Ended::Lost);
    assert!(
        !silent.stale,
        "silence past the deadline is the processor's"
    );
}
