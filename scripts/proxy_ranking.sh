#!/usr/bin/env bash
# Rank every bundled NB201 device measured on hardware (and `auto`, the per-target
# pool) as the default proxy of `oneproxy run`, by the mean regret the default flow reaches on
# all the other full-table devices (CIFAR-100, run's defaults: 3 random first samples; 3 trials,
# seeds 0 to 2: one seed let a proxy 0.04 points worse over 5 seeds rank first).
# Writes crates/oneproxy/data/nasbench201/proxy_ranking.json, which `run` reads at start-up.
# Usage: scripts/proxy_ranking.sh [path/to/oneproxy]   (about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/oneproxy}"
out=crates/oneproxy/data/nasbench201/proxy_ranking.json
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
full=$("$bin" devices --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(x["name"] for x in d["devices"] if x["archs_measured"] == d["architectures"] and not x["source"].startswith("computed")))')
for p in auto $full; do
    case "$p" in fpga|eyeriss) continue ;; esac  # simulated: never the default proxy
    targets=$(echo $full | tr ' ' '\n' | grep -vx "$p" | paste -sd,)
    echo "proxy $p" >&2
    "$bin" evaluate nas --targets "$targets" --proxy "$p" --accuracy cifar100 --samples 3 --seed 0 --trials 3 --no-baselines --json > "$tmp/$p.json"
done
python3 - "$tmp" "$out" <<'PY'
import json, os, sys
tmp, out = sys.argv[1], sys.argv[2]
rows = []
for f in sorted(os.listdir(tmp)):
    d = json.load(open(os.path.join(tmp, f)))
    rows.append({"proxy": f[:-5], "mean_regret": round(d["mean_regret"], 6),
                 "mean_measurements": round(d["mean_measurements"], 3),
                 "targets": len({t["target"] for t in d["targets"]})})
rows.sort(key=lambda r: (r["mean_regret"], r["proxy"]))
doc = {"space": "nb201", "accuracy": "cifar100", "samples": "3 random", "seeds": [0, 1, 2],
       "command": "scripts/proxy_ranking.sh", "ranking": rows}
tmp_out = out + ".tmp"
with open(tmp_out, "w") as fh:
    json.dump(doc, fh, indent=1)
    fh.write("\n")
os.replace(tmp_out, out)
PY
echo "wrote $out" >&2
