"""What a pandas user hands in and gets back: measurements in any shape, results indexed by
architecture, one shape of picks, the simulated flag, unit warnings, progress of `nas`."""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import oneproxy
from test_agreement import lookup, samples_of


def test_series_dict_pair_and_frame_give_identical_predictors(nb201):
    samples = samples_of(nb201, "raspi4")
    series = pd.Series(samples, name="raspi4").rename_axis("arch")
    shapes = {
        "dict": samples,
        "series": series,
        "pair": (list(samples), list(samples.values())),
        "pair of arrays": (np.array(list(samples)), np.array(list(samples.values()))),
        "frame with arch column": series.reset_index().rename(columns={"raspi4": "latency_ms"}),
        "frame indexed by arch": series.to_frame("ms"),
    }
    archs = list(samples)[:3] + oneproxy.architectures()[:50]
    want = oneproxy.adapt(proxy="pixel3", samples=samples, target="raspi4").predict(archs)
    for name, given in shapes.items():
        got = oneproxy.adapt(proxy="pixel3", samples=given, target="raspi4").predict(archs)
        pd.testing.assert_series_equal(got, want, check_exact=True, obj=name)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda s: s.__setitem__(next(iter(s)), float("nan")), r"samples: column 'target': entry 1 \('.*'\): latency NaN is not a positive finite number"),
        (lambda s: s.__setitem__(list(s)[2], -3.0), r"samples: column 'target': entry 3 \('.*'\): latency -3 is not a positive finite number"),
        (lambda s: s.__setitem__(list(s)[1], float("inf")), r"samples: column 'target': entry 2 .*latency inf"),
        (lambda s: s.__setitem__("|conv~0|", 4.0), r"samples: entry \d+: invalid nb201 architecture '\|conv~0\|'"),
    ],
)
def test_bad_measurements_name_the_argument_and_the_entry(nb201, change, message):
    samples = samples_of(nb201, "raspi4")
    change(samples)
    with pytest.raises(ValueError, match=message):
        oneproxy.adapt(proxy="pixel3", samples=pd.Series(samples))


def test_an_architecture_given_twice_is_refused(nb201):
    samples = samples_of(nb201, "raspi4")
    first = next(iter(samples))
    archs, ms = list(samples) + [" " + first], list(samples.values()) + [1.0]
    with pytest.raises(ValueError, match=r"samples: entry 12 .*given twice \(entries 1 and 12\)"):
        oneproxy.adapt(proxy="pixel3", samples=(archs, ms))
    with pytest.raises(ValueError, match="DataFrame of measurements needs an 'arch' column"):
        oneproxy.adapt(proxy="pixel3", samples=pd.DataFrame({"a": [1.0], "b": [2.0]}))
    with pytest.raises(TypeError, match="samples: expected latencies by architecture"):
        oneproxy.adapt(proxy="pixel3", samples=[1.0, 2.0, 3.0])


def test_predict_returns_a_series_indexed_by_the_requested_archs(nb201):
    p = oneproxy.adapt(proxy="pixel3", samples=samples_of(nb201, "eyeriss"), target="eyeriss")
    archs = oneproxy.architectures()[100:110][::-1]
    got = p.predict(archs)
    assert isinstance(got, pd.Series) and got.name == "eyeriss" and got.index.name == "arch"
    assert list(got.index) == archs and got.dtype == np.float64 and (got > 0).all()
    # Any iterable of strings, a pandas Index included; as_frame=False gives the plain array.
    np.testing.assert_array_equal(p.predict(pd.Index(archs)).to_numpy(), got.to_numpy())
    plain = p.predict(archs, as_frame=False)
    assert isinstance(plain, np.ndarray) and plain.tolist() == got.tolist()
    every = p.predict()
    assert len(every) == 15625 and list(every.index[:3]) == oneproxy.architectures()[:3]
    with pytest.raises(TypeError, match="not one string"):
        p.predict(archs[0])


def test_devices_flag_the_simulated_ones_as_the_cli_does(cli_json):
    rows = oneproxy.devices("nb201")
    by_name = {d["name"]: d for d in rows}
    assert by_name["eyeriss"]["simulated"] and by_name["fpga"]["simulated"]
    assert not by_name["pixel3"]["simulated"] and not by_name["raspi4"]["simulated"]
    want = cli_json("devices")["devices"]
    assert [d for d in rows if d["name"] in {w["name"] for w in want}] == want


