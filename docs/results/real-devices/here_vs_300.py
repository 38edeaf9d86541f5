#!/usr/bin/env python3
"""The `nas` run on this machine (nas-report.json, 50 measurements) against 300 random NB201
architectures measured on the same machine (here300.csv).

At each of the 50 budgets (the 2%, 4%, ..., 100% quantiles of the 300 latencies, as oneproxy
computes them) it takes the best CIFAR-100 accuracy of the 300 within the budget minus the best
of the flow's measured front within it. Negative: the flow found better. Prints the mean, the
largest and the smallest of these differences, and how many of the 300's front members are on
the flow's front. Run from the repository root:

    python3 docs/results/real-devices/here_vs_300.py
"""
import bisect
import csv
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
BUDGETS = 50

with gzip.open(os.path.join(ROOT, "crates/oneproxy/data/nasbench201/archs.csv.gz"), "rt") as f:
    accuracy = {r["arch"]: float(r["cifar100_test_acc"]) for r in csv.DictReader(f)}
with open(os.path.join(HERE, "here300.csv"), newline="") as f:
    random300 = [(float(r["here"]), accuracy[r["arch"]], r["arch"]) for r in csv.DictReader(f)]
with open(os.path.join(HERE, "nas-report.json")) as f:
    flow = json.load(f)["chosen"]

# The k/B quantile is the smallest value with at least that fraction at or below it.
lat = sorted(l for l, _, _ in random300)
n = len(lat)
budgets = [lat[min(max(-(-k * n // BUDGETS), 1), n) - 1] for k in range(1, BUDGETS + 1)]
floor = min(a for _, a, _ in random300)


def best_within(points):
    best = [floor] * BUDGETS
    for latency, acc in points:
        for j in range(bisect.bisect_left(budgets, latency), BUDGETS):
            best[j] = max(best[j], acc)
    return best


diff = [a - b for a, b in zip(best_within((l, a) for l, a, _ in random300),
                              best_within((c["latency"], c["accuracy"]) for c in flow))]
front, top = [], float("-inf")
for _, acc, arch in sorted(random300):
    if acc > top:
        front.append(arch)
        top = acc
shared = len(set(front) & {c["arch"] for c in flow})
print(f"regret of the flow against the 300: mean {sum(diff) / BUDGETS:.2f}, max {max(diff):.2f}, min {min(diff):.2f} points")
print(f"{shared} of the 300's {len(front)} front members are on the flow's front of {len(flow)}")
