#!/usr/bin/env python3
"""A persistent runner for `oneproxy measure/nas --runner-persistent`: OpenVINO on the CPU.

    oneproxy measure --space nb201 --sample 5 --runs 5 --warmup 1 --device-name openvino_cpu \
        --runner-persistent '.venv/bin/python examples/runners/openvino_runner.py --threads 1' --out ov.csv

Needs `pip install openvino numpy` in the interpreter's environment (name that interpreter in
the command). Same protocol as ort_runner.py (docs/measuring.md, "Persistent runners"): on a
`load` request the model is compiled with `ov.Core().compile_model(path, DEVICE, config)` (the
latency performance hint, one stream, `--threads` inference threads) and one infer request is
made; each `run` request times `InferRequest.infer` alone with `time.perf_counter`, on a seeded
input of the requested shape. One compiled model is kept, for the last model path.
"""
import argparse
import json
import os
import sys
import time


def protocol_stdout():
    """The protocol's stream, a private copy of stdout; fd 1 and sys.stdout then go to stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def one_line(e):
    """An exception as one line of an `error:` answer."""
    text = f"{type(e).__name__}: {e}".replace("\r", " ").replace("\n", " | ")
    return text[:500]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")
    ap.add_argument("--device", default="CPU", help="OpenVINO device (default CPU)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the input values (default 0)")
    args = ap.parse_args()
    if args.threads < 1:
        ap.error("--threads must be at least 1")
    out = protocol_stdout()
    try:
        import numpy as np
        import openvino as ov
    except ImportError as e:
        print(
            f"openvino_runner: {e} (interpreter {sys.executable}): install numpy and openvino into its "
            "environment, or name the interpreter that has them in the command (e.g. .venv/bin/python)",
            file=sys.stderr,
        )
        return 1

    core = ov.Core()
    if args.device not in core.available_devices:
        print(f"openvino_runner: no OpenVINO device {args.device!r} here (have {core.available_devices})", file=sys.stderr)
        return 1
    config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "INFERENCE_NUM_THREADS": str(args.threads)}
    cached = None  # (path, shape, request, input)

    def request_for(path, shape):
        nonlocal cached
        if cached is not None and cached[0] == path and cached[1] == shape:
            return cached
        cached = None  # free the previous model before compiling the next
        compiled = core.compile_model(path, args.device, config)
        dims = shape or list(compiled.input(0).shape)
        x = np.random.default_rng(args.seed).uniform(-1, 1, size=dims).astype(np.float32)
        cached = (path, shape, compiled.create_infer_request(), x)
        return cached

    out.write(f"ready: openvino {ov.__version__} {args.device}, {args.threads} thread(s)\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            _, _, infer, x = request_for(req["model"], req.get("input_shape"))
            if req.get("op") == "load":
                answer = "ok"
            else:
                start = time.perf_counter()
                infer.infer({0: x})
                answer = f"latency_ms: {(time.perf_counter() - start) * 1e3:.6f}"
        except Exception as e:  # every failure is an answer, never a dead runner
            answer = "error: " + one_line(e)
        out.write(answer + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
