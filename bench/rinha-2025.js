// The Rinha de Backend 2025 test, rewritten for this project so that it runs
// offline with k6 v1.1.0 (no remote imports) and reports what the contest
// would score. docs/bench.md (and shared/rinha-2025.md, beside the
// repository) state the rules this file follows; each deviation from the
// official script is named where it happens.
//
//   k6 run --no-usage-report -e MAX_REQUESTS=550 bench/rinha-2025.js
//
// (--no-usage-report, or K6_NO_USAGE_REPORT=true: k6 must send nothing
// anywhere; a script cannot set that option itself.)
//
// Environment (all optional):
//   MAX_REQUESTS   VUs at the end of the 60 s ramp (550, the official value)
//   BACKEND_URL    http://127.0.0.1:9999
//   DEFAULT_URL    http://127.0.0.1:8001
//   FALLBACK_URL   http://127.0.0.1:8002
//   ADMIN_TOKEN    the processors' current admin token (123)
//   RESULT_JSON    where the result goes (bench-result.json)
//   MODE           a label copied into the result ("ours", "floor")
//
// bench/run.sh runs this twice (our stack, then the floor) and turns the
// results and k6's CSV output into the report and the picture.

import http from "k6/http";
import { sleep } from "k6";
import crypto from "k6/crypto";
import exec from "k6/execution";
import { Counter } from "k6/metrics";

const MAX_REQUESTS = parseInt(__ENV.MAX_REQUESTS || "550", 10);
const BACKEND_URL = __ENV.BACKEND_URL || "http://127.0.0.1:9999";
const PROCESSOR_URL = {
  default: __ENV.DEFAULT_URL || "http://127.0.0.1:8001",
  fallback: __ENV.FALLBACK_URL || "http://127.0.0.1:8002",
};
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || "123";
const RESULT_JSON = __ENV.RESULT_JSON || "bench-result.json";
const MODE = __ENV.MODE || "ours";

// Every request the official test makes has this budget.
const TIMEOUT = "1500ms";
const AMOUNT = 19.9;
const JSON_HEADERS = { "Content-Type": "application/json" };

// The processors' timeline: at `at` seconds after the load starts, both get
// this delay (ms) and failure flag.
const STAGES = [
  { at: 1, label: "both ok", default: [0, false], fallback: [0, false] },
  { at: 10, label: "default +100 ms", default: [100, false], fallback: [0, false] },
  { at: 20, label: "default failing", default: [100, true], fallback: [0, false] },
  { at: 30, label: "both failing", default: [2000, true], fallback: [1000, true] },
  { at: 40, label: "both ok, 20 ms", default: [20, false], fallback: [20, false] },
  { at: 50, label: "fallback +5 s", default: [0, false], fallback: [5000, false] },
];

export const options = {
  summaryTrendStats: ["min", "med", "avg", "p(90)", "p(99)", "p(99.9)", "max", "count"],
  // Always-true thresholds: they make k6 keep these sub-metrics, so that
  // handleSummary can read them. The first one is the one the score uses.
  thresholds: {
    "http_req_duration{expected_response:true}": ["max>=0"],
    "http_req_duration{kind:payment}": ["max>=0"],
    "http_req_duration{kind:summary}": ["max>=0"],
  },
  scenarios: {
    payments: {
      exec: "payments",
      executor: "ramping-vus",
      startVUs: 1,
      gracefulRampDown: "0s",
      stages: [{ target: MAX_REQUESTS, duration: "60s" }],
    },
    payments_consistency: {
      exec: "checkPaymentsConsistency",
      executor: "constant-vus",
      vus: 1,
      duration: "60s",
    },
    // The official test has one 1-VU scenario per stage, each starting at
    // its second; one VU that waits for each second does the same calls.
    processors_timeline: {
      exec: "timeline",
      executor: "per-vu-iterations",
      vus: 1,
      iterations: 1,
      maxDuration: "70s",
    },
  },
};

