"""Summaries of the runs behind docs/results/decisions/README.md.

Usage: python3 summarize.py nas FILE...      mean regret, measurements, reuse, ties per file
       python3 summarize.py paired A B       per run: where A and B differ (same targets, trials)
       python3 summarize.py cv FILE...       mean regret by the final cross-validated Spearman
       python3 summarize.py cv-error FILE... the same with the final predictor's error on the final set
       python3 summarize.py adapt FILE...    mean held-out Spearman (and the worst trial)
"""
import json
import sys


def runs(path):
    return json.load(open(path))["targets"]


def nas(files):
    print("| file | runs | mean regret | mean measurements | hv_ratio | reuse | ties | refitted |")
    print("|---|---|---|---|---|---|---|---|")
    for f in files:
        d = json.load(open(f))
        r = d["targets"]
        reuse = sum(x["action"] == "reuse" for x in r)
        ties = sum("proxy_tie" in x for x in r)
        refit = sum(x.get("refitted", False) for x in r)
        print(f"| {f} | {len(r)} | {d['mean_regret']:.4f} | {d['mean_measurements']:.2f} | "
              f"{d['mean_hv_ratio']:.4f} | {reuse} | {ties} | {refit} |")


def paired(a, b):
    ra, rb = runs(a), runs(b)
    diff = [(x, y) for x, y in zip(ra, rb) if (x["proxy"], x["regret"], x["measurements"]) != (y["proxy"], y["regret"], y["measurements"])]
    print(f"{len(diff)} of {len(ra)} runs differ")
    for x, y in diff:
        print(f"  {x['target']} trial {x['trial']} {x['action']}: {x['proxy']} regret {x['regret']:.3f} "
              f"({x['measurements']} meas.) -> {y['proxy']} regret {y['regret']:.3f} ({y['measurements']} meas.)")
    if diff:
        print(f"  mean regret change over them: {sum(y['regret'] - x['regret'] for x, y in diff) / len(diff):+.4f}")


def cv(files):
    rows = [x for f in files for x in runs(f) if x.get("cv_spearman") is not None]
    edges = [-1.0, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.01]
    print("| final cv Spearman | runs | mean regret | max regret |")
    print("|---|---|---|---|")
    for lo, hi in zip(edges, edges[1:]):
        g = [x["regret"] for x in rows if lo <= x["cv_spearman"] < hi]
        if g:
            print(f"| [{lo}, {min(hi, 1.0)}) | {len(g)} | {sum(g) / len(g):.3f} | {max(g):.3f} |")


def adapt(files):
    print("| file | mean after | worst trial | trials below 0.5 |")
    print("|---|---|---|---|")
    for f in files:
        d = json.load(open(f))
        trials = [t["spearman"] for x in d["targets"] for t in x["trials"]]
        print(f"| {f} | {d['mean_after']:.4f} | {min(trials):.3f} | {sum(t < 0.5 for t in trials)} |")




def front_error(run):
    """Mean |ln(predicted / measured)| over the final set (None without predictions)."""
    import math
    e = [abs(math.log(c["predicted_latency"] / c["latency"])) for c in run["chosen"] if c.get("predicted_latency")]
    return sum(e) / len(e) if e else None


def cv_error(files):
    """By final cross-validated Spearman: the mean regret and how far the final predictor was
    off on the final set (mean |ln(predicted / measured)|)."""
    rows = [x for f in files for x in runs(f) if x.get("cv_spearman") is not None]
    edges = [-1.0, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.01]
    print("| final cv Spearman | runs | mean regret | mean abs log error on the final set |")
    print("|---|---|---|---|")
    for lo, hi in zip(edges, edges[1:]):
        g = [x for x in rows if lo <= x["cv_spearman"] < hi]
        errs = [e for e in map(front_error, g) if e is not None]
        if g:
            print(f"| [{lo}, {min(hi, 1.0)}) | {len(g)} | {sum(x['regret'] for x in g) / len(g):.3f} | "
                  f"{sum(errs) / max(len(errs), 1):.3f} |")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"nas": nas, "cv": cv, "cv-error": cv_error, "adapt": adapt}.get(cmd, lambda a: paired(*a))(args)
