"""`import_layout`: one entry for every layout file (DXF, GeoJSON, GeoPackage, zipped or plain Shapefile,
KML/KMZ): guard, read, georeference, clean, and hand back a LayoutImport in EPSG:4326.

Nothing is written anywhere but a private temporary directory (for zips), removed before returning.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from riskmap.errors import LayoutImportError
from riskmap.geo.georef import georeference, to_lonlat
from riskmap.geo.gis import ReadOptions, read_geojson, read_gpkg, read_kml, read_shapefiles
from riskmap.geo.hygiene import clean, orient_rfc7946
from riskmap.geo.model import LayoutImport, RawLayout
from riskmap.geo.safety import ZipLimits, check_file_size, extract_entries, inspect_zip, open_zip, private_tempdir

if TYPE_CHECKING:
    from riskmap.geo.dxf import ExplodeBudget

FORMATS_BY_SUFFIX = {".dxf": "dxf", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".zip": "zip",
                     ".shp": "shp", ".kml": "kml", ".kmz": "kmz"}
_SHP_SIDECARS = {".shp", ".shx", ".dbf", ".prj", ".cpg"}
_SUPPORTED_TEXT = "DXF、GeoJSON、GeoPackage、Shapefile（.shp 或 .zip）、KML/KMZ"
OUTPUT_COLUMNS = ["fid", "name", "role", "layer", "properties"]


def detect_format(path: str | os.PathLike) -> str:
    """The reader for `path`: by content where the first bytes say it, else by extension."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    suffix = path.suffix.lower()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "kmz" if suffix == ".kmz" else "zip"
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head[:4] == b"\x00\x00\x27\x0a":
        return "shp"
    if head.startswith(b"AutoCAD Binary DXF"):
        return "dxf"
    if text.startswith((b"{", b"[")):
        return "geojson"
    if text.startswith(b"<") and b"<kml" in head:
        return "kml"
    if text.startswith((b"0\r\n", b"0\n", b"999")) and b"SECTION" in head[:512]:
        return "dxf"
    if suffix in FORMATS_BY_SUFFIX:
        return FORMATS_BY_SUFFIX[suffix]
    raise LayoutImportError(f"不支持的文件类型 “{path.suffix or path.name}”，支持：{_SUPPORTED_TEXT} / "
                            f"unsupported file type {path.suffix or path.name!r}; supported: DXF, GeoJSON, "
                            "GeoPackage, Shapefile (.shp or .zip), KML/KMZ")


def _load_layer_map(layer_map: Any):
    """None stays None (GIS files then take roles from attributes only; DXF uses the default map)."""
    if layer_map is None or hasattr(layer_map, "role_for"):
        return layer_map
    from riskmap.geo.layermap import LayerMap

    return LayerMap.coerce(layer_map)


def _read_dxf(path: Path, opts: ReadOptions, source_name: str) -> RawLayout:
    try:
        from riskmap.geo.dxf import read_dxf
    except ImportError as exc:
        raise LayoutImportError("DXF 读取模块不可用 / the DXF reader is not available") from exc
    raw = read_dxf(path, layer_map=opts.layer_map, max_entities=opts.max_features, explode_budget=opts.explode_budget)
    raw.source_name = source_name
    return raw


def _is_junk(name: str) -> bool:
    """macOS adds __MACOSX/ and ._ files to zips; they are not data."""
    p = PurePosixPath(name.replace("\\", "/"))
    return "__MACOSX" in p.parts or p.name.startswith("._")


