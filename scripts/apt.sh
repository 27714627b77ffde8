#!/usr/bin/env bash
# Install Debian packages with apt-get (as root), waiting for another apt or dpkg run (unattended upgrades, a
# second terminal) to release its lock instead of failing at once. The wait is bounded and said on the terminal.
#
#   bash scripts/apt.sh [--no-start] PKG...
#
# --no-start: do not start the packages' services (nginx for the benchmarks: they run their own instance).
# RISKMAP_APT_LOCK_WAIT: the longest wait for the lock in seconds (default 600); RISKMAP_APT_RETRY: seconds
# between tries (default 5).
set -euo pipefail

wait_max=${RISKMAP_APT_LOCK_WAIT:-600}
retry=${RISKMAP_APT_RETRY:-5}
no_start=0
packages=()
for arg in "$@"; do
  case "$arg" in
    --no-start) no_start=1 ;;
    -*) echo "unknown option: $arg" >&2; exit 2 ;;
    *) packages+=("$arg") ;;
  esac
done
[ "${#packages[@]}" -gt 0 ] || { echo "usage: scripts/apt.sh [--no-start] PKG..." >&2; exit 2; }

say() { printf '==> %s\n' "$*"; }
deadline=$((SECONDS + wait_max))
waited=0

# apt-get with its arguments; a lock held by another run is waited for (until the deadline), anything else fails.
apt_get() {
  local out status
  while :; do
    status=0
    out=$(LC_ALL=C DEBIAN_FRONTEND=noninteractive apt-get "$@" 2>&1) || status=$?
    if [ "$status" -eq 0 ]; then
      return 0
    fi
    if ! grep -qE "Could not get lock|Unable to lock|Unable to acquire the dpkg frontend lock" <<<"$out"; then
      printf '%s\n' "$out" >&2
      return "$status"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      printf '%s\n' "$out" >&2
      echo "another apt/dpkg run still holds its lock after ${wait_max} s; run this again when it has finished" \
           "(RISKMAP_APT_LOCK_WAIT sets the wait)" >&2
      return 1
    fi
    if [ "$waited" -eq 0 ]; then
      holder=$(grep -m1 -oE "held by process [0-9]+( \([^)]*\))?" <<<"$out" || true)
      say "waiting for another apt/dpkg run to finish${holder:+ (lock $holder)}, at most ${wait_max} s"
      waited=1
    fi
    sleep "$retry"
  done
}

policy=/usr/sbin/policy-rc.d
made_policy=0
if [ "$no_start" -eq 1 ] && [ ! -e "$policy" ]; then
  # Debian's way to install a package without starting its service: policy-rc.d answers "not allowed".
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
cleanup() { if [ "$made_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

say "installing system packages: ${packages[*]}"
apt_get update -qq
apt_get install -y -qq --no-install-recommends "${packages[@]}"
if [ "$waited" -eq 1 ]; then
  say "the other apt/dpkg run has finished; installed ${packages[*]}"
fi
