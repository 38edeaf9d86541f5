"""oneproxy.fleet with Python callables: the library's fleet, the same for a seed as
`oneproxy evaluate fleet` on the recorded tables, resumable device by device from its logs."""

import json
import threading

import pytest

import oneproxy

TARGETS = ["titanx_1", "titanx_32", "pixel2", "titanxp_1"]
# The flow's settings: its defaults, as `oneproxy evaluate fleet` and `oneproxy run` take them.
FLOW = dict()


@pytest.fixture(scope="module")
def columns(nb201):
    archs, devices, values = nb201
    return {d: dict(zip(archs, values[:, j])) for j, d in enumerate(devices)}


def table_measure(columns, device, calls=None):
    def measure(archs):
        if calls is not None:
            with calls["lock"]:
                calls[device] = calls.get(device, 0) + len(archs)
        return [columns[device][a] for a in archs]

    # What a recorded table says of itself: the architectures it holds, the same answer each time.
    measure.domain = [a for a, v in columns[device].items() if v == v]
    measure.exact = True
    return measure


def test_a_fleet_of_callables_gives_the_cli_simulations_devices_for_the_seed(columns, cli_json):
    targets = {d: table_measure(columns, d) for d in TARGETS}
    got = oneproxy.fleet(targets, seed=3, concurrency=2, as_frame=False, **FLOW)
    want = cli_json("evaluate", "fleet", "--targets", ",".join(TARGETS), "--order", "given", "--trials", 1, "--seed", 3, "--concurrency", 2)
    assert [d.target for d in got.devices] == TARGETS
    for d, c in zip(got.devices, want["runs"][0]["devices"]):
        assert (d.target, d.proxy, d.proxy_source, d.result.outcome["measurements"], d.result.action) == (
            c["target"],
            c["proxy"],
            c["proxy_source"],
            c["measurements"],
            c["action"],
        )
    assert got.measurements == sum(c["measurements"] for c in want["runs"][0]["devices"])
    # Every device's measurements are its table's values.
    for d in got.devices:
        assert len(d.result.measurements) == d.result.outcome["measurements"]
        assert all(columns[d.target][a] == v for a, v in d.result.measurements.items())
    # On the fleet's clock two devices start together; the third takes the slot of the first to
    # end, the fourth the next one to free, each with the members ended by its start.
    spans = [d.span for d in got.devices]
    ends = [s["start"] + s["samples"] + s["candidates"] + s["remeasurements"] for s in spans]
    assert spans[0]["start"] == spans[1]["start"] == 0
    assert spans[2]["start"] == min(ends[:2])
    assert spans[3]["start"] == sorted([max(ends[:2]), ends[2]])[0]
    for i, d in enumerate(got.devices):
        assert d.fleet_pool == [f"fleet-{TARGETS[j]}" for j in sorted(range(i), key=lambda j: (ends[j], j)) if ends[j] <= spans[i]["start"]]
        assert d.confident_members == []
    assert [d.wave for d in got.devices][:2] == [0, 0]
    assert all(s["samples"] + s["candidates"] == d.result.outcome["measurements"] for s, d in zip(spans, got.devices))


def test_a_confident_device_joins_before_it_ends_as_in_the_cli_simulation(columns, cli_json):
    targets = {d: table_measure(columns, d) for d in TARGETS}
    got = oneproxy.fleet(targets, seed=3, concurrency=2, join_regret=5.0, as_frame=False, **FLOW)
    want = cli_json("evaluate", "fleet", "--targets", ",".join(TARGETS), "--order", "given", "--trials", 1, "--seed", 3, "--concurrency", 2, "--join-regret", 5)
    for d, c in zip(got.devices, want["runs"][0]["devices"]):
        assert (d.proxy, d.proxy_source, d.result.outcome["measurements"]) == (c["proxy"], c["proxy_source"], c["measurements"])
    early = [(d, m) for d in got.devices for m in d.confident_members]
    assert early, [d.fleet_pool for d in got.devices]
    by_column = {f"fleet-{d.target}": d for d in got.devices}
    for d, m in early:
        member = by_column[m].span
        assert m in d.fleet_pool
        assert member["start"] + member["samples"] + member["candidates"] + member["remeasurements"] > d.span["start"]
    with pytest.raises(ValueError, match="join_regret"):
        oneproxy.fleet(targets, seed=3, concurrency=2, join_regret=-1.0, **FLOW)


