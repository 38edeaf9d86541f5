"""Shared fixtures: the CLI binary (target/release/oneproxy, built by scripts/test.sh) to
compare against, and the bundled NB201 latency table."""

import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _binary() -> pathlib.Path:
    return pathlib.Path(os.environ.get("ONEPROXY_BIN", ROOT / "target" / "release" / "oneproxy"))


@pytest.fixture(scope="session")
def cli():
    """Run the CLI; returns (exit code, stdout, stderr)."""
    binary = _binary()
    if not binary.exists():
        raise FileNotFoundError(f"{binary}: build the CLI first (cargo build --release -p oneproxy-cli) or set ONEPROXY_BIN")

    def run(*args, check=True):
        p = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"oneproxy {' '.join(map(str, args))} failed ({p.returncode}): {p.stderr}")
        return p.returncode, p.stdout, p.stderr

    return run


@pytest.fixture(scope="session")
def cli_json(cli):
    def run(*args):
        return json.loads(cli(*args, "--json")[1])

    return run


@pytest.fixture(scope="session")
def nb201():
    """(archs, devices, values) of the bundled NB201 table, without pandas."""
    import oneproxy

    t = oneproxy.latency_table("nb201", as_frame=False)
    return t.rows, t.columns, t.values
