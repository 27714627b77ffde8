"""Re-assessment flags: which units must be assessed again after a change of the plant, and why.

The law asks for a new assessment when a workplace changes (reshaped, new or removed equipment, after an
accident) and at least once per period. The stored reasons are raised inside the transaction of the change that
causes them (riskmap.store.editing), one open flag per (unit, reason); a new assessment clears them (cleared_at,
never deleted). Two reasons are computed on read from last_assessed and the profile's `reassessment_months`:
"validity_expired" once the validity period printed on the notice board (riskmap.validity) has ended, and
"overdue" for a unit with risks but no assessment date at all.

A unit is *attached* to a feature when its feature_ref names the feature's fid or name (as riskmap.attach does);
a unit is *in* a region when its own (or attached) geometry lies in the region feature, or when one of its
ancestors is attached to the region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import Integer, Text, func, insert, literal, null, select, update

from riskmap.attach import FeatureIndex, reference_key
from riskmap.clock import EARLIEST, local_date
from riskmap.clock import today as local_today
from riskmap.domain import AssessmentUnit
from riskmap.errors import InputError, NotFoundError
from riskmap.store.audit import record_change
from riskmap.store.layouts import read_features
from riskmap.store.ledgers import map_units
from riskmap.store.rows import Writing, clean_text, enterprise_id, insert_plain, paused_gc
from riskmap.store.schema import AccidentRow, LedgerVersionRow, ReassessmentFlagRow, RiskEventRow, UnitRow
from riskmap.store.types import utcnow
from riskmap.validity import DEFAULT_MONTHS, validity

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from riskmap.store.editing import Touched
    from riskmap.store.repository import Store

SERIOUS_DEATHS = 1
SERIOUS_INJURIES = 3
MAX_DESCRIPTION = 2000
CHUNK = 500
REASONS: dict[str, tuple[str, str]] = {
    "geometry_changed": ("单元或其依附的要素的图形已改变",
                         "the unit's geometry or the feature it is attached to changed"),
    "region_changed": ("单元所在区域已改变（重绘、合并、拆分或删除）",
                       "the unit's region was reshaped, merged, split or deleted"),
    "equipment_added": ("单元所在区域新增了设备", "equipment was added in the unit's region"),
    "equipment_removed": ("单元所在区域移除了设备", "equipment was removed from the unit's region"),
    "accident": ("发生了事故", "an accident was recorded"),
    "hazard_accepted": ("单元的隐患已整改验收，需重新评估", "a hidden hazard of the unit was rectified and accepted"),
    "validity_expired": ("评估有效期（{period}）已届满", "the assessment's validity period ({period}) has ended"),
    "overdue": ("超过 {months} 个月未评估", "not assessed within {months} months"),
}
COMPUTED_REASONS = ("validity_expired", "overdue")
STORED_REASONS = tuple(r for r in REASONS if r not in COMPUTED_REASONS)


def reason_text(code: str, what: str | None = None, months: int | None = None, period: str | None = None) -> str:
    """The bilingual text (Chinese, then English) for a flag reason code, with its months or period filled in and the
    thing it concerns appended.
    """
    zh, en = REASONS[code]
    if months is not None or period is not None:
        zh, en = zh.format(months=months, period=period), en.format(months=months, period=period)
    if what:
        return f"{zh}：{what} / {en}: {what}"
    return f"{zh} / {en}"


# ---------------------------------------------------------------------------------------------- raise / clear


def raise_flags(w: Writing, wanted: dict[tuple[str, str], tuple[str, dict | None]]) -> list[dict]:
    """Insert the flags (unit code, reason code) -> (reason text, detail) that are not open yet; returns them."""
    if not wanted:
        return []
    s = w.session
    q = select(ReassessmentFlagRow.unit_code, ReassessmentFlagRow.reason_code).where(
        ReassessmentFlagRow.enterprise_id == w.enterprise_id, ReassessmentFlagRow.cleared_at.is_(None))
    codes = sorted({code for code, _ in wanted})
    if len(codes) <= CHUNK:     # a few units (most edits): their own open flags, not every open flag of the plant
        q = q.where(ReassessmentFlagRow.unit_code.in_(codes))
    open_now = set(s.execute(q).all())
    now = utcnow()
    rows, out = [], []
    for (code, reason_code), (reason, detail) in wanted.items():
        if (code, reason_code) in open_now:
            continue
        rows.append({"enterprise_id": w.enterprise_id, "unit_code": code, "reason_code": reason_code,
                     "reason": reason, "raised_at": now, "raised_change_id": w.change_id, "cleared_at": None,
                     "cleared_change_id": None, "detail": detail})
        out.append({"unit_id": code, "reason_code": reason_code, "reason": reason})
    insert_plain(s, ReassessmentFlagRow, rows)
    w.touch(raised=[(r["unit_code"], r["reason_code"]) for r in rows])
    return out


def raise_on_current(w: Writing, reason_code: str, reason: str, detail: dict | None,
                     code: str | None = None) -> list[dict]:
    """Flag every current unit (or the one `code`) for `reason_code` unless it has that flag open already, as one
    INSERT … SELECT in the database: an accident with a death flags a whole plant, and a row per unit built and
    sent from Python cost seconds on 100,000 units. Returns the flags raised, in unit code order (as raise_flags
    for the same units)."""
    s = w.session
    units, flags_t = UnitRow.__table__, ReassessmentFlagRow.__table__
    already = select(flags_t.c.id).where(flags_t.c.enterprise_id == w.enterprise_id, flags_t.c.cleared_at.is_(None),
                                         flags_t.c.unit_code == units.c.code, flags_t.c.reason_code == reason_code)
    cond = [units.c.enterprise_id == w.enterprise_id, units.c.valid_to.is_(None), ~already.exists()]
    if code is not None:
        cond.append(units.c.code == code)
    chosen = (select(literal(w.enterprise_id, Integer), units.c.code, literal(reason_code, flags_t.c.reason_code.type),
                     literal(reason, Text), literal(utcnow(), flags_t.c.raised_at.type),
                     literal(w.change_id, Integer), null(), null(), literal(detail, flags_t.c.detail.type))
              .where(*cond).group_by(units.c.code).order_by(units.c.code))
    names = ["enterprise_id", "unit_code", "reason_code", "reason", "raised_at", "raised_change_id", "cleared_at",
             "cleared_change_id", "detail"]
    with paused_gc():       # 100,000 small results; nothing cyclic
        raised = sorted(s.execute(insert(flags_t).from_select(names, chosen).returning(flags_t.c.unit_code))
                        .scalars().all())       # fetched at once: iterating fetches row by row
    w.touch(raised=[(c, reason_code) for c in raised])
    return [{"unit_id": c, "reason_code": reason_code, "reason": reason} for c in raised]


def clear_open(w: Writing, codes: Iterable[str] | None, reason_code: str | None = None) -> int:
    """Clear the open flags of some units (all when `codes` is None); returns how many. One UPDATE … RETURNING
    (per chunk of codes): clearing a whole plant's flags is a statement, not a row per flag read and written."""
    s = w.session
    flags_t = ReassessmentFlagRow.__table__
    q = (update(flags_t).where(flags_t.c.enterprise_id == w.enterprise_id, flags_t.c.cleared_at.is_(None))
         .values(cleared_at=utcnow(), cleared_change_id=w.change_id)
         .returning(flags_t.c.unit_code, flags_t.c.reason_code))
    if reason_code is not None:
        q = q.where(flags_t.c.reason_code == reason_code)
    found: list[Any] = []
    with paused_gc():       # a whole plant's flags come back: 100,000 small results, nothing cyclic
        if codes is None:
            found = s.execute(q).all()
        else:
            codes = sorted(set(codes))
            for start in range(0, len(codes), CHUNK):
                found.extend(s.execute(q.where(flags_t.c.unit_code.in_(codes[start:start + CHUNK]))).all())
        w.touch(cleared=found)
    return len(found)


