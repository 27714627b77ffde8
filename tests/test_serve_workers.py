"""`riskmap serve --workers 2`: several server processes, each with its own tile cache, and still no stale tile:
after a unit's level changes through one process, every answer of either process has the new colour."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile
from kit import copy_db, load_demo_db

from riskmap.store import open_store
from riskmap.store.tokens import create_token

TMS = morecantile.tms.get("WebMercatorQuad")
RISKMAP = str(Path(sys.executable).with_name("riskmap"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_worker_processes_never_serve_a_stale_tile(tmp_path):
    url = copy_db(load_demo_db(tmp_path / "demo"), tmp_path / "db")
    with open_store(url) as store:
        token, _ = create_token(store, "editor", "workers")
    port = free_port()
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([RISKMAP, "serve", "--db", url, "--port", str(port), "--workers", "2"],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "riskmap serve --workers 2 did not start"
            time.sleep(0.2)
        tj = httpx.get(base + "/tiles/units/tilejson.json", params={"format": "mvt"}).json()
        assert tj["tiles"][0].startswith(base + "/tiles/units/")     # the address asked, not a default's
        z = tj["minzoom"] + 1
        tile = TMS.tile(tj["center"][0], tj["center"][1], z)
        path = f"/tiles/units/{z}/{tile.x}/{tile.y}.mvt"

        def levels(client) -> dict[str, str]:
            body = client.get(path).content
            feats = mapbox_vector_tile.decode(body).get("units", {"features": []})["features"]
            return {f["properties"]["unit_id"]: f["properties"].get("level") for f in feats}

        # New connections spread over both processes; each warms its own cache.
        before = [levels(httpx.Client(base_url=base)) for _ in range(8)]
        assert before[0] and all(b == before[0] for b in before)
        unit_id = next(u for u, lv in sorted(before[0].items()) if lv != "major")
        r = httpx.patch(base + f"/api/units/{unit_id}", json={"override": {"level": "major", "reason": "多进程测试"}},
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        after = [levels(httpx.Client(base_url=base))[unit_id] for _ in range(12)]
        assert after == ["major"] * 12
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
