"""oneproxy: hardware-aware NAS across many devices at the cost of one.

Python bindings of the oneproxy Rust library (Lu et al., "One Proxy Device Is Enough for
Hardware-Aware NAS"). Every function calls the library (the same code as the ``oneproxy`` CLI);
this module only shapes the results: tables come back as a ``pandas.DataFrame`` when pandas is
installed and ``as_frame=True``, else as a :class:`Table` of numpy arrays with labels.

Latencies are milliseconds per image; every latency given in memory (the samples of
:func:`adapt`, a table of :func:`monotonicity`, what ``nas``'s ``target`` returns) goes through
the library's checks: an error for what cannot be a latency, a ``UserWarning`` for what looks
wrong (values in seconds, mixed units). Measurements are accepted as a pandas ``Series`` indexed
by architecture, a ``dict`` ``{arch: ms}``, a ``DataFrame`` with columns ``arch`` and
``latency_ms`` or a pair ``(archs, ms)``. Errors are ``ValueError`` (bad input), ``OSError``
(files) or ``RuntimeError`` (solvers), with the CLI's messages.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._native import OnnxTarget, Predictor

__version__: str = _native.__version__

__all__ = [
    "Predictor",
    "OnnxTarget",
    "Table",
    "Monotonicity",
    "Pick",
    "SearchResult",
    "NasResult",
    "NasProgress",
    "FleetDevice",
    "FleetResult",
    "devices",
    "architectures",
    "latency_table",
    "accuracy_table",
    "monotonicity",
    "adapt",
    "plan",
    "search",
    "nas",
    "fleet",
    "export_onnx",
    "flops",
    "defaults",
]

PathLike = Union[str, "os.PathLike[str]"]


def defaults() -> Dict[str, Any]:
    """The library's default of every keyword of :func:`nas`, :func:`adapt`, :func:`search` and
    :func:`monotonicity` that is left ``None``, by function: ``defaults()["nas"]["samples"]``.
    They are declared once, in the Rust library, and shared with the CLI's flags."""
    return _native.defaults()


def _document_defaults(function: Callable, name: str) -> None:
    """Append the library's defaults of ``function``'s keywords to its docstring."""
    listed = ", ".join(f"``{k}={v!r}``" for k, v in sorted(_native.defaults()[name].items()))
    function.__doc__ = f"{function.__doc__}\n\n    Library defaults of the keywords left ``None``: {listed}."


class Table:
    """A labelled table without pandas: ``values[i, j]`` is row ``rows[i]``, column ``columns[j]``.
    ``len(t)`` counts rows and ``t["column"]`` is a column, as with a DataFrame."""

    __slots__ = ("values", "rows", "columns")

    def __init__(self, values: np.ndarray, rows: Sequence[str], columns: Sequence[str]):
        self.values = np.asarray(values)
        self.rows = list(rows)
        self.columns = list(columns)
        if self.values.shape != (len(self.rows), len(self.columns)):
            raise ValueError(f"values of shape {self.values.shape} for {len(self.rows)} rows and {len(self.columns)} columns")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, column: str) -> np.ndarray:
        try:
            return self.values[:, self.columns.index(column)]
        except ValueError:
            raise KeyError(column) from None

    def __repr__(self) -> str:
        return f"Table({len(self.rows)} rows x {len(self.columns)} columns: {', '.join(self.columns[:6])}{', ...' if len(self.columns) > 6 else ''})"


class Monotonicity(NamedTuple):
    """The device correlation matrix (``matrix[i][j]``: devices i and j; NaN where undefined)."""

    matrix: Any
    devices: List[str]
    recommended_proxy: Optional[Dict[str, Any]]
    overlaps: np.ndarray
    metric: str
    min_overlap: int
    not_comparable: List[str]