def test_a_stopped_fleet_resumes_every_device_from_its_log(columns, tmp_path):
    calls = {"lock": threading.Lock()}
    broken = {"left": 12}

    def failing(archs):
        broken["left"] -= 1
        if broken["left"] < 0:
            raise ConnectionError("the phone went away")
        return table_measure(columns, "pixel2", calls)(archs)

    failing.exact = True

    targets = {d: table_measure(columns, d, calls) for d in TARGETS}
    targets["pixel2"] = failing
    with pytest.raises(ConnectionError, match="went away") as stopped:
        oneproxy.fleet(targets, seed=1, concurrency=2, log_dir=tmp_path, as_frame=False, **FLOW)
    so_far = stopped.value.measurements
    # 12 answers before the phone went away, long enough for the device after it to start.
    assert len(so_far["pixel2"]) == 12 and so_far["titanxp_1"]
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == sorted(f"{d}.csv" for d in TARGETS)
    first = {d: calls.get(d, 0) for d in TARGETS}
    # The rerun asks each device only for what its log lacks, and ends as an unbroken fleet.
    calls = {"lock": threading.Lock()}
    again = oneproxy.fleet({d: table_measure(columns, d, calls) for d in TARGETS}, seed=1, concurrency=2, log_dir=tmp_path, as_frame=False, **FLOW)
    plain = oneproxy.fleet({d: table_measure(columns, d) for d in TARGETS}, seed=1, concurrency=2, as_frame=False, **FLOW)
    assert again.outcome == plain.outcome
    assert calls.get("titanx_1", 0) == 0 and calls.get("titanxp_1", 0) == 0
    assert calls["pixel2"] == plain.device("pixel2").result.outcome["measurements"] - 12
    assert first["titanx_1"] == plain.device("titanx_1").result.outcome["measurements"]


def test_progress_names_the_device_of_each_event(columns):
    seen = {}
    lock = threading.Lock()

    def progress(target, event):
        with lock:
            if event.event == "measured":
                seen[target] = seen.get(target, 0) + 1

    r = oneproxy.fleet({d: table_measure(columns, d) for d in TARGETS[:2]}, seed=0, concurrency=2, progress=progress, as_frame=False, **FLOW)
    assert seen == {d.target: d.result.outcome["measurements"] for d in r.devices}


def test_a_fleet_refuses_a_target_that_cannot_measure_or_a_named_proxy(columns):
    with pytest.raises(ValueError, match="'pixel2' must be a callable"):
        oneproxy.fleet({"pixel2": 3})
    with pytest.raises(ValueError, match="non-empty dict"):
        oneproxy.fleet({})
    with pytest.raises(ValueError, match="pool of proxies"):
        oneproxy.fleet({"pixel2": table_measure(columns, "pixel2")}, proxy="pixel3")
    with pytest.raises(ValueError, match="concurrency"):
        oneproxy.fleet({"pixel2": table_measure(columns, "pixel2")}, concurrency=0)


def test_the_fleets_outcome_is_the_librarys_json(columns):
    r = oneproxy.fleet({"titanx_1": table_measure(columns, "titanx_1")}, seed=0, **FLOW)
    assert json.loads(json.dumps(r.outcome))["devices"][0]["outcome"]["target"] == "titanx_1"
    # pandas: measurements as a Series named by the device, as nas's.
    pd = pytest.importorskip("pandas")
    assert isinstance(r.devices[0].result.measurements, pd.Series)
    assert r.devices[0].result.measurements.name == "titanx_1"


def test_a_fleet_refuses_a_keyword_the_flow_does_not_have(columns):
    with pytest.raises(TypeError, match="unknown keyword 'sample'"):
        oneproxy.fleet({"pixel2": table_measure(columns, "pixel2")}, sample=3)
    with pytest.raises(TypeError, match="samples"):
        oneproxy.fleet({"pixel2": table_measure(columns, "pixel2")}, samples="six")


def test_ctrl_c_stops_a_fleet_with_its_measurements(columns):
    import _thread
    import time

    def slow(device):
        measure = table_measure(columns, device)

        def timed(archs):
            time.sleep(0.05)
            return measure(archs)

        return timed

    interrupt = threading.Timer(0.3, _thread.interrupt_main)
    first = threading.Lock()

    def progress(target, event):
        # Ctrl-C a little after the first measurement, whatever the machine's speed.
        if event.event == "measured" and first.acquire(blocking=False):
            interrupt.start()

    with pytest.raises(KeyboardInterrupt) as stopped:
        oneproxy.fleet({d: slow(d) for d in TARGETS[:2]}, seed=0, concurrency=2, progress=progress, **FLOW)
    assert 0 < sum(len(m) for m in stopped.value.measurements.values()) < 60
