#!/usr/bin/env bash
# The contest's test in the contest's topology: our docker-compose.yml under
# `docker-compose --compatibility` (so its cpus/memory limits are enforced),
# the processors in containers of their own on the external network
# `payment-processor`, published on 127.0.0.1:8001/8002, and k6 on the host
# against the published :9999. Then the same compose stack with
# RINHA_FLOOR=1 (fixed answers) as the same-run floor.
#
# bench/run.sh --docker delegates here; it can also be run by itself:
#
#   bench/docker.sh [options]
#
#   --script PATH          the k6 scenario (default bench/rinha-2025.js)
#   -e KEY=VALUE           passed to k6 as -e (repeatable; e.g. a scenario's knobs)
#   --max-requests N       MAX_REQUESTS (default $MAX_REQUESTS or 550)
#   --fees D,F             the processors' fees (default 0.05,0.15: the preview's;
#                          the final ran 0.07,0.10)
#   --per-second           after our run, read what each processor stored per
#                          second (report.py processors: the final and --timeline
#                          runs, which pass TIMELINE_FILE with -e) instead of the
#                          backlog
#   --haproxy-cfg PATH     mount this file as HAProxy's configuration instead of
#                          ./haproxy.cfg (to compare configurations)
#   --no-floor             skip the floor run
#   --port P --default-port P --fallback-port P
#                          host ports of the backend and the processors (default
#                          9999 8001 8002, the contest's); another backend port
#                          is set in a copy of the compose file
#   --bin PATH             rinha binary for the image (default: cargo build --release)
#   --k6 PATH              k6 1.1.0 (default: `k6` on PATH; run.sh passes its own)
#   --out DIR              where the run's files go (default bench/results/<time>-docker-mr<N>)
#
# No image can be pulled on the development machines, so both images are
# built FROM scratch out of host parts, as tests/docker_e2e.rs does: the
# rinha binary (glibc: with the libraries `ldd` lists, the loader and an
# nsswitch.conf so compose service names resolve) and the host's HAProxy
# (run as uid 99 with the official image's command line). The compose file
# itself is used unchanged but for an override naming those images (and, for
# the floor, RINHA_FLOOR=1 on the apis).
#
# Per service it records, from the containers' cgroup v1 files: CPU seconds
# (cpuacct.usage, also sampled twice a second for the picture), CFS periods
# and throttled periods (cpu.stat), peak memory (memory.max_usage_in_bytes,
# reset before k6 starts) and the PSS of every process in the container.
# bench/report.py turns that into result.json, the table and chart.svg.
#
# Everything it creates (containers, the network if it made it, the volume,
# the compose project, the images, the temp dir) is removed on the way out,
# on failure and on Ctrl-C too. Traffic goes only to 127.0.0.1. It holds the
# same machine-wide lock as tests/docker_e2e.rs: both use fixed names.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

script=bench/rinha-2025.js
max_requests="${MAX_REQUESTS:-550}"
fees=0.05,0.15
haproxy_cfg="" floor=1 bin="" out="" k6="${K6:-}" per_second=0
port=9999 default_port=8001 fallback_port=8002
k6_env=()
while [ $# -gt 0 ]; do
    case "$1" in
        --script) script="$2"; shift 2 ;;
        -e) k6_env+=(-e "$2"); shift 2 ;;
        --max-requests) max_requests="$2"; shift 2 ;;
        --fees) fees="$2"; shift 2 ;;
        --haproxy-cfg) haproxy_cfg="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
        --no-floor) floor=0; shift ;;
        --per-second) per_second=1; shift ;;
        --port) port="$2"; shift 2 ;;
        --default-port) default_port="$2"; shift 2 ;;
        --fallback-port) fallback_port="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --k6) k6="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/docker.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

say() { echo "==> $*" >&2; }
die() { echo "bench/docker.sh: $*" >&2; exit 1; }

BACKEND=127.0.0.1:$port
DEFAULT_ADMIN=127.0.0.1:$default_port
FALLBACK_ADMIN=127.0.0.1:$fallback_port
NETWORK=payment-processor
PROCESSORS=(payment-processor-default payment-processor-fallback)
HAPROXY_CFG_IN_IMAGE=/usr/local/etc/haproxy/haproxy.cfg

# ------------------------------------------------------------ preflight

docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info)"
command -v docker-compose >/dev/null || die "docker-compose (v1) is needed"
[ -x /usr/sbin/haproxy ] || die "/usr/sbin/haproxy is needed for the HAProxy image"
[ -f "$script" ] || die "no k6 script $script"
[ -z "$haproxy_cfg" ] || [ -f "$haproxy_cfg" ] || die "no file $haproxy_cfg"
if [ -z "$k6" ]; then
    k6="$(command -v k6 || true)"
fi
[ -n "$k6" ] && "$k6" version 2>/dev/null | grep -q 'v1\.1\.0' ||
    die "k6 1.1.0 is needed (bench/run.sh --docker installs it; or pass --k6)"
IFS=, read -r default_fee fallback_fee <<<"$fees"
[ -n "$default_fee" ] && [ -n "$fallback_fee" ] || die "--fees wants D,F, got $fees"

if [ -z "$bin" ]; then
    say "cargo build --release"
    cargo build --release --quiet --bin rinha
    bin="${CARGO_TARGET_DIR:-$repo/target}/release/rinha"
fi
[ -x "$bin" ] || die "no executable at $bin"

if [ -z "$out" ]; then
    out="$repo/bench/results/$(date -u +%Y%m%d-%H%M%S)-docker-mr$max_requests"
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"
say "results in $out"

# Fixed names (the processors, :9999) collide between concurrent runs on one
# engine, and tests/docker_e2e.rs uses the same names: take its lock.
exec 9>/tmp/rinha-docker-e2e.lock
if ! flock -w 600 9; then die "another Docker run held /tmp/rinha-docker-e2e.lock for 10 minutes"; fi

for name in "${PROCESSORS[@]}"; do
    [ -z "$(docker ps -aq --filter "name=^/$name\$")" ] ||
        die "a container named $name exists (the official processors?): stop it, this starts its own"
done
for address in "$BACKEND" "$DEFAULT_ADMIN" "$FALLBACK_ADMIN"; do
    if (exec 3<>"/dev/tcp/${address%:*}/${address#*:}") 2>/dev/null; then
        die "$address is taken (rinha local or another stack running?)"
    fi
done

# ------------------------------------------------------------ teardown

tag="$$"
project="rinha-bench-$tag"
work="$(mktemp -d "/tmp/rinha-docker-bench-$tag.XXXXXX")"
rinha_image="rinha-bench/rinha:$tag"
haproxy_image="rinha-bench/haproxy:$tag"
created_network=0 sampler_pid="" k6_pid="" compose_files=()
started_containers=()

compose() {
    docker-compose --compatibility --ansi never -p "$project" "${compose_files[@]}" "$@"
}

stack_down() {
    [ "${#compose_files[@]}" -gt 0 ] || return 0
    timeout 90 docker-compose --compatibility --ansi never -p "$project" "${compose_files[@]}" \
        down -v --remove-orphans -t 3 >/dev/null 2>&1 || true
}

