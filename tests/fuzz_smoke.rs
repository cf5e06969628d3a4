//! The fuzz targets' checks on stable Rust, in every `cargo test`.
//!
//! libFuzzer (`fuzz/run.sh`) needs the nightly toolchain, which CI may not
//! have. This harness runs the very same checks (`fuzz/src/lib.rs`) over the
//! checked-in seed corpus (`fuzz/corpus/<target>/`, where every crash ever
//! found is kept too) and then over inputs made by a deterministic mutator:
//! an xorshift generator with a fixed seed flips, inserts, deletes,
//! duplicates and splices bytes and drops in tokens each parser cares about.
//! Not coverage guided, so far weaker than libFuzzer, but it runs everywhere
//! and is reproducible.
//!
//! Bounded: `RINHA_FUZZ_ITERATIONS` mutated inputs per target (default
//! 50 000) or `RINHA_FUZZ_SECONDS` per target (default 5), whichever ends
//! first. `RINHA_FUZZ_SEED` changes the sequence. A failing input is printed
//! escaped, ready to be added to the corpus.

#[path = "../fuzz/src/lib.rs"]
mod checks;
mod support;

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::rng::Rng;

/// Bytes that sit on the edges of every grammar here.
const INTERESTING: &[u8] = b"\0\x7f\xff\r\n\t \"\\%:.,-+eE0159{}[]&=?TZ";

/// Inputs never grow past this (a little above `MAX_HEAD`).
const MAX_LEN: usize = 12 * 1024;

/// Applies one to four random mutations to `input`.
fn mutate(rng: &mut Rng, input: &[u8], seeds: &[Vec<u8>], tokens: &[&[u8]]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        let at = rng.below(len + 1);
        match rng.below(10) {
            0 if len > 0 => out[at.min(len - 1)] ^= 1 << rng.below(8),
            1 if len > 0 => out[at.min(len - 1)] = rng.next_u64() as u8,
            2 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            3 => {
                let end = (at + 1 + rng.below(16)).min(len);
                out.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(len);
                let chunk = out[at.min(end)..end].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, chunk);
            }
            5 => {
                let token = tokens[rng.below(tokens.len())];
                out.splice(at..at, token.iter().copied());
            }
            6 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            7 => out.truncate(at),
            8 if len > 1 => {
                let i = at.min(len - 2);
                out.swap(i, i + 1);
            }
            _ => {
                let n = 1 + rng.below(8);
                let byte = INTERESTING[rng.below(INTERESTING.len())];
                out.splice(at..at, std::iter::repeat_n(byte, n));
            }
        }
    }
    out.truncate(MAX_LEN);
    out
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("corpus file"))
        })
        .collect()
}

thread_local! {
    /// What the check on this thread is looking at, for the panic report.
    static CURRENT: RefCell<(String, Vec<u8>)> = const { RefCell::new((String::new(), Vec::new())) };
}

/// Prints the input being checked if the check panics.
struct Reporter;

impl Drop for Reporter {
    fn drop(&mut self) {
        if std::thread::panicking() {
            CURRENT.with(|current| {
                let (what, input) = &*current.borrow();
                eprintln!(
                    "failing input ({what}), {} bytes: b\"{}\"",
                    input.len(),
                    input.escape_ascii()
                );
            });
        }
    }
}

fn check(target: fn(&[u8]), what: String, input: &[u8]) {
    CURRENT.with(|current| *current.borrow_mut() = (what, input.to_vec()));
    let _reporter = Reporter;
    target(input);
}

/// Seeds first, then mutants of seeds and of earlier mutants.
fn smoke(name: &str, tokens: &[&[u8]]) {
    let target = checks::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no target {name}"))
        .1;
    let corpus = corpus(name);
    assert!(!corpus.is_empty(), "empty corpus for {name}");
    for (file, input) in &corpus {
        check(target, format!("fuzz/corpus/{name}/{file}"), input);
    }

    let iterations: usize = env_or("RINHA_FUZZ_ITERATIONS", 50_000);
    let budget = Duration::from_secs_f64(env_or("RINHA_FUZZ_SECONDS", 5.0));
    let seed: u64 = env_or("RINHA_FUZZ_SEED", 0x5EED_0000_2025);
    let mut rng = Rng::new(seed ^ name.len() as u64);
    let seeds: Vec<Vec<u8>> = corpus.into_iter().map(|(_, input)| input).collect();
    // A small pool of recent mutants lets mutations stack up.
    let mut pool = seeds.clone();
    let started = Instant::now();
    let mut done = 0;
    while done < iterations && started.elapsed() < budget {
        let parent = &pool[rng.below(pool.len())];
        let input = mutate(&mut rng, parent, &seeds, tokens);
        check(
            target,
            format!("{name} mutant {done}, RINHA_FUZZ_SEED={seed}"),
            &input,
        );
        if pool.len() < 256 {
            pool.push(input);
        } else {
            let slot = seeds.len() + rng.below(256 - seeds.len());
            pool[slot] = input;
        }
        done += 1;
    }
    eprintln!(
        "{name}: {} seeds, {done} mutants in {:?}",
        seeds.len(),
        started.elapsed()
    );
}

