//! Unit tests of `http`.

use super::*;

fn complete(buf: &[u8]) -> Request<'_> {
    match parse_request(buf) {
        Ok(Status::Complete(request)) => request,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
    }
}

#[test]
fn every_strict_prefix_is_partial_and_the_whole_is_complete() {
    // (request, method, path, query, body)
    type Case = (
        &'static [u8],
        Method,
        &'static [u8],
        &'static [u8],
        &'static [u8],
    );
    let cases: &[Case] = &[
        (b"GET / HTTP/1.1\r\n\r\n", Method::Get, b"/", b"", b""),
        (
            b"GET /payments-summary?from=2020-07-10T12%3A34%3A56.000Z&to=x HTTP/1.1\r\nHost: a\r\n\r\n",
            Method::Get,
            b"/payments-summary",
            b"from=2020-07-10T12%3A34%3A56.000Z&to=x",
            b"",
        ),
        (
            b"POST /payments HTTP/1.1\r\nHost: localhost:9999\r\nContent-Type: application/json\r\nContent-Length: 70\r\n\r\n{\"correlationId\":\"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3\",\"amount\":19.9}",
            Method::Post,
            b"/payments",
            b"",
            b"{\"correlationId\":\"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3\",\"amount\":19.9}",
        ),
        (
            b"PUT /x? HTTP/1.1\nContent-Length: 2\n\nab",
            Method::Put,
            b"/x",
            b"",
            b"ab",
        ),
        (b"DELETE /p?a?b HTTP/1.0\r\n\r\n", Method::Other, b"/p", b"a?b", b""),
    ];
    for &(text, method, path, query, body) in cases {
        for split in 0..text.len() {
            assert_eq!(
                parse_request(&text[..split]),
                Ok(Status::Partial),
                "{:?} cut at {split}",
                String::from_utf8_lossy(text)
            );
        }
        let request = complete(text);
        assert_eq!(request.method, method);
        assert_eq!(request.path, path);
        assert_eq!(request.query, query);
        assert_eq!(request.body, body);
        assert_eq!(request.len, text.len());
    }
}

#[test]
fn pipelined_requests_are_taken_one_at_a_time() {
    let buf = b"POST /payments HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\
GET /payments-summary HTTP/1.1\r\n\r\n\
POST /purge-payments HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /next";
    let expected: &[(&[u8], &[u8])] = &[
        (b"/payments", b"abc"),
        (b"/payments-summary", b""),
        (b"/purge-payments", b""),
    ];
    let mut at = 0;
    for &(path, body) in expected {
        let request = complete(&buf[at..]);
        assert_eq!((request.path, request.body), (path, body));
        at += request.len;
    }
    assert_eq!(&buf[at..], b"GET /next");
    assert_eq!(parse_request(&buf[at..]), Ok(Status::Partial));
}

