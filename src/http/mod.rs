//! Incremental HTTP/1.1 request parsing and response writing.
//!
//! The server keeps one read buffer per connection and calls
//! [`parse_request`] on the unconsumed bytes after every read. An incomplete
//! request is an expected state, [`Status::Partial`] ("read more"), never an
//! error; the only errors are requests we will not serve, each a small `Copy`
//! value that knows its status code and a one-line JSON body.
//!
//! Sizes are capped so that a buffer of [`MAX_HEAD`] + [`MAX_BODY`] bytes always
//! holds a complete request or proves it can never be one: a head longer than
//! [`MAX_HEAD`] fails as soon as that many bytes are buffered, and a body
//! longer than [`MAX_BODY`] fails as soon as its `Content-Length` is seen. As
//! httparse warns, retrying a parse on an ever-growing buffer is the classic
//! way to be made to work forever; the caps are what rule it out.
//!
//! One header is read for the layers above: [`ARRIVED_HEADER`], the time
//! HAProxy stamped on the request when it received it (see `haproxy.cfg`),
//! so that a request that waited too long before reaching us can be refused
//! while its client is still waiting (`crate::api`).
//!
//! Bodies are framed by `Content-Length` only. HAProxy and k6 never send
//! `Transfer-Encoding` on these requests, so chunked bodies are refused (501)
//! rather than half supported. Both sides of a request-smuggling ambiguity
//! (conflicting lengths, any transfer coding) are rejected outright.

mod listener;
pub mod server;

/// The most bytes a request head (request line and headers) may take.
pub const MAX_HEAD: usize = 8 * 1024;
/// The largest `Content-Length` accepted; a payment body is under 100 bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// The most header fields a request may carry.
pub const MAX_HEADERS: usize = 32;
/// The header HAProxy sets to the milliseconds since the epoch at which it
/// received the request (`http-request set-header X-Rinha-Arrived
/// %[date(0,ms)]`); compared case-insensitively.
pub const ARRIVED_HEADER: &[u8] = b"x-rinha-arrived";

/// The request methods this backend tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// Any other method: answered by the router, typically with 405.
    Other,
}

/// One complete request, borrowed from the connection's read buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'b> {
    /// The request method.
    pub method: Method,
    /// The target up to (not including) the first `?`.
    pub path: &'b [u8],
    /// The target after the first `?`, percent-encoded as received; may be empty.
    pub query: &'b [u8],
    /// Exactly `Content-Length` bytes (empty without one).
    pub body: &'b [u8],
    /// Whether the connection stays open after the response: HTTP/1.1
    /// defaults to yes and HTTP/1.0 to no, `Connection: close` or
    /// `Connection: keep-alive` override the default.
    pub keep_alive: bool,
    /// The first [`ARRIVED_HEADER`] as milliseconds since the epoch; `None`
    /// without one, or if it is not plain decimal digits (our HAProxy never
    /// writes anything else, so such a value was not stamped by it).
    pub arrived_ms: Option<u64>,
    /// Bytes this request takes in the buffer, head and body: the next
    /// pipelined request starts at this offset.
    pub len: usize,
    /// The head as received, rescanned by [`Request::header`]; keeping the
    /// slice instead of the parsed headers keeps `Request` small and `Copy`.
    head: &'b [u8],
}

impl<'b> Request<'b> {
    /// The value of the first header named `name` (ASCII case-insensitive),
    /// without surrounding whitespace.
    ///
    /// It parses the head again, so it suits the occasional lookup rather than
    /// the hot path; the fields of [`Request`] already hold what routing needs.
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        // The head parsed once already; anything else would be a bug here.
        match request.parse(self.head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return None,
        }
        request
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value.trim_ascii())
    }
}

/// The outcome of a parse that found nothing wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The buffer starts with a whole `T`.
    Complete(T),
    /// The buffer is a valid prefix of a `T`: read more and parse again.
    Partial,
}

/// Why a request is refused. The connection is closed after the answer,
/// because the framing of whatever follows cannot be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// Not HTTP/1.x: bad request line, header syntax or version.
    Malformed,
    /// Head longer than [`MAX_HEAD`] or more than [`MAX_HEADERS`] fields.
    HeadTooLarge,
    /// `Content-Length` above [`MAX_BODY`].
    BodyTooLarge,
    /// `Content-Length` not a plain decimal, or repeated with different values.
    BadContentLength,
    /// Any `Transfer-Encoding` header.
    UnsupportedTransferEncoding,
}

impl HttpError {
    /// The response status code for this error.
    pub fn status(self) -> u16 {
        match self {
            HttpError::Malformed | HttpError::BadContentLength => 400,
            HttpError::HeadTooLarge => 431,
            HttpError::BodyTooLarge => 413,
            HttpError::UnsupportedTransferEncoding => 501,
        }
    }

