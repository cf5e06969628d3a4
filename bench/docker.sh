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
#                          runs) instead of the backlog
#   --haproxy-cfg PATH     mount this file as HAProxy's configuration instead of
#                          ./haproxy.cfg (to compare configurations)
#   --no-floor             skip the floor run
#   --port P --default-port P --fallback-port P
#                          host ports of the backend and the processors (default
#                          9999 8001 8002, the contest's); another backend port
#                          is set in a copy of the compose file
#   --bin PATH             rinha binary for the image (default: cargo build --release)
#   --k6 PATH              k6 1.1.0 (default: as bench/run.sh finds or installs it)
#   --out DIR              where the run's files go (default bench/results/<time>-docker-mr<N>)
#
# k6 gets the processors' timeline from DIR/timeline.json (bench/timeline.py
# json); run.sh writes it there, and by itself this writes the preview's
# (bench/timelines/preview.txt) unless DIR already has one.
#
# No image can be pulled on the development machines, so both images are
# built FROM scratch out of host parts by scripts/scratch-image.sh (as for
# tests/docker_e2e.rs): the rinha binary and the host's HAProxy. The compose file
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
prog=bench/docker.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

script=bench/rinha-2025.js
fees=0.05,0.15
haproxy_cfg="" per_second=0 K6="${K6:-}"
k6_env=()
while [ $# -gt 0 ]; do
    case "$1" in
        --script) script="$2"; shift 2 ;;
        -e) k6_env+=(-e "$2"); shift 2 ;;
        --fees) fees="$2"; shift 2 ;;
        --haproxy-cfg) haproxy_cfg="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
        --per-second) per_second=1; shift ;;
        --k6) K6="$2"; shift 2 ;;
        *) common_option "$@" || die "unknown option $1 (see --help)"; shift "$consumed" ;;
    esac
done

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
find_k6
IFS=, read -r default_fee fallback_fee <<<"$fees"
[ -n "$default_fee" ] && [ -n "$fallback_fee" ] || die "--fees wants D,F, got $fees"
build_rinha
make_out "docker-mr$max_requests"
# By itself (not from run.sh), with the preview's timeline unless the run's
# folder already has one.
[ -s "$out/timeline.json" ] ||
    python3 bench/timeline.py json bench/timelines/preview.txt --vus "$max_requests" >"$out/timeline.json"

# Fixed names (the processors, :9999) collide between concurrent runs on one
# engine, and tests/docker_e2e.rs uses the same names: take its lock.
exec 9>/tmp/rinha-docker-e2e.lock
if ! flock -w 600 9; then die "another Docker run held /tmp/rinha-docker-e2e.lock for 10 minutes"; fi

for name in "${PROCESSORS[@]}"; do
    [ -z "$(docker ps -aq --filter "name=^/$name\$")" ] ||
        die "a container named $name exists (the official processors?): stop it, this starts its own"
done
for p in "$port" "$default_port" "$fallback_port"; do
    port_taken "$p" && die "127.0.0.1:$p is taken (rinha local or another stack running?)"
done

# ------------------------------------------------------------ teardown

tag="$$"
project="rinha-bench-$tag"
work="$(mktemp -d "/tmp/rinha-docker-bench-$tag.XXXXXX")"
rinha_image="rinha-bench/rinha:$tag"
haproxy_image="rinha-bench/haproxy:$tag"
created_network=0 compose_files=()
started_containers=()

compose() {
    docker-compose --compatibility --ansi never -p "$project" "${compose_files[@]}" "$@"
}

stack_down_quietly() {
    [ "${#compose_files[@]}" -gt 0 ] || return 0
    timeout 90 docker-compose --compatibility --ansi never -p "$project" "${compose_files[@]}" \
        down -v --remove-orphans -t 3 >/dev/null 2>&1 || true
}

teardown() {
    local status=$?
    trap - EXIT INT TERM
    stop_samplers
    [ -z "$k6_pid" ] || kill "$k6_pid" 2>/dev/null || true
    say "tearing down"
    stack_down_quietly
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

say "building $rinha_image and $haproxy_image FROM scratch"
scripts/scratch-image.sh rinha "$rinha_image" "$bin" >/dev/null
scripts/scratch-image.sh haproxy "$haproxy_image" >/dev/null

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

wait_http "http://$DEFAULT_ADMIN/admin/payments-summary" "the default processor"
wait_http "http://$FALLBACK_ADMIN/admin/payments-summary" "the fallback processor"

# ------------------------------------------------------------ the stack

# write_override MODE: the images (and, for the floor, RINHA_FLOOR=1).
write_override() {
    local mode="$1" file="$work/override-$1.yml" service image images
    images="$(python3 bench/compose.py images docker-compose.yml)" || die "cannot read docker-compose.yml"
    echo "services:" >"$file"
    # Service names and images in file order.
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
    done <<<"$images"
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
    curl -sf -o /dev/null -m 1 "http://$BACKEND/payments-summary" || die "the $mode stack did not answer on $BACKEND in 30 s"
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

# The four steps bench/lib.sh's run_modes takes for each mode.
stack_down() {
    compose logs --no-color >"$out/$1-stack.log" 2>&1 || true
    say "docker-compose down ($1)"
    stack_down_quietly
    compose_files=()
}

declare -A before=()
proxy_before=0
measure_begin() {
    local service pairs=()
    for service in "${SERVICES[@]}"; do before[$service]="$(snapshot "$service")"; done
    proxy_before="$(proxy_ticks)"
    reset_peaks
    for service in "${SERVICES[@]}"; do pairs+=("$service=$(cgroup cpuacct "$service")"); done
    start_sampler sample_cpu "$1" 1000000000 cgroup_ns "${pairs[@]}"
}

# measure_end MODE: report.py's stats lines, from the cgroups. The apis
# are written as api1/api2 whatever the compose file calls them.
measure_end() {
    local mode="$1" file="$out/$1-stats.txt" service
    stop_samplers
    stats_load "$mode"
    local notes=()
    for service in "${SERVICES[@]}"; do
        local memory cpu now quota period limit
        memory="$(cgroup memory "$service")" cpu="$(cgroup cpu "$service")"
        now="$(snapshot "$service")"
        # Every process in the container: HAProxy -W is a master and a worker.
        # shellcheck disable=SC2046
        stats_memory "$mode" "$service" $(cat "$memory/cgroup.procs")
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
    stats_k6 "$mode"
    awk -v t="$(($(proxy_ticks) - proxy_before))" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "cpu docker-proxy %.2f\n", t / hz }' >>"$file"
    echo "note docker-compose --compatibility, cgroup v1: ${notes[*]}" >>"$file"
}

k6_timeout=900
run_modes
for mode in ours floor; do
    [ -s "$out/$mode-stats.txt" ] || continue
    say "$mode: docker-proxy (the published port, outside the limits) used $(awk '$1 == "cpu" && $2 == "docker-proxy" { print $3 }' "$out/$mode-stats.txt") CPU s"
done
say "picture: $out/chart.svg"
say "result: $out/result.json"
