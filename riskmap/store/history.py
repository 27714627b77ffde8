"""Reading the past: the moment a user names, the versions current then, the audit trail, and diffs.

The store is append-only (rows carry valid_from/valid_to version numbers and every version row its created_at), so
the state at any moment is a query, never a reconstruction from a log.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

import shapely
from sqlalchemy import func, or_, select, text

from riskmap.attach import regions_from_features
from riskmap.clock import EARLIEST, LOCAL_ZONE
from riskmap.domain import AssessmentUnit, Region
from riskmap.errors import InputError
from riskmap.store import codec
from riskmap.store.drawings import drawing_id, of_drawing
from riskmap.store.layouts import empty_features, features_frame, layout_version_info, read_features
from riskmap.store.ledgers import ledger_version_info, read_units
from riskmap.store.rows import enterprise_id, from_wkb, json_text, paused_gc, same_geometry, valid, wkb_of
from riskmap.store.schema import (
    ChangeRow,
    LayoutFeatureRow,
    LayoutVersionRow,
    LedgerVersionRow,
    RiskEventRow,
    UnitRow,
)
from riskmap.store.types import Data, loads
from riskmap.text import storable

MAX_HISTORY = 5000
FUTURE_SLACK = timedelta(days=1)       # clocks of client and server may differ; further ahead is a typo
_MOMENT_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$")


def parse_moment(text: str | None, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime.

    Without an offset the time is Beijing time (Asia/Shanghai), the time users of a Chinese plant read on the wall.
    A bare date means the end of that day there: "as of 2026-10-01" includes what was done on 1 October.
    """
    shown = repr(text)[:60]
    bad = InputError(f"时刻 {shown} 不是 ISO 8601 日期或日期时间（如 2026-10-01 或 2026-10-01T08:00）/ "
                     f"moment {shown} is not an ISO 8601 date or date-time (e.g. 2026-10-01 or 2026-10-01T08:00)")
    if not isinstance(text, str):
        raise bad
    raw = text.strip()
    if not raw.isascii() or len(raw) > 40 or not _MOMENT_SHAPE.match(raw.upper()):
        raise bad
    try:
        if len(raw) == 10:
            moment = datetime.combine(date.fromisoformat(raw), time.max, tzinfo=LOCAL_ZONE)
        else:
            moment = datetime.fromisoformat(raw.upper().replace(" ", "T"))
    except ValueError:
        raise bad from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_ZONE)
    early = InputError(f"时刻 {shown} 早于 1990 年 / moment {shown} is before 1990")
    ahead = InputError(f"时刻 {shown} 在未来 / moment {shown} is in the future")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:           # year 1 or 9999 moved past the calendar's ends by its offset
        raise (early if moment.year < EARLIEST.year else ahead) from None
    now = now or datetime.now(UTC)
    if moment < EARLIEST:
        raise early
    if moment > now + FUTURE_SLACK:
        raise ahead
    return moment


def format_moment(moment: datetime) -> str:
    """A moment as users read it: Beijing time to the minute, with its offset (2026-10-01 08:00 +08:00)."""
    local = moment.astimezone(LOCAL_ZONE)
    return local.strftime("%Y-%m-%d %H:%M") + " +08:00"


# ---------------------------------------------------------------------------------------------- versions at a moment


@dataclass(frozen=True)
class AsOf:
    """The layout and ledger versions current at a moment (None: none existed yet) and the data version then
    (None when the audit trail does not reach back to that moment)."""

    layout_number: int | None
    ledger_number: int | None
    data_version: int | None
    at: datetime

    @property
    def key(self) -> tuple:
        """What a cache of past states keys on: the two version numbers say everything about the data."""
        return ("as-of", self.layout_number, self.ledger_number)


