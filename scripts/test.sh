#!/usr/bin/env bash
# Run the linter and the whole test suite. In CI (CI=true) nothing may be skipped: PostGIS is required.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check riskmap tests benchmarks scripts
# Two workers (the machine's cores; RISKMAP_TEST_WORKERS to change): each has its own PostGIS database, its own
# demo template and its own Chromium.
args=(-q -p no:cacheprovider -n "${RISKMAP_TEST_WORKERS:-2}" --durations=25)
if [ -n "${CI:-}" ]; then
  export RISKMAP_REQUIRE_POSTGIS=1
fi
set +e
.venv/bin/pytest "${args[@]}" "$@" | tee /tmp/riskmap-pytest.log
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  exit "$status"
fi
if [ -n "${CI:-}" ] && grep -Eq '^SKIPPED|[0-9]+ skipped' /tmp/riskmap-pytest.log; then
  echo "CI: tests were skipped; in CI every test must run" >&2
  exit 1
fi
