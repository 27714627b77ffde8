"""Decoders and small builders shared by the test modules (imported as `kit`; test modules never import each other).

Decode what riskmap produces and assert on that: PNG pixels, MVT features, tile positions of map points.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
from pathlib import Path

import mapbox_vector_tile
import morecantile
import numpy as np
import shapely
from PIL import Image

from riskmap.render.grid import TMS, TileView


def rgba(body: bytes) -> np.ndarray:
    """A PNG's pixels as an (h, w, 4) uint8 array (asserting it is a PNG)."""
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGBA"))


def mvt(body: bytes) -> dict:
    """A vector tile's layers as mapbox_vector_tile decodes them (y up, extent 4096)."""
    return mapbox_vector_tile.decode(body) if body else {}


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])


def frac_box(view: TileView, fx0: float, fy0: float, fx1: float, fy1: float):
    """A box given in tile fractions from the top-left corner (x right, y down), in EPSG:3857."""
    minx, miny, maxx, maxy = view.bounds
    w, h = maxx - minx, maxy - miny
    return shapely.box(minx + fx0 * w, maxy - fy1 * h, minx + fx1 * w, maxy - fy0 * h)


def pixel_of(x3857: float, y3857: float, z: int, scale: int = 1) -> tuple[morecantile.Tile, int, int]:
    """The tile holding an EPSG:3857 point and the point's pixel (column, row) in it."""
    lon, lat = TMS.lnglat(x3857, y3857)
    tile = TMS.tile(lon, lat, z)
    b = TMS.xy_bounds(tile)
    col = int((x3857 - b.left) / (b.right - b.left) * 256 * scale)
    row = int((b.top - y3857) / (b.top - b.bottom) * 256 * scale)
    return tile, col, row


def pixel_centres(view: TileView, scale: int = 1) -> np.ndarray:
    """The EPSG:3857 centres of a tile's pixels, (h·w, 2), row by row from the top."""
    minx, miny, maxx, maxy = view.bounds
    n = 256 * scale
    step_x, step_y = (maxx - minx) / n, (maxy - miny) / n
    xs = minx + (np.arange(n) + 0.5) * step_x
    ys = maxy - (np.arange(n) + 0.5) * step_y
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])


def load_demo_db(folder: Path) -> Path:
    """The demo plant in a fresh SQLite file, checkpointed so that the file alone can be copied."""
    from riskmap.demo import load_demo
    from riskmap.settings import Settings

    path = folder / "demo.db"
    load_demo(Settings(db=f"sqlite:///{path}"))
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def copy_db(src: Path, folder: Path) -> str:
    """A writable copy of a SQLite file, as a URL."""
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / "copy.db"
    shutil.copy(src, dst)
    return f"sqlite:///{dst}"


def make_client(url: str, **settings):
    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app
    from riskmap.settings import Settings

    return TestClient(create_app(Settings(db=url, **settings)))
