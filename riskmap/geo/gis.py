"""GIS layout readers (GeoJSON, GeoPackage, Shapefile, KML) through pyogrio, giving a RawLayout.

Roles and names come from feature attributes (`role` / `name` by default, matched case-insensitively so KML's
`Name` works), a role may be written in English or Chinese, and a layer map may assign roles from a `layer`
attribute or the source layer's name. Coordinates stay in the file's own CRS: georeferencing comes after.
"""

from __future__ import annotations

import codecs
import json
import os
import struct
import warnings as pywarnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from riskmap.errors import LayoutImportError, TooLargeError
from riskmap.geo.hygiene import flat
from riskmap.geo.model import ROLE_EN, ROLE_ZH, ROLES, RawLayout

# Role words users write in a `role` attribute, Chinese and English, normalised to lower case.
ROLE_ALIASES: dict[str, str] = {
    **{role: role for role in ROLES},
    **{zh: role for role, zh in ROLE_ZH.items()},
    **{en.lower(): role for role, en in ROLE_EN.items()},
    "区域": "region", "分区": "region", "生产区": "region", "功能区": "region", "area": "region", "zone": "region",
    "建筑": "building", "建筑物": "building", "厂房": "building", "房屋": "building", "构筑物": "building",
    "bldg": "building",
    "设备": "equipment", "设施": "equipment", "储罐": "equipment", "罐": "equipment", "equip": "equipment",
    "tank": "equipment",
    "道路": "road", "路": "road",
    "围墙": "fence", "围栏": "fence", "wall": "fence",
    "其它": "other",
    "紧急集合点": "assembly_point", "应急集合点": "assembly_point", "assembly": "assembly_point",
    "疏散通道": "escape_route", "逃生路线": "escape_route", "疏散路径": "escape_route", "escape": "escape_route",
    "evacuation route": "escape_route", "出口": "emergency_exit", "紧急出口": "emergency_exit",
    "exit": "emergency_exit", "消防栓": "fire_hydrant", "hydrant": "fire_hydrant",
    "fire extinguisher": "extinguisher", "洗眼器": "eyewash", "紧急喷淋": "eyewash", "洗眼": "eyewash",
    "应急器材柜": "emergency_store", "应急柜": "emergency_store", "应急物资": "emergency_store",
}

_CPG_UTF8 = {"utf-8", "utf8", "65001"}
IGNORE = "ignore"                         # a layer map's role for layers that give no features
_STANDARD_COLUMNS = ["fid", "name", "role", "layer", "properties", "geometry"]
# Nesting a GeoJSON layout may have: coordinates of a multipolygon in a feature collection are 7 levels deep, the
# rest is room for nested properties.
GEOJSON_MAX_DEPTH = 64


@dataclass(frozen=True)
class ReadOptions:
    """How a reader finds each feature's name and role in the attributes, and its limits: more features than
    `max_features` is a TooLargeError; `explode_budget` applies to DXF only."""

    name_property: str = "name"
    role_property: str = "role"
    layer_map: Any = None                 # a riskmap.geo.layermap.LayerMap, or None
    max_features: int = 2_000_000
    explode_budget: Any = None            # a riskmap.geo.dxf.ExplodeBudget for DXF files, None for the default


@dataclass(frozen=True)
class _Source:
    """One layer to read: a dataset path, the layer inside it (None for single-layer files), its label."""

    path: Path
    layer: str | None
    label: str
    encoding: str | None = None


def _fail_unreadable(fmt: str, path: Path, exc: Exception) -> LayoutImportError:
    zh = {"geojson": "GeoJSON", "gpkg": "GeoPackage", "shp": "Shapefile", "kml": "KML"}.get(fmt, fmt)
    detail = str(exc).split("; It might help")[0]
    return LayoutImportError(f"无法读取 {zh} 文件 {path.name}：文件损坏或格式不符 / "
                             f"cannot read {path.name} as {zh}: {detail}")


