"""An optional georeferenced raster basemap (the scanned drawing or an aerial photo, as GeoTIFF) as PNG tiles.

Each tile is read through a rasterio WarpedVRT onto the tile's own EPSG:3857 grid (256·scale px), so only the
source window under the tile is read and resampled; what lies outside the raster is transparent. The file is
opened once per thread (rasterio datasets are not shared between threads) and re-opened when it changes on
disk; its signature (size and modification time) versions the tile URLs and ETags.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from riskmap.errors import NotFoundError, RiskmapError
from riskmap.render.grid import TMS, TileView


class BasemapError(RiskmapError, http_status=500):
    """The configured basemap file cannot be used: a set-up problem of the server."""


@dataclass(frozen=True)
class BasemapInfo:
    """What a basemap is: its file signature, its bounds in Web Mercator and in longitude/latitude, and the first
    zoom whose pixels are no larger than its own."""

    path: str
    signature: str
    bounds_3857: tuple[float, float, float, float]
    bounds_lonlat: tuple[float, float, float, float]
    native_zoom: int


class Basemap:
    """The raster at `path` (any CRS GDAL knows; a file without CRS cannot be placed and is refused)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._local = threading.local()
        self._info: BasemapInfo | None = None
        self._lock = threading.Lock()

    def signature(self) -> str:
        """A short hash of the file's size and modification time: a replaced basemap gets new tiles; NotFoundError
        when the file is gone."""
        try:
            st = self.path.stat()
        except OSError:
            raise NotFoundError(f"底图文件 {self.path.name} 不存在 / basemap file {self.path.name} not found") from None
        text = f"{st.st_size}:{st.st_mtime_ns}"
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()

    def info(self) -> BasemapInfo:
        """The basemap's bounds and native zoom, read again when the file has changed."""
        sig = self.signature()
        info = self._info
        if info is not None and info.signature == sig:
            return info
        with self._lock:
            src = self._dataset(sig)
            from rasterio.warp import transform_bounds

            b3857 = transform_bounds(src.crs, "EPSG:3857", *src.bounds, densify_pts=21)
            lonlat = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
            px = max((b3857[2] - b3857[0]) / src.width, (b3857[3] - b3857[1]) / src.height)
            native = 0
            for z in range(0, 25):
                native = z
                if TMS.matrix(z).cellSize <= px:
                    break
            self._info = BasemapInfo(str(self.path), sig, tuple(float(v) for v in b3857),
                                     tuple(round(float(v), 7) for v in lonlat), native)
            return self._info

    def _dataset(self, sig: str):
        import rasterio
        from rasterio.errors import RasterioError

        held = getattr(self._local, "held", None)
        if held is not None and held[0] == sig:
            return held[1]
        if held is not None:
            held[1].close()
        try:
            src = rasterio.open(self.path)
        except (RasterioError, OSError) as exc:
            raise BasemapError(f"底图文件 {self.path.name} 无法读取：{exc} / cannot read basemap {self.path.name}") \
                from None
        if src.crs is None:
            src.close()
            raise BasemapError(f"底图文件 {self.path.name} 没有坐标系，无法定位 / basemap {self.path.name} has no CRS")
        self._local.held = (sig, src, _scaling(src), _colormap(src))
        return src

    def render(self, view: TileView, scale: int = 1) -> bytes:
        """The tile as PNG; transparent where the raster has no data or does not reach."""
        from affine import Affine
        from rasterio.enums import ColorInterp, Resampling
        from rasterio.vrt import WarpedVRT

        from riskmap.render.png import empty_png, encode_png

        info = self.info()
        size = 256 * scale
        minx, miny, maxx, maxy = view.bounds
        bx = info.bounds_3857
        if maxx <= bx[0] or minx >= bx[2] or maxy <= bx[1] or miny >= bx[3]:
            return empty_png(size, size)
        src = self._dataset(info.signature)
        _, _, (lo, hi), colormap = self._local.held
        interp = list(src.colorinterp)
        alpha_band = interp.index(ColorInterp.alpha) + 1 if ColorInterp.alpha in interp else None
        colour = [i + 1 for i, c in enumerate(interp) if c != ColorInterp.alpha][:3]
        resampling = Resampling.bilinear if colormap is None else Resampling.nearest
        transform = Affine.translation(minx, maxy) @ Affine.scale((maxx - minx) / size, (miny - maxy) / size)
        with WarpedVRT(src, crs="EPSG:3857", transform=transform, width=size, height=size,
                       resampling=resampling, add_alpha=alpha_band is None) as vrt:
            bands = vrt.read(colour)
            alpha = vrt.read(alpha_band or vrt.count)
        if colormap is not None and len(colour) == 1:
            lut = np.zeros((256, 4), np.uint8)
            for k, rgba in colormap.items():
                if 0 <= k < 256:
                    lut[k] = rgba
            rgb = lut[bands[0].astype(np.int64).clip(0, 255)][..., :3]
        else:
            if bands.dtype != np.uint8:
                bands = np.clip((bands.astype(np.float64) - lo) / max(hi - lo, 1e-12) * 255.0, 0, 255).astype(np.uint8)
            rgb = np.repeat(bands[:1], 3, axis=0).transpose(1, 2, 0) if len(colour) < 3 else \
                bands.transpose(1, 2, 0)
        a = alpha.astype(np.uint8) if alpha.dtype == np.uint8 else (alpha > 0).astype(np.uint8) * 255
        if not a.any():
            return empty_png(size, size)
        rgba = np.dstack([rgb, a])
        return encode_png(np.ascontiguousarray(rgba))


def _colormap(src) -> dict | None:
    """The first band's colour table (a palette GeoTIFF), or None."""
    try:
        return src.colormap(1)
    except ValueError:
        return None


def _scaling(src) -> tuple[float, float]:
    """Value range for rasters that are not 8-bit (from a decimated read of the first band)."""
    if src.dtypes[0] == "uint8":
        return 0.0, 255.0
    step = max(1, max(src.width, src.height) // 512)
    sample = src.read(1, out_shape=(max(1, src.height // step), max(1, src.width // step)), masked=True)
    if sample.count() == 0:
        return 0.0, 1.0
    return float(sample.min()), float(sample.max())


def open_basemap(path: str | os.PathLike | None) -> Basemap | None:
    """The configured basemap, or None when none is configured."""
    if not path:
        return None
    return Basemap(path)
