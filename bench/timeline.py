#!/usr/bin/env python3
"""Processor timelines for bench/rinha-final.js: the one parser of the
timeline files, their time scaling, and the best profit a backend could make
on each.

    timeline.py json FILE [--duration-scale X | --seconds N] [--vus N]
        # the scaled timeline as JSON (what run.sh hands to k6)
    timeline.py shell FILE ...same options...
        # `duration=.. vus=.. default_fee=.. fallback_fee=..` for run.sh
    timeline.py best FILE ...same options...
        # the best achievable profit, stage by stage

## The text format (bench/timelines/*.txt)

One stage per line, `#` starts a comment, blank lines are skipped:

    # at_s  default_delay_ms default_failing  fallback_delay_ms fallback_failing  [label]
    1       0    no   0   no   both ok
    30      1000 no   0   no   default 1 s

At `at_s` seconds after the load starts, both processors get that delay
(milliseconds) and failure flag (`yes`/`no`, `true`/`false` or `1`/`0`) and
keep them until the next stage. Optional settings, one per line, anywhere:

    duration 300          # seconds of load (the ramp's length); default 300
    vus 603               # VUs at the end of the ramp; default 603
    fees 0.07 0.10        # default and fallback fee; default the final's

## The JSON format (the same, for `--timeline FILE.json`)

    {"duration": 300, "vus": 603, "fees": [0.07, 0.10],
     "stages": [{"at": 1, "label": "both ok",
                 "default": {"delay": 0, "failing": false},
                 "fallback": {"delay": 0, "failing": false}}, ...]}

`--duration-scale X` multiplies every stage time and the duration by X
(delays are kept: a 2 s delay stays 2 s, since what it does to the
consistency check's 2 s margin is the point); `--seconds N` is the scale that
makes the duration N seconds. Standard library only.
"""

import json
import math
import sys

# The final's facts (docs/contest.md, "The final test").
FINAL_DURATION_S = 300
FINAL_VUS = 603
FINAL_FEES = (0.07, 0.10)
AMOUNT_CENTS = 2005
# The consistency check asks for [now - 15 s, now - 2 s]: a payment whose
# delay reaches the 2 s margin can be stored by the processor and not yet
# recorded by the backend when a check runs.
CHECK_MARGIN_MS = 2000
# What a backend needs between the processor storing a payment and its own
# record of it (the answer's trip, the ledger write), taken from the margin.
RECORD_ALLOWANCE_MS = 100
# 800 payments at work at once per processor (500 more only wait).
PROCESSOR_CONCURRENCY = 800
# Each VU posts, then sleeps 1 s: a VU makes one payment per ~1 s.
VU_ITERATION_S = 1.0

TRUE_WORDS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


class TimelineError(ValueError):
    """A timeline file that cannot be read as one."""


def parse_flag(word, where):
    try:
        return TRUE_WORDS[word.lower()]
    except KeyError:
        raise TimelineError(f"{where}: {word!r} is not yes/no/true/false/1/0") from None


def parse_text(text, name="timeline"):
    """The text format above, as the JSON format's dict."""
    timeline = {"duration": FINAL_DURATION_S, "vus": FINAL_VUS, "fees": list(FINAL_FEES), "stages": []}
    for number, raw in enumerate(text.splitlines(), 1):
        where = f"{name}:{number}"
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        try:
            if words[0] == "duration" and len(words) == 2:
                timeline["duration"] = float(words[1])
            elif words[0] == "vus" and len(words) == 2:
                timeline["vus"] = int(words[1])
            elif words[0] == "fees" and len(words) == 3:
                timeline["fees"] = [float(words[1]), float(words[2])]
            elif len(words) >= 5:
                timeline["stages"].append(
                    {
                        "at": float(words[0]),
                        "label": " ".join(words[5:]),
                        "default": {"delay": int(words[1]), "failing": parse_flag(words[2], where)},
                        "fallback": {"delay": int(words[3]), "failing": parse_flag(words[4], where)},
                    }
                )
            else:
                raise TimelineError(f"{where}: expected `at_s ddelay dfail fdelay ffail [label]`: {raw!r}")
        except ValueError as error:
            if isinstance(error, TimelineError):
                raise
            raise TimelineError(f"{where}: {error}: {raw!r}") from None
    return timeline


def validate(timeline, name="timeline"):
    """Checks ranges and order; fills labels; returns the timeline."""
    stages = timeline.get("stages") or []
    if not stages:
        raise TimelineError(f"{name}: no stages")
    if not timeline["duration"] > 0 or not timeline["vus"] >= 1:
        raise TimelineError(f"{name}: duration must be > 0 and vus >= 1")
    previous = -1.0
    for i, stage in enumerate(stages):
        if not previous < stage["at"] < timeline["duration"]:
            raise TimelineError(f"{name}: stage {i + 1} at {stage['at']} s is out of order or past the end")
        previous = stage["at"]
        for processor in ("default", "fallback"):
            delay = stage[processor]["delay"]
            if not isinstance(delay, int) or not 0 <= delay <= 60_000:
                raise TimelineError(f"{name}: stage {i + 1}: {processor} delay {delay!r} not in 0..60000 ms")
            if not isinstance(stage[processor]["failing"], bool):
                raise TimelineError(f"{name}: stage {i + 1}: {processor} failing must be true or false")
        if not stage.get("label"):
            stage["label"] = describe(stage)
    if not all(0 <= fee < 1 for fee in timeline["fees"]):
        raise TimelineError(f"{name}: fees must be in [0, 1)")
    return timeline


