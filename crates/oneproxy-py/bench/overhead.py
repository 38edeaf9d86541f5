"""Overhead of the Python layer, measured in one run (not part of the test suite).

* `oneproxy.monotonicity` on the bundled NB201 table, against the CLI (`oneproxy monotonicity
  --json`, a subprocess: process start, table load, JSON) and against `scipy.stats.spearmanr`
  on the same table (numpy array in memory; NaN-free device columns only);
* `Predictor.predict` on all 15,625 NB201 architectures, time per call.

Usage: python crates/oneproxy-py/bench/overhead.py [--bin target/release/oneproxy] [--repeat 20]
"""

import argparse
import pathlib
import subprocess
import time

import numpy as np

import oneproxy


def best_of(repeat, f):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times))


def main():
    root = pathlib.Path(__file__).resolve().parents[3]
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(root / "target" / "release" / "oneproxy"))
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()

    oneproxy.monotonicity("nb201")  # first call parses the bundled data; not timed
    py = best_of(a.repeat, lambda: oneproxy.monotonicity("nb201", as_frame=False))
    cli = best_of(max(3, a.repeat // 4), lambda: subprocess.run([a.bin, "monotonicity", "--json"], check=True, capture_output=True))
    t = oneproxy.latency_table("nb201", as_frame=False)
    full = ~np.isnan(t.values).any(axis=0)
    values = t.values[:, full]
    try:
        from scipy.stats import spearmanr
    except ImportError:
        sp = None
    else:
        sp = best_of(max(3, a.repeat // 4), lambda: spearmanr(values))
        ours = oneproxy.monotonicity(oneproxy.Table(values, t.rows, [c for c, k in zip(t.columns, full) if k]), as_frame=False)
        assert np.allclose(ours.matrix, spearmanr(values).statistic, atol=1e-12), "the matrices differ"
    print(f"monotonicity, NB201 bundled table ({len(t.rows)} architectures x {len(t.columns)} devices), best / median of repeats:")
    print(f"  oneproxy.monotonicity      {py[0] * 1e3:8.2f} / {py[1] * 1e3:8.2f} ms")
    print(f"  CLI monotonicity --json    {cli[0] * 1e3:8.2f} / {cli[1] * 1e3:8.2f} ms   (python is {cli[0] / py[0]:.1f}x faster)")
    if sp is not None:
        print(f"  scipy.stats.spearmanr      {sp[0] * 1e3:8.2f} / {sp[1] * 1e3:8.2f} ms   ({values.shape[1]} full columns; python is {sp[0] / py[0]:.1f}x faster)")
    else:
        print("  scipy.stats.spearmanr      (scipy not installed)")

    archs = oneproxy.architectures("nb201")
    sample = archs[::1500]
    pred = oneproxy.adapt(proxy="pixel3", samples=dict(zip(sample, t.values[::1500, t.columns.index("raspi4")])), target="raspi4")
    pr = best_of(a.repeat, lambda: pred.predict(archs, as_frame=False))
    pa = best_of(a.repeat, lambda: pred.predict(as_frame=False))
    print(f"Predictor.predict, {len(archs)} NB201 architectures per call, best / median:")
    print(f"  from a list of strings     {pr[0] * 1e3:8.2f} / {pr[1] * 1e3:8.2f} ms per call ({pr[0] / len(archs) * 1e9:.0f} ns per architecture)")
    print(f"  predict() (whole space)    {pa[0] * 1e3:8.2f} / {pa[1] * 1e3:8.2f} ms per call")


if __name__ == "__main__":
    main()