@contextmanager
def _quiet_gdal() -> Iterator[None]:
    """GDAL's notes (e.g. a GeoPackage with a non-standard extension) and numpy's about NaN coordinates (refused
    afterwards with a message) are noise to users; errors still raise."""
    with pywarnings.catch_warnings(), np.errstate(invalid="ignore", over="ignore"):
        pywarnings.filterwarnings("ignore", category=RuntimeWarning, module=r"(pyogrio|shapely)\.")
        yield


def _list_layers(path: Path, fmt: str) -> list[tuple[str, str | None]]:
    try:
        with _quiet_gdal():
            layers = pyogrio.list_layers(path)
    except (RuntimeError, ValueError, OSError) as exc:
        raise _fail_unreadable(fmt, path, exc) from exc
    return [(str(name), None if gtype is None else str(gtype)) for name, gtype in layers]


def _find_column(columns: Iterable[str], wanted: str | None) -> str | None:
    """Exact match first, then case-insensitive (KML gives `Name` for <name>)."""
    if not wanted:
        return None
    columns = list(columns)
    if wanted in columns:
        return wanted
    lowered = wanted.lower()
    return next((c for c in columns if str(c).lower() == lowered), None)


def _stripped_text(values: pd.Series) -> pd.Series:
    """Values as stripped text, missing values as None (object dtype, so None stays None)."""
    out = pd.Series(None, index=values.index, dtype="object")
    present = values.notna()
    if present.any():
        out[present] = values[present].astype(str).str.strip()
    return out


def normalise_roles(values: pd.Series) -> pd.Series:
    """Map role words (English or Chinese, any case) to ROLES; missing or unknown values become NaN."""
    return _stripped_text(values).str.lower().map(ROLE_ALIASES).astype("object")


def _text_or_none(values: pd.Series) -> pd.Series:
    text = _stripped_text(values)
    return text.where(text.notna() & (text != ""), None).astype("object")


def _properties(attrs: pd.DataFrame) -> list[dict]:
    """Source attributes as JSON-able dicts (NaN → None, dates as ISO text), columns empty everywhere dropped."""
    attrs = attrs.dropna(axis=1, how="all")
    if attrs.shape[1] == 0:
        return [{} for _ in range(len(attrs))]
    text = attrs.to_json(orient="records", force_ascii=False, date_format="iso", default_handler=str)
    return json.loads(text)


def _frame_for(df: gpd.GeoDataFrame, source: _Source, multi: bool, opts: ReadOptions) -> gpd.GeoDataFrame:
    attrs = pd.DataFrame(df.drop(columns=df.geometry.name))
    columns = list(attrs.columns)
    name_col = _find_column(columns, opts.name_property)
    role_col = _find_column(columns, opts.role_property)
    layer_col = _find_column(columns, "layer")
    id_col = _find_column(columns, "id")

    fids = pd.Series(df.index.astype(str), index=df.index, dtype="object")
    if id_col is not None:
        ids = _text_or_none(attrs[id_col])
        if ids.notna().all() and ids.is_unique:
            fids = ids
    if multi:
        fids = source.label + "/" + fids.astype(str)

    layer = _text_or_none(attrs[layer_col]) if layer_col else pd.Series(None, index=df.index, dtype="object")
    layer = layer.fillna(source.label)
    role = normalise_roles(attrs[role_col]) if role_col else pd.Series(np.nan, index=df.index, dtype="object")
    raw_role = attrs[role_col].astype("object") if role_col else pd.Series(None, index=df.index, dtype="object")
    name = _text_or_none(attrs[name_col]) if name_col else pd.Series(None, index=df.index, dtype="object")
    geometry = flat(np.asarray(df.geometry.array, dtype=object))
    return gpd.GeoDataFrame({
        "fid": fids.to_numpy(dtype=object),
        "name": name.to_numpy(dtype=object),
        "role": role.to_numpy(dtype=object),
        "raw_role": raw_role.to_numpy(dtype=object),
        "layer": layer.to_numpy(dtype=object),
        "properties": _properties(attrs),
    }, geometry=geometry, crs=df.crs)


