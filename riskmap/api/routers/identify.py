"""What is here, and where is it: the web map's click (`/api/identify`) and name search (`/api/search`).

Both read a `PlantIndex`: the plant, its region risk and spatial indexes, built once per enterprise and data
version and kept for the process (a click must not reload a 100,000-unit ledger). Answers carry the level, the
explanation (which unit and event decided the colour, by which rule), events, controls, responsible people
and when each unit was last assessed. Text is data: the page puts it into the DOM with textContent.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from concurrent.futures import Future
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Query, Request

from riskmap.api import answers
from riskmap.api.deps import app_singleton, resolve_tenant
from riskmap.attach import located_geometries
from riskmap.domain import RESIDUAL, AssessmentUnit, RiskEvent, UnitTree
from riskmap.errors import InputError, NotFoundError
from riskmap.levels import Level, level_code, level_rank, level_zh

Method = Literal["highest", "weighted"]
Which = Literal["residual", "inherent"]
Window = Literal["today", "week", "month"]
MAX_UNITS = 20            # units listed per click; the rest are counted
CLICK_TOLERANCE_PX = 5    # points and lines are hit within this many screen pixels
_CACHE_SIZE = 4
_SYMBOL = {"lec": "D", "ls": "R"}
_POINTS_AND_LINES = (0, 1, 2, 4, 5)   # shapely type ids: (multi)points, (multi)lines, rings


class PlantIndex:
    """One enterprise at one data version, ready for clicks, searches and workshop maps."""

    def __init__(self, plant, method: str = "highest", which: str = RESIDUAL):
        self.plant = plant
        self._lock = threading.Lock()
        self._unit_regions: dict[str, list[str]] | None = None
        self.method = method
        self.which = which
        self.data_version = plant.data_version
        self.risks = plant.region_risk(method=method, which=which)
        self.risk_by_id = {r.region_id: r for r in self.risks}
        self.region_by_id = {r.id: r for r in plant.regions}
        self.tree = UnitTree(plant.units)
        units = list(self.tree)
        self.unit_ids = np.array([u.id for u in units], dtype=object)
        self.unit_levels = [u.level(which) for u in units]
        self.unit_located = located_geometries(units)
        self.unit_pos = {u.id: i for i, u in enumerate(units)}
        self.region_geoms = np.array([r.geometry for r in plant.regions] + [None], dtype=object)[:-1]
        self._region_tree = shapely.STRtree(self.region_geoms)
        self._unit_tree = shapely.STRtree(self.unit_located)
        names = [r.name for r in plant.regions] + [u.name for u in units]
        ids = [r.id for r in plant.regions] + [u.id for u in units]
        self._names = pd.DataFrame({
            "kind": ["region"] * len(plant.regions) + ["unit"] * len(units),
            "id": ids, "name": names,
            "name_key": pd.Series(names, dtype=object).fillna("").astype(str).str.casefold(),
            "id_key": pd.Series(ids, dtype=object).astype(str).str.casefold(),
        })

    # ------------------------------------------------------------------------------------------ look-ups

    def region(self, region_id: str):
        """The region with ``region_id``; NotFoundError (404) when there is none."""
        region = self.region_by_id.get(region_id)
        if region is None:
            raise NotFoundError(f"没有编号为 “{region_id}” 的区域 / no region {region_id!r}")
        return region

    def unit(self, unit_id: str) -> AssessmentUnit:
        """The assessment unit with ``unit_id``; NotFoundError (404) when there is none."""
        try:
            return self.tree[unit_id]
        except KeyError:
            raise NotFoundError(f"没有编号为 “{unit_id}” 的评估单元 / no assessment unit {unit_id!r}") from None

    def regions_of_unit(self, unit_id: str) -> list[str]:
        """The regions a unit is a member of (built for all units on first use)."""
        with self._lock:
            if self._unit_regions is None:
                table: dict[str, list[str]] = {}
                for risk in self.risks:
                    for c in risk.contributing:
                        table.setdefault(c.unit_id, []).append(risk.region_id)
                self._unit_regions = table
        return self._unit_regions.get(unit_id, [])

    def regions_at(self, point) -> list[str]:
        """The ids of the regions containing ``point`` (lon/lat), in the regions' order."""
        hits = self._region_tree.query(point, predicate="intersects")
        return [self.plant.regions[i].id for i in sorted(hits)]

    def units_at(self, point, tolerance_deg: float) -> list[int]:
        """Units whose located geometry is hit: highest level first, then the smallest (most specific)."""
        hits = self._unit_tree.query(point, predicate="intersects")
        if tolerance_deg > 0:
            near = self._unit_tree.query(point, predicate="dwithin", distance=tolerance_deg)
            geoms = self.unit_located[near]
            slim = np.isin(shapely.get_type_id(geoms), _POINTS_AND_LINES)   # polygons need a real hit
            hits = np.union1d(hits, near[slim])
        if not len(hits):
            return []
        rank = np.array([self.unit_levels[i].rank if self.unit_levels[i] else 0 for i in hits])
        area = shapely.area(self.unit_located[hits])
        order = np.lexsort((area, -rank))
        return [int(i) for i in hits[order]]

    def search(self, text: str, limit: int) -> tuple[list[tuple[str, str]], int]:
        """(kind, id) of regions and units whose name or id contains `text`: exact, then prefix, then rest."""
        key = text.strip().casefold()
        if not key:
            return [], 0
        names, ids = self._names["name_key"], self._names["id_key"]
        hit = names.str.contains(key, regex=False) | ids.str.contains(key, regex=False)
        found = self._names[hit]
        if found.empty:
            return [], 0
        exact = (found["name_key"] == key) | (found["id_key"] == key)
        prefix = found["name_key"].str.startswith(key) | found["id_key"].str.startswith(key)
        rank = np.where(exact, 0, np.where(prefix, 1, 2))
        ordered = found.assign(_rank=rank, _kind=(found["kind"] != "region").astype(int),
                               _len=found["name_key"].str.len())
        ordered = ordered.sort_values(["_rank", "_kind", "_len"], kind="stable")
        top = ordered.head(limit)
        return list(zip(top["kind"], top["id"], strict=True)), int(len(found))

    # ------------------------------------------------------------------------------------------ answers

    def region_answer(self, region_id: str) -> dict[str, Any]:
        """What a click on a region shows: its level with the rule and deciding unit, the member count and latest
        assessment.
        """
        region = self.region(region_id)
        risk = self.risk_by_id.get(region_id)
        out = risk.to_dict(contributing=False) if risk is not None else {"id": region.id, "name": region.name}
        members = risk.contributing if risk is not None else []
        dates = [self.tree[c.unit_id].last_assessed for c in members if c.unit_id in self.tree.units]
        dates = [d for d in dates if d is not None]
        out.update({
            "kind": "region",
            "bbox": _bounds([region.geometry]),
            "last_assessed": min(dates).isoformat() if dates else None,
            "last_assessed_newest": max(dates).isoformat() if dates else None,
            "units": [{"id": c.unit_id, "name": c.name, "level": level_code(c.level), "level_zh": level_zh(c.level)}
                      for c in members],
        })
        return out

    def unit_answer(self, unit_id: str) -> dict[str, Any]:
        """What a click on a unit shows: its level, where it is drawn from, its events (highest level first) and the
        people responsible.
        """
        unit = self.unit(unit_id)
        pos = self.unit_pos[unit_id]
        level = self.unit_levels[pos]
        located = self.unit_located[pos]
        events = sorted(unit.events, key=lambda ev: -(level_rank(ev.level(self.which))))
        people = []
        for person in [unit.responsible_person] + [c.person for ev in unit.events for c in ev.controls]:
            if person and person not in people:
                people.append(person)
        children = self.tree.children(unit.id)
        return {
            "kind": "unit",
            "id": unit.id, "name": unit.name,
            "unit_kind": unit.kind.value, "unit_kind_zh": unit.kind.zh,
            "level": level_code(level), "level_zh": level_zh(level), "level_en": None if level is None else level.en,
            "path": [a.name for a in reversed(self.tree.ancestors(unit.id))],
            "department": unit.department,
            "responsible_person": unit.responsible_person,
            "responsible_people": people,
            "last_assessed": unit.last_assessed.isoformat() if unit.last_assessed else None,
            "located_by": None if located is None else
            (unit.id if unit.geometry is not None else _located_by(self.tree, unit.id)),
            "bbox": _bounds([located]),
            "explanation": unit_explanation(unit, level, self.which),
            "override": None if unit.override is None else
            {"level": unit.override.level.value, "level_zh": unit.override.level.zh,
             "reason": unit.override.reason, "rule": unit.override.rule},
            "events": [_event_answer(ev, self.which) for ev in events],
            "children": [{"id": c.id, "name": c.name, "level": level_code(c.level(self.which)),
                          "level_zh": level_zh(c.level(self.which))} for c in children[:50]],
            "children_total": len(children),
        }


