#!/usr/bin/env python3
"""bench/run.sh's helper: the backlog read from the processors, and the report
(result JSON, table, SVG) of one run.

Standard library only, so a fresh machine needs nothing but python3.

    report.py backlog DIR DEFAULT_URL FALLBACK_URL [TOKEN]   # DIR/ours-backlog.json
    report.py processors DIR DEFAULT_URL FALLBACK_URL [TOKEN] # DIR/ours-processors.json
    report.py report DIR RESULT_JSON             # DIR/chart.svg, the table

DIR holds what run.sh wrote: <mode>.json (bench/rinha-2025.js's or
bench/rinha-final.js's result), <mode>.csv (k6 --out csv with unix_milli
timestamps), <mode>-stats.txt (cgroup and memory lines), for mode in ours and
floor (the floor is optional); for a final or --timeline run also
timeline.json (bench/timeline.py json) and ours-stat.jsonl (`rinha stat
--watch --json`, one object a second, when the binary has it).
"""

import csv
import json
import math
import os
import re
import sys
import urllib.request
from datetime import datetime, timezone

import timeline as timelines

BACKLOG_STEP_MS = 100


# ---------------------------------------------------------------- k6 CSV


def read_csv(path):
    """The samples bench/run.sh needs from k6's CSV: every HTTP request's
    (ms, duration, expected, scenario, status, url)."""
    requests = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["metric_name"] != "http_req_duration":
                continue
            requests.append(
                (
                    int(row["timestamp"]),
                    float(row["metric_value"]),
                    row["expected_response"] == "true",
                    row["scenario"],
                    row["status"],
                    row["url"],
                )
            )
    requests.sort()
    return requests


def stage_times(requests, count):
    """When each of `count` stages took effect (ms): the later of its two
    failure PUTs, the last calls the timeline makes for a stage. None if
    absent."""
    puts = [
        r[0]
        for r in requests
        if r[3] == "processors_timeline" and r[5].endswith("/admin/configurations/failure")
    ]
    if len(puts) < 2 * count:
        return None
    return [max(puts[2 * i], puts[2 * i + 1]) for i in range(count)]


def percentile(sorted_values, q):
    """Linear interpolation between closest ranks, as k6 computes trends."""
    if not sorted_values:
        return None
    i = (len(sorted_values) - 1) * q
    lo, hi = math.floor(i), math.ceil(i)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (i - lo)


def per_second(requests, t0, seconds=62):
    """[(second, count, p50, p90, p99)] over the requests k6 scores."""
    buckets = [[] for _ in range(seconds)]
    for ms, duration, expected, *_ in requests:
        second = (ms - t0) // 1000
        if expected and 0 <= second < seconds:
            buckets[second].append(duration)
    rows = []
    for second, values in enumerate(buckets):
        values.sort()
        rows.append(
            (
                second,
                len(values),
                percentile(values, 0.50),
                percentile(values, 0.90),
                percentile(values, 0.99),
            )
        )
    return rows


def test_start(requests, timeline):
    """Test start (ms): the first stage's second before it took effect, else
    the first payment."""
    stages = stage_times(requests, len(timeline["stages"]))
    if stages:
        return stages[0] - round(timeline["stages"][0]["at"] * 1000)
    return min(r[0] for r in requests if r[3] == "payments")


# ---------------------------------------------------------------- backlog


def get_json(url, token):
    request = urllib.request.Request(url, headers={"X-Rinha-Token": token})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms % 1000:03d}Z"
    )


def cmd_backlog(directory, default_url, fallback_url, token="123"):
    """Payments accepted (k6 saw 2xx) minus payments the processors stored
    with a requestedAt up to t, every 100 ms: the drainer's backlog. Read
    after the run, so the reading adds no load to it."""
    timeline = load_timeline(directory)
    requests = read_csv(os.path.join(directory, "ours.csv"))
    t0 = test_start(requests, timeline)
    accepted = sorted(
        r[0] for r in requests if r[3] == "payments" and r[4] in ("200", "201", "202", "204")
    )
    end = (accepted[-1] if accepted else t0) + 5000
    start = t0 - 5000
    points, i = [], 0
    for t in range(t0, end + 1, BACKLOG_STEP_MS):
        while i < len(accepted) and accepted[i] <= t:
            i += 1
        stored = {}
        for name, url in (("default", default_url), ("fallback", fallback_url)):
            summary = get_json(f"{url}/admin/payments-summary?from={iso(start)}&to={iso(t)}", token)
            stored[name] = summary["totalRequests"]
        points.append((t - t0, i, stored["default"], stored["fallback"]))
    index = recovery_stage(timeline)
    stages = stage_times(requests, len(timeline["stages"]))
    recovery = (stages[index] - t0) if stages else round(1000 * timeline["stages"][index]["at"])
    result = {"step_ms": BACKLOG_STEP_MS, "recovery_ms": recovery, "points": points}
    result.update(drain(points, recovery))
    with open(os.path.join(directory, "ours-backlog.json"), "w", encoding="utf-8") as f:
        json.dump(result, f)