def _suffix(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def _read_zip(path: Path, opts: ReadOptions, limits: ZipLimits, kmz: bool) -> RawLayout:
    """A zipped Shapefile (every .shp in it), a KMZ, or a zip holding one GeoPackage/GeoJSON/DXF file."""
    inner_formats = (".gpkg", ".geojson", ".json", ".dxf")
    with open_zip(path) as zf:
        files = inspect_zip(zf, limits)
        suffixes = Counter(_suffix(i.filename) for i in files if not _is_junk(i.filename))
        if suffixes[".shp"] and not kmz:
            kind, wanted = "shp", _SHP_SIDECARS
        elif suffixes[".kml"]:
            kind, wanted = "kml", {".kml"}
        elif not kmz and sum(suffixes[s] for s in inner_formats) == 1:
            inner = next(s for s in inner_formats if suffixes[s])
            kind, wanted = FORMATS_BY_SUFFIX[inner], {inner}
        else:
            what = "KMZ 中没有 .kml 文件 / the KMZ holds no .kml file" if kmz else (
                "ZIP 中没有 .shp 文件（也没有唯一的 GeoPackage/GeoJSON/KML/DXF 文件） / the zip holds no .shp file "
                "(nor a single GeoPackage, GeoJSON, KML or DXF file)")
            raise LayoutImportError(f"{path.name}：{what}")

        with private_tempdir() as tmp:
            extracted = extract_entries(zf, files, tmp, limits=limits,
                                        wanted=lambda n: not _is_junk(n) and _suffix(n) in wanted)
            if kind == "shp":
                return read_shapefiles(sorted(f for f in extracted if f.suffix.lower() == ".shp"), opts, path.name)
            if kind == "kml":
                kmls = sorted(extracted, key=lambda f: (f.name.lower() != "doc.kml", len(f.parts), str(f)))
                return read_kml(kmls[0], opts, path.name)
            return _read_file(extracted[0], kind, opts, limits, path.name)


def _read_file(path: Path, fmt: str, opts: ReadOptions, limits: ZipLimits, source_name: str) -> RawLayout:
    if fmt == "dxf":
        return _read_dxf(path, opts, source_name)
    if fmt == "geojson":
        return read_geojson(path, opts, source_name)
    if fmt == "gpkg":
        return read_gpkg(path, opts, source_name)
    if fmt == "kml":
        return read_kml(path, opts, source_name)
    if fmt == "shp":
        return read_shapefiles([path], opts, source_name)
    return _read_zip(path, opts, limits, kmz=fmt == "kmz")


def read_layout(path: str | os.PathLike, *, layer_map: Any = None, name_property: str = "name",
                role_property: str = "role", max_bytes: int = 200 * 1024 * 1024,
                max_features: int = 2_000_000, zip_limits: ZipLimits | None = None,
                explode_budget: ExplodeBudget | None = None) -> RawLayout:
    """Read a layout file in its own coordinates (no georeferencing, no cleaning), after the size guard."""
    path = Path(path)
    if not path.is_file():
        raise LayoutImportError(f"找不到文件 {path} / file not found: {path}")
    companions = [path.with_suffix(ext) for ext in (".dbf", ".shx")] if path.suffix.lower() == ".shp" else []
    check_file_size(path, max_bytes, companions)
    if path.stat().st_size == 0:
        raise LayoutImportError(f"文件 {path.name} 为空 / {path.name} is empty")
    fmt = detect_format(path)
    opts = ReadOptions(name_property, role_property, _load_layer_map(layer_map), max_features, explode_budget)
    limits = zip_limits or ZipLimits(max_total_bytes=max(5 * max_bytes, 1024 * 1024))
    return _read_file(path, fmt, opts, limits, path.name)


def import_layout(path: str | os.PathLike, *, crs: Any = None, control_points: Any = None, layer_map: Any = None,
                  name_property: str = "name", role_property: str = "role", max_bytes: int = 200 * 1024 * 1024,
                  max_rms_m: float = 0.5, origin: tuple[float, float] = (120.0, 32.0), enterprise: Any = None,
                  drop_invalid: bool = False, max_area_change: float = 0.01, max_features: int = 2_000_000,
                  zip_limits: ZipLimits | None = None, explode_budget: ExplodeBudget | None = None,
                  on_step: Callable[[str], None] | None = None, schematic: bool = False,
                  footprint: Any = None) -> LayoutImport:
    """Read, georeference and clean a layout file; raises a RiskmapError subclass for any bad input.

    - `crs`: the CRS of the layout's coordinates (overrides the file's own); with `control_points`, the CRS
      of their x,y columns instead.
    - `control_points`: a CSV path (see georef.read_control_points) or rows of (local_x, local_y, lon, lat).
    - `layer_map`: a LayerMap or a path to one; for GIS files it gives roles from a `layer` attribute (or the
      source layer's name) where the `role` attribute does not.
    - `drop_invalid`: drop polygons whose repair would change their area by more than `max_area_change`
      instead of refusing the file.
    - `enterprise` is accepted for callers that pass it along; the import does not depend on it.
    - `explode_budget`: how much exploding a DXF's blocks may add (riskmap.geo.dxf.ExplodeBudget; default: the
      settings' defaults).
    - `on_step(name)` is told when each stage starts (for a progress bar): read, georeference, clean, transform.
    - `schematic`: a drawing with no place on the earth (a process flow diagram): its coordinates are kept in a
      plane of its own (riskmap.drawings.schematic_plane), stored as Web Mercator metres near (0°, 0°).
    - `footprint`: the lon/lat outline of the building a floor plan belongs to; a plan with neither CRS nor
      control points is fitted onto it (riskmap.geo.georef.fit_to_footprint).
    """
    del enterprise
    # Extreme coordinates (1e300, inf, NaN in a drawing) make numpy warn on the way; they are refused or dropped
    # with a message below, so its warnings are noise on the user's terminal.
    with np.errstate(all="ignore"):
        return _import_layout(path, crs=crs, control_points=control_points, layer_map=layer_map,
                              name_property=name_property, role_property=role_property, max_bytes=max_bytes,
                              max_rms_m=max_rms_m, origin=origin, drop_invalid=drop_invalid,
                              max_area_change=max_area_change, max_features=max_features, zip_limits=zip_limits,
                              explode_budget=explode_budget, on_step=on_step, schematic=schematic,
                              footprint=footprint)


def _import_layout(path, *, crs, control_points, layer_map, name_property, role_property, max_bytes, max_rms_m,
                   origin, drop_invalid, max_area_change, max_features, zip_limits, explode_budget,
                   on_step, schematic, footprint=None) -> LayoutImport:
    step = on_step or (lambda _name: None)
    step("read")
    raw = read_layout(path, layer_map=layer_map, name_property=name_property, role_property=role_property,
                      max_bytes=max_bytes, max_features=max_features, zip_limits=zip_limits,
                      explode_budget=explode_budget)
    _storable_names(raw)
    step("georeference")
    if schematic:
        geo = _on_plane(raw)
    else:
        geo = georeference(raw, crs=crs, control_points=control_points, max_rms_m=max_rms_m, origin=origin,
                           footprint=footprint)
    metric = gpd.GeoDataFrame(raw.features.drop(columns="geometry"), geometry=geo.geometry, crs=geo.crs)
    step("clean")
    cleaned = clean(metric, max_area_change=max_area_change, drop_invalid=drop_invalid)
    if len(cleaned.features) == 0:
        raise LayoutImportError(f"{raw.source_name} 中没有可用的要素（全部为空或退化） / "
                                f"{raw.source_name} has no usable features (all empty or degenerate)")

    step("transform")
    lonlat = to_lonlat(np.asarray(cleaned.features.geometry.array, dtype=object), geo.crs)
    bounds = shapely.bounds(lonlat)
    bad = ~np.isfinite(bounds).all(axis=1) | (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | \
        (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
    if bad.any():
        shown = "、".join(cleaned.features["fid"].astype(str).to_numpy()[bad][:10])
        raise LayoutImportError(
            f"{int(bad.sum())} 个要素转换后超出经纬度范围（可能是远离图面的杂散图元或坐标系不符）：{shown} / "
            f"{int(bad.sum())} features fall outside lon/lat range after georeferencing (stray entities far from "
            f"the plan, or a wrong CRS): {shown}")

    features = gpd.GeoDataFrame(cleaned.features[OUTPUT_COLUMNS].reset_index(drop=True),
                                geometry=orient_rfc7946(lonlat), crs="EPSG:4326")
    dropped = Counter(raw.dropped)
    dropped.update(cleaned.dropped)
    return LayoutImport(features=features, crs=geo.crs, source_name=raw.source_name,
                        source_format=raw.source_format, georeferenced=geo.georeferenced and not schematic,
                        georeference=geo.info, warnings=[*raw.warnings, *geo.warnings, *cleaned.warnings],
                        repaired=cleaned.repaired, dropped=dict(dropped))


def _on_plane(raw: RawLayout):
    """A schematic drawing's coordinates moved into its plane: the top-left corner at Web Mercator (0, 0), one
    drawing unit per metre (riskmap.drawings.schematic_plane says why)."""
    from riskmap.drawings import schematic_plane
    from riskmap.geo.georef import Georeferenced

    geoms = np.asarray(raw.features.geometry.array, dtype=object)
    bounds = shapely.total_bounds(geoms)
    if not np.isfinite(bounds).all():
        raise LayoutImportError(f"{raw.source_name} 中没有可用的要素 / {raw.source_name} has no usable features")
    plane = schematic_plane(tuple(float(b) for b in bounds))
    ox, oy = plane["origin"]
    moved = shapely.transform(geoms, lambda xy: xy - np.array([ox, oy]))
    info = {"method": "schematic", "plane": plane}
    return Georeferenced(moved, "EPSG:3857", False, info,
                         ["示意图：坐标保留在图纸自身的平面中，没有地理位置 / schematic drawing: coordinates kept "
                          "in the drawing's own plane, with no place on the earth"])


def _storable_names(raw: RawLayout) -> None:
    """Ids, names and layers holding a character no database can store (a NUL, a lone surrogate from a JSON
    escape) get U+FFFD in its place, with a warning saying how many (riskmap.text)."""
    from riskmap.text import storable, unstorable

    changed = 0
    for column in ("fid", "name", "layer"):
        values = raw.features[column]
        bad = values.map(lambda v: isinstance(v, str) and unstorable(v) is not None).to_numpy(dtype=bool)
        if bad.any():
            raw.features.loc[bad, column] = values[bad].map(storable)
            changed += int(bad.sum())
    if changed:
        raw.warnings.append(f"{changed} 个要素编号、名称或图层含有无法保存的字符（NUL 或孤立代理项），已替换为 � / "
                            f"{changed} feature ids, names or layers held characters that cannot be stored (NUL or "
                            "a lone surrogate); replaced by �")


def import_layout_file(settings, path: str | os.PathLike, *, crs: Any = None, control_points: Any = None,
                       layer_map: Any = None, name_property: str = "name", role_property: str = "role",
                       max_rms: float | None = None, drop_invalid: bool = False,
                       on_step: Callable[[str], None] | None = None, schematic: bool = False,
                       footprint: Any = None) -> LayoutImport:
    """import_layout under the limits and defaults of the settings (upload size, RMS limit, local origin), as
    the CLI and the HTTP upload paths share them; `layer_map` may be a file path."""
    from riskmap.geo.dxf import ExplodeBudget
    from riskmap.geo.layermap import LayerMap

    path = Path(path)
    if not path.exists():
        raise LayoutImportError(f"找不到文件 {path} / file not found: {path}")
    return import_layout(
        path, crs=crs, control_points=control_points,
        layer_map=LayerMap.load(layer_map) if layer_map else None, name_property=name_property,
        role_property=role_property, max_bytes=settings.max_upload_bytes,
        max_rms_m=max_rms if max_rms is not None else settings.max_rms_m,
        origin=(settings.origin_lon, settings.origin_lat), drop_invalid=drop_invalid,
        explode_budget=ExplodeBudget(settings.dxf_max_exploded_entities, settings.dxf_max_exploded_vertices),
        on_step=on_step, schematic=schematic, footprint=footprint)
