// What bench/rinha-2025.js (the preview) and bench/rinha-final.js (the
// final) share: the addresses, UUIDs, the processors' admin calls, the
// backend's summary, the setup, the timeline's PUTs and the small numeric
// helpers of the score. A plain k6 module: no remote imports.

import http from "k6/http";
import { sleep } from "k6";
import crypto from "k6/crypto";
import exec from "k6/execution";
import { Counter } from "k6/metrics";

export const BACKEND_URL = __ENV.BACKEND_URL || "http://127.0.0.1:9999";
export const PROCESSOR_URL = {
  default: __ENV.DEFAULT_URL || "http://127.0.0.1:8001",
  fallback: __ENV.FALLBACK_URL || "http://127.0.0.1:8002",
};
export const PROCESSORS = ["default", "fallback"];
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || "123";
export const MODE = __ENV.MODE || "ours";

// Every request the official tests make has this budget.
export const TIMEOUT = "1500ms";
export const JSON_HEADERS = { "Content-Type": "application/json" };
const SUCCESS = [200, 201, 202, 204];

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

export function adminCall(method, processor, path, body, token) {
  return http.asyncRequest(
    method,
    `${PROCESSOR_URL[processor]}${path}`,
    body === null ? null : JSON.stringify(body),
    adminParams(token),
  );
}

export function expectStatus(response, status, what) {
  if (response.status !== status) {
    exec.test.abort(`${what}: HTTP ${response.status} (expected ${status}) ${response.body}`);
  }
}

/** `{totalRequests, totalAmount, feePerTransaction}`, zeros on failure as the official does. */
export async function processorSummary(processor, from, to, token) {
  const query = `?from=${from}&to=${to}`;
  const response = await adminCall("GET", processor, `/admin/payments-summary${query}`, null, token);
  if (response.status === 200) return JSON.parse(response.body);
  console.error(`${processor} /admin/payments-summary${query}: HTTP ${response.status}`);
  return { totalRequests: 0, totalAmount: 0, feePerTransaction: 0, totalFee: 0 };
}

