//! Hostile and broken clients against a live, draining `rinha api`.
//!
//! A table of raw requests, each sent on its own connection while a steady
//! load of valid payments runs on others. For each case: the statuses the
//! server documents (`src/http/mod.rs` for framing, `src/api/mod.rs` and
//! `src/api/payment_body.rs` for content), whether the connection is then closed or
//! kept (kept ones must serve one more request), and, at the end, that the
//! ledger holds exactly the valid payments: every correlation id a case
//! refused is looked up at both processors and must be at neither; every id
//! it accepted must be at exactly one.
//!
//! Then what a table cannot say: pipelined requests split at every byte,
//! slowloris clients (hundreds of half-sent requests, bounded memory, the
//! connection cap), duplicate correlation ids (paid at most once), the
//! purge switch, and HAProxy cutting off a half-sent request.
//!
//! `tests/api_server.rs` covers single connections with draining off; here
//! payments are really forwarded, so "refused means never paid" is checked
//! against the processors themselves.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use support::cluster::Cluster;
use support::http::{self, Client, get, payment_body, post_payment, request};
use support::json;
use support::load::{Background, Tally, load_for};
use support::processes::memory_kib;
use support::rng::new_id;
use support::stack::Stack;
use support::summary::now_ms;

const SETTLE: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// What the connection is after the answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Kept open: it must answer one more request.
    Open,
    /// Closed by the server.
    Closed,
}

/// One row of the table.
struct Case {
    name: String,
    /// Written in order, a few milliseconds apart.
    pieces: Vec<Vec<u8>>,
    /// Shut down our sending side after the last piece.
    half_close: bool,
    statuses: Vec<u16>,
    end: End,
    /// Correlation ids this case must get paid, once each.
    paid: Vec<String>,
    /// Correlation ids this case must never get paid.
    refused: Vec<String>,
}

fn case(name: &str, raw: impl Into<Vec<u8>>, statuses: &[u16], end: End) -> Case {
    Case {
        name: name.to_string(),
        pieces: vec![raw.into()],
        half_close: false,
        statuses: statuses.to_vec(),
        end,
        paid: Vec::new(),
        refused: Vec::new(),
    }
}

impl Case {
    fn paid(mut self, id: &str) -> Case {
        self.paid.push(id.to_string());
        self
    }

    fn refused(mut self, id: &str) -> Case {
        self.refused.push(id.to_string());
        self
    }

    fn half_closed(mut self) -> Case {
        self.half_close = true;
        self
    }
}

/// `POST /payments` with a correct `Content-Length`.
fn post(body: &str) -> String {
    post_to("/payments", body)
}

fn post_to(target: &str, body: &str) -> String {
    request("POST", target, "", body)
}

/// A request whose headers are exactly `headers`: framing is the case's.
fn framed(headers: &str, body: &str) -> String {
    format!("POST /payments HTTP/1.1\r\nHost: x\r\n{headers}\r\n{body}")
}

/// A payment body with a fresh id, and the id.
fn fresh(amount: &str) -> (String, String) {
    let id = new_id();
    (payment_body(&id, amount), id)
}

/// Reads up to `count` responses; stops early at end of stream or reset.
/// Returns the statuses and whether the stream ended.
fn read_responses(stream: &mut TcpStream, count: usize) -> (Vec<u16>, bool) {
    let (responses, ended) = http::read_responses(stream, count);
    (responses.iter().map(|r| r.status).collect(), ended)
}

/// Whether the server closes the connection (end of stream or reset)
/// within two seconds; `false` if it is still open then.
fn closed(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut byte = [0u8; 1];
    let closed = match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => panic!("unexpected byte {byte:?}"),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("{e}"),
    };
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    closed
}