#[test]
fn the_arrival_stamp_is_read_as_plain_decimal_milliseconds() {
    let cases: &[(&[u8], Option<u64>)] = &[
        (b"POST /payments HTTP/1.1\r\n\r\n", None),
        (
            b"POST /payments HTTP/1.1\r\nX-Rinha-Arrived: 1796155444580\r\n\r\n",
            Some(1_796_155_444_580),
        ),
        // HAProxy sends header names in lower case.
        (
            b"POST /payments HTTP/1.1\r\nx-rinha-arrived:0\r\n\r\n",
            Some(0),
        ),
        (
            b"POST /payments HTTP/1.1\r\nx-rinha-arrived: 17 \r\n\r\n",
            Some(17),
        ),
        (
            b"POST /payments HTTP/1.1\r\nX-Rinha-Arrived: 1,2\r\n\r\n",
            None,
        ),
        (
            b"POST /payments HTTP/1.1\r\nX-Rinha-Arrived: -5\r\n\r\n",
            None,
        ),
        (b"POST /payments HTTP/1.1\r\nX-Rinha-Arrived:\r\n\r\n", None),
        (
            b"POST /payments HTTP/1.1\r\nX-Rinha-Arrived: 99999999999999999999999\r\n\r\n",
            Some(u64::MAX),
        ),
        // The first one counts, as for any header looked up by name.
        (
            b"POST /payments HTTP/1.1\r\nX-Rinha-Arrived: 5\r\nX-Rinha-Arrived: 7\r\n\r\n",
            Some(5),
        ),
        (
            b"POST /payments HTTP/1.1\r\nX-Rinha-Arrivedx: 5\r\n\r\n",
            None,
        ),
    ];
    for &(text, arrived) in cases {
        assert_eq!(
            complete(text).arrived_ms,
            arrived,
            "{}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn keep_alive_follows_version_and_connection_header() {
    let cases: &[(&[u8], bool)] = &[
        (b"GET / HTTP/1.1\r\n\r\n", true),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
        (b"GET / HTTP/1.1\r\nconnection: CLOSE\r\n\r\n", false),
        (b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", true),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        (
            b"GET / HTTP/1.0\r\nConnection: TE, keep-alive\r\n\r\n",
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n",
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nConnection: close, keep-alive\r\n\r\n",
            false,
        ),
        (b"GET / HTTP/1.1\r\nConnection: Upgrade\r\n\r\n", true),
    ];
    for &(text, keep_alive) in cases {
        assert_eq!(
            complete(text).keep_alive,
            keep_alive,
            "{}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn content_length_must_be_one_plain_number() {
    type Case = (&'static [u8], Result<&'static [u8], HttpError>);
    let cases: &[Case] = &[
        (b"Content-Length: 2\r\n", Ok(b"ab")),
        (b"Content-Length:2  \r\n", Ok(b"ab")),
        (b"content-length: 002\r\n", Ok(b"ab")),
        (b"Content-Length: 2\r\nContent-Length: 2\r\n", Ok(b"ab")),
        (b"Content-Length: 0\r\n", Ok(b"")),
        (
            b"Content-Length: 2\r\nContent-Length: 3\r\n",
            Err(HttpError::BadContentLength),
        ),
        (
            b"Content-Length: 2, 2\r\n",
            Err(HttpError::BadContentLength),
        ),
        (b"Content-Length: -2\r\n", Err(HttpError::BadContentLength)),
        (b"Content-Length: +2\r\n", Err(HttpError::BadContentLength)),
        (b"Content-Length: 0x2\r\n", Err(HttpError::BadContentLength)),
        (b"Content-Length: \r\n", Err(HttpError::BadContentLength)),
        (b"Content-Length: 65537\r\n", Err(HttpError::BodyTooLarge)),
        (
            b"Content-Length: 99999999999999999999999999\r\n",
            Err(HttpError::BodyTooLarge),
        ),
        (
            b"Transfer-Encoding: chunked\r\n",
            Err(HttpError::UnsupportedTransferEncoding),
        ),
        (
            b"Content-Length: 2\r\nTransfer-Encoding: identity\r\n",
            Err(HttpError::UnsupportedTransferEncoding),
        ),
    ];
    for &(headers, expected) in cases {
        let mut text = b"POST /payments HTTP/1.1\r\n".to_vec();
        text.extend_from_slice(headers);
        text.extend_from_slice(b"\r\nabEXTRA");
        let got = match parse_request(&text) {
            Ok(Status::Complete(request)) => Ok(request.body),
            Ok(Status::Partial) => panic!("partial"),
            Err(error) => Err(error),
        };
        assert_eq!(got, expected, "{}", String::from_utf8_lossy(headers));
    }
}

#[test]
fn sizes_are_capped_at_the_limits_exactly() {
    let request_line = b"GET / HTTP/1.1\r\n";
    let head_of = |len: usize| {
        // "X: " + filler + "\r\n" + "\r\n" completes a head of `len` bytes.
        let filler = len - request_line.len() - 3 - 2 - 2;
        let mut text = request_line.to_vec();
        text.extend_from_slice(b"X: ");
        text.resize(text.len() + filler, b'a');
        text.extend_from_slice(b"\r\n\r\n");
        assert_eq!(text.len(), len);
        text
    };
    assert_eq!(complete(&head_of(MAX_HEAD)).len, MAX_HEAD);
    let too_long = head_of(MAX_HEAD + 1);
    assert_eq!(parse_request(&too_long[..MAX_HEAD]), Ok(Status::Partial));
    assert_eq!(parse_request(&too_long), Err(HttpError::HeadTooLarge));

    let mut many = request_line.to_vec();
    for _ in 0..=MAX_HEADERS {
        many.extend_from_slice(b"A: b\r\n");
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(parse_request(&many), Err(HttpError::HeadTooLarge));

    let body_of = |len: usize| {
        let mut text = b"POST /payments HTTP/1.1\r\nContent-Length: ".to_vec();
        text.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
        text.extend_from_slice(b"\r\n\r\n");
        text
    };
    let mut largest = body_of(MAX_BODY);
    assert_eq!(parse_request(&largest), Ok(Status::Partial));
    largest.resize(largest.len() + MAX_BODY, b'x');
    assert_eq!(complete(&largest).body.len(), MAX_BODY);
    // Refused before the body arrives, so the buffer never grows for it.
    assert_eq!(
        parse_request(&body_of(MAX_BODY + 1)),
        Err(HttpError::BodyTooLarge)
    );
}

#[test]
fn malformed_heads_are_errors() {
    let cases: &[&[u8]] = &[
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / FTP/1.1\r\n\r\n",
        b"GET  / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        b"G\x00T / HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ];
    for &text in cases {
        assert_eq!(
            parse_request(text),
            Err(HttpError::Malformed),
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn header_lookup_ignores_case_and_trims() {
    let request = complete(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Rinha-Token:  123 \r\nx-rinha-token: 456\r\n\r\n",
    );
    let cases: &[(&str, Option<&[u8]>)] = &[
        ("X-Rinha-Token", Some(b"123")),
        ("x-rinha-token", Some(b"123")),
        ("X-RINHA-TOKEN", Some(b"123")),
        ("host", Some(b"a")),
        ("Content-Length", None),
        ("X-Rinha", None),
    ];
    for &(name, expected) in cases {
        assert_eq!(request.header(name), expected, "{name}");
    }
}

#[test]
fn errors_have_a_status_and_a_one_line_json_body() {
    let cases = [
        (HttpError::Malformed, 400),
        (HttpError::HeadTooLarge, 431),
        (HttpError::BodyTooLarge, 413),
        (HttpError::BadContentLength, 400),
        (HttpError::UnsupportedTransferEncoding, 501),
    ];
    for (error, status) in cases {
        assert_eq!(error.status(), status);
        let message = error.message();
        assert!(message.starts_with(r#"{"error":""#) && message.ends_with(r#""}"#));
        assert!(!message.contains('\n'));
        assert!(!reason(status).is_empty());
    }
}

#[test]
fn responses_are_written_exactly() {
    // (status, JSON?, body, keep-alive, expected bytes)
    type Case = (u16, bool, &'static [u8], bool, &'static [u8]);
    let cases: &[Case] = &[
        (200, false, b"", true, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        (
            200,
            true,
            b"{}",
            true,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
        ),
        (
            400,
            true,
            b"{\"e\":1}",
            false,
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 7\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"e\":1}",
        ),
        (204, false, b"", true, b"HTTP/1.1 204 No Content\r\n\r\n"),
        (299, false, b"x", true, b"HTTP/1.1 299 \r\nContent-Length: 1\r\n\r\nx"),
    ];
    for &(status, json, body, keep_alive, expected) in cases {
        let mut out = b"before|".to_vec();
        write_response(&mut out, status, json, body, keep_alive);
        assert_eq!(
            String::from_utf8_lossy(&out[7..]),
            String::from_utf8_lossy(expected)
        );
        assert_eq!(&out[..7], b"before|");
    }
}
