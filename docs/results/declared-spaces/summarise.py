#!/usr/bin/env python3
"""Mean Spearman of `oneproxy evaluate adapt --json` files: per trial the mean over targets, then
mean ± std over trials; and per target the mean over trials.

    python summarise.py FILE.json...
"""
import json
import statistics
import sys

for path in sys.argv[1:]:
    with open(path) as f:
        d = json.load(f)
    targets = d["targets"]
    trials = len(targets[0]["trials"])
    per_trial = [statistics.mean(t["trials"][i]["spearman"] for t in targets) for i in range(trials)]
    per_target = " ".join(f"{t['target']}:{statistics.mean(x['spearman'] for x in t['trials']):.3f}" for t in targets)
    print(f"{path}: {statistics.mean(per_trial):.3f} ± {statistics.pstdev(per_trial):.3f}  {per_target}")
