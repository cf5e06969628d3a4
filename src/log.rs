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
//!
//! [`silence`] turns every line off for the whole process: `rinha sim`
//! drives the real router through hundreds of timelines, and its
//! condition changes would otherwise print thousands of lines.
//!
//! [`report`] is the other stream: a command's output on stdout, where a
//! reader that quits early (`| head`) is not an error.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether lines are dropped; see [`silence`].
static SILENT: AtomicBool = AtomicBool::new(false);

/// Drops every later line of this process (`true`) or writes them again
/// (`false`). Relaxed: a line racing the switch may go either way, and
/// nothing else is ordered by it.
pub fn silence(silent: bool) {
    SILENT.store(silent, Ordering::Relaxed);
}

/// Writes `args` and a newline to stderr in one write; errors are ignored
/// (there is nowhere left to report them).
pub fn line(args: fmt::Arguments<'_>) {
    if SILENT.load(Ordering::Relaxed) {
        return;
    }
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

/// Writes a command's output (help, a report) to stdout. A closed stdout —
/// `rinha sim … | head` after `head` has quit — ends the output quietly:
/// `println!` would panic on the broken pipe.
pub fn report(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}
