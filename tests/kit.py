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

from riskmap.levels import Level, load_palette
from riskmap.render.grid import TMS, TileView
from riskmap.render.style import load_layer_style

PALETTE = load_palette()


def rgba(body: bytes) -> np.ndarray:
    """A PNG's pixels as an (h, w, 4) uint8 array (asserting it is a PNG)."""
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGBA"))


def mvt(body: bytes, y_down: bool = False) -> dict:
    """A vector tile's layers as mapbox_vector_tile decodes them (extent 4096; y up unless `y_down`)."""
    if not body:
        return {}
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True}) if y_down else \
        mapbox_vector_tile.decode(body)


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])


LON, LAT = 118.80, 32.05          # a place for hand-made tiles (Nanjing)


def view_at(z: int, lon: float = LON, lat: float = LAT) -> TileView:
    """The tile holding (lon, lat) at zoom z."""
    from riskmap.render.grid import tile_view

    t = TMS.tile(lon, lat, z)
    return tile_view(z, t.x, t.y)


def frac_point(view: TileView, fx: float, fy: float):
    """A point given in tile fractions from the top-left corner, in EPSG:3857."""
    minx, _, maxx, maxy = view.bounds
    return shapely.Point(minx + fx * (maxx - minx), maxy - fy * (maxx - minx))


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


def session_demo(tmp_path_factory) -> Path:
    """A private copy of the demo plant's SQLite file: the demo is loaded once per test session (per xdist
    worker) into a template that no test touches, and every caller gets a copy of it (a file copy, not a load)."""
    template_dir = tmp_path_factory.getbasetemp() / "demo-template"
    template = template_dir / "demo.db"
    if not template.exists():
        template_dir.mkdir(parents=True, exist_ok=True)
        load_demo_db(template_dir)
    return Path(copy_db(template, tmp_path_factory.mktemp("demo"))[len("sqlite:///"):])


DEMO_ENTERPRISE = "江苏示范化工有限公司（虚构）"      # the enterprise of data/demo/ledger.*


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


MVT_TYPE = "application/vnd.mapbox-vector-tile"


def map_rows(url: str, layer: str) -> list[dict]:
    """The map snapshot rows of a layer with geometry (EPSG:3857), straight from the store."""
    from riskmap.store import open_store
    from riskmap.store.mapdata import read_rows

    with open_store(url) as store, store.session() as s:
        ent_id = store.enterprises()[0].id
        frame = read_rows(s, int(ent_id))
    frame = frame[(frame["layer"] == layer) & frame["wkb"].notna()]
    out = []
    for rec in frame.to_dict("records"):
        rec = {k: None if isinstance(v, float) and v != v else v for k, v in rec.items()}
        rec["geometry"] = shapely.from_wkb(rec["wkb"])
        out.append(rec)
    return out


def nearest_level(px: np.ndarray, layer: str = "units") -> Level:
    """The level whose fill on that layer (the regions' tint, the units' colour) is nearest to a pixel."""
    style = load_layer_style(layer)
    return min(Level, key=lambda lv: np.abs(hex_rgb(style.class_of(lv.value).fill) - px[:3].astype(int)).sum())


def person_token(store, roles, name: str = "安全员", enterprise: str | None = None) -> str:
    """An editor API token of a new account holding `roles` (riskmap.people.ROLES), of `enterprise` (None: of the
    whole service, as the tokens made without an account are). The routes of the ledger (accidents, flags) need
    the safety manager's "ledger" that the editor role does not have."""
    import uuid

    from riskmap.store import accounts, tokens

    made = accounts.create_account(store, enterprise, name=name, login=f"t-{uuid.uuid4().hex[:12]}", password=None,
                                   roles=list(roles))
    return tokens.create_token(store, "editor", name, account_id=made["id"])[0]


def run_async(main) -> None:
    """`asyncio.run(main())` in a thread of its own. Playwright's sync API (the browser tests, in the same pytest
    worker) leaves its event loop marked as running in the worker's main thread, where asyncio.run then refuses to
    start: which tests a worker runs after the browser tests depends on how xdist shares them out."""
    import asyncio
    import threading

    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:          # handed to the test's thread
            failed.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
