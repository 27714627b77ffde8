"""Shared by the print tests: the demo plant loaded once per session, and poppler-based readers of PDFs."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench_poster.py"
HOSTILE = "<img src=x onerror=alert(1)> (a) \\ 100%"


def demo_url(tmp_path_factory) -> str:
    """The session's demo plant (kit.session_demo), read only."""
    from kit import session_demo

    return f"sqlite:///{session_demo(tmp_path_factory)}"


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


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def pdf_words(data: bytes, tmp_path: Path, page: int) -> list[tuple[float, float, float, float, str]]:
    """The words of one page with their boxes (xMin, yMin, xMax, yMax in pt from the top), by pdftotext -bbox."""
    path = tmp_path / f"w{time.monotonic_ns()}.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-bbox", "-enc", "UTF-8", "-f", str(page), "-l", str(page), str(path), "-"],
                         capture_output=True, check=True).stdout.decode("utf-8")
    return [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in _WORD.findall(out)]


def box_height_per_pt(tmp_path: Path) -> float:
    """How tall pdftotext's word box is per point of font size for the print font (its ascent + descent): read
    from a PDF made here with one line at a known size, so that sizes can be read back from other PDFs."""
    from riskmap.print import fonts, output

    fonts.faces()
    recorder = output.PageRecorder(200, 100)
    with recorder as canvas:
        fonts.draw_text(canvas, "校准文字 Calibration 123", 10, 50, 10.0)
    words = pdf_words(output.pdf_bytes([recorder.page]), tmp_path, 1)
    heights = {round(w[3] - w[1], 4) for w in words}
    assert len(heights) == 1, heights
    return heights.pop() / 10.0


def text_sizes(data: bytes, tmp_path: Path, page: int, below: float | None = None) -> list[tuple[float, str]]:
    """(font size in pt, word) of every word on a page above `below` pt from the top (the footer excluded)."""
    k = box_height_per_pt(tmp_path)
    return [((y1 - y0) / k, w) for x0, y0, x1, y1, w in pdf_words(data, tmp_path, page)
            if below is None or y1 <= below]


def decode_qr(pdf: bytes, tmp_path: Path, dpi: int = 200) -> list[str]:
    """Every QR code on the rendered pages (pdftoppm, then zbarimg), in no particular order."""
    path = tmp_path / f"c{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    prefix = tmp_path / f"p{time.monotonic_ns()}"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(path), str(prefix)], check=True)
    found = []
    for image in sorted(tmp_path.glob(f"{prefix.name}*.png")):
        proc = subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(image)],
                              capture_output=True, text=True)
        found += [line for line in proc.stdout.splitlines() if line.strip()]
    return found