def versions_at(store, name: str, at: datetime) -> AsOf:
    """The versions whose created_at <= at; InputError when nothing was stored yet then."""
    at = _aware(at)
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        layout = _number_at(s, LayoutVersionRow, ent_id, at)
        ledger = _number_at(s, LedgerVersionRow, ent_id, at)
        data_version = s.execute(select(func.max(ChangeRow.data_version))
                                 .where(ChangeRow.enterprise_id == ent_id, ChangeRow.at <= at)).scalar_one()
    if layout is None and ledger is None:
        shown = format_moment(at)
        raise InputError(f"该时刻（{shown}）还没有数据 / nothing was stored yet at {shown}")
    return AsOf(layout, ledger, data_version, at)


def regions_at(store, name: str, layout_version: int | None, ledger_version: int | None) -> list[Region]:
    """Regions of a past layout with the units of a past ledger attached, by the rules of Store.regions.

    None for a version means "none existed then" (not "the current one"): no regions, resp. no units.
    """
    with store.session() as s:   # one snapshot, as Store.regions reads
        return regions_from_features(*_past_parts(store, s, name, layout_version, ledger_version, ["region"]))


def _past_parts(store, s, name: str, layout_version: int | None, ledger_version: int | None,
                roles: list[str] | None):
    features = empty_features() if layout_version is None else read_features(s, name, roles, None, layout_version)
    units = [] if ledger_version is None else read_units(s, name, ledger_version)
    return features, units


def plant_parts_at(store, name: str, at: datetime) -> dict:
    """Everything load_plant needs, as it was at `at`, read in one snapshot."""
    asof = versions_at(store, name, at)
    with store.session() as s:
        features, units = _past_parts(store, s, name, asof.layout_number, asof.ledger_number, None)
        ent_id = enterprise_id(s, name, create=False)
        layout_info = _version_info(s, LayoutVersionRow, ent_id, asof.layout_number, layout_version_info)
        ledger_info = _version_info(s, LedgerVersionRow, ent_id, asof.ledger_number, ledger_version_info)
    regions = regions_from(features, units)
    return {"asof": asof, "features": features, "units": units, "regions": regions,
            "layout_info": layout_info, "ledger_info": ledger_info}


def regions_from(features, units) -> list[Region]:
    """Regions by the rules of Store.regions, from a layout already read whole (saves reading it twice)."""
    return regions_from_features(features[features["role"] == "region"].reset_index(drop=True), units)


def _version_info(s, model, ent_id: int, number: int | None, info) -> dict | None:
    """One version's record as Store.layout_info / ledger_info give it."""
    if number is None:
        return None
    row = s.execute(select(model).where(model.enterprise_id == ent_id, model.number == number)).scalar_one_or_none()
    return None if row is None else info(row)


# ---------------------------------------------------------------------------------------------- history


def history(store, name: str, since: datetime | None = None, until: datetime | None = None,
            item: str | None = None, limit: int = 200, drawing: str | None = None) -> list[dict]:
    """The audit trail, newest first: who changed what, when and why; with `drawing` (a drawing's key, "site" for
    the site plan) only the layout versions of that drawing.

    Layout and ledger versions that no audit row wrote (imports made before the trail existed) are listed from
    the version tables, so the history starts at the first import.
    """
    limit = _limit(limit)
    since, until = (None if t is None else _aware(t) for t in (since, until))
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        cond = [ChangeRow.enterprise_id == ent_id]
        of_one = None
        if drawing is not None:          # the numbers of that drawing's layout versions (numbers run across all)
            of_one = of_drawing(LayoutVersionRow, drawing_id(s, ent_id, drawing))
            cond.append(ChangeRow.layout_number.in_(select(LayoutVersionRow.number).where(
                LayoutVersionRow.enterprise_id == ent_id, of_one)))
        if since is not None:
            cond.append(ChangeRow.at >= since)
        if until is not None:
            cond.append(ChangeRow.at <= until)
        if item is not None:
            cond.append(_lists_item(store.dialect, str(item)))
        rows = s.execute(select(ChangeRow).where(*cond).order_by(ChangeRow.at.desc(), ChangeRow.id.desc())
                         .limit(limit)).scalars().all()
        out = [_change(r) for r in rows]
        if item is None:
            out.extend(_older_versions(s, ent_id, since, until, limit, of_one))
    out.sort(key=lambda r: (r["at"], r["id"] or 0), reverse=True)
    return out[:limit]