def unit_explanation(unit: AssessmentUnit, level: Level | None, which: str = RESIDUAL) -> str:
    """Why a unit has its colour, Chinese first then English."""
    if unit.override is not None:
        o = unit.override
        rule = f"（{o.rule}）" if o.rule else ""
        rule_en = f" ({o.rule})" if o.rule else ""
        return (f"单元“{unit.name}”判定为{o.level.zh}{rule}：{o.reason} / "
                f"unit {unit.name} is set to {o.level.en.lower()}{rule_en}: {o.reason}")
    if level is None:
        return f"单元“{unit.name}”尚未评估（没有已定级的风险事件）/ unit {unit.name} is not assessed yet"
    event = unit.deciding_event(which)
    zh = [f"单元“{unit.name}”为{level.zh}"]
    en = [f"unit {unit.name} is {level.en.lower()}"]
    if event is not None:
        detail_zh, detail_en = _evaluation_text(event, which)
        zh.append(f"决定事件“{event.name}”（{detail_zh}）")
        en.append(f"deciding event {event.name} ({detail_en})")
    zh.append("规则：单元等级取其风险事件中的最高等级")
    en.append("rule: a unit takes the highest level of its risk events")
    return "；".join(zh) + " / " + "; ".join(en)


def _evaluation_text(event: RiskEvent, which: str) -> tuple[str, str]:
    evaluation = event.inherent if which != RESIDUAL and event.inherent is not None else event.residual
    level = event.level(which)
    zh, en = [], []
    if evaluation is not None and evaluation.score is not None:
        symbol = _SYMBOL.get(evaluation.method, "S")
        zh.append(f"{evaluation.method.upper()} {symbol} = {evaluation.score}")
        en.append(zh[-1])
        if evaluation.band:
            zh.append(evaluation.band)
            en.append(evaluation.band)
    if level is not None:
        zh.append(level.zh)
        en.append(level.en.lower())
    overrides = list(evaluation.overrides) if evaluation is not None else []
    if event.override is not None:
        overrides.append(event.override)
    for o in overrides:
        zh.append(f"判定为{o.level.zh}：{o.reason}")
        en.append(f"set to {o.level.en.lower()}: {o.reason}")
    return "，".join(zh), ", ".join(en)