def _clear_ids(w: Writing, ids: list[int]) -> None:
    now = utcnow()
    for start in range(0, len(ids), CHUNK):
        w.session.execute(update(ReassessmentFlagRow).where(ReassessmentFlagRow.id.in_(ids[start:start + CHUNK]))
                          .values(cleared_at=now, cleared_change_id=w.change_id))


def open_codes(session: Session, ent_id: int) -> dict[str, str]:
    """unit code -> its open stored reason codes, sorted and ","-joined (the map's `flag` column)."""
    found: dict[str, set[str]] = {}
    for code, reason_code in session.execute(select(ReassessmentFlagRow.unit_code, ReassessmentFlagRow.reason_code)
                                             .where(ReassessmentFlagRow.enterprise_id == ent_id,
                                                    ReassessmentFlagRow.cleared_at.is_(None))).all():
        found.setdefault(code, set()).add(reason_code)
    return {code: ",".join(sorted(reasons)) for code, reasons in found.items()}


# ---------------------------------------------------------------------------------------------- the plant


class _Units:
    """The current units as arrays, with attachment, descendants and location look-ups."""

    def __init__(self, units: Sequence[AssessmentUnit], features):
        self.units = list(units)
        self.codes = [u.id for u in self.units]
        self.pos = {c: i for i, c in enumerate(self.codes)}
        self.children: dict[str, list[int]] = {}
        for i, u in enumerate(self.units):
            if u.parent_id is not None:
                self.children.setdefault(u.parent_id, []).append(i)
        self.refs: dict[str, list[int]] = {}
        for i, u in enumerate(self.units):
            key = reference_key(u.feature_ref)
            if key is not None:
                self.refs.setdefault(key, []).append(i)
        located = np.array([u.geometry for u in self.units] + [None], dtype=object)[:-1]
        missing = shapely.is_missing(located) | shapely.is_empty(located)
        located[missing] = None
        if len(features):
            index = FeatureIndex(features)
            for i in np.flatnonzero(missing):
                m = index.match(self.units[i].feature_ref)
                if m.position is not None:
                    located[i] = index.geometry(m.position)
        self.located = located
        self._tree = None

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(self.located)
        return self._tree

    def attached(self, keys: Iterable[Any]) -> set[int]:
        out: set[int] = set()
        for key in keys:
            k = reference_key(key)
            if k is not None:
                out.update(self.refs.get(k, ()))
        return out

    def descendants(self, roots: Iterable[int]) -> set[int]:
        out: set[int] = set()
        todo = [self.codes[i] for i in roots]
        while todo:
            code = todo.pop()
            for child in self.children.get(code, ()):
                if child not in out:
                    out.add(child)
                    todo.append(self.codes[child])
        return out

    def lying_in(self, areas: Sequence[Any]) -> set[int]:
        """Units whose located geometry has a point inside one of the areas (representative point inside)."""
        areas = [a for a in areas if a is not None and not a.is_empty]
        if not areas or not len(self.units):
            return set()
        _, hits = self.tree.query(np.asarray(areas, dtype=object), predicate="intersects")
        hits = np.unique(hits)
        if not len(hits):
            return set()
        points = shapely.point_on_surface(self.located[hits])
        inside = np.zeros(len(hits), bool)
        for area in areas:
            inside |= shapely.covers(area, points)
        return {int(i) for i in hits[inside]}

    def containing(self, geom: Any) -> set[int]:
        """Units whose located area contains (covers) the geometry's representative point."""
        if geom is None or geom.is_empty or not len(self.units):
            return set()
        point = shapely.point_on_surface(geom)
        hits = self.tree.query(point, predicate="intersects")
        return {int(i) for i in hits if shapely.area(self.located[i]) > 0}