def recovery_stage(timeline):
    """The index of the stage where both processors answer again after an
    outage (the preview's 40 s): the first stage with neither failing that
    follows one with both failing, else the last stage."""
    stages = timeline["stages"]
    both_failing = [s["default"]["failing"] and s["fallback"]["failing"] for s in stages]
    either = [s["default"]["failing"] or s["fallback"]["failing"] for s in stages]
    return next(
        (i for i in range(1, len(stages)) if both_failing[i - 1] and not either[i]),
        len(stages) - 1,
    )


def drain(points, recovery_ms):
    """Peak backlog around the outage, and how long after the recovery the
    backlog first falls to 1 % of that peak (at least 10 payments: what is
    always in flight at the contest's rate)."""
    backlog = [(t, accepted - d - f) for t, accepted, d, f in points]
    around = [b for t, b in backlog if recovery_ms - 20_000 <= t <= recovery_ms + 10_000]
    peak = max(around, default=0)
    threshold = max(10, peak // 100)
    drained = next((t for t, b in backlog if t >= recovery_ms and b <= threshold), None)
    return {
        "peak_backlog": peak,
        "drained_threshold": threshold,
        "drain_ms": None if drained is None else drained - recovery_ms,
    }


# ---------------------------------------------------------------- final: per second


def load_timeline(directory):
    """The run's timeline.json (bench/timeline.py json, which run.sh writes
    for every run: the preview's is bench/timelines/preview.txt)."""
    timeline = load_json(os.path.join(directory, "timeline.json"))
    if timeline is None:
        sys.exit(f"{directory}/timeline.json is missing (bench/timeline.py json FILE > it)")
    return timeline


def cmd_processors(directory, default_url, fallback_url, token="123"):
    """What each processor stored per second of requestedAt, asked after
    the run (so the asking adds no load to it): the payments the drainer
    sent in that second and that were stored, at either processor."""
    timeline = load_timeline(directory)
    requests = read_csv(os.path.join(directory, "ours.csv"))
    t0 = test_start(requests, timeline)
    seconds = math.ceil(timeline["duration"]) + 5
    rows = []
    for second in range(-5, seconds):
        start = t0 + 1000 * second
        stored = []
        for url in (default_url, fallback_url):
            summary = get_json(
                f"{url}/admin/payments-summary?from={iso(start)}&to={iso(start + 999)}", token
            )
            stored.append(summary["totalRequests"])
        rows.append([second] + stored)
    with open(os.path.join(directory, "ours-processors.json"), "w", encoding="utf-8") as f:
        json.dump({"t0_ms": t0, "seconds": rows}, f)


def read_stat(path, t0):
    """{second: last `rinha stat --json` sample taken in it}."""
    samples = {}
    if not os.path.exists(path):
        return samples
    with open(path, encoding="utf-8") as f:
        for raw in f:
            try:
                sample = json.loads(raw)
            except json.JSONDecodeError:
                continue  # the line being written when the sampler was stopped
            if isinstance(sample, dict) and "now_ms" in sample:
                samples[(sample["now_ms"] - t0) // 1000] = sample
    return samples


def final_per_second(requests, t0, seconds, processors, stat):
    """One dict per second: arrivals and accepted POSTs, latency
    percentiles, payments stored per processor (by requestedAt), what was
    accepted but not yet sent, and `rinha stat`'s readings."""
    arrivals = [0] * seconds
    accepted = [0] * seconds
    for ms, _, _, scenario, status, _ in requests:
        second = (ms - t0) // 1000
        if scenario == "payments" and 0 <= second < seconds:
            arrivals[second] += 1
            accepted[second] += status in ("200", "201", "202", "204")
    stored = {row[0]: row[1:] for row in (processors or {}).get("seconds", [])}
    # Payments stored with a requestedAt before the test (none, normally)
    # count as sent before second 0.
    sent_so_far = sum(sum(v) for k, v in stored.items() if k < 0)
    accepted_so_far = 0
    rows = []
    for (second, count, p50, p90, p99), ok in zip(per_second(requests, t0, seconds), accepted):
        default, fallback = stored.get(second, (None, None))
        accepted_so_far += ok
        if default is not None:
            sent_so_far += default + fallback
        sample = stat.get(second) or {}
        ring = sample.get("ring") or {}
        in_flight = ring.get("in_flight") or {}
        rows.append(
            {
                "second": second,
                "arrivals": arrivals[second],
                "accepted": ok,
                "count": count,
                "p50": p50,
                "p90": p90,
                "p99": p99,
                "stored_default": default,
                "stored_fallback": fallback,
                "not_yet_sent": accepted_so_far - sent_so_far if processors else None,
                "ring_depth": ring.get("depth"),
                "oldest_age_ms": ring.get("oldest_age_ms"),
                "in_flight_default": in_flight.get("default"),
                "in_flight_fallback": in_flight.get("fallback"),
                "route": sample.get("route"),
            }
        )
    return rows


def timeline_spec(timeline):
    """The picture's stages, ticks and shading: default failing (orange),
    both failing (red), the fallback failing (yellow), the default's delay
    past the check's margin (violet)."""
    duration = timeline["duration"]
    stages = timeline["stages"]
    shades = []
    for i, stage in enumerate(stages):
        end = stages[i + 1]["at"] if i + 1 < len(stages) else duration
        d, f = stage["default"], stage["fallback"]
        if d["failing"] and f["failing"]:
            shades.append((stage["at"], end, "#fde0e0"))
        elif d["failing"]:
            shades.append((stage["at"], end, "#fff1e0"))
        elif f["failing"]:
            shades.append((stage["at"], end, "#fffbd0"))
        elif d["delay"] + timelines.RECORD_ALLOWANCE_MS >= timelines.CHECK_MARGIN_MS:
            shades.append((stage["at"], end, "#efe6fb"))
    tick = 30 if duration > 150 else 10 if duration > 40 else 5
    return {
        "seconds": math.ceil(duration) + 1,
        "stages": [(s["at"], s["label"]) for s in stages],
        "shades": shades,
        "tick": tick,
        "stagger": True,
    }


ROUTE_COLOURS = {"default": "#2b8cbe", "fallback": "#f4a300", "holding": "#d7301f", "unknown": "#bbbbbb"}


def series_panel(y0, h, left, plot_w, x, spec, title, series, unit="", cap=None):
    """A linear panel of (name, colour, [(second, value)], dash) series;
    values above `cap` (a burst that would flatten everything else) are
    drawn at the top and the title says so."""
    values = [v for _, _, points, _ in series for _, v in points if v is not None]
    peak = max(max(values, default=1), 1)
    if cap is not None and peak > cap:
        title += f" (clipped at {nice_ceiling(cap):g}; peak {peak:g})"
        peak = cap
    top_value = nice_ceiling(peak)
    y = lambda v: y0 + h - h * max(min(v, top_value), 0) / top_value  # noqa: E731
    out = frame(left, y0, plot_w, h, x, spec)
    for v in (0, top_value / 2, top_value):
        out.append(line(left, y(v), left + plot_w, y(v), "#e6e6e6"))
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#444">{v:g}{unit}</text>')
    lx = left + plot_w - 95 * len(series)
    for i, (name, colour, points, dash) in enumerate(series):
        pts = " ".join(f"{x(t + 0.5):.1f},{y(v):.1f}" for t, v in points if v is not None)
        if pts:
            extra = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"{extra}/>')
        out.append(line(lx + 95 * i, y0 + 12, lx + 95 * i + 16, y0 + 12, colour, 3, dash))
        out.append(f'<text x="{lx + 95 * i + 20}" y="{y0 + 16}" font-size="11">{esc(name)}</text>')
    out.append(f'<text x="{left + 8}" y="{y0 + 16}" font-weight="bold">{esc(title)}</text>')
    return out


def route_strip(y0, h, left, plot_w, x, spec, rows):
    """One coloured cell per second: the router's choice `rinha stat` read."""
    out = frame(left, y0, plot_w, h, x, dict(spec, stages=[(t, "") for t, _ in spec["stages"]]))
    for row in rows:
        route = row["route"]
        if route:
            colour = ROUTE_COLOURS.get(route, "#bbbbbb")
            out.append(
                f'<rect x="{x(row["second"]):.1f}" y="{y0 + 2}" width="{x(1) - x(0) + 0.3:.1f}" '
                f'height="{h - 4}" fill="{colour}"/>'
            )
    lx = left + plot_w - 95 * len(ROUTE_COLOURS)
    for i, (name, colour) in enumerate(ROUTE_COLOURS.items()):
        out.append(f'<rect x="{lx + 95 * i}" y="{y0 - 14}" width="14" height="10" fill="{colour}"/>')
        out.append(f'<text x="{lx + 95 * i + 18}" y="{y0 - 5}" font-size="11">{name}</text>')
    out.append(f'<text x="{left}" y="{y0 - 5}" font-weight="bold">the router\'s choice (rinha stat)</text>')
    return out


def svg_final(panels, rows, cpu, spec, caption, title):
    """The final's picture: latency per second, payments per second,
    what waits and what is in flight, the oldest payment's age, the route,
    CPU; every panel with the stages marked."""
    width, left, right, gap, top = 980, 70, 20, 46, 56
    plot_w = width - left - right
    seconds = spec["seconds"]
    x = lambda s: left + plot_w * s / seconds  # noqa: E731
    have_stat = any(r["ring_depth"] is not None for r in rows)
    have_route = any(r["route"] for r in rows)
    blocks = [("latency", 190)] * len(panels) + [("rate", 150), ("waiting", 150)]
    blocks += [("age", 110)] if have_stat else []
    blocks += [("route", 26)] if have_route else []
    blocks += [("cpu", 110)] if cpu else []
    height = top + sum(h + gap for _, h in blocks) + 40 + 18 * len(caption)
    out = svg_open(
        width, height, left, title,
        "per second of the test; shaded: default failing (orange), both failing (red), "
        "fallback failing (yellow), default delay past the 2 s margin (violet)",
    )
    y0 = top
    bounds = latency_range(panels)
    series = lambda key: [(r["second"], r[key]) for r in rows]  # noqa: E731
    for kind, h in blocks:
        if kind == "latency":
            name, latency_rows = panels.pop(0)
            out += latency_panel(y0, h, left, plot_w, x, bounds, name, latency_rows, spec)
        elif kind == "rate":
            out += series_panel(
                y0, h, left, plot_w, x, spec, "payments per second: POSTed, stored (by requestedAt)",
                [("POSTed", "#777777", series("arrivals"), None),
                 ("default", ROUTE_COLOURS["default"], series("stored_default"), None),
                 ("fallback", ROUTE_COLOURS["fallback"], series("stored_fallback"), None)],
                cap=2 * max((r["arrivals"] for r in rows), default=1),
            )
        elif kind == "waiting":
            out += series_panel(
                y0, h, left, plot_w, x, spec, "accepted, not yet sent; ring depth; in flight",
                [("not sent", "#6a3d9a", series("not_yet_sent"), None),
                 ("ring depth", "#222222", series("ring_depth"), "4 3"),
                 ("in flight d", ROUTE_COLOURS["default"], series("in_flight_default"), None),
                 ("in flight f", ROUTE_COLOURS["fallback"], series("in_flight_fallback"), None)],
            )
        elif kind == "age":
            ages = [(r["second"], None if r["oldest_age_ms"] is None else r["oldest_age_ms"] / 1000) for r in rows]
            out += series_panel(
                y0, h, left, plot_w, x, spec, "age of the oldest waiting payment",
                [("age", "#d7301f", ages, None)], " s",
            )
        elif kind == "route":
            out += route_strip(y0, h, left, plot_w, x, spec, rows)
        elif kind == "cpu":
            out += series_panel(
                y0, h, left, plot_w, x, spec, "CPU per service, % of one core",
                [(name, CPU_COLOURS.get(name, "#666"), list(enumerate(values)), None) for name, values in cpu.items()],
                " %",
            )
        y0 += h + gap
    return svg_close(out, left, plot_w, y0 - gap, caption)


def report_final(directory, result_path, ours, floor, timeline):
    """The result JSON, picture and table of a final or --timeline run."""
    seconds = math.ceil(timeline["duration"]) + 2
    processors = load_json(os.path.join(directory, "ours-processors.json"))
    result = {"ours": ours, "floor": floor, "timeline": timeline}
    panels = []
    rows = []
    for mode, k6, requests, t0 in measured_modes(directory, ours, floor, timeline):
        stat = read_stat(os.path.join(directory, f"{mode}-stat.jsonl"), t0)
        mode_rows = final_per_second(requests, t0, seconds, processors if mode == "ours" else None, stat)
        k6["per_second"] = mode_rows
        k6["cpu_percent_per_second"] = cpu_per_second(os.path.join(directory, f"{mode}-cpu.tsv"), t0, seconds)
        p99s = sorted(r["p99"] for r in mode_rows[1:-2] if r["p99"] is not None)
        k6["p99_per_second_median_ms"] = percentile(p99s, 0.5)
        label = mode_label(directory, mode)
        panels.append(
            (f"{label}: p99 {k6['p99_raw_ms']:.3f} ms", [(r["second"], r["count"], r["p50"], r["p90"], r["p99"]) for r in mode_rows])
        )
        if mode == "ours":
            rows = mode_rows
    best = timelines.best(timeline)
    result["best"] = {k: v for k, v in best.items() if k != "stages"}
    result["best"]["stages"] = best["stages"]
    profit = ours.get("profit")
    result["profit_points_below_best"] = None if profit is None else round(100 * (best["profit"] - profit), 3)
    if floor and floor.get("p99_raw_ms"):
        result["p99_ratio_to_floor"] = ours["p99_raw_ms"] / floor["p99_raw_ms"]
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, default=lambda v: None)

    share = ours.get("default_share")
    fees = f"{ours['default']['fee_per_transaction']:g} / {ours['fallback']['fee_per_transaction']:g}"
    caption = [
        f"ours: score {ours['score']:,.2f} · profit {pct(profit)} of the acknowledged amount "
        f"(best for this timeline {100 * best['profit']:.2f} %) · p99 {ours['p99_raw_ms']:.3f} ms",
        f"inconsistencies {ours['inconsistencies']} in {ours['consistency_checks']} checks · lag {ours['lag']}"
        f" · failed POSTs {ours['payments']['failure']} · backend = processors: {ours['backend_matches_processors']}",
        f"stored: default {ours['default']['requests']:,} · fallback {ours['fallback']['requests']:,}"
        + (f" ({share * 100:.1f} % default)" if share is not None else "")
        + f" · fees {fees}",
        f"{ours['max_requests']} VUs over {timeline['duration']:g} s (scale {timeline.get('scale', 1):g})"
        f" · {ours['timestamp'][:19]}Z · {os.cpu_count()} CPUs, load before the run {ours.get('load_before')}"
        f" · limits: {ours.get('limits') or 'none'}",
    ]
    title = "rinha — the final's scenario (bench/rinha-final.js), local run"
    with open(os.path.join(directory, "chart.svg"), "w", encoding="utf-8") as f:
        f.write(svg_final(panels, rows, ours.get("cpu_percent_per_second"), timeline_spec(timeline), caption, title))
    print_table(ours, floor, result.get("p99_ratio_to_floor"), None)
    print(f"  best profit for this timeline {100 * best['profit']:.2f} %; ours {pct(profit)}"
          + ("" if profit is None else f" ({result['profit_points_below_best']:.2f} points below)"))
    print()


def pct(fraction):
    return "-" if fraction is None else f"{100 * fraction:.2f} %"


# ---------------------------------------------------------------- stats


def read_stats(path):
    """run.sh's `mem SERVICE RSS_KB PSS_KB`, `cg SERVICE KEY VALUE`, `load X`
    and `note TEXT` lines."""
    memory, cgroups, extra = {}, {}, {"note": None, "load": None, "cpu": {}}
    if not os.path.exists(path):
        return memory, cgroups, extra
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "mem" and len(parts) == 4:
                memory[parts[1]] = {"rss_kb": int(parts[2]), "pss_kb": int(parts[3])}
            elif parts[0] == "cg" and len(parts) == 4:
                value = parts[3]
                cgroups.setdefault(parts[1], {})[parts[2]] = (
                    float(value) if re.fullmatch(r"[0-9.]+", value) else value
                )
            elif parts[0] == "note":
                extra["note"] = line[len("note ") :].strip()
            elif parts[0] == "cpu" and len(parts) >= 3:
                extra["cpu"][parts[1]] = round(sum(float(p) for p in parts[2:]), 2)
            elif parts[0] == "load" and len(parts) == 2:
                extra["load"] = float(parts[1])
    return memory, cgroups, extra


def cpu_per_second(path, t0, seconds=62):
    """{service: [% of one core per second]} from run.sh's CPU samples."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        header = f.readline().split()
        hz = float(header[-1].split("=")[1])
        services = header[1:-1]
        samples = [[float(v) for v in line.split()] for line in f if line.strip()]
    used = {s: [0.0] * seconds for s in services}
    for before, after in zip(samples, samples[1:]):
        second = int((after[0] - t0) // 1000)
        if 0 <= second < seconds:
            for i, service in enumerate(services):
                used[service][second] += max(after[i + 1] - before[i + 1], 0) / hz
    return {s: [round(100 * v, 1) for v in values] for s, values in used.items()}


# ---------------------------------------------------------------- SVG


def svg_chart(panels, backlog, cpu, caption, title, spec):
    """Latency panels (log scale, shared), then the backlog and CPU panels
    when there is data for them."""
    width, left, right = 980, 70, 20
    plot_w = width - left - right
    latency_h, backlog_h, gap, top = 190, 120, 46, 56
    heights = [latency_h] * len(panels) + [backlog_h] * ((backlog is not None) + (cpu is not None))
    height = top + sum(h + gap for h in heights) + 40 + 18 * len(caption)
    seconds = 61
    x = lambda s: left + plot_w * s / seconds  # noqa: E731

    lo, hi = latency_range(panels)

    out = svg_open(
        width, height, left, title,
        "k6 http_req_duration of expected responses, per second of the test: p50, p90, p99 "
        "(log scale; the same scale in every panel)",
    )
    y0 = top
    for name, rows in panels:
        out += latency_panel(y0, latency_h, left, plot_w, x, (lo, hi), name, rows, spec)
        y0 += latency_h + gap
    if backlog:
        h = backlog_h
        peak = max(max(b for _, b in backlog), 1)
        top_value = nice_ceiling(peak)
        y = lambda v: y0 + h - h * v / top_value  # noqa: E731
        out += frame(left, y0, plot_w, h, x, spec)
        for v in (0, top_value / 2, top_value):
            out.append(line(left, y(v), left + plot_w, y(v), "#e6e6e6"))
            out.append(
                f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#444">{int(v)}</text>'
            )
        pts = " ".join(f"{x(t / 1000):.1f},{y(b):.1f}" for t, b in backlog if t / 1000 <= seconds)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#6a3d9a" stroke-width="2"/>')
        out.append(
            f'<text x="{left + 8}" y="{y0 + 16}" font-weight="bold">ours: payments accepted '
            "but not yet stored by a processor (backlog)</text>"
        )
        y0 += h + gap
    if cpu:
        h = backlog_h
        top_value = nice_ceiling(max(max(v) for v in cpu.values()) or 1)
        y = lambda v: y0 + h - h * v / top_value  # noqa: E731
        out += frame(left, y0, plot_w, h, x, spec)
        for v in (0, top_value / 2, top_value):
            out.append(line(left, y(v), left + plot_w, y(v), "#e6e6e6"))
            out.append(
                f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#444">{v:g} %</text>'
            )
        lx = left + plot_w - 230
        for i, (service, values) in enumerate(cpu.items()):
            pts = " ".join(f"{x(s + 0.5):.1f},{y(v):.1f}" for s, v in enumerate(values) if s <= 60)
            colour = CPU_COLOURS.get(service, "#666")
            out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
            out.append(line(lx + 75 * i, y0 + 12, lx + 75 * i + 18, y0 + 12, colour, 3))
            out.append(f'<text x="{lx + 75 * i + 22}" y="{y0 + 16}">{service}</text>')
        out.append(
            f'<text x="{left + 8}" y="{y0 + 16}" font-weight="bold">ours: CPU per service, % of one core</text>'
        )
        y0 += h + gap
    return svg_close(out, left, plot_w, y0 - gap, caption)


def svg_open(width, height, left, title, subtitle):
    """The picture's first elements: the canvas, the title and the line under it."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
        'font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="24" font-size="16" font-weight="bold">{esc(title)}</text>',
        f'<text x="{left}" y="42" fill="#555">{esc(subtitle)}</text>',
    ]


