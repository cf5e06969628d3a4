#!/usr/bin/env bash
# The draining instance's CPU, in the two situations that cost it most:
#   held:  N payments held while both processors fail (5 s window; with the
#          fallback working they would go there at once: no hold);
#   drain: the same backlog sent once the default recovers (at
#          --max-send-rate, the fallback still failing).
# Reads utime+stime of the leader from /proc (ticks of 10 ms). Local only:
# rinha local on ports 29999/28001/28002. Usage: bench/leader-cpu.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-5000}"
bin=target/release/rinha
[ -x "$bin" ] || cargo build --release
log="$(mktemp)"
"$bin" local --port 29999 --default-port 28001 --fallback-port 28002 >"$log" 2>&1 &
stack=$!
trap 'kill $stack 2>/dev/null; wait $stack 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q "ready" "$log" && break; sleep 0.2; done
leader=$(grep -o "pid [0-9]*): elected" "$log" | grep -o "[0-9]*")
ticks() { awk '{print $14 + $15}' "/proc/$leader/stat"; }
failure() { # PORT true|false
    curl -s -o /dev/null -X PUT -H 'X-Rinha-Token: 123' -d "{\"failure\":$2}" \
        "localhost:$1/admin/configurations/failure"
}
failure 28001 true
failure 28002 true
python3 - "$n" <<'PY'
import socket, sys, uuid
s = socket.create_connection(("127.0.0.1", 29999))
for _ in range(int(sys.argv[1])):
    body = ('{"correlationId":"%s","amount":19.90}' % uuid.uuid4()).encode()
    s.sendall(b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
PY
t0=$(ticks); sleep 5; t1=$(ticks)
echo "held:  $n payments for 5 s: $(( (t1 - t0) * 10 )) ms of leader CPU"
failure 28001 false
start=$(date +%s%N)
until curl -s localhost:29999/payments-summary | grep -q "\"default\":{\"totalRequests\":$n,"; do sleep 0.05; done
t2=$(ticks)
echo "drain: $n payments in $(( ($(date +%s%N) - start) / 1000000 )) ms: $(( (t2 - t1) * 10000 / n )) us of leader CPU each"
