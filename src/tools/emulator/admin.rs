//! The `/admin/` endpoints: settings, the summary with fees, the purge.
//!
//! The token is checked before anything else, the body included, so a
//! request without it can neither change nor probe the emulator.

use super::json::{self, JsonStr, Value};
use super::routes::{Answer, Emulator, Settings, bool_text, empty, json, lock, ok_json};
use crate::domain::money;
use crate::domain::summary;
use crate::http::Request;

const PURGED: &str = r#"{"message":"All payments purged."}"#;

impl Emulator {
    /// Every `/admin/` endpoint, after the token check; `name` is the path
    /// after `/admin/` and the method is already checked.
    pub(super) fn admin(&self, request: &Request, name: &[u8], body: &mut Vec<u8>) -> Answer {
        let authorised = request
            .header("X-Rinha-Token")
            .is_some_and(|token| token == self.settings().token.as_bytes());
        if !authorised {
            return empty(401);
        }
        match name {
            b"payments-summary" => self.summary(request.query, body),
            b"purge-payments" => {
                lock(&self.store).purge();
                json(200, PURGED, body)
            }
            b"configurations/token" => match string_field(request.body, "token") {
                Some(token) => {
                    self.settings().token = token;
                    empty(204)
                }
                None => json(
                    400,
                    r#"{"error":"token must be a plain JSON string"}"#,
                    body,
                ),
            },
            b"configurations/delay" => match delay_field(request.body) {
                Some(is) => {
                    let was = std::mem::replace(&mut self.settings().delay_ms, is);
                    let (mut was_text, mut is_text) = (itoa::Buffer::new(), itoa::Buffer::new());
                    let (was, is) = (was_text.format(was), is_text.format(is));
                    config_changed(b"delay", was.as_bytes(), is.as_bytes(), body)
                }
                None => json(
                    400,
                    r#"{"error":"delay must be an integer of ms, 0 or more"}"#,
                    body,
                ),
            },
            b"configurations/failure" => {
                self.switch(request.body, "failure", body, |s| &mut s.failure)
            }
            b"configurations/status" => match status_field(request.body) {
                Some(is) => {
                    let was = std::mem::replace(&mut self.settings().status, is);
                    let (mut was_text, mut is_text) = (itoa::Buffer::new(), itoa::Buffer::new());
                    let (was, is) = (was_text.format(was), is_text.format(is));
                    config_changed(b"status", was.as_bytes(), is.as_bytes(), body)
                }
                None => json(
                    400,
                    r#"{"error":"status must be 0 (off) or an integer from 300 to 599"}"#,
                    body,
                ),
            },
            _ => self.switch(request.body, "drop", body, |s| &mut s.drop),
        }
    }

    /// `PUT /admin/configurations/{failure,drop}` `{"<name>": bool}`.
    fn switch(
        &self,
        request_body: &[u8],
        name: &str,
        body: &mut Vec<u8>,
        flag: fn(&mut Settings) -> &mut bool,
    ) -> Answer {
        let Ok([Some(Value::Bool(is))]) = json::fields(request_body, [name]) else {
            return json(400, r#"{"error":"expected a boolean"}"#, body);
        };
        let was = std::mem::replace(flag(&mut self.settings()), is);
        config_changed(name.as_bytes(), bool_text(was), bool_text(is), body)
    }

    /// `GET /admin/payments-summary?from&to`.
    fn summary(&self, query: &[u8], body: &mut Vec<u8>) -> Answer {
        let window = match summary::parse_window(query) {
            Ok(window) => window,
            Err(error) => return json(400, error.message(), body),
        };
        let totals = lock(&self.store).totals(window);
        body.extend_from_slice(b"{\"totalAmount\":");
        money::write_cents(totals.cents, body);
        body.extend_from_slice(b",\"totalRequests\":");
        body.extend_from_slice(itoa::Buffer::new().format(totals.requests).as_bytes());
        body.extend_from_slice(b",\"totalFee\":");
        self.fee.write_total(totals.cents, body);
        body.extend_from_slice(b",\"feePerTransaction\":");
        body.extend_from_slice(self.fee.text().as_bytes());
        body.push(b'}');
        ok_json()
    }
}

/// A string field without escapes, as UTF-8.
fn string_field(body: &[u8], name: &str) -> Option<String> {
    let Ok([Some(Value::Str(JsonStr { raw, escaped }))]) = json::fields(body, [name]) else {
        return None;
    };
    match escaped {
        true => None,
        false => String::from_utf8(raw.to_vec()).ok(),
    }
}

/// `{"delay": ms}` with ms a JSON integer from 0 to `i32::MAX`.
fn delay_field(body: &[u8]) -> Option<u32> {
    match json::fields(body, ["delay"]) {
        Ok([Some(Value::Number(text))]) if text.iter().all(u8::is_ascii_digit) => {
            std::str::from_utf8(text)
                .ok()?
                .parse::<i32>()
                .ok()
                .and_then(|ms| u32::try_from(ms).ok())
        }
        _ => None,
    }
}

/// `{"status": n}` with n 0 (off) or a final status that is not a
/// success, 300 to 599.
fn status_field(body: &[u8]) -> Option<u16> {
    match json::fields(body, ["status"]) {
        Ok([Some(Value::Number(text))]) if text.iter().all(u8::is_ascii_digit) => {
            let status = std::str::from_utf8(text).ok()?.parse::<u16>().ok()?;
            (status == 0 || (300..=599).contains(&status)).then_some(status)
        }
        _ => None,
    }
}

/// `{"config":"<name>","was":<was>,"is":<is>}` with 200.
fn config_changed(name: &[u8], was: &[u8], is: &[u8], body: &mut Vec<u8>) -> Answer {
    body.extend_from_slice(b"{\"config\":\"");
    body.extend_from_slice(name);
    body.extend_from_slice(b"\",\"was\":");
    body.extend_from_slice(was);
    body.extend_from_slice(b",\"is\":");
    body.extend_from_slice(is);
    body.push(b'}');
    ok_json()
}

#[cfg(test)]
mod tests {
    use super::super::routes::test_support::*;
    use super::*;

