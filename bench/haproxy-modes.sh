#!/usr/bin/env bash
# HAProxy `mode http` (haproxy.cfg as it is: keep-alive, server connections
# reused, the arrival stamp) against `mode tcp` (the same file with the HTTP
# lines removed: each client connection spliced to one instance), under the
# compose limits, in alternating runs of bench/docker.sh without the floor,
# so a machine that gets busier part-way hurts both modes alike.
#
#   bench/haproxy-modes.sh [RUNS_PER_MODE] [-- bench/docker.sh options]
#
# RUNS_PER_MODE defaults to 3; MAX_REQUESTS (default 550) is honoured. Each
# run's directory is bench/results/<time>-modes/<mode>-<n>; the last lines
# printed are one row per run and the median p99 of each mode.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-3}"
shift || true
[ "${1:-}" != "--" ] || shift
root="bench/results/$(date -u +%Y%m%d-%H%M%S)-modes"
mkdir -p "$root"

# mode tcp: no HTTP processing at all, so none of the HTTP-only lines.
sed -e 's/^\(    mode\) http$/\1 tcp/' \
    -e '/^    option http-keep-alive$/d' \
    -e '/^    http-reuse /d' \
    -e '/^    timeout http-request /d' \
    -e '/^    timeout http-keep-alive /d' \
    -e '/^    http-request /d' \
    haproxy.cfg >"$root/haproxy-tcp.cfg"
grep -q '^    mode tcp$' "$root/haproxy-tcp.cfg" || { echo "haproxy.cfg has no 'mode http' line" >&2; exit 1; }
haproxy -c -q -f "$root/haproxy-tcp.cfg"
cp haproxy.cfg "$root/haproxy-http.cfg"

for n in $(seq 1 "$runs"); do
    for mode in http tcp; do
        echo "==> run $n, mode $mode" >&2
        bench/docker.sh --no-floor --haproxy-cfg "$root/haproxy-$mode.cfg" \
            --out "$root/$mode-$n" "$@" >"$root/$mode-$n.log" 2>&1 ||
            { tail -n 20 "$root/$mode-$n.log" >&2; exit 1; }
    done
done

python3 - "$root" <<'EOF'
import json, os, statistics, sys
root = sys.argv[1]
rows = {}
for name in sorted(os.listdir(root)):
    path = os.path.join(root, name, "result.json")
    if not os.path.exists(path):
        continue
    ours = json.load(open(path))["ours"]
    mode = name.split("-")[0]
    cpu = ours.get("cpu_seconds", {})
    cg = ours.get("cgroups", {})
    throttled = sum(int(s.get("nr_throttled", 0)) for s in cg.values())
    rows.setdefault(mode, []).append(ours["p99_raw_ms"])
    print(f"{name:8} p99 {ours['p99_raw_ms']:7.2f} ms  median 1-s p99 {ours['p99_per_second_median_ms']:6.2f}"
          f"  score {ours['score']:,.2f}  load {ours.get('load_before')}"
          f"  haproxy CPU {cpu.get('haproxy', 0):.1f} s  throttled periods {throttled}"
          f"  failed {ours['payments']['failure']} lag {ours['lag']}")
for mode, p99s in rows.items():
    print(f"{mode}: median p99 {statistics.median(p99s):.2f} ms over {len(p99s)} runs")
EOF
