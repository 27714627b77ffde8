"""Shared by the hostile-input tests: a digest of every table (to prove a refusal wrote nothing), the bilingual
message check, riskmap served by uvicorn in a child process (to measure its peak memory), a raw HTTP sender that
streams a body of any size without holding it, and generators of hostile files.

A plain module (not conftest) so that the test files import it by name, as they do printkit and pgdb.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def table_digest(url: str) -> dict[str, str]:
    """SHA-256 of every row of every riskmap table, in primary-key order: equal digests, nothing written."""
    from sqlalchemy import MetaData, select

    from riskmap.store.engine import create_store_engine

    # riskmap's engine: on PostGIS its transactions carry the scope "all", so row-level security hides no row
    engine = create_store_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        out = {}
        with engine.connect() as conn:
            for name, table in sorted(meta.tables.items()):
                if name in ("spatial_ref_sys", "alembic_version"):
                    continue
                order = list(table.primary_key.columns) or list(table.columns)
                digest = hashlib.sha256()
                for row in conn.execute(select(table).order_by(*order)):
                    digest.update(repr(tuple(_plain(v) for v in row)).encode("utf-8", "surrogatepass"))
                out[name] = digest.hexdigest()
        return out
    finally:
        engine.dispose()


def _plain(value):
    """A column value as comparable data (PostGIS hands geometry back as a WKBElement, whose repr has an address)."""
    data = getattr(value, "data", value)
    return bytes(data) if isinstance(data, (bytes, memoryview, bytearray)) else data


def bilingual(text: str) -> bool:
    """Chinese first, then "/ " (after a space or Chinese closing punctuation) and English."""
    parts = re.split(r"(?<=[\s）」”])/ ", text, maxsplit=1)
    return len(parts) == 2 and any("\u4e00" <= ch <= "\u9fff" for ch in parts[0]) and \
        any(ch.isascii() and ch.isalpha() for ch in parts[1])


def peak_rss_kb(pid: int) -> int:
    """The peak resident memory of a live process so far (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**settings) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.update({f"RISKMAP_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@contextmanager
def child_server(db_url: str, **settings):
    """riskmap served by uvicorn in a child process on a free port; yields (port, pid); stopped at the end."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "riskmap.api.app:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=child_env(db=db_url, **settings), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start: " + proc.stderr.read().decode()[-2000:]) from None
                time.sleep(0.1)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server_errors = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        assert "Traceback" not in server_errors, server_errors[-3000:]


def send_body(port: int, method: str, path: str, headers: dict[str, str], total: int, *, chunked: bool = False,
              timeout: float = 30) -> tuple[int, bytes, int]:
    """Send `total` bytes of body (declared by Content-Length, or chunked without it) and read the answer as soon
    as it comes; returns (status, body, bytes sent before the answer came). The body is one 1 MiB block sent again
    and again: the test process never holds it."""
    block = b"x" * MIB
    piece = (b"%x\r\n" % len(block)) + block + b"\r\n" if chunked else block

    def pieces():
        for _ in range(-(-total // MIB)):
            yield piece
        if chunked:
            yield b"0\r\n\r\n"

    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
            *(f"{k}: {v}" for k, v in headers.items()),
            "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"]
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sent, current, answer, left = 0, b"", b"", pieces()
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        sock.setblocking(False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not _complete(answer):
            writing = left is not None or current
            readable, writable, _ = select.select([sock], [sock] if writing else [], [], 1)
            if readable:
                try:
                    data = sock.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if not data:
                    break
                answer += data
            elif writable:
                if not current:
                    current = next(left, None) if left is not None else None
                    if current is None:
                        left, current = None, b""
                        continue
                try:
                    n = sock.send(current)
                except BlockingIOError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    left, current = None, b""
                    continue
                sent += n
                current = current[n:]
    finally:
        sock.close()
    status_line, _, rest = answer.partition(b"\r\n")
    status = int(status_line.split()[1]) if status_line.startswith(b"HTTP/") else 0
    return status, rest.partition(b"\r\n\r\n")[2], sent


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


# ------------------------------------------------------------------------------------------------ hostile files


def nested_blocks_dxf(path: Path, levels: int, fan: int = 10, per_block: int = 1, vertices: int = 4) -> Path:
    """A DXF whose innermost block holds `per_block` closed polylines and every other level `fan` INSERTs of the
    level below; model space inserts the top block `fan` times: fan**levels × per_block polygons once exploded,
    from a file of a few kilobytes."""
    lines = ["0", "SECTION", "2", "HEADER", "9", "$INSUNITS", "70", "6", "0", "ENDSEC", "0", "SECTION", "2", "BLOCKS",
             "0", "BLOCK", "8", "0", "2", "B0", "70", "0", "10", "0", "20", "0", "30", "0", "3", "B0"]
    for p in range(per_block):
        lines += ["0", "LWPOLYLINE", "8", "建筑物", "90", str(vertices), "70", "1"]
        for k in range(vertices):
            a = 2 * math.pi * k / vertices
            lines += ["10", f"{p + 0.4 * math.cos(a):.4f}", "20", f"{0.4 * math.sin(a):.4f}"]
    lines += ["0", "ENDBLK", "8", "0"]
    for level in range(1, levels):
        lines += ["0", "BLOCK", "8", "0", "2", f"B{level}", "70", "0", "10", "0", "20", "0", "30", "0", "3",
                  f"B{level}"]
        for i in range(fan):
            lines += ["0", "INSERT", "8", "0", "2", f"B{level - 1}", "10", str(i * per_block * fan ** (level - 1)),
                      "20", str(2 * level), "30", "0"]
        lines += ["0", "ENDBLK", "8", "0"]
    lines += ["0", "ENDSEC", "0", "SECTION", "2", "ENTITIES"]
    for i in range(fan):
        lines += ["0", "INSERT", "8", "建筑物", "2", f"B{levels - 1}", "10", "0", "20", str(30 * i), "30", "0"]
    lines += ["0", "ENDSEC", "0", "EOF"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def extreme_coordinates_dxf(path: Path) -> Path:
    """One good square and entities at 1e300, infinity and NaN (those are dropped, with a count)."""
    lines = ["0", "SECTION", "2", "ENTITIES",
             "0", "LWPOLYLINE", "8", "建筑物", "90", "4", "70", "1", "10", "0", "20", "0", "10", "10", "20", "0",
             "10", "10", "20", "10", "10", "0", "20", "10",
             "0", "LWPOLYLINE", "8", "建筑物", "90", "4", "70", "1", "10", "1e300", "20", "0", "10", "1e300", "20",
             "1e300", "10", "0", "20", "1e300", "10", "0", "20", "0",
             "0", "LINE", "8", "道路", "10", "nan", "20", "0", "30", "0", "11", "inf", "21", "1", "31", "0",
             "0", "CIRCLE", "8", "设备", "10", "1e300", "20", "1e300", "30", "0", "40", "1e300",
             "0", "ENDSEC", "0", "EOF"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def square_geojson(path: Path, corner: str = "[10, 0]") -> Path:
    """A one-region GeoJSON layout; `corner` replaces one vertex's text (NaN, Infinity, …)."""
    text = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"A","role":"region"},'
            '"geometry":{"type":"Polygon","coordinates":[[[0, 0], ' + corner + ', [10, 10], [0, 10], [0, 0]]]}}]}')
    path.write_text(text, encoding="utf-8")
    return path


def deep_geojson(path: Path, depth: int = 100_000) -> Path:
    path.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"x":' + "[" * depth
                    + "]" * depth + '},"geometry":null}]}', encoding="utf-8")
    return path


def many_entry_zip(path: Path, entries: int = 60, entry_bytes: int = int(15.9 * MIB)) -> Path:
    """A small zip of many entries that each expand to just under the per-entry ratio floor (zeros deflate about
    1000:1): about 1 GB in all from about 1 MB."""
    import zipfile

    zeros = b"\0" * MIB
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(entries):
            with zf.open(f"layer{i}.shp" if i == 0 else f"part{i}.dbf", "w") as out:
                left = entry_bytes
                while left > 0:
                    out.write(zeros[:min(left, MIB)])
                    left -= MIB
    return path
