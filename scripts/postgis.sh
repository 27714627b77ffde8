#!/usr/bin/env bash
# Make a PostgreSQL server with PostGIS ready for riskmap's tests, on a Debian machine, as root. Idempotent:
# installs postgresql-<v>-postgis-3 only when missing, starts the cluster only when down, then proves that
# CREATE EXTENSION postgis works in a scratch database.
#
#   scripts/postgis.sh                 # install/start/check
#   scripts/postgis.sh --trust-local  # also let user postgres and the tests' two roles (riskmap_test_owner,
#                                     # riskmap_test_service) in over 127.0.0.1/::1 without a password (what the
#                                     # tests need; meant for CI and throw-away machines)
#
# Environment: PG_VERSION (default: the installed cluster's version, else 15), PGPORT (default 5432).
# Exits non-zero with one line saying what failed.
set -euo pipefail

TRUST_LOCAL=0
for arg in "$@"; do
  case "$arg" in
    --trust-local) TRUST_LOCAL=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "postgis.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

die() { echo "postgis.sh: FAILED: $*" >&2; exit 1; }
say() { echo "postgis.sh: $*"; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts the server)"
command -v apt-get >/dev/null || die "apt-get not found: this script is for Debian/Ubuntu"

PORT="${PGPORT:-5432}"
installed_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }
PG_VERSION="${PG_VERSION:-$(installed_version)}"
PG_VERSION="${PG_VERSION:-15}"
PKG="postgresql-${PG_VERSION}-postgis-3"

# 1. Packages.
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "install ok installed"; then
  say "$PKG already installed"
else
  say "installing $PKG"
  # scripts/apt.sh waits (bounded, and says so) while another apt or dpkg run holds its lock
  bash "$(dirname "$0")/apt.sh" "$PKG" "postgresql-${PG_VERSION}" postgresql-client-common \
    || die "apt-get install $PKG failed (is PostgreSQL ${PG_VERSION} packaged for this release? set PG_VERSION)"
fi
command -v pg_lsclusters >/dev/null || die "pg_lsclusters missing: postgresql-common is not installed"

# 2. Cluster.
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main"' | grep -q .; then
  say "creating cluster ${PG_VERSION}/main on port $PORT"
  pg_createcluster --port "$PORT" "$PG_VERSION" main || die "pg_createcluster ${PG_VERSION} main failed"
fi
status="$(pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}')"
cluster_port="$(pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $3}')"
[ "$cluster_port" = "$PORT" ] || die "cluster ${PG_VERSION}/main listens on port $cluster_port, not $PORT (set PGPORT)"
if [ "$status" = "online" ]; then
  say "cluster ${PG_VERSION}/main already running"
else
  say "starting cluster ${PG_VERSION}/main"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start \
    || die "cannot start cluster ${PG_VERSION}/main (see /var/log/postgresql/postgresql-${PG_VERSION}-main.log)"
fi

# 3. Ready?
for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$PORT" || die "server on 127.0.0.1:$PORT not ready after 30 s"

as_postgres() { runuser -u postgres -- "$@"; }

# 4. Optional: password-less loopback access for user postgres (tests' default URL) and for the two roles the
#    tests create and run as (tests/pgdb.py: riskmap_test_owner owns the schema, riskmap_test_service is the
#    service's role that row-level security binds).
loopback_ok() { psql -w -h 127.0.0.1 -p "$PORT" -U postgres -qAt -c 'SELECT 1' >/dev/null 2>&1; }
TEST_ROLES="postgres,riskmap_test_owner,riskmap_test_service"
if [ "$TRUST_LOCAL" -eq 1 ]; then
  hba="$(as_postgres psql -p "$PORT" -qAt -c 'SHOW hba_file')" || die "cannot ask the server for its hba_file"
  if ! grep -q "riskmap: trust local test roles" "$hba"; then
    say "allowing users ${TEST_ROLES} over 127.0.0.1 and ::1 without a password ($hba)"
    tmp="$(mktemp)"
    {
      echo "# riskmap: trust local test roles (scripts/postgis.sh --trust-local)"
      echo "host all ${TEST_ROLES} 127.0.0.1/32 trust"
      echo "host all ${TEST_ROLES} ::1/128 trust"
      cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba" && rm -f "$tmp"
    as_postgres psql -p "$PORT" -qAt -c 'SELECT pg_reload_conf()' >/dev/null || die "cannot reload the configuration"
    sleep 0.5
  fi
  loopback_ok || die "user postgres still cannot connect over 127.0.0.1:$PORT without a password"
fi

# 5. PostGIS works?
scratch="riskmap_postgis_check_$$"
as_postgres psql -p "$PORT" -qAt -c "CREATE DATABASE ${scratch}" >/dev/null || die "cannot create a scratch database"
if version="$(as_postgres psql -p "$PORT" -d "$scratch" -qAt -v ON_ERROR_STOP=1 \
      -c 'CREATE EXTENSION postgis' -c 'SELECT postgis_lib_version()' 2>&1)"; then
  as_postgres psql -p "$PORT" -qAt -c "DROP DATABASE ${scratch}" >/dev/null || true
else
  as_postgres psql -p "$PORT" -qAt -c "DROP DATABASE IF EXISTS ${scratch}" >/dev/null || true
  die "CREATE EXTENSION postgis failed: $(echo "$version" | head -n 1)"
fi
say "OK: PostgreSQL ${PG_VERSION} on 127.0.0.1:${PORT} with PostGIS ${version##*$'\n'}"
