#!/usr/bin/env python3
"""A latency runner for `oneproxy measure --runner-cmd`: runs an ONNX model in ONNX Runtime
(CPU, one thread) and prints `latency_ms: X` for one timed inference after one untimed one.

    oneproxy measure --space nb201 --sample 5 --runs 5 --warmup 1 --device-name ort_cpu \
        --runner-cmd 'python3 scripts/ort_latency.py {model}' --out ort.csv

Only the inference is timed (not Python's start-up or the session creation). The output follows
oneproxy's runner protocol: one line `latency_ms: <x>` (other lines are ignored, so warnings that
ONNX Runtime prints cannot be misread as a latency); failures exit non-zero.
"""
import sys
import time

import numpy as np
import onnxruntime as ort

opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
opts.inter_op_num_threads = 1
sess = ort.InferenceSession(sys.argv[1], opts, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
x = np.random.default_rng(0).uniform(-1, 1, size=inp.shape).astype(np.float32)
sess.run(None, {inp.name: x})
start = time.perf_counter()
sess.run(None, {inp.name: x})
print(f"latency_ms: {(time.perf_counter() - start) * 1e3:.4f}")