def svg_close(out, left, plot_w, bottom, caption):
    """The seconds axis' name under the last panel (which ends at `bottom`),
    the caption, and the picture's text."""
    out.append(
        f'<text x="{left + plot_w / 2}" y="{bottom + 30}" text-anchor="middle" fill="#444">'
        "seconds since the test started</text>"
    )
    for i, text in enumerate(caption):
        out.append(f'<text x="{left}" y="{bottom + 52 + 18 * i}">{esc(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


CPU_COLOURS = {"haproxy": "#1b9e77", "api1": "#7570b3", "api2": "#e7298a"}
LATENCY_COLOURS = {"p50": "#2b8cbe", "p90": "#f4a300", "p99": "#d7301f"}


def latency_range(panels):
    """(lo, hi) powers of ten around every percentile of every panel."""
    values = [v for _, rows in panels for r in rows for v in r[2:5] if v is not None]
    lo = 10 ** math.floor(math.log10(max(min(values, default=0.1), 0.01)))
    hi = 10 ** math.ceil(math.log10(max(values, default=1.0)))
    return lo, max(hi, lo * 100)


def latency_panel(y0, h, left, plot_w, x, bounds, name, rows, spec):
    """One panel of p50/p90/p99 per second, log scale between `bounds`;
    rows are (second, count, p50, p90, p99, ...)."""
    lo, hi = bounds
    y = lambda v: y0 + h - h * (math.log10(v) - math.log10(lo)) / (  # noqa: E731
        math.log10(hi) - math.log10(lo)
    )
    out = frame(left, y0, plot_w, h, x, spec)
    tick = lo
    while tick <= hi * 1.0001:
        for m in (1, 2, 5):
            v = tick * m
            if v > hi * 1.0001:
                break
            out.append(line(left, y(v), left + plot_w, y(v), "#e6e6e6" if m != 1 else "#c8c8c8"))
            out.append(
                f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#444">'
                f"{fmt_ms(v)}</text>"
            )
        tick *= 10
    for i, key in enumerate(("p50", "p90", "p99")):
        pts = [(x(r[0] + 0.5), y(max(r[2 + i], lo))) for r in rows if r[2 + i] is not None]
        if pts:
            d = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            out.append(
                f'<polyline points="{d}" fill="none" stroke="{LATENCY_COLOURS[key]}" stroke-width="2"/>'
            )
    out.append(f'<text x="{left + 8}" y="{y0 + 16}" font-weight="bold">{esc(name)}</text>')
    lx = left + plot_w - 170
    for i, key in enumerate(("p50", "p90", "p99")):
        out.append(line(lx + 55 * i, y0 + 12, lx + 55 * i + 18, y0 + 12, LATENCY_COLOURS[key], 3))
        out.append(f'<text x="{lx + 55 * i + 22}" y="{y0 + 16}">{key}</text>')
    out.append(
        f'<text x="{left - 52}" y="{y0 + h / 2}" transform="rotate(-90 {left - 52} {y0 + h / 2})" '
        'text-anchor="middle" fill="#444">ms</text>'
    )
    return out


def frame(left, top, w, h, x, spec):
    """The plot box, the outage shading, the stage markers and second ticks
    of `spec` (timeline_spec's)."""
    out = [
        f'<rect x="{x(a):.1f}" y="{top}" width="{x(b) - x(a):.1f}" height="{h}" fill="{colour}"/>'
        for a, b, colour in spec["shades"]
    ]
    for i, (second, label) in enumerate(spec["stages"]):
        out.append(line(x(second), top, x(second), top + h, "#888", 1, "4 3"))
        # Alternate two rows so that neighbouring labels do not overlap.
        y = top + h - 6 - 11 * (i % 2 if spec.get("stagger") else 0)
        out.append(f'<text x="{x(second) + 3:.1f}" y="{y}" font-size="10" fill="#666">{esc(label)}</text>')
    for second in range(0, int(spec["seconds"]), spec["tick"]):
        out.append(
            f'<text x="{x(second):.1f}" y="{top + h + 14}" text-anchor="middle" fill="#444">{second}</text>'
        )
    out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    return out


def line(x1, y1, x2, y2, colour, width=1, dash=None):
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="{colour}" stroke-width="{width}"{extra}/>'
    )


