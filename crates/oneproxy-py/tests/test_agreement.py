"""The Python module and the CLI give the same numbers for the same inputs."""

import csv
import math

import numpy as np
import pytest

import oneproxy


def cell(v):
    return v if isinstance(v, (int, float)) else math.nan  # a reason in words where undefined


def test_monotonicity_matches_the_cli(cli_json):
    want = cli_json("monotonicity")
    got = oneproxy.monotonicity("nb201", as_frame=False)
    assert got.devices == want["devices"]
    np.testing.assert_allclose(got.matrix, np.array([[cell(v) for v in row] for row in want["matrix"]]), rtol=0, atol=1e-12)
    assert got.overlaps.tolist() == want["overlaps"]
    assert got.recommended_proxy == want["recommended_proxy"]
    assert got.min_overlap == want["min_overlap"]


def test_monotonicity_of_a_users_table_equals_the_bundled_one(nb201):
    archs, devices, values = nb201
    keep = [devices.index(d) for d in ("pixel3", "raspi4", "eyeriss")]
    mine = oneproxy.Table(values[:, keep], archs, [devices[k] for k in keep])
    a = oneproxy.monotonicity(mine, as_frame=False)
    b = oneproxy.monotonicity("nb201", devices=["pixel3", "raspi4", "eyeriss"], as_frame=False)
    np.testing.assert_array_equal(a.matrix, b.matrix)
    assert a.recommended_proxy == b.recommended_proxy


def samples_of(nb201, device, step=1500):
    archs, devices, values = nb201
    col = devices.index(device)
    rows = list(range(7, len(archs), step))
    return {archs[r]: float(values[r, col]) for r in rows}


def test_adapted_predictions_match_the_cli(cli, nb201, tmp_path):
    samples = samples_of(nb201, "raspi4")
    path = tmp_path / "raspi4.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "raspi4"])
        for a, v in samples.items():
            w.writerow([a, repr(v)])
    cli("adapt", "--samples", path, "--proxy", "pixel3", "--out", tmp_path / "cli.json")
    cli("predict", "--predictor", tmp_path / "cli.json", "--all", "--out", tmp_path / "cli.csv")
    with open(tmp_path / "cli.csv") as f:
        rows = list(csv.DictReader(f))
    archs = [r["arch"] for r in rows]
    want = np.array([float(r["raspi4"]) for r in rows])

    p = oneproxy.adapt(proxy="pixel3", samples=samples, target="raspi4")
    got = p.predict(archs)
    # The CLI prints 6 decimals.
    np.testing.assert_allclose(got, want, rtol=0, atol=6e-7)
    assert p.device == "raspi4" and len(got) == 15625
    # Each side reads the other's file and predicts the same.
    np.testing.assert_array_equal(oneproxy.Predictor.load(tmp_path / "cli.json").predict(archs), got)
    p.save(tmp_path / "py.json")
    cli("predict", "--predictor", tmp_path / "py.json", "--all", "--out", tmp_path / "py.csv")
    with open(tmp_path / "py.csv") as f:
        again = np.array([float(r["raspi4"]) for r in csv.DictReader(f)])
    np.testing.assert_array_equal(again, want)


def test_samples_as_a_pair_of_sequences_give_the_same_predictor(nb201):
    samples = samples_of(nb201, "eyeriss")
    a = oneproxy.adapt(proxy="pixel3", samples=samples, target="eyeriss")
    b = oneproxy.adapt(proxy="pixel3", samples=(list(samples), np.array(list(samples.values()))), target="eyeriss")
    np.testing.assert_array_equal(a.predict(), b.predict())


def test_search_front_matches_the_cli(cli_json):
    want = cli_json("search", "--device", "pixel3", "--constraint", "5", "--constraint", "0.001")
    got = oneproxy.search(accuracy="cifar100", device="pixel3", constraints=[5, 0.001], as_frame=False)
    assert got.front.rows == [p["arch"] for p in want["front"]]
    np.testing.assert_array_equal(got.front.values[:, 0], [p["latency"] for p in want["front"]])
    np.testing.assert_array_equal(got.front.values[:, 1], [p["accuracy"] for p in want["front"]])
    assert got.evaluated == want["evaluated"]
    (c5, pick5), (c0, pick0) = got.picks
    assert (c5, pick5[0]) == (5.0, want["constraints"][0]["arch"])
    assert pick0 is None and "arch" not in want["constraints"][1]


def test_evolution_search_is_seeded_and_matches_the_cli(cli_json):
    want = cli_json("search", "--device", "raspi4", "--method", "evolution", "--population", "40", "--generations", "5", "--seed", "7")
    got = oneproxy.search(device="raspi4", method="evolution", population=40, generations=5, seed=7, as_frame=False)
    assert got.front.rows == [p["arch"] for p in want["front"]]
    assert got.evaluated == want["evaluated"]


def test_search_with_a_predictor_matches_the_cli(cli_json, nb201, tmp_path):
    p = oneproxy.adapt(proxy="pixel3", samples=samples_of(nb201, "eyeriss"), target="eyeriss")
    p.save(tmp_path / "p.json")
    want = cli_json("search", "--predictor", tmp_path / "p.json", "--constraint", "3")
    got = oneproxy.search(device=p, constraints=[3], as_frame=False)
    assert got.front.rows == [x["arch"] for x in want["front"]]
    np.testing.assert_allclose(got.front.values[:, 0], [x["latency"] for x in want["front"]], rtol=1e-15)


def lookup(nb201, device, calls=None):
    archs, devices, values = nb201
    col = devices.index(device)
    row = {a: i for i, a in enumerate(archs)}

    def measure(batch):
        if calls is not None:
            calls.extend(batch)
        return [float(values[row[a], col]) for a in batch]

    return measure


