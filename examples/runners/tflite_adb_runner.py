#!/usr/bin/env python3
"""A persistent runner for `oneproxy measure/nas --runner-persistent`: LiteRT (TFLite) on an
Android phone over adb, timed by the phone's `benchmark_model`.

    oneproxy nas --target pixel7 --runner-timeout 600 \
        --runner-persistent 'python3 examples/runners/tflite_adb_runner.py --serial 1A2B3C \
            --convert-cmd "onnx2tf -i {onnx} -o {outdir}" --threads 4' ...

What it needs (none of it is installed by oneproxy):

* `adb` (Android platform tools) and a phone with USB debugging on (`adb devices` lists it);
* LiteRT's `benchmark_model` for the phone's ABI, pushed and made executable, by default at
  /data/local/tmp/benchmark_model (`adb push benchmark_model /data/local/tmp/ && adb shell chmod
  +x /data/local/tmp/benchmark_model`); prebuilt binaries are linked from the TensorFlow Lite
  "performance measurement" page (android_aarch64_benchmark_model);
* an ONNX-to-TFLite converter, given as `--convert-cmd`, a shell template where `{onnx}` is the
  exported model and `{outdir}` an empty folder the converter writes into (both shell-quoted).
  With onnx2tf (`pip install onnx2tf`, which needs TensorFlow): `onnx2tf -i {onnx} -o {outdir}`,
  which writes `<name>_float32.tflite` (and `_float16`); the runner takes the one file matching
  `--tflite-glob` (default `*float32.tflite`, else the only `.tflite`). onnx2tf turns the NCHW
  input into NHWC; benchmark_model makes its own input of the model's shape.

Protocol (docs/measuring.md, "Persistent runners"): at start-up the runner checks that the phone
is there (`adb get-state`) and that benchmark_model is executable on it, then prints `ready`. On
a `load` request it converts the model (`--convert-timeout`) and pushes the .tflite to
`--device-dir`, untimed: raise oneproxy's `--runner-timeout` above the conversion time. On each
`run` request it runs, once,

    adb shell <benchmark> --graph=<model> --num_threads=N --warmup_runs=W --num_runs=1
        --warmup_min_secs=0 --min_secs=0 [--benchmark-args]

and answers the `Inference (avg)` of its "Inference timings in us" line, in ms. benchmark_model
loads the model again in each call (its `Init` is not part of the time); `--device-warmup W`
(default 1) untimed inferences precede the timed one in that same call, so that the answer is a
warm inference, and oneproxy's own warm-up runs keep the phone's clocks up. A failed conversion,
push or benchmark is an `error:` answer quoting the tool's last output lines; the architecture
fails and the next one is measured. When oneproxy closes stdin, the runner removes its model from
the phone (and --device-dir if that is then empty) and its local files.
"""
import argparse
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

TIMINGS = re.compile(r"Inference timings in us:.*?Inference \(avg\):\s*([0-9.eE+-]+)")


def protocol_stdout():
    """The protocol's stream, a private copy of stdout; fd 1 and sys.stdout then go to stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def last_lines(text, n=3):
    """What a tool said last, preferring its error lines to its progress lines."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    errors = [l for l in lines if "error" in l.lower() or "exception" in l.lower()]
    return " | ".join((errors or lines)[-n:])[-400:] or "(no output)"


class Failure(Exception):
    """A failed step, already worded as the `error:` answer."""


