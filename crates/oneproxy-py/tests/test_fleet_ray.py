"""oneproxy.fleet on a local Ray cluster (started here, 2 CPUs): one actor per device, placed by
its `device:<name>` resource, answering from the recorded table after a sleep per measurement.
The fleet gives the same result as without Ray for the seed, and a killed actor loses nothing.
The wall time against the devices' sequential sum is printed, not asserted (a shared machine)."""

import threading
import time

import pytest

import oneproxy

ray = pytest.importorskip("ray")
from oneproxy.ray import device_actor, device_resource  # noqa: E402

SEED = 5
# Seconds a device spends per measurement: small, so that the test stays short on 2 cores.
DELAY = 0.02
# The flow's settings: its defaults, as `oneproxy evaluate fleet` takes them.
FLOW = dict()


def sleeping_table(column, delay):
    """A device that answers from its recorded column after `delay` s per architecture (built
    here so that Ray pickles it by value: the test module is not importable on the workers)."""

    def measure(archs):
        time.sleep(delay * len(archs))
        return [column[a] for a in archs]

    # As the library's recorded tables: the architectures it holds, the same answer each time.
    measure.domain = [a for a, v in column.items() if v == v]
    measure.exact = True
    return measure


@pytest.fixture(scope="module")
def targets(cli_json):
    """The 28 targets of `oneproxy run` and the CLI's simulated fleet of them, all at once."""
    sim = cli_json("evaluate", "fleet", "--order", "given", "--trials", 1, "--seed", SEED, "--concurrency", 28)
    return [d["target"] for d in sim["runs"][0]["devices"]], sim["runs"][0]["devices"]


@pytest.fixture(scope="module")
def columns(nb201):
    archs, devices, values = nb201
    return {d: dict(zip(archs, values[:, j])) for j, d in enumerate(devices)}


@pytest.fixture(scope="module")
def cluster(targets):
    names, _ = targets
    resources = {device_resource(d): 1 for d in names + ["victim"]}
    ray.init(num_cpus=2, resources=resources, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_all_devices_at_once_on_ray_match_the_simulated_fleet(cluster, targets, columns, capsys):
    names, simulated = targets
    actors = {d: device_actor(d, sleeping_table(columns[d], DELAY)) for d in names}
    assert ray.get([a.name.remote() for a in actors.values()]) == names  # all placed and started
    start = time.perf_counter()
    got = oneproxy.fleet(actors, seed=SEED, concurrency=len(names), as_frame=False, **FLOW)
    wall = time.perf_counter() - start
    plain = oneproxy.fleet({d: sleeping_table(columns[d], 0) for d in names}, seed=SEED, concurrency=len(names), as_frame=False, **FLOW)
    assert got.outcome == plain.outcome
    for d, c in zip(got.devices, simulated):
        assert (d.target, d.proxy, d.proxy_source, d.result.outcome["measurements"]) == (c["target"], c["proxy"], c["proxy_source"], c["measurements"])
    sequential = got.measurements * DELAY
    with capsys.disabled():
        print(f"\nfleet on Ray: {len(names)} devices at once, {got.measurements} measurements at {DELAY} s: wall {wall:.1f} s, sequential sum of the devices' time {sequential:.1f} s")
    for a in actors.values():
        ray.kill(a, no_restart=True)


def test_a_killed_device_actor_resumes_and_the_fleet_loses_no_measurement(cluster, columns, tmp_path):
    # The victim's actor is killed after a few answers; Ray restarts it and retries the call in
    # flight, the other devices go on meanwhile.
    devices = {"victim": "pixel2", "titanx_1": "titanx_1", "titanx_32": "titanx_32"}
    actors = {
        "victim": device_actor("victim", sleeping_table(columns["pixel2"], 0.05)),
        "titanx_1": device_actor("titanx_1", sleeping_table(columns["titanx_1"], DELAY)),
        "titanx_32": device_actor("titanx_32", sleeping_table(columns["titanx_32"], DELAY)),
    }
    answered = {"victim": 0}
    enough = threading.Event()

    def progress(target, event):
        if target == "victim" and event.event == "measured":
            answered["victim"] += 1
            if answered["victim"] == 8:
                enough.set()

    def kill():
        enough.wait(timeout=120)
        ray.kill(actors["victim"], no_restart=False)

    killer = threading.Thread(target=kill)
    killer.start()
    got = oneproxy.fleet(actors, seed=SEED, concurrency=3, log_dir=tmp_path, progress=progress, as_frame=False, **FLOW)
    killer.join()
    assert enough.is_set()
    # The same fleet without Ray nor a kill.
    plain = oneproxy.fleet({n: sleeping_table(columns[c], 0) for n, c in devices.items()}, seed=SEED, concurrency=3, as_frame=False, **FLOW)
    assert got.outcome == plain.outcome
    victim = got.device("victim").result
    assert answered["victim"] == victim.outcome["measurements"]
    # Every answer is in the victim's log, once.
    rows = (tmp_path / "victim.csv").read_text().splitlines()[1:]
    assert len(rows) == victim.outcome["measurements"] == len(victim.measurements)
    assert ray.get(actors["victim"].restarted.remote())  # it came back
    assert not ray.get(actors["titanx_1"].restarted.remote())
    for a in actors.values():
        ray.kill(a, no_restart=True)


def test_a_device_whose_actor_is_gone_resumes_from_its_log_with_a_new_actor(cluster, columns, tmp_path):
    from oneproxy.ray import remote_measure

    # An actor that may not restart: killed after 5 answers, the fleet stops with Ray's error.
    gone = device_actor("victim", sleeping_table(columns["pixel2"], 0.05), max_restarts=0, max_task_retries=0)
    answered = threading.Semaphore(0)

    def progress(target, event):
        if event.event == "measured":
            answered.release()

    def kill():
        for _ in range(5):
            answered.acquire(timeout=60)
        ray.kill(gone, no_restart=True)

    killer = threading.Thread(target=kill)
    killer.start()
    with pytest.raises(ray.exceptions.RayActorError) as stopped:
        oneproxy.fleet({"victim": gone}, seed=SEED, log_dir=tmp_path, progress=progress, **FLOW)
    killer.join()
    logged = len(stopped.value.measurements["victim"])
    assert logged >= 5
    # A new actor for the device: the rerun asks it only for what the log lacks.
    back = remote_measure(device_actor("victim", sleeping_table(columns["pixel2"], 0)))
    asked = []

    def counted(archs):
        asked.extend(archs)
        return back(archs)

    counted.domain, counted.exact = back.domain, back.exact
    got = oneproxy.fleet({"victim": counted}, seed=SEED, log_dir=tmp_path, as_frame=False, **FLOW)
    plain = oneproxy.fleet({"victim": sleeping_table(columns["pixel2"], 0)}, seed=SEED, as_frame=False, **FLOW)
    assert got.outcome == plain.outcome
    assert len(asked) == got.measurements - logged
