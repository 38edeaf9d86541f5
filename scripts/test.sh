#!/usr/bin/env bash
# The whole test suite: every crate, every feature set that ships. Works on a fresh machine with
# Rust and python3: the Python packages it needs are installed into a project-local virtual
# environment (.venv/, created on first use, reused while scripts/requirements-test.txt is
# unchanged). Set ONEPROXY_FUZZ=1 (CI sets CI) to also fuzz each target for 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."

# Formatting and lints first: a failure here costs seconds, not the whole run. Clippy runs with the
# default features (as users build) and with `tract` (the measuring code behind that feature).
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --features oneproxy-cli/tract -- -D warnings

# Python for the ONNX Runtime interop check, independent of globally installed packages.
venv="${ONEPROXY_VENV:-.venv}"
requirements=scripts/requirements-test.txt
marker="$venv/.oneproxy-test-venv"
stamp="$venv/.oneproxy-requirements.sha256"
want="$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$requirements")"
if [ -e "$venv" ] && [ ! -e "$marker" ]; then
    echo "test.sh: $venv exists but was not made by scripts/test.sh; it is left alone." >&2
    echo "test.sh: set ONEPROXY_VENV to another folder for the test environment." >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    echo "test.sh: creating the Python test environment in $venv"
    # The marker goes in first, so that a half-made environment (interrupted first run) is
    # recognised as ours and completed in place by the next run.
    mkdir -p "$venv"
    touch "$marker"
    python3 -m venv "$venv" || {
        echo "test.sh: 'python3 -m venv' failed (on Debian/Ubuntu: apt install python3-venv)" >&2
        exit 1
    }
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "test.sh: installing $requirements into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
fi

# With the `tract` feature (ONNX round trips, measurement); it implies every other feature.
cargo test --workspace --release --no-fail-fast --features oneproxy-cli/tract
# Exported models give tract's output in ONNX Runtime.
"$venv/bin/python" scripts/onnx_interop.py --bin target/release/oneproxy
# The Python package as one wheel, built from this checkout (in target/, so it reuses the crates
# compiled above) and installed into the test environment offline, as a user installs it
# (`pip install --no-index target/test-wheel/oneproxy-*.whl`); then its tests, which compare with
# target/release/oneproxy built above. (maturin comes from requirements-test.txt.)
wheel_dir=target/test-wheel
rm -rf "$wheel_dir"
"$venv/bin/maturin" build --release --quiet -m crates/oneproxy-py/Cargo.toml --interpreter "$venv/bin/python" -o "$wheel_dir"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --force-reinstall "$wheel_dir"/oneproxy-*.whl
"$venv/bin/python" -m pytest crates/oneproxy-py/tests -q
# The ready-made runners (examples/runners) through the CLI built above: ONNX Runtime and
# OpenVINO on NB201 models, and the adb runner against a fake adb and converter.
ONEPROXY_BIN="$PWD/target/release/oneproxy" "$venv/bin/python" -m pytest tests/runners -q
# The example spaces (examples/spaces): their builder scripts write ONNX that ONNX Runtime runs,
# also through `oneproxy export --builder-cmd`.
ONEPROXY_BIN="$PWD/target/release/oneproxy" "$venv/bin/python" -m pytest tests/spaces -q
# report.html renders in headless Chromium with no console error (the checker first
# proves it catches a broken page). Chromium comes from Debian's package when missing; where it
# cannot be had the check fails loudly, unless ONEPROXY_SKIP_BROWSER=1 says to skip it.
if ! command -v chromium >/dev/null 2>&1 && [ "${ONEPROXY_SKIP_BROWSER:-}" != 1 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: installing chromium (Debian) for the browser check"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
            echo "test.sh: could not install chromium" >&2
    fi
fi
python3 scripts/browser_check.py --self-test
report_tmp="$(mktemp -d)"
trap 'rm -rf "$report_tmp"' EXIT
target/release/oneproxy run --out "$report_tmp/report" >/dev/null
python3 scripts/browser_check.py "$report_tmp/report/report.html" --require-ready --screenshot "$report_tmp/report.png"
# The core must also build and pass without the optional features.
cargo test -p oneproxy --release --lib --no-default-features
# Fuzz each target briefly where nightly Rust and cargo-fuzz exist (else the script says
# it skipped; the corpus replay test above ran either way).
if [ -n "${ONEPROXY_FUZZ:-}" ] || [ -n "${CI:-}" ]; then
    bash scripts/fuzz.sh 30
fi
