#!/usr/bin/env python3
"""Interoperability check: an exported model of each search space runs in ONNX Runtime
and gives the same logits as tract on the same seeded input.

For each space, `oneproxy export --dump-io` writes the model and tract's input and output (JSON);
this script runs the model in onnxruntime on that input and compares. Tolerance: the largest
absolute difference must be at most 1e-4 x max(1, largest |logit|) (the random-weight networks
can have large activations, so the bound scales with them).

Needs: `pip install onnxruntime numpy` and a oneproxy built with `--features tract`.
Usage: python3 scripts/onnx_interop.py [--bin PATH_TO_ONEPROXY] [--keep DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

ARCHS = {
    "nb201": "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|",
    "fbnet": "k5_e6-skip-k3_e1_g2-skip-k5_e1-skip-skip-skip-k5_e6-k5_e1-k3_e1_g2-k5_e1-k5_e6-k3_e6-k3_e3-k5_e6-k3_e6-k3_e3-k5_e1-k3_e3-k5_e1-k5_e1_g2",
    "ofa-mbv3": "r204_k75-55-77-57-573_e64-46-63-43-336",
    "mbv2": "r160_k35-753-7777-33-55_e34-663-3333-66-36",
    "proxyless": "r224_k35-753-7777-33-55_e36-663-3333-66-36",
}
TOLERANCE = 1e-4


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.environ.get("ONEPROXY", "target/debug/oneproxy"))
    ap.add_argument("--keep", help="write the models and dumps here instead of a temporary folder")
    args = ap.parse_args()
    folder = args.keep or tempfile.mkdtemp(prefix="oneproxy-interop-")
    os.makedirs(folder, exist_ok=True)
    passed = failed = 0
    for space, arch in ARCHS.items():
        model = os.path.join(folder, f"{space}.onnx")
        dump = os.path.join(folder, f"{space}.json")
        subprocess.run([args.bin, "export", "--space", space, "--arch", arch, "--out", model,
                        "--seed", "3", "--dump-io", dump], check=True)
        with open(dump) as f:
            io = json.load(f)
        x = np.asarray(io["input"], dtype=np.float32).reshape(io["input_shape"])
        want = np.asarray(io["output"], dtype=np.float32).reshape(io["output_shape"])
        sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        (got,) = sess.run(None, {sess.get_inputs()[0].name: x})
        scale = max(1.0, float(np.abs(want).max()))
        diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
        ok = diff <= TOLERANCE * scale
        passed += ok
        failed += not ok
        print(f"{space:10s} shape {tuple(got.shape)} max|logit| {scale:.3g} max diff {diff:.3g} "
              f"-> {'ok' if ok else 'MISMATCH'}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