teardown() {
    local status=$?
    trap - EXIT INT TERM
    [ -z "$sampler_pid" ] || kill "$sampler_pid" 2>/dev/null || true
    [ -z "$k6_pid" ] || kill "$k6_pid" 2>/dev/null || true
    say "tearing down"
    stack_down
    local name
    for name in "${started_containers[@]}"; do
        timeout 60 docker rm -f -v "$name" >/dev/null 2>&1 || true
    done
    if [ "$created_network" = 1 ]; then
        timeout 60 docker network rm "$NETWORK" >/dev/null 2>&1 || true
    fi
    timeout 60 docker rmi -f "$rinha_image" "$haproxy_image" >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ images

# build_image TAG DOCKERFILE_TAIL HOST_PATH:IMAGE_PATH...
build_image() {
    local image="$1" tail="$2"; shift 2
    local context="$work/image-${image//[^a-z0-9]/-}"
    local rootfs="$context/rootfs" pair host inside library
    mkdir -p "$rootfs/etc"
    place() { mkdir -p "$rootfs$(dirname "$2")"; cp -L "$1" "$rootfs$2"; }
    for pair in "$@"; do
        host="${pair%%:*}" inside="${pair#*:}"
        place "$host" "$inside"
        # Every absolute path ldd resolves, the loader included.
        for library in $(ldd "$host" 2>/dev/null | grep -oE '/[^ ]+' || true); do
            place "$library" "$library"
        done
    done
    for library in /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2; do
        [ -e "$library" ] && place "$library" "$library"
    done
    echo "hosts: files dns" >"$rootfs/etc/nsswitch.conf"
    printf 'FROM scratch\nCOPY rootfs/ /\n%s' "$tail" >"$context/Dockerfile"
    DOCKER_BUILDKIT=0 timeout 300 docker build -q -t "$image" "$context" >"$context.log" 2>&1 ||
        { cat "$context.log" >&2; die "docker build $image failed"; }
}

say "building $rinha_image and $haproxy_image FROM scratch"
build_image "$rinha_image" $'USER 65532:65532\nENTRYPOINT ["/rinha"]\nCMD ["api"]\n' "$bin:/rinha"
build_image "$haproxy_image" \
    "$(printf 'USER 99:99\nSTOPSIGNAL SIGUSR1\nENTRYPOINT ["/usr/local/sbin/haproxy", "-W", "-db"]\nCMD ["-f", "%s"]\n' "$HAPROXY_CFG_IN_IMAGE")" \
    /usr/sbin/haproxy:/usr/local/sbin/haproxy

# ------------------------------------------------------------ processors

if ! docker network inspect "$NETWORK" >/dev/null 2>&1; then
    docker network create --driver bridge "$NETWORK" >/dev/null
    created_network=1
fi
start_processor() {
    local name="$1" address="$2" fee="$3"
    docker run -d --name "$name" --network "$NETWORK" -p "$address:8080" "$rinha_image" \
        processor --host 0.0.0.0 --port 8080 --fee "$fee" --token 123 >/dev/null
    # Only once it is ours: the teardown must never remove someone else's.
    started_containers+=("$name")
}
start_processor payment-processor-default "$DEFAULT_ADMIN" "$default_fee"
start_processor payment-processor-fallback "$FALLBACK_ADMIN" "$fallback_fee"

# wait_http URL WHAT
wait_http() {
    local i
    for i in $(seq 1 300); do
        if curl -sf -o /dev/null -m 1 -H 'X-Rinha-Token: 123' "$1"; then return 0; fi
        sleep 0.1
    done
    die "$2 did not answer $1 within 30 s"
}
wait_http "http://$DEFAULT_ADMIN/admin/payments-summary" "the default processor"
wait_http "http://$FALLBACK_ADMIN/admin/payments-summary" "the fallback processor"

# ------------------------------------------------------------ the stack

# write_override MODE: the images (and, for the floor, RINHA_FLOOR=1).
write_override() {
    local mode="$1" file="$work/override-$1.yml" service image
    echo "services:" >"$file"
    # Service names and images in file order, from the block-style file.
    while read -r service image; do
        case "$image" in
            *haproxy*)
                printf '  %s:\n    image: %s\n' "$service" "$haproxy_image" >>"$file"
                if [ -n "$haproxy_cfg" ]; then
                    printf '    volumes:\n      - %s:%s:ro\n' "$haproxy_cfg" "$HAPROXY_CFG_IN_IMAGE" >>"$file"
                fi
                ;;
            *rinha*)
                printf '  %s:\n    image: %s\n' "$service" "$rinha_image" >>"$file"
                if [ "$mode" = floor ]; then
                    printf '    environment:\n      RINHA_FLOOR: "1"\n' >>"$file"
                fi
                ;;
            *) die "$service: no local stand-in for image $image" ;;
        esac
    done < <(awk '/^services:/ { s = 1; next } /^[^ #]/ { s = 0 }
        s && /^  [a-z0-9_-]+:$/ { name = $1; sub(":", "", name) }
        s && /^    image:/ { gsub("\"", "", $2); print name, $2 }' docker-compose.yml)
    echo "$file"
}

declare -A container_of=()
SERVICES=()
stack_up() {
    local mode="$1" override
    override="$(write_override "$mode")"
    local compose_file="$repo/docker-compose.yml"
    if [ "$port" != 9999 ]; then
        # Compose concatenates `ports` lists, so an override cannot move the
        # published port: a copy can. Relative paths still resolve against
        # the repository (--project-directory).
        compose_file="$work/docker-compose.yml"
        sed "s/\"9999:9999\"/\"$port:9999\"/" "$repo/docker-compose.yml" >"$compose_file"
        grep -q "\"$port:9999\"" "$compose_file" || die "docker-compose.yml no longer publishes \"9999:9999\""
    fi
    compose_files=(--project-directory "$repo" -f "$compose_file" -f "$override")
    local started
    started="$(date +%s%3N)"
    compose up -d --no-build >"$out/$mode-compose-up.log" 2>&1 ||
        { cat "$out/$mode-compose-up.log" >&2; die "docker-compose up ($mode) failed"; }
    local i
    for i in $(seq 1 300); do
        curl -sf -o /dev/null -m 1 "http://$BACKEND/payments-summary" && break
        sleep 0.1
    done
    curl -sf -o /dev/null -m 1 "http://$BACKEND/payments-summary" || die "the $mode stack did not answer on :9999 in 30 s"
    say "$mode stack answers on $BACKEND, $(($(date +%s%3N) - started)) ms after docker-compose up"
    container_of=()
    mapfile -t SERVICES < <(compose config --services)
    local service
    for service in "${SERVICES[@]}"; do
        container_of[$service]="$(compose ps -q "$service")"
        [ -n "${container_of[$service]}" ] || die "$service: no container"
    done
}