@dataclass(frozen=True)
class Pick:
    """The most accurate architecture within one latency constraint, the same shape from
    :func:`search` and :func:`nas`. ``arch``, ``latency_ms`` and ``accuracy`` are None where
    nothing fits; ``measured`` says whether ``latency_ms`` was measured on the device (a device's
    table, ``nas``'s measurements) or predicted (a :class:`Predictor`).

    ``pick["arch"]`` reads a field as from a dict. For code written against the tuples
    ``search`` used to return, ``constraint, best = pick`` and ``pick[0]``, ``pick[1]`` still
    give ``(constraint_ms, (arch, latency_ms, accuracy) or None)``."""

    constraint_ms: float
    arch: Optional[str]
    latency_ms: Optional[float]
    accuracy: Optional[float]
    measured: bool

    def _legacy(self) -> Tuple[float, Optional[Tuple[str, float, float]]]:
        best = None if self.arch is None else (self.arch, self.latency_ms, self.accuracy)
        return (self.constraint_ms, best)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._legacy())

    def __len__(self) -> int:
        return 2

    def __getitem__(self, key: Union[str, int]) -> Any:
        if isinstance(key, str):
            if key not in self.__dataclass_fields__:
                raise KeyError(key)
            return getattr(self, key)
        return self._legacy()[key]

    def as_dict(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class SearchResult(NamedTuple):
    """A Pareto front (fastest first) and the best pick within each latency constraint."""

    front: Any
    picks: List[Pick]
    evaluated: int
    method: str
    latency_source: str


class NasResult(NamedTuple):
    """The one-proxy flow's outcome (the fields of ``oneproxy nas --json``) and every measurement
    (``measurements``: a pandas Series indexed by architecture, named by the target, or a dict
    ``{arch: ms}`` without pandas or with ``as_frame=False``)."""

    outcome: Dict[str, Any]
    front: Any
    measurements: Any

    @property
    def proxy(self) -> str:
        return self.outcome["proxy"]

    @property
    def action(self) -> str:
        return self.outcome["action"]

    @property
    def remaining_regret(self) -> Optional[Dict[str, float]]:
        """The flow's own estimate of the regret its front leaves (accuracy points): ``mean``,
        ``bound`` (not exceeded with probability ``level``, 0.8) and ``empty_budgets``."""
        return self.outcome.get("remaining_regret")

    @property
    def reporting_step(self) -> Optional[float]:
        """The step the target reported its latencies in (ms), when coarse enough that the flow
        reads its budgets on it (a phone timed in whole milliseconds: 1.0); ``None`` otherwise."""
        return self.outcome.get("reporting_step")

    @property
    def proxy_ranking(self) -> List[Dict[str, Any]]:
        """The best pool members on the samples (``proxy``, ``spearman``, ``log_pearson``), the
        chosen proxy first: how clear the choice was. ``outcome["proxy_tie"]`` says when several
        tied and what chose among them."""
        return list(self.outcome.get("proxy_ranking", []))

    @property
    def refitted(self) -> bool:
        """Whether the final predictions come from a refit on the candidates' measurements (a
        reused proxy too: its latencies then guided the first round only)."""
        return bool(self.outcome.get("refitted", False))

    @property
    def kept_proxy(self) -> bool:
        """Whether the final predictions are the chosen proxy's own latencies, kept by the refits
        because they predicted the measured candidates better than the adaptation (a proxy
        near-identical to the target)."""
        return bool(self.outcome.get("kept_proxy", False))

    @property
    def picks(self) -> List[Pick]:
        """The pick per constraint, as :class:`Pick` (measured on the target)."""
        return [_pick(p["constraint"], p.get("pick"), True) for p in self.outcome["picks"]]


@dataclass(frozen=True)
class NasProgress:
    """One event of :func:`nas`, for its ``progress`` callable. ``event`` is ``measuring``
    (``requested`` grew), ``measured``, ``failed``, ``decided`` (reuse or adapt the proxy),
    ``adapted``, ``remeasuring`` or ``remeasured`` (the front measured again, which ``measured``
    does not count); ``phase`` is ``samples``, ``adaptation``, ``candidates``, ``decision`` or
    ``remeasure``.
    ``measured`` counts the measurements so far (resumed ones included: the flow asks for them
    too), ``failed`` the architectures that could not be measured, ``requested`` how many the
    flow has asked for up to now (it grows as the flow goes), ``max_measurements`` the bound
    (None: none). ``message`` is the line the CLI prints."""

    event: str
    phase: str
    measured: int
    failed: int
    requested: int
    max_measurements: Optional[int]
    message: str
    arch: Optional[str] = None
    latency_ms: Optional[float] = None


class FleetDevice(NamedTuple):
    """One device of :func:`fleet`: its ``arrival`` index and ``wave`` (which start it shared: 0
    for the devices that started at slot 0, 1 for the next start, ...), where its proxy came from
    (``proxy_source``: ``{"kind": "pool"}``, or ``{"kind": "fleet", "target": ..., "arrival":
    ...}`` for a member that joined before it), the members it could choose from (``fleet_pool``,
    their ``fleet-<target>`` columns; ``confident_members``: those of them still running when it
    started, joined when their model was confident) and its flow's :class:`NasResult`."""

    target: str
    arrival: int
    wave: int
    proxy_source: Dict[str, Any]
    fleet_pool: List[str]
    result: NasResult
    #: Where its measurements fall in the fleet's life, in measurement slots (running devices
    #: measure side by side; each next one starts when one of them ends): ``start``,
    #: ``samples``, ``candidates`` (the rest of its flow) and ``remeasurements``.
    span: Dict[str, int] = {}
    confident_members: List[str] = []

    @property
    def proxy(self) -> str:
        return self.result.proxy

    @property
    def from_fleet(self) -> bool:
        """Whether its proxy was a fleet member."""
        return self.proxy_source.get("kind") == "fleet"


class FleetResult(NamedTuple):
    """What :func:`fleet` did: ``devices`` in arrival order, and ``outcome``, the library's
    record of the whole fleet (``outcome["devices"][i]`` as ``oneproxy evaluate fleet`` runs it)."""

    devices: List[FleetDevice]
    outcome: Dict[str, Any]

    def device(self, target: str) -> FleetDevice:
        """The device named ``target``."""
        for d in self.devices:
            if d.target == target:
                return d
        raise KeyError(f"no device '{target}' in the fleet; it has {', '.join(d.target for d in self.devices)}")

    @property
    def measurements(self) -> int:
        """Target measurements over the whole fleet."""
        return sum(d.result.outcome["measurements"] for d in self.devices)


def _pick(constraint: float, best: Optional[Dict[str, Any]], measured: bool) -> Pick:
    if best is None:
        return Pick(float(constraint), None, None, None, measured)
    return Pick(float(constraint), best["arch"], float(best["latency"]), float(best["accuracy"]), measured)


def _renamed(function: str, old: str, new: str, old_value: Any, new_value: Any) -> Any:
    """The value of a keyword renamed from ``old`` to ``new``: the old one still works, with a
    ``DeprecationWarning``."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise TypeError(f"{function}() got {old}= and {new}=: give {new}= only ({old}= is its old name)")
    warnings.warn(f"{function}({old}=...) is now {function}({new}=...); {old}= will be removed", DeprecationWarning, stacklevel=3)
    return old_value


def _pandas(as_frame: bool):
    if not as_frame:
        return None
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _frame(values: np.ndarray, rows: List[str], columns: List[str], index_name: str, as_frame: bool):
    pd = _pandas(as_frame)
    if pd is None:
        return Table(values, rows, columns)
    frame = pd.DataFrame(values, index=pd.Index(rows, name=index_name), columns=list(columns))
    return frame


Accuracy = Union[str, PathLike, Callable[[List[str]], Sequence[float]], None]


def _accuracy(accuracy: Accuracy, space: Any = "nb201", latency_files: Optional[Sequence[PathLike]] = None) -> Tuple[Any, bool]:
    """A bundled dataset name or a file (and which), None for the library's default dataset.
    An accuracy function (your own predictor: ``f(archs: list[str]) -> list[float]``, percent)
    is called once on the space's candidates (every architecture where the space can list them,
    else those of its latency tables) and its values go to the native side as a file's would."""
    if accuracy is None:
        return None, False
    if callable(accuracy):
        archs = _candidate_archs(space, latency_files)
        name = getattr(accuracy, "__qualname__", None) or type(accuracy).__name__
        values = accuracy(list(archs))
        try:
            values = [float(v) for v in values]
        except (TypeError, ValueError) as e:
            raise ValueError(f"the accuracy function {name} must return numbers (percent), one per architecture: {e}") from e
        return (name, list(archs), values), True
    acc = os.fspath(accuracy)
    return acc, os.sep in acc or acc.endswith(".csv") or os.path.exists(acc)


