"""Declared spaces from Python: ``space=`` takes the path of a space file (docs/space-file.md)
wherever it takes a space's name, and the space is known by its name afterwards."""

import pathlib

import numpy as np
import pytest

import oneproxy

ROOT = pathlib.Path(__file__).resolve().parents[3]
FBNET_FILE = ROOT / "examples" / "spaces" / "fbnet.toml"

TINY = """
name = "tiny-python"
separator = "/"

[[position]]
name = "stem"
choices = ["c16", "c32"]

[[position]]
name = "block"
repeat = 2
choices = ["k3", "k5", "none"]
skip = "none"
"""


def test_a_space_file_path_is_a_space_and_its_name_works_once_read(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    # A pathlib.Path and its string give the same space; then its name does too.
    from_path = oneproxy.architectures(path)
    assert len(from_path) == 2 * 3 * 3
    assert len(set(from_path)) == len(from_path)
    assert oneproxy.architectures(str(path)) == from_path
    assert oneproxy.architectures("tiny-python") == from_path
    assert all(a.count("/") == 2 for a in from_path)


def test_a_malformed_space_file_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(TINY.replace('choices = ["c16", "c32"]', "choices = []"))
    with pytest.raises(ValueError) as e:
        oneproxy.architectures(path)
    assert "broken.toml" in str(e.value)


def test_a_declared_space_has_no_flops_nor_export_and_says_why(tmp_path):
    arch = "-".join(["k3_e1"] * 22)
    for call in (lambda: oneproxy.flops(FBNET_FILE, arch), lambda: oneproxy.export_onnx(FBNET_FILE, arch, tmp_path / "m.onnx")):
        with pytest.raises(ValueError) as e:
            call()
        assert "declared" in str(e.value)
    assert not (tmp_path / "m.onnx").exists()


# The built-in FBNet also has the `flops` and `params` pseudo-devices, computed from its networks;
# a declared space has no networks, hence neither. Every measured device is the same.
COMPUTED = {"flops", "params"}


def test_fbnet_declared_as_a_file_correlates_its_devices_as_the_built_in_one():
    # (The recommended proxy may differ: the built-in space knows which of its bundled devices
    # are simulated and leaves them out of the recommendation; a declared space cannot.)
    table = oneproxy.latency_table("fbnet")
    built_in = oneproxy.monotonicity(table)
    declared = oneproxy.monotonicity(table, space=FBNET_FILE)
    assert declared.devices == built_in.devices
    np.testing.assert_array_equal(np.asarray(declared.matrix), np.asarray(built_in.matrix))


def test_a_declared_space_reads_a_latency_file_of_its_strings(tmp_path):
    table = oneproxy.latency_table("fbnet")
    csv = tmp_path / "fbnet_latency.csv"
    table.rename_axis("arch").to_csv(csv)
    declared = {d["name"]: d["archs_measured"] for d in oneproxy.devices(FBNET_FILE, latency_files=[csv])}
    built_in = {d["name"]: d["archs_measured"] for d in oneproxy.devices("fbnet") if d["name"] not in COMPUTED}
    assert declared == built_in


def _toy_accuracy(archs):
    """A synthetic accuracy predictor: more convolutions, more accuracy (percent)."""
    return [50.0 + 2.0 * a.count("conv_3x3") + a.count("conv_1x1") for a in archs]


def test_an_accuracy_function_is_called_once_on_the_candidates_and_searched_as_a_file(tmp_path):
    calls = []

    def accuracy(archs):
        calls.append(len(archs))
        return _toy_accuracy(archs)

    found = oneproxy.search(accuracy=accuracy, device="pixel3", constraints=[5.0])
    assert calls == [15625]
    # The same values written as an accuracy file give the same front.
    archs = oneproxy.architectures("nb201")
    csv = tmp_path / "acc.csv"
    csv.write_text("arch,accuracy\n" + "".join(f"{a},{v}\n" for a, v in zip(archs, _toy_accuracy(archs))))
    from_file = oneproxy.search(accuracy=csv, device="pixel3", constraints=[5.0])
    assert found.picks[0].arch == from_file.picks[0].arch
    assert found.picks[0].accuracy == from_file.picks[0].accuracy


def test_an_accuracy_function_that_misbehaves_is_named():
    def short(archs):
        return [60.0] * (len(archs) - 1)

    def out_of_range(archs):
        return [150.0] * len(archs)

    def words(archs):
        return ["high"] * len(archs)

    for f, expect in ((short, "returned 15624 values for 15625"), (out_of_range, "percentage"), (words, "numbers")):
        with pytest.raises(ValueError) as e:
            oneproxy.search(accuracy=f, device="pixel3", constraints=[5.0])
        assert f.__name__ in str(e.value) and expect in str(e.value), str(e.value)


def test_an_accuracy_function_drives_the_nas_flow_on_a_declared_space(tmp_path):
    # The bundled FBNet latencies as a file of the declared FBNet's strings; the accuracy
    # function is asked about exactly the architectures of that file.
    table = oneproxy.latency_table("fbnet")
    csv = tmp_path / "fbnet_latency.csv"
    table.rename_axis("arch").to_csv(csv)
    asked = []

    def accuracy(archs):
        asked.extend(archs)
        return [60.0 + 0.5 * (22 - a.count("skip")) for a in archs]

    truth = table["pixel3"]
    run = oneproxy.nas(
        FBNET_FILE,
        accuracy,
        target=lambda archs: [float(truth[a]) for a in archs],
        proxy="pixel2",
        latency_files=[csv],
        seed=1,
    )
    assert sorted(asked) == sorted(table.index)
    assert run.outcome["measurements"] > 0
    front = [c["arch"] for c in run.outcome["chosen"]]
    assert front and all(a in truth.index for a in front)