def describe(stage):
    """A short label such as `d 1000 ms · f failing`."""
    parts = []
    for processor in ("default", "fallback"):
        p = stage[processor]
        parts.append(f"{processor[0]} {'failing' if p['failing'] else str(p['delay']) + ' ms'}")
    return " · ".join(parts)


def load(path):
    """A timeline file, text or JSON (by its first character)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("{"):
        try:
            timeline = json.loads(text)
        except json.JSONDecodeError as error:
            raise TimelineError(f"{path}: {error}") from None
        timeline.setdefault("duration", FINAL_DURATION_S)
        timeline.setdefault("vus", FINAL_VUS)
        timeline.setdefault("fees", list(FINAL_FEES))
    else:
        timeline = parse_text(text, path)
    try:
        return validate(timeline, path)
    except (KeyError, TypeError, AttributeError) as error:
        raise TimelineError(f"{path}: a stage or setting is missing or of the wrong type: {error!r}") from None


def scaled(timeline, scale):
    """Stage times and duration times `scale`; delays untouched."""
    result = dict(timeline, duration=round(timeline["duration"] * scale, 3))
    result["stages"] = [dict(s, at=round(s["at"] * scale, 3)) for s in timeline["stages"]]
    result["scale"] = scale
    return result


def stage_at(timeline, t):
    """The stage in force at second t (before the first: both ok, 0 ms)."""
    current = {"default": {"delay": 0, "failing": False}, "fallback": {"delay": 0, "failing": False}}
    for stage in timeline["stages"]:
        if stage["at"] <= t:
            current = stage
    return current


# ---------------------------------------------------------------- best profit


def arrivals_per_second(timeline):
    """Payments arriving in each second: VUs ramp linearly from 1 to `vus`
    over the duration, and each VU makes one payment per ~1 s."""
    duration, vus = timeline["duration"], timeline["vus"]
    seconds = math.ceil(duration)
    rows = []
    for s in range(seconds):
        middle = min(s + 0.5, duration)
        rows.append((1 + (vus - 1) * middle / duration) / VU_ITERATION_S)
    return rows


def usable_capacity(processor, second, duration):
    """Payments per second this processor can store *within the margin* in
    this second, and have stored before the end: 0 if failing, if its delay
    plus our recording allowance reaches the check's 2 s margin, or if a
    payment sent now would be stored after the load ends; else 800 / delay
    (unbounded at 0 ms: then our own speed is the limit)."""
    delay = processor["delay"]
    if processor["failing"] or delay + RECORD_ALLOWANCE_MS >= CHECK_MARGIN_MS:
        return 0.0
    if second + 1 + delay / 1000 > duration:
        return 0.0
    return math.inf if delay == 0 else PROCESSOR_CONCURRENCY * 1000 / delay


def best(timeline):
    """The most profit any backend could make on this timeline, and how.

    Per second: arrivals a(s); the default's and the fallback's usable
    capacity c_d(s), c_f(s) (above). Payments may wait in the backend for
    free, so the cheapest plan is: send to the default whatever it can take
    now; of the rest, hold as many as the default will have room for later
    (its spare capacity after every later arrival, summed backwards:
    spare(s) = max(0, spare(s+1) + c_d(s) - a(s))); send the others to the
    fallback if it can take them; what is still waiting at the end is lost.
    """
    fee_default, fee_fallback = timeline["fees"]
    duration = timeline["duration"]
    arrivals = arrivals_per_second(timeline)
    seconds = len(arrivals)
    cap_default = [usable_capacity(stage_at(timeline, s)["default"], s, duration) for s in range(seconds)]
    cap_fallback = [usable_capacity(stage_at(timeline, s)["fallback"], s, duration) for s in range(seconds)]
    spare = [0.0] * (seconds + 1)
    for s in range(seconds - 1, -1, -1):
        spare[s] = max(0.0, spare[s + 1] + cap_default[s] - arrivals[s])
    waiting = 0.0
    per_second = []
    for s in range(seconds):
        waiting += arrivals[s]
        to_default = min(waiting, cap_default[s])
        waiting -= to_default
        keep = min(waiting, spare[s + 1])
        to_fallback = min(waiting - keep, cap_fallback[s])
        waiting -= to_fallback
        per_second.append((arrivals[s], to_default, to_fallback, waiting))
    total = sum(arrivals)
    stored_default = sum(r[1] for r in per_second)
    stored_fallback = sum(r[2] for r in per_second)
    lost = waiting
    profit = (stored_default * (1 - fee_default) + stored_fallback * (1 - fee_fallback)) / total
    return {
        "payments": total,
        "default": stored_default,
        "fallback": stored_fallback,
        "lost": lost,
        "profit": profit,
        "profit_all_default": 1 - fee_default,
        "stages": per_stage(timeline, per_second, cap_default, cap_fallback),
    }


def per_stage(timeline, per_second, cap_default, cap_fallback):
    """best()'s seconds summed per stage (from 0 s to the first stage too)."""
    bounds = [0.0] + [s["at"] for s in timeline["stages"]] + [timeline["duration"]]
    rows = []
    for i in range(len(bounds) - 1):
        start, end = bounds[i], bounds[i + 1]
        seconds = [s for s in range(len(per_second)) if start <= s + 0.5 < end]
        if not seconds:
            continue
        stage = stage_at(timeline, start)
        rows.append(
            {
                "from": start,
                "to": end,
                "label": stage.get("label", "before the first stage"),
                "default": dict(stage["default"], capacity=cap_default[seconds[0]]),
                "fallback": dict(stage["fallback"], capacity=cap_fallback[seconds[0]]),
                "arrivals": sum(per_second[s][0] for s in seconds),
                "to_default": sum(per_second[s][1] for s in seconds),
                "to_fallback": sum(per_second[s][2] for s in seconds),
                "waiting_at_end": per_second[seconds[-1]][3],
            }
        )
    return rows


