"""riskmap served for real over loopback HTTP (uvicorn in a thread), for the browser and the GIS clients, and the
one rule for a missing client: skipped locally with the reason, a failure in CI (CI must never pass by
skipping). Imported by name (`from liveserver import …`): `conftest` is ambiguous between tests/ and
tests/browser/.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 860}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def required_client(reason: str):
    """A client (Chromium, GDAL, QGIS) missing: skip locally, fail in CI."""
    if in_ci():
        pytest.fail(f"{reason} (required because CI is set)", pytrace=False)
    pytest.skip(reason)


class LiveServer:
    """riskmap under uvicorn on a loopback socket bound before start (no race for the port).

    `with LiveServer(url) as live:` or `LiveServer(url).start()` … `.stop()`; `.url` (= `.origin`)."""

    def __init__(self, db_url: str, **settings):
        import uvicorn

        from riskmap.api.app import create_app
        from riskmap.settings import Settings

        self.db_url = db_url
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = self.origin = f"http://127.0.0.1:{self.port}"
        self.app = create_app(Settings(db=db_url, **settings))
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False,
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name=f"uvicorn-{self.port}", daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def copy_demo(demo_db_dir: Path, target: Path) -> str:
    """A consistent copy of the demo database (SQLite's backup API: the write-ahead log included)."""
    target.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(demo_db_dir / "riskmap.db") as src, sqlite3.connect(target / "riskmap.db") as dst:
        src.backup(dst)
    return f"sqlite:///{target / 'riskmap.db'}"
