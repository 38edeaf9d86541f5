"""The ready-made runners of examples/runners through the real CLI binary.

Export -> runner -> latency for ONNX Runtime and OpenVINO on a few NB201 models, the protocol
spoken to each runner directly (answers, an `error:` for a bad model, exit on closed stdin), and
the adb runner against a fake `adb` and a fake converter (tests/runners/fakes).

The binary is $ONEPROXY_BIN, else target/release/oneproxy (scripts/test.sh builds it first);
the runners run under this interpreter, which must have numpy and onnxruntime (and openvino for
its tests: they are skipped, and say so, where it is not installed).
"""
import csv
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ONEPROXY_BIN", ROOT / "target" / "release" / "oneproxy")).resolve()
RUNNERS = ROOT / "examples" / "runners"
FAKES = Path(__file__).resolve().parent / "fakes"
PY = shlex.quote(sys.executable)
CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|",
    "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|",
]


@pytest.fixture(scope="session", autouse=True)
def binary():
    if not BIN.is_file():
        pytest.fail(f"{BIN} not found: build it (cargo build --release -p oneproxy-cli) or set ONEPROXY_BIN")


def measure(tmp_path, runner, *extra, env=None, ok=True):
    """`oneproxy measure` of CELLS through a persistent runner: (JSON report or None, stderr, rows)."""
    archs = tmp_path / "archs.csv"
    archs.write_text("arch\n" + "\n".join(CELLS) + "\n")
    out = tmp_path / "lat.csv"
    cmd = [str(BIN), "measure", "--space", "nb201", "--archs", str(archs), "--runs", "3", "--warmup", "1"]
    cmd += ["--device-name", "dev", "--runner-persistent", runner, "--out", str(out), "--json", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert (p.returncode == 0) == ok, f"exit {p.returncode}\n{p.stderr}"
    rows = list(csv.DictReader(open(out))) if out.exists() else []
    return (json.loads(p.stdout) if ok else None), p.stderr, rows


def export(tmp_path, arch, name="m.onnx"):
    path = tmp_path / name
    subprocess.run([str(BIN), "export", "--space", "nb201", "--arch", arch, "--out", str(path)], check=True)
    return path


def check_measured(report, rows, runner):
    assert report["environment"]["engine"] == f"persistent: {runner}"
    assert [r["arch"] for r in rows] == CELLS
    for m in report["measured"]:
        samples = m["measurement"]["samples_ms"]
        assert len(samples) == 3 and all(0 < s < 1000 for s in samples), samples
        assert len(m["measurement"]["warmup_ms"]) == 1
    assert all(float(r["dev"]) > 0 for r in rows), rows


class Conversation:
    """A runner spoken to directly, line by line."""

    def __init__(self, command):
        self.p = subprocess.Popen(
            command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.greeting = self.p.stdout.readline().strip()

    def ask(self, op, model, run):
        req = {"op": op, "model": str(model), "arch": "x", "input_shape": [1, 3, 32, 32], "run": run}
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        self.p.stdin.close()
        status = self.p.wait(timeout=30)
        rest = self.p.stdout.read()
        return status, rest


def speak_protocol(tmp_path, command):
    model = export(tmp_path, CELLS[0])
    c = Conversation(command)
    assert c.greeting.startswith("ready"), c.greeting
    assert c.ask("load", model, 0) == "ok"
    for run in (1, 2):
        answer = c.ask("run", model, run)
        assert answer.startswith("latency_ms: ") and float(answer.split(":")[1]) > 0, answer
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    answer = c.ask("load", bad, 0)
    assert answer.startswith("error: ") and "\n" not in answer, answer
    # The runner goes on after an error.
    assert c.ask("run", model, 1).startswith("latency_ms: ")
    status, rest = c.close()
    assert status == 0 and rest == "", (status, rest)


# ---- ONNX Runtime ----


def test_ort_runner_measures_nb201_models_through_the_cli(tmp_path):
    runner = f"{PY} {shlex.quote(str(RUNNERS / 'ort_runner.py'))} --threads 1"
    report, stderr, rows = measure(tmp_path, runner)
    check_measured(report, rows, runner)
    assert f"runner: {sys.executable} -> {sys.executable}" in stderr, stderr


def test_ort_runner_speaks_the_protocol(tmp_path):
    speak_protocol(tmp_path, f"{PY} {shlex.quote(str(RUNNERS / 'ort_runner.py'))}")


def test_ort_runner_times_one_thread_on_its_cpu_clock(tmp_path):
    script = shlex.quote(str(RUNNERS / "ort_runner.py"))
    c = Conversation(f"{PY} {script} --threads 1")
    assert c.greeting.endswith("cpu clock"), c.greeting
    c.close()
    c = Conversation(f"{PY} {script} --threads 2")
    assert c.greeting.endswith("wall clock"), c.greeting
    c.close()
    # The CPU clock of one thread cannot see a pool's work: refused, and said why.
    p = subprocess.run(f"{PY} {script} --threads 2 --clock cpu", shell=True, capture_output=True, text=True)
    assert p.returncode != 0 and "--clock wall" in p.stderr, p.stderr
    # A run's CPU time is at most its wall time: the fastest of ten on each clock, in two
    # sessions (hence the margin), agree that way.
    model = export(tmp_path, CELLS[0])
    fastest = {}
    for clock in ("cpu", "wall"):
        c = Conversation(f"{PY} {script} --threads 1 --clock {clock}")
        assert c.ask("load", model, 0) == "ok"
        fastest[clock] = min(float(c.ask("run", model, k).split(":")[1]) for k in range(1, 11))
        c.close()
    assert 0 < fastest["cpu"] <= 1.5 * fastest["wall"], fastest


def test_ort_runner_without_onnxruntime_says_which_interpreter(tmp_path):
    # An interpreter that cannot import onnxruntime (an empty module path): the error quotes it.
    runner = f"{PY} -I -S {shlex.quote(str(RUNNERS / 'ort_runner.py'))}"
    _, stderr, rows = measure(tmp_path, runner, ok=False)
    assert "engine lost" in stderr and "before it printed 'ready'" in stderr, stderr
    assert "No module named" in stderr and "install numpy and onnxruntime" in stderr, stderr
    assert rows == [], "nothing is marked failed"


def test_per_run_baseline_script_still_measures(tmp_path):
    archs = tmp_path / "archs.csv"
    archs.write_text("arch\n" + CELLS[1] + "\n")
    cmd = [str(BIN), "measure", "--space", "nb201", "--archs", str(archs), "--runs", "2", "--warmup", "0"]
    cmd += ["--device-name", "dev", "--out", str(tmp_path / "lat.csv")]
    cmd += ["--runner-cmd", f"{PY} {shlex.quote(str(ROOT / 'scripts' / 'ort_latency.py'))} {{model}}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    rows = list(csv.DictReader(open(tmp_path / "lat.csv")))
    assert len(rows) == 1 and float(rows[0]["dev"]) > 0


# ---- OpenVINO ----


def test_openvino_runner_measures_nb201_models_through_the_cli(tmp_path):
    pytest.importorskip("openvino")
    runner = f"{PY} {shlex.quote(str(RUNNERS / 'openvino_runner.py'))} --threads 1"
    report, _, rows = measure(tmp_path, runner)
    check_measured(report, rows, runner)


def test_openvino_runner_speaks_the_protocol(tmp_path):
    pytest.importorskip("openvino")
    speak_protocol(tmp_path, f"{PY} {shlex.quote(str(RUNNERS / 'openvino_runner.py'))}")


# ---- LiteRT over adb, with a fake adb and a fake converter ----


def fake_phone(tmp_path, **env):
    phone = tmp_path / "phone"
    bench = phone / "data" / "local" / "tmp" / "benchmark_model"
    bench.parent.mkdir(parents=True)
    bench.write_text("fake")
    bench.chmod(0o755)
    e = dict(os.environ, PATH=f"{FAKES}{os.pathsep}{os.environ['PATH']}", FAKE_ADB_ROOT=str(phone))
    e["FAKE_ADB_LOG"] = str(tmp_path / "adb.log")
    e.update(env)
    return phone, e


def adb_runner(*extra):
    convert = f"{PY} {shlex.quote(str(FAKES / 'fake_onnx2tf.py'))} -i {{onnx}} -o {{outdir}}"
    return (
        f"{PY} {shlex.quote(str(RUNNERS / 'tflite_adb_runner.py'))} --serial FAKE1 --threads 2 "
        f"--convert-cmd {shlex.quote(convert)} " + " ".join(extra)
    ).strip()


def adb_calls(tmp_path):
    return [json.loads(l) for l in (tmp_path / "adb.log").read_text().splitlines()]


def test_adb_runner_converts_pushes_and_parses_benchmark_model(tmp_path):
    phone, env = fake_phone(tmp_path)
    runner = adb_runner()
    report, _, rows = measure(tmp_path, runner, env=env)
    check_measured(report, rows, runner)
    calls = adb_calls(tmp_path)
    pushes = [c for c in calls if c[2] == "push"]
    benches = [c[3] for c in calls if c[2] == "shell" and "benchmark_model --graph" in c[3]]
    assert all(c[:2] == ["-s", "FAKE1"] for c in calls)
    # One conversion and push per model (the float32 output), one benchmark per run.
    assert len(pushes) == 3 and all(p[3].endswith("_float32.tflite") for p in pushes), pushes
    assert len(benches) == 3 * (1 + 3), benches
    for b in benches:
        assert "--num_threads=2" in b and "--num_runs=1" in b and "--warmup_runs=1" in b and "--min_secs=0" in b, b
    # Each answer is the fake's Inference (avg) of that model: 1000 us + size % 1000.
    for cell, m in zip(CELLS, report["measured"]):
        size = export(tmp_path, cell, "again.onnx").stat().st_size
        assert m["measurement"]["samples_ms"] == [(1000 + size % 1000) / 1000] * 3
    # The model is removed from the phone at the end (benchmark_model, the user's, stays).
    left = sorted(str(p.relative_to(phone)) for p in phone.rglob("*"))
    assert left == ["data", "data/local", "data/local/tmp", "data/local/tmp/benchmark_model"], left


def test_adb_runner_reports_a_failed_conversion_per_architecture(tmp_path):
    _, env = fake_phone(tmp_path, FAKE_CONVERT_FAIL="1")
    _, stderr, rows = measure(tmp_path, adb_runner(), env=env, ok=False)
    assert [r["dev"] for r in rows] == ["failed"] * 3
    assert "could not load the model" in stderr and "conversion" in stderr, stderr
    assert "Unsupported ONNX op: AveragePool" in stderr, stderr


def test_adb_runner_reports_a_device_error_per_architecture(tmp_path):
    _, env = fake_phone(tmp_path, FAKE_BENCH_FAIL="1")
    _, stderr, rows = measure(tmp_path, adb_runner(), env=env, ok=False)
    assert [r["dev"] for r in rows] == ["failed"] * 3
    assert "benchmark_model on FAKE1" in stderr and "Didn't find op for builtin opcode 'CONV_2D'" in stderr, stderr


def test_adb_runner_without_the_phone_stops_before_measuring(tmp_path):
    _, env = fake_phone(tmp_path, FAKE_ADB_SERIAL="OTHER")
    _, stderr, rows = measure(tmp_path, adb_runner(), env=env, ok=False)
    assert "engine lost" in stderr and "device 'FAKE1' not found" in stderr, stderr
    assert rows == []
    other = tmp_path / "no-benchmark"
    other.mkdir()
    phone, env = fake_phone(other)
    (phone / "data" / "local" / "tmp" / "benchmark_model").unlink()
    _, stderr, _ = measure(other, adb_runner(), env=env, ok=False)
    assert "checking benchmark_model" in stderr and "--benchmark" in stderr, stderr
