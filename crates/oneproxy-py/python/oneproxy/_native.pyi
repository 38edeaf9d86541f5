"""Type stubs of the Rust extension `oneproxy._native` (use the package `oneproxy`)."""

from os import PathLike
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

_Path = Union[str, PathLike[str]]

__version__: str

class Predictor:
    """A latency predictor (ms per image): AdaProxy's result, or a file of `oneproxy adapt --out`."""

    def predict(self, archs: Optional[Sequence[str]] = None) -> np.ndarray:
        """Latencies of `archs` (every architecture of the space when None)."""
    def save(self, path: _Path, overwrite: bool = False) -> None:
        """Write the predictor JSON (atomically), as `oneproxy adapt --out` does; an existing
        file that oneproxy did not write is replaced only with `overwrite=True`."""
    @staticmethod
    def load(path: _Path, latency: Sequence[_Path] = ...) -> "Predictor":
        """Read a predictor JSON (written by `save` or the CLI)."""
    @property
    def device(self) -> str: ...
    @property
    def space(self) -> str: ...
    @property
    def provenance(self) -> str:
        """How it was made (the adaptation report), JSON text."""
    def to_json(self) -> str: ...

def devices(space: str = "nb201", latency: Sequence[_Path] = ...) -> List[Tuple[str, int, str]]: ...
def architectures(space: str = "nb201") -> List[str]: ...
def latency_table(
    space: str = "nb201", devices: Optional[Sequence[str]] = None, latency: Sequence[_Path] = ...
) -> Tuple[List[str], List[str], np.ndarray]: ...
def accuracy_table(space: str = "nb201", dataset: Optional[str] = None, file: Optional[_Path] = None) -> Tuple[List[str], np.ndarray]: ...
def monotonicity(
    space: str = "nb201",
    devices: Sequence[str] = ...,
    metric: str = "spearman",
    min_overlap: int = 30,
    latency: Sequence[_Path] = ...,
    table: Optional[Tuple[List[str], List[str], bytes]] = None,
) -> Dict[str, Any]: ...
def plan(space: str = "nb201", budget: int = 10, proxy: Optional[str] = None, seed: int = 0, latency: Sequence[_Path] = ...) -> Tuple[str, List[str]]: ...
def search(
    space: str = "nb201",
    device: Optional[str] = None,
    predictor: Optional[Predictor] = None,
    dataset: Optional[str] = None,
    accuracy_file: Optional[_Path] = None,
    constraints: Sequence[float] = ...,
    method: str = "exhaustive",
    population: int = 300,
    generations: int = 40,
    seed: int = 0,
    latency: Sequence[_Path] = ...,
) -> Dict[str, Any]: ...
def adapt(
    archs: Sequence[str],
    latency_ms: Sequence[float],
    space: str = "nb201",
    proxy: str = "auto",
    pool: Optional[Sequence[str]] = None,
    target: str = "target",
    norm: str = "ridge",
    form: str = "auto",
    lambda_: Union[str, float, None] = None,
    folds: int = 0,
    ensemble: int = 3,
    latency: Sequence[_Path] = ...,
    combine: str = "averaged",
) -> Tuple[Predictor, str]: ...
def nas(
    target: Callable[[List[str]], Sequence[float]],
    space: str = "nb201",
    dataset: Optional[str] = None,
    accuracy_file: Optional[_Path] = None,
    target_name: str = "target",
    proxy: str = "auto",
    pool: Optional[Sequence[str]] = None,
    samples: int = 10,
    sample_set: str = "random",
    max_measurements: Optional[int] = None,
    threshold: float = 0.9,
    max_samples: int = 30,
    layers: int = 2,
    constraints: Sequence[float] = ...,
    seed: int = 0,
    measurements_path: Optional[_Path] = None,
    batch_size: Optional[int] = 1,
    norm: str = "ridge",
    form: str = "auto",
    lambda_: Union[str, float, None] = None,
    folds: int = 0,
    ensemble: int = 3,
    latency: Sequence[_Path] = ...,
) -> Tuple[str, List[Tuple[str, float]]]: ...
def export_onnx(space: str, arch: str, path: _Path, batch: int = 1, seed: int = 0, overwrite: bool = False) -> int: ...
def flops(space: str, arch: str) -> Tuple[int, int]: ...