cgroup() { echo "/sys/fs/cgroup/$1/docker/${container_of[$2]}"; }

# reset_peaks: peak memory from now on, not from start-up.
reset_peaks() {
    local service
    for service in "${SERVICES[@]}"; do
        echo 0 >"$(cgroup memory "$service")/memory.max_usage_in_bytes" 2>/dev/null || true
    done
}

# snapshot SERVICE: "nr_periods nr_throttled throttled_ns cpu_ns"
snapshot() {
    local service="$1"
    printf '%s %s\n' \
        "$(awk '{ v[$1] = $2 } END { print v["nr_periods"] + 0, v["nr_throttled"] + 0, v["throttled_time"] + 0 }' \
            "$(cgroup cpu "$service")/cpu.stat")" \
        "$(cat "$(cgroup cpuacct "$service")/cpuacct.usage")"
}

# sample_cpu MODE: each service's cpuacct.usage (ns) twice a second.
sample_cpu() {
    local file="$out/$1-cpu.tsv" service line
    echo "ms ${SERVICES[*]} hz=1000000000" >"$file"
    local paths=()
    for service in "${SERVICES[@]}"; do paths+=("$(cgroup cpuacct "$service")/cpuacct.usage"); done
    while :; do
        line="$(date +%s%3N)"
        for service in "${paths[@]}"; do line="$line $(cat "$service" 2>/dev/null || echo 0)"; done
        echo "$line" >>"$file"
        sleep 0.5
    done
}

# children_cpu FILE: "user system" seconds of this shell's reaped children.
# `times` must run in this shell itself (a $(...) subshell would report its
# own children), hence the file.
children_cpu() {
    times >"$1.times"
    awk 'NR == 2 { print to_s($1), to_s($2) }
        function to_s(t) { split(t, p, /[ms]/); return p[1] * 60 + p[2] }' "$1.times" >"$1"
}