def _event_answer(event: RiskEvent, which: str) -> dict[str, Any]:
    level = event.level(which)
    evaluation = event.inherent if which != RESIDUAL and event.inherent is not None else event.residual
    detail_zh, detail_en = _evaluation_text(event, which)
    return {
        "id": event.id, "name": event.name,
        "level": level_code(level), "level_zh": level_zh(level),
        "hazard_factor": event.hazard_factor,
        "accident_type": event.accident_type, "accident_type_2025": event.accident_type_2025,
        "consequence": event.consequence,
        "method": None if evaluation is None else evaluation.method,
        "score": None if evaluation is None or evaluation.score is None else str(evaluation.score),
        "band": None if evaluation is None else evaluation.band,
        "inputs": {} if evaluation is None else {k: str(v) for k, v in evaluation.inputs.items()},
        "evaluation": f"{detail_zh} / {detail_en}",
        "existing_measures": event.existing_measures,
        "controls": [{"description": c.description, "class": c.cls, "tier": c.tier, "department": c.department,
                      "person": c.person} for c in event.controls],
        "emergency_measures": event.emergency_measures,
    }


# ---------------------------------------------------------------------------------------------- helpers


def _located_by(tree: UnitTree, unit_id: str) -> str | None:
    _, by = tree.located_geometry(unit_id)
    return by


