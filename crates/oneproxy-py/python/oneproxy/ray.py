"""Ray as the fleet's distributed engine (``pip install oneproxy[ray]``).

Each device is a Ray actor placed by a custom resource, ``{"device:<name>": 1}``, which only the
host the device is attached to offers (``ray start --address=... --resources='{"device:pixel7":
1}'``): the actor, and so the measure function, runs where the device is. :func:`oneproxy.fleet`
takes the actor handles as targets and calls their ``measure`` method remotely, one request at a
time per device, waiting with the GIL released.

A device that dies (its host reboots, the actor process is killed) does not stop the fleet:
actors made here restart without limit (``max_restarts=-1``) and a call in flight is retried once
the actor is back (``max_task_retries=-1``, Ray's at-least-once semantics: the device may time a
batch twice, the flow keeps one answer). What the device answered before is in its measurement
log, so nothing measured is lost; the other devices go on meanwhile. This module imports Ray:
``import oneproxy`` alone does not.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import ray

__all__ = ["device_resource", "device_actor", "remote_measure"]


def device_resource(name: str) -> str:
    """The custom resource that places device ``name``'s actor: ``device:<name>``."""
    return f"device:{name}"


class _Device:
    """The actor behind one device: ``measure`` calls the user's function there. A class given as
    ``measure`` is instantiated on the actor (once per start, e.g. to open the device's
    connection) and then called."""

    def __init__(self, name: str, arguments: Tuple[Callable[..., Any], Sequence[Any]]):
        measure, args = arguments
        self._name = name
        self._measure = measure(*args) if isinstance(measure, type) else measure

    def measure(self, archs: List[str]) -> List[float]:
        return [float(v) for v in self._measure(list(archs))]

    def name(self) -> str:
        return self._name

    def host(self) -> Tuple[str, str]:
        """Where the device's actor runs: the Ray node's id and its IP address (to check that
        each device landed on the host it is attached to)."""
        context = ray.get_runtime_context()
        return context.get_node_id(), ray.util.get_node_ip_address()

    def restarted(self) -> bool:
        """Whether this actor is a restart of the device's first one."""
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)

    def describe(self) -> Tuple[Optional[List[str]], bool]:
        """What the measure function says of itself: ``domain`` and ``exact`` (see
        :func:`oneproxy.fleet`)."""
        domain = getattr(self._measure, "domain", None)
        return (None if domain is None else list(domain)), bool(getattr(self._measure, "exact", False))


_RemoteDevice = ray.remote(_Device)


def device_actor(
    name: str,
    measure: Callable[..., Any],
    *args: Any,
    resources: Optional[Dict[str, float]] = None,
    num_cpus: float = 0,
    max_restarts: int = -1,
    max_task_retries: int = -1,
    **options: Any,
) -> Any:
    """Start the actor of device ``name`` on the host that offers ``device:<name>`` and return its
    handle, for :func:`oneproxy.fleet`'s ``targets``. ``measure(archs) -> latencies`` (ms per
    image) runs on that host; a class is instantiated there with ``args`` and is then called.
    ``resources`` replaces the placement (``{}``: anywhere); ``num_cpus`` is what the actor
    reserves (0: a device's host CPU is not the fleet's to count); the restart settings are those
    described in the module's docstring; ``options`` go to Ray's ``.options`` (``name``,
    ``runtime_env``, ...)."""
    placement = {device_resource(name): 1} if resources is None else dict(resources)
    actor = _RemoteDevice.options(
        resources=placement,
        num_cpus=num_cpus,
        max_restarts=max_restarts,
        max_task_retries=max_task_retries,
        **options,
    )
    # The function and its arguments go to the object store under a reference this handle keeps:
    # Ray releases a creation task's own large arguments once the actor is up, and a restart
    # would then find them gone.
    arguments = ray.put((measure, list(args)))
    handle = actor.remote(name, arguments)
    handle._oneproxy_arguments = arguments
    return handle


def remote_measure(handle: Any) -> Callable[[List[str]], List[float]]:
    """A measure function that calls ``handle.measure`` remotely and waits for the answer (the GIL
    is released while Ray waits), with the ``domain`` and ``exact`` of the device's function. An actor that is restarting makes the call wait, with the
    restart settings of :func:`device_actor`; one that is gone for good raises Ray's
    ``RayActorError``, which stops the fleet with every measurement kept in its log."""

    def measure(archs: List[str]) -> List[float]:
        return ray.get(handle.measure.remote(list(archs)))

    # What the device's function says of itself (waits for the actor to start).
    measure.domain, measure.exact = ray.get(handle.describe.remote())  # type: ignore[attr-defined]
    return measure
