#!/usr/bin/env bash
# Run every benchmark; each prints its figures and the ratio against its reference measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in benchmarks/bench_*.py; do
  echo "=== $bench"
  .venv/bin/python "$bench" "$@"
done