def _bounds(geoms: list) -> list[float] | None:
    arr = np.array(list(geoms) + [None], dtype=object)[:-1]
    arr = arr[~shapely.is_missing(arr)] if len(arr) else arr
    if not len(arr):
        return None
    box = shapely.total_bounds(arr)
    return None if not np.all(np.isfinite(box)) else [float(v) for v in box]


def plant_index(app, enterprise: str | None, method: str = "highest", which: str = RESIDUAL,
                at: datetime | None = None, drawing: str | None = None) -> PlantIndex:
    """The index of an enterprise at its current data version (or as of the moment `at`: the historical map),
    built on first use and kept (a few of them).

    Concurrent requests for the same index wait for one build instead of each loading the plant."""
    from riskmap.plant import load_plant

    tenant = resolve_tenant(app, enterprise)
    store, name = tenant.store, tenant.name
    if at is None:
        key = (name, store.data_version(name), method, which)
    else:
        from riskmap.store import history

        past = history.versions_at(store, name, at)
        key = (name, "at", past.layout_number, past.ledger_number, method, which)
    drawing = None if drawing in (None, "", "site") else drawing
    key = (*key, drawing)
    cache = _cache_of(app)
    with cache["lock"]:
        future = cache["items"].get(key)
        owner = future is None
        if owner:
            future = Future()
            cache["items"][key] = future
            while len(cache["items"]) > _CACHE_SIZE:
                cache["items"].popitem(last=False)
        else:
            cache["items"].move_to_end(key)
    if owner:
        try:
            future.set_result(PlantIndex(load_plant(store, name, at=at, drawing=drawing), method=method,
                                         which=which))
        except BaseException as exc:
            with cache["lock"]:
                if cache["items"].get(key) is future:
                    del cache["items"][key]
            future.set_exception(exc)
    return future.result()


def _moment(at: str | None) -> datetime | None:
    """?at= of a historical map (riskmap.store.history.parse_moment: a clear 4xx when it is not a moment)."""
    if at is None:
        return None
    from riskmap.store.history import parse_moment

    return parse_moment(at)


def warm_up(app, enterprise: str) -> None:
    """In the background, after a page was served: build the click index (its first click should not wait) and
    have the store keep what the map is made from (its first edit is then an incremental one: on a plant of
    100,000 units a cold first edit reads the whole plant, some 10 s)."""
    def build() -> None:
        with contextlib.suppress(Exception):     # a failed warm-up is retried by the request that needs it
            plant_index(app, enterprise)
        with contextlib.suppress(Exception):
            app.state.store().warm_map(enterprise)

    threading.Thread(target=build, name="riskmap-warm-up", daemon=True).start()


def _cache_of(app) -> dict:
    return app_singleton(app, "plant_index_cache", lambda: {"lock": threading.Lock(), "items": OrderedDict()})


def storeys_at(store, plant, point) -> list[dict]:
    """The floor plans of the site plan's buildings at a point, lowest storey first (a click on a building opens
    its storeys)."""
    features = plant.features
    storeys: dict[str, list] = {}
    for d in store.drawings(plant.enterprise.name):
        if d.building_ref:
            storeys.setdefault(d.building_ref, []).append(d)
    if not storeys or not len(features):
        return []
    fids = features["fid"].astype(str).to_numpy()
    wanted = np.flatnonzero(np.isin(fids, list(storeys)))
    hits = [str(fids[i]) for i in wanted if features.geometry.iloc[i] is not None
            and features.geometry.iloc[i].intersects(point)]
    found = [d for fid in dict.fromkeys(hits) for d in storeys[fid]]
    return [d.to_json() for d in sorted(found, key=lambda d: (d.building_ref or "", d.storey_order or 0))]


