#!/usr/bin/env bash
# Run every benchmark; each prints its figures and the ratio against its reference measured in the same run.
# The tile benchmark compares riskmap with nginx driven by wrk: both come from Debian, installed here when missing
# (as root, without starting nginx's own service); otherwise the part that needs them says in one line that it is
# skipped and why.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || need+=(nginx)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    bash scripts/apt.sh --no-start "${need[@]}" \
      || say "could not install ${need[*]}: the tile throughput comparison will be skipped"
  else
    say "${need[*]} missing and not root (cannot apt-get install): the tile throughput comparison will be skipped"
  fi
fi

for bench in benchmarks/bench_*.py; do
  echo "=== $bench"
  .venv/bin/python "$bench" "$@"
done
