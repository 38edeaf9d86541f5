#!/usr/bin/env bash
# The whole test suite: every crate, every feature set that ships.
set -euo pipefail
cd "$(dirname "$0")/.."
# Issue 5: with the `tract` feature (ONNX round trips, measurement); it implies every other feature.
cargo test --workspace --release --no-fail-fast --features oneproxy-cli/tract
# Issue 5: exported models give tract's output in ONNX Runtime (needs `pip install onnxruntime numpy`).
python3 scripts/onnx_interop.py --bin target/release/oneproxy
# The core must also build and pass without the optional features.
cargo test -p oneproxy --release --lib --no-default-features