DRAWING_HELP = "图纸（缺省为总平面布置图）/ the drawing (default: the site plan)"


def click_tolerance_deg(zoom: float) -> float:
    """CLICK_TOLERANCE_PX screen pixels at a Web Mercator zoom, in degrees of longitude (a little generous
    north-south, which a click can afford)."""
    return CLICK_TOLERANCE_PX * 360.0 / (256.0 * 2.0 ** zoom)


HAZARD_HIT_PX = 12        # a hazard's symbol is about this many screen pixels from its point to its edge
MAX_HAZARDS = 20


def hazards_at(request: Request, enterprise: str, lon: float, lat: float, zoom: float, at: datetime | None) \
        -> list[dict[str, Any]]:
    """The hazards whose symbol is under the click (nearest first), from the hazards layer's own data (the same
    version, day and "open at" moment the tiles draw); none when the service has no hazards layer."""
    from riskmap.hazards.model import STATE_LABELS, State
    from riskmap.render.hazardtiles import HazardFilters

    try:
        from riskmap.api.routers.tiles import tiles_of
    except ImportError:                                   # pragma: no cover - a service without tiles
        return []
    data = tiles_of(request).hazards.data(enterprise, HazardFilters(at=at))
    if not len(data):
        return []
    x, y = _to_3857(lon, lat)
    reach = HAZARD_HIT_PX * 2 * 20037508.342789244 / (256.0 * 2.0 ** zoom)
    dist = np.hypot(data.x - x, data.y - y)
    near = np.flatnonzero(dist <= reach)
    near = near[np.argsort(dist[near], kind="stable")][:MAX_HAZARDS]
    out = []
    for i in near:
        row = data.frame.iloc[int(i)]
        zh, en = STATE_LABELS[State(row["state"])]
        out.append({"id": row["id"], "name": row["name"], "state": row["state"], "state_zh": zh, "state_en": en,
                    "level": int(row["level"]), "overdue": bool(row["overdue"]), "deadline": row["deadline"],
                    "department": row["department"], "unit_id": row["unit_id"]})
    return out


def _to_3857(lon: float, lat: float) -> tuple[float, float]:
    """Web Mercator metres of a lon/lat (the sphere's formulas, as EPSG:3857 defines them)."""
    import math

    r = 6378137.0
    return math.radians(lon) * r, r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def with_coverage(request: Request, out: dict[str, Any], window: str) -> dict[str, Any]:
    """The answer with `coverage`: for each unit in it that has inspection tasks or a checkpoint, its coverage state
    in `window`, its last check and its next due check (riskmap.inspections.store.unit_checks), in the units'
    order."""
    from riskmap.inspections import store as ins

    codes = [u["id"] for u in out["units"]]
    found = ins.unit_checks(request.app.state.store(), out["enterprise"], codes, window) if codes else {}
    out["coverage"] = [found[c] for c in codes if c in found]
    out["coverage_window"] = window
    return out