def _label(feature) -> str:
    return f"{feature.name}（{feature.fid}）" if feature.name and feature.name != feature.fid else str(feature.fid)


def raise_for_layout(w: Writing, touched: Sequence[Touched]) -> list[dict]:
    """The flags a layout change causes (see the module docstring for "attached" and "in")."""
    if not touched:
        return []
    s = w.session
    features = read_features(s, w.enterprise_name)
    w.features = features                       # the map refresh reuses it (nothing changes the layout after this)
    regions = features[features["role"] == "region"].reset_index(drop=True)
    region_tree = shapely.STRtree(regions.geometry.values) if len(regions) else None
    if w.plant is not None and w.tracked:
        units = _units_concerned(w, touched, regions, region_tree)
    else:
        units = map_units(s, w.enterprise_id)
        w.units, w.units_disposable = units, True   # the map refresh at the end of the transaction reuses them
    if not units:
        return []
    plant = _Units(units, features)
    wanted: dict[tuple[str, str], tuple[str, dict | None]] = {}

    def flag(indices: Iterable[int], reason_code: str, t, extra: dict | None = None) -> None:
        feat = t.new or t.old
        detail = {"fid": t.fid, "op": t.op, **(extra or {})}
        for i in indices:
            wanted.setdefault((plant.codes[i], reason_code), (reason_text(reason_code, _label(feat)), detail))

    def regions_around(geom) -> list[int]:
        if region_tree is None or geom is None or geom.is_empty:
            return []
        return [int(i) for i in region_tree.query(shapely.point_on_surface(geom), predicate="intersects")]

    def attached_to_regions(positions: Iterable[int]) -> set[int]:
        keys = []
        for p in positions:
            keys.extend([regions.at[p, "fid"], regions.at[p, "name"]])
        return plant.attached(keys)

    for t in touched:
        old, new = t.old, t.new
        geometry_moved = old is None or new is None or not shapely.equals_exact(old.geometry, new.geometry, 0)
        # units attached to the feature itself (bound by fid: a rename alone moves nothing and flags nothing)
        if geometry_moved:
            keys = {t.fid, *(f.name for f in (old, new) if f is not None)}
            flag(plant.attached(keys), "geometry_changed", t)
        roles = {f.role for f in (old, new) if f is not None}
        if "region" in roles and geometry_moved:
            direct = plant.attached({t.fid, *(f.name for f in (old, new) if f is not None)})
            inside = plant.lying_in([f.geometry for f in (old, new) if f is not None and f.role == "region"])
            flag((plant.descendants(direct) | inside) - direct, "region_changed", t)
        if "equipment" in roles and geometry_moved:
            before = set(regions_around(old.geometry)) if old is not None else set()
            after = set(regions_around(new.geometry)) if new is not None else set()
            old_units = plant.containing(old.geometry) if old is not None else set()
            new_units = plant.containing(new.geometry) if new is not None else set()
            gone = (attached_to_regions(before - after) | (old_units - new_units))
            came = (attached_to_regions(after - before) | (new_units - old_units))
            if new is None:
                gone |= attached_to_regions(before) | old_units | plant.attached({t.fid, old.name})
            if old is None:
                came |= attached_to_regions(after) | new_units
            flag(gone, "equipment_removed", t)
            flag(came, "equipment_added", t)
    return raise_flags(w, wanted)