def _assign_roles(gdf: gpd.GeoDataFrame, opts: ReadOptions, warnings: list[str]) -> None:
    """Fill roles the attribute did not give: from the layer map if there is one (its "ignore" role marks
    features to leave out), else "other" with a warning."""
    missing = gdf["role"].isna()
    if missing.any() and opts.layer_map is not None:
        layers = gdf.loc[missing, "layer"].astype(str)
        by_layer = {layer: opts.layer_map.role_for(layer) for layer in layers.unique()}
        gdf.loc[missing, "role"] = layers.map(by_layer).to_numpy(dtype=object)
        missing = gdf["role"].isna()
    n_missing = int(missing.sum())
    if n_missing:
        unknown = gdf.loc[missing, "raw_role"].dropna().astype(str).unique()[:5]
        examples = "、".join(f"“{u}”" for u in unknown)
        zh_ex = f"（无法识别的值：{examples}）" if len(unknown) else ""
        en_ex = f" (unknown values: {', '.join(repr(u) for u in unknown)})" if len(unknown) else ""
        warnings.append(
            f"{n_missing} 个要素缺少 {opts.role_property} 属性或其值无法识别{zh_ex}，已归为 other（其他） / "
            f"{n_missing} features have a missing or unknown {opts.role_property!r}{en_ex}; set to other")
        gdf.loc[missing, "role"] = "other"


def _refuse_non_finite(gdf: gpd.GeoDataFrame, source_name: str) -> None:
    """NaN or infinite coordinates are no place at all (GeoJSON does not even allow them): the file is refused,
    naming the features, before georeferencing or geometry repair would stumble over them."""
    with np.errstate(invalid="ignore", over="ignore"):
        coords, owner = shapely.get_coordinates(np.asarray(gdf.geometry.array, dtype=object), return_index=True)
        bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        rows = np.unique(owner[bad])
        fids = [str(f)[:80] for f in gdf["fid"].to_numpy()[rows][:10]]
        raise LayoutImportError(f"{source_name} 中 {len(rows)} 个要素的坐标含 NaN 或无穷大：{'、'.join(fids)} / "
                                f"{len(rows)} features of {source_name} have NaN or infinite coordinates: "
                                f"{', '.join(fids)}")


def _dedupe_fids(gdf: gpd.GeoDataFrame, warnings: list[str]) -> None:
    dup = gdf["fid"].duplicated(keep="first")
    if dup.any():
        n = gdf.groupby("fid").cumcount()
        gdf.loc[dup, "fid"] = gdf.loc[dup, "fid"].astype(str) + "#" + n[dup].astype(str)
        warnings.append(f"{int(dup.sum())} 个要素 id 重复，已加后缀区分 / "
                        f"{int(dup.sum())} duplicate feature ids were made unique with a '#n' suffix")


def read_sources(sources: list[_Source], *, fmt: str, source_name: str, opts: ReadOptions) -> RawLayout:
    """Read every layer of `sources` into one RawLayout; layers with a different CRS go into the first's."""
    frames: list[tuple[_Source, gpd.GeoDataFrame]] = []
    warnings: list[str] = []
    total = 0
    for source in sources:
        try:
            with _quiet_gdal():
                info = pyogrio.read_info(source.path, layer=source.layer, encoding=source.encoding)
            if info["geometry_type"] is None:          # attribute-only table (e.g. in a GeoPackage)
                continue
            total += int(info["features"] or 0)
            if total > opts.max_features:
                raise TooLargeError(f"要素过多（超过 {opts.max_features} 个） / "
                                    f"too many features (over {opts.max_features})")
            with _quiet_gdal():
                df = pyogrio.read_dataframe(source.path, layer=source.layer, encoding=source.encoding,
                                            fid_as_index=True)
        except (RuntimeError, ValueError, OSError, IndexError) as exc:
            raise _fail_unreadable(fmt, source.path, exc) from exc
        if len(df):
            frames.append((source, df))
    if not frames:
        raise LayoutImportError(f"文件 {source_name} 中没有任何要素 / {source_name} contains no features")

    target_crs = next((df.crs for _, df in frames if df.crs is not None), None)
    multi = len(frames) > 1
    out = []
    for source, df in frames:
        if df.crs is None and target_crs is not None:
            warnings.append(f"图层 {source.label} 没有坐标系，按 {target_crs.to_string()} 处理 / "
                            f"layer {source.label} has no CRS; taken as {target_crs.to_string()}")
            df = df.set_crs(target_crs)
        elif df.crs is not None and target_crs is not None and df.crs != target_crs:
            df = df.to_crs(target_crs)
        out.append(_frame_for(df, source, multi, opts))
    gdf = gpd.GeoDataFrame(pd.concat(out, ignore_index=True), geometry="geometry", crs=target_crs)
    _refuse_non_finite(gdf, source_name)
    _assign_roles(gdf, opts, warnings)
    ignored = gdf["role"] == IGNORE
    dropped = {"ignored layer": int(ignored.sum())} if ignored.any() else {}
    gdf = gdf.loc[~ignored].reset_index(drop=True)
    _dedupe_fids(gdf, warnings)
    return RawLayout(features=gdf[_STANDARD_COLUMNS], crs=target_crs, source_name=source_name,
                     source_format=fmt, warnings=warnings, dropped=dropped)