def _candidate_archs(space: Any, latency_files: Optional[Sequence[PathLike]]) -> List[str]:
    """The architectures an accuracy function is asked about: the whole space where it can be
    listed or has bundled data, else the architectures of the given latency files."""
    listed = _native.architectures(_space(space))
    if listed:
        return listed
    if not latency_files:
        raise ValueError(
            f"the space {os.fspath(space)} is too large to list and has no bundled architectures: give latency_files, "
            "whose architectures the accuracy function is then asked about"
        )
    archs, _names, _values = _native.latency_table(_space(space), None, _paths(latency_files))
    return list(archs)


def _space(space: Union[str, PathLike]) -> str:
    """A space's name, or the path of a space file (``docs/space-file.md``) as a string: the
    native side reads a space file once and knows the space by its name afterwards."""
    return os.fspath(space) if isinstance(space, os.PathLike) else space


def _paths(latency: Optional[Sequence[PathLike]]) -> List[str]:
    return [os.fspath(p) for p in (latency or [])]


def devices(space: str = "nb201", latency_files: Optional[Sequence[PathLike]] = None, *, latency: Optional[Sequence[PathLike]] = None) -> List[Dict[str, Any]]:
    """The devices of a space, as the rows of ``oneproxy devices --json``: ``name``,
    ``archs_measured``, ``source`` (bundled data or a file) and ``simulated`` (latencies from a
    simulator or an estimator, never a default proxy). ``latency_files`` adds CSV files
    (``latency=`` is its old name)."""
    files = _renamed("devices", "latency", "latency_files", latency, latency_files)
    return [
        {"name": n, "archs_measured": k, "source": src, "simulated": sim}
        for n, k, src, sim in _native.devices(_space(space), _paths(files))
    ]


def architectures(space: str = "nb201") -> List[str]:
    """Every architecture of the space (NB201: 15,625), else the bundled ones."""
    return _native.architectures(_space(space))