def _change(r: ChangeRow) -> dict:
    return {"id": r.id, "at": r.at, "author": r.author, "author_id": r.author_id, "reason": r.reason,
            "action": r.action,
            "collection": r.collection, "item_ids": list(r.item_ids or []), "layout_number": r.layout_number,
            "ledger_number": r.ledger_number, "data_version": r.data_version, "detail": r.detail}


def _older_versions(s, ent_id: int, since, until, limit: int, of_one=None) -> list[dict]:
    out = []
    models = ((LayoutVersionRow, "layout", "layout"), (LedgerVersionRow, "ledger", "units"))
    for model, what, collection in models[:1] if of_one is not None else models:
        number, families = ((ChangeRow.layout_number, ("layout.%", "feature.%")) if what == "layout" else
                            (ChangeRow.ledger_number, ("ledger.%", "unit.%")))
        written_with_audit = (select(ChangeRow.id)
                              .where(ChangeRow.enterprise_id == ent_id, number == model.number,
                                     or_(*(ChangeRow.action.like(f) for f in families))).exists())
        cond = [model.enterprise_id == ent_id, ~written_with_audit, *([] if of_one is None else [of_one])]
        if since is not None:
            cond.append(model.created_at >= since)
        if until is not None:
            cond.append(model.created_at <= until)
        for r in s.execute(select(model).where(*cond).order_by(model.created_at.desc()).limit(limit)).scalars():
            count = r.feature_count if model is LayoutVersionRow else r.unit_count
            out.append({"id": None, "at": r.created_at, "author": r.author, "author_id": None, "reason": r.note,
                        "action": _VERSION_ACTIONS.get((what, r.action), f"{what}.{r.action}"),
                        "collection": collection, "item_ids": [],
                        "layout_number": r.number if what == "layout" else None,
                        "ledger_number": r.number if what == "ledger" else None, "data_version": None,
                        "detail": {"count": count}})
    return out


# Version-table actions named as the audit trail names them.
_VERSION_ACTIONS = {("layout", "edit"): "feature.edit", ("layout", "restore"): "feature.restore",
                    ("layout", "split"): "feature.split", ("layout", "merge"): "feature.merge",
                    ("ledger", "edit"): "unit.edit"}


def _lists_item(dialect: str, item: str):
    """changes.item_ids (a JSON list) contains `item`, in SQL."""
    if dialect == "postgresql":
        return text("CAST(changes.item_ids AS jsonb) @> CAST(:item_list AS jsonb)").bindparams(
            item_list=json.dumps([storable(item)]))       # as stored: jsonb refuses the escape \u0000
    return text("EXISTS (SELECT 1 FROM json_each(changes.item_ids) WHERE json_each.value = :item_text)"
                ).bindparams(item_text=item)


def _limit(limit) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_HISTORY:
        raise InputError(f"limit 应为 1 到 {MAX_HISTORY} 的整数 / limit must be an integer from 1 to {MAX_HISTORY}")
    return limit


# ---------------------------------------------------------------------------------------------- diff


def diff(store, name: str, t1: datetime, t2: datetime, drawing: str | None = None) -> dict:
    """What changed between two moments: layout features of a drawing (None: the site plan) by fid, units by code
    (levels = residual levels).

    Only rows that differ are read: a row valid at both versions is the same row (the store is append-only),
    so the rows valid at the earlier version and retired by the later one, and those written after the
    earlier one and still valid at the later one, are all there is to compare.
    """
    t1, t2 = _aware(t1), _aware(t2)
    if t1 > t2:
        t1, t2 = t2, t1
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        on_drawing = of_drawing(LayoutFeatureRow, drawing_id(s, ent_id, drawing))
        before = [_number_at(s, m, ent_id, t1) for m in (LayoutVersionRow, LedgerVersionRow)]
        after = [_number_at(s, m, ent_id, t2) for m in (LayoutVersionRow, LedgerVersionRow)]
        with paused_gc():
            old_f, new_f = (_feature_frame(_feature_rows(s, store, cond)) for cond in
                            _changed(LayoutFeatureRow, ent_id, before[0], after[0], on_drawing))
            old_u, new_u = (_units_where(s, store, cond) for cond in
                            _changed(UnitRow, ent_id, before[1], after[1]))
        layout = _layout_diff(old_f, new_f)
        units = _units_diff(old_u, new_u)
    return {"from": t1, "to": t2, "layout_from": before[0], "layout_to": after[0], "ledger_from": before[1],
            "ledger_to": after[1], "layout": layout, "units": units}


