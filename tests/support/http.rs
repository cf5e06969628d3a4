//! Raw HTTP/1.1 over `std::net`: request bytes written by hand, and one
//! response reader (httparse for the head, `Content-Length` for the body)
//! behind every way the tests read answers.
//!
//! The [`Client`] never retries, because a retried `POST /payments` could be
//! paid twice and the tests count exactly.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use super::rng::new_id;

/// Socket read/write bound of a [`Client`]: a server that stops answering
/// fails the test.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// More headers than any answer here carries.
const MAX_HEADERS: usize = 32;

/// One HTTP response.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// Whether the server said it closes the connection after this one.
    pub close: bool,
    /// The header lines, as sent (`Name: value`, CRLF-separated).
    pub head: String,
    /// The body as text (every body here is JSON, HTML or empty).
    pub body: String,
}

impl Response {
    /// The value of header `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// The first response in `bytes` and how many bytes it took; `None` while
/// it is incomplete. With `to_end`, a response without `Content-Length`
/// takes all the rest as its body (the server closed to end it); otherwise
/// it has no body, which holds for every answer these tests get.
fn parse(bytes: &[u8], to_end: bool) -> io::Result<Option<(Response, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let bad = |why: String| io::Error::new(ErrorKind::InvalidData, why);
    let head_len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(bad(format!("{e}: {:?}", bytes.escape_ascii()))),
    };
    let value = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let length = match value("content-length") {
        Some(text) => text
            .parse()
            .map_err(|_| bad(format!("Content-Length {text:?}")))?,
        None if to_end => bytes.len() - head_len,
        None => 0,
    };
    if bytes.len() < head_len + length {
        return Ok(None);
    }
    let close = match value("connection") {
        Some(connection) => connection.eq_ignore_ascii_case("close"),
        None => response.version == Some(0),
    };
    let head = String::from_utf8_lossy(&bytes[..head_len]);
    let head = head.split_once("\r\n").map_or("", |(_, rest)| rest);
    Ok(Some((
        Response {
            status: response.code.expect("a complete head has a code"),
            close,
            head: head.trim_end().to_string(),
            body: String::from_utf8_lossy(&bytes[head_len..head_len + length]).into_owned(),
        },
        head_len + length,
    )))
}

/// Reads one response from `stream`, `input` holding what was read before
/// and keeping what follows it. End of stream before a whole response is
/// `UnexpectedEof`.
pub fn read_response(stream: &mut impl Read, input: &mut Vec<u8>) -> io::Result<Response> {
    loop {
        if let Some((response, used)) = parse(input, false)? {
            input.drain(..used);
            return Ok(response);
        }
        let mut chunk = [0; 16 * 1024];
        match stream.read(&mut chunk)? {
            0 => return Err(ErrorKind::UnexpectedEof.into()),
            n => input.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads up to `count` responses; stops early at end of stream or a reset
/// (then `true`), fails on any other error, and fails if bytes follow the
/// `count`th response.
pub fn read_responses(stream: &mut impl Read, count: usize) -> (Vec<Response>, bool) {
    let mut input = Vec::new();
    let mut responses = Vec::new();
    while responses.len() < count {
        match read_response(stream, &mut input) {
            Ok(response) => responses.push(response),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
                ) =>
            {
                return (responses, true);
            }
            Err(e) => panic!("after {responses:?}: {e}"),
        }
    }
    assert!(
        input.is_empty(),
        "unexpected bytes after the responses: {:?}",
        input.escape_ascii()
    );
    (responses, false)
}

/// Reads until the server closes and returns the first response (a
/// `Connection: close` exchange); an error if nothing whole came.
pub fn read_until_close(stream: &mut impl Read) -> io::Result<Response> {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    match parse(&bytes, true)? {
        Some((response, _)) => Ok(response),
        None => Err(io::Error::new(
            ErrorKind::UnexpectedEof,
            format!("no whole response in {:?}", bytes.escape_ascii()),
        )),
    }
}

/// A request to `Host: localhost:9999` with a correct `Content-Length`
/// after `headers` (each ending in CRLF).
pub fn request(method: &str, target: &str, headers: &str, body: &str) -> String {
    format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost:9999\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A `GET` to `Host: localhost:9999`, with no `Content-Length`.
pub fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: localhost:9999\r\n\r\n")
}

/// The body of `POST /payments`.
pub fn payment_body(id: &str, amount: &str) -> String {
    format!(r#"{{"correlationId":"{id}","amount":{amount}}}"#)
}

/// A keep-alive HTTP/1.1 connection, opened on first use and reopened after
/// an error or a `Connection: close` (never re-sending anything).
pub struct Client {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    input: Vec<u8>,
}

impl Client {
    /// A client of `addr`; nothing is connected yet.
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            stream: None,
            input: Vec::new(),
        }
    }

    /// A client of `127.0.0.1:port`.
    pub fn local(port: u16) -> Client {
        Client::new(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    /// Sends one request with `Content-Length` (and a JSON content type when
    /// there is a body) plus `headers`, and reads its response.
    pub fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        let mut request = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            request.push_str("Content-Type: application/json\r\n");
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes)
    }

    /// Writes `bytes` as they are and reads one response.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<Response> {
        let outcome = self.exchange(bytes);
        if outcome.as_ref().map_or(true, |response| response.close) {
            self.stream = None;
            self.input.clear();
        }
        outcome
    }

    fn exchange(&mut self, bytes: &[u8]) -> io::Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream.write_all(bytes)?;
        read_response(stream, &mut self.input)
    }
}

/// Posts one payment of 19.90 with a fresh id; returns the status (an I/O
/// error counts as no answer).
pub fn post_payment(client: &mut Client) -> io::Result<u16> {
    let body = payment_body(&new_id(), "19.90");
    client
        .send("POST", "/payments", &[], body.as_bytes())
        .map(|r| r.status)
}
