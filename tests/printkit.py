"""Shared by the print tests: the demo plant loaded once per session, and poppler-based readers of PDFs."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from riskmap.demo import load_demo
from riskmap.settings import Settings

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench_poster.py"
HOSTILE = "<img src=x onerror=alert(1)> (a) \\ 100%"


def demo_url(tmp_path_factory) -> str:
    """The demo plant, loaded once per test session and shared by the print tests (read only)."""
    db = tmp_path_factory.getbasetemp() / "print-demo.db"
    url = f"sqlite:///{db}"
    if not db.exists():
        load_demo(Settings(db=url))
    return url


def pdftotext(data: bytes, tmp_path: Path, first: int | None = None, last: int | None = None) -> str:
    path = tmp_path / f"t{time.monotonic_ns()}.pdf"
    path.write_bytes(data)
    args = ["pdftotext", "-enc", "UTF-8"]
    if first:
        args += ["-f", str(first), "-l", str(last or first)]
    return subprocess.run([*args, str(path), "-"], capture_output=True, check=True).stdout.decode("utf-8")


def pdffonts(data: bytes, tmp_path: Path) -> list[list[str]]:
    path = tmp_path / f"f{time.monotonic_ns()}.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


def assert_fonts_embedded(data: bytes, tmp_path: Path) -> None:
    rows = pdffonts(data, tmp_path)
    assert rows, "no fonts at all: the text was not written as text"
    for row in rows:
        line = " ".join(row)
        assert "Type 3" not in line, line
        # columns from the right: object ID (2), uni, sub, emb
        emb, sub = row[-5], row[-4]
        assert emb == "yes" and sub == "yes", line


def pdf_pages(data: bytes, tmp_path: Path) -> int:
    path = tmp_path / f"i{time.monotonic_ns()}.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", out).group(1))


def run_cli(*args) -> subprocess.CompletedProcess:
    """The `riskmap` command in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "riskmap.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
