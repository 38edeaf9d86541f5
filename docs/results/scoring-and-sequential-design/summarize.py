#!/usr/bin/env python3
"""Summarise `oneproxy evaluate nas --json` outputs into one small JSON file.

Usage: python3 summarize.py OUT.json NAME=FILE.json [NAME=FILE.json ...]

Keeps, per run, the headline numbers the docs quote (exactly as the tool printed them) and a
mean per target over the trials. Drops the per-trial fronts and measurements.
"""
import json
import statistics
import sys


def summarize(path):
    d = json.load(open(path))
    rows = d["targets"]
    per_target = {}
    for name in dict.fromkeys(r["target"] for r in rows):
        rs = [r for r in rows if r["target"] == name]
        per_target[name] = {k: statistics.mean(r[k] for r in rs) for k in ("regret", "measurements", "pareto_recall")}
        per_target[name]["reuse"] = sum(r["action"] == "reuse" for r in rs)
    trials = sorted({r["trial"] for r in rows})
    return {
        "manifest": d["manifest"],
        "space": d["space"],
        "accuracy": d["accuracy"],
        "sample_set": d["sample_set"],
        "trials": d["trials"],
        "proxies": sorted({r["proxy"] for r in rows}),
        "targets": len(per_target),
        "method": d["method"],
        "baselines": d["baselines"],
        "mean_regret": d["mean_regret"],
        "mean_random_regret": d["mean_random_regret"],
        "mean_pareto_recall": d["mean_pareto_recall"],
        "mean_hv_ratio": d["mean_hv_ratio"],
        "mean_measurements": d["mean_measurements"],
        "mean_regret_per_trial": {t: statistics.mean(r["regret"] for r in rows if r["trial"] == t) for t in trials},
        "per_target": per_target,
    }


out, runs = sys.argv[1], sys.argv[2:]
summary = {name: summarize(path) for name, path in (r.split("=", 1) for r in runs)}
# One line per run and one per target: small, and diffs stay readable.
lines = []
for name, run in summary.items():
    targets = run.pop("per_target")
    rows = [f"   {json.dumps(t)}: {json.dumps(v)}" for t, v in targets.items()]
    lines.append(f' {json.dumps(name)}: {{\n  "run": {json.dumps(run)},\n  "per_target": {{\n' + ",\n".join(rows) + "\n  }\n }")
with open(out, "w") as f:
    f.write("{\n" + ",\n".join(lines) + "\n}\n")