def latency_table(
    space: str = "nb201",
    devices: Optional[Sequence[str]] = None,
    latency_files: Optional[Sequence[PathLike]] = None,
    as_frame: bool = True,
    *,
    latency: Optional[Sequence[PathLike]] = None,
):
    """The bundled latency table (plus user CSV files ``latency_files``; ``latency=`` is its old
    name): architectures x devices, ms, NaN where a device did not measure an architecture. The
    DataFrame's index is the architecture string; ``frame.attrs["space"]`` names the space."""
    files = _renamed("latency_table", "latency", "latency_files", latency, latency_files)
    archs, names, values = _native.latency_table(_space(space), None if devices is None else list(devices), _paths(files))
    table = _frame(values, archs, names, "arch", as_frame)
    if not isinstance(table, Table):
        table.attrs["space"] = space
    return table


def accuracy_table(space: str = "nb201", dataset: Optional[str] = None, file: Optional[PathLike] = None, as_frame: bool = True):
    """An accuracy table (%): bundled (NB201: cifar10, cifar100, imagenet16-120; None: the
    library's default, ``defaults()["accuracy"]``) or a CSV file with columns ``arch,accuracy``."""
    if file is not None:
        dataset = None
    archs, values = _native.accuracy_table(_space(space), dataset, None if file is None else os.fspath(file))
    return _frame(values.reshape(-1, 1), archs, ["accuracy"], "arch", as_frame)


def _table_parts(table) -> Tuple[List[str], List[str], np.ndarray]:
    if isinstance(table, Table):
        return list(table.rows), list(table.columns), np.asarray(table.values, dtype=np.float64)
    if hasattr(table, "columns") and hasattr(table, "index"):
        return [str(a) for a in table.index], [str(c) for c in table.columns], table.to_numpy(dtype=np.float64)
    raise TypeError("expected a space name, a pandas.DataFrame (index: architectures, columns: devices) or an oneproxy.Table")


def monotonicity(
    table_or_space: Any = "nb201",
    devices: Optional[Sequence[str]] = None,
    metric: Optional[str] = None,
    min_overlap: Optional[int] = None,
    space: Optional[str] = None,
    latency_files: Optional[Sequence[PathLike]] = None,
    as_frame: bool = True,
    *,
    latency: Optional[Sequence[PathLike]] = None,
) -> Monotonicity:
    """Pairwise latency correlation between devices (Spearman by default) and the recommended
    proxy, over a space's bundled table (plus ``latency_files``; ``latency=`` is its old name) or
    over a table of your own (a DataFrame from :func:`latency_table`, or any with architectures
    as index; its latencies pass the library's checks, column by column)."""
    files = _renamed("monotonicity", "latency", "latency_files", latency, latency_files)
    names = [] if devices is None else list(devices)
    if isinstance(table_or_space, (str, os.PathLike)):
        r = _native.monotonicity(_space(table_or_space), names, metric, min_overlap, _paths(files), None)
    else:
        archs, cols, values = _table_parts(table_or_space)
        space = space or getattr(table_or_space, "attrs", {}).get("space") or "nb201"
        blob = np.ascontiguousarray(values, dtype=np.float64).tobytes()
        r = _native.monotonicity(_space(space), names, metric, min_overlap, [], (archs, cols, blob))
    devs = r["devices"]
    pd = _pandas(as_frame)
    matrix = r["matrix"] if pd is None else pd.DataFrame(r["matrix"], index=devs, columns=devs)
    return Monotonicity(
        matrix=matrix,
        devices=devs,
        recommended_proxy=r["recommended_proxy"],
        overlaps=np.asarray(r["overlaps"], dtype=np.int64),
        metric=r["metric"],
        min_overlap=r["min_overlap"],
        not_comparable=r["not_comparable"],
    )


Measurements = Any
"""Latencies by architecture (ms per image): a pandas ``Series`` indexed by architecture, a
``dict`` ``{arch: ms}``, a ``DataFrame`` with an ``arch`` column (or architectures as its index)
and one latency column (``latency_ms``, ``latency`` or ``ms``; or its only column), an
:class:`oneproxy.Table` of one column, or a pair ``(archs, ms)`` of sequences."""
Samples = Measurements

_LATENCY_COLUMNS = ("latency_ms", "latency", "ms")