def make_router() -> APIRouter:
    """The /api/identify (what is at a point, and why) and /api/search (by name or id) routes."""
    router = APIRouter(prefix="/api", tags=["map"])

    @router.get("/identify", response_model=answers.Identified,
                summary="点选查询：此处的区域和单元及其风险依据 / what is here, with explanation")
    def identify(
        request: Request,
        enterprise: str | None = Query(None, description="企业名称 / enterprise"),
        lon: float | None = Query(None, ge=-180, le=180, description="经度 / longitude"),
        lat: float | None = Query(None, ge=-85.06, le=85.06, description="纬度 / latitude"),
        zoom: float = Query(18, ge=0, le=26, description="地图缩放级别（点、线的点选容差）/ map zoom"),
        region: str | None = Query(None, description="区域编号 / a region id instead of a point"),
        unit: str | None = Query(None, description="单元编号 / a unit id instead of a point"),
        method: Method = "highest",
        which: Which = "residual",
        at: str | None = Query(None, description="历史时刻（ISO 8601）/ as of this moment"),
        drawing: str | None = Query(None, max_length=64, description=DRAWING_HELP),
        coverage: Window | None = Query(None, description="排查覆盖图层打开时：单元的上次排查和下次应检（today | "
                                                         "week | month）/ with the coverage layer on: each unit's "
                                                         "last check and next due check in that window"),
    ) -> dict:
        index = plant_index(request.app, enterprise, method, which, _moment(at), drawing)
        if coverage is not None and at is None:
            return with_coverage(request, identify_body(request, index, lon, lat, zoom, region, unit, at), coverage)
        return identify_body(request, index, lon, lat, zoom, region, unit, at)

    def identify_body(request: Request, index: PlantIndex, lon: float | None, lat: float | None, zoom: float,
                      region: str | None, unit: str | None, at: str | None) -> dict:
        out: dict[str, Any] = {"enterprise": index.plant.enterprise.name, "data_version": index.data_version,
                               "focus": "region" if region is not None else "unit" if unit is not None else "point",
                               "regions": [], "units": [], "units_total": 0}
        if region is not None:
            out["regions"] = [index.region_answer(region)]
            return out
        if unit is not None:
            answer = index.unit_answer(unit)
            out["units"], out["units_total"] = [answer], 1
            out["regions"] = [index.region_answer(rid) for rid in index.regions_of_unit(unit)[:5]]
            return out
        if lon is None or lat is None:
            raise InputError("请给出点击位置（lon、lat）或区域/单元编号 / give lon and lat, or a region or unit id")
        point = shapely.Point(lon, lat)
        hits = index.units_at(point, click_tolerance_deg(zoom))
        out["point"] = [lon, lat]
        out["regions"] = [index.region_answer(rid) for rid in index.regions_at(point)]
        out["units"] = [index.unit_answer(str(index.unit_ids[i])) for i in hits[:MAX_UNITS]]
        out["units_total"] = len(hits)
        if index.plant.drawing is None:
            out["storeys"] = storeys_at(request.app.state.store(), index.plant, point)
            out["hazards"] = hazards_at(request, index.plant.enterprise.name, lon, lat, zoom, _moment(at))
        return out

    @router.get("/search", response_model=answers.SearchResults,
                summary="按名称或编号查找区域和单元 / find regions and units by name or id")
    def search(
        request: Request,
        q: str = Query(..., min_length=1, max_length=100, description="名称或编号的一部分 / part of a name or id"),
        enterprise: str | None = Query(None, description="企业名称 / enterprise"),
        limit: int = Query(20, ge=1, le=100),
        which: Which = "residual",
        at: str | None = Query(None, description="历史时刻（ISO 8601）/ as of this moment"),
        drawing: str | None = Query(None, max_length=64, description=DRAWING_HELP),
    ) -> dict:
        index = plant_index(request.app, enterprise, "highest", which, _moment(at), drawing)
        found, total = index.search(q, limit)
        results = []
        for kind, item_id in found:
            if kind == "region":
                risk = index.risk_by_id.get(item_id)
                level = risk.level if risk is not None else None
                region = index.region(item_id)
                results.append({"kind": "region", "id": item_id, "name": region.name, "level": level_code(level),
                                "level_zh": level_zh(level), "path": [], "bbox": _bounds([region.geometry])})
            else:
                pos = index.unit_pos[item_id]
                u = index.tree[item_id]
                level = index.unit_levels[pos]
                results.append({"kind": "unit", "id": item_id, "name": u.name, "level": level_code(level),
                                "level_zh": level_zh(level),
                                "path": [a.name for a in reversed(index.tree.ancestors(item_id))],
                                "bbox": _bounds([index.unit_located[pos]])})
        return {"query": q, "total": total, "results": results}

    return router