# --- the formats -----------------------------------------------------------------------------------------


def read_geojson(path: str | os.PathLike, opts: ReadOptions = ReadOptions(),
                 source_name: str | None = None) -> RawLayout:
    """A GeoJSON layout; when GDAL cannot read it, the error says where the JSON breaks or why it is not GeoJSON."""
    path = Path(path)
    try:
        return read_sources([_Source(path, None, path.stem)], fmt="geojson",
                            source_name=source_name or path.name, opts=opts)
    except LayoutImportError as exc:
        raise _explain_json(path, exc) from exc


def _explain_json(path: Path, exc: LayoutImportError) -> LayoutImportError:
    """GDAL's message for a broken file is vague; the strict JSON reader says where it breaks."""
    from riskmap.strictjson import JSONProblem, loads

    if path.stat().st_size > 50 * 1024 * 1024:
        return exc
    try:
        data = loads(path.read_bytes(), max_depth=GEOJSON_MAX_DEPTH)
    except JSONProblem as problem:
        return LayoutImportError(problem.about(f"GeoJSON 文件 {path.name} ", f"{path.name}"))
    if isinstance(data, dict) and data.get("type") == "FeatureCollection" and not data.get("features"):
        return LayoutImportError(f"GeoJSON 文件 {path.name} 中没有任何要素 / {path.name} has no features")
    if not isinstance(data, dict) or data.get("type") not in (
            "FeatureCollection", "Feature", "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
            "MultiPolygon", "GeometryCollection", "Topology"):
        return LayoutImportError(f"{path.name} 是 JSON 但不是 GeoJSON（缺少 type: FeatureCollection） / "
                                 f"{path.name} is JSON but not GeoJSON (no type: FeatureCollection)")
    return exc


def read_gpkg(path: str | os.PathLike, opts: ReadOptions = ReadOptions(),
              source_name: str | None = None) -> RawLayout:
    """Every layer of a GeoPackage that has geometry (attribute-only tables are skipped), as one layout."""
    path = Path(path)
    layers = [name for name, gtype in _list_layers(path, "gpkg") if gtype is not None]
    return read_sources([_Source(path, name, name) for name in layers], fmt="gpkg",
                        source_name=source_name or path.name, opts=opts)