def _measurements(value: Measurements, argument: str) -> Tuple[List[str], List[float]]:
    """``value`` (any of :data:`Measurements`) as (archs, ms): the one place where Python's
    shapes of measurements are read. The values themselves are checked by the library when they
    arrive (unknown or repeated architectures, latencies that are not positive finite numbers,
    units), with messages that name ``argument``."""
    if value is None:
        raise ValueError(f"{argument} is required: latencies (ms per image) by architecture, e.g. {{arch: ms}} or a pandas Series indexed by arch")
    if isinstance(value, Table):
        if len(value.columns) != 1:
            raise ValueError(f"{argument}: a Table of measurements has one column of latencies, not {len(value.columns)}")
        return _pair(value.rows, value.values[:, 0], argument)
    if hasattr(value, "columns") and hasattr(value, "index"):  # a pandas DataFrame
        columns = [str(c) for c in value.columns]
        archs = value["arch"] if "arch" in columns else value.index
        rest = [c for c in value.columns if str(c) != "arch"]
        named = [c for c in rest if str(c) in _LATENCY_COLUMNS]
        chosen = named if len(named) == 1 else (rest if len(rest) == 1 else [])
        if not chosen:
            raise ValueError(
                f"{argument}: a DataFrame of measurements needs an 'arch' column (or architectures as its index) and one "
                f"latency column ('latency_ms', 'latency' or 'ms'); it has columns {columns}"
            )
        return _pair(archs, value[chosen[0]], argument)
    if hasattr(value, "index") and hasattr(value, "to_numpy"):  # a pandas Series
        return _pair(value.index, value.to_numpy(), argument)
    if isinstance(value, Mapping):
        return _pair(list(value.keys()), list(value.values()), argument)
    if isinstance(value, (tuple, list)) and len(value) == 2 and not isinstance(value[0], str):
        return _pair(value[0], value[1], argument)
    raise TypeError(
        f"{argument}: expected latencies by architecture (a pandas Series indexed by arch, a dict {{arch: ms}}, a DataFrame "
        f"with columns arch and latency_ms, or a pair (archs, ms)); got {type(value).__name__}"
    )


