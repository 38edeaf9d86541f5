#!/usr/bin/env bash
# The example dataset crates/oneproxy/data/examples/nb201_here.csv. Measures the same
# 300 sampled NB201 architectures on this machine with tract, as written (`here`) and as a
# deployment compiler runs them (`here_pruned`: `measure --prune-dead`), and merges the two
# columns into one latency CSV `arch,here,here_pruned` that `--latency` reads.
# Usage: scripts/measure_here.sh [path/to/oneproxy] [out.csv]
#   the binary must be built with tract: cargo build --release -p oneproxy-cli --features tract
#   (about 3 minutes of measuring; run it on an otherwise idle machine)
# The measure reports (every sample, the environment; one per chunk and column) are kept in
# the folder $KEEP_JSON when it is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/oneproxy}"
out="${2:-crates/oneproxy/data/examples/nb201_here.csv}"
mkdir -p "$(dirname "$out")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The flags of docs/results/real-devices/here300.csv: the same seed draws the same 300 architectures,
# and `--sample n` draws the first n of them. The two columns are measured in alternating
# chunks of 50 (with --resume), so that what else runs on the machine falls on both alike.
flags=(measure --space nb201 --seed 1 --runs 10 --warmup 2 --max-time 1 --resume --json)
declare -A secs=([here]=0 [here_pruned]=0)
for n in 50 100 150 200 250 300; do
    for dev in here here_pruned; do
        extra=()
        [ "$dev" = here_pruned ] && extra=(--prune-dead)
        load=$(cut -d' ' -f1 /proc/loadavg)
        start=$(date +%s%N)
        "$bin" "${flags[@]}" "${extra[@]}" --sample "$n" --device-name "$dev" --out "$tmp/$dev.csv" > "$tmp/$dev.$n.json"
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        secs[$dev]=$(( ${secs[$dev]} + ms ))
        echo "$dev up to $n: $ms ms (1-minute load before: $load)" >&2
    done
done
echo "wall time: here $(( ${secs[here]} / 1000 )) s, here_pruned $(( ${secs[here_pruned]} / 1000 )) s" >&2
python3 - "$tmp/here.csv" "$tmp/here_pruned.csv" "$out" <<'PY'
import csv, os, sys
a, b, out = sys.argv[1:]
def rows(path, device):
    with open(path, newline="") as f:
        r = csv.reader(f)
        assert next(r) == ["arch", device], path
        return [(arch, v) for arch, v in r]
here, pruned = rows(a, "here"), rows(b, "here_pruned")
# Same seed, same sampler: the very same architectures in the same order, each measured.
assert [x for x, _ in here] == [x for x, _ in pruned], "the two runs measured different architectures"
assert len(here) == 300 and all(v for _, v in here + pruned), "missing measurements"
tmp_out = out + ".tmp"
with open(tmp_out, "w", newline="") as f:
    f.write("arch,here,here_pruned\n")
    for (arch, x), (_, y) in zip(here, pruned):
        f.write(f"{arch},{x},{y}\n")
os.replace(tmp_out, out)
PY
if [ -n "${KEEP_JSON:-}" ]; then
    mkdir -p "$KEEP_JSON"
    cp "$tmp"/*.json "$KEEP_JSON"/
fi
"$bin" monotonicity --space nb201 --latency "$out" --devices here,here_pruned,flops >&2
echo "wrote $out" >&2