def _units_concerned(w: Writing, touched: Sequence[Touched], regions, region_tree) -> list[AssessmentUnit]:
    """The units a layout change can flag, from the map's inputs the Store keeps (riskmap.store.mapupdate):
    those naming a touched feature and their descendants, those lying in or around its old or new geometry, and
    those naming a region around it. `raise_for_layout` gives them the same flags as it gives the whole plant."""
    kept = w.plant
    keys: set[Any] = set()
    geoms = []
    for t in touched:
        keys.add(t.fid)
        for f in (t.old, t.new):
            if f is not None:
                keys.add(f.name)
                geoms.append(f.geometry)
    for geom in geoms:
        if region_tree is not None and geom is not None and not geom.is_empty:
            for i in region_tree.query(shapely.point_on_surface(geom), predicate="intersects"):
                keys.update([regions.at[int(i), "fid"], regions.at[int(i), "name"]])
    named = kept.referring(keys)
    codes = named | kept.descendants(named)
    for geom in geoms:
        codes |= kept.units_meeting(geom)
    return kept.lean_units(w.session, codes, fresh=w.delta.units)


def after_unit_edit(w: Writing, before: AssessmentUnit, unit: AssessmentUnit, fields: list[str]) -> list[dict]:
    """A unit edit that re-assesses (events re-evaluated, last_assessed moved on) clears the unit's flags;
    one that moves it (geometry, feature_ref, parent) raises them."""
    later = unit.last_assessed is not None and (before.last_assessed is None
                                                or unit.last_assessed > before.last_assessed)
    if "events" in fields or later:
        clear_open(w, [unit.id])
        return []
    wanted: dict[tuple[str, str], tuple[str, dict | None]] = {}
    if "geometry" in fields or "feature_ref" in fields:
        what = unit.feature_ref if "feature_ref" in fields and unit.feature_ref else None
        wanted[(unit.id, "geometry_changed")] = (reason_text("geometry_changed", what),
                                                 {"fields": [f for f in fields if f in ("geometry", "feature_ref")]})
    if "parent_code" in fields:
        wanted[(unit.id, "region_changed")] = (reason_text("region_changed", unit.parent_id),
                                               {"fields": ["parent_code"], "from": before.parent_id})
    return raise_flags(w, wanted)


