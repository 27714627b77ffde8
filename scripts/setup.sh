#!/usr/bin/env bash
# Set up riskmap on a fresh Debian machine (or refresh an existing checkout): system packages, the Python
# environment in .venv with pinned versions, and the database server for the PostGIS tests.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--with-postgis]
set -euo pipefail
cd "$(dirname "$0")/.."

with_postgis=0
for arg in "$@"; do
  case "$arg" in
    --with-postgis) with_postgis=1 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*"; }

# System packages riskmap needs at run time and for its tests (Debian names). python3-gdal (GDAL's GeoPackage
# validator), python3-qgis and qgis-providers (QGIS 3.22 headless, the GIS client tests; about 2 minutes to install
# from Debian's mirror) are for the tests.
system_packages=(gdal-bin python3-gdal poppler-utils fonts-noto-cjk fonts-wqy-microhei zbar-tools libegl1 libgl1 chromium
                 python3-qgis qgis-providers)
missing=()
for pkg in "${system_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${missing[*]} (run as root or install them with apt-get)" >&2
    exit 1
  fi
  # waits (bounded, and says so) while another apt or dpkg run holds its lock
  bash scripts/apt.sh "${missing[@]}"
fi

# nginx for the several-hosts test and the tile benchmark: they run their own instance on a port of their own, so
# the system service is never started here.
if ! dpkg -s nginx >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system package: nginx (run as root or install it with apt-get)" >&2
    exit 1
  fi
  bash scripts/apt.sh --no-start nginx
fi

# Python environment, pinned by requirements.lock.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.riskmap-setup
want="$(cat pyproject.toml requirements.lock 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing Python packages (pinned)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e ".[dev]"
  echo "$want" > "$stamp"
fi

# The web map's pinned browser assets (Leaflet, Swagger UI, ...), served by riskmap itself: no CDN.
bash scripts/assets.sh

if [ "$with_postgis" -eq 1 ]; then
  bash scripts/postgis.sh --trust-local
fi
say "set-up complete"
