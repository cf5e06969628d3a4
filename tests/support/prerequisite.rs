//! What a test does when a tool it needs is not installed: under CI
//! (`CI=true`, as every CI service sets it) it fails, naming the tool and
//! how to install it, because a test that passes without checking proves
//! nothing; elsewhere it says loudly that it did not run, and the caller
//! returns.

/// Whether this is a CI run: `CI` is `true` or `1` (any case).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| {
        let value = value.trim();
        value.eq_ignore_ascii_case("true") || value == "1"
    })
}

/// `tool` is missing (`why`: what was tried); `install` says how to get it.
/// Panics under CI; otherwise prints a banner for the caller to return after.
pub fn missing(tool: &str, why: &str, install: &str) {
    let message =
        format!("{tool} is needed and missing ({why}); install it: {install} (.ci/run does)");
    assert!(!in_ci(), "CI=true: {message}");
    eprintln!("\n*** SKIPPED, NOTHING CHECKED: {message} ***\n");
}
