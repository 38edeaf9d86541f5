"""oneproxy.fleet on a Ray cluster of several nodes (started here on this machine with Ray's own
`cluster_utils`, as `ray start --head` and `ray start --address ... --resources` would on
several hosts): each device's actor lands on the node that offers its `device:<name>` resource,
and the fleet gives the same result as without Ray."""

import time

import pytest

import oneproxy

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")
from oneproxy.ray import device_actor, device_resource  # noqa: E402

SEED = 2
# The flow's settings: its defaults, as `oneproxy evaluate fleet` takes them.
FLOW = dict()
# Which node each device is attached to: two "hosts" besides the fleet's head.
HOSTS = {"lab-gpu": ["titanx_1", "titanx_32"], "lab-phone": ["pixel2"]}


def table(column):
    """A device answering from its recorded column (built here so that Ray pickles it by value)."""

    def measure(archs):
        time.sleep(0.001 * len(archs))
        return [column[a] for a in archs]

    measure.domain = [a for a, v in column.items() if v == v]
    measure.exact = True
    return measure


@pytest.fixture(scope="module")
def nodes():
    """A head without devices and one node per host offering its devices' resources; yields the
    node id of each device's host."""
    if ray.is_initialized():
        ray.shutdown()
    cluster = cluster_utils.Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    where = {}
    for devices in HOSTS.values():
        node = cluster.add_node(num_cpus=1, resources={device_resource(d): 1 for d in devices})
        where.update({d: node.node_id for d in devices})
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    cluster.wait_for_nodes()
    yield where
    ray.shutdown()
    cluster.shutdown()


def test_each_device_runs_on_its_host_and_the_fleet_matches_one_without_ray(nodes, nb201):
    archs, devices, values = nb201
    columns = {d: dict(zip(archs, values[:, j])) for j, d in enumerate(devices)}
    names = [d for host in HOSTS.values() for d in host]
    actors = {d: device_actor(d, table(columns[d])) for d in names}
    placed = {d: ray.get(a.host.remote())[0] for d, a in actors.items()}
    assert placed == nodes
    assert len(set(placed.values())) == len(HOSTS)
    got = oneproxy.fleet(actors, seed=SEED, concurrency=len(names), as_frame=False, **FLOW)
    plain = oneproxy.fleet({d: table(columns[d]) for d in names}, seed=SEED, concurrency=len(names), as_frame=False, **FLOW)
    assert got.outcome == plain.outcome
    assert got.measurements == sum(d.result.outcome["measurements"] for d in got.devices) > 0
    for a in actors.values():
        ray.kill(a, no_restart=True)
