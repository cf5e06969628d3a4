// The Rinha de Backend 2025 test, rewritten for this project so that it runs
// offline with k6 v1.1.0 (no remote imports) and reports what the contest
// would score. docs/bench.md (and docs/contest.md, the contest facts)
// state the rules this file follows; each deviation from the official
// script is named where it happens.
//
//   python3 bench/timeline.py json bench/timelines/preview.txt > /tmp/preview.json
//   k6 run --no-usage-report -e TIMELINE_FILE=/tmp/preview.json bench/rinha-2025.js
//
// (--no-usage-report, or K6_NO_USAGE_REPORT=true: k6 must send nothing
// anywhere; a script cannot set that option itself.)
//
// Environment:
//   TIMELINE_FILE  the processors' timeline as bench/timeline.py json writes it
//                  (required): bench/timelines/preview.txt, 550 VUs over 60 s
//   MAX_REQUESTS   VUs at the end of the ramp (default: the timeline's vus)
//   BACKEND_URL    http://127.0.0.1:9999
//   DEFAULT_URL    http://127.0.0.1:8001
//   FALLBACK_URL   http://127.0.0.1:8002
//   ADMIN_TOKEN    the processors' current admin token (123)
//   RESULT_JSON    where the result goes (bench-result.json)
//   MODE           a label copied into the result ("ours", "floor")
//
// bench/run.sh runs this twice (our stack, then the floor) and turns the
// results and k6's CSV output into the report and the picture.

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

// The processors' timeline and the test's length and size: the preview's,
// bench/timelines/preview.txt, which bench/run.sh hands over as TIMELINE_FILE.
const TIMELINE = loadTimeline();
const DURATION_S = TIMELINE.duration;
const MAX_REQUESTS = parseInt(__ENV.MAX_REQUESTS || String(TIMELINE.vus), 10);
const RESULT_JSON = __ENV.RESULT_JSON || "bench-result.json";
const AMOUNT = 19.9;
// The timeline VU may run this much past the load; the teardown reads as
// much more than the load lasted (70 s for the preview's 60).
const EXTRA_S = 10;

export const options = {
  ...SUMMARY_OPTIONS,
  scenarios: scenarios(DURATION_S, MAX_REQUESTS, DURATION_S + EXTRA_S, {}),
};

const paymentsInconsistency = new Counter("payments_inconsistency");
const paymentsInconsistencyPerProcessor = new Counter("payments_inconsistency_per_processor");
const consistencyChecks = new Counter("consistency_checks");
const totalsCounters = {};
for (const processor of PROCESSORS) {
  for (const what of ["requests", "amount", "fee", "processor_requests", "processor_amount"]) {
    totalsCounters[`${processor}_${what}`] = new Counter(`${processor}_total_${what}`);
  }
}

export async function payments() {
  await paymentIteration(AMOUNT);
}

export async function checkPaymentsConsistency(data) {
  const now = Date.now();
  const from = new Date(now - 15000).toISOString();
  const to = new Date(now - 1500).toISOString();
  const deltas = await consistencyDeltas(from, to, data.token);
  // The scoring formula of docs/contest.md; the per-processor sum (what the
  // official script's last version adds up) is kept beside it: it is never
  // smaller, and also catches a payment reported under the wrong processor.
  const inconsistencies = Math.abs(deltas.default + deltas.fallback);
  const perProcessor = Math.abs(deltas.default) + Math.abs(deltas.fallback);
  paymentsInconsistency.add(inconsistencies);
  paymentsInconsistencyPerProcessor.add(perProcessor);
  consistencyChecks.add(1);
  sleep(10);
}

export async function timeline(data) {
  await runTimeline(TIMELINE.stages, data.token);
}

export async function teardown(data) {
  const to = new Date();
  const from = new Date(to.getTime() - (DURATION_S + EXTRA_S) * 1000);
  const { admin, backend } = await summaries(from.toISOString(), to.toISOString(), data.token);
  for (const processor of PROCESSORS) {
    const totals = backend[processor];
    totalsCounters[`${processor}_requests`].add(totals.totalRequests);
    totalsCounters[`${processor}_amount`].add(totals.totalAmount);
    // Fees are the processor's rate applied to what the BACKEND reports.
    totalsCounters[`${processor}_fee`].add(admin[processor].feePerTransaction * totals.totalAmount);
    totalsCounters[`${processor}_processor_requests`].add(admin[processor].totalRequests);
    totalsCounters[`${processor}_processor_amount`].add(admin[processor].totalAmount);
  }
  await restoreToken(data.token);
}

/** The official scoring, from the counters the scenarios and teardown filled. */
export function score(data) {
  const processors = {};
  for (const processor of PROCESSORS) {
    processors[processor] = {
      requests: count(data, `${processor}_total_requests`),
      amount: count(data, `${processor}_total_amount`),
      fee: count(data, `${processor}_total_fee`),
      processor_requests: count(data, `${processor}_total_processor_requests`),
      processor_amount: count(data, `${processor}_total_processor_amount`),
    };
  }
  const reported = processors.default.requests + processors.fallback.requests;
  return {
    ...scoreCommon(data, processors, reported),
    max_requests: MAX_REQUESTS,
    inconsistencies_per_processor: count(data, "payments_inconsistency_per_processor"),
  };
}

export function handleSummary(data) {
  const result = score(data);
  const rows = [
    ["mode", result.mode],
    ...commonRows(result),
    ["inconsistencies", `${result.inconsistencies} (per processor ${result.inconsistencies_per_processor})`],
    ["lag", String(result.lag)],
    ["default / fallback", `${result.default.requests} / ${result.fallback.requests}`],
    ["gross / fees", `${fmt(result.gross, 2)} / ${fmt(result.fees, 2)}`],
    ["score", fmt(result.score, 2)],
  ];
  return {
    stdout: `\nrinha-2025 (${result.mode})\n${table(rows)}\n\n`,
    [RESULT_JSON]: JSON.stringify(result, null, 2),
  };
}
