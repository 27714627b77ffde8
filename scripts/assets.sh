#!/usr/bin/env bash
# Install the pinned third-party browser assets (Leaflet, Swagger UI, ...) that riskmap serves itself at
# /static/vendor/: an intranet has no CDN. Versions come from web/package.json and web/package-lock.json;
# `npm ci` installs exactly the locked tree, with install scripts off (no telemetry, nothing runs).
# Idempotent: a second run only checks. Usage: scripts/assets.sh [--dest DIR] [--force]
#   --dest DIR   install into DIR/node_modules instead of web/node_modules (an installed wheel: point
#                RISKMAP_ASSETS_DIR at DIR/node_modules)
set -euo pipefail
cd "$(dirname "$0")/.."

dest=web
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) dest=${2:?"--dest needs a folder"}; shift 2 ;;
    --force) force=1; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*"; }
die() { printf '错误 / error: %s\n' "$*" >&2; exit 1; }

[ -f web/package.json ] && [ -f web/package-lock.json ] \
  || die "缺少 web/package.json 或 web/package-lock.json / web/package.json or web/package-lock.json is missing"

mkdir -p "$dest"
if [ "$(cd "$dest" && pwd)" != "$(cd web && pwd)" ]; then
  cp web/package.json web/package-lock.json "$dest"/
fi

stamp="$dest/node_modules/.riskmap-assets"
want="$(cat web/package.json web/package-lock.json | sha256sum | cut -d' ' -f1)"
if [ "$force" -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "web assets up to date ($dest/node_modules)"
  exit 0
fi

command -v npm >/dev/null 2>&1 \
  || die "未找到 npm，无法安装网页地图所需的前端资源；请安装 Node.js 和 npm（Debian: apt-get install nodejs npm）/ npm not found: install Node.js and npm (Debian: apt-get install nodejs npm) to get the web map's assets"

say "installing pinned web assets with npm ci into $dest/node_modules"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
  sed -e 's/^/    /' "$log" >&2
  if grep -Eqi 'ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|network|fetch failed|ECONNRESET' "$log"; then
    die "无法连接 npm 软件源，前端资源未安装 / cannot reach the npm registry: web assets not installed (set a mirror with 'npm config set registry URL' or copy web/node_modules from a machine that has it)"
  fi
  die "npm ci 失败，前端资源未安装（见上）/ npm ci failed: web assets not installed (see above)"
fi

# The packages riskmap serves must be there, else the page would load with holes.
for pkg in leaflet/dist/leaflet.js @geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js swagger-ui-dist/swagger-ui-bundle.js redoc/bundles/redoc.standalone.js; do
  [ -f "$dest/node_modules/$pkg" ] || die "安装后缺少 $pkg / $pkg missing after npm ci"
done
echo "$want" > "$stamp"
say "web assets installed"