export async function backendSummary(from, to) {
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

/** One `POST /payments` of `amount`; whether it got a 2xx. */
export async function postPayment(amount) {
  const body = JSON.stringify({ correlationId: uuidv4(), amount });
  const response = await http.asyncRequest("POST", `${BACKEND_URL}/payments`, body, {
    headers: JSON_HEADERS,
    timeout: TIMEOUT,
    tags: { kind: "payment" },
  });
  return SUCCESS.includes(response.status);
}

function randomToken() {
  return `rinha-bench-${uuidv4()}`;
}

export async function setup() {
  // The official tests set a random token (so a backend cannot cheat with
  // the admin API), purge both processors and the backend.
  const token = __ENV.TOKEN || randomToken();
  for (const processor of PROCESSORS) {
    const response = await adminCall("PUT", processor, "/admin/configurations/token", { token }, ADMIN_TOKEN);
    expectStatus(response, 204, `${processor}: PUT /admin/configurations/token`);
  }
  for (const processor of PROCESSORS) {
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

/**
 * Sets each stage at its second after this scenario started. A stage is
 * `{at, default: [delayMs, failing], fallback: [delayMs, failing]}`; the
 * calls are sequential, in the official order: both delays, then both
 * failures (report.py dates a stage by its last failure PUT).
 */
/**
 * The processors' timeline, as `bench/timeline.py json` writes it from a
 * bench/timelines/*.txt file (that script is the one parser of the format):
 * `{duration, vus, fees, stages: [{at, label, default: {delay, failing},
 * fallback: {...}}]}`, times already scaled. TIMELINE_FILE names it (bench/run.sh
 * passes it). k6 allows `open` only while the script initialises: call this
 * at a script's top level.
 */
export function loadTimeline() {
  if (!__ENV.TIMELINE_FILE) {
    throw new Error("TIMELINE_FILE is required: python3 bench/timeline.py json FILE > timeline.json");
  }
  return JSON.parse(open(__ENV.TIMELINE_FILE));
}

/**
 * The three scenarios both tests run: the payments ramp from 1 to `vus` VUs
 * over `durationS`, one consistency VU for as long (`consistency` adds to
 * its options), and the processors' timeline in one VU that waits for each
 * stage's second (the official test has one 1-VU scenario per stage, each
 * starting at its second: the same calls), stopped after `timelineMaxS`.
 */
export function scenarios(durationS, vus, timelineMaxS, consistency) {
  return {
    payments: {
      exec: "payments",
      executor: "ramping-vus",
      startVUs: 1,
      gracefulRampDown: "0s",
      stages: [{ target: vus, duration: `${durationS}s` }],
    },
    payments_consistency: {
      exec: "checkPaymentsConsistency",
      executor: "constant-vus",
      vus: 1,
      duration: `${durationS}s`,
      ...consistency,
    },
    processors_timeline: {
      exec: "timeline",
      executor: "per-vu-iterations",
      vus: 1,
      iterations: 1,
      maxDuration: `${timelineMaxS}s`,
    },
  };
}

/** Sets each stage's delay, then its failure flag, on both processors at its second. */
export async function runTimeline(stages, token) {
  const start = exec.scenario.startTime;
  for (const stage of stages) {
    const wait = start + stage.at * 1000 - Date.now();
    if (wait > 0) sleep(wait / 1000);
    for (const processor of PROCESSORS) {
      const { delay } = stage[processor];
      const response = await adminCall("PUT", processor, "/admin/configurations/delay", { delay }, token);
      expectStatus(response, 200, `${processor}: PUT /admin/configurations/delay`);
    }
    for (const processor of PROCESSORS) {
      const failure = stage[processor].failing;
      const response = await adminCall("PUT", processor, "/admin/configurations/failure", { failure }, token);
      expectStatus(response, 200, `${processor}: PUT /admin/configurations/failure`);
    }
  }
}

/**
 * The backend's and both processors' summaries over [from, to], asked at
 * the same time, as the tests ask them: `{ admin: { default, fallback },
 * backend }`.
 */
export async function summaries(from, to, token) {
  const [defaultAdmin, fallbackAdmin, backend] = await Promise.all([
    processorSummary("default", from, to, token),
    processorSummary("fallback", from, to, token),
    backendSummary(from, to),
  ]);
  return { admin: { default: defaultAdmin, fallback: fallbackAdmin }, backend };
}

/**
 * One consistency check over [from, to]: the backend's count minus each
 * processor's, `{ default, fallback }`, with a warning in k6's log when
 * either is off.
 */
export async function consistencyDeltas(from, to, token) {
  const { admin, backend } = await summaries(from, to, token);
  const deltas = {};
  for (const processor of PROCESSORS) {
    deltas[processor] = backend[processor].totalRequests - admin[processor].totalRequests;
  }
  if (deltas.default !== 0 || deltas.fallback !== 0) {
    console.warn(
      `inconsistency over [${from}, ${to}]: backend default ${backend.default.totalRequests} ` +
        `vs processor ${admin.default.totalRequests}, backend fallback ` +
        `${backend.fallback.totalRequests} vs processor ${admin.fallback.totalRequests}`,
    );
  }
  return deltas;
}

/**
 * Not in the official tests (their processors are thrown away after a
 * run): gives the processors their initial token back, so that the same
 * stack can be measured again and bench/run.sh can read them after k6.
 */
export async function restoreToken(token) {
  for (const processor of PROCESSORS) {
    await adminCall("PUT", processor, "/admin/configurations/token", { token: ADMIN_TOKEN }, token);
  }
}

/** Half-up to 2 places, as big.js `round(2)` does for the official score. */
export function round2(x) {
  return Math.round((x + Number.EPSILON) * 100) / 100;
}

/** The contest's latency bonus for a p99 in ms. */
export function bonusFor(p99) {
  return Math.max(round2((11 - p99) * 0.02), 0);
}

export function count(data, name) {
  const metric = data.metrics[name];
  return metric ? metric.values.count : 0;
}

export function trend(data, name) {
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

export function fmt(x, digits) {
  return typeof x === "number" && isFinite(x) ? x.toFixed(digits) : String(x);
}

/** `  key  value` lines, the keys padded to one width. */
export function table(rows) {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
}

/**
 * What both tests score the same way, given each processor's totals as the
 * test counts them (`requests`, `amount`, `fee`, plus whatever else the
 * test keeps) and how many payments were stored or reported:
 * gross, fees, p99 and its bonus, the fine, lag and the HTTP figures.
 */
export function scoreCommon(data, processors, stored) {
  const success = count(data, "transactions_success");
  const gross = processors.default.amount + processors.fallback.amount;
  const fees = processors.default.fee + processors.fallback.fee;
  const all = trend(data, "http_req_duration{expected_response:true}");
  const p99Raw = all ? all.p99 : NaN;
  const p99 = round2(p99Raw);
  const bonus = bonusFor(p99);
  const inconsistencies = count(data, "payments_inconsistency");
  const fine = inconsistencies > 0 ? 0.35 : 0;
  const liquid = gross - fees;
  const lag = success - stored;
  return {
    mode: MODE,
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
    consistency_checks: count(data, "consistency_checks"),
    lag,
    disqualified: lag < 0,
    payments: { success, failure: count(data, "transactions_failure") },
    default: processors.default,
    fallback: processors.fallback,
    default_share: stored > 0 ? processors.default.requests / stored : null,
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

/** The summary rows both tests print first. */
export function commonRows(result) {
  return [
    ["MAX_REQUESTS", String(result.max_requests)],
    ["payments ok / failed", `${result.payments.success} / ${result.payments.failure}`],
    ["p99 (ms)", `${fmt(result.p99_ms, 2)}  (raw ${fmt(result.p99_raw_ms, 3)})`],
    ["bonus", `${fmt(result.bonus * 100, 0)} %`],
  ];
}

/**
 * The k6 options both tests share: the trend statistics the report reads
 * and always-true thresholds, which make k6 keep these sub-metrics so that
 * handleSummary can read them (the first one is the one the score uses).
 */
export const SUMMARY_OPTIONS = {
  summaryTrendStats: ["min", "med", "avg", "p(90)", "p(99)", "p(99.9)", "max", "count"],
  thresholds: {
    "http_req_duration{expected_response:true}": ["max>=0"],
    "http_req_duration{kind:payment}": ["max>=0"],
    "http_req_duration{kind:summary}": ["max>=0"],
  },
};

// Both tests count each payment's fate the same way (the lag is
// transactions_success minus what the processors or the backend hold).
const transactionsSuccess = new Counter("transactions_success");
const transactionsFailure = new Counter("transactions_failure");

/** One VU iteration of both tests: post one payment of `amount`, count it, sleep 1 s. */
export async function paymentIteration(amount) {
  const ok = await postPayment(amount);
  transactionsSuccess.add(ok ? 1 : 0);
  transactionsFailure.add(ok ? 0 : 1);
  sleep(1);
}
