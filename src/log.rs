//! One log line, written to stderr in one `write(2)`.
//!
//! `eprintln!` may split a line into several writes (one per formatted
//! piece). `rinha local` gives all its children one stderr, so pieces from
//! different processes interleave mid-line, and tests that look for a line
//! such as "elected to drain" miss it. Formatting into a buffer first and
//! writing once keeps every line whole: writes of up to `PIPE_BUF` (4 KiB)
//! to a pipe are atomic.
//!
//! Only for events (start, election, circuit changes): never per request.

use std::fmt;
use std::io::Write;

/// Writes `args` and a newline to stderr in one write; errors are ignored
/// (there is nowhere left to report them).
pub fn line(args: fmt::Arguments<'_>) {
    let mut buffer = Vec::with_capacity(128);
    let _ = buffer.write_fmt(args);
    buffer.push(b'\n');
    let _ = std::io::stderr().lock().write_all(&buffer);
}

/// `log!("x {}", y)`: like `eprintln!`, but the line is written whole.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!($($arg)*))
    };
}
