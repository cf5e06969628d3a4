// The Rinha de Backend 2025 *final* test, written for this project from the
// facts in docs/contest.md ("The final test"), so that it runs offline
// with k6 v1.1.0 and reports what the final would score, plus the profit
// the routing made. docs/bench.md describes it; bench/rinha-2025.js is the
// preview, and both share bench/rinha-common.js.
//
//   python3 bench/timeline.py json bench/timelines/final.txt > /tmp/final.json
//   k6 run --no-usage-report -e TIMELINE_FILE=/tmp/final.json bench/rinha-final.js
//
// (--no-usage-report, or K6_NO_USAGE_REPORT=true: k6 must send nothing
// anywhere.) bench/run.sh --final / --timeline FILE does all of it.
//
// Environment:
//   TIMELINE_FILE  the timeline as bench/timeline.py json writes it (required):
//                  duration (s), vus, stages; times already scaled
//   MAX_REQUESTS   VUs at the end of the ramp (default: the timeline's vus)
//   BACKEND_URL, DEFAULT_URL, FALLBACK_URL, ADMIN_TOKEN, MODE   as rinha-2025.js
//   RESULT_JSON    where the result goes (bench-final-result.json)
//
// What the final does, and so this script:
// - setup: a random admin token on both processors, both purged, the
//   backend's POST /purge-payments (a failure ignored);
// - payments: ramping VUs from 1 to MAX_REQUESTS over the duration,
//   gracefulRampDown 0s; each iteration posts a fresh UUID v4 with amount
//   20.05 (timeout 1.5 s), then sleeps 1 s;
// - the processors' stage table, set through their admin API at its seconds;
// - consistency: one VU, about every 10 s, asks the backend and both
//   processors at the same time for [now − 15 s, now − 2 s];
//   inconsistencies = |Δdefault.totalRequests| + |Δfallback.totalRequests|;
// - teardown right after the load: gross and fees from the PROCESSORS'
//   admin summaries over [now − (duration + 60 s), now]; fees =
//   feePerTransaction × totalAmount each; lag = successful POSTs − the
//   processors' default + fallback totalRequests; score = liquid × (1 +
//   bonus − fine) with the preview's bonus and 35 % fine.
// Only the stage times and the ramp scale with bench/run.sh's
// --duration-scale; the 15 s / 2 s window, the 10 s period, the 1.5 s
// timeout and the processors' delays never do.

import { sleep } from "k6";
import { Counter } from "k6/metrics";
import {
  PROCESSORS,
  SUMMARY_OPTIONS,
  commonRows,
  consistencyDeltas,
  count,
  fmt,
  loadTimeline,
  paymentIteration,
  restoreToken,
  runTimeline,
  scenarios,
  scoreCommon,
  summaries,
  table,
} from "./rinha-common.js";

export { setup } from "./rinha-common.js";

const TIMELINE = loadTimeline();
const DURATION_S = TIMELINE.duration;
const MAX_REQUESTS = parseInt(__ENV.MAX_REQUESTS || String(TIMELINE.vus), 10);
const RESULT_JSON = __ENV.RESULT_JSON || "bench-final-result.json";
const AMOUNT = 20.05;
const AMOUNT_CENTS = 2005;
// The check's window ends this long before now; it starts 15 s before.
const CHECK_MARGIN_MS = 2000;
const CHECK_SPAN_MS = 15000;
const CHECK_PERIOD_S = 10;
// The teardown reads this much more than the load lasted (360 s for 300).
const TEARDOWN_EXTRA_S = 60;

export const options = {
  ...SUMMARY_OPTIONS,
  // A check sleeping out its 10 s must not push the teardown past the
  // load's end: that would give the backend extra seconds to drain.
  scenarios: scenarios(DURATION_S, MAX_REQUESTS, DURATION_S, { gracefulStop: "0s" }),
};

const paymentsInconsistency = new Counter("payments_inconsistency");
const consistencyChecks = new Counter("consistency_checks");
const totals = {};
for (const processor of PROCESSORS) {
  for (const what of ["requests", "amount", "fee", "fee_per_transaction", "backend_requests", "backend_amount"]) {
    totals[`${processor}_${what}`] = new Counter(`final_${processor}_${what}`);
  }
}

