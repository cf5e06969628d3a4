//! The bytes the drainer exchanges with a processor: requests written into
//! a reused buffer, responses parsed with httparse as they arrive.
//!
//! Parsing follows the HTTP layer's rule: an incomplete response is an
//! expected state (`Ok(None)`, "read more"), never an error. Bodies are
//! framed by `Content-Length` or by chunked transfer coding (a server
//! framework may stream a JSON body without knowing its length); a response
//! with neither carries no body (every answer the processors give is a
//! small JSON object or nothing). Sizes are capped: a processor's answers
//! are a few dozen bytes, anything near [`MAX_RESPONSE`] is not one.

use uuid::Uuid;

use crate::domain::payment::write_payment_json;
use crate::http;

/// The longest response head plus body we read before giving up.
pub const MAX_RESPONSE: usize = 8 * 1024;

/// Header fields a response may carry.
const MAX_HEADERS: usize = 24;

/// Appends `POST /payments` for one payment; `scratch` holds the body
/// while its length is written (reused, so nothing is allocated once warm).
pub fn write_payment(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    host: &str,
    id: Uuid,
    cents: u64,
    stamp: i64,
) {
    scratch.clear();
    write_payment_json(id, cents, stamp, scratch);
    out.extend_from_slice(b"POST /payments HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(scratch.len()).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(scratch);
}

/// Appends `GET /payments/{id}`.
pub fn write_lookup(out: &mut Vec<u8>, host: &str, id: Uuid) {
    out.extend_from_slice(b"GET /payments/");
    let mut text = Uuid::encode_buffer();
    out.extend_from_slice(id.hyphenated().encode_lower(&mut text).as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

/// A complete response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the server will keep the connection open.
    pub keep_alive: bool,
    /// Bytes of the buffer the response took.
    pub len: usize,
}

/// Why bytes from a processor are not a response we can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not HTTP/1.x, or a malformed head or chunk.
    Malformed,
    /// Longer than [`MAX_RESPONSE`].
    TooLong,
}

/// Parses one response from the start of `input`; `Ok(None)` means read more.
///
/// Interim answers (`100 Continue`, `103 Early Hints`: any `1xx` but
/// `101`) come before the final one on the same connection, as HTTP/1.1
/// allows a server to send them unasked; they settle nothing, so they are
/// skipped and the final answer is returned, its `len` counting them too.
/// Taking one for the final answer would misread the payment and leave the
/// connection out of step: its next request would read this one's answer.
/// `101 Switching Protocols` answers an upgrade we never ask for: malformed.
pub fn parse_response(input: &[u8]) -> Result<Option<Response>, WireError> {
    let mut start = 0;
    loop {
        match parse_message(&input[start..])? {
            Message::Partial => return incomplete(input),
            Message::Interim(len) => start += len,
            Message::Final(mut response) => {
                response.len += start;
                return Ok(Some(response));
            }
        }
    }
}

/// One message at the start of a response stream.
enum Message {
    /// Not whole yet.
    Partial,
    /// An interim `1xx` head of this many bytes (it has no body).
    Interim(usize),
    /// The final answer.
    Final(Response),
}

fn parse_message(input: &[u8]) -> Result<Message, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Response::new(&mut headers);
    let head_len = match head.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(Message::Partial),
        Err(_) => return Err(WireError::Malformed),
    };
    let status = head.code.ok_or(WireError::Malformed)?;
    match status {
        101 => return Err(WireError::Malformed),
        100..=199 => return Ok(Message::Interim(head_len)),
        _ => {}
    }
    let mut framing = Framing::Empty;
    let mut keep_alive = head.version == Some(1);
    for header in head.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(header.value).map_err(|_| WireError::Malformed)?;
            let len = text.trim().parse().map_err(|_| WireError::Malformed)?;
            framing = Framing::Length(len);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            framing = Framing::Chunked;
        } else if header.name.eq_ignore_ascii_case("connection") {
            keep_alive = http::keep_alive_after(header.value, keep_alive);
        }
    }
    let rest = &input[head_len..];
    let body = match framing {
        Framing::Empty => Some((Vec::new(), 0)),
        Framing::Length(len) if len > MAX_RESPONSE => return Err(WireError::TooLong),
        Framing::Length(len) => (rest.len() >= len).then(|| (rest[..len].to_vec(), len)),
        Framing::Chunked => dechunk(rest)?,
    };
    Ok(match body {
        Some((body, body_len)) => Message::Final(Response {
            status,
            body,
            keep_alive,
            len: head_len + body_len,
        }),
        None => Message::Partial,
    })
}

enum Framing {
    Empty,
    Length(usize),
    Chunked,
}

