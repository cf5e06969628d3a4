#!/usr/bin/env bash
# Runs every libFuzzer target (or those named as arguments) for
# FUZZ_SECONDS each (default 60), starting from the checked-in seed corpus.
#
# libFuzzer needs the nightly toolchain (sanitizer coverage, -Z flags). When
# `cargo +nightly` is not available this prints "skipped: nightly toolchain
# not available" and exits 0: tests/fuzz_smoke.rs runs the very same checks
# (src/lib.rs) on stable with a deterministic mutator in every `cargo test`.
#
# With cargo-fuzz installed it is used (`cargo +nightly fuzz run`); without
# it the targets are built with the same flags cargo-fuzz passes, so nothing
# has to be installed besides the toolchain.
#
# New inputs found go to a temporary working corpus (the checked-in one stays
# small); a crash is kept in fuzz/artifacts/<target>/ and fails the run. Every
# crash becomes a regular test: add the input to fuzz/corpus/<target>/ (the
# smoke test replays every file there) and, for a readable record, a named
# case in tests/fuzz_smoke.rs.
set -uo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-60}"
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(parse_request parse_payment parse_window parse_iso8601 parse_cents)
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: skipped: nightly toolchain not available (cargo +nightly failed);"
    echo "fuzz: the same checks ran on stable in tests/fuzz_smoke.rs"
    exit 0
fi
echo "fuzz: $(cargo +nightly --version), ${seconds}s per target: ${targets[*]}"

triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
if cargo +nightly fuzz --version >/dev/null 2>&1; then
    # Builds every target (one cargo invocation; the run picks its own).
    build() { cargo +nightly fuzz build --release --debug-assertions; }
else
    # The flags cargo-fuzz 0.12 passes (libFuzzer's coverage feedback,
    # AddressSanitizer, debug assertions and overflow checks); --target
    # keeps build scripts and proc macros uninstrumented.
    export RUSTFLAGS="-Cpasses=sancov-module \
        -Cllvm-args=-sanitizer-coverage-level=4 \
        -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
        -Cllvm-args=-sanitizer-coverage-pc-table \
        -Cllvm-args=-sanitizer-coverage-trace-compares \
        -Cllvm-args=-sanitizer-coverage-stack-depth \
        --cfg fuzzing -Zsanitizer=address -Cdebug-assertions -Coverflow-checks"
    build() {
        local bins=()
        for target in "$@"; do bins+=(--bin "$target"); done
        cargo +nightly build --release --target "$triple" "${bins[@]}"
    }
fi
binary() { echo "target/$triple/release/$1"; }

if ! build "${targets[@]}"; then
    echo "fuzz: FAILED to build the targets with nightly"
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
for target in "${targets[@]}"; do
    mkdir -p "$work/$target" "artifacts/$target"
    # parse_request needs room for heads beyond MAX_HEAD (8 KiB).
    max_len=4096
    [ "$target" = parse_request ] && max_len=20000
    echo "==> fuzz $target for ${seconds}s"
    if "$(binary "$target")" "$work/$target" "corpus/$target" \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" 2>"$work/$target.log"; then
        grep -E '^stat::(number_of_executed_units|new_units_added)|DONE' "$work/$target.log" || true
    else
        tail -n 40 "$work/$target.log"
        echo "fuzz: $target CRASHED; input kept in fuzz/artifacts/$target/"
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) crashed: ${failed[*]}"
    exit 1
fi
echo "fuzz: ${#targets[@]} target(s) ran ${seconds}s each without a crash"
