//! The payment body parser's table tests.

use uuid::Uuid;

use super::*;
use crate::domain::payment::write_payment_json;
use PaymentError::*;

const ID: &str = "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3";

fn payment(cents: u64) -> Result<Payment, PaymentError> {
    Ok(Payment {
        correlation_id: Uuid::parse_str(ID).unwrap(),
        amount_cents: cents,
    })
}

#[test]
fn extracts_valid_payments() {
    let cases: &[(&str, u64)] = &[
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90}"#,
            1990,
        ),
        (
            r#"{"amount":19.90,"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"}"#,
            1990,
        ),
        (
            " \t\r\n{ \"correlationId\" :\n\"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3\" ,\t\"amount\"\r:\n19.9 } \n",
            1990,
        ),
        (
            r#"{"correlationId":"4A7901B8-7D26-4D9D-AA19-4DC1C7CF60B3","amount":1}"#,
            100,
        ),
        (
            r#"{"correlationId":"4a7901b87d264d9daa194dc1c7cf60b3","amount":1}"#,
            100,
        ),
        (
            r#"{"correlationId":"{4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3}","amount":1}"#,
            100,
        ),
        (
            r#"{"correlationId":"urn:uuid:4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1}"#,
            100,
        ),
        (
            r#"{"correlationId":"\u0034a7901b8-7d26-4d9d-aa19-4dc1c7cf60b\u0033","amount":1}"#,
            100,
        ),
        (
            r#"{"correlation\u0049d":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","\u0061mount":1}"#,
            100,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1.99E+1}"#,
            1990,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":0.125}"#,
            12,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":0.135}"#,
            14,
        ),
        (
            r#"{"x":{"a":[1,-2.5e-3,true,false,null,{"b":[]},"s"]},"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","y":[],"amount":19.90,"z":{}}"#,
            1990,
        ),
        (
            r#"{"note":"quote \" backslash \\ slash \/ \b\f\n\r\t \u0022amount\u0022: 5 é 😀","correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90}"#,
            1990,
        ),
        (
            r#"{"Amount":"x","correlationid":5,"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90,"Amount":"again"}"#,
            1990,
        ),
        (
            r#"{"requestedAt":"2025-07-10T12:34:56.000Z","correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90}"#,
            1990,
        ),
    ];
    for &(body, cents) in cases {
        assert_eq!(parse_payment(body.as_bytes()), payment(cents), "{body}");
    }
}

