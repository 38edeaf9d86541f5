"""oneproxy: hardware-aware NAS across many devices at the cost of one.

Python bindings of the oneproxy Rust library (Lu et al., "One Proxy Device Is Enough for
Hardware-Aware NAS"). Every function calls the library (the same code as the ``oneproxy`` CLI);
this module only shapes the results: tables come back as a ``pandas.DataFrame`` when pandas is
installed and ``as_frame=True``, else as a :class:`Table` of numpy arrays with labels.

Latencies are milliseconds per image. Errors are ``ValueError`` (bad input), ``OSError`` (files)
or ``RuntimeError`` (solvers), with the CLI's messages.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._native import Predictor

__version__: str = _native.__version__

__all__ = [
    "Predictor",
    "Table",
    "Monotonicity",
    "SearchResult",
    "NasResult",
    "devices",
    "architectures",
    "latency_table",
    "accuracy_table",
    "monotonicity",
    "adapt",
    "plan",
    "search",
    "nas",
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


class SearchResult(NamedTuple):
    """A Pareto front (fastest first) and the best pick within each latency constraint."""

    front: Any
    picks: List[Tuple[float, Optional[Tuple[str, float, float]]]]
    evaluated: int
    method: str
    latency_source: str


class NasResult(NamedTuple):
    """The one-proxy flow's outcome (the fields of ``oneproxy nas --json``) and every measurement."""

    outcome: Dict[str, Any]
    front: Any
    measurements: Dict[str, float]

    @property
    def proxy(self) -> str:
        return self.outcome["proxy"]

    @property
    def action(self) -> str:
        return self.outcome["action"]


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


def _accuracy(accuracy: Union[str, PathLike, None]) -> Tuple[Optional[str], bool]:
    """A bundled dataset name or a file (and which), None for the library's default dataset."""
    if accuracy is None:
        return None, False
    acc = os.fspath(accuracy)
    return acc, os.sep in acc or acc.endswith(".csv") or os.path.exists(acc)


def _paths(latency: Optional[Sequence[PathLike]]) -> List[str]:
    return [os.fspath(p) for p in (latency or [])]


def devices(space: str = "nb201", latency: Optional[Sequence[PathLike]] = None) -> List[Dict[str, Any]]:
    """The devices of a space: name, architectures measured, source (bundled data or a file)."""
    return [
        {"name": n, "archs_measured": k, "source": s}
        for n, k, s in _native.devices(space, _paths(latency))
    ]


def architectures(space: str = "nb201") -> List[str]:
    """Every architecture of the space (NB201: 15,625), else the bundled ones."""
    return _native.architectures(space)


def latency_table(
    space: str = "nb201",
    devices: Optional[Sequence[str]] = None,
    latency: Optional[Sequence[PathLike]] = None,
    as_frame: bool = True,
):
    """The bundled latency table (plus user CSV files): architectures x devices, ms, NaN where
    a device did not measure an architecture. The DataFrame's index is the architecture string;
    ``frame.attrs["space"]`` names the space."""
    archs, names, values = _native.latency_table(space, None if devices is None else list(devices), _paths(latency))
    table = _frame(values, archs, names, "arch", as_frame)
    if not isinstance(table, Table):
        table.attrs["space"] = space
    return table


def accuracy_table(space: str = "nb201", dataset: Optional[str] = None, file: Optional[PathLike] = None, as_frame: bool = True):
    """An accuracy table (%): bundled (NB201: cifar10, cifar100, imagenet16-120; None: the
    library's default, ``defaults()["accuracy"]``) or a CSV file with columns ``arch,accuracy``."""
    if file is not None:
        dataset = None
    archs, values = _native.accuracy_table(space, dataset, None if file is None else os.fspath(file))
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
    latency: Optional[Sequence[PathLike]] = None,
    as_frame: bool = True,
) -> Monotonicity:
    """Pairwise latency correlation between devices (Spearman by default) and the recommended
    proxy, over a space's bundled table (plus ``latency`` files) or over a table of your own
    (a DataFrame from :func:`latency_table`, or any with architectures as index)."""
    names = [] if devices is None else list(devices)
    if isinstance(table_or_space, str):
        r = _native.monotonicity(table_or_space, names, metric, min_overlap, _paths(latency), None)
    else:
        archs, cols, values = _table_parts(table_or_space)
        space = space or getattr(table_or_space, "attrs", {}).get("space") or "nb201"
        blob = np.ascontiguousarray(values, dtype=np.float64).tobytes()
        r = _native.monotonicity(space, names, metric, min_overlap, [], (archs, cols, blob))
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


Samples = Union[Dict[str, float], Tuple[Sequence[str], Sequence[float]]]


def _samples(samples: Samples) -> Tuple[List[str], List[float]]:
    if isinstance(samples, dict):
        return list(samples.keys()), [float(v) for v in samples.values()]
    archs, ms = samples
    return [str(a) for a in archs], [float(v) for v in np.asarray(ms, dtype=np.float64)]


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
    latency: Optional[Sequence[PathLike]] = None,
    combine: Optional[str] = None,
) -> Predictor:
    """AdaProxy: adapt the proxy's latency predictor to your device from a few measurements,
    ``samples={arch: ms}`` or ``(archs, ms)``. ``proxy="auto"`` adapts every device of ``pool``
    (default: all bundled devices). Keywords left ``None`` take the library's defaults (listed
    below). ``combine="averaged"`` (as the CLI's ``--combine``) also fits
    the structure-aware hypotheses and averages every candidate with weights from its
    leave-one-out error; ``"best"`` keeps the ``ensemble`` best corrections. The predictor's
    ``provenance`` holds the adaptation report (``members`` with their ``weight``); ``save``
    writes the CLI's predictor file."""
    if samples is None:
        raise ValueError("samples are required: {arch: ms} or (archs, ms) measured on the target")
    archs, ms = _samples(samples)
    predictor, _summary = _native.adapt(
        archs, ms, space, proxy, None if pool is None else list(pool), target, norm, form, lambda_, folds, ensemble, _paths(latency), combine
    )
    return predictor