def _pair(archs: Any, ms: Any, argument: str) -> Tuple[List[str], List[float]]:
    names = list(archs)
    for i, a in enumerate(names):
        if not isinstance(a, str):
            raise TypeError(f"{argument}: entry {i + 1} is labelled {a!r} ({type(a).__name__}), not an architecture string")
    try:
        values = np.asarray(ms, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{argument}: the latencies must be numbers (ms per image): {e}") from None
    if values.ndim != 1:
        raise ValueError(f"{argument}: the latencies must be one number per architecture, not of shape {values.shape}")
    return names, values.tolist()


def adapt(
    proxy: Optional[str] = None,
    samples: Samples = None,  # type: ignore[assignment]
    space: str = "nb201",
    pool: Optional[Sequence[str]] = None,
    target: str = "target",
    norm: Optional[str] = None,
    form: Optional[str] = None,
    lambda_: Union[str, float, None] = None,
    folds: Optional[int] = None,
    ensemble: Optional[int] = None,
    latency_files: Optional[Sequence[PathLike]] = None,
    combine: Optional[str] = None,
    *,
    latency: Optional[Sequence[PathLike]] = None,
) -> Predictor:
    """AdaProxy: adapt the proxy's latency predictor to your device from a few measurements,
    ``samples``: a pandas Series indexed by architecture, ``{arch: ms}``, a DataFrame with
    columns ``arch`` and ``latency_ms``, or ``(archs, ms)`` (each gives the same predictor).
    ``latency_files`` adds CSV files of other devices (``latency=`` is its old name).
    ``proxy="auto"`` adapts every device of ``pool``
    (default: all bundled devices). Keywords left ``None`` take the library's defaults (listed
    below). ``combine="averaged"`` (as the CLI's ``--combine``) also fits
    the structure-aware hypotheses and averages every candidate with weights from its
    leave-one-out error; ``"best"`` keeps the ``ensemble`` best corrections. The predictor's
    ``provenance`` holds the adaptation report (``members`` with their ``weight``); ``save``
    writes the CLI's predictor file."""
    files = _renamed("adapt", "latency", "latency_files", latency, latency_files)
    archs, ms = _measurements(samples, "samples")
    predictor, _summary = _native.adapt(
        archs, ms, _space(space), proxy, None if pool is None else list(pool), target, norm, form, lambda_, folds, ensemble, _paths(files), combine
    )
    return predictor


def plan(
    space: str = "nb201",
    budget: int = 10,
    proxy: Optional[str] = None,
    seed: int = 0,
    latency_files: Optional[Sequence[PathLike]] = None,
    *,
    latency: Optional[Sequence[PathLike]] = None,
) -> List[str]:
    """The ``budget`` architectures a new device should measure (they span the proxy's latency
    range and cover every encoding feature); the recommended proxy when ``proxy`` is None.
    ``latency_files`` adds CSV files (``latency=`` is its old name)."""
    files = _renamed("plan", "latency", "latency_files", latency, latency_files)
    _proxy, archs = _native.plan(_space(space), budget, proxy, seed, _paths(files))
    return archs


def search(
    accuracy: Accuracy = None,
    device: Union[str, Predictor, None] = None,
    constraints: Sequence[float] = (),
    method: Optional[str] = None,
    space: str = "nb201",
    population: Optional[int] = None,
    generations: Optional[int] = None,
    seed: Optional[int] = None,
    latency_files: Optional[Sequence[PathLike]] = None,
    as_frame: bool = True,
    *,
    latency: Union[str, Predictor, None] = None,
) -> SearchResult:
    """The Pareto front of accuracy (a bundled dataset name, or a CSV file ``arch,accuracy``)
    against the latency on ``device`` (a device name, or a :class:`Predictor`; ``latency=`` is
    its old name), fastest first, with the most accurate architecture within each constraint
    (ms) as a :class:`Pick`. ``method="evolution"`` runs NSGA-II (seeded) instead of evaluating
    every candidate. ``latency_files`` adds CSV files of devices."""
    device = _renamed("search", "latency", "device", latency, device)
    if device is None:
        raise ValueError("device is required: a device name or a Predictor")
    acc, is_file = _accuracy(accuracy, space, latency_files)
    r = _native.search(
        _space(space),
        device if isinstance(device, str) else None,
        device if isinstance(device, Predictor) else None,
        None if is_file else acc,
        acc if is_file else None,
        [float(c) for c in constraints],
        method,
        population,
        generations,
        seed,
        _paths(latency_files),
    )
    rows = r["front"]
    values = np.array([[lat, a] for _, lat, a in rows], dtype=np.float64).reshape(-1, 2)
    front = _frame(values, [a for a, _, _ in rows], ["latency_ms", "accuracy"], "arch", as_frame)
    measured = not isinstance(device, Predictor)
    picks = [_pick(c, None if best is None else dict(zip(("arch", "latency", "accuracy"), best)), measured) for c, best in r["picks"]]
    return SearchResult(front, picks, r["evaluated"], r["method"], r["latency_source"])


def nas(
    space: str = "nb201",
    accuracy: Accuracy = None,
    target: Union[Callable[[List[str]], Sequence[float]], OnnxTarget] = None,  # type: ignore[assignment]
    proxy: Optional[str] = None,
    samples: Optional[int] = None,
    max_measurements: Optional[int] = None,
    *,
    target_name: str = "target",
    pool: Optional[Sequence[str]] = None,
    sample_set: Optional[str] = None,
    threshold: Optional[float] = None,
    max_samples: Optional[int] = None,
    layers: Optional[int] = None,
    constraints: Sequence[float] = (),
    seed: Optional[int] = None,
    design: Optional[str] = None,
    round_size: Optional[int] = None,
    stop: Optional[float] = None,
    stop_regret: Optional[float] = None,
    min_checks: Optional[int] = None,
    always_adapt: Optional[bool] = None,
    max_failures: Optional[int] = None,
    remeasure: Optional[str] = None,
    measurements_path: Optional[PathLike] = None,
    batch_size: Optional[int] = 1,
    norm: Optional[str] = None,
    form: Optional[str] = None,
    lambda_: Union[str, float, None] = None,
    folds: Optional[int] = None,
    ensemble: Optional[int] = None,
    combine: Optional[str] = None,
    latency_files: Optional[Sequence[PathLike]] = None,
    progress: Optional[Callable[[NasProgress], Any]] = None,
    measurements: Measurements = None,
    as_frame: bool = True,
    latency: Optional[Sequence[PathLike]] = None,
) -> NasResult:
    """One-proxy NAS on your device: ``target(archs) -> latencies`` (ms per image) measures it,
    e.g. by building the PyTorch model and timing it, or by calling a phone. The flow measures a
    few samples, reuses the best proxy or adapts it (AdaProxy), then measures the predicted
    Pareto front and returns the measured front (``oneproxy nas``). Every keyword of the CLI's
    ``nas`` is here, spelled with ``_`` for ``-`` (``--round-size`` is ``round_size``); those
    left ``None`` take the library's defaults (listed below, and in :func:`defaults`).

    ``target`` may be an :class:`OnnxTarget`: the device is then measured by oneproxy's engines
    (tract or a runner) on the models of its builder, as ``oneproxy nas --runner-...`` does: an
    architecture that cannot be built or run is a failed measurement (``max_failures``), and a
    ``measurements_path`` log records the engine, builder and batch, refusing to resume with
    others.

    ``target`` is called with lists of at most ``batch_size`` architectures (None: all those the
    flow asks for at once). An exception it raises comes back as is, noted with the
    architectures; Ctrl-C stops the flow with ``KeyboardInterrupt``. Either way the measurements
    made so far are on the exception (``measurements``) and, with ``measurements_path``, in that
    CSV, from which a rerun resumes without measuring them again.

    ``measurements`` are latencies of the target measured before (any shape of
    :data:`Measurements`, e.g. ``exc.measurements`` of a stopped run): the flow takes them as
    measured and does not ask ``target`` for them again (with ``measurements_path`` they are
    added to the log, which must not hold another value for them).

    ``progress`` is called with a :class:`NasProgress` on each step of the flow (what the CLI's
    progress bar shows): ``measured`` grows by one per measurement and ends at
    ``outcome["measurements"]``. An exception it raises stops the flow as one of ``target``
    does, measurements kept. ``latency_files`` adds CSV files of other devices (``latency=`` is
    its old name). ``target``'s latencies go through the library's checks (a ``UserWarning``
    once they look like seconds).

    ``remeasure`` (``auto``, ``always``, ``never``): measure the final front again before it is
    returned, with measured architectures whose value is in doubt; repeats are combined by their
    median (``outcome["remeasurements"]`` counts them, ``progress`` sees them as ``remeasured``
    events). ``auto`` does so, as ``target`` is a device, not a table.

    ``stop_regret`` is the regret you accept, in accuracy points: the flow also stops once its
    own estimate of what is left to gain (``outcome["remaining_regret"]``) is at most that with
    80% confidence, every budget it believes populated holding a measured pick.

    ``min_checks`` is the fewest candidates the sequential design measures, each predicted
    before it is measured, before its stopping threshold (``stop``) may end it (``None``: the
    library's default, ``defaults()["nas"]["min_checks"]``; 0: no floor)."""
    files = _renamed("nas", "latency", "latency_files", latency, latency_files)
    if target is None:
        raise ValueError("target is required: a callable measure(archs: list[str]) -> list[float] (ms per image)")
    acc, is_file = _accuracy(accuracy, space, files)
    outcome_json, measured = _native.nas(
        target,
        _space(space),
        None if is_file else acc,
        acc if is_file else None,
        target_name,
        proxy,
        None if pool is None else list(pool),
        samples,
        sample_set,
        max_measurements,
        threshold,
        max_samples,
        layers,
        [float(c) for c in constraints],
        seed,
        None if measurements_path is None else os.fspath(measurements_path),
        batch_size,
        norm,
        form,
        lambda_,
        folds,
        ensemble,
        _paths(files),
        combine,
        design,
        round_size,
        stop,
        always_adapt,
        max_failures,
        None if progress is None else (lambda event: progress(NasProgress(**event))),
        None if measurements is None else _measurements(measurements, "measurements"),
        remeasure,
        stop_regret,
        min_checks,
    )
    return _nas_result(json.loads(outcome_json), measured, target_name, as_frame)


def _nas_result(outcome: Dict[str, Any], measured: List[Tuple[str, float]], target_name: str, as_frame: bool) -> NasResult:
    """A flow's outcome (the JSON of ``oneproxy nas``) and its measurements as a :class:`NasResult`."""
    chosen = outcome["chosen"]
    values = np.array([[c["latency"], c["accuracy"]] for c in chosen], dtype=np.float64).reshape(-1, 2)
    front = _frame(values, [c["arch"] for c in chosen], ["latency_ms", "accuracy"], "arch", as_frame)
    pd = _pandas(as_frame)
    if pd is None:
        return NasResult(outcome, front, dict(measured))
    series = pd.Series([v for _, v in measured], index=pd.Index([a for a, _ in measured], name="arch"), name=target_name, dtype="float64")
    return NasResult(outcome, front, series)


def _remote_measure(name: str, target: Any) -> Callable[[List[str]], Sequence[float]]:
    """A fleet target as a callable: a callable as is, a Ray actor handle (anything with a
    ``measure.remote``) through :func:`oneproxy.ray.remote_measure`."""
    method = getattr(target, "measure", None)
    if method is not None and hasattr(method, "remote"):
        from .ray import remote_measure

        return remote_measure(target)
    if callable(target):
        return target
    raise ValueError(f"target '{name}' must be a callable measure(archs) -> latencies (ms) or a Ray actor handle with a measure method")


def fleet(
    targets: Mapping[str, Any],
    space: str = "nb201",
    accuracy: Accuracy = None,
    *,
    concurrency: Optional[int] = None,
    join: bool = True,
    join_regret: Optional[float] = None,
    seed: Optional[int] = None,
    log_dir: Optional[PathLike] = None,
    batch_size: Optional[int] = 1,
    latency_files: Optional[Sequence[PathLike]] = None,
    progress: Optional[Callable[[str, NasProgress], Any]] = None,
    as_frame: bool = True,
    **flow: Any,
) -> FleetResult:
    """A fleet of devices at once: ``targets`` maps each device's name to its measure function
    (``measure(archs) -> latencies``, as :func:`nas`'s ``target``), to an :class:`OnnxTarget`
    (measured by oneproxy's engines, as in :func:`nas`) or to a Ray actor handle whose
    ``measure`` method is called remotely (:func:`oneproxy.ray.device_actor`), in arrival order.
    Devices run the one-proxy flow ``concurrency`` at a time (None: the library's default, one
    at a time; ``len(targets)``: all at once), each next one starting when a running one ends;
    a device joins the pool of the devices that start after it as a ``fleet-<target>`` column
    when it ends, or, with ``join_regret``, as soon as its flow's estimate of the regret it leaves
    is within that many points (with its model then) (``join=False``: nobody joins). The
    same ``seed`` gives the same result whatever the timing, the same as ``oneproxy evaluate
    fleet --order given`` on recorded tables. The initial pool is the latency table without the
    targets' names.

    With ``log_dir``, each device's measurements go to ``<log_dir>/<target>.csv`` as they arrive
    and a rerun resumes every device from its log. An exception of a measure function stops the
    fleet: the devices already measuring finish, the others do not start; the first failed
    device's exception is raised with every device's measurements so far on it
    (``measurements``, a dict by target). ``progress(target, event)`` gets each device's
    :class:`NasProgress` events.

    A measure function may say two things of itself, as the library's oracles do: ``domain``, the
    architecture strings it can measure (a recorded table measured only some; absent or None:
    any), and ``exact``, whether asking again gives the same answer (absent: no, so the final
    front is measured again with ``remeasure="auto"``). Functions backed by recorded tables that
    say both run exactly as ``oneproxy evaluate fleet``'s devices. ``flow`` holds :func:`nas`'s keywords (``samples``, ``proxy``,
    ``pool``, ``stop``, ``remeasure``, ...), the same for every device; ``batch_size`` and
    ``latency_files`` are :func:`nas`'s too."""
    if not isinstance(targets, Mapping) or not targets:
        raise ValueError("targets must be a non-empty dict: device name -> measure callable or Ray actor handle")
    acc, is_file = _accuracy(accuracy, space, latency_files)
    measures = [(str(name), _remote_measure(str(name), t)) for name, t in targets.items()]
    if "constraints" in flow:
        flow["constraints"] = [float(c) for c in flow["constraints"]]
    if flow.get("pool") is not None:
        flow["pool"] = list(flow["pool"])

    def on_event(event: Dict[str, Any]) -> None:
        target = event.pop("target")
        progress(target, NasProgress(**event))  # type: ignore[misc]

    outcome_json, measured = _native.fleet(
        measures,
        _space(space),
        None if is_file else acc,
        acc if is_file else None,
        concurrency,
        join,
        join_regret,
        None if log_dir is None else os.fspath(log_dir),
        batch_size,
        _paths(latency_files),
        None if progress is None else on_event,
        dict(flow, seed=seed),
    )
    outcome = json.loads(outcome_json)
    devices = []
    for d, rows in zip(outcome["devices"], measured):
        target = d["outcome"]["target"]
        result = _nas_result(d["outcome"], rows, target, as_frame)
        devices.append(
            FleetDevice(
                target,
                d["arrival"],
                d["wave"],
                d["proxy_source"],
                list(d["fleet_pool"]),
                result,
                dict(d["span"]),
                list(d.get("confident_members", [])),
            )
        )
    return FleetResult(devices, outcome)


_document_defaults(nas, "nas")
_document_defaults(fleet, "nas")
_document_defaults(adapt, "adapt")
_document_defaults(search, "search")
_document_defaults(monotonicity, "monotonicity")


def export_onnx(
    space: str,
    arch: str,
    path: PathLike,
    batch: int = 1,
    seed: int = 0,
    overwrite: bool = False,
    *,
    builder: Optional[Callable[..., Any]] = None,
    input_shape: Optional[Sequence[int]] = None,
    builder_cmd: Optional[str] = None,
    builder_timeout: Optional[float] = None,
) -> int:
    """Write the architecture as an ONNX model; returns its size in bytes.

    The model is oneproxy's export of the space's network (random weights from ``seed``), or,
    for any space (a space file's too, which has no network), what your ``builder`` returns:
    a callable ``builder(arch, batch)`` (or ``builder(arch)``) giving the ONNX model as
    ``bytes``, an ``onnx.ModelProto``, or a ``torch.nn.Module`` that oneproxy exports with
    ``torch.onnx.export`` on an input of shape ``input_shape=(C, H, W)`` (or the module's own
    attribute ``input_shape``). ``builder_cmd`` is the CLI's ``--builder-cmd`` instead, a
    program that writes the model (``'python build.py {arch} {out}'``). What the builder gives
    must be an ONNX model with one image input ``[batch, C, H, W]``: anything else is a
    ``ValueError`` naming the architecture and the builder; an exception the builder raises
    comes back as it is, noted with the architecture.

    The file is written atomically. An existing file at ``path`` that oneproxy did not write (or
    that changed since) is left alone with an ``OSError`` unless ``overwrite=True``."""
    return _native.export_onnx(
        _space(space),
        arch,
        os.fspath(path),
        batch,
        seed,
        overwrite,
        builder,
        None if input_shape is None else [int(v) for v in input_shape],
        builder_cmd,
        builder_timeout,
    )


def flops(space: str, arch: str) -> int:
    """Multiply-adds of one image through the architecture (see also :func:`params`)."""
    return _native.flops(_space(space), arch)[0]


def params(space: str, arch: str) -> int:
    """Trainable parameters of the architecture."""
    return _native.flops(_space(space), arch)[1]