    #[test]
    fn settings_report_what_they_were() {
        let emulator = emulator();
        let put = |name: &str, body: &str| {
            let target = format!("/admin/configurations/{name}");
            call(&emulator, &request("PUT", &target, Some("123"), body)).unwrap()
        };
        let cases = [
            (
                "delay",
                r#"{"delay":250}"#,
                r#"{"config":"delay","was":0,"is":250}"#,
            ),
            (
                "delay",
                r#"{"delay":0}"#,
                r#"{"config":"delay","was":250,"is":0}"#,
            ),
            (
                "failure",
                r#"{"failure":true}"#,
                r#"{"config":"failure","was":false,"is":true}"#,
            ),
            (
                "failure",
                r#"{"failure":false}"#,
                r#"{"config":"failure","was":true,"is":false}"#,
            ),
            (
                "drop",
                r#"{"drop":true}"#,
                r#"{"config":"drop","was":false,"is":true}"#,
            ),
        ];
        for (name, payload, expected) in cases {
            let response = put(name, payload);
            assert_eq!((status(&response), body(&response)), (200, expected));
        }
        // With drop set, a stored payment gets no answer at all.
        assert_eq!(
            call(&emulator, &payment(ID, "1", "2025-07-10T12:00:00Z")),
            None
        );
        assert!(lock(&emulator.store).get(ID.parse().unwrap()).is_some());
        assert_eq!(status(&put("drop", r#"{"drop":false}"#)), 200);
        // With a status set, every payment gets it at once and is not stored.
        let response = put("status", r#"{"status":404}"#);
        assert_eq!(body(&response), r#"{"config":"status","was":0,"is":404}"#);
        let other = "00000000-0000-4000-8000-000000000099";
        let answer = call(&emulator, &payment(other, "1", "2025-07-10T12:00:00Z")).unwrap();
        assert_eq!(status(&answer), 404);
        assert!(lock(&emulator.store).get(other.parse().unwrap()).is_none());
        for bad in [
            r#"{"status":200}"#,
            r#"{"status":1000}"#,
            r#"{"status":"404"}"#,
        ] {
            assert_eq!(status(&put("status", bad)), 400, "{bad}");
        }
        let response = put("status", r#"{"status":0}"#);
        assert_eq!(body(&response), r#"{"config":"status","was":404,"is":0}"#);
        let answer = call(&emulator, &payment(other, "1", "2025-07-10T12:00:00Z")).unwrap();
        assert_eq!(status(&answer), 200);
        let response = put("token", r#"{"token":"s3cret"}"#);
        assert!(response.starts_with("HTTP/1.1 204"), "{response}");
        assert_eq!(status(&put("drop", r#"{"drop":false}"#)), 401);
    }

    #[test]
    fn summary_totals_and_fee() {
        let emulator = emulator();
        for (n, at) in [
            (1, "2025-07-10T12:00:00.000Z"),
            (2, "2025-07-10T12:00:01.000Z"),
            (3, "2025-07-10T12:00:02.000Z"),
        ] {
            let id = format!("00000000-0000-4000-8000-00000000000{n}");
            let response = call(&emulator, &payment(&id, "19.90", at)).unwrap();
            assert_eq!(status(&response), 200);
        }
        let cases = [
            (
                "",
                r#"{"totalAmount":59.70,"totalRequests":3,"totalFee":2.9850,"feePerTransaction":0.05}"#,
            ),
            (
                "?from=2025-07-10T12:00:00.000Z&to=2025-07-10T12:00:01.000Z",
                r#"{"totalAmount":39.80,"totalRequests":2,"totalFee":1.9900,"feePerTransaction":0.05}"#,
            ),
            (
                "?from=2025-07-10T12:00:00.001Z",
                r#"{"totalAmount":59.70,"totalRequests":3,"totalFee":2.9850,"feePerTransaction":0.05}"#,
            ),
        ];
        for (query, expected) in cases {
            let target = format!("/admin/payments-summary{query}");
            let response = call(&emulator, &request("GET", &target, Some("123"), "")).unwrap();
            assert_eq!(
                (status(&response), body(&response)),
                (200, expected),
                "{query}"
            );
        }
        let response = call(
            &emulator,
            &request("POST", "/admin/purge-payments", Some("123"), ""),
        )
        .unwrap();
        assert_eq!(body(&response), PURGED);
        let response = call(
            &emulator,
            &request("GET", "/admin/payments-summary", Some("123"), ""),
        )
        .unwrap();
        assert!(
            body(&response)
                .starts_with(r#"{"totalAmount":0.00,"totalRequests":0,"totalFee":0.0000"#)
        );
    }
}