def plan(space: str = "nb201", budget: int = 10, proxy: Optional[str] = None, seed: int = 0, latency: Optional[Sequence[PathLike]] = None) -> List[str]:
    """The ``budget`` architectures a new device should measure (they span the proxy's latency
    range and cover every encoding feature); the recommended proxy when ``proxy`` is None."""
    _proxy, archs = _native.plan(space, budget, proxy, seed, _paths(latency))
    return archs


def search(
    accuracy: Union[str, PathLike, None] = None,
    latency: Union[str, Predictor, None] = None,
    constraints: Sequence[float] = (),
    method: Optional[str] = None,
    space: str = "nb201",
    population: Optional[int] = None,
    generations: Optional[int] = None,
    seed: Optional[int] = None,
    latency_files: Optional[Sequence[PathLike]] = None,
    as_frame: bool = True,
) -> SearchResult:
    """The Pareto front of accuracy (a bundled dataset name, or a CSV file ``arch,accuracy``)
    against latency (a device name, or a :class:`Predictor`), fastest first, with the most
    accurate architecture within each constraint (ms). ``method="evolution"`` runs NSGA-II
    (seeded) instead of evaluating every candidate."""
    if latency is None:
        raise ValueError("latency is required: a device name or a Predictor")
    acc, is_file = _accuracy(accuracy)
    r = _native.search(
        space,
        latency if isinstance(latency, str) else None,
        latency if isinstance(latency, Predictor) else None,
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
    return SearchResult(front, list(r["picks"]), r["evaluated"], r["method"], r["latency_source"])


def nas(
    space: str = "nb201",
    accuracy: Union[str, PathLike, None] = None,
    target: Callable[[List[str]], Sequence[float]] = None,  # type: ignore[assignment]
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
    always_adapt: Optional[bool] = None,
    max_failures: Optional[int] = None,
    measurements_path: Optional[PathLike] = None,
    batch_size: Optional[int] = 1,
    norm: Optional[str] = None,
    form: Optional[str] = None,
    lambda_: Union[str, float, None] = None,
    folds: Optional[int] = None,
    ensemble: Optional[int] = None,
    combine: Optional[str] = None,
    latency: Optional[Sequence[PathLike]] = None,
    as_frame: bool = True,
) -> NasResult:
    """One-proxy NAS on your device: ``target(archs) -> latencies`` (ms per image) measures it,
    e.g. by building the PyTorch model and timing it, or by calling a phone. The flow measures a
    few samples, reuses the best proxy or adapts it (AdaProxy), then measures the predicted
    Pareto front and returns the measured front (``oneproxy nas``). Every keyword of the CLI's
    ``nas`` is here, spelled with ``_`` for ``-`` (``--round-size`` is ``round_size``); those
    left ``None`` take the library's defaults (listed below, and in :func:`defaults`).

    ``target`` is called with lists of at most ``batch_size`` architectures (None: all those the
    flow asks for at once). An exception it raises comes back as is, noted with the
    architectures; Ctrl-C stops the flow with ``KeyboardInterrupt``. Either way the measurements
    made so far are on the exception (``measurements``) and, with ``measurements_path``, in that
    CSV, from which a rerun resumes without measuring them again."""
    if target is None:
        raise ValueError("target is required: a callable measure(archs: list[str]) -> list[float] (ms per image)")
    acc, is_file = _accuracy(accuracy)
    outcome_json, measured = _native.nas(
        target,
        space,
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
        _paths(latency),
        combine,
        design,
        round_size,
        stop,
        always_adapt,
        max_failures,
    )
    outcome = json.loads(outcome_json)
    chosen = outcome["chosen"]
    values = np.array([[c["latency"], c["accuracy"]] for c in chosen], dtype=np.float64).reshape(-1, 2)
    front = _frame(values, [c["arch"] for c in chosen], ["latency_ms", "accuracy"], "arch", as_frame)
    return NasResult(outcome, front, dict(measured))


_document_defaults(nas, "nas")
_document_defaults(adapt, "adapt")
_document_defaults(search, "search")
_document_defaults(monotonicity, "monotonicity")


def export_onnx(space: str, arch: str, path: PathLike, batch: int = 1, seed: int = 0, overwrite: bool = False) -> int:
    """Write the architecture as an ONNX model (random weights from ``seed``); returns its size in bytes.

    An existing file at ``path`` that oneproxy did not write (or that changed since) is left alone
    with a ``ValueError`` unless ``overwrite=True``."""
    return _native.export_onnx(space, arch, os.fspath(path), batch, seed, overwrite)


def flops(space: str, arch: str) -> int:
    """Multiply-adds of one image through the architecture (see also :func:`params`)."""
    return _native.flops(space, arch)[0]


def params(space: str, arch: str) -> int:
    """Trainable parameters of the architecture."""
    return _native.flops(space, arch)[1]
