#!/usr/bin/env python3
"""Summarise the `oneproxy evaluate adapt --json` outputs of run.sh into one small JSON file.

Usage: python3 summarize.py OUT.json DIR [DIR ...]   (each DIR holds run.sh's *.json outputs)

Keeps, per run, the numbers the docs quote, exactly as the tool wrote them: the mean Spearman
before adaptation (the chosen proxy's own predictor) and after, the mean over the targets per
seed and its spread (sample standard deviation over the seeds), each target's Spearman, and, for
runs of at most 6 targets whose output reports weights, the weight each form holds in the
averaged predictor (mean over the seeds, to 4 decimals). Drops the members' lists.
"""
import collections
import json
import os
import statistics
import sys


def summarize(path):
    d = json.load(open(path))
    targets = d["targets"]
    seeds = len(targets[0]["trials"])
    per_seed = [statistics.mean(t["trials"][i]["spearman"] for t in targets) for i in range(seeds)]
    per_target = {}
    for t in targets:
        weight = collections.Counter()
        for trial in t["trials"]:
            for m in trial["members"]:
                weight[m["form"]] += m.get("weight", 0.0) / len(t["trials"])
        per_target[t["target"]] = {
            "spearman_before": t["spearman_before"],
            "spearman_after": t["spearman_after"],
            "scored_on": t["scored_on"],
        }
        if len(targets) <= 6 and any("weight" in m for trial in t["trials"] for m in trial["members"]):
            per_target[t["target"]]["weight_by_form"] = {k: round(v, 4) for k, v in weight.most_common()}
    return {
        "manifest": d["manifest"],
        "space": d["space"],
        "sample_set": d["sample_set"],
        "samples": d["samples"],
        "seeds": seeds,
        "mean_before": d["mean_before"],
        "mean_after": d["mean_after"],
        "mean_after_per_seed": per_seed,
        "spread_over_seeds": statistics.stdev(per_seed) if seeds > 1 else 0.0,
        "per_target": per_target,
    }


out, dirs = sys.argv[1], sys.argv[2:]
lines = []
for folder in dirs:
    label = os.path.basename(os.path.normpath(folder))
    for name in sorted(f for f in os.listdir(folder) if f.endswith(".json")):
        run = summarize(os.path.join(folder, name))
        targets = run.pop("per_target")
        rows = [f"   {json.dumps(t)}: {json.dumps(v)}" for t, v in targets.items()]
        key = json.dumps(f"{label}/{name[:-5]}")
        lines.append(f" {key}: {{\n  \"run\": {json.dumps(run)},\n  \"per_target\": {{\n" + ",\n".join(rows) + "\n  }\n }")
with open(out, "w") as f:
    f.write("{\n" + ",\n".join(lines) + "\n}\n")
