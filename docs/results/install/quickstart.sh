#!/usr/bin/env bash
# Runs the README's quickstart as written, with a stand-in device, in a temporary folder.
# Usage: quickstart.sh PYTHON   (PYTHON: an interpreter with oneproxy and onnxruntime installed;
#        `oneproxy` must be on PATH). Prints the wall time of each step.
set -euo pipefail
py="$1"
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
work="$(mktemp -d)"
cd "$work"
t() { local s; s=$(date +%s.%N); "$@"; echo "TIME $(echo "$(date +%s.%N) - $s" | bc) s: $*" >&2; }

# The main job.
t oneproxy run > run.txt
tail -n 2 run.txt

# (a) A program that times a model: ONNX Runtime on this machine stands in for the board.
mkdir a b c && cd a
cp "$repo/scripts/ort_latency.py" my_timer.py
t oneproxy nas --target myboard --runner-cmd "$py my_timer.py {model}" --out report-a/ > a.txt
grep -E "^(target|front|measurements)" a.txt | head -n 3 || tail -n 3 a.txt

# (b) A Python function: the bundled pixel3 table stands in for the board.
cd ../b
cat > b.py <<'PY'
import oneproxy
t = oneproxy.latency_table("nb201", devices=["pixel3"], as_frame=False)
table = dict(zip(t.rows, t["pixel3"]))
def my_timer(archs):
    return [float(table[a]) for a in archs]
run = oneproxy.nas("nb201", "cifar100", target=my_timer, target_name="myboard",
                   measurements_path="myboard-b.csv")
print(run.action, run.proxy, len(run.front))
PY
t "$py" b.py

# (c) By hand: a person fills the requested rows (from the pixel3 table) and reruns.
cd ../c
cat > fill.py <<'PY'
import csv, sys, oneproxy
t = oneproxy.latency_table("nb201", devices=["pixel3"], as_frame=False)
table = dict(zip(t.rows, t["pixel3"]))
rows = list(csv.reader(open(sys.argv[1])))
out = [rows[0]] + [[r[0], r[1] if len(r) > 1 and r[1] else repr(float(table[r[0]]))] for r in rows[1:]]
csv.writer(open(sys.argv[1], "w", newline="")).writerows(out)
PY
rounds=0
start=$(date +%s.%N)
while :; do
    rounds=$((rounds + 1))
    set +e; oneproxy nas --target myboard --manual --out report-c/ > c.txt 2> c.err; code=$?; set -e
    [ "$code" = 3 ] || break
    "$py" fill.py myboard.csv
done
echo "TIME $(echo "$(date +%s.%N) - $start" | bc) s: manual mode, $rounds runs (exit $code), $(($(wc -l < myboard.csv) - 1)) measurements" >&2
rm -rf "$work"