def _changed(model, ent_id: int, v1: int | None, v2: int | None, *more: Any) -> tuple[list | None, list | None]:
    """SQL conditions of (rows valid at v1 but not at v2, rows valid at v2 but not at v1), among the rows meeting
    `more`; None reads nothing (no version yet at that moment)."""
    base = [model.enterprise_id == ent_id, *more]
    old = None if v1 is None else [*base, valid(model, v1),
                                   *([] if v2 is None else [model.valid_to.is_not(None), model.valid_to <= v2])]
    new = None if v2 is None else [*base, valid(model, v2), *([] if v1 is None else [model.valid_from > v1])]
    return old, new


def _feature_rows(s, store, cond: list | None) -> list:
    if cond is None:
        return []
    f = LayoutFeatureRow
    return s.connection().execute(select(f.id, f.fid, f.name, f.role, f.layer, json_text(store.dialect, f.properties),
                                         wkb_of(store.dialect, f.geometry)).where(*cond).order_by(f.id)).all()


@dataclass
class _RawUnit:
    """A unit as stored (JSON as text, geometry as WKB) with its events: compared as is, decoded when different."""

    row: Any
    events: list
    signature: tuple     # what is stored, less the keys a new version changes anyway

    def decode(self) -> AssessmentUnit:
        events = [codec.event_from_row(_decoded(ev)) for ev in self.events]
        return codec.unit_from_row(_decoded(self.row), from_wkb([self.row.wkb])[0], events)


_UNIT_KEYS = {"id", "enterprise_id", "ledger_version_id", "valid_from", "valid_to", "position"}
_EVENT_KEYS = {"id", "enterprise_id", "unit_id"}


def _decoded(row) -> SimpleNamespace:
    """A Core row read with JSON columns as text, those columns decoded as the Data type would."""
    values = dict(row._mapping)
    for key, value in values.items():
        if key in _JSON_COLUMNS and value is not None:
            values[key] = loads(value)
    return SimpleNamespace(**values)


_JSON_COLUMNS = {c.name for t in (UnitRow.__table__, RiskEventRow.__table__) for c in t.c if isinstance(c.type, Data)}


def _units_where(s, store, cond: list | None) -> dict[str, _RawUnit]:
    """The unit rows meeting `cond` and their events, by code, undecoded (JSON as text)."""
    if cond is None:
        return {}
    units_t, events_t = UnitRow.__table__, RiskEventRow.__table__

    def columns(table):
        return [json_text(store.dialect, c).label(c.name) if c.name in _JSON_COLUMNS else c
                for c in table.c if c.name != "geometry"]

    conn = s.connection()
    rows = conn.execute(select(*columns(units_t), wkb_of(store.dialect, units_t.c.geometry).label("wkb"))
                        .where(*cond).order_by(units_t.c.id)).all()
    if not rows:
        return {}
    events: dict[int, list] = {}
    event_rows = conn.execute(select(*columns(events_t)).join(units_t, units_t.c.id == events_t.c.unit_id)
                              .where(*cond).order_by(events_t.c.unit_id, events_t.c.position)).all()
    for ev in event_rows:
        events.setdefault(ev.unit_id, []).append(ev)
    unit_part, event_part = _content(rows, _UNIT_KEYS), _content(event_rows, _EVENT_KEYS)
    out = {}
    for r in rows:
        evs = events.get(r.id, [])
        out[r.code] = _RawUnit(r, evs, (unit_part(r), tuple(event_part(ev) for ev in evs)))
    return out


