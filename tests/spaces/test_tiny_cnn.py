"""The example space examples/spaces/tiny-cnn: its builder writes valid ONNX models that ONNX
Runtime runs, refuses strings outside the space, and its accuracy file is what its script writes.

With $ONEPROXY_BIN (or target/release/oneproxy) present, `oneproxy export` drives the builder
as a user would. Needs the `onnx` and `onnxruntime` packages.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[2]
SPACE = ROOT / "examples" / "spaces" / "tiny-cnn"
BIN = Path(os.environ.get("ONEPROXY_BIN", ROOT / "target" / "release" / "oneproxy")).resolve()
ARCHS = ["k3-k3-k3-k3-k3", "skip-skip-skip-skip-skip", "mb3-dw5-k5-skip-mb3", "dw5-k5-mb3-k3-dw5"]


def build(arch, out, *extra):
    return subprocess.run(
        [sys.executable, str(SPACE / "build.py"), arch, str(out), *extra], capture_output=True, text=True
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_each_model_is_valid_onnx_that_onnx_runtime_runs(tmp_path, arch):
    out = tmp_path / "m.onnx"
    r = build(arch, out, "--batch", "2")
    assert r.returncode == 0, r.stderr
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert arch in model.doc_string
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.shape == [2, 3, 32, 32]
    (y,) = sess.run(None, {inp.name: np.zeros((2, 3, 32, 32), dtype=np.float32)})
    assert y.shape == (2, 10)


def test_more_blocks_make_more_work():
    sys.path.insert(0, str(SPACE))
    try:
        import build as b
    finally:
        sys.path.pop(0)
    nodes = {a: len(b.build(a).graph.node) for a in ARCHS}
    assert nodes["skip-skip-skip-skip-skip"] < nodes["k3-k3-k3-k3-k3"] < nodes["mb3-dw5-k5-skip-mb3"]


@pytest.mark.parametrize("bad", ["k3-k3", "k3-k3-k3-k3-k7", ""])
def test_strings_outside_the_space_fail_with_a_message_and_write_nothing(tmp_path, bad):
    out = tmp_path / "m.onnx"
    r = build(bad, out)
    assert r.returncode == 2
    assert "not a tiny-cnn architecture" in r.stderr
    assert not out.exists()


def test_the_accuracy_file_is_what_its_script_writes():
    r = subprocess.run([sys.executable, str(SPACE / "make_accuracy.py")], capture_output=True, text=True, check=True)
    assert r.stdout == (SPACE / "accuracy.csv").read_text()
    assert len(r.stdout.splitlines()) == 1 + 5**5


@pytest.mark.skipif(not BIN.exists(), reason=f"no oneproxy binary at {BIN}")
def test_oneproxy_exports_through_the_builder(tmp_path):
    out = tmp_path / "m.onnx"
    cmd = f"'{sys.executable}' '{SPACE / 'build.py'}' {{arch}} {{out}} --batch {{batch}}"
    r = subprocess.run(
        [str(BIN), "export", "--space-file", str(SPACE / "space.toml"), "--arch", ARCHS[2], "--batch", "3",
         "--builder-cmd", cmd, "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "[3, 3, 32, 32]" in r.stderr
    assert onnx.load(str(out)).doc_string == f"tiny-cnn {ARCHS[2]}"