def after_ledger_import(w: Writing, units: Sequence[AssessmentUnit]) -> int:
    """A new ledger clears each open flag whose unit was assessed on or after the day it was raised."""
    assessed = {u.id: u.last_assessed for u in units if u.last_assessed is not None}
    if not assessed:
        return 0
    rows = w.session.execute(select(ReassessmentFlagRow.id, ReassessmentFlagRow.unit_code,
                                    ReassessmentFlagRow.reason_code, ReassessmentFlagRow.raised_at)
                             .where(ReassessmentFlagRow.enterprise_id == w.enterprise_id,
                                    ReassessmentFlagRow.cleared_at.is_(None))).all()
    cleared = [r for r in rows if r.unit_code in assessed and assessed[r.unit_code] >= local_date(r.raised_at)]
    ids = [r.id for r in cleared]
    _clear_ids(w, ids)
    w.touch(cleared=[(r.unit_code, r.reason_code) for r in cleared])
    return len(ids)


# ---------------------------------------------------------------------------------------------- accidents, clear


def record_accident(store: Store, name: str, unit_id: str | None, occurred_on: date, description: str,
                    deaths: int = 0, serious_injuries: int = 0, author: str | None = None) -> dict:
    """Store an accident and flag the unit where it happened, or every unit after a serious one
    (≥ 1 death or ≥ 3 serious injuries)."""
    if not isinstance(occurred_on, date) or isinstance(occurred_on, datetime):
        raise InputError(f"事故日期应为日期，而不是 {occurred_on!r} / the accident date must be a date")
    if occurred_on > local_today() + timedelta(days=1):
        raise InputError(f"事故日期 {occurred_on} 在将来 / the accident date {occurred_on} is in the future")
    if occurred_on < EARLIEST.date():       # the bound of every moment (parse_moment), for the CLI as for HTTP
        raise InputError(f"事故日期 {occurred_on} 早于 1990 年 / the accident date {occurred_on} is before 1990")
    text = clean_text(description)
    text = text.strip() if text else ""
    if not text:
        raise InputError("事故描述不能为空 / the accident description is empty")
    if len(text) > MAX_DESCRIPTION:
        raise InputError(f"事故描述过长（最多 {MAX_DESCRIPTION} 字）/ the description is longer than "
                         f"{MAX_DESCRIPTION}")
    counts = []
    for value, zh, en in ((deaths, "死亡人数", "deaths"), (serious_injuries, "重伤人数", "serious injuries")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) <= 100000:
            raise InputError(f"{zh}应为 0 或正整数，而不是 {value!r} / {en} must be a whole number ≥ 0, not {value!r}")
        counts.append(int(value))
    deaths, serious_injuries = counts
    serious = deaths >= SERIOUS_DEATHS or serious_injuries >= SERIOUS_INJURIES
    code = None if unit_id is None or not str(unit_id).strip() else str(unit_id).strip()
    with store.transaction(name, create=False) as w:
        w.track()
        s = w.session
        current = (UnitRow.enterprise_id == w.enterprise_id, UnitRow.valid_to.is_(None))
        if code is not None and s.execute(select(UnitRow.id).where(*current, UnitRow.code == code)
                                          .limit(1)).first() is None:
            raise NotFoundError(f"没有编号为 “{code}” 的评估单元 / no assessment unit {code!r}")
        if serious:
            flagged = s.execute(select(func.count()).select_from(UnitRow).where(*current)).scalar_one()
        else:
            flagged = 0 if code is None else 1
        change_id = record_change(w, "accident.record", collection="units", items=[code] if code else [],
                                  author=author, reason=text,
                                  detail={"occurred_on": occurred_on.isoformat(), "deaths": deaths,
                                          "serious_injuries": serious_injuries, "serious": serious,
                                          "flagged": flagged})
        row = AccidentRow(enterprise_id=w.enterprise_id, unit_code=code, occurred_on=occurred_on,
                          description=text, deaths=deaths, serious_injuries=serious_injuries,
                          recorded_at=utcnow(), recorded_by=clean_text(author), change_id=change_id)
        s.add(row)
        s.flush()
        what = f"{occurred_on.isoformat()} {text[:60]}"
        detail = {"accident_id": row.id, "unit": code, "serious": serious}
        raised = [] if not flagged else raise_on_current(w, "accident", reason_text("accident", what), detail,
                                                         None if serious else code)
    return {"id": row.id, "change_id": change_id, "data_version": w.data_version, "serious": serious,
            "flags_raised": raised}