# proxy_ticks: CPU ticks of the docker-proxy processes publishing our
# port. Loopback clients reach a published port through this userland
# copier (outside every container's limits), as on a default Docker host.
proxy_ticks() {
    local pid total=0
    for pid in $(pgrep -f "docker-proxy .*-host-port $port " || true); do
        total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

declare -A before=()
proxy_before=0
run_k6() {
    local mode="$1" service
    for service in "${SERVICES[@]}"; do before[$service]="$(snapshot "$service")"; done
    proxy_before="$(proxy_ticks)"
    reset_peaks
    load_before="$(cut -d' ' -f1 /proc/loadavg)"
    sample_cpu "$mode" &
    sampler_pid=$!
    say "k6 $(basename "$script"): MAX_REQUESTS=$max_requests against $mode (load average $load_before)"
    local status=0
    children_cpu "$work/k6-before"
    # In the background with `wait`, so that Ctrl-C or a TERM reaches the
    # trap at once (bash defers traps while a foreground child runs).
    K6_NO_USAGE_REPORT=true K6_CSV_TIME_FORMAT=unix_milli timeout 900 "$k6" run --no-usage-report --no-color \
        --out "csv=$out/$mode.csv" \
        -e "MAX_REQUESTS=$max_requests" -e "MODE=$mode" \
        -e "BACKEND_URL=http://$BACKEND" \
        -e "DEFAULT_URL=http://$DEFAULT_ADMIN" \
        -e "FALLBACK_URL=http://$FALLBACK_ADMIN" \
        -e "RESULT_JSON=$out/$mode.json" \
        "${k6_env[@]}" \
        "$script" >"$out/$mode-k6.log" 2>&1 &
    k6_pid=$!
    wait "$k6_pid" || status=$?
    k6_pid=""
    # k6 is the only child reaped in between: the difference is its CPU.
    children_cpu "$work/k6-after"
    paste "$work/k6-before" "$work/k6-after" |
        awk '{ printf "cpu k6 %.3f %.3f\n", $3 - $1, $4 - $2 }' >"$out/$mode-k6-cpu.txt"
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=""
    if [ "$status" -ne 0 ] || [ ! -s "$out/$mode.json" ]; then
        tail -n 30 "$out/$mode-k6.log" >&2
        die "k6 against $mode failed (status $status); see $out/$mode-k6.log"
    fi
}

# collect_stats MODE: report.py's stats lines, from the cgroups. The apis
# are written as api1/api2 whatever the compose file calls them.
collect_stats() {
    local mode="$1" file="$out/$1-stats.txt" service
    echo "load $load_before" >"$file"
    local notes=()
    for service in "${SERVICES[@]}"; do
        local memory cpu now quota period limit
        memory="$(cgroup memory "$service")" cpu="$(cgroup cpu "$service")"
        now="$(snapshot "$service")"
        # PSS of every process in the container (HAProxy -W is a master
        # and a worker), so pages the apis share are counted once.
        local pss=0 rss=0 pid
        for pid in $(cat "$memory/cgroup.procs"); do
            read -r r p < <(awk '$1 == "Rss:" { r = $2 } $1 == "Pss:" { p = $2 } END { print r + 0, p + 0 }' \
                "/proc/$pid/smaps_rollup" 2>/dev/null || echo "0 0")
            rss=$((rss + r)) pss=$((pss + p))
        done
        echo "mem $service $rss $pss" >>"$file"
        read -r p0 t0 tt0 c0 <<<"${before[$service]}"
        read -r p1 t1 tt1 c1 <<<"$now"
        awk -v s="$service" -v c="$((c1 - c0))" 'BEGIN { printf "cpu %s %.3f\n", s, c / 1e9 }' >>"$file"
        {
            echo "cg $service nr_periods $((p1 - p0))"
            echo "cg $service nr_throttled $((t1 - t0))"
            echo "cg $service throttled_time $((tt1 - tt0))"
            echo "cg $service peak_bytes $(cat "$memory/memory.max_usage_in_bytes")"
            echo "cg $service failcnt $(cat "$memory/memory.failcnt")"
        } >>"$file"
        quota="$(cat "$cpu/cpu.cfs_quota_us")" period="$(cat "$cpu/cpu.cfs_period_us")"
        limit="$(cat "$memory/memory.limit_in_bytes")"
        notes+=("$service $(awk -v q="$quota" -v p="$period" 'BEGIN { printf "%.2f", q / p }') cpu/$((limit / 1048576)) MiB")
    done
    [ -s "$out/$mode-k6-cpu.txt" ] && cat "$out/$mode-k6-cpu.txt" >>"$file"
    awk -v t="$(($(proxy_ticks) - proxy_before))" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "cpu docker-proxy %.2f\n", t / hz }' >>"$file"
    echo "note docker-compose --compatibility, cgroup v1: ${notes[*]}" >>"$file"
}

modes=(ours)
[ "$floor" = 1 ] && modes+=(floor)
load_before=""
for mode in "${modes[@]}"; do
    say "docker-compose up ($mode)"
    stack_up "$mode"
    run_k6 "$mode"
    collect_stats "$mode"
    if [ "$mode" = ours ] && [ "$per_second" = 1 ]; then
        say "reading what each processor stored, second by second"
        timeout 300 python3 bench/report.py processors "$out" "http://$DEFAULT_ADMIN" "http://$FALLBACK_ADMIN" ||
            echo "bench/docker.sh: warning: no per-second reading of the processors" >&2
    elif [ "$mode" = ours ]; then
        say "reading the backlog back from the processors"
        timeout 120 python3 bench/report.py backlog "$out" "http://$DEFAULT_ADMIN" "http://$FALLBACK_ADMIN" ||
            echo "bench/docker.sh: warning: no backlog reading" >&2
    fi
    compose logs --no-color >"$out/$mode-stack.log" 2>&1 || true
    say "docker-compose down ($mode)"
    stack_down
    compose_files=()
done

python3 bench/report.py report "$out" "$out/result.json"
for mode in "${modes[@]}"; do
    say "$mode: docker-proxy (the published port, outside the limits) used $(awk '$1 == "cpu" && $2 == "docker-proxy" { print $3 }' "$out/$mode-stats.txt") CPU s"
done
say "picture: $out/chart.svg"
say "result: $out/result.json"
