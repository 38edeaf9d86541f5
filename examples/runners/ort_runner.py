#!/usr/bin/env python3
"""A persistent runner for `oneproxy measure/nas --runner-persistent`: ONNX Runtime on the CPU.

    oneproxy measure --space nb201 --sample 30 --runs 5 --warmup 1 --device-name ort_cpu \
        --runner-persistent '.venv/bin/python examples/runners/ort_runner.py --threads 1' --out ort.csv

Name the interpreter whose environment has numpy and onnxruntime (`.venv/bin/python`, not a bare
`python3` that PATH may resolve to the system's).

One process serves the whole measurement: it prints `ready`, then answers one request line (JSON)
with one answer line (see docs/measuring.md, "Persistent runners"). It keeps one
`InferenceSession` for the last model path (a new path replaces it: oneproxy deletes the previous
model file anyway), builds it on the `load` request (untimed), and times `session.run` alone on each `run` request,
with a seeded input of the requested shape.

The clock (`--clock`): with one intra-op thread ONNX Runtime computes on the calling thread, so
`time.thread_time` (that thread's CPU time) measures the model and not the time it waited for a
core while other programs ran; with a thread pool only the wall clock (`time.perf_counter`) sees
the work. `auto` (the default) picks the CPU clock for one thread, else the wall clock.

Everything but answers goes to stderr: the process's file descriptor 1 is pointed at stderr, so
that nothing a library prints (Python or C) can be read as an answer.
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
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the input values (default 0)")
    ap.add_argument(
        "--clock",
        choices=["auto", "wall", "cpu"],
        default="auto",
        help="cpu: the calling thread's CPU time (one thread only); wall: elapsed time; auto: cpu with one thread",
    )
    args = ap.parse_args()
    if args.threads < 1:
        ap.error("--threads must be at least 1")
    if args.clock == "cpu" and args.threads > 1:
        ap.error(f"--clock cpu times the calling thread, but {args.threads} threads share the work: use --clock wall")
    clock = args.clock if args.clock != "auto" else ("cpu" if args.threads == 1 else "wall")
    now = time.thread_time if clock == "cpu" else time.perf_counter
    out = protocol_stdout()
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        print(
            f"ort_runner: {e} (interpreter {sys.executable}): install numpy and onnxruntime into its "
            "environment, or name the interpreter that has them in the command (e.g. .venv/bin/python)",
            file=sys.stderr,
        )
        return 1

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    cached = None  # (path, shape, session, feeds)

    def session_for(path, shape):
        nonlocal cached
        if cached is not None and cached[0] == path and cached[1] == shape:
            return cached
        cached = None  # free the previous session before building the next
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        dims = shape or [d if isinstance(d, int) else 1 for d in inp.shape]
        x = np.random.default_rng(args.seed).uniform(-1, 1, size=dims).astype(np.float32)
        cached = (path, shape, sess, {inp.name: x})
        return cached

    out.write(f"ready: onnxruntime {ort.__version__}, {args.threads} thread(s), {clock} clock\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            _, _, sess, feeds = session_for(req["model"], req.get("input_shape"))
            if req.get("op") == "load":
                answer = "ok"
            else:
                start = now()
                sess.run(None, feeds)
                answer = f"latency_ms: {(now() - start) * 1e3:.6f}"
        except Exception as e:  # every failure is an answer, never a dead runner
            answer = "error: " + one_line(e)
        out.write(answer + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
