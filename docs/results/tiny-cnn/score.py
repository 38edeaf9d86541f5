#!/usr/bin/env python3
"""Score a `oneproxy nas --json` result against an exhaustive measurement of its candidates.

    python score.py NAS_JSON TRUTH_CSV TRUTH_COLUMN ACCURACY_CSV

The regret is oneproxy's (crates/oneproxy/src/workflow/score.rs): at each of 50 latency budgets,
the 2%, 4%, ..., 100% quantiles of the true latencies, the best true accuracy that fits minus
the best accuracy of the flow's final set that fits (the lowest accuracy if nothing does),
averaged over the budgets, in accuracy points. The final set's latencies are taken from the
truth too (the exhaustive measurement), not from the flow's own measurements, so that both sides
of the comparison come from one measurement of each architecture; the regret with the flow's
own latencies is printed beside it. Also printed: the mean regret of as many random picks as the
flow measured (1000 draws), the baseline at the same cost.
"""
import csv
import json
import random
import sys

BUDGETS = 50


def read(path, column):
    with open(path, newline="") as f:
        return {r["arch"]: float(r[column]) for r in csv.DictReader(f) if r.get(column) not in (None, "", "failed")}


def budgets(latencies):
    s = sorted(latencies)
    n = len(s)
    return [s[min(max(-(-k * n // BUDGETS), 1), n) - 1] for k in range(1, BUDGETS + 1)]


def best_within(points, limits, floor):
    return [max([a for lat, a in points if lat <= b], default=floor) for b in limits]


def regret(points, truth, acc):
    limits = budgets(list(truth.values()))
    floor = min(acc[a] for a in truth)
    best = best_within([(truth[a], acc[a]) for a in truth], limits, floor)
    found = best_within(points, limits, floor)
    gaps = [max(b - f, 0.0) for b, f in zip(best, found)]
    return sum(gaps) / len(gaps), max(gaps)


def main(nas_json, truth_csv, column, accuracy_csv):
    doc = json.load(open(nas_json))
    outcome = doc.get("outcome", doc)  # the outcome's fields are at the top of `nas --json`
    truth = read(truth_csv, column)
    acc = {a: v for a, v in read(accuracy_csv, "accuracy").items() if a in truth}
    chosen = outcome["chosen"]
    missing = [c["arch"] for c in chosen if c["arch"] not in truth]
    if missing:
        sys.exit(f"{len(missing)} chosen architectures are not in {truth_csv}: {missing[:3]}")
    r_truth = regret([(truth[c["arch"]], acc[c["arch"]]) for c in chosen], truth, acc)
    r_own = regret([(c["latency"], acc[c["arch"]]) for c in chosen], truth, acc)
    measured = outcome.get("measurements") or outcome.get("measured") or len(chosen)
    if isinstance(measured, list):
        measured = len(measured)
    rng = random.Random(0)
    archs = sorted(truth)
    draws = [regret([(truth[a], acc[a]) for a in rng.sample(archs, min(measured, len(archs)))], truth, acc)[0]
             for _ in range(1000)]
    print(json.dumps({
        "candidates": len(truth),
        "measured_by_the_flow": measured,
        "final_set": len(chosen),
        "regret": round(r_truth[0], 4),
        "regret_max": round(r_truth[1], 4),
        "regret_with_the_flows_own_latencies": round(r_own[0], 4),
        "random_regret_same_count": round(sum(draws) / len(draws), 4),
    }, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