def test_latencies_in_seconds_warn(nb201):
    samples = {a: v / 1000 for a, v in samples_of(nb201, "raspi4").items()}
    with pytest.warns(UserWarning, match=r"samples: column 'target': the median latency is .* are these seconds\?"):
        oneproxy.adapt(proxy="pixel3", samples=samples)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        oneproxy.adapt(proxy="pixel3", samples=samples_of(nb201, "raspi4"))
    in_ms = lookup(nb201, "raspi4")
    with pytest.warns(UserWarning, match=r"target 'raspi4': the median latency .* are these seconds\?") as caught:
        oneproxy.nas(target=lambda archs: [v / 1000 for v in in_ms(archs)], target_name="raspi4", proxy="pixel3")
    assert sum("seconds" in str(w.message) for w in caught) == 1  # said once per run


def test_progress_sees_increasing_counts_ending_at_the_measurements(nb201):
    events = []
    result = oneproxy.nas(target=lookup(nb201, "raspi4"), target_name="raspi4", proxy="pixel3", max_measurements=40, progress=events.append)
    assert all(isinstance(e, oneproxy.NasProgress) for e in events)
    counts = [e.measured for e in events if e.event == "measured"]
    assert counts == list(range(1, len(counts) + 1))
    assert counts[-1] == result.outcome["measurements"] == len(result.measurements)
    assert {e.phase for e in events} >= {"samples", "decision", "candidates"}
    assert all(e.max_measurements == 40 and e.measured <= e.requested for e in events)
    assert events[0].event == "measuring" and events[0].message.startswith("measuring ")
    last = [e for e in events if e.event == "measured"][-1]
    assert result.measurements[last.arch] == last.latency_ms


def test_an_exception_in_progress_propagates_and_the_log_resumes(nb201, tmp_path):
    log = tmp_path / "raspi4.csv"
    # A lookup is exact: nothing to measure again, so every call below is a first measurement.
    whole = oneproxy.nas(target=lookup(nb201, "raspi4"), target_name="raspi4", proxy="pixel3", remeasure="never")

    class Stop(Exception):
        pass

    def stop_at_five(event):
        if event.measured == 5:
            raise Stop("enough")

    with pytest.raises(Stop) as e:
        oneproxy.nas(
            target=lookup(nb201, "raspi4"), target_name="raspi4", proxy="pixel3", measurements_path=log, progress=stop_at_five,
            remeasure="never",
        )
    assert len(e.value.measurements) == 5 and len(log.read_text().splitlines()) == 1 + 5
    again = []
    resumed = oneproxy.nas(
        target=lookup(nb201, "raspi4", calls=again), target_name="raspi4", proxy="pixel3", measurements_path=log, remeasure="never"
    )
    assert not set(again) & set(e.value.measurements)
    assert resumed.outcome["chosen"] == whole.outcome["chosen"]


def test_search_and_nas_give_picks_of_one_shape(nb201):
    searched = oneproxy.search("cifar10", device="raspi4", constraints=[4, 0.001])
    flowed = oneproxy.nas("nb201", "cifar10", target=lookup(nb201, "raspi4"), target_name="raspi4", proxy="pixel3", constraints=[4, 0.001])
    for picks in (searched.picks, flowed.picks):
        assert [type(p) for p in picks] == [oneproxy.Pick, oneproxy.Pick]
        fits, none = picks
        assert fits.constraint_ms == 4.0 and fits.latency_ms <= 4.0 and fits.measured and fits["arch"] == fits.arch
        assert none.arch is None and none.latency_ms is None and none.accuracy is None
    assert [f.name for f in dataclasses.fields(searched.picks[0])] == ["constraint_ms", "arch", "latency_ms", "accuracy", "measured"]
    assert flowed.picks[0].as_dict() == {
        "constraint_ms": 4.0,
        **{k: flowed.outcome["picks"][0]["pick"][j] for k, j in [("arch", "arch"), ("latency_ms", "latency"), ("accuracy", "accuracy")]},
        "measured": True,
    }
    # The tuples search used to return still unpack.
    constraint, (arch, latency, accuracy) = searched.picks[0]
    assert (constraint, arch, latency) == (4.0, searched.picks[0].arch, searched.picks[0].latency_ms)
    p = oneproxy.adapt(proxy="pixel3", samples=samples_of(nb201, "raspi4"), target="raspi4")
    assert not oneproxy.search("cifar10", device=p, constraints=[4]).picks[0].measured