def nice_ceiling(v):
    magnitude = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 5, 10):
        if v <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def fmt_ms(v):
    return f"{v:g}" if v >= 0.01 else f"{v:.0e}"


def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- report


def load_json(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def add_stats(directory, mode, k6):
    """Memory, cgroup counters, load and CPU seconds from <mode>-stats.txt."""
    memory, cgroups, extra = read_stats(os.path.join(directory, f"{mode}-stats.txt"))
    k6["memory"] = memory
    k6["total_pss_mb"] = round(sum(m["pss_kb"] for m in memory.values()) / 1024, 1)
    k6["cgroups"] = cgroups
    k6["limits"] = extra["note"]
    k6["load_before"] = extra["load"]
    k6["cpu_seconds"] = extra["cpu"]


def measured_modes(directory, ours, floor, timeline):
    """(mode, k6 result, requests, test start) of ours and the floor (when
    it ran), the result given its stats and when each stage took effect."""
    for mode, k6 in (("ours", ours), ("floor", floor)):
        if k6 is None:
            continue
        add_stats(directory, mode, k6)
        requests = read_csv(os.path.join(directory, f"{mode}.csv"))
        t0 = test_start(requests, timeline)
        stages = stage_times(requests, len(timeline["stages"]))
        k6["stages_at_s"] = [round((t - t0) / 1000, 3) for t in stages] if stages else None
        yield mode, k6, requests, t0


def mode_label(directory, mode):
    """What a latency panel is of: our stack, the floor, or, for
    `run.sh --external`, the backend named in backend.txt."""
    if mode == "floor":
        return "floor (rinha api --floor)"
    path = os.path.join(directory, "backend.txt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    return "ours (rinha api)"


def cmd_report(directory, result_path):
    ours = load_json(os.path.join(directory, "ours.json"))
    if ours is None:
        sys.exit(f"{directory}/ours.json is missing: k6 did not finish")
    floor = load_json(os.path.join(directory, "floor.json"))
    backlog = load_json(os.path.join(directory, "ours-backlog.json"))
    timeline = load_timeline(directory)
    if ours.get("test") == "final":
        report_final(directory, result_path, ours, floor, timeline)
        return
    result = {"ours": ours, "floor": floor}
    panels = []
    for mode, k6, requests, t0 in measured_modes(directory, ours, floor, timeline):
        rows = per_second(requests, t0)
        k6["per_second"] = [
            {"second": s, "count": n, "p50": p50, "p90": p90, "p99": p99}
            for s, n, p50, p90, p99 in rows
        ]
        k6["cpu_percent_per_second"] = cpu_per_second(os.path.join(directory, f"{mode}-cpu.tsv"), t0)
        # One stall of the machine moves the whole-run p99 a lot on a shared
        # box; the median of the per-second p99s barely moves.
        p99s = sorted(r[4] for r in rows[1:61] if r[4] is not None)
        k6["p99_per_second_median_ms"] = percentile(p99s, 0.5)
        label = mode_label(directory, mode)
        panels.append((f"{label}: p99 {k6['p99_raw_ms']:.3f} ms", rows))
    if backlog:
        ours["backlog"] = {k: backlog[k] for k in ("peak_backlog", "drained_threshold", "drain_ms", "recovery_ms")}
    ratio = None
    if floor and floor.get("p99_raw_ms"):
        ratio = ours["p99_raw_ms"] / floor["p99_raw_ms"]
    result["p99_ratio_to_floor"] = ratio
    if floor and floor.get("p99_per_second_median_ms"):
        result["p99_per_second_median_ratio"] = (
            ours["p99_per_second_median_ms"] / floor["p99_per_second_median_ms"]
        )
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)

    share = ours.get("default_share")
    caption = [
        f"ours: score {ours['score']:,.2f} · p99 {ours['p99_raw_ms']:.3f} ms"
        + (f" · floor p99 {floor['p99_raw_ms']:.3f} ms · ratio {ratio:.2f}" if ratio else "")
        + f" · inconsistencies {ours['inconsistencies']} · lag {ours['lag']}",
        f"payments: default {ours['default']['requests']:,}"
        + (f" ({share * 100:.2f} %)" if share is not None else "")
        + f" · fallback {ours['fallback']['requests']:,}"
        + (f" ({(1 - share) * 100:.2f} %)" if share is not None else "")
        + f" · failed POSTs {ours['payments']['failure']}"
        + (
            f" · backlog peak {backlog['peak_backlog']:,}, drained {backlog['drain_ms'] / 1000:.1f} s after recovery"
            if backlog and backlog.get("drain_ms") is not None
            else ""
        ),
        f"MAX_REQUESTS {ours['max_requests']} · {ours['timestamp'][:19]}Z · shaded: default failing "
        "(orange), both failing (red)",
        f"limits: {ours.get('limits') or 'none (no cgroups)'} · {os.cpu_count()} CPUs, load average "
        f"before the run: ours {ours.get('load_before')}"
        + (f", floor {floor.get('load_before')}" if floor else ""),
    ]
    title = "rinha — Rinha de Backend 2025 test, local run"
    series = [(t, a - d - f) for t, a, d, f in backlog["points"]] if backlog else None
    with open(os.path.join(directory, "chart.svg"), "w", encoding="utf-8") as f:
        f.write(svg_chart(panels, series, ours.get("cpu_percent_per_second"), caption, title,
                          dict(timeline_spec(timeline), stagger=False)))
    print_table(ours, floor, ratio, result.get("p99_per_second_median_ratio"))


def print_table(ours, floor, ratio, median_ratio):
    rows = [
        ("score", lambda k: f"{k['score']:,.2f}"),
        ("profit", lambda k: pct(k["profit"])),
        ("p99 ms (score)", lambda k: f"{k['p99_raw_ms']:.3f}"),
        ("median 1-s p99 ms", lambda k: f"{k['p99_per_second_median_ms']:.3f}"),
        ("p99 ms payments", lambda k: f"{k['latency_ms']['payments']['p99']:.3f}"),
        ("p50 / p90 ms", lambda k: f"{k['latency_ms']['expected']['p50']:.3f} / {k['latency_ms']['expected']['p90']:.3f}"),
        ("POSTs ok / failed", lambda k: f"{k['payments']['success']:,} / {k['payments']['failure']}"),
        ("inconsistencies", lambda k: f"{k['inconsistencies']} ({k['inconsistencies_per_processor']} per proc.)"),
        ("lag", lambda k: str(k["lag"])),
        ("backend = processors", lambda k: str(k["backend_matches_processors"])),
        ("default / fallback", lambda k: f"{k['default']['requests']:,} / {k['fallback']['requests']:,}"),
        ("backlog drain s", lambda k: f"{k['backlog']['drain_ms'] / 1000:.1f}" if k.get("backlog") and k["backlog"]["drain_ms"] is not None else "-"),
        ("stack PSS MB", lambda k: f"{k['total_pss_mb']:.1f}" if k.get("memory") else "-"),
        ("load avg before", lambda k: str(k.get("load_before"))),
        ("CPU s hap/api1/api2", lambda k: "/".join(f"{k['cpu_seconds'][s]:.1f}" for s in ("haproxy", "api1", "api2"))),
        ("CPU s k6", lambda k: f"{k['cpu_seconds']['k6']:.1f}"),
    ]
    print()
    print(f"  {'':20}  {'ours':>22}  {'floor':>22}")
    for name, get in rows:
        values = []
        for k6 in (ours, floor):
            try:
                values.append("-" if k6 is None else get(k6))
            except (KeyError, TypeError):
                values.append("-")
        print(f"  {name:20}  {values[0]:>22}  {values[1]:>22}")
    if ratio is not None:
        print(f"  {'p99 ours / floor':20}  {ratio:>22.2f}")
    if median_ratio is not None:
        print(f"  {'median 1-s p99 ratio':20}  {median_ratio:>22.2f}")
    for k6 in (ours, floor):
        if k6 and k6.get("cgroups"):
            for service, stats in sorted(k6["cgroups"].items()):
                print(
                    f"  {k6['mode']:>5} {service:8} throttled {int(stats.get('nr_throttled', 0))}"
                    f"/{int(stats.get('nr_periods', 0))} periods, "
                    f"{stats.get('throttled_time', 0) / 1e6:.0f} ms; peak memory "
                    f"{stats.get('peak_bytes', 0) / 1048576:.1f} MiB"
                )
    print()


def main(argv):
    commands = {
        "backlog": cmd_backlog,
        "processors": cmd_processors,
        "report": cmd_report,
    }
    if len(argv) < 2 or argv[1] not in commands:
        sys.exit(__doc__)
    commands[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