#[test]
fn parse_request_survives_mutants() {
    smoke(
        "parse_request",
        &[
            b"\r\n",
            b"\r\n\r\n",
            b"\n",
            b"Content-Length: ",
            b"Content-Length: 2\r\n",
            b"content-length:0\r\n",
            b"Content-Length: 65537\r\n",
            b"Transfer-Encoding: chunked\r\n",
            b"Connection: close\r\n",
            b"Connection: keep-alive\r\n",
            b" HTTP/1.0",
            b" HTTP/1.1",
            b"GET / HTTP/1.1\r\n\r\n",
            b"POST /payments HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
            b"?from=",
        ],
    );
}

#[test]
fn parse_payment_survives_mutants() {
    smoke(
        "parse_payment",
        &[
            br#""correlationId""#,
            br#""amount""#,
            br#""correlationId":"4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3""#,
            br#""amount":19.90"#,
            b"\\u0041",
            b"\\ud83d",
            b"1e999",
            b"-0",
            b"0.005",
            b"null",
            b"true",
            b"[[[[",
            b"]]]]",
            b"{\"a\":",
            b",",
        ],
    );
}

#[test]
fn parse_window_survives_mutants() {
    smoke(
        "parse_window",
        &[
            b"from=",
            b"to=",
            b"&",
            b"%3A",
            b"%2B",
            b"%",
            b"2020-07-10T12:34:56.000Z",
            b"+23:59",
            b"-00:00",
            b".999999999",
        ],
    );
}

#[test]
fn parse_iso8601_survives_mutants() {
    smoke(
        "parse_iso8601",
        &[
            b"Z",
            b"z",
            b"T",
            b"+23:59",
            b"-12:00",
            b".5",
            b".000000001",
            b"29",
            b"9999",
            b"0000",
            b"02-29",
        ],
    );
}

#[test]
fn parse_cents_survives_mutants() {
    smoke(
        "parse_cents",
        &[
            b"e", b"E", b"e-", b"e+", b".", b"-", b"0", b"5", b"9", b".005", b"e2", b"999999",
        ],
    );
}

/// The reference implementation the cents target compares against must
/// itself be right on the cases `money`'s own tests pin down.
#[test]
fn the_cents_reference_agrees_with_known_answers() {
    use rinha::domain::money::AmountError::*;
    let cases: &[(&str, Result<u64, rinha::domain::money::AmountError>)] = &[
        ("19.90", Ok(1990)),
        ("19.9", Ok(1990)),
        ("0.125", Ok(12)),
        ("0.135", Ok(14)),
        ("0.1251", Ok(13)),
        ("0.005", Err(NotPositive)),
        ("0.0051", Ok(1)),
        ("1.99E+1", Ok(1990)),
        ("1e-2", Ok(1)),
        ("-0", Err(NotPositive)),
        ("-19.90", Err(NotPositive)),
        ("0", Err(NotPositive)),
        ("10000000000000", Ok(1_000_000_000_000_000)),
        ("10000000000000.01", Err(TooLarge)),
        ("1e300", Err(TooLarge)),
        ("01", Err(NotANumber)),
        ("1.", Err(NotANumber)),
        (".5", Err(NotANumber)),
        ("+1", Err(NotANumber)),
        ("1e", Err(NotANumber)),
        (" 1", Err(NotANumber)),
        ("NaN", Err(NotANumber)),
    ];
    for &(text, expected) in cases {
        assert_eq!(
            checks::reference_cents(text.as_bytes()),
            Some(expected),
            "{text}"
        );
        assert_eq!(
            rinha::domain::money::parse_cents(text.as_bytes()),
            expected,
            "{text}"
        );
    }
}