def test_results_are_indexed_by_architecture(nb201):
    result = oneproxy.nas(target=lookup(nb201, "raspi4"), target_name="raspi4", proxy="pixel3")
    m = result.measurements
    assert isinstance(m, pd.Series) and m.name == "raspi4" and m.index.name == "arch" and len(m) == result.outcome["measurements"]
    assert isinstance(result.front, pd.DataFrame) and result.front.index.name == "arch"
    plain = oneproxy.nas(target=lookup(nb201, "raspi4"), target_name="raspi4", proxy="pixel3", as_frame=False)
    assert plain.measurements == m.to_dict()


def test_old_latency_keywords_still_work_with_a_deprecation_warning(tmp_path):
    with pytest.warns(DeprecationWarning, match=r"search\(latency=...\) is now search\(device=...\)"):
        old = oneproxy.search(latency="pixel3", as_frame=False)
    assert old.front.rows == oneproxy.search(device="pixel3", as_frame=False).front.rows
    with pytest.warns(DeprecationWarning, match=r"devices\(latency=...\) is now devices\(latency_files=...\)"):
        assert oneproxy.devices(latency=[]) == oneproxy.devices(latency_files=[])
    with pytest.raises(TypeError, match="give latency_files= only"):
        oneproxy.plan(latency=[], latency_files=["x.csv"])


def test_a_users_table_passes_the_same_checks(nb201):
    archs, devices, values = nb201
    keep = [devices.index(d) for d in ("pixel3", "raspi4")]
    frame = pd.DataFrame(values[:, keep], index=pd.Index(archs, name="arch"), columns=["pixel3", "raspi4"])
    frame["raspi4"] /= 1000
    with pytest.warns(UserWarning, match=r"table: column 'raspi4': the median latency .* seconds"):
        oneproxy.monotonicity(frame)
    frame.iloc[3, 0] = -1.0
    with pytest.raises(ValueError, match=r"table: column 'pixel3': entry 4 \('.*'\): latency -1 is not"):
        oneproxy.monotonicity(frame)
    twice = pd.concat([frame.iloc[:5], frame.iloc[:1]]).abs()
    with pytest.raises(ValueError, match=r"table: entry 6 .* given twice \(entries 1 and 6\)"):
        oneproxy.monotonicity(twice)


def test_measurements_made_before_are_not_asked_again(nb201):
    exact = dict(target_name="raspi4", proxy="pixel3", remeasure="never")  # a lookup needs no second value
    whole = oneproxy.nas(target=lookup(nb201, "raspi4"), **exact)
    known = whole.measurements.iloc[:7]  # a Series indexed by arch, as nas gives it
    asked = []
    again = oneproxy.nas(target=lookup(nb201, "raspi4", calls=asked), measurements=known, **exact)
    assert not set(asked) & set(known.index) and len(asked) == whole.outcome["measurements"] - 7
    assert again.outcome["chosen"] == whole.outcome["chosen"]
    with pytest.raises(ValueError, match=r"measurements: column 'raspi4': entry 1 .*latency -1"):
        oneproxy.nas(target=lookup(nb201, "raspi4"), target_name="raspi4", measurements={known.index[0]: -1.0})


def test_a_callable_device_has_its_front_measured_again_unless_told_it_is_exact(nb201):
    asked = []
    result = oneproxy.nas(target=lookup(nb201, "raspi4", calls=asked), target_name="raspi4", proxy="pixel3")
    again = result.outcome.get("remeasurements", 0)
    assert again >= len(result.outcome["chosen"]) and len(asked) == result.outcome["measurements"] + again
    exact = oneproxy.nas(target=lookup(nb201, "raspi4"), target_name="raspi4", proxy="pixel3", remeasure="never")
    assert "remeasurements" not in exact.outcome and exact.outcome["chosen"] == result.outcome["chosen"]
