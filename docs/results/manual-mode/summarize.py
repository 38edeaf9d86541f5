"""Summarise `oneproxy evaluate nas --json` outputs for docs/results/manual-mode.

    python3 summarize.py summary.json KEY=FILE.json[:ROUND] ...

ROUND is the design's round size (sequential): the requests a person gets are then counted as
1 (the samples) + ceil(candidates / ROUND) per target; without it, the design asks once.
Per key: mean regret and measurements over the trials (each trial the mean over targets, then
mean and sample std over trials), the requests, the random baseline as evaluate nas wrote it,
the mean Pareto recall, and the mean regret per target.
"""
import json
import math
import statistics as st
import sys


def summarise(path, round_size):
    d = json.load(open(path))
    rows = d["targets"]
    trials = sorted({t["trial"] for t in rows})

    def per_trial(f):
        return [st.mean(f(t) for t in rows if t["trial"] == k) for k in trials]

    def mean_sd(xs):
        return {"mean": st.mean(xs), "std": st.stdev(xs) if len(xs) > 1 else 0.0}

    requests = per_trial(lambda t: 1 + math.ceil(t["candidates_measured"] / round_size)) if round_size else [1.0]
    targets = sorted({t["target"] for t in rows})
    return {
        "space": d["space"],
        "trials": len(trials),
        "targets": len(targets),
        "regret": mean_sd(per_trial(lambda t: t["regret"])),
        "measurements": mean_sd(per_trial(lambda t: t["measurements"])),
        "requests": mean_sd(requests),
        "random_regret": d["baselines"].get("random", {}).get("regret"),
        "pareto_recall": d["mean_pareto_recall"],
        "regret_per_target": {g: st.mean(t["regret"] for t in rows if t["target"] == g) for g in targets},
    }


out = {}
for arg in sys.argv[2:]:
    key, _, rest = arg.partition("=")
    path, _, r = rest.partition(":")
    out[key] = summarise(path, int(r) if r else None)
    s = out[key]
    print(f"{key}: regret {s['regret']['mean']:.3f} ± {s['regret']['std']:.3f}, "
          f"{s['measurements']['mean']:.1f} measurements, {s['requests']['mean']:.1f} requests")
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
