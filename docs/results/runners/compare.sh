#!/usr/bin/env bash
# Persistent runner against the per-run script: 30 NB201 architectures (--sample 30 --seed 0)
# timed with ONNX Runtime (1 thread) through
#   --runner-persistent 'PY examples/runners/ort_runner.py --threads 1'   (one process)
#   --runner-cmd        'PY scripts/ort_latency.py {model}'               (one process per run)
# with the same --runs 5 --warmup 1 (and --max-time 60, so that the slow per-run script is not
# cut short by the default 5 s budget), then the OpenVINO runner on 5 of them. Prints the wall
# time of each and their ratio, as Markdown (docs/results/runners/README.md is its output).
#
#   bash docs/results/runners/compare.sh                   # release binary, .venv/bin/python
#   ONEPROXY_BIN=... PY=... bash docs/results/runners/compare.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
bin="${ONEPROXY_BIN:-target/release/oneproxy}"
py="${PY:-.venv/bin/python}"
[ -x "$bin" ] || { echo "compare.sh: $bin not found: cargo build --release -p oneproxy-cli" >&2; exit 1; }
"$py" -c 'import numpy, onnxruntime' || { echo "compare.sh: $py lacks numpy/onnxruntime" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
common=(measure --space nb201 --seed 0 --runs 5 --warmup 1 --max-time 60)

now() { date +%s.%N; }
timed() { # name, then the command: wall seconds into $work/name.secs
    local name="$1"; shift
    local t0; t0="$(now)"
    "$@" > "$work/$name.json" 2> "$work/$name.err" || { cat "$work/$name.err" >&2; exit 1; }
    "$py" -c "print($(now) - $t0)" > "$work/$name.secs"
}

timed persistent "$bin" "${common[@]}" --sample 30 --json --device-name ort_persistent \
    --runner-persistent "$py examples/runners/ort_runner.py --threads 1" --out "$work/persistent.csv"
timed per_run "$bin" "${common[@]}" --sample 30 --json --device-name ort_per_run \
    --runner-cmd "$py scripts/ort_latency.py {model}" --out "$work/per_run.csv"
ov=0
if "$py" -c 'import openvino' 2>/dev/null; then
    ov=1
    timed openvino "$bin" "${common[@]}" --sample 5 --json --device-name openvino_cpu \
        --runner-persistent "$py examples/runners/openvino_runner.py --threads 1" --out "$work/openvino.csv"
fi

"$py" - "$work" "$ov" "$bin" "$py" <<'PY'
import json, platform, statistics, sys
work, ov, binary, py = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
def load(name):
    return json.load(open(f"{work}/{name}.json")), float(open(f"{work}/{name}.secs").read())
def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    for k, i in enumerate(order):
        r[i] = k
    return r
def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    num = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    return num / (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
import onnxruntime
p, tp = load("persistent")
r, tr = load("per_run")
env = p["environment"]
print("# Persistent runner against the per-run script\n")
print("Produced by `bash docs/results/runners/compare.sh` (release binary), which this page is the output of.\n")
print(f"Machine: {env['cpu_model']}, {env['logical_cpus']} logical CPUs (shared with other builds while it ran); "
      f"Python {platform.python_version()}, onnxruntime {onnxruntime.__version__}, 1 thread.\n")
print("30 NB201 architectures (`--sample 30 --seed 0`), `--runs 5 --warmup 1 --max-time 60`:\n")
print("| runner | command | wall time (s) | s per architecture | median latency (ms, median over archs) |")
print("|---|---|---:|---:|---:|")
def med(rep):
    return statistics.median(m["latency_ms"] for m in rep["measured"])
print(f"| persistent | `--runner-persistent '{py} examples/runners/ort_runner.py --threads 1'` | {tp:.1f} | {tp/30:.2f} | {med(p):.3f} |")
print(f"| per run | `--runner-cmd '{py} scripts/ort_latency.py {{model}}'` | {tr:.1f} | {tr/30:.2f} | {med(r):.3f} |")
print(f"\n**The persistent runner is {tr/tp:.1f} times faster** in wall time ({tr:.1f} s against {tp:.1f} s). "
      f"Both measured {len(p['measured'])} and {len(r['measured'])} architectures, "
      f"{len(p['failed'])} and {len(r['failed'])} failed.")
a = {m["arch"]: m["latency_ms"] for m in p["measured"]}
b = {m["arch"]: m["latency_ms"] for m in r["measured"]}
common = sorted(set(a) & set(b))
rho = spearman([a[k] for k in common], [b[k] for k in common])
ratio = statistics.median(a[k] / b[k] for k in common)
print(f"The two rank the architectures alike (Spearman {rho:.3f} over {len(common)}); the persistent runner's latencies are "
      f"{ratio:.2f} times the per-run script's (median ratio): its session is warm, while the script times the "
      f"second inference of a fresh process.\n")
if ov:
    o, to = load("openvino")
    import openvino
    print(f"## OpenVINO runner, 5 NB201 architectures\n")
    print(f"openvino {openvino.__version__}, CPU, 1 thread, `--sample 5 --seed 0 --runs 5 --warmup 1`: "
          f"wall time **{to:.1f} s** ({to/5:.2f} s per architecture, start-up included).\n")
    print("| architecture | OpenVINO ms | ONNX Runtime ms (persistent, same arch) |")
    print("|---|---:|---:|")
    for m in o["measured"]:
        print(f"| `{m['arch']}` | {m['latency_ms']:.4f} | {a.get(m['arch'], float('nan')):.4f} |")
    print()
else:
    print("OpenVINO is not installed in this interpreter: its runner was not measured.\n")
PY
