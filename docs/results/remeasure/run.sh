#!/usr/bin/env bash
# Re-measurement under CPU stress: `nas --oracle tract` on NB201 with one busy loop per core,
# with --remeasure auto and never, then each reported front member measured again without the
# busy loops. Usage: run.sh BIN OUTDIR (BIN built with --features tract).
set -eu
B="$1"; D="$2"; mkdir -p "$D"; cd "$D"; rm -f ./*.csv ./.*.json ./*.json
T="--threads 1 --runs 10 --warmup 2 --max-time 2"
NAS="nas --target here --oracle tract $T --max-measurements 20 --seed 0 --json"
pids=()
for _ in $(seq "$(nproc)"); do python3 -c 'while True: pass' & pids+=($!); done
"$B" $NAS --measurements stressed-auto.csv --remeasure auto > auto.json 2> auto.err
"$B" $NAS --measurements stressed-never.csv --remeasure never > never.json 2> never.err
kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
for run in auto never; do
  python3 -c "import json,sys; print('arch'); [print(c['arch']) for c in json.load(open('$run.json'))['chosen']]" > front-$run.csv
  "$B" measure --space nb201 --archs front-$run.csv $T --device-name here --out quiet-$run.csv 2> quiet-$run.err
done
python3 - <<'PY'
import csv, json
for run in ("auto", "never"):
    o = json.load(open(f"{run}.json"))
    quiet = {r["arch"]: float(r["here"]) for r in csv.DictReader(open(f"quiet-{run}.csv"))}
    ratios = [c["latency"] / quiet[c["arch"]] for c in o["chosen"]]
    print(f"{run}: {o['measurements']} measurements, {o.get('remeasurements', 0)} re-measurements, "
          f"{len(ratios)} front members; reported/quiet: " + " ".join(f"{r:.2f}" for r in sorted(ratios))
          + f"; max {max(ratios):.2f}; above 1.5x: {sum(r > 1.5 for r in ratios)}")
PY
