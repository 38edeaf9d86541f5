#!/usr/bin/env bash
# Run every cargo-fuzz target (fuzz/fuzz_targets/) for SECONDS each (default 30) and
# fail on the first crash, hang (> 10 s on one input) or out-of-memory.
#
# Needs nightly Rust and cargo-fuzz (`rustup toolchain install nightly`, `cargo install
# cargo-fuzz`). Without them it says so loudly and exits 0: the corpus replay test
# (crates/oneproxy/tests/fuzz_corpus.rs, part of `cargo test`) still runs every committed input.
#
# New inputs go to a scratch folder that is removed afterwards, so the committed corpus
# (fuzz/corpus/) does not grow; a crashing input is kept in fuzz/artifacts/<target>/ (reproduce
# with `cargo +nightly fuzz run <target> <file>`), and belongs in the corpus as a regression case
# once the bug is fixed.
#
# Usage: bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
case "$seconds" in
    '' | *[!0-9]* | 0) echo "usage: $0 [SECONDS > 0], got '$seconds'" >&2; exit 2 ;;
esac

if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    {
        echo "################################################################################"
        echo "# FUZZING SKIPPED: needs nightly Rust and cargo-fuzz"
        echo "#   (rustup toolchain install nightly && cargo install cargo-fuzz)."
        echo "# The corpus replay test (crates/oneproxy/tests/fuzz_corpus.rs) covers fuzz/corpus/."
        echo "################################################################################"
    } >&2
    exit 0
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/oneproxy-fuzz.XXXXXX")"
trap 'rm -rf -- "$scratch"' EXIT
cd fuzz
cargo +nightly fuzz build
for target in $(cargo +nightly fuzz list); do
    echo "fuzz: $target for ${seconds}s"
    mkdir -p "$scratch/$target"
    # The first folder receives new inputs; the committed corpus is only read.
    if ! cargo +nightly fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        echo "fuzz: target '$target' FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "fuzz: every target ran ${seconds}s without a crash"
