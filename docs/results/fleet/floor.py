#!/usr/bin/env python3
"""The fewest architectures that could bring a device's mean regret (over the 50 latency budgets
oneproxy scores) to 0.10, 0.05 and 0 points if its true front were known: greedily add the
architecture that lowers the mean regret most. Reads the bundled NB201 tables (CIFAR-100).

    python3 docs/results/fleet/floor.py
"""
import csv
import gzip
import math
import pathlib
import statistics

DATA = pathlib.Path(__file__).resolve().parents[3] / "crates" / "oneproxy" / "data" / "nasbench201"
BUDGETS = 50
LEVELS = (0.10, 0.05, 0.0)


def main() -> None:
    with gzip.open(DATA / "latency.csv.gz", "rt") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    with gzip.open(DATA / "archs.csv.gz", "rt") as f:
        accuracy = [float(r["cifar100_test_acc"]) for r in csv.DictReader(f)]
    n = len(rows)
    found = {level: [] for level in LEVELS}
    for column, device in enumerate(header[1:], start=1):
        latency = [float(r[column]) for r in rows]
        ordered = sorted(latency)
        budgets = [ordered[min(max(math.ceil(k * n / BUDGETS), 1), n) - 1] for k in range(1, BUDGETS + 1)]
        best = [max(accuracy[i] for i in range(n) if latency[i] <= b) for b in budgets]
        # Only the true front can lower a regret.
        front, top = [], -1.0
        for i in sorted(range(n), key=lambda i: (latency[i], -accuracy[i])):
            if accuracy[i] > top:
                front.append(i)
                top = accuracy[i]
        got = [min(accuracy)] * BUDGETS
        regret = lambda g: sum(b - x for b, x in zip(best, g)) / BUDGETS
        picks, need = 0, {}
        while True:
            for level in LEVELS:
                if level not in need and regret(got) <= level + 1e-12:
                    need[level] = picks
            if len(need) == len(LEVELS):
                break
            got = min(
                ([max(g, accuracy[i]) if latency[i] <= b else g for g, b in zip(got, budgets)] for i in front),
                key=regret,
            )
            picks += 1
        for level in LEVELS:
            found[level].append(need[level])
        print(f"{device:16s} front {len(front):3d}  " + "  ".join(f"<= {l:.2f}: {need[l]:2d}" for l in LEVELS))
    print("mean  " + "  ".join(f"<= {l:.2f}: {statistics.mean(found[l]):.1f}" for l in LEVELS))


if __name__ == "__main__":
    main()