    /// The response body: one line of JSON.
    pub fn message(self) -> &'static str {
        match self {
            HttpError::Malformed => r#"{"error":"malformed HTTP request"}"#,
            HttpError::HeadTooLarge => r#"{"error":"request head too large"}"#,
            HttpError::BodyTooLarge => r#"{"error":"request body too large"}"#,
            HttpError::BadContentLength => r#"{"error":"invalid Content-Length"}"#,
            HttpError::UnsupportedTransferEncoding => {
                r#"{"error":"Transfer-Encoding is not supported"}"#
            }
        }
    }
}

/// Whether a connection stays open once a message carrying the
/// `Connection` header `value` is done, given what was decided before it
/// (the version's default, or an earlier `Connection` header). The value is
/// a comma-separated list of options, compared ASCII case-insensitively:
/// `close` anywhere closes, whatever else the list says; `keep-alive`
/// keeps an HTTP/1.0 connection open; other options (`TE`, `Upgrade`)
/// change nothing. The one reader of this header, for requests and for the
/// processors' responses alike.
pub fn keep_alive_after(value: &[u8], keep_alive: bool) -> bool {
    let mut keep_alive = keep_alive;
    for option in value.split(|&byte| byte == b',') {
        let option = option.trim_ascii();
        if option.eq_ignore_ascii_case(b"close") {
            return false;
        }
        if option.eq_ignore_ascii_case(b"keep-alive") {
            keep_alive = true;
        }
    }
    keep_alive
}

/// Parses the request at the start of `buf`, which may hold less than one
/// request or several pipelined ones.
///
/// `Ok(Status::Partial)` means `buf` is a valid beginning: read more and call
/// again with the longer buffer. On `Complete`, the request occupies
/// `buf[..request.len]`.
pub fn parse_request(buf: &[u8]) -> Result<Status<Request<'_>>, HttpError> {
    // Looking at no more than MAX_HEAD bytes bounds the work per call and
    // makes the head limit exact whatever the read sizes were.
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(window) {
        Ok(httparse::Status::Complete(head_len)) => head_len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(HttpError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(Status::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
        Err(_) => return Err(HttpError::Malformed),
    };

    let mut keep_alive = parsed.version == Some(1);
    let mut content_length: Option<u64> = None;
    let mut arrived_ms: Option<u64> = None;
    for header in parsed.headers.iter() {
        let name = header.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let value = parse_decimal(header.value).ok_or(HttpError::BadContentLength)?;
            match content_length {
                Some(previous) if previous != value => return Err(HttpError::BadContentLength),
                _ => content_length = Some(value),
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(HttpError::UnsupportedTransferEncoding);
        } else if name.eq_ignore_ascii_case(ARRIVED_HEADER) && arrived_ms.is_none() {
            arrived_ms = parse_decimal(header.value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            keep_alive = keep_alive_after(header.value, keep_alive);
        }
    }

    let body_len = content_length.unwrap_or(0);
    if body_len > MAX_BODY as u64 {
        return Err(HttpError::BodyTooLarge);
    }
    // Cannot truncate: bounded by MAX_BODY just above.
    let len = head_len + body_len as usize;
    if buf.len() < len {
        return Ok(Status::Partial);
    }

    let method = match parsed.method {
        Some("GET") => Method::Get,
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        _ => Method::Other,
    };
    let target = parsed.path.unwrap_or("/").as_bytes();
    let (path, query) = match target.iter().position(|&byte| byte == b'?') {
        Some(at) => (&target[..at], &target[at + 1..]),
        None => (target, &target[target.len()..]),
    };
    Ok(Status::Complete(Request {
        method,
        path,
        query,
        body: &buf[head_len..len],
        keep_alive,
        arrived_ms,
        len,
        head: &buf[..head_len],
    }))
}

/// A `Content-Length` or [`ARRIVED_HEADER`] value: one or more ASCII
/// digits and nothing else (a list such as `5, 5` is refused), read in
/// place. Saturates, so that a huge length is "too large" rather than
/// "unparsable" (and a huge stamp lies in the future, which is not stale).
fn parse_decimal(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |total, &byte| {
        byte.is_ascii_digit().then(|| {
            total
                .saturating_mul(10)
                .saturating_add(u64::from(byte - b'0'))
        })
    })
}

/// The reason phrase for the status codes this project sends; empty (which
/// HTTP allows) for any other.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Appends a response head announcing a body of `content_length` bytes:
/// `HTTP/1.1 <status> <reason>`, `Content-Length` (omitted for 204, where
/// HTTP forbids it), `Content-Type: application/json` if asked, and
/// `Connection: close` unless the connection is kept.
///
/// For callers that produce the body into `out` themselves; most want
/// [`write_response`].
pub fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    content_type_json: bool,
    content_length: usize,
    keep_alive: bool,
) {
    let mut number = itoa::Buffer::new();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(number.format(status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    if status != 204 {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(number.format(content_length).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if content_type_json {
        out.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a whole response, head then `body`, to `out`; allocates only if
/// `out` must grow.
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    content_type_json: bool,
    body: &[u8],
    keep_alive: bool,
) {
    debug_assert!(status != 204 || body.is_empty(), "a 204 has no body");
    write_head(out, status, content_type_json, body.len(), keep_alive);
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests;