fn incomplete(input: &[u8]) -> Result<Option<Response>, WireError> {
    if input.len() >= MAX_RESPONSE {
        Err(WireError::TooLong)
    } else {
        Ok(None)
    }
}

/// Decodes a chunked body: `Ok(None)` until its last chunk and trailer are in.
fn dechunk(mut rest: &[u8]) -> Result<Option<(Vec<u8>, usize)>, WireError> {
    let start = rest.len();
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find_crlf(rest) else {
            return Ok(None);
        };
        let size_text = rest[..line_end]
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        let size_text = std::str::from_utf8(size_text).map_err(|_| WireError::Malformed)?;
        let size = usize::from_str_radix(size_text.trim(), 16).map_err(|_| WireError::Malformed)?;
        if size > MAX_RESPONSE {
            return Err(WireError::TooLong);
        }
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Trailer fields (none, in practice) end with an empty line.
            return Ok(skip_trailer(rest).map(|after| (body, start - after.len())));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err(WireError::Malformed);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn skip_trailer(mut rest: &[u8]) -> Option<&[u8]> {
    loop {
        let end = find_crlf(rest)?;
        rest = &rest[end + 2..];
        if end == 0 {
            return Some(rest);
        }
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_request_is_framed_by_its_length() {
        let mut out = Vec::new();
        let id = Uuid::parse_str("4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3").unwrap();
        write_payment(
            &mut out,
            &mut Vec::new(),
            "pp:8080",
            id,
            2005,
            1_752_000_000_123,
        );
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /payments HTTP/1.1\r\nHost: pp:8080\r\n"));
        assert!(head.ends_with(&format!("Content-Length: {}", body.len())));
        assert_eq!(
            body,
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":20.05,"requestedAt":"2025-07-08T18:40:00.123Z"}"#
        );
    }

    #[test]
    fn responses_in_every_framing_and_every_split() {
        let cases: &[(&[u8], u16, &[u8], bool)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
                200,
                b"{}",
                true,
            ),
            (
                b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n",
                500,
                b"",
                true,
            ),
            (
                b"HTTP/1.1 422 Unprocessable\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\n{\"a\r\n2\r\n\"}\r\n0\r\n\r\n",
                422,
                b"{\"a\"}",
                true,
            ),
            (
                b"HTTP/1.1 429 Too Many\r\nConnection: close\r\n\r\n",
                429,
                b"",
                false,
            ),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, b"", false),
            // Interim answers are skipped: the final one settles the request
            // (issue 15, item 1: a 100 was taken for it).
            (
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
                200,
                b"{}",
                true,
            ),
            (
                b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
                500,
                b"",
                true,
            ),
        ];
        for &(bytes, status, body, keep_alive) in cases {
            for split in 0..bytes.len() {
                assert_eq!(parse_response(&bytes[..split]), Ok(None), "{split}");
            }
            let mut pipelined = bytes.to_vec();
            pipelined.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
            let response = parse_response(&pipelined).unwrap().unwrap();
            assert_eq!(
                (response.status, &response.body[..], response.keep_alive),
                (status, body, keep_alive)
            );
            assert_eq!(response.len, bytes.len());
        }
    }

    #[test]
    fn the_connection_header_is_a_list_of_options_in_any_case() {
        // Issue 15, item 7: only the exact value `close` closed; a list
        // or another case was read as keep-alive and the connection reused.
        let cases: &[(&str, bool)] = &[
            ("HTTP/1.1 200 OK\r\nConnection: close, TE\r\n", false),
            ("HTTP/1.1 200 OK\r\nConnection: TE,close\r\n", false),
            ("HTTP/1.1 200 OK\r\nconnection: CLOSE\r\n", false),
            ("HTTP/1.1 200 OK\r\nConnection: keep-alive, TE\r\n", true),
            ("HTTP/1.1 200 OK\r\nConnection: Upgrade\r\n", true),
            ("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n", true),
            ("HTTP/1.0 200 OK\r\nConnection: TE\r\n", false),
        ];
        for &(head, keep_alive) in cases {
            let bytes = format!("{head}Content-Length: 0\r\n\r\n");
            let response = parse_response(bytes.as_bytes()).unwrap().unwrap();
            assert_eq!(response.keep_alive, keep_alive, "{head}");
        }
    }

    #[test]
    fn garbage_and_giants_are_errors() {
        assert_eq!(
            parse_response(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            Err(WireError::Malformed)
        );
        assert_eq!(
            parse_response(b"SSH-2.0\r\n\r\n"),
            Err(WireError::Malformed)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
            Err(WireError::Malformed)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n"),
            Err(WireError::TooLong)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Err(WireError::Malformed)
        );
        let endless = [b'a'; MAX_RESPONSE];
        assert!(parse_response(&endless).is_err());
    }
}
