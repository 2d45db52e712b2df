#!/usr/bin/env bash
# Runs the whole test suite (unit, golden, MPI and CLI tests) on the CPU; needs scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build -j"$(nproc)" >/dev/null
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