def capacity_text(processor):
    if processor["failing"]:
        return "failing"
    if processor["capacity"] == 0:
        return f"{processor['delay']} ms: past margin"
    if math.isinf(processor["capacity"]):
        return f"{processor['delay']} ms: ∞/s"
    return f"{processor['delay']} ms: {processor['capacity']:.0f}/s"


def print_best(timeline, result):
    fee_default, fee_fallback = timeline["fees"]
    print(
        f"best plan: {timeline['vus']} VUs over {timeline['duration']:g} s, fees "
        f"{fee_default:g} / {fee_fallback:g}; a processor is usable while not failing and "
        f"delay + {RECORD_ALLOWANCE_MS} ms < the check's {CHECK_MARGIN_MS} ms margin, at "
        f"{PROCESSOR_CONCURRENCY} / delay payments per second"
    )
    header = f"  {'seconds':>13}  {'default':>20}  {'fallback':>20}  {'arrive':>7}  {'→ def':>7}  {'→ fb':>7}  {'waiting':>7}"
    print(header)
    for row in result["stages"]:
        print(
            f"  {row['from']:>6g}–{row['to']:<6g}  {capacity_text(row['default']):>20}  "
            f"{capacity_text(row['fallback']):>20}  {row['arrivals']:>7.0f}  {row['to_default']:>7.0f}  "
            f"{row['to_fallback']:>7.0f}  {row['waiting_at_end']:>7.0f}"
        )
    print(
        f"  payments {result['payments']:.0f}: default {result['default']:.0f}, fallback "
        f"{result['fallback']:.0f}, lost {result['lost']:.0f}"
    )
    print(
        f"  best profit (gross − fees) / amount = {100 * result['profit']:.2f} % "
        f"(all at the default: {100 * result['profit_all_default']:.2f} %)"
    )


# ---------------------------------------------------------------- command line


def parse_args(argv):
    """FILE [--duration-scale X | --seconds N] [--vus N] → (timeline, scale)."""
    if not argv:
        sys.exit(__doc__)
    path, rest = argv[0], argv[1:]
    scale, seconds, vus = None, None, None
    while rest:
        if rest[0] == "--duration-scale" and len(rest) > 1:
            scale = float(rest[1])
        elif rest[0] == "--seconds" and len(rest) > 1:
            seconds = float(rest[1])
        elif rest[0] == "--vus" and len(rest) > 1:
            vus = int(rest[1])
        else:
            sys.exit(f"timeline.py: unknown argument {rest[0]!r}")
        rest = rest[2:]
    try:
        timeline = load(path)
    except (OSError, TimelineError) as error:
        sys.exit(f"timeline.py: {error}")
    if vus is not None:
        timeline["vus"] = vus
    if seconds is not None:
        scale = seconds / timeline["duration"]
    if scale is not None and not scale > 0:
        sys.exit("timeline.py: the scale must be > 0")
    return scaled(timeline, scale or 1.0)


def main(argv):
    if len(argv) < 3 or argv[1] not in ("json", "shell", "best"):
        sys.exit(__doc__)
    timeline = parse_args(argv[2:])
    if argv[1] == "json":
        print(json.dumps(timeline))
    elif argv[1] == "shell":
        fee_default, fee_fallback = timeline["fees"]
        print(
            f"duration={timeline['duration']:g} vus={timeline['vus']} "
            f"default_fee={fee_default:g} fallback_fee={fee_fallback:g}"
        )
    else:
        result = best(timeline)
        print_best(timeline, result)


if __name__ == "__main__":
    main(sys.argv)