def read_kml(path: str | os.PathLike, opts: ReadOptions = ReadOptions(), source_name: str | None = None,
             fmt: str = "kml") -> RawLayout:
    """A KML file (or the doc.kml extracted from a KMZ), each of its layers read; a file that declares a DTD or
    entities, or is not well-formed XML, is refused before GDAL reads it."""
    from riskmap.xmlguard import DTDFound, NotWellFormed, file_chunks, refuse_dtd

    path = Path(path)
    try:
        refuse_dtd(file_chunks(path))
    except DTDFound:
        raise LayoutImportError(f"KML 文件 {path.name} 含有 DTD/实体声明，出于安全原因拒绝 / "
                                f"{path.name} declares a DTD or entities; refused for safety") from None
    except NotWellFormed as exc:
        raise LayoutImportError(f"KML 文件 {path.name} 不是格式正确的 XML（第 {exc.line} 行：{exc}） / "
                                f"{path.name} is not well-formed XML (line {exc.line}: {exc})") from None
    layers = [name for name, _ in _list_layers(path, "kml")]
    return read_sources([_Source(path, name, name) for name in layers], fmt=fmt,
                        source_name=source_name or path.name, opts=opts)


def read_shapefiles(shp_paths: list[Path], opts: ReadOptions = ReadOptions(),
                    source_name: str | None = None) -> RawLayout:
    """One or more .shp files with their sidecars beside them (a zip's content, or a .shp on disk)."""
    sources, warnings = [], []
    for shp in shp_paths:
        missing = [ext for ext in (".shx", ".dbf") if _sidecar(shp, ext) is None]
        if missing:
            raise LayoutImportError(f"Shapefile {shp.name} 缺少 {'、'.join(missing)} 文件 / "
                                    f"shapefile {shp.name} lacks its {', '.join(missing)} file")
        encoding, note = shapefile_encoding(shp)
        if note:
            warnings.append(note)
        sources.append(_Source(shp, None, shp.stem, encoding))
    raw = read_sources(sources, fmt="shp", source_name=source_name or shp_paths[0].name, opts=opts)
    raw.warnings[:0] = warnings
    return raw


def _sidecar(shp: Path, ext: str) -> Path | None:
    for candidate in (shp.with_suffix(ext), shp.with_suffix(ext.upper())):
        if candidate.exists():
            return candidate
    return None


def shapefile_encoding(shp: Path) -> tuple[str | None, str | None]:
    """The encoding to read `shp`'s .dbf with (None: let GDAL decide from the .cpg) and a warning or None.

    A .cpg is trusted unless it claims UTF-8 for bytes that are not. Without a .cpg the bytes decide: strict
    UTF-8 first (ASCII passes), then GB18030 (a superset of GBK/GB2312, what Chinese desktop GIS writes).
    """
    dbf = _sidecar(shp, ".dbf")
    cpg = _sidecar(shp, ".cpg")
    declared = cpg.read_bytes()[:64].decode("ascii", "replace").strip() if cpg else None
    detected = sniff_dbf_encoding(dbf) if dbf else None
    if declared:
        if declared.lower() in _CPG_UTF8 and detected not in (None, "UTF-8"):
            return detected, (f"{shp.stem}.cpg 声明 UTF-8，但属性实为 {detected} 编码，已按 {detected} 读取 / "
                              f"{shp.stem}.cpg says UTF-8 but the attributes are {detected}; read as {detected}")
        return None, None
    if detected:
        return detected, None
    return None, (f"{shp.stem}.dbf 的编码无法识别，中文可能显示为乱码 / "
                  f"cannot tell the encoding of {shp.stem}.dbf; text may be garbled")


def sniff_dbf_encoding(dbf: Path, chunk: int = 4 * 1024 * 1024) -> str | None:
    """"UTF-8" or "GB18030" if every text byte of the .dbf (field names and records) decodes, else None."""
    with open(dbf, "rb") as fh:
        header = fh.read(32)
        if len(header) < 32:
            return None
        header_len = struct.unpack("<H", header[8:10])[0]
        descriptors = fh.read(max(header_len - 32, 0))
        names = [descriptors[i:i + 11].split(b"\x00")[0]
                 for i in range(0, len(descriptors) - 31, 32) if descriptors[i] != 0x0D]
        for encoding in ("UTF-8", "GB18030"):
            decoder = codecs.getincrementaldecoder(encoding)("strict")
            fh.seek(header_len)
            try:
                for name in names:
                    name.decode(encoding)
                while block := fh.read(chunk):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                continue
            return encoding
    return None