def _content(rows, keys: set[str]):
    """A function giving a row's values less `keys` (an itemgetter: a signature per row costs little)."""
    fields = rows[0]._fields if rows else ()
    keep = [i for i, name in enumerate(fields) if name not in keys] or [0]
    return itemgetter(*keep) if len(keep) > 1 else (lambda row: (row[keep[0]],))


def _feature_frame(rows):
    frame = features_frame(rows)
    return frame.drop_duplicates("fid", keep="last").set_index("fid", drop=False)


def _layout_diff(old, new) -> dict:
    gone = old.index.difference(new.index)
    came = new.index.difference(old.index)
    both = old.index.intersection(new.index)
    o, n = old.loc[both], new.loc[both]
    reshaped = ~shapely.equals_exact(o.geometry.values, n.geometry.values, tolerance=0) if len(both) else []
    names_o, names_n = o["name"].to_numpy(object), n["name"].to_numpy(object)
    renamed = names_o != names_n if len(both) else []
    other = [(o["role"].iat[i], o["layer"].iat[i], o["properties"].iat[i])
             != (n["role"].iat[i], n["layer"].iat[i], n["properties"].iat[i]) for i in range(len(both))]

    def brief(frame, fid):
        row = frame.loc[fid]
        return {"id": fid, "name": row["name"], "role": row["role"]}

    return {
        "added": [brief(new, f) for f in came],
        "removed": [brief(old, f) for f in gone],
        "reshaped": [brief(n, f) for f, flag in zip(both, reshaped, strict=True) if flag],
        "renamed": [{"id": f, "from": a, "to": b}
                    for f, a, b, flag in zip(both, names_o, names_n, renamed, strict=True) if flag],
        "changed": [brief(n, f) for f, flag in zip(both, other, strict=True) if flag],
    }


def _units_diff(old: dict[str, _RawUnit], new: dict[str, _RawUnit]) -> dict:
    """Units by code; those stored alike (a re-import rewrites every row) are not decoded."""
    changed, level_changed = [], []
    differ = [code for code in old.keys() & new.keys() if old[code].signature != new[code].signature]
    for code in sorted(differ, key=_natural):
        a, b = old[code].decode(), new[code].decode()
        row_a, row_b = codec.unit_row(a, 0), codec.unit_row(b, 0)
        fields = [k for k, v in row_a.items() if k not in ("position", "geometry") and row_b[k] != v]
        if not same_geometry(a.geometry, b.geometry):
            fields.append("geometry")
        if [codec.event_row(e, i) for i, e in enumerate(a.events)] != \
                [codec.event_row(e, i) for i, e in enumerate(b.events)]:
            fields.append("events")
        if fields:
            changed.append({"id": code, "name": b.name, "fields": fields})
        la, lb = a.level(), b.level()
        if la != lb:
            level_changed.append({"id": code, "from": la.value if la else None, "to": lb.value if lb else None})
    return {
        "added": [{"id": c, "name": new[c].row.name} for c in sorted(new.keys() - old.keys(), key=_natural)],
        "removed": [{"id": c, "name": old[c].row.name} for c in sorted(old.keys() - new.keys(), key=_natural)],
        "changed": changed,
        "level_changed": level_changed,
    }


def _natural(code: str):
    return (len(code), code)


# ---------------------------------------------------------------------------------------------- helpers


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime):
        raise InputError(f"时刻应为日期时间，而不是 {moment!r} / a moment must be a date-time, not {moment!r}")
    return (moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_ZONE)).astimezone(UTC)


def _number_at(s, model, ent_id: int, at: datetime) -> int | None:
    return s.execute(select(func.max(model.number))
                     .where(model.enterprise_id == ent_id, model.created_at <= at)).scalar_one()
