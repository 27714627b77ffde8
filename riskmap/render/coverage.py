"""The inspection-coverage layer as features: what an OGC API collection (or any GeoJSON client) serves, with the
same states the coverage tiles draw.

Why here and shaped so: the tiles (riskmap.render.tilecache) draw the units of the map snapshot coloured by
riskmap.inspections.store.coverage; a feature collection must say the same thing about the same geometry, so it
reads the same two sources (the snapshot's `units` rows, EPSG:3857, and the coverage states) and nothing else.
The caller pages it (`limit`, `offset`, `bbox` in lon/lat) and may hand in states it already holds (the tile
service keeps them per data version and day), so that a page of features never recomputes the whole plant's
windows. With `details` each unit also carries its last check and next due check (unit_checks: at most 200 units
a call, what a popup or an item page shows). Read only.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping
from sqlalchemy import func, select

from riskmap.errors import InputError
from riskmap.inspections import store as ins
from riskmap.inspections.coverage import COVERAGE
from riskmap.store.mapdata import MapFeatureRow
from riskmap.store.rows import enterprise_id

if TYPE_CHECKING:
    from riskmap.store.repository import Store

TO_LONLAT = Transformer.from_crs(3857, 4326, always_xy=True)
TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
MAX_LIMIT = 10_000
MAX_DETAILED = 200
# The properties of a coverage feature, with what they mean (an OGC collection's queryables / schema).
PROPERTIES = {
    "unit_id": "单元编号 / unit id", "name": "单元名称 / unit name", "kind": "单元类型 / unit kind",
    "coverage": "排查覆盖状态 missed | due | done | suspended | none / coverage state",
    "coverage_zh": "状态（中文）", "coverage_en": "state (English)", "window": "today | week | month",
    "checkpoint": "是否有巡检点二维码 / has a current QR checkpoint",
}


def _lonlat(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(TO_LONLAT.transform(xy[:, 0], xy[:, 1])))


def coverage_features(store: Store, name: str, window: str = "today", *, bbox: tuple[float, ...] | None = None,
                      limit: int = 1000, offset: int = 0, now: datetime | None = None,
                      states: tuple[dict[str, str], set[str]] | None = None,
                      checkpoints: bool = False, details: bool = False) -> tuple[list[dict[str, Any]], int]:
    """The units of the map (or, with `checkpoints`, a point inside each unit that has a current QR plate) as
    GeoJSON features in lon/lat, each with its coverage state in `window`; ordered by unit id, `offset` and
    `limit` applied, `bbox` (west, south, east, north, lon/lat) filtering. Returns (features, number matched).
    `states` is (unit → state, units with a plate) as riskmap.inspections.store.coverage gives it (computed
    when not given). InputError for a bad window, bbox, limit or offset."""
    if not 1 <= int(limit) <= MAX_LIMIT or int(offset) < 0:
        raise InputError(f"limit 应为 1–{MAX_LIMIT}，offset 不小于 0 / limit is 1 to {MAX_LIMIT}, offset at least 0")
    ins.window_range(window, now)          # InputError for another window
    if states is None:
        states = ins.coverage(store, name, window, now=now)
    by_unit, plates = states
    row = MapFeatureRow
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        where = [row.enterprise_id == ent_id, row.layer == "units", row.geometry.is_not(None)]
        if checkpoints:
            where.append(row.key.in_(sorted(plates)) if plates else row.key.is_(None))
        if bbox is not None:
            west, south, east, north = _bbox(bbox)
            (x0, x1), (y0, y1) = TO_MERCATOR.transform([west, east], [south, north])
            where += [row.maxx >= x0, row.minx <= x1, row.maxy >= y0, row.miny <= y1]
        matched = s.execute(select(func.count()).select_from(row).where(*where)).scalar_one()
        rows = s.execute(select(row.key, row.name, row.kind, row.geometry).where(*where).order_by(row.key)
                         .offset(int(offset)).limit(int(limit))).all()
    extra = ins.unit_checks(store, name, [r.key for r in rows], window, now=now) \
        if details and len(rows) <= MAX_DETAILED else {}
    out = []
    for key, unit_name, kind, geom in rows:
        state = by_unit.get(key, "none")
        shape = shapely.point_on_surface(geom) if checkpoints else geom
        props = {"unit_id": key, "name": unit_name, "kind": kind, "coverage": state,
                 "coverage_zh": COVERAGE[state][0], "coverage_en": COVERAGE[state][1], "window": window,
                 "checkpoint": key in plates}
        if details:
            found = extra.get(key, {})
            props.update({"last_check": found.get("last_check"), "next_due": found.get("next_due")})
        out.append({"type": "Feature", "id": key, "geometry": mapping(_lonlat(shape)), "properties": props})
    return out, int(matched)


def _bbox(bbox: tuple[float, ...]) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InputError("bbox 应为 西,南,东,北 四个数 / bbox is west,south,east,north") from None
    if not (-180 <= west <= east <= 180 and -85.06 <= south <= north <= 85.06):
        raise InputError("bbox 应为 西,南,东,北（经纬度，西≤东，南≤北）/ bbox is west,south,east,north in lon/lat")
    return west, south, east, north