class Phone:
    def __init__(self, args):
        self.args = args
        self.adb = [args.adb] + (["-s", args.serial] if args.serial else [])
        self.name = args.serial or "the phone"

    def call(self, what, argv, timeout):
        try:
            p = subprocess.run(self.adb + argv, capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
            raise Failure(f"{what}: adb not found ({self.args.adb!r}): install Android platform tools or pass --adb")
        except subprocess.TimeoutExpired:
            raise Failure(f"{what}: `adb {' '.join(argv)}` took more than {timeout} s")
        if p.returncode != 0:
            raise Failure(f"{what} on {self.name} failed (adb exit {p.returncode}): {last_lines(p.stdout + p.stderr)}")
        return p.stdout + p.stderr

    def shell(self, what, command, timeout):
        return self.call(what, ["shell", command], timeout)


def convert(args, onnx, workdir):
    """The .tflite the converter makes of `onnx`, or a Failure."""
    outdir = tempfile.mkdtemp(prefix="tflite-", dir=workdir)
    cmd = args.convert_cmd.replace("{onnx}", shlex.quote(onnx)).replace("{outdir}", shlex.quote(outdir))
    try:
        p = subprocess.run(
            ["sh", "-c", cmd], capture_output=True, text=True, timeout=args.convert_timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise Failure(f"conversion `{cmd}` took more than {args.convert_timeout} s (--convert-timeout)")
    if p.returncode != 0:
        raise Failure(f"conversion `{cmd}` failed (exit {p.returncode}): {last_lines(p.stdout + p.stderr)}")
    found = sorted(glob.glob(os.path.join(outdir, "**", args.tflite_glob), recursive=True))
    if not found:
        found = sorted(glob.glob(os.path.join(outdir, "**", "*.tflite"), recursive=True))
    if len(found) != 1:
        names = [os.path.relpath(f, outdir) for f in found] or "no .tflite file"
        raise Failure(f"conversion `{cmd}` wrote {names} into {{outdir}}: one .tflite is needed (see --tflite-glob)")
    return found[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--convert-cmd", required=True, help="ONNX to TFLite, e.g. 'onnx2tf -i {onnx} -o {outdir}'")
    ap.add_argument("--adb", default="adb", help="the adb program (default: adb on PATH)")
    ap.add_argument("--serial", help="the phone's serial (adb -s), when more than one is connected")
    ap.add_argument("--benchmark", default="/data/local/tmp/benchmark_model", help="benchmark_model on the phone")
    ap.add_argument("--device-dir", default="/data/local/tmp/oneproxy", help="folder for models on the phone")
    ap.add_argument("--threads", type=int, default=1, help="benchmark_model --num_threads (default 1)")
    ap.add_argument("--device-warmup", type=int, default=1, help="untimed inferences per call (default 1)")
    ap.add_argument("--benchmark-args", default="", help="more benchmark_model flags, e.g. '--use_xnnpack=true'")
    ap.add_argument("--tflite-glob", default="*float32.tflite", help="which converter output to use")
    ap.add_argument("--convert-timeout", type=float, default=600, help="seconds (default 600)")
    ap.add_argument("--adb-timeout", type=float, default=120, help="seconds per adb call (default 120)")
    args = ap.parse_args()
    if "{onnx}" not in args.convert_cmd or "{outdir}" not in args.convert_cmd:
        ap.error("--convert-cmd needs {onnx} and {outdir}")
    if args.threads < 1 or args.device_warmup < 0:
        ap.error("--threads must be at least 1 and --device-warmup at least 0")
    out = protocol_stdout()
    phone = Phone(args)
    try:
        state = phone.call("checking the phone", ["get-state"], args.adb_timeout).strip()
        if state != "device":
            raise Failure(f"{phone.name} is '{state}', not 'device': unlock it and allow USB debugging")
        phone.shell("checking benchmark_model", f"test -x {shlex.quote(args.benchmark)}", args.adb_timeout)
        phone.shell("making the model folder", f"mkdir -p {shlex.quote(args.device_dir)}", args.adb_timeout)
    except Failure as e:
        print(f"tflite_adb_runner: {e} (benchmark_model expected at {args.benchmark}, see --benchmark)", file=sys.stderr)
        return 1

    workdir = tempfile.mkdtemp(prefix="oneproxy-tflite-")
    remote = f"{args.device_dir}/model.tflite"
    loaded = None  # the ONNX path whose .tflite is on the phone
    try:
        out.write(f"ready: benchmark_model on {phone.name}\n")
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                req = json.loads(line)
                if loaded != req["model"]:
                    loaded = None
                    tflite = convert(args, req["model"], workdir)
                    phone.call("pushing the model", ["push", tflite, remote], args.adb_timeout)
                    shutil.rmtree(os.path.dirname(tflite), ignore_errors=True)
                    loaded = req["model"]
                if req.get("op") == "load":
                    answer = "ok"
                else:
                    cmd = (
                        f"{shlex.quote(args.benchmark)} --graph={shlex.quote(remote)} --num_threads={args.threads} "
                        f"--warmup_runs={args.device_warmup} --num_runs=1 --warmup_min_secs=0 --min_secs=0 "
                        f"{args.benchmark_args}"
                    ).strip()
                    text = phone.shell("benchmark_model", cmd, args.adb_timeout)
                    m = TIMINGS.search(text.replace("\n", " "))
                    if not m:
                        raise Failure(f"benchmark_model on {phone.name} printed no inference timings: {last_lines(text)}")
                    answer = f"latency_ms: {float(m.group(1)) / 1e3:.6f}"
            except Failure as e:
                answer = f"error: {e}"
            except Exception as e:  # every failure is an answer, never a dead runner
                answer = f"error: {type(e).__name__}: {e}"
            out.write(answer.replace("\n", " | ") + "\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        try:
            # Only what this runner wrote: --device-dir may be a folder of the user's.
            phone.shell("cleaning up", f"rm -f {shlex.quote(remote)}; rmdir {shlex.quote(args.device_dir)} 2>/dev/null; true", 20)
        except Failure as e:
            print(f"tflite_adb_runner: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