#[test]
fn reports_what_is_wrong() {
    let cases: &[(&str, PaymentError)] = &[
        ("", NotJson),
        ("   ", NotJson),
        ("{", NotJson),
        ("}", NotJson),
        ("{}}", NotJson),
        ("{} {}", NotJson),
        (r#"{"amount":19.90,}"#, NotJson),
        (r#"{,"amount":19.90}"#, NotJson),
        (r#"{"amount" 19.90}"#, NotJson),
        (r#"{"amount":19.90 "correlationId":"x"}"#, NotJson),
        (r#"{amount:19.90}"#, NotJson),
        (r#"{'amount':19.90}"#, NotJson),
        (r#"{"amount":01}"#, NotJson),
        (r#"{"amount":1.}"#, NotJson),
        (r#"{"amount":.5}"#, NotJson),
        (r#"{"amount":+1}"#, NotJson),
        (r#"{"amount":1-2}"#, NotJson),
        (r#"{"amount":NaN}"#, NotJson),
        (r#"{"amount":tru}"#, NotJson),
        (r#"{"amount":True}"#, NotJson),
        (r#"{"x":nul,"amount":1}"#, NotJson),
        (r#"{"x":[1,],"amount":1}"#, NotJson),
        (r#"{"x":[1 2],"amount":1}"#, NotJson),
        (r#"{"x":{"a"},"amount":1}"#, NotJson),
        (r#"{"x":"\x","amount":1}"#, NotJson),
        (r#"{"x":"\u12G4","amount":1}"#, NotJson),
        (r#"{"x":"\u12","amount":1}"#, NotJson),
        ("{\"x\":\"tab\tinside\",\"amount\":1}", NotJson),
        ("{\"x\":\"unterminated}", NotJson),
        (r#"{"x":01,"amount":1}"#, NotJson),
        (r#"{"x":1e,"amount":1}"#, NotJson),
        ("\u{feff}{}", NotJson),
        ("{\"amount\":1}\0", NotJson),
        (r#"{"amount":19.90}garbage"#, NotJson),
        // Invalid JSON wins over field errors that come before it.
        (r#"{"correlationId":5,"amount":"x","oops"}"#, NotJson),
        (r#"{"amount":1,"amount":2,"#, NotJson),
        ("[]", NotAnObject),
        (r#"["correlationId","amount"]"#, NotAnObject),
        ("\"{}\"", NotAnObject),
        ("19.90", NotAnObject),
        (" null ", NotAnObject),
        ("true", NotAnObject),
        ("{}", MissingCorrelationId),
        (r#"{"amount":19.90}"#, MissingCorrelationId),
        (
            r#"{"correlationid":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1}"#,
            MissingCorrelationId,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"}"#,
            MissingAmount,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","Amount":1}"#,
            MissingAmount,
        ),
        (
            r#"{"correlationId":"not-a-uuid","amount":1}"#,
            InvalidCorrelationId,
        ),
        (r#"{"correlationId":"","amount":1}"#, InvalidCorrelationId),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b","amount":1}"#,
            InvalidCorrelationId,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3 ","amount":1}"#,
            InvalidCorrelationId,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60bz","amount":1}"#,
            InvalidCorrelationId,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3-4a7901b8-7d26","amount":1}"#,
            InvalidCorrelationId,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b\u00e9","amount":1}"#,
            InvalidCorrelationId,
        ),
        (r#"{"correlationId":5,"amount":1}"#, InvalidCorrelationId),
        (r#"{"correlationId":null,"amount":1}"#, InvalidCorrelationId),
        (
            r#"{"correlationId":["4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"],"amount":1}"#,
            InvalidCorrelationId,
        ),
        (r#"{"correlationId":{},"amount":1}"#, InvalidCorrelationId),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":"19.90"}"#,
            InvalidAmount,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":true}"#,
            InvalidAmount,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":null}"#,
            InvalidAmount,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":[19.90]}"#,
            InvalidAmount,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":{"v":1}}"#,
            InvalidAmount,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":0}"#,
            AmountNotPositive,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":-19.90}"#,
            AmountNotPositive,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":0.004}"#,
            AmountNotPositive,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1e14}"#,
            AmountTooLarge,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1,"amount":1}"#,
            DuplicateField,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1}"#,
            DuplicateField,
        ),
        (
            r#"{"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1,"\u0061mount":2}"#,
            DuplicateField,
        ),
        // Missing and invalid fields are reported correlationId first.
        (
            r#"{"correlationId":"x","amount":"x"}"#,
            InvalidCorrelationId,
        ),
        (r#"{"amount":"x"}"#, MissingCorrelationId),
    ];
    for &(body, expected) in cases {
        assert_eq!(parse_payment(body.as_bytes()), Err(expected), "{body}");
    }
}

#[test]
fn survives_truncation_and_corruption() {
    let body = br#"{"x":[{"y":"\u0022"},-1.5e3,null],"correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":19.90}"#;
    for len in 0..body.len() {
        assert_eq!(parse_payment(&body[..len]), Err(NotJson), "prefix {len}");
    }
    // Every single-byte substitution: any answer but a panic, and any
    // payment still has an amount in range.
    for at in 0..body.len() {
        for byte in [
            b'"', b'\\', b'{', b'}', b'[', b',', b':', b'0', b'e', b' ', 0x00, 0x80,
        ] {
            let mut corrupt = body.to_vec();
            corrupt[at] = byte;
            if let Ok(p) = parse_payment(&corrupt) {
                assert!(p.amount_cents > 0 && p.amount_cents <= money::MAX_CENTS);
            }
        }
    }
}

#[test]
fn refuses_invalid_utf8_in_strings() {
    let mut body = br#"{"x":""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(
        br#"","correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3","amount":1}"#,
    );
    assert_eq!(parse_payment(&body), Err(NotJson));
}

fn nested(depth: usize) -> String {
    format!(
        r#"{{"x":{}{},"correlationId":"{ID}","amount":1}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[test]
fn bounds_nesting_depth() {
    // The body's own object is one level; `depth` arrays sit inside it.
    assert_eq!(
        parse_payment(nested(MAX_DEPTH - 1).as_bytes()),
        payment(100)
    );
    assert_eq!(parse_payment(nested(MAX_DEPTH).as_bytes()), Err(NotJson));
    let mixed = format!(
        r#"{{"x":{}1{},"correlationId":"{ID}","amount":1}}"#,
        r#"{"a":["#.repeat(15),
        "]}".repeat(15)
    );
    assert_eq!(parse_payment(mixed.as_bytes()), payment(100));
    // Hostile input: no stack overflow, just an error.
    assert_eq!(parse_payment(nested(1_000_000).as_bytes()), Err(NotJson));
    assert_eq!(
        parse_payment("[".repeat(1_000_000).as_bytes()),
        Err(NotJson)
    );
    assert_eq!(
        parse_payment(r#"{"a":"#.repeat(100_000).as_bytes()),
        Err(NotJson)
    );
}

#[test]
fn messages_are_one_line_json() {
    let all = [
        NotJson,
        NotAnObject,
        MissingCorrelationId,
        InvalidCorrelationId,
        MissingAmount,
        InvalidAmount,
        AmountNotPositive,
        AmountTooLarge,
        DuplicateField,
    ];
    for error in all {
        let message = error.message();
        assert!(
            message.starts_with(r#"{"error":""#) && message.ends_with(r#""}"#),
            "{message}"
        );
        assert!(!message.contains('\n'));
        // The message is itself a valid JSON object (and not a payment).
        assert_eq!(
            parse_payment(message.as_bytes()),
            Err(MissingCorrelationId),
            "{message}"
        );
    }
    assert_eq!(
        InvalidCorrelationId.message(),
        r#"{"error":"correlationId must be a UUID"}"#
    );
}

#[test]
fn written_body_parses_back() {
    let id = Uuid::parse_str(ID).unwrap();
    for cents in [1, 99, 1990, 123_456_789, money::MAX_CENTS] {
        let mut out = Vec::new();
        write_payment_json(id, cents, 1_752_150_896_123, &mut out);
        assert_eq!(
            parse_payment(&out),
            Ok(Payment {
                correlation_id: id,
                amount_cents: cents
            })
        );
    }
}