def clear_flags(store: Store, name: str, unit_id: str | None, author: str | None = None, reason: str | None = None,
                reason_code: str | None = None) -> dict:
    """Clear a unit's open flags (or one reason of them; every unit's when `unit_id` is None) explicitly."""
    if reason_code is not None and reason_code not in STORED_REASONS:
        raise InputError(f"未知的原因代码 “{reason_code}”，可选：{', '.join(STORED_REASONS)} / unknown reason code "
                         f"{reason_code!r}; allowed: {', '.join(STORED_REASONS)}")
    code = None if unit_id is None else str(unit_id)
    with store.transaction(name, create=False) as w:
        w.track()
        change_id = record_change(w, "flags.clear", collection="units", items=[code] if code else [],
                                  author=author, reason=reason, detail={"reason_code": reason_code})
        cleared = clear_open(w, None if code is None else [code], reason_code)
    return {"cleared": cleared, "change_id": change_id, "data_version": w.data_version}


# ---------------------------------------------------------------------------------------------- reading


def reassessment_months(profile_name: str | None) -> int:
    """The profile's `reassessment_months` (default 12): how long an assessment stays valid. A ledger naming a
    profile this server lacks keeps the default; a profile with a bad value is an InputError."""
    from riskmap.criteria.profile import UnknownProfileError, load_profile

    try:
        return load_profile(profile_name or "lec").reassessment_months
    except UnknownProfileError:
        return DEFAULT_MONTHS


def months_of(session: Session, ent_id: int) -> int:
    """reassessment_months of the criteria profile of the enterprise's current ledger."""
    profile = session.execute(select(LedgerVersionRow.default_profile)
                              .where(LedgerVersionRow.enterprise_id == ent_id)
                              .order_by(LedgerVersionRow.number.desc()).limit(1)).scalar_one_or_none()
    return reassessment_months(profile)


