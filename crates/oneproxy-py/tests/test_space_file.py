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
