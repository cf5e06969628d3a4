//! The switches of `rinha processor` (the emulator) the tests turn, over
//! its admin API.

use super::http::Client;

/// The admin token every emulator started by the tests is given.
pub const TOKEN: &str = "123";

/// `PUT /admin/configurations/<name>` with `{"<name>":<value>}` to the
/// emulator on `port`; fails unless it answers 200.
pub fn configure(port: u16, name: &str, value: &str) {
    let target = format!("/admin/configurations/{name}");
    let body = format!(r#"{{"{name}":{value}}}"#);
    let response =
        Client::local(port).send("PUT", &target, &[("X-Rinha-Token", TOKEN)], body.as_bytes());
    assert!(
        matches!(&response, Ok(r) if r.status == 200),
        "{target}: {response:?}"
    );
}

/// Makes the emulator on `port` answer 500 (and store nothing), or stop.
pub fn set_failure(port: u16, failing: bool) {
    configure(port, "failure", if failing { "true" } else { "false" });
}

/// Makes the emulator on `port` close the connection instead of answering
/// a payment it stored (an emulator-only switch): the sender cannot know
/// whether it was paid.
pub fn set_drop(port: u16, dropping: bool) {
    configure(port, "drop", if dropping { "true" } else { "false" });
}

/// Makes the emulator on `port` sleep `ms` before each payment.
pub fn set_delay(port: u16, ms: u64) {
    configure(port, "delay", &ms.to_string());
}
