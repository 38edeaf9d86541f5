#!/usr/bin/env bash
# Reproduce docs/results/tiny-cnn (see README.md): measure 300 tiny-cnn architectures on this
# machine twice with ONNX Runtime through its persistent runner, one thread (the proxy: one
# image per inference; the target: batches of 8, latency per image), run `nas` on the target
# with live measurements over those 300, and score its final set against the target's
# exhaustive measurement.
#
#   bash docs/results/tiny-cnn/run.sh            # from the repository's root
#
# ONEPROXY: the CLI (`cargo build --release -p oneproxy-cli`; tract is not needed here)
# PYTHON:   an interpreter with numpy, onnx and onnxruntime (scripts/requirements-test.txt)
# OUT:      where the data goes (default docs/results/tiny-cnn/data; existing files are kept and
#           resumed, so a second run measures nothing again)
set -euo pipefail
B=${ONEPROXY:-target/release/oneproxy}
PY=${PYTHON:-.venv/bin/python}
S=examples/spaces/tiny-cnn
O=${OUT:-docs/results/tiny-cnn/data}
mkdir -p "$O"
BUILD="$PY $S/build.py {arch} {out} --batch {batch}"
ORT="$PY examples/runners/ort_runner.py --threads 1"
COMMON=(--space-file "$S/space.toml" --builder-cmd "$BUILD" --runner-persistent "$ORT" --runs 10 --warmup 3)
resume() { [ -e "$1" ] && echo --resume || true; }

# 1. The proxy: 300 architectures drawn with seed 1, one image per inference.
"$B" measure "${COMMON[@]}" --sample 300 --seed 1 --device-name ort_b1 --out "$O/proxy.csv" $(resume "$O/proxy.csv")
# 2. The target, exhaustively over the same 300 (the same draw): batches of 8.
"$B" measure "${COMMON[@]}" --sample 300 --seed 1 --batch 8 --device-name ort_b8 \
  --out "$O/target.csv" $(resume "$O/target.csv")
# 3. The accuracies of the 300 (the flow's candidates are the architectures with an accuracy).
"$PY" - "$O/proxy.csv" "$S/accuracy.csv" "$O/accuracy300.csv" <<'PYEOF'
import csv, sys
keep = {r["arch"] for r in csv.DictReader(open(sys.argv[1]))}
rows = [r for r in csv.DictReader(open(sys.argv[2])) if r["arch"] in keep]
with open(sys.argv[3], "w", newline="") as f:
    w = csv.DictWriter(f, ["arch", "accuracy"]); w.writeheader(); w.writerows(rows)
PYEOF
# 4. The flow on the live target (batches of 8 again, measured afresh as the flow asks; its own log).
"$B" nas "${COMMON[@]}" --batch 8 --latency "$O/proxy.csv" --accuracy-file "$O/accuracy300.csv" --proxy ort_b1 \
  --target ort_b8_live --measurements "$O/ort_b8_live.csv" --out "$O/nas-report" --json > "$O/nas.json"
# 5. Its regret against the exhaustive measurement of the 300.
"$PY" docs/results/tiny-cnn/score.py "$O/nas.json" "$O/target.csv" ort_b8 "$O/accuracy300.csv" | tee "$O/score.json"
# 6. The same flow simulated on the recorded target (table oracle), over 10 trials.
"$B" evaluate nas --space-file "$S/space.toml" --latency "$O/proxy.csv" --latency "$O/target.csv" \
  --accuracy-file "$O/accuracy300.csv" --targets ort_b8 --proxy ort_b1 --trials 10 --json > "$O/evaluate-nas.json"
"$B" monotonicity --space-file "$S/space.toml" --latency "$O/proxy.csv" --latency "$O/target.csv" --json > "$O/monotonicity.json"
