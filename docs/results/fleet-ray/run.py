"""The fleet on a local Ray cluster: every device an actor that answers from its recorded NB201
column after sleeping `--delay` seconds per measurement (a stand-in for timing a model on it).

Runs the 28 targets of `oneproxy run` at once through Ray, then the same fleet without Ray and
without sleeping, and prints: the wall time through Ray, the sequential sum (what measuring the
devices one after the other would take: measurements x delay), the compute-only wall time of the
same fleet, and whether the two fleets' outcomes are identical (they must be, for the seed).

    python docs/results/fleet-ray/run.py --delay 0.1 --seed 5
    python docs/results/fleet-ray/run.py --delay 0.5 --seed 5 --json

Needs the package with its Ray extra (`pip install oneproxy[ray]`) and the `oneproxy` CLI on
PATH or in ONEPROXY_BIN (for the targets and the simulated fleet to compare with).
"""

import argparse
import json
import os
import subprocess
import time

import ray

import oneproxy
from oneproxy.ray import device_actor, device_resource


def recorded_device(values, delay):
    """A device answering from its recorded column (arch -> ms) after `delay` s per architecture."""

    def measure(archs):
        time.sleep(delay * len(archs))
        return [values[a] for a in archs]

    measure.domain = [a for a, v in values.items() if v == v]  # what the table holds
    measure.exact = True  # a recorded value is the same every time
    return measure


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--delay", type=float, default=0.1, help="seconds per measurement")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--samples", type=int, default=6, help="initial samples (as `oneproxy run`)")
    p.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    cli = os.environ.get("ONEPROXY_BIN", "oneproxy")
    sim = json.loads(
        subprocess.run(
            [cli, "evaluate", "fleet", "--order", "given", "--trials", "1", "--seed", str(a.seed), "--concurrency", "28", "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    simulated = sim["runs"][0]["devices"]
    targets = [d["target"] for d in simulated]
    table = oneproxy.latency_table("nb201", as_frame=False)
    columns = {d: dict(zip(table.rows, table.values[:, j])) for j, d in enumerate(table.columns)}

    ray.init(num_cpus=a.num_cpus, resources={device_resource(t): 1 for t in targets}, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter()
    actors = {t: device_actor(t, recorded_device(columns[t], a.delay)) for t in targets}
    ray.get([h.name.remote() for h in actors.values()])
    startup = time.perf_counter() - started

    started = time.perf_counter()
    on_ray = oneproxy.fleet(actors, seed=a.seed, concurrency=len(targets), samples=a.samples, as_frame=False)
    wall = time.perf_counter() - started
    ray.shutdown()

    started = time.perf_counter()
    local = oneproxy.fleet({t: recorded_device(columns[t], 0.0) for t in targets}, seed=a.seed, concurrency=len(targets), samples=a.samples, as_frame=False)
    compute = time.perf_counter() - started

    per_device = [d.result.outcome["measurements"] for d in on_ray.devices]
    same_as_cli = all(
        (d.proxy, d.result.outcome["measurements"], d.proxy_source) == (s["proxy"], s["measurements"], s["proxy_source"])
        for d, s in zip(on_ray.devices, simulated)
    )
    figures = {
        "devices": len(targets),
        "delay_s": a.delay,
        "num_cpus": a.num_cpus,
        "measurements": sum(per_device),
        "most_measurements_on_one_device": max(per_device),
        "actors_started_s": round(startup, 2),
        "wall_on_ray_s": round(wall, 2),
        "sequential_sum_s": round(sum(per_device) * a.delay, 2),
        "slowest_device_alone_s": round(max(per_device) * a.delay, 2),
        "compute_only_wall_s": round(compute, 2),
        "identical_to_the_fleet_without_ray": on_ray.outcome == local.outcome,
        "identical_to_oneproxy_evaluate_fleet": same_as_cli,
    }
    if a.json:
        print(json.dumps(figures, indent=2))
    else:
        for k, v in figures.items():
            print(f"{k:40} {v}")


if __name__ == "__main__":
    main()
