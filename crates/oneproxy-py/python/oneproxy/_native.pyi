"""Type stubs of the Rust extension `oneproxy._native` (use the package `oneproxy`)."""

from os import PathLike
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

_Path = Union[str, PathLike[str]]
# An accuracy file, or an accuracy function's (name, architectures, values).
_AccuracyArg = Union[_Path, Tuple[str, List[str], List[float]]]

__version__: str

class Predictor:
    """A latency predictor (ms per image): AdaProxy's result, or a file of `oneproxy adapt --out`."""

    def predict(self, archs: Optional[Iterable[str]] = None, as_frame: bool = True) -> Any:
        """Latencies (ms per image) of `archs` (any iterable of architecture strings; every
        architecture of the space when None): a pandas Series indexed by architecture (index
        name `arch`) and named by the device, or a numpy array in the order of `archs` with
        `as_frame=False` or without pandas."""
    def save(self, path: _Path, overwrite: bool = False) -> None:
        """Write the predictor JSON (atomically), as `oneproxy adapt --out` does; an existing
        file that oneproxy did not write is replaced only with `overwrite=True`."""
    @staticmethod
    def load(path: _Path, latency_files: Sequence[_Path] = ..., *, latency: Optional[Sequence[_Path]] = None) -> "Predictor":
        """Read a predictor JSON (written by `save` or the CLI); `latency_files` adds CSV files
        (`latency=` is its old name: a DeprecationWarning)."""
    @property
    def device(self) -> str: ...
    @property
    def space(self) -> str: ...
    @property
    def provenance(self) -> str:
        """How it was made (the adaptation report), JSON text."""
    def to_json(self) -> str: ...

# What a Python builder returns: ONNX bytes, an onnx.ModelProto, or a torch.nn.Module.
_Builder = Callable[..., Any]
# A command: a shell template (as the CLI's flags) or its words.
_Command = Union[str, Sequence[str]]

class OnnxTarget:
    """A device measured by oneproxy's engines: each architecture's model built (oneproxy's
    export, `builder(arch, batch)` or `builder_cmd`), then timed by tract or a runner, as the
    CLI's `measure` does. Called as `target(archs) -> list[float]` (ms per image); `nas` and
    `fleet` take it as a device and measure it as the CLI's timed oracle."""

    def __init__(
        self,
        space: Union[str, _Path],
        *,
        builder: Optional[_Builder] = None,
        builder_cmd: Optional[str] = None,
        builder_timeout: Optional[float] = None,
        input_shape: Optional[Sequence[int]] = None,
        runner_cmd: Optional[_Command] = None,
        runner_regex: Optional[str] = None,
        runner_persistent: Optional[_Command] = None,
        runner_timeout: Optional[float] = None,
        runner_start_timeout: Optional[float] = None,
        runner_restarts: Optional[int] = None,
        runs: Optional[int] = None,
        warmup: Optional[int] = None,
        max_time: Optional[float] = None,
        batch: int = 1,
        threads: int = 1,
        clock: Optional[str] = None,
        prune_dead: bool = False,
        seed: int = 0,
    ) -> None: ...
    def __call__(self, archs: List[str]) -> List[float]:
        """Latencies (ms per image), measured one architecture after another; the first that
        cannot be measured raises (the builder's exception noted with the architecture, a
        ValueError for what it returned, a RuntimeError for the engine)."""
    @property
    def settings(self) -> Dict[str, str]:
        """What changes the numbers (engine, builder, batch, prune_dead), recorded by a measurement log."""
    @property
    def engine(self) -> str: ...
    @property
    def batch(self) -> int: ...
    @property
    def builder(self) -> str:
        """`python:<module>.<name>`, the builder command, or `oneproxy`."""
    @property
    def exact(self) -> bool: ...
    def close(self) -> None:
        """Stop the engine (a persistent runner exits); measuring afterwards is an error."""
    def __enter__(self) -> "OnnxTarget": ...
    def __exit__(self, *args: Any) -> bool: ...

def devices(space: str = "nb201", latency: Sequence[_Path] = ...) -> List[Tuple[str, int, str, bool]]:
    """(name, architectures measured, source, simulated) per device."""
