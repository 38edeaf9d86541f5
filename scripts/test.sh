#!/usr/bin/env bash
# The whole test suite: every crate, every feature set that ships.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release --no-fail-fast
# The core must also build and pass without the optional features.
cargo test -p oneproxy --release --lib --no-default-features
