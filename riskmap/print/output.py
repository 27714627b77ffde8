"""Pages drawn once and written as PDF, SVG or PNG.

Each page is recorded as a skia picture (with an R-tree, so that drawing part of it skips what lies
elsewhere), then played into skia's PDF or SVG backend (vector: paths and real text) or into raster strips.
A PNG is rendered and compressed strip by strip, so an A0 poster at 300 dpi (140 million pixels) never
needs the whole image in memory.
"""

from __future__ import annotations

import io
import math
import re
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import skia

from riskmap.errors import InputError

PNG_DPI = 300
STRIP_BYTES = 48 * 1024 * 1024        # raster strip budget (RGBA)
MAX_PIXELS = 300_000_000              # refuse rasters beyond this (A0 at 400 dpi is 220 million)


@dataclass
class Page:
    """One recorded page, sized in pt; it can be played into PDF, SVG or raster as often as needed."""

    width: float                      # pt
    height: float
    picture: skia.Picture
    meta: dict = field(default_factory=dict)   # what a page shows where (e.g. a poster's map view), for callers


class PageRecorder:
    """Record one page's drawing: `with PageRecorder(w, h) as canvas: ...`, then `.page`."""

    def __init__(self, width: float, height: float):
        self.width, self.height = float(width), float(height)
        self._recorder = skia.PictureRecorder()
        self.canvas = self._recorder.beginRecording(skia.Rect(0, 0, self.width, self.height),
                                                    skia.RTreeFactory()())
        self.page: Page | None = None

    def __enter__(self) -> skia.Canvas:
        return self.canvas

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.page = Page(self.width, self.height, self._recorder.finishRecordingAsPicture())


def record(width: float, height: float, draw: Callable[[skia.Canvas], None]) -> Page:
    """A page of `width` × `height` pt drawn by `draw(canvas)`, recorded once."""
    recorder = PageRecorder(width, height)
    with recorder as canvas:
        draw(canvas)
    assert recorder.page is not None
    return recorder.page


# ---------------------------------------------------------------------------------------------- PDF / SVG


def pdf_bytes(pages: Sequence[Page], title: str = "", subject: str = "", author: str = "") -> bytes:
    """A vector PDF of the pages (fonts embedded as subset CID TrueType by skia)."""
    if not pages:
        raise InputError("没有可打印的页面 / nothing to print")
    import riskmap

    stream = skia.DynamicMemoryWStream()
    doc = skia.PDF.MakeDocument(stream, Title=title, Subject=subject, Author=author,
                                Creator="riskmap", Producer=f"riskmap {riskmap.__version__} (Skia/PDF)")
    for page in pages:
        canvas = doc.beginPage(page.width, page.height)
        canvas.drawPicture(page.picture)
        doc.endPage()
    doc.close()
    return bytes(stream.detachAsData())


_SVG_ROOT = re.compile(rb'<svg ([^>]*?)width="[^"]*" height="[^"]*"')


def svg_bytes(page: Page) -> bytes:
    """An SVG of one page: vector paths and <text> (escaped), sized in pt so it prints at its paper size."""
    stream = skia.DynamicMemoryWStream()
    canvas = skia.SVGCanvas.Make(skia.Rect(0, 0, page.width, page.height), stream)
    canvas.drawPicture(page.picture)
    del canvas
    data = bytes(stream.detachAsData())
    size = (f'width="{page.width:.2f}pt" height="{page.height:.2f}pt" '
            f'viewBox="0 0 {page.width:.3f} {page.height:.3f}"').encode()
    return _SVG_ROOT.sub(lambda m: b"<svg " + m.group(1) + size, data, count=1)


# ---------------------------------------------------------------------------------------------- raster


def raster_size(page: Page, dpi: float) -> tuple[int, int]:
    """The pixel size of a page at `dpi`, rounded up so nothing of the page is cut; at least 1 × 1."""
    scale = dpi / 72.0
    return max(1, math.ceil(page.width * scale - 1e-6)), max(1, math.ceil(page.height * scale - 1e-6))


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise InputError(f"图像过大（{width}×{height} 像素），请降低分辨率或用 PDF / raster too large "
                         f"({width}×{height} px): lower the resolution or use PDF")


def strips(page: Page, dpi: float, rows: int | None = None):
    """(y0, RGB uint8 array) strips of the page rendered on white at `dpi`, top to bottom."""
    width, height = raster_size(page, dpi)
    _check_pixels(width, height)
    rows = rows or max(16, min(height, STRIP_BYTES // (4 * width)))
    scale = dpi / 72.0
    surface = skia.Surface(width, rows)
    info = skia.ImageInfo.Make(width, rows, skia.kRGBA_8888_ColorType, skia.kUnpremul_AlphaType)
    buf = np.empty((rows, width, 4), np.uint8)
    for y0 in range(0, height, rows):
        canvas = surface.getCanvas()
        canvas.clear(skia.ColorWHITE)
        canvas.save()
        canvas.translate(0, -y0)
        canvas.scale(scale, scale)
        canvas.drawPicture(page.picture)
        canvas.restore()
        surface.readPixels(info, buf, width * 4, 0, 0)
        n = min(rows, height - y0)
        yield y0, buf[:n, :, :3]


def rasterize(page: Page, dpi: float) -> np.ndarray:
    """The whole page as an (h, w, 3) RGB array (for images of moderate size)."""
    width, height = raster_size(page, dpi)
    _check_pixels(width, height)
    out = np.empty((height, width, 3), np.uint8)
    for y0, rgb in strips(page, dpi):
        out[y0:y0 + len(rgb)] = rgb
    return out


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(page: Page, out: BinaryIO, dpi: float = PNG_DPI, progress: Callable[[float], None] | None = None) -> None:
    """Stream an RGB PNG of the page at `dpi` (with its pHYs resolution, so it prints at paper size)."""
    width, height = raster_size(page, dpi)
    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
    ppm = int(round(dpi / 0.0254))
    out.write(_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)))
    comp = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY)
    pending = bytearray()
    for y0, rgb in strips(page, dpi):
        rows = rgb.shape[0]
        # PNG filter "Sub": each byte minus the byte of the pixel to its left (flat colours become zeros).
        filtered = np.empty((rows, width * 3 + 1), np.uint8)
        filtered[:, 0] = 1
        flat = rgb.reshape(rows, width * 3)
        filtered[:, 1:4] = flat[:, :3]
        np.subtract(flat[:, 3:], flat[:, :-3], out=filtered[:, 4:], dtype=np.uint8, casting="unsafe")
        pending += comp.compress(filtered.tobytes())
        if len(pending) >= 1 << 20:
            out.write(_chunk(b"IDAT", bytes(pending)))
            pending.clear()
        if progress is not None:
            progress(min(1.0, (y0 + rows) / height))
    pending += comp.flush()
    out.write(_chunk(b"IDAT", bytes(pending)))
    out.write(_chunk(b"IEND", b""))


def png_bytes(page: Page, dpi: float = PNG_DPI) -> bytes:
    """A PNG of the page in memory (for moderate sizes; write_png streams large ones to a file)."""
    buf = io.BytesIO()
    write_png(page, buf, dpi)
    return buf.getvalue()
