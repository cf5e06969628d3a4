//! Unit tests of `routes`.

use super::test_support::*;
use super::*;

#[test]
fn bad_payment_bodies_are_400_and_store_nothing() {
    let emulator = emulator();
    let at = "2025-07-10T12:34:56.000Z";
    let cases = [
        ("not json".to_string(), "JSON object"),
        (
            r#"{"amount":1,"requestedAt":"2025-07-10T12:34:56Z"}"#.to_string(),
            "correlationId",
        ),
        (
            format!(r#"{{"correlationId":"nope","amount":1,"requestedAt":"{at}"}}"#),
            "correlationId",
        ),
        (
            format!(r#"{{"correlationId":"{ID}","amount":"1","requestedAt":"{at}"}}"#),
            "amount",
        ),
        (
            format!(r#"{{"correlationId":"{ID}","amount":0,"requestedAt":"{at}"}}"#),
            "amount",
        ),
        (
            format!(r#"{{"correlationId":"{ID}","amount":1}}"#),
            "requestedAt",
        ),
        (
            format!(r#"{{"correlationId":"{ID}","amount":1,"requestedAt":"yesterday"}}"#),
            "requestedAt",
        ),
    ];
    for (payload, field) in cases {
        let response = call(&emulator, &request("POST", "/payments", None, &payload)).unwrap();
        assert_eq!(status(&response), 400, "{payload}");
        assert!(body(&response).contains(field), "{payload}: {response}");
    }
    assert_eq!(
        lock(&emulator.store)
            .totals(crate::domain::summary::Window::ALL)
            .requests,
        0
    );
}

#[test]
fn payments_are_stored_rounded_and_read_back() {
    let emulator = emulator();
    let response = call(
        &emulator,
        &payment(ID, "19.905", "2025-07-10T09:34:56.123-03:00"),
    )
    .unwrap();
    assert_eq!(status(&response), 200);
    assert_eq!(body(&response), PROCESSED);
    let response = call(&emulator, &payment(ID, "1", "2025-07-10T12:34:56Z")).unwrap();
    assert_eq!(status(&response), 422);
    assert!(body(&response).contains(ID));
    let response = call(
        &emulator,
        &request("GET", &format!("/payments/{ID}"), None, ""),
    )
    .unwrap();
    assert_eq!(
        body(&response),
        format!(
            r#"{{"correlationId":"{ID}","amount":19.90,"requestedAt":"2025-07-10T12:34:56.123Z"}}"#
        )
    );
}

#[test]
fn routing_and_admin_checks() {
    let emulator = emulator();
    let cases = [
        (request("GET", "/nowhere", None, ""), 404),
        (request("PUT", "/payments", None, ""), 405),
        (request("GET", "/payments/not-a-uuid", None, ""), 400),
        (request("GET", &format!("/payments/{ID}"), None, ""), 404),
        (request("DELETE", &format!("/payments/{ID}"), None, ""), 405),
        (request("GET", "/admin/payments-summary", None, ""), 401),
        (
            request("GET", "/admin/payments-summary", Some("1234"), ""),
            401,
        ),
        (
            request("GET", "/admin/payments-summary", Some("12"), ""),
            401,
        ),
        (
            request("POST", "/admin/purge-payments", Some("nope"), ""),
            401,
        ),
        (
            request("PUT", "/admin/configurations/delay", None, r#"{"delay":1}"#),
            401,
        ),
        (
            request("GET", "/admin/configurations/delay", Some("123"), ""),
            405,
        ),
        (request("GET", "/admin/else", Some("123"), ""), 404),
        (
            request(
                "PUT",
                "/admin/configurations/delay",
                Some("123"),
                r#"{"delay":-1}"#,
            ),
            400,
        ),
        (
            request(
                "PUT",
                "/admin/configurations/delay",
                Some("123"),
                r#"{"delay":1.5}"#,
            ),
            400,
        ),
        (
            request(
                "PUT",
                "/admin/configurations/delay",
                Some("123"),
                r#"{"delay":2147483648}"#,
            ),
            400,
        ),
        (
            request(
                "PUT",
                "/admin/configurations/failure",
                Some("123"),
                r#"{"failure":1}"#,
            ),
            400,
        ),
        (
            request("PUT", "/admin/configurations/drop", Some("123"), r#"{}"#),
            400,
        ),
        (
            request(
                "PUT",
                "/admin/configurations/token",
                Some("123"),
                r#"{"token":7}"#,
            ),
            400,
        ),
        (
            request(
                "PUT",
                "/admin/configurations/token",
                Some("123"),
                r#"{"token":"a\"b"}"#,
            ),
            400,
        ),
        (
            request(
                "GET",
                "/admin/payments-summary?from=x&to=y",
                Some("123"),
                "",
            ),
            400,
        ),
    ];
    for (raw, expected) in cases {
        let response = call(&emulator, &raw).unwrap();
        assert_eq!(status(&response), expected, "{raw}");
    }
}

#[test]
fn health_answers_then_refuses_with_retry_after() {
    let emulator = emulator();
    let response = call(
        &emulator,
        &request("GET", "/payments/service-health", None, ""),
    )
    .unwrap();
    assert_eq!(body(&response), r#"{"failing":false,"minResponseTime":0}"#);
    // Fill the queue by hand (callers that would sleep), then one more.
    let now = emulator.clock_ms();
    for _ in 0..2 {
        assert!(matches!(
            lock(&emulator.health).admit(now),
            Admission::At(_)
        ));
    }
    let response = call(
        &emulator,
        &request("GET", "/payments/service-health", None, ""),
    )
    .unwrap();
    assert_eq!(status(&response), 429);
    let retry_after = response
        .lines()
        .find_map(|line| line.strip_prefix("Retry-After: "))
        .and_then(|value| value.parse::<i64>().ok())
        .unwrap();
    assert!((1..=5).contains(&retry_after), "{response}");
}
