#!/usr/bin/env bash
# Two `oneproxy nas` runs on one measurements file at once (a fake device: a runner that answers
# after 0.1 s with a latency derived from the model's size); prints each run's exit code and
# measurement count, and the rows left in the file.
# Usage: bash docs/results/data-safety/concurrent.sh path/to/oneproxy
set -u
B="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
d=$(mktemp -d); cd "$d"
runner='sleep 0.1; echo "latency_ms: $(( $(wc -c < {model}) / 100000 + 1 )).$(( $(wc -c < {model}) % 997 ))"'
run() { "$B" nas --target board --runner-cmd "$runner" --runs 1 --warmup 0 --seed "$1" --max-measurements 24 --measurements board.csv --json > "out$1.json" 2> "err$1.txt"; echo $? > "rc$1"; }
run 1 & sleep 1.5; run 2 & wait
for i in 1 2; do
  n=$(python3 -c "import json,sys; print(json.load(open('out$i.json'))['measurements'])" 2>/dev/null || echo -)
  echo "run $i (seed $i): exit $(cat rc$i), $n measurements; $(tail -1 err$i.txt | cut -c1-110)"
done
echo "rows in board.csv: $(($(wc -l < board.csv) - 1))"