/// A kept connection answers one more request.
fn still_open(stream: &mut TcpStream) -> End {
    if stream
        .write_all(get("/payments-summary").as_bytes())
        .is_err()
    {
        return End::Closed;
    }
    match read_responses(stream, 1) {
        (statuses, false) if statuses == [200] => End::Open,
        _ => End::Closed,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream
}

/// Runs one case on a fresh connection; returns what went wrong, if anything.
fn run(addr: SocketAddr, case: &Case) -> Result<(), String> {
    let mut stream = connect(addr);
    for (i, piece) in case.pieces.iter().enumerate() {
        if i > 0 {
            thread::sleep(Duration::from_millis(5));
        }
        // The server may close early (e.g. 413 before the body): a write
        // that fails then is part of the case, not an error.
        if stream.write_all(piece).is_err() {
            break;
        }
    }
    if case.half_close {
        stream.shutdown(Shutdown::Write).unwrap();
    }
    let (statuses, ended) = read_responses(&mut stream, case.statuses.len());
    if statuses != case.statuses {
        return Err(format!("statuses {statuses:?}, want {:?}", case.statuses));
    }
    let end = match (ended, case.end) {
        (true, _) => End::Closed,
        (false, End::Open) => still_open(&mut stream),
        (false, End::Closed) if closed(&mut stream) => End::Closed,
        (false, End::Closed) => End::Open,
    };
    if end != case.end {
        return Err(format!("connection {end:?}, want {:?}", case.end));
    }
    Ok(())
}

/// The table. Every id in a body is fresh, so "paid" and "refused" can be
/// checked id by id at the processors.
fn cases() -> Vec<Case> {
    use End::{Closed, Open};
    let mut cases = Vec::new();
    let mut add = |c: Case| cases.push(c);

    // The arrival stamp HAProxy sets (`X-Rinha-Arrived`, ms since the
    // epoch): a payment that waited longer than --max-request-age-ms (30 s
    // in this test, so that "just now" stays fresh however slowly the table
    // runs) is refused and never paid; its client has given up on it.
    let now = now_ms();
    let stamp = |ms: i64| format!("X-Rinha-Arrived: {ms}\r\n");
    let (body, id) = fresh("19.90");
    add(case(
        "a payment HAProxy stamped two minutes ago",
        request("POST", "/payments", &stamp(now - 120_000), &body),
        &[503],
        Open,
    )
    .refused(&id));
    let (a, ida) = fresh("19.90");
    let (b, idb) = fresh("19.90");
    add(case(
        "a stale payment, then a fresh one on the same connection",
        format!(
            "{}{}",
            request("POST", "/payments", &stamp(now - 120_000), &a),
            request("POST", "/payments", &stamp(now), &b)
        ),
        &[503, 200],
        Open,
    )
    .refused(&ida)
    .paid(&idb));
    let (body, id) = fresh("19.90");
    add(case(
        "a payment stamped just now",
        request("POST", "/payments", &stamp(now), &body),
        &[200],
        Open,
    )
    .paid(&id));
    let (body, id) = fresh("19.90");
    add(case(
        "a stamp in the future is not stale",
        request("POST", "/payments", &stamp(now + 120_000), &body),
        &[200],
        Open,
    )
    .paid(&id));
    let (body, id) = fresh("19.90");
    add(case(
        "a stamp that is not digits counts as none",
        request("POST", "/payments", "X-Rinha-Arrived: yesterday\r\n", &body),
        &[200],
        Open,
    )
    .paid(&id));
    add(case(
        "a stale stamp on a summary is served",
        request("GET", "/payments-summary", &stamp(now - 120_000), ""),
        &[200],
        Open,
    ));

    // The request line.
    add(case("not HTTP", "NONSENSE\r\n\r\n", &[400], Closed));
    add(case("method alone", "GET\r\n\r\n", &[400], Closed));
    add(case(
        "HTTP/2.0",
        "GET /payments-summary HTTP/2.0\r\n\r\n",
        &[400],
        Closed,
    ));
    add(case(
        "not HTTP/1.x",
        "GET /payments-summary FTP/1.1\r\n\r\n",
        &[400],
        Closed,
    ));
    add(case(
        "two spaces",
        "GET  /payments-summary HTTP/1.1\r\n\r\n",
        &[400],
        Closed,
    ));
    add(case(
        "NUL in the method",
        &b"G\0T /payments-summary HTTP/1.1\r\n\r\n"[..],
        &[400],
        Closed,
    ));
    add(case(
        "a TLS ClientHello",
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"[..],
        &[400],
        Closed,
    ));
    add(case(
        "blank lines before the request line are skipped",
        format!("\r\n\r\n{}", get("/payments-summary")),
        &[200],
        Open,
    ));

    // Methods and paths.
    let (body, id) = fresh("19.90");
    add(case(
        "unknown method on /payments",
        request("BREW", "/payments", "", &body),
        &[405],
        Open,
    )
    .refused(&id));
    add(case(
        "unknown method elsewhere",
        "BREW /coffee HTTP/1.1\r\n\r\n",
        &[404],
        Open,
    ));
    add(case(
        "DELETE the summary",
        "DELETE /payments-summary HTTP/1.1\r\n\r\n",
        &[405],
        Open,
    ));
    let (body, id) = fresh("19.90");
    add(case(
        "PUT a payment",
        request("PUT", "/payments", "", &body),
        &[405],
        Open,
    )
    .refused(&id));
    let (body, id) = fresh("19.90");
    add(case(
        "lower-case post",
        request("post", "/payments", "", &body),
        &[405],
        Open,
    )
    .refused(&id));
    add(case("GET a payment", get("/payments"), &[405], Open));
    add(case(
        "POST the summary",
        post_to("/payments-summary", ""),
        &[405],
        Open,
    ));
    add(case("GET the purge", get("/purge-payments"), &[405], Open));
    let (body, id) = fresh("19.90");
    add(case("wrong case path", post_to("/Payments", &body), &[404], Open).refused(&id));
    let (body, id) = fresh("19.90");
    add(case("trailing slash", post_to("/payments/", &body), &[404], Open).refused(&id));
    let (body, id) = fresh("19.90");
    add(case(
        "absolute form",
        post_to("http://localhost:9999/payments", &body),
        &[404],
        Open,
    )
    .refused(&id));
    add(case(
        "asterisk form",
        "OPTIONS * HTTP/1.1\r\n\r\n",
        &[404],
        Open,
    ));
    let (body, id) = fresh("19.90");
    add(case(
        "a query on /payments is ignored",
        post_to("/payments?x=1", &body),
        &[200],
        Open,
    )
    .paid(&id));

    // Headers and framing.
    add(case(
        "header without colon",
        "GET /payments-summary HTTP/1.1\r\nNoColon\r\n\r\n",
        &[400],
        Closed,
    ));
    add(case(
        "space in a header name",
        "GET /payments-summary HTTP/1.1\r\nBad Header: x\r\n\r\n",
        &[400],
        Closed,
    ));
    add(case(
        "obsolete line folding",
        "GET /payments-summary HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n",
        &[400],
        Closed,
    ));
    let (body, id) = fresh("19.90");
    add(case(
        "no Content-Length: the body is read as the next request",
        framed("", &body),
        &[400, 400],
        Closed,
    )
    .refused(&id));
    let (body, id) = fresh("19.90");
    let length = body.len();
    add(case(
        "Content-Length twice, same value",
        framed(
            &format!("Content-Length: {length}\r\nContent-Length: {length}\r\n"),
            &body,
        ),
        &[200],
        Open,
    )
    .paid(&id));
    let (body, id) = fresh("19.90");
    add(case(
        "Content-Length twice, different values",
        framed(
            &format!(
                "Content-Length: {length}\r\nContent-Length: {}\r\n",
                length + 1
            ),
            &body,
        ),
        &[400],
        Closed,
    )
    .refused(&id));
    for value in ["-1", "+70", "0x46", "70, 70", "", "7 0", "seventy"] {
        let (body, id) = fresh("19.90");
        add(case(
            &format!("Content-Length {value:?}"),
            framed(&format!("Content-Length: {value}\r\n"), &body),
            &[400],
            Closed,
        )
        .refused(&id));
    }
    add(case(
        "Content-Length beyond u64",
        framed("Content-Length: 99999999999999999999999\r\n", ""),
        &[413],
        Closed,
    ));
    let (body, id) = fresh("19.90");
    add(case(
        "chunked",
        framed(
            "Transfer-Encoding: chunked\r\n",
            &format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()),
        ),
        &[501],
        Closed,
    )
    .refused(&id));
    let (body, id) = fresh("19.90");
    add(case(
        "chunked and Content-Length (smuggling)",
        framed(
            &format!("Content-Length: {length}\r\nTransfer-Encoding: chunked\r\n"),
            &body,
        ),
        &[501],
        Closed,
    )
    .refused(&id));
    let (body, id) = fresh("19.90");
    add(case(
        "Transfer-Encoding: identity",
        framed(
            &format!("Transfer-Encoding: identity\r\nContent-Length: {length}\r\n"),
            &body,
        ),
        &[501],
        Closed,
    )
    .refused(&id));
    let (body, id) = fresh("19.90");
    add(case(
        "body larger than declared: the rest is the next request",
        framed("Content-Length: 10\r\n", &body),
        &[400, 400],
        Closed,
    )
    .refused(&id));
    let (body, id) = fresh("19.90");
    add(case(
        "body shorter than declared, then the client stops sending",
        framed(&format!("Content-Length: {}\r\n", length + 10), &body),
        &[],
        Closed,
    )
    .half_closed()
    .refused(&id));
    add(case(
        "head over 8 KiB",
        format!(
            "GET /payments-summary HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(9000)
        ),
        &[431],
        Closed,
    ));
    add(case(
        "33 headers",
        format!(
            "GET /payments-summary HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(33)
        ),
        &[431],
        Closed,
    ));
    let (body, id) = fresh("19.90");
    let mut too_large = case(
        "body over 64 KiB, sent anyway after the head",
        framed("Content-Length: 65537\r\n", ""),
        &[413],
        Closed,
    )
    .refused(&id);
    too_large
        .pieces
        .push(format!("{body}{}", " ".repeat(65537 - body.len())).into_bytes());
    add(too_large);
    let (body, id) = fresh("19.90");
    let padded = format!("{body}{}", " ".repeat(64 * 1024 - body.len()));
    add(case("body of exactly 64 KiB", post(&padded), &[200], Open).paid(&id));

    // Pipelining and Connection.
    let (a, ida) = fresh("19.90");
    let (b, idb) = fresh("19.90");
    let (c, idc) = fresh("19.90");
    add(case(
        "three payments and a summary in one write",
        format!(
            "{}{}{}{}",
            post(&a),
            post(&b),
            post(&c),
            get("/payments-summary")
        ),
        &[200, 200, 200, 200],
        Open,
    )
    .paid(&ida)
    .paid(&idb)
    .paid(&idc));
    let (a, ida) = fresh("19.90");
    let (b, idb) = fresh("19.90");
    add(case(
        "nothing after a malformed request is executed",
        format!("{}BAD\r\n\r\n{}", post(&a), post(&b)),
        &[200, 400],
        Closed,
    )
    .paid(&ida)
    .refused(&idb));
    let (a, ida) = fresh("19.90");
    let (b, idb) = fresh("19.90");
    add(case(
        "nothing after Connection: close is executed",
        format!(
            "{}{}",
            request("POST", "/payments", "Connection: close\r\n", &a),
            post(&b)
        ),
        &[200],
        Closed,
    )
    .paid(&ida)
    .refused(&idb));
    add(case(
        "HTTP/1.0 closes",
        "GET /payments-summary HTTP/1.0\r\n\r\n",
        &[200],
        Closed,
    ));
    add(case(
        "HTTP/1.0 with keep-alive stays",
        "GET /payments-summary HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        &[200],
        Open,
    ));
    add(case(
        "a 400 with Connection: close closes",
        request("POST", "/payments", "Connection: close\r\n", "{"),
        &[400],
        Closed,
    ));

    // The JSON body: each a 400 that keeps the connection.
    let id = new_id();
    let bodies: Vec<(&str, String)> = vec![
        (
            "truncated JSON",
            format!(r#"{{"correlationId":"{id}","amount":19.9"#),
        ),
        ("not JSON", "hello".into()),
        ("empty body", String::new()),
        (
            "an array",
            format!(r#"[{{"correlationId":"{id}","amount":19.90}}]"#),
        ),
        ("a string", r#""payment""#.into()),
        ("null", "null".into()),
        (
            "trailing garbage",
            format!("{}x", payment_body(&id, "19.90")),
        ),
        ("two objects", format!("{0}{0}", payment_body(&id, "19.90"))),
        (
            "a byte-order mark",
            format!("\u{feff}{}", payment_body(&id, "19.90")),
        ),
        (
            "single quotes",
            format!("{{'correlationId':'{id}','amount':19.90}}"),
        ),
        (
            "a comment",
            format!("{{/* hi */\"correlationId\":\"{id}\",\"amount\":19.90}}"),
        ),
        (
            "a control character in a string",
            format!("{{\"correlationId\":\"{id}\u{1}\",\"amount\":1}}"),
        ),
        (
            "nested 40 deep",
            format!(
                r#"{{"x":{}{},"correlationId":"{id}","amount":1}}"#,
                "[".repeat(40),
                "]".repeat(40)
            ),
        ),
        (
            "correlationId a number",
            r#"{"correlationId":42,"amount":19.90}"#.into(),
        ),
        (
            "correlationId an object",
            format!(r#"{{"correlationId":{{"id":"{id}"}},"amount":19.90}}"#),
        ),
        (
            "correlationId null",
            r#"{"correlationId":null,"amount":19.90}"#.into(),
        ),
        ("amount a string", payment_body(&id, r#""19.90""#)),
        ("amount true", payment_body(&id, "true")),
        ("amount null", payment_body(&id, "null")),
        ("amount an array", payment_body(&id, "[19.90]")),
        ("missing amount", format!(r#"{{"correlationId":"{id}"}}"#)),
        ("missing correlationId", r#"{"amount":19.90}"#.into()),
        ("empty object", "{}".into()),
        (
            "amount twice",
            format!(r#"{{"correlationId":"{id}","amount":1,"amount":2}}"#),
        ),
        (
            "correlationId twice",
            format!(r#"{{"correlationId":"{id}","correlationId":"{id}","amount":1}}"#),
        ),
        ("not a UUID", payment_body("not-a-uuid", "19.90")),
        ("empty UUID", payment_body("", "19.90")),
        ("UUID one digit short", payment_body(&id[1..], "19.90")),
        (
            "UUID one digit long",
            payment_body(&format!("{id}0"), "19.90"),
        ),
        (
            "UUID with a g",
            payment_body(&format!("g{}", &id[1..]), "19.90"),
        ),
        (
            "UUID with spaces",
            payment_body(&format!(" {id} "), "19.90"),
        ),
        ("amount zero", payment_body(&id, "0")),
        ("amount 0.00", payment_body(&id, "0.00")),
        ("amount negative", payment_body(&id, "-19.90")),
        ("amount minus zero", payment_body(&id, "-0")),
        ("amount rounds to zero", payment_body(&id, "0.004")),
        (
            "amount a half cent rounds to even zero",
            payment_body(&id, "0.005"),
        ),
        ("amount NaN", payment_body(&id, "NaN")),
        ("amount Infinity", payment_body(&id, "Infinity")),
        ("amount 1e400", payment_body(&id, "1e400")),
        (
            "amount over the maximum",
            payment_body(&id, "10000000000000.01"),
        ),
        ("amount with a plus", payment_body(&id, "+19.90")),
        ("amount with a leading zero", payment_body(&id, "019.90")),
        ("amount ending in a point", payment_body(&id, "19.")),
        ("amount with a comma", payment_body(&id, "19,90")),
    ];
    for (name, body) in bodies {
        add(case(name, post(&body), &[400], Open).refused(&id));
    }

    // Bodies that are odd but valid: accepted and paid once.
    let mut valid = |name: &str, make: &dyn Fn(&str) -> String| {
        let id = new_id();
        add(case(name, post(&make(&id)), &[200], Open).paid(&id));
    };
    valid("many decimals round to cents", &|id| {
        payment_body(id, "19.900000000000000000001")
    });
    valid("an exponent", &|id| payment_body(id, "1.99E+1"));
    valid("the largest amount", &|id| {
        payment_body(id, "10000000000000")
    });
    valid("an upper-case UUID", &|id| {
        payment_body(&id.to_uppercase(), "19.90")
    });
    valid("unknown fields are skipped", &|id| {
        format!(
            r#"{{"requestedAt":"2020-01-01T00:00:00Z","correlationId":"{id}","x":[1,{{"y":null}}],"amount":19.90}}"#
        )
    });
    valid("an escaped key", &|id| {
        format!(r#"{{"correlation\u0049d":"{id}","amount":19.90}}"#)
    });
    valid("whitespace everywhere", &|id| {
        format!(" \t\r\n{{ \"amount\" :\n19.90 ,\t\"correlationId\"\r:\"{id}\" }} \n")
    });

    // The summary's window.
    for (name, query, status) in [
        (
            "from not a timestamp",
            "from=yesterday&to=2030-01-01T00:00:00Z",
            400,
        ),
        (
            "to not a timestamp",
            "from=2020-01-01T00:00:00Z&to=soon",
            400,
        ),
        (
            "month 13",
            "from=2020-13-01T00:00:00Z&to=2030-01-01T00:00:00Z",
            400,
        ),
        (
            "a bad escape",
            "from=2020-01-01T00%zz00:00Z&to=2030-01-01T00:00:00Z",
            400,
        ),
        (
            "a value of 100 bytes",
            &format!("from={}&to=2030-01-01T00:00:00Z", "9".repeat(100)),
            400,
        ),
        ("only from", "from=2020-01-01T00:00:00Z", 200),
        (
            "from after to",
            "from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
            200,
        ),
        ("an empty to", "from=2020-01-01T00:00:00Z&to=", 200),
        ("unknown parameters", "a=1&b&&c=%zz", 200),
    ] {
        add(case(
            &format!("summary: {name}"),
            get(&format!("/payments-summary?{query}")),
            &[status],
            Open,
        ));
    }
    cases
}

#[test]
fn every_bad_request_gets_its_documented_answer_and_changes_nothing() {
    let mut cluster = Cluster::start("bad-input", 1, &["--max-request-age-ms", "30000"]);
    let addr = cluster.apis[0].addr;
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());

    // Valid payments on other connections all along.
    let background = Background::start(
        std::sync::Arc::new(Mutex::new(vec![addr])),
        2,
        Duration::from_millis(1),
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            run(addr, case)
                .err()
                .map(|why| format!("{}: {why}", case.name))
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let others = background.finish();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        others.refused.is_empty() && others.unknown.is_empty(),
        "other clients were not all served: {}",
        others.brief()
    );

    // The ledger holds the valid payments and nothing refused.
    let paid: Vec<String> = cases.iter().flat_map(|c| c.paid.clone()).collect();
    let refused: Vec<String> = cases.iter().flat_map(|c| c.refused.clone()).collect();
    let expected = others.acked() + paid.len() as u64;
    let settled = cluster.settle(expected, SETTLE);
    assert_eq!(settled.requests(), expected, "{}", others.brief());
    cluster.verify(&others);
    let cases_tally = Tally {
        acked: paid,
        refused,
        ..Tally::default()
    };
    cluster.verify(&cases_tally);
    eprintln!(
        "{} cases; {} paid by them, {} refused ids unpaid; alongside: {}",
        cases.len(),
        cases_tally.acked.len(),
        cases_tally.refused.len(),
        others.brief()
    );
}

#[test]
fn pipelined_requests_split_at_every_byte_are_answered_the_same() {
    let mut cluster = Cluster::start("split", 1, &[]);
    let addr = cluster.apis[0].addr;
    let statuses = [200, 200, 400, 200, 404];
    let mut paid = Vec::new();
    let sequence = |a: &str, b: &str| {
        format!(
            "{}{}{}{}{}",
            post(&payment_body(a, "19.90")),
            get("/payments-summary?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z"),
            post("{\"amount\":"),
            post(&payment_body(b, "0.01")),
            get("/nope"),
        )
    };
    let length = sequence(&new_id(), &new_id()).len();
    for split in 1..length {
        let (a, b) = (new_id(), new_id());
        let bytes = sequence(&a, &b).into_bytes();
        let mut stream = connect(addr);
        stream.write_all(&bytes[..split]).unwrap();
        // Long enough for the server to read the first part on its own.
        thread::sleep(Duration::from_millis(1));
        stream.write_all(&bytes[split..]).unwrap();
        let (got, _) = read_responses(&mut stream, statuses.len());
        assert_eq!(got, statuses, "split at byte {split} of {length}");
        assert_eq!(still_open(&mut stream), End::Open, "split at {split}");
        paid.extend([a, b]);
    }
    let settled = cluster.settle(paid.len() as u64, SETTLE);
    assert_eq!(settled.requests(), paid.len() as u64);
    cluster.verify(&Tally {
        acked: paid,
        ..Tally::default()
    });
    eprintln!("{} splits of a {length}-byte pipeline", length - 1);
}

#[test]
fn slowloris_clients_hold_their_connections_not_the_server() {
    const SLOW: usize = 300;
    let mut cluster = Cluster::start("slowloris", 1, &[]);
    let addr = cluster.apis[0].addr;
    let rss_before = cluster.apis[0].proc.rss_kib();

    // Three ways of stopping halfway: in the request line, in the headers,
    // in the body.
    let mut slow: Vec<(TcpStream, Vec<u8>, String)> = (0..SLOW)
        .map(|i| {
            let id = new_id();
            let bytes = post(&payment_body(&id, "19.90")).into_bytes();
            let cut = match i % 3 {
                0 => 3,
                1 => bytes.len() / 3,
                _ => bytes.len() - 5,
            };
            let mut stream = connect(addr);
            stream.write_all(&bytes[..cut]).unwrap();
            (stream, bytes[cut..].to_vec(), id)
        })
        .collect();

    // Everyone else is served as usual meanwhile.
    let targets = Mutex::new(vec![addr]);
    let started = Instant::now();
    let others = load_for(
        &targets,
        2,
        Duration::from_millis(1),
        Duration::from_millis(1500),
    );
    let rate = others.attempted() as f64 / started.elapsed().as_secs_f64();
    let rss_held = cluster.apis[0].proc.rss_kib();
    assert!(
        others.refused.is_empty() && others.unknown.is_empty() && rate > 200.0,
        "{rate:.0}/s: {}",
        others.brief()
    );
    assert!(
        rss_held < rss_before + 16 * 1024,
        "{SLOW} half-sent requests took {} KiB",
        rss_held - rss_before
    );

    // Half of them finish their request and are paid; the other half give
    // up and are not.
    let mut finished = Vec::new();
    let mut abandoned = Vec::new();
    for (i, (mut stream, rest, id)) in slow.drain(..).enumerate() {
        if i % 2 == 0 {
            stream.write_all(&rest).unwrap();
            let (statuses, _) = read_responses(&mut stream, 1);
            assert_eq!(statuses, [200], "slow client {i}");
            finished.push(id);
        } else {
            drop(stream);
            abandoned.push(id);
        }
    }
    let expected = others.acked() + finished.len() as u64;
    let settled = cluster.settle(expected, SETTLE);
    assert_eq!(settled.requests(), expected);
    cluster.verify(&Tally {
        acked: finished,
        refused: abandoned,
        ..Tally::default()
    });
    eprintln!(
        "{SLOW} slow clients held {} KiB; others at {rate:.0}/s: {}",
        rss_held.saturating_sub(rss_before),
        others.brief()
    );
}

#[test]
fn beyond_the_connection_cap_new_clients_are_closed_until_others_leave() {
    // The cap `rinha api` derives from its default memory budget.
    let defaults = rinha::config::ApiConfig::parse_with(&[], &|_| None).unwrap();
    let cap = rinha::cli::api::connection_limits(&defaults)
        .unwrap()
        .max_connections;
    let mut cluster = Cluster::start("conn-cap", 1, &[]);
    let addr = cluster.apis[0].addr;
    let rss_before = cluster.apis[0].proc.rss_kib();
    let mut idle: Vec<TcpStream> = (0..cap)
        .map(|_| {
            let mut stream = connect(addr);
            stream.write_all(b"G").unwrap();
            stream
        })
        .collect();
    // Accepted in order, so by the time this one is accepted all the others
    // hold a place: it is closed without an answer.
    let mut extra = connect(addr);
    let _ = extra.write_all(get("/payments-summary").as_bytes());
    let (statuses, ended) = read_responses(&mut extra, 1);
    assert!(
        statuses.is_empty() && ended,
        "over the cap: {statuses:?} ended {ended}"
    );
    let rss_full = cluster.apis[0].proc.rss_kib();
    eprintln!("{cap} half-sent requests: RSS {rss_before} KiB -> {rss_full} KiB");
    // Each connection's buffers start at 4 + 4 KiB (the input may grow to
    // 72 KiB for a request actually that large).
    assert!(
        rss_full < rss_before + cap as u64 * 32,
        "{rss_before} KiB -> {rss_full} KiB"
    );
    // A few leave; the next client is served.
    idle.truncate(cap - 8);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut next = connect(addr);
        let _ = next.write_all(get("/payments-summary").as_bytes());
        if read_responses(&mut next, 1).0 == [200] {
            break;
        }
        assert!(Instant::now() < deadline, "no room made by leaving clients");
        thread::sleep(Duration::from_millis(20));
    }
    // The ones that stayed are still served once they finish.
    let mut first = idle.swap_remove(0);
    first
        .write_all(b"ET /payments-summary HTTP/1.1\r\n\r\n")
        .unwrap();
    assert_eq!(read_responses(&mut first, 1).0, [200]);
    drop(idle);
    assert_eq!(cluster.backend_summary(None).requests(), 0);
}

#[test]
fn duplicate_correlation_ids_are_paid_at_most_once() {
    let mut cluster = Cluster::start("duplicates", 1, &[]);
    let addr = cluster.apis[0].addr;
    let mut ids = Vec::new();
    let send = |raw: String, count: usize| {
        let mut stream = connect(addr);
        stream.write_all(raw.as_bytes()).unwrap();
        read_responses(&mut stream, count).0
    };

    // The same id twice, one after the other; the first amount is paid.
    let id = new_id();
    assert_eq!(send(post(&payment_body(&id, "19.90")), 1), [200]);
    assert_eq!(send(post(&payment_body(&id, "99.99")), 1), [200]);
    ids.push((id, Some("19.90")));

    // Pipelined in one write, in two spellings of the same UUID.
    let id = new_id();
    let twice = format!(
        "{}{}",
        post(&payment_body(&id, "1.00")),
        post(&payment_body(&id.to_uppercase(), "1.00"))
    );
    assert_eq!(send(twice, 2), [200, 200]);
    ids.push((id, Some("1.00")));

    // Raced from eight connections at once: whichever is first is paid.
    for _ in 0..20 {
        let id = new_id();
        thread::scope(|scope| {
            for _ in 0..8 {
                let raw = post(&payment_body(&id, "5.00"));
                scope.spawn(move || assert_eq!(send(raw, 1), [200]));
            }
        });
        ids.push((id, Some("5.00")));
    }

    // A duplicate of a payment already paid and recorded a while ago.
    let id = new_id();
    assert_eq!(send(post(&payment_body(&id, "2.00")), 1), [200]);
    cluster.settle(ids.len() as u64 + 1, SETTLE);
    assert_eq!(send(post(&payment_body(&id, "3.00")), 1), [200]);
    ids.push((id, Some("2.00")));

    // Each id paid once, at one processor, with the first amount.
    thread::sleep(Duration::from_millis(500));
    let settled = cluster.settle(ids.len() as u64, SETTLE);
    assert_eq!(settled.requests(), ids.len() as u64);
    for (id, amount) in &ids {
        let response = Client::local(cluster.default.port)
            .send("GET", &format!("/payments/{id}"), &[], b"")
            .unwrap();
        assert_eq!(response.status, 200, "{id}");
        if let Some(amount) = amount {
            assert_eq!(json::number(&response.body, "amount"), Some(*amount));
        }
    }
    let all: Vec<String> = ids.into_iter().map(|(id, _)| id).collect();
    assert!(cluster.where_paid(&all).iter().all(|p| p.count() == 1));
}

#[test]
fn purge_can_be_disabled_and_then_changes_nothing() {
    let mut cluster = Cluster::start("no-purge", 1, &["--no-purge"]);
    let addr = cluster.apis[0].addr;
    let mut client = Client::new(addr);
    for _ in 0..20 {
        assert_eq!(post_payment(&mut client).unwrap(), 200);
    }
    let before = cluster.settle(20, SETTLE);
    let response = client.send("POST", "/purge-payments", &[], b"").unwrap();
    assert_eq!(response.status, 403, "{response:?}");
    assert_eq!(
        response.body,
        r#"{"error":"purge is disabled on this instance"}"#
    );
    assert_eq!(post_payment(&mut client).unwrap(), 200);
    let after = cluster.settle(21, SETTLE);
    assert_eq!(after.requests(), before.requests() + 1);
}

#[test]
fn through_haproxy_a_half_sent_request_is_cut_off() {
    // The contest topology bounds slowloris where the instances do not:
    // haproxy.cfg's `timeout http-request 10s`.
    let stack = Stack::start();
    let mut slow = TcpStream::connect(stack.backend).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    slow.write_all(b"POST /payments HTTP/1.1\r\nContent-Le")
        .unwrap();
    let started = Instant::now();
    // Served meanwhile.
    let mut client = Client::new(stack.backend);
    assert_eq!(post_payment(&mut client).unwrap(), 200);
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "after {took:?}: {answer:?}"
    );
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(13)).contains(&took),
        "cut off after {took:?}"
    );
    stack.settle(1, SETTLE);
}

/// Issue 9, item 5: slow clients each sending a body of almost 64 KiB, a
/// quarter at a time, more of them than the budget has room for. Before the
/// budget, 4 096 connections × (72 KiB input + 64 KiB output) could exceed
/// the container's limit; now the instance's peak resident memory stays
/// under `--memory-budget-mb` and it answers everyone else meanwhile.
#[test]
fn slow_clients_with_large_bodies_cannot_push_an_instance_past_its_memory_budget() {
    const BUDGET_MIB: u64 = 40;
    const CLIENTS: usize = 600;
    let budget = BUDGET_MIB.to_string();
    let args = [
        "--memory-budget-mb",
        &budget,
        "--ring-slots",
        "1024",
        "--ledger-entries",
        "16384",
        "--max-in-flight",
        "4",
    ];
    let mut cluster = Cluster::start("memory-budget", 1, &args);
    let addr = cluster.apis[0].addr;
    let pid = cluster.apis[0].proc.pid;
    let announced = cluster.apis[0]
        .proc
        .log
        .wait_for(Duration::from_secs(5), |l| l.contains("memory budget"))
        .expect("the instance says what its budget allows");
    // Each request is one payment padded with an unknown field to 65 000 bytes.
    let requests: Vec<(String, Vec<u8>)> = (0..CLIENTS)
        .map(|_| {
            let id = new_id();
            let head = format!(r#"{{"correlationId":"{id}","amount":19.90,"pad":""#);
            let pad = "x".repeat(65_000 - head.len() - 2);
            (id, post(&format!("{head}{pad}\"}}")).into_bytes())
        })
        .collect();
    // A client connected before the slow ones holds a place: it must be
    // answered promptly throughout (newcomers beyond the cap are closed).
    let mut other = connect(addr);
    let mut streams: Vec<Option<TcpStream>> =
        requests.iter().map(|_| Some(connect(addr))).collect();
    let mut peak_rss = 0;
    for quarter in 0..4 {
        for (stream, (_, bytes)) in streams.iter_mut().zip(&requests) {
            let piece = &bytes[bytes.len() * quarter / 4..bytes.len() * (quarter + 1) / 4];
            // A connection beyond the cap was closed: it stays closed.
            if stream.as_mut().is_some_and(|s| s.write_all(piece).is_err()) {
                *stream = None;
            }
        }
        thread::sleep(Duration::from_millis(300));
        let (rss, _) = memory_kib(pid);
        peak_rss = peak_rss.max(rss);
        let started = Instant::now();
        other
            .write_all(get("/payments-summary").as_bytes())
            .unwrap();
        assert_eq!(read_responses(&mut other, 1).0, [200], "quarter {quarter}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    let mut acked = Vec::new();
    let mut closed = 0;
    for (stream, (id, _)) in streams.iter_mut().zip(&requests) {
        match stream.as_mut().map(|s| read_responses(s, 1).0) {
            Some(statuses) if statuses == [200] => acked.push(id.clone()),
            Some(statuses) => assert!(statuses.is_empty(), "{statuses:?}"),
            None => {}
        }
        closed += usize::from(stream.is_none());
    }
    let (_, peak) = memory_kib(pid);
    eprintln!(
        "{announced}; {} of {CLIENTS} slow 64 KiB requests served, {closed} closed at \
         once; VmRSS peak seen {peak_rss} KiB, VmHWM {peak} KiB",
        acked.len()
    );
    assert!(acked.len() > 100, "served {} of {CLIENTS}", acked.len());
    assert!(
        acked.len() < CLIENTS,
        "more clients than the budget allows were held"
    );
    assert!(
        peak < BUDGET_MIB * 1024,
        "VmHWM {peak} KiB over the {BUDGET_MIB} MiB budget"
    );
    // Leave, so that the summary's client finds a place.
    drop((streams, other));
    let settled = cluster.settle(acked.len() as u64, SETTLE);
    assert_eq!(settled.requests(), acked.len() as u64);
}
