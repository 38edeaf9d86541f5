"""Tables, errors, and the callable target's failures, interrupts and resumption."""

import json
import os
import signal

import numpy as np
import pandas as pd
import pytest

import oneproxy
from test_agreement import lookup


def test_tables_have_labels_with_and_without_pandas(nb201):
    archs, devices, values = nb201
    assert len(archs) == 15625 and values.shape == (15625, len(devices)) and "pixel3" in devices
    names = [d["name"] for d in oneproxy.devices("nb201")]
    assert set(names) - set(devices) == {"flops", "params"}  # pseudo-devices only when named
    assert [n for n in names if n in devices] == devices
    frame = oneproxy.latency_table("nb201", devices=["pixel3", "raspi4"])
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["pixel3", "raspi4"]
    np.testing.assert_array_equal(frame["raspi4"].to_numpy(), values[:, devices.index("raspi4")])
    assert frame.index[5] == archs[5]
    acc = oneproxy.accuracy_table("nb201", "cifar10", as_frame=False)
    assert acc.columns == ["accuracy"] and acc.values.shape == (15625, 1) and 0 < acc.values.max() <= 100
    assert len(acc) == 15625 and acc["accuracy"].shape == (15625,)
    front = oneproxy.search(device="pixel3", as_frame=False).front
    assert len(front) == len(oneproxy.search(device="pixel3").front) > 3
    with pytest.raises(KeyError):
        front["latency"]
    m = oneproxy.monotonicity(frame)
    assert isinstance(m.matrix, pd.DataFrame) and m.matrix.loc["pixel3", "raspi4"] == m.matrix.loc["raspi4", "pixel3"]


def test_flops_follow_the_operations():
    none = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert oneproxy.flops("nb201", conv) > oneproxy.flops("nb201", none) > 0
    assert oneproxy.params("nb201", conv) > oneproxy.params("nb201", none)


def test_bad_input_is_a_value_error_with_the_clis_message(cli):
    code, _, err = cli("monotonicity", "--devices", "pixel 3,raspi4", check=False)
    assert code != 0
    with pytest.raises(ValueError) as e:
        oneproxy.monotonicity("nb201", devices=["pixel 3", "raspi4"])
    assert str(e.value).startswith("unknown device 'pixel 3'; did you mean 'pixel3'?")
    assert str(e.value) in err
    with pytest.raises(ValueError, match="unknown search space 'nb-201'"):
        oneproxy.devices("nb-201")
    with pytest.raises(ValueError, match="invalid nb201 architecture 'x'"):
        oneproxy.flops("nb201", "x")
    with pytest.raises(ValueError, match="unknown metric"):
        oneproxy.monotonicity(metric="pearsonn")
    with pytest.raises(ValueError, match="pool only applies"):
        oneproxy.adapt(proxy="pixel3", pool=["raspi4"], samples={})


def test_files_are_os_errors(tmp_path):
    with pytest.raises(OSError, match="missing.json"):
        oneproxy.Predictor.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json: reading or writing JSON"):
        oneproxy.Predictor.load(tmp_path / "bad.json")
    with pytest.raises(OSError):
        oneproxy.latency_table(latency_files=[tmp_path / "none.csv"])


def run(nb201, measure, **kw):
    return oneproxy.nas("nb201", "cifar100", target=measure, proxy="pixel3", target_name="eyeriss", seed=1, **kw)


def test_an_exception_in_the_callable_surfaces_with_the_architecture(nb201):
    table = lookup(nb201, "eyeriss")
    seen = []

    def measure(archs):
        if len(seen) == 4:
            raise ZeroDivisionError("the board fell off")
        seen.extend(archs)
        return table(archs)

    with pytest.raises(ZeroDivisionError, match="the board fell off") as e:
        run(nb201, measure)
    assert e.value.archs and e.value.archs[0] not in seen
    assert any(e.value.archs[0] in n for n in getattr(e.value, "__notes__", [e.value.archs[0]]))
    assert list(e.value.measurements) == seen


@pytest.mark.parametrize(
    "bad,message",
    [(lambda a: [-1.0] * len(a), "latency -1 is not a positive finite number"), (lambda a: [1.0], "returned 1 latencies for 2"), (lambda a: "fast", "must return a list")],
)
def test_bad_latencies_are_value_errors_naming_the_architecture(nb201, bad, message):
    with pytest.raises(ValueError, match=message) as e:
        run(nb201, bad, batch_size=2)
    assert e.value.archs[0] in str(e.value)