export async function payments() {
  await paymentIteration(AMOUNT);
}

export async function checkPaymentsConsistency(data) {
  const now = Date.now();
  const from = new Date(now - CHECK_SPAN_MS).toISOString();
  const to = new Date(now - CHECK_MARGIN_MS).toISOString();
  const deltas = await consistencyDeltas(from, to, data.token);
  paymentsInconsistency.add(Math.abs(deltas.default) + Math.abs(deltas.fallback));
  consistencyChecks.add(1);
  sleep(CHECK_PERIOD_S);
}

export async function timeline(data) {
  await runTimeline(TIMELINE.stages, data.token);
}

export async function teardown(data) {
  const to = new Date();
  const from = new Date(to.getTime() - (DURATION_S + TEARDOWN_EXTRA_S) * 1000);
  const { admin, backend } = await summaries(from.toISOString(), to.toISOString(), data.token);
  for (const processor of PROCESSORS) {
    const summary = admin[processor];
    // The final scores what the processors hold, at their own rate.
    totals[`${processor}_requests`].add(summary.totalRequests);
    totals[`${processor}_amount`].add(summary.totalAmount);
    totals[`${processor}_fee`].add(summary.feePerTransaction * summary.totalAmount);
    totals[`${processor}_fee_per_transaction`].add(summary.feePerTransaction);
    // Not scored: what the backend says, to check it equals the above.
    totals[`${processor}_backend_requests`].add(backend[processor].totalRequests);
    totals[`${processor}_backend_amount`].add(backend[processor].totalAmount);
  }
  await restoreToken(data.token);
}

/** The final's scoring, from the counters the scenarios and teardown filled. */
export function score(data) {
  const processors = {};
  for (const processor of PROCESSORS) {
    processors[processor] = {
      requests: count(data, `final_${processor}_requests`),
      amount: count(data, `final_${processor}_amount`),
      fee: count(data, `final_${processor}_fee`),
      fee_per_transaction: count(data, `final_${processor}_fee_per_transaction`),
      backend_requests: count(data, `final_${processor}_backend_requests`),
      backend_amount: count(data, `final_${processor}_backend_amount`),
    };
  }
  const stored = processors.default.requests + processors.fallback.requests;
  const common = scoreCommon(data, processors, stored);
  // What the acknowledged payments were worth, in cents then units: the
  // share of it we kept after fees is what routing is judged by.
  const acknowledged = (common.payments.success * AMOUNT_CENTS) / 100;
  return {
    ...common,
    test: "final",
    max_requests: MAX_REQUESTS,
    duration_s: DURATION_S,
    scale: TIMELINE.scale || 1,
    timeline: TIMELINE,
    acknowledged_amount: acknowledged,
    profit: acknowledged > 0 ? common.liquid / acknowledged : null,
    inconsistencies_per_processor: common.inconsistencies,
    backend_matches_processors:
      processors.default.backend_requests === processors.default.requests &&
      processors.fallback.backend_requests === processors.fallback.requests &&
      Math.round(processors.default.backend_amount * 100) === Math.round(processors.default.amount * 100) &&
      Math.round(processors.fallback.backend_amount * 100) === Math.round(processors.fallback.amount * 100),
  };
}

export function handleSummary(data) {
  const result = score(data);
  const rows = [
    ["mode", `${result.mode} (final, ${result.duration_s} s, scale ${result.scale})`],
    ...commonRows(result),
    ["inconsistencies", `${result.inconsistencies} in ${result.consistency_checks} checks`],
    ["lag", String(result.lag)],
    ["default / fallback", `${result.default.requests} / ${result.fallback.requests}`],
    ["fees per transaction", `${result.default.fee_per_transaction} / ${result.fallback.fee_per_transaction}`],
    ["gross / fees", `${fmt(result.gross, 2)} / ${fmt(result.fees, 2)}`],
    ["profit", `${fmt(result.profit === null ? NaN : result.profit * 100, 2)} % of the acknowledged amount`],
    ["backend = processors", String(result.backend_matches_processors)],
    ["score", fmt(result.score, 2)],
  ];
  return {
    stdout: `\nrinha final (${result.mode})\n${table(rows)}\n\n`,
    [RESULT_JSON]: JSON.stringify(result, null, 2),
  };
}