def flags(store: Store, name: str, open_only: bool = True, today: date | None = None, unit_id: str | None = None,
          reason_code: str | None = None) -> list[dict]:
    """Stored flags of current units (open ones unless `open_only` is False) and the computed ones
    ("validity_expired", "overdue"), in ledger order."""
    if reason_code is not None and reason_code not in REASONS:
        raise InputError(f"未知的原因代码 “{reason_code}”，可选：{', '.join(REASONS)} / unknown reason code "
                         f"{reason_code!r}; allowed: {', '.join(REASONS)}")
    if isinstance(today, datetime):
        today = local_date(today)
    elif today is not None and not isinstance(today, date):
        raise InputError(f"today 应为日期，而不是 {today!r} / today must be a date, not {today!r}")
    today = today or local_today()
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        units_t = UnitRow.__table__
        cond = [units_t.c.enterprise_id == ent_id, units_t.c.valid_to.is_(None)]
        if unit_id is not None:
            cond.append(units_t.c.code == str(unit_id))
        events = (select(RiskEventRow.unit_id, func.count().label("n")).group_by(RiskEventRow.unit_id)
                  .where(RiskEventRow.enterprise_id == ent_id).subquery())
        units = s.execute(select(units_t.c.code, units_t.c.name, units_t.c.last_assessed, units_t.c.position,
                                 events.c.n).outerjoin(events, events.c.unit_id == units_t.c.id)
                          .where(*cond).order_by(units_t.c.position, units_t.c.id)).all()
        q = select(*ReassessmentFlagRow.__table__.c).where(ReassessmentFlagRow.enterprise_id == ent_id)
        if open_only:
            q = q.where(ReassessmentFlagRow.cleared_at.is_(None))
        if unit_id is not None:
            q = q.where(ReassessmentFlagRow.unit_code == str(unit_id))
        stored = s.execute(q.order_by(ReassessmentFlagRow.id)).all()
        months = months_of(s, ent_id)
    by_code = {u.code: u for u in units}
    order = {u.code: i for i, u in enumerate(units)}

    def base(u) -> dict:
        last = u.last_assessed
        return {"unit_id": u.code, "unit_name": u.name, "last_assessed": last.isoformat() if last else None,
                "days_since_assessed": (today - last).days if last else None}

    out = []
    for f in stored:
        u = by_code.get(f.unit_code)
        if u is None or (reason_code is not None and f.reason_code != reason_code):
            continue
        out.append(base(u) | {"id": f.id, "reason_code": f.reason_code, "reason": f.reason,
                              "raised_at": f.raised_at.isoformat(), "cleared_at":
                              f.cleared_at.isoformat() if f.cleared_at else None, "detail": f.detail})
    for u in units if reason_code in (None, *COMPUTED_REASONS) else ():
        if not u.n and u.last_assessed is None:
            continue              # a grouping node without events of its own is assessed through its children
        period = validity(u.last_assessed, months)
        if period is None and reason_code in (None, "overdue"):
            out.append(base(u) | {"id": None, "reason_code": "overdue", "reason": reason_text("overdue", months=months),
                                  "raised_at": None, "cleared_at": None, "detail": {"months": months, "due": None}})
        elif period is not None and period.expired(today) and reason_code in (None, "validity_expired"):
            out.append(base(u) | {"id": None, "reason_code": "validity_expired",
                                  "reason": reason_text("validity_expired", period=period.text()),
                                  "raised_at": (period.end + timedelta(days=1)).isoformat(), "cleared_at": None,
                                  "detail": {"months": months, "valid_from": period.start.isoformat(),
                                             "valid_until": period.end.isoformat()}})
    out.sort(key=lambda f: (order[f["unit_id"]], REASON_ORDER[f["reason_code"]]))
    return out


REASON_ORDER = {code: i for i, code in enumerate(REASONS)}
