-- wrk script: POST /payments with a fresh correlationId on every request.
--
--   wrk -t2 -c10 -d10s --latency -s bench/wrk/payments.lua http://127.0.0.1:9999
--
-- Every id must be new: the processors refuse a correlationId they have
-- already seen, so replaying one body would measure the error path of the
-- drainer, not the payment path. An id is UUID-shaped (8-4-4-4-12 lower-case
-- hex, version 4, RFC 4122 variant) and built from three parts:
--
--   rrrrrrrr-tttt-4rrr-vrrr-pppp cccccccc
--   │        │     │    │   └─ per-thread counter: unique within a thread
--   │        │     │    └───── variant nibble (8, 9, a or b) + random
--   │        │     └────────── version 4 + random
--   │        └──────────────── thread number: unique across threads
--   └───────────────────────── random per thread: unique across runs
--
-- (the last group is 4 random hex digits then the 8-digit counter). The
-- random parts are drawn once per thread, from a seed mixing the clock and
-- the thread number, so building a request costs one string.format.
--
-- WRK_DELAY_MS=<ms> makes every connection wait that long after each
-- response before its next request: a rough rate limit (wrk has no -R; that
-- is wrk2), at most connections × 1000 / WRK_DELAY_MS requests per second.
-- It is still closed-loop: a slow response postpones the next request on its
-- connection, so a stall shows up as a rate below the target, not as
-- latency. Compare "Requests/sec" with the target before trusting the tail.
--
-- At the end, done() prints the percentiles wrk's --latency table leaves
-- out (p99.9, max) on one line that scripts can grep for.

local next_thread = 0

-- Runs in the main interpreter once per thread, before the threads start.
function setup(thread)
   next_thread = next_thread + 1
   thread:set("thread_number", next_thread)
end

local prefix   -- "rrrrrrrr-tttt-4rrr-vrrr-rrrr", fixed per thread
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

-- Runs inside each thread's own interpreter.
function init(args)
   local n = thread_number or 0
   math.randomseed(os.time() * 1000 + n * 7919 + math.floor(os.clock() * 1e6))
   local r = math.random
   prefix = string.format("%08x-%04x-4%03x-%x%03x-%04x",
      r(0, 0x7fffffff), n % 0x10000, r(0, 0xfff), 8 + r(0, 3), r(0, 0xfff), r(0, 0xffff))
end

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "")
if delay_ms then
   -- wrk calls delay(), when it exists, before each request of a connection.
   function delay()
      return delay_ms
   end
end

function request()
   counter = counter + 1
   local body = string.format('{"correlationId":"%s%08x","amount":19.90}', prefix, counter)
   return wrk.format("POST", "/payments", headers, body)
end

-- Runs once in the main interpreter at the end; latencies are in µs.
function done(summary, latency, requests)
   local function ms(us) return string.format("%.3fms", us / 1000) end
   io.write(string.format(
      "payments.lua: requests=%d errors(connect=%d read=%d write=%d status=%d timeout=%d) " ..
      "p50=%s p90=%s p99=%s p99.9=%s max=%s\n",
      summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
      summary.errors.status, summary.errors.timeout,
      ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
      ms(latency:percentile(99.9)), ms(latency.max)))
end