def architectures(space: str = "nb201") -> List[str]: ...
def latency_table(
    space: str = "nb201", devices: Optional[Sequence[str]] = None, latency: Sequence[_Path] = ...
) -> Tuple[List[str], List[str], np.ndarray]: ...
def accuracy_table(space: str = "nb201", dataset: Optional[str] = None, file: Optional[_Path] = None) -> Tuple[List[str], np.ndarray]: ...
def monotonicity(
    space: str = "nb201",
    devices: Sequence[str] = ...,
    metric: Optional[str] = None,
    min_overlap: Optional[int] = None,
    latency: Sequence[_Path] = ...,
    table: Optional[Tuple[List[str], List[str], bytes]] = None,
) -> Dict[str, Any]: ...
def plan(space: str = "nb201", budget: int = 10, proxy: Optional[str] = None, seed: int = 0, latency: Sequence[_Path] = ...) -> Tuple[str, List[str]]: ...
def search(
    space: str = "nb201",
    device: Optional[str] = None,
    predictor: Optional[Predictor] = None,
    dataset: Optional[str] = None,
    accuracy_file: Optional[_AccuracyArg] = None,
    constraints: Sequence[float] = ...,
    method: Optional[str] = None,
    population: Optional[int] = None,
    generations: Optional[int] = None,
    seed: Optional[int] = None,
    latency: Sequence[_Path] = ...,
) -> Dict[str, Any]: ...
def adapt(
    archs: Sequence[str],
    latency_ms: Sequence[float],  # checked as `samples` (the library's latency checks)
    space: str = "nb201",
    proxy: Optional[str] = None,
    pool: Optional[Sequence[str]] = None,
    target: str = "target",
    norm: Optional[str] = None,
    form: Optional[str] = None,
    lambda_: Union[str, float, None] = None,
    folds: Optional[int] = None,
    ensemble: Optional[int] = None,
    latency: Sequence[_Path] = ...,
    combine: Optional[str] = None,
) -> Tuple[Predictor, str]: ...
def nas(
    target: Union[Callable[[List[str]], Sequence[float]], OnnxTarget],
    space: str = "nb201",
    dataset: Optional[str] = None,
    accuracy_file: Optional[_AccuracyArg] = None,
    target_name: str = "target",
    proxy: Optional[str] = None,
    pool: Optional[Sequence[str]] = None,
    samples: Optional[int] = None,
    sample_set: Optional[str] = None,
    max_measurements: Optional[int] = None,
    threshold: Optional[float] = None,
    max_samples: Optional[int] = None,
    layers: Optional[int] = None,
    constraints: Sequence[float] = ...,
    seed: Optional[int] = None,
    measurements_path: Optional[_Path] = None,
    batch_size: Optional[int] = 1,
    norm: Optional[str] = None,
    form: Optional[str] = None,
    lambda_: Union[str, float, None] = None,
    folds: Optional[int] = None,
    ensemble: Optional[int] = None,
    latency: Sequence[_Path] = ...,
    combine: Optional[str] = None,
    design: Optional[str] = None,
    round_size: Optional[int] = None,
    stop: Optional[float] = None,
    always_adapt: Optional[bool] = None,
    max_failures: Optional[int] = None,
    progress: Optional[Callable[[Dict[str, Any]], Any]] = None,
    measurements: Optional[Tuple[Sequence[str], Sequence[float]]] = None,
    remeasure: Optional[str] = None,
    stop_regret: Optional[float] = None,
    min_checks: Optional[int] = None,
) -> Tuple[str, List[Tuple[str, float]]]:
    """`progress(event)` gets dicts with `event`, `phase`, `measured`, `failed`, `requested`,
    `max_measurements`, `message` (and `arch`, `latency_ms` where one architecture is meant)."""
def fleet(
    targets: Sequence[Tuple[str, Callable[[List[str]], Sequence[float]]]],
    space: str = "nb201",
    dataset: Optional[str] = None,
    accuracy_file: Optional[_AccuracyArg] = None,
    concurrency: Optional[int] = None,
    join: bool = True,
    join_regret: Optional[float] = None,
    log_dir: Optional[_Path] = None,
    batch_size: Optional[int] = 1,
    latency: Sequence[_Path] = ...,
    progress: Optional[Callable[[Dict[str, Any]], Any]] = None,
    flow: Optional[Dict[str, Any]] = None,
) -> Tuple[str, List[List[Tuple[str, float]]]]:
    """The fleet's outcome (JSON) and each device's measurements, in arrival order. `flow` holds
    `nas`'s flow keywords; `progress` gets `nas`'s event dicts with the device's `target` added."""
def defaults() -> Dict[str, Any]:
    """The library's default of every keyword left None, by function (`nas`, `adapt`, `search`, `monotonicity`)."""
def export_onnx(
    space: str,
    arch: str,
    path: _Path,
    batch: int = 1,
    seed: int = 0,
    overwrite: bool = False,
    builder: Optional[_Builder] = None,
    input_shape: Optional[Sequence[int]] = None,
    builder_cmd: Optional[str] = None,
    builder_timeout: Optional[float] = None,
) -> int: ...
def flops(space: str, arch: str) -> Tuple[int, int]: ...