const transactionsSuccess = new Counter("transactions_success");
const transactionsFailure = new Counter("transactions_failure");
const paymentsInconsistency = new Counter("payments_inconsistency");
const paymentsInconsistencyPerProcessor = new Counter("payments_inconsistency_per_processor");
const consistencyChecks = new Counter("consistency_checks");
const totalsCounters = {};
for (const processor of ["default", "fallback"]) {
  for (const what of ["requests", "amount", "fee", "processor_requests", "processor_amount"]) {
    totalsCounters[`${processor}_${what}`] = new Counter(`${processor}_total_${what}`);
  }
}

// 256 two-digit lower-case hex strings, so a UUID costs 16 lookups.
const HEX = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));

/** A random (version 4, RFC 9562) UUID from 16 bytes of `k6/crypto`. */
export function uuidv4() {
  const b = new Uint8Array(crypto.randomBytes(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  let text = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text += "-";
    text += HEX[b[i]];
  }
  return text;
}

function adminParams(token, kind) {
  return {
    headers: { ...JSON_HEADERS, "X-Rinha-Token": token },
    timeout: TIMEOUT,
    tags: { kind: kind || "admin" },
  };
}

function adminCall(method, processor, path, body, token) {
  return http.asyncRequest(
    method,
    `${PROCESSOR_URL[processor]}${path}`,
    body === null ? null : JSON.stringify(body),
    adminParams(token),
  );
}

function expectStatus(response, status, what) {
  if (response.status !== status) {
    exec.test.abort(`${what}: HTTP ${response.status} (expected ${status}) ${response.body}`);
  }
}

/** `{totalRequests, totalAmount, feePerTransaction}`, zeros on failure as the official does. */
async function processorSummary(processor, from, to, token) {
  const query = `?from=${from}&to=${to}`;
  const response = await adminCall("GET", processor, `/admin/payments-summary${query}`, null, token);
  if (response.status === 200) return JSON.parse(response.body);
  console.error(`${processor} /admin/payments-summary${query}: HTTP ${response.status}`);
  return { totalRequests: 0, totalAmount: 0, feePerTransaction: 0, totalFee: 0 };
}

async function backendSummary(from, to) {
  const url = `${BACKEND_URL}/payments-summary?from=${from}&to=${to}`;
  const response = await http.asyncRequest("GET", url, null, {
    timeout: TIMEOUT,
    tags: { kind: "summary" },
  });
  if (response.status === 200) return JSON.parse(response.body);
  console.error(`backend /payments-summary?from=${from}&to=${to}: HTTP ${response.status}`);
  const zero = { totalRequests: 0, totalAmount: 0 };
  return { default: zero, fallback: zero };
}

function randomToken() {
  return `rinha-bench-${uuidv4()}`;
}

export async function setup() {
  // The official test sets a random token (so a backend cannot cheat with
  // the admin API), purges both processors and the backend.
  const token = __ENV.TOKEN || randomToken();
  for (const processor of ["default", "fallback"]) {
    const response = await adminCall("PUT", processor, "/admin/configurations/token", { token }, ADMIN_TOKEN);
    expectStatus(response, 204, `${processor}: PUT /admin/configurations/token`);
  }
  for (const processor of ["default", "fallback"]) {
    const response = await adminCall("POST", processor, "/admin/purge-payments", null, token);
    expectStatus(response, 200, `${processor}: POST /admin/purge-payments`);
  }
  // Optional in the contest: a failure is ignored.
  const purge = await http.asyncRequest("POST", `${BACKEND_URL}/purge-payments`, null, {
    timeout: TIMEOUT,
    tags: { kind: "purge" },
  });
  if (purge.status !== 200) console.info(`backend POST /purge-payments: HTTP ${purge.status}`);
  return { token };
}

export async function payments() {
  const body = JSON.stringify({ correlationId: uuidv4(), amount: AMOUNT });
  const response = await http.asyncRequest("POST", `${BACKEND_URL}/payments`, body, {
    headers: JSON_HEADERS,
    timeout: TIMEOUT,
    tags: { kind: "payment" },
  });
  if ([200, 201, 202, 204].includes(response.status)) {
    transactionsSuccess.add(1);
    transactionsFailure.add(0);
  } else {
    transactionsSuccess.add(0);
    transactionsFailure.add(1);
  }
  sleep(1);
}

export async function checkPaymentsConsistency(data) {
  const now = Date.now();
  const from = new Date(now - 15000).toISOString();
  const to = new Date(now - 1500).toISOString();
  const [defaultAdmin, fallbackAdmin, backend] = await Promise.all([
    processorSummary("default", from, to, data.token),
    processorSummary("fallback", from, to, data.token),
    backendSummary(from, to),
  ]);
  const deltaDefault = backend.default.totalRequests - defaultAdmin.totalRequests;
  const deltaFallback = backend.fallback.totalRequests - fallbackAdmin.totalRequests;
  // The scoring formula of rinha-2025.md; the per-processor sum (what the
  // official script's last version adds up) is kept beside it: it is never
  // smaller, and also catches a payment reported under the wrong processor.
  const inconsistencies = Math.abs(deltaDefault + deltaFallback);
  const perProcessor = Math.abs(deltaDefault) + Math.abs(deltaFallback);
  paymentsInconsistency.add(inconsistencies);
  paymentsInconsistencyPerProcessor.add(perProcessor);
  consistencyChecks.add(1);
  if (perProcessor > 0) {
    console.warn(
      `inconsistency over [${from}, ${to}]: backend default ${backend.default.totalRequests} ` +
        `vs processor ${defaultAdmin.totalRequests}, backend fallback ` +
        `${backend.fallback.totalRequests} vs processor ${fallbackAdmin.totalRequests}`,
    );
  }
  sleep(10);
}

export async function timeline(data) {
  const start = exec.scenario.startTime;
  for (const stage of STAGES) {
    const wait = start + stage.at * 1000 - Date.now();
    if (wait > 0) sleep(wait / 1000);
    // Sequential, in the official order: both delays, then both failures.
    for (const processor of ["default", "fallback"]) {
      const [delay] = stage[processor];
      const response = await adminCall("PUT", processor, "/admin/configurations/delay", { delay }, data.token);
      expectStatus(response, 200, `${processor}: PUT /admin/configurations/delay`);
    }
    for (const processor of ["default", "fallback"]) {
      const [, failure] = stage[processor];
      const response = await adminCall("PUT", processor, "/admin/configurations/failure", { failure }, data.token);
      expectStatus(response, 200, `${processor}: PUT /admin/configurations/failure`);
    }
  }
}

export async function teardown(data) {
  const to = new Date();
  const from = new Date(to.getTime() - 70 * 1000);
  const [defaultAdmin, fallbackAdmin, backend] = await Promise.all([
    processorSummary("default", from.toISOString(), to.toISOString(), data.token),
    processorSummary("fallback", from.toISOString(), to.toISOString(), data.token),
    backendSummary(from.toISOString(), to.toISOString()),
  ]);
  const admin = { default: defaultAdmin, fallback: fallbackAdmin };
  for (const processor of ["default", "fallback"]) {
    const totals = backend[processor];
    totalsCounters[`${processor}_requests`].add(totals.totalRequests);
    totalsCounters[`${processor}_amount`].add(totals.totalAmount);
    // Fees are the processor's rate applied to what the BACKEND reports.
    totalsCounters[`${processor}_fee`].add(admin[processor].feePerTransaction * totals.totalAmount);
    totalsCounters[`${processor}_processor_requests`].add(admin[processor].totalRequests);
    totalsCounters[`${processor}_processor_amount`].add(admin[processor].totalAmount);
  }
  // Not in the official test (its processors are thrown away after a run):
  // give the processors their initial token back, so that the same stack
  // can be measured again and bench/run.sh can read the processors after k6.
  for (const processor of ["default", "fallback"]) {
    await adminCall("PUT", processor, "/admin/configurations/token", { token: ADMIN_TOKEN }, data.token);
  }
}

/** Half-up to 2 places, as big.js `round(2)` does for the official score. */
function round2(x) {
  return Math.round((x + Number.EPSILON) * 100) / 100;
}

function count(data, name) {
  const metric = data.metrics[name];
  return metric ? metric.values.count : 0;
}

function trend(data, name) {
  const metric = data.metrics[name];
  if (!metric) return null;
  const v = metric.values;
  return {
    count: v.count,
    min: v.min,
    p50: v.med,
    avg: v.avg,
    p90: v["p(90)"],
    p99: v["p(99)"],
    p999: v["p(99.9)"],
    max: v.max,
  };
}

/** The official scoring, from the counters the scenarios and teardown filled. */
export function score(data) {
  const success = count(data, "transactions_success");
  const processors = {};
  for (const processor of ["default", "fallback"]) {
    processors[processor] = {
      requests: count(data, `${processor}_total_requests`),
      amount: count(data, `${processor}_total_amount`),
      fee: count(data, `${processor}_total_fee`),
      processor_requests: count(data, `${processor}_total_processor_requests`),
      processor_amount: count(data, `${processor}_total_processor_amount`),
    };
  }
  const gross = processors.default.amount + processors.fallback.amount;
  const fees = processors.default.fee + processors.fallback.fee;
  const all = trend(data, "http_req_duration{expected_response:true}");
  const p99Raw = all ? all.p99 : NaN;
  const p99 = round2(p99Raw);
  const bonus = Math.max(round2((11 - p99) * 0.02), 0);
  const inconsistencies = count(data, "payments_inconsistency");
  const fine = inconsistencies > 0 ? 0.35 : 0;
  const liquid = gross - fees;
  const reported = processors.default.requests + processors.fallback.requests;
  const lag = success - reported;
  return {
    mode: MODE,
    max_requests: MAX_REQUESTS,
    backend_url: BACKEND_URL,
    timestamp: new Date().toISOString(),
    score: liquid + liquid * bonus - liquid * fine,
    liquid,
    gross,
    fees,
    p99_ms: p99,
    p99_raw_ms: p99Raw,
    bonus,
    fine,
    inconsistencies,
    inconsistencies_per_processor: count(data, "payments_inconsistency_per_processor"),
    consistency_checks: count(data, "consistency_checks"),
    lag,
    disqualified: lag < 0,
    payments: { success, failure: count(data, "transactions_failure") },
    default: processors.default,
    fallback: processors.fallback,
    default_share: reported > 0 ? processors.default.requests / reported : null,
    http: {
      requests: count(data, "http_reqs"),
      failed: data.metrics.http_req_failed ? data.metrics.http_req_failed.values.passes : 0,
    },
    latency_ms: {
      expected: all,
      payments: trend(data, "http_req_duration{kind:payment}"),
      summary: trend(data, "http_req_duration{kind:summary}"),
    },
  };
}

function fmt(x, digits) {
  return typeof x === "number" && isFinite(x) ? x.toFixed(digits) : String(x);
}

export function handleSummary(data) {
  const result = score(data);
  const rows = [
    ["mode", result.mode],
    ["MAX_REQUESTS", String(result.max_requests)],
    ["payments ok / failed", `${result.payments.success} / ${result.payments.failure}`],
    ["p99 (ms)", `${fmt(result.p99_ms, 2)}  (raw ${fmt(result.p99_raw_ms, 3)})`],
    ["bonus", `${fmt(result.bonus * 100, 0)} %`],
    ["inconsistencies", `${result.inconsistencies} (per processor ${result.inconsistencies_per_processor})`],
    ["lag", String(result.lag)],
    ["default / fallback", `${result.default.requests} / ${result.fallback.requests}`],
    ["gross / fees", `${fmt(result.gross, 2)} / ${fmt(result.fees, 2)}`],
    ["score", fmt(result.score, 2)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const table = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
  return {
    stdout: `\nrinha-2025 (${result.mode})\n${table}\n\n`,
    [RESULT_JSON]: JSON.stringify(result, null, 2),
  };
}
