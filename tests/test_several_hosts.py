"""Several hosts (issue 15, item 4): two `riskmap serve` processes on different ports share one PostGIS behind
nginx (the repository's deploy/nginx.conf, round robin); a change made through one is never served stale by the
other, nor through nginx — each request checks the enterprise's data version in the database, and everything a
process keeps for itself (tile caches, kept map inputs) is checked against that version before use.

Sessions and sign-in lock-outs are rows of the database too: a session made through one host is good on the
other.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import shapely
from liveserver import required_client

from riskmap.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
PASSWORD = "several-hosts-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Process:
    """A server subprocess (its own process group, stopped at the end) and its address once it answers."""

    def __init__(self, argv: list[str], port: int, log: Path, env: dict | None = None):
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=self.log,
                                     stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"{argv[:4]} exited: {log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/healthz", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{argv[:4]} did not answer: {log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


def _nginx_conf(work: Path, port: int, upstreams: list[int]) -> Path:
    """deploy/nginx.conf with the two local servers as the upstream, a local port and files under `work`."""
    text = NGINX_CONF.read_text()
    assert "server riskmap:8000;" in text and "listen 80;" in text
    text = text.replace("server riskmap:8000;", " ".join(f"server 127.0.0.1:{p};" for p in upstreams))
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};")
    assert "/var/cache/nginx/riskmap" in text
    text = text.replace("/var/cache/nginx/riskmap", str(work / "tile-cache"))
    tmp = work / "nginx-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    text = text.replace("http {", f"http {{\n  log_format upstreams '$upstream_addr $status';\n"
                        f"  access_log {work}/access.log upstreams;\n  client_body_temp_path {tmp}; "
                        f"proxy_temp_path {tmp}; fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; "
                        f"scgi_temp_path {tmp};", 1)
    head = f"pid {work}/nginx.pid;\nerror_log {work}/error.log;\ndaemon off;\n"
    if os.geteuid() == 0:
        head += "user root;\n"             # the workers write the temporary files under `work`
    conf = work / "nginx.conf"
    conf.write_text(head + text)
    return conf


@pytest.fixture
def hosts(postgis_database, tmp_path):
    """The demo on PostGIS, two `riskmap serve` processes and nginx before them: (url, enterprise, [bases])."""
    from pgdb import empty_tables

    from riskmap.demo import load_demo

    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        required_client("nginx not installed (as root: bash scripts/apt.sh --no-start nginx)")
    url = postgis_database
    empty_tables(url)
    media = tmp_path / "media"                   # one folder for both hosts, as a shared volume would be
    summary = load_demo(Settings(db=url, media_dir=str(media)))
    enterprise = summary.get("enterprise") if isinstance(summary, dict) else None
    env = {"RISKMAP_MEDIA_DIR": str(media), "RISKMAP_READ_REQUIRES_TOKEN": "false"}
    ports = [_free_port(), _free_port()]
    started: list[_Process] = []
    try:
        for i, port in enumerate(ports):
            started.append(_Process([sys.executable, "-m", "riskmap.cli", "serve", "--db", url, "--port", str(port)],
                                    port, tmp_path / f"serve-{i}.log", env))
        front = _free_port()
        conf = _nginx_conf(tmp_path / "nginx", front, ports)
        started.append(_Process([nginx, "-c", str(conf), "-p", str(tmp_path / "nginx")], front,
                                tmp_path / "nginx.log"))
        if enterprise is None:
            enterprise = httpx.get(started[0].base + "/api/enterprises").json()[0]["name"]
        yield url, enterprise, [p.base for p in started], tmp_path / "nginx" / "access.log"
    finally:
        for process in reversed(started):
            process.stop()


def _version(base: str, enterprise: str) -> int:
    listed = httpx.get(base + "/api/enterprises", timeout=30).json()
    return next(e["data_version"] for e in listed if e["name"] == enterprise)


@pytest.mark.postgis
def test_edits_through_one_host_are_read_at_once_through_the_other_and_nginx(hosts, editor_token):
    url, enterprise, (one, two, front), access = hosts
    auth = editor_token(url)
    params = {"enterprise": enterprise}
    unit = httpx.get(front + "/ogc/collections/units/items", params={**params, "limit": 1}, timeout=30)
    unit_id = unit.json()["features"][0]["id"]
    item = f"/ogc/collections/units/items/{unit_id}"
    for base in (one, two, front):                  # every cache warm with the state before the edits
        assert httpx.get(base + item, params=params, timeout=30).status_code == 200
        assert httpx.get(base + "/tiles/units/tilejson.json", params=params, timeout=30).status_code == 200
    for i, level in enumerate(["major", "low", "significant", "general"]):
        writer, reader = (one, two) if i % 2 == 0 else (two, one)
        r = httpx.patch(f"{writer}/api/units/{unit_id}", params=params, headers=auth, timeout=60,
                        json={"override": {"level": level, "reason": "多主机测试 / several hosts"}})
        assert r.status_code == 200, r.text
        version = _version(writer, enterprise)
        for base in (reader, front, front, writer):   # nginx alternates between the two
            got = httpx.get(base + item, params=params, timeout=30).json()
            assert got["properties"]["level"] == level, (i, base, got["properties"])
            tilejson = httpx.get(base + "/tiles/units/tilejson.json", params=params, timeout=30).json()
            assert tilejson["data_version"] == version, (i, base)
    # nginx sent requests to both processes (round robin)
    answered = {line.split()[0] for line in access.read_text().splitlines() if line.strip()}
    assert {one.split("//")[1], two.split("//")[1]} <= answered, answered


@pytest.mark.postgis
def test_the_front_cache_keeps_versioned_tiles_and_maps_get_the_new_version(hosts, editor_token):
    """deploy/nginx.conf's proxy_cache: a versioned tile is answered by nginx itself from the second request on
    (X-Cache-Status HIT) with the same bytes; an unversioned tile always goes to a replica; after an edit the
    TileJSON names the new version, whose tile is drawn afresh with the new colour. A URL of the old version keeps
    naming the old picture, as in every browser's own cache of an immutable tile; the maps no longer ask for it,
    and a replica asked for it sends the client on to the new version (never kept: no-store)."""
    import mapbox_vector_tile
    import morecantile

    url, enterprise, (one, two, front), _ = hosts
    params = {"enterprise": enterprise}
    unit_id = "CY-01-02"                       # a methanol tank: no major hazard rule forces its level
    feature = httpx.get(f"{front}/ogc/collections/units/items/{unit_id}", params=params, timeout=30).json()
    lon, lat = shapely.geometry.shape(feature["geometry"]).representative_point().coords[0]
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 18)
    path = f"{front}/tiles/units/18/{t.x}/{t.y}.mvt"

    def version() -> int:
        return httpx.get(front + "/tiles/units/tilejson.json", params=params, timeout=30).json()["data_version"]

    def level(body: bytes) -> str:
        feats = mapbox_vector_tile.decode(body)["units"]["features"]
        return next(f["properties"].get("level", "") for f in feats if f["properties"]["unit_id"] == unit_id)

    v = version()
    first = httpx.get(path, params={**params, "v": v}, timeout=30)
    second = httpx.get(path, params={**params, "v": v}, timeout=30)
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache-status"] == "MISS" and second.headers["x-cache-status"] == "HIT"
    assert second.content == first.content and "public" in second.headers["cache-control"]
    for _ in range(2):
        plain = httpx.get(path, params=params, timeout=30)
        assert plain.status_code == 200 and plain.headers["x-cache-status"] != "HIT"
    before = level(second.content)
    after = "major" if before != "major" else "low"
    r = httpx.patch(f"{one}/api/units/{unit_id}", params=params, headers=editor_token(url), timeout=60,
                    json={"override": {"level": after, "reason": "前置缓存测试 / front cache"}})
    assert r.status_code == 200, r.text
    new = version()
    assert new > v
    fresh = httpx.get(path, params={**params, "v": new}, timeout=30)
    assert fresh.headers["x-cache-status"] == "MISS" and level(fresh.content) == after
    assert httpx.get(path, params={**params, "v": new}, timeout=30).headers["x-cache-status"] == "HIT"
    old = httpx.get(path, params={**params, "v": v}, timeout=30)           # kept before the edit: still its own
    assert old.headers["x-cache-status"] == "HIT" and level(old.content) == before
    # the maps never ask for it again: TileJSON names the new version, and the service sends an old one on
    assert f"v={new}" in httpx.get(front + "/tiles/units/tilejson.json", params={**params, "format": "mvt"},
                                   timeout=30).json()["tiles"][0]
    moved = httpx.get(path.replace(front, one), params={**params, "v": v}, timeout=30, follow_redirects=False)
    assert moved.status_code == 302 and moved.headers["cache-control"] == "no-store"


@pytest.mark.postgis
def test_a_session_made_on_one_host_is_good_on_the_other(hosts):
    from riskmap.store import accounts, open_store

    url, enterprise, (one, two, front), _ = hosts
    with open_store(url) as store:
        accounts.create_account(store, enterprise, name="两台主机", login="two-hosts", password=PASSWORD,
                                roles=["viewer"])
    with httpx.Client(base_url=one, timeout=30) as first:
        r = first.post("/login", data={"login": "two-hosts", "password": PASSWORD, "enterprise": enterprise})
        assert r.status_code == 303, r.text[:300]
        session = first.cookies.get("riskmap_session")
    assert session
    for base in (two, front):
        me = httpx.get(base + "/api/auth/me", cookies={"riskmap_session": session}, timeout=30)
        assert me.status_code == 200 and me.json()["login"] == "two-hosts"


def test_tiles_read_a_replica_only_once_it_has_caught_up(demo_db, tmp_path, editor_token):
    """settings.read_database_url: the map is loaded from the replica when it is at the primary's data version;
    a replica behind it (here: a copy taken before an edit) is passed over, so the edit shows at once."""
    import mapbox_vector_tile
    from fastapi.testclient import TestClient
    from kit import copy_db

    from riskmap.api.app import create_app

    primary = copy_db(demo_db, tmp_path / "primary")
    replica = copy_db(demo_db, tmp_path / "replica")        # the same state: caught up
    app = create_app(Settings(db=primary, read_database_url=replica))
    with TestClient(app) as client:
        doc = client.get("/tiles/units/tilejson.json", params={"format": "mvt"}).json()
        service = app.state.tiles.service
        assert service.read_store is not None and service.replica_loads == 1
        lon, lat, zoom = doc["center"]
        z = max(int(zoom), 17)
        n = 2 ** z
        import math

        x, y = int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

        def levels() -> dict[str, str]:
            body = client.get(f"/tiles/units/{z}/{x}/{y}.mvt").content
            return {f["properties"]["unit_id"]: f["properties"].get("level", "")
                    for f in mapbox_vector_tile.decode(body).get("units", {}).get("features", [])}

        before = levels()
        unit_id, level = next((u, lv) for u, lv in sorted(before.items()) if lv != "major")
        r = client.patch(f"/api/units/{unit_id}", headers=editor_token(primary),
                         json={"override": {"level": "major", "reason": "只读副本测试 / replica test"}})
        assert r.status_code == 200, r.text
        after = levels()                                   # the replica still holds the old level: not read
        assert after[unit_id] == "major" and before[unit_id] == level
        assert service.replica_loads == 1
        version = client.get("/tiles/units/tilejson.json").json()["data_version"]
        assert version == doc["data_version"] + 1


def test_a_read_replica_url_that_cannot_be_opened_is_a_clear_error(demo_db, tmp_path):
    from fastapi.testclient import TestClient
    from kit import copy_db

    from riskmap.api.app import create_app

    primary = copy_db(demo_db, tmp_path / "primary")
    app = create_app(Settings(db=primary, read_database_url=f"sqlite:///{tmp_path / 'missing.db'}"))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/tiles/units/tilejson.json")
        assert r.status_code in (404, 503) and "missing.db" in r.text and r.status_code != 500