@pytest.mark.parametrize("target,seed", [("raspi4", 0), ("eyeriss", 3), ("pixel2", 1)])
def test_nas_with_a_table_lookup_equals_evaluate_nas(cli_json, nb201, target, seed):
    want = cli_json("evaluate", "nas", "--targets", target, "--proxy", "pixel3", "--seed", seed, "--constraint", "4")["targets"][0]
    # `evaluate nas` draws the evaluation protocol's samples per target, not the flow's default.
    got = oneproxy.nas(
        "nb201", "cifar100", target=lookup(nb201, target), proxy="pixel3", seed=seed, target_name=target, constraints=[4],
        samples=10, as_frame=False, remeasure="never"  # a lookup is exact, as the CLI's table is
    )
    for key in ("action", "proxy", "spearman_samples", "cv_spearman", "samples", "measurements", "candidates_measured", "chosen", "picks", "remaining_regret"):
        assert got.outcome[key] == want[key], key
    assert got.remaining_regret["level"] == 0.8 and got.remaining_regret["bound"] >= 0
    # pixel2 is timed in whole milliseconds, and both front ends say so alike.
    assert got.reporting_step == want.get("reporting_step") == (1.0 if target == "pixel2" else None)
    assert got.front.rows == [c["arch"] for c in want["chosen"]]
    assert len(got.measurements) == want["measurements"]


def test_plan_matches_the_cli(cli, tmp_path):
    cli("plan", "--budget", "12", "--seed", "4", "--out", tmp_path / "plan.csv")
    with open(tmp_path / "plan.csv") as f:
        want = [r["arch"] for r in csv.DictReader(f)]
    assert oneproxy.plan("nb201", 12, seed=4) == want


def test_onnx_export_is_the_clis(cli, nb201, tmp_path):
    arch = nb201[0][123]
    cli("export", "--space", "nb201", "--arch", arch, "--out", tmp_path / "cli.onnx", "--seed", "2")
    size = oneproxy.export_onnx("nb201", arch, tmp_path / "py.onnx", seed=2)
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    assert size == (tmp_path / "py.onnx").stat().st_size


NAS_KNOBS = [
    # (CLI flags, the same as Python keywords)
    ([], {}),
    (
        ["--samples", "8", "--seed", "2", "--round-size", "3", "--stop", "0.05", "--combine", "averaged", "--constraint", "4"],
        dict(samples=8, seed=2, round_size=3, stop=0.05, combine="averaged", constraints=[4]),
    ),
    (["--stop-regret", "0.4", "--seed", "1"], dict(stop_regret=0.4, seed=1)),
    (["--min-checks", "60", "--seed", "3"], dict(min_checks=60, seed=3)),
    (
        ["--design", "layers", "--always-adapt", "--layers", "1", "--max-failures", "2", "--proxy", "raspi4", "--norm", "2"],
        dict(design="layers", always_adapt=True, layers=1, max_failures=2, proxy="raspi4", norm="2"),
    ),
]


@pytest.mark.parametrize("flags,keywords", NAS_KNOBS)
def test_nas_gives_the_same_picks_and_measurements_from_the_cli_and_python(cli_json, nb201, tmp_path, flags, keywords):
    want = cli_json("nas", "--target", "pixel3", "--oracle", "table", "--measurements", tmp_path / "pixel3.csv", *flags)
    got = oneproxy.nas("nb201", "cifar100", target=lookup(nb201, "pixel3"), target_name="pixel3", as_frame=False, remeasure="never", **keywords)
    # A warning names the log: the CLI's file, Python's in-memory log.
    if "warnings" in want:
        want["warnings"] = [w.replace(str(tmp_path / "pixel3.csv"), "measurements of 'pixel3'") for w in want["warnings"]]
    for key, value in got.outcome.items():
        assert want[key] == value, key
    assert [m["arch"] for m in got.outcome["measured"]] == list(got.measurements)


def test_the_flow_measures_the_checks_asked_for_before_it_may_stop(nb201):
    kw = dict(target=lookup(nb201, "pixel3"), target_name="pixel3", as_frame=False, remeasure="never", seed=3)
    floored = oneproxy.nas("nb201", "cifar100", min_checks=60, **kw)
    # 3 samples, then at least 60 candidates predicted before they were measured (50 without).
    assert len(floored.measurements) >= 63
    assert len(oneproxy.nas("nb201", "cifar100", min_checks=0, **kw).measurements) < len(floored.measurements)
    with pytest.raises(TypeError, match="min_checks"):
        oneproxy.nas("nb201", "cifar100", min_checks="many", **kw)


def test_python_defaults_are_the_libraries_as_the_cli_shows_them(cli):
    import re

    def shown(command, flag):
        text = cli(command, "--help")[1]
        return re.search(rf"--{flag} <[^>]+>(.*?)\n\s+--[a-z]", text, re.S).group(1)

    d = oneproxy.defaults()
    for flag, key in [("threshold", "threshold"), ("max-failures", "max_failures"), ("min-checks", "min_checks")]:
        assert f"[default: {d['nas'][key]}]" in shown("nas", flag), flag
    # Defaults that depend on other flags (the design, --manual) are said in the help's words.
    for flag, key in [("samples", "samples"), ("round-size", "round_size")]:
        assert f"Default: {d['nas'][key]}" in " ".join(shown("nas", flag).split()), flag
    assert f"[default: {d['search']['population']}]" in shown("search", "population")
    assert f"samples={d['nas']['samples']!r}" in oneproxy.nas.__doc__