def test_interrupt_persists_and_a_rerun_resumes(nb201, tmp_path):
    # 6 samples in the first request: the interruption comes after them, before any candidate
    # (a sample may end on the final front, which the rerun measures again).
    six = dict(samples=6)
    whole = run(nb201, lookup(nb201, "eyeriss"), **six)
    log = tmp_path / "eyeriss.csv"
    table = lookup(nb201, "eyeriss")
    done = []

    def interrupted(archs):
        if len(done) == 6:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while measuring
        done.extend(archs)
        return table(archs)

    with pytest.raises(KeyboardInterrupt) as e:
        run(nb201, interrupted, measurements_path=log, **six)
    assert len(e.value.measurements) == 6 and list(e.value.measurements) == done[:6]
    assert len(log.read_text().splitlines()) == 1 + 6
    again = []
    resumed = run(nb201, lookup(nb201, "eyeriss", calls=again), measurements_path=log, **six)
    # A sample is asked for again only to be re-measured before the front is reported.
    samples = set(done[:6])
    asked_again = sum(1 for a in again if a in samples)
    assert asked_again <= resumed.outcome.get("remeasurements", 0)
    assert resumed.outcome["chosen"] == whole.outcome["chosen"]
    assert resumed.measurements.equals(whole.measurements)
    assert len(log.read_text().splitlines()) == 1 + whole.outcome["measurements"]


def test_a_log_of_another_device_is_refused_and_left_alone(nb201, tmp_path):
    log = tmp_path / "other.csv"
    text = f"arch,pixel3\n{nb201[0][0]},1.5\n"
    log.write_text(text)
    with pytest.raises(ValueError, match="choose another file"):
        run(nb201, lookup(nb201, "eyeriss"), measurements_path=log)
    assert log.read_text() == text


def test_combine_chooses_how_candidates_are_averaged(nb201):
    from test_agreement import samples_of

    samples = samples_of(nb201, "raspi4")
    pool = ["pixel3", "pixel2", "1080ti_1", "gold_6226"]
    report = lambda p: json.loads(p.provenance)["adaproxy"]
    averaged = report(oneproxy.adapt(samples=samples, pool=pool, target="raspi4"))
    best = report(oneproxy.adapt(samples=samples, pool=pool, target="raspi4", combine="best", ensemble=2))
    # Averaged: weights from the leave-one-out errors, heaviest first, summing to 1.
    weights = [m["weight"] for m in averaged["members"]]
    assert abs(sum(weights) - 1) < 1e-9 and weights == sorted(weights, reverse=True)
    assert len(averaged["members"]) > 2, averaged["members"]
    # Best: the 2 best corrections, equally weighted, no hypothesis.
    assert [m["weight"] for m in best["members"]] == [0.5, 0.5]
    assert not {m["form"] for m in best["members"]} & {"live-ops", "live-path", "stacking", "pruned-stacking", "pool-prior"}
    with pytest.raises(ValueError, match="unknown combine 'nope'; known: averaged, best"):
        oneproxy.adapt(samples=samples, pool=pool, target="raspi4", combine="nope")


def test_a_log_in_use_is_refused_and_loses_nothing(nb201, tmp_path):
    import threading

    log = tmp_path / "eyeriss.csv"
    table = lookup(nb201, "eyeriss")
    started, release = threading.Event(), threading.Event()

    def slow(archs):
        started.set()
        release.wait(60)
        return table(archs)

    result = {}
    first = threading.Thread(target=lambda: result.setdefault("run", run(nb201, slow, measurements_path=log)))
    first.start()
    assert started.wait(60)
    try:
        with pytest.raises(OSError, match="another oneproxy python nas is writing"):
            run(nb201, table, measurements_path=log)
    finally:
        release.set()
        first.join(120)
    assert len(log.read_text().splitlines()) == 1 + result["run"].outcome["measurements"]


def test_outputs_replace_a_users_file_only_with_overwrite(tmp_path):
    mine = tmp_path / "model.onnx"
    mine.write_text("my notes")
    arch = oneproxy.architectures("nb201")[0]
    with pytest.raises(OSError, match="not written by oneproxy") as e:
        oneproxy.export_onnx("nb201", arch, mine)
    # The library's message names the parameter as Python spells it, not as the CLI's flag.
    assert "pass overwrite=True" in str(e.value) and "--force" not in str(e.value)
    assert mine.read_text() == "my notes"
    assert oneproxy.export_onnx("nb201", arch, mine, overwrite=True) > 0
    # Its own file, rewritten without overwrite.
    assert oneproxy.export_onnx("nb201", arch, mine, seed=3) > 0
    pred = oneproxy.adapt(proxy="pixel3", samples=dict(zip(*_board())))
    saved = tmp_path / "pred.json"
    saved.write_text("{}")
    with pytest.raises(OSError, match="overwrite=True"):
        pred.save(saved)
    assert saved.read_text() == "{}"
    pred.save(saved, overwrite=True)
    pred.save(saved)
    assert oneproxy.Predictor.load(saved).device == pred.device


def _board():
    import csv
    import pathlib

    rows = list(csv.reader(open(pathlib.Path(__file__).resolve().parents[2] / "oneproxy-cli/tests/fixtures/board_samples.csv")))
    return [r[0] for r in rows[1:]], [float(r[1]) for r in rows[1:]]


def test_implausible_values_from_the_callable_warn(nb201):
    table = lookup(nb201, "eyeriss")
    calls = []

    def in_seconds_sometimes(archs):
        calls.extend(archs)
        values = table(archs)
        return [v / 1000 if len(calls) % 3 == 0 else v for v in values]

    with pytest.warns(UserWarning, match="different units"):
        run(nb201, in_seconds_sometimes, batch_size=1)
