"""The hidden hazards' store: each transition of riskmap.hazards.workflow applied in one transaction, with its
timeline row, its audit row and the enterprise's data version bumped, and the consequences in the risk mechanism.

- A write reads the hazard row locked, checks the caller's If-Match against its `version` (412 with the hazard as
  it is now when someone else acted first), asks the workflow for the new record and step, checks what only the
  store can check (the unit, event and control exist; the place is near the plant), then writes the row, the
  step (`hazard_events`, never updated) and the audit row (`changes`), all or nothing.
- Consequences: a hazard from source 9 (管控措施失效) marks its control measure failed until it is accepted
  (`failed_controls`); acceptance (or 即查即改) raises the unit's re-assessment flag, reason "hazard_accepted"
  (riskmap.store.flags); nothing here changes a risk level.
- Photos: checked by riskmap.hazards.photos, the bytes written to the media folder before the row is committed
  (and removed again when the transaction fails), served stripped of EXIF.
Reads answer plain dicts (JSON-able) and, for the map, a GeoDataFrame in EPSG:4326.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping
from sqlalchemy import and_, func, not_, select, true

from riskmap import clock
from riskmap.errors import EditConflict, LedgerError, NotFoundError, PreconditionRequired, RiskmapError
from riskmap.hazards import model, photos, reference, workflow
from riskmap.hazards.model import DONE_STATES, STATE_LABELS, Hazard, HazardInputError, State, TooManyReports
from riskmap.hazards.workflow import Actor, Step
from riskmap.people import Author
from riskmap.store.audit import record_change
from riskmap.store.flags import raise_flags, reason_text
from riskmap.store.ledgers import current_unit_row, unit_of
from riskmap.store.mapdata import MapFeatureRow
from riskmap.store.rows import Writing, enterprise_id, from_wkb, wkb_of
from riskmap.store.schema import ChangeRow, HazardEventRow, HazardPhotoRow, HazardReportRow, HazardRow
from riskmap.store.types import to_json, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from riskmap.store.repository import Store

FLAG_REASON = "hazard_accepted"
MAX_UID = 36
ENDING = (State.ACCEPTED.value, State.CLOSED.value, State.REJECTED.value)
# An anonymous report in these states is withheld from readers (not yet confirmed, or rejected).
WITHHELD_STATES = (State.REPORTED.value, State.REJECTED.value)
ANONYMOUS = "匿名（手机页）/ anonymous (phone page)"
RATE_WINDOW = timedelta(hours=1)
DAY = timedelta(days=1)
_TO_LONLAT = Transformer.from_crs(3857, 4326, always_xy=True)


# ---------------------------------------------------------------------------------------------- rows ↔ records


def hazard_of(row: HazardRow) -> Hazard:
    """The record of a stored row."""
    return Hazard(
        id=row.uid, name=row.name, state=State(row.state), level=row.level, item=row.item, source=row.source,
        hazard_type=row.hazard_type, manage_type=row.manage_type, category=row.category,
        management_classification=row.management_classification, occurrence_link=row.occurrence_link,
        description=row.description, cause=row.cause, rectification_measures=row.rectification_measures,
        cost=Decimal(row.cost) if row.cost is not None else None, liable_person=row.liable_person,
        deadline=row.deadline, department=row.department, unit_code=row.unit_code,
        risk_event_code=row.risk_event_code, control_index=row.control_index, fid=row.fid,
        hazard_code=row.hazard_code, check_record_id=row.check_record_id, location=row.geometry,
        registrant=row.registrant, registrant_id=row.registrant_id, registered_at=row.registered_at,
        rectifier=row.rectifier, rectifier_id=row.rectifier_id, rectification_note=row.rectification_note,
        plan=dict(row.plan or {}), accept_person=row.accept_person, accept_person_id=row.accept_person_id,
        accept_at=row.accept_at, accept_comment=row.accept_comment, extension=row.extension,
        comments=row.comments, version=row.version, anonymous=bool(row.anonymous))


def _row_values(h: Hazard) -> dict[str, Any]:
    out = {name: getattr(h, name) for name in model.FIELD_NAMES if name not in ("id", "location")}
    out.update(uid=h.id, state=h.state.value, geometry=h.location, plan=h.plan or None,
               cost=str(h.cost) if h.cost is not None else None)
    return out


def hazard_dict(h: Hazard, now: datetime | None = None) -> dict[str, Any]:
    """A hazard as the interfaces answer it: every field as JSON, with labels, dangerState and overdue."""
    now = now or clock.now()
    item = reference.items().get(h.item) if h.item else None
    zh, en = STATE_LABELS[h.state]
    return {
        "id": h.id, "name": h.name, "state": h.state.value, "state_label": f"{zh} / {en}",
        "level": h.level, "level_label": reference.label("dangerLevel", h.level), "major": h.major,
        "item": h.item, "item_text": item.text if item else None, "item_document": item.document if item else None,
        "source": h.source, "source_label": reference.label("dangerSrc", h.source),
        "hazard_type": h.hazard_type, "hazard_type_label": reference.label("hazardDangerType", h.hazard_type),
        "manage_type": h.manage_type, "category": h.category,
        "management_classification": h.management_classification, "occurrence_link": h.occurrence_link,
        "description": h.description, "cause": h.cause, "rectification_measures": h.rectification_measures,
        "cost": str(h.cost) if h.cost is not None else None, "liable_person": h.liable_person,
        "deadline": h.deadline.isoformat() if h.deadline else None, "department": h.department,
        "unit_id": h.unit_code, "risk_event": h.risk_event_code, "control_index": h.control_index, "fid": h.fid,
        "hazard_code": h.hazard_code, "check_record_id": h.check_record_id,
        "location": mapping(h.location) if h.location is not None else None,
        "registrant": h.registrant, "registrant_id": h.registrant_id,
        "registered_at": h.registered_at.isoformat() if h.registered_at else None,
        "rectifier": h.rectifier, "rectifier_id": h.rectifier_id, "rectification_note": h.rectification_note,
        "plan": h.plan, "accept_person": h.accept_person, "accept_person_id": h.accept_person_id,
        "accept_at": h.accept_at.isoformat() if h.accept_at else None, "accept_comment": h.accept_comment,
        "extension": h.extension, "comments": h.comments, "version": h.version,
        "danger_state": h.danger_state(), "open": h.is_open(), "overdue": h.overdue(now),
        "anonymous": h.anonymous, "published": h.published,
    }


def _step_dict(row: HazardEventRow) -> dict[str, Any]:
    return {"id": row.id, "at": row.at.isoformat(), "author": row.author, "author_id": row.author_id,
            "action": row.action, "from_state": row.from_state, "to_state": row.to_state, "reason": row.reason,
            "changed": row.changed, "version": row.version, "change_id": row.change_id}


def _photo_dict(row: HazardPhotoRow) -> dict[str, Any]:
    return {"id": row.id, "stage": row.stage, "media_type": row.media_type, "width": row.width,
            "height": row.height, "size": row.size, "sha256": row.sha256, "gps": row.gps, "taken_at": row.taken_at,
            "uploaded_at": row.uploaded_at.isoformat(), "uploaded_by": row.uploaded_by}


def _changed_json(step: Step) -> dict[str, list]:
    out = {}
    for name, (old, new) in step.changed.items():
        pair = [mapping(v) if isinstance(v, shapely.Geometry) else v for v in (old, new)]
        out[name] = to_json(pair)
    return out


# ---------------------------------------------------------------------------------------------- writing


def _locked(s: Session, ent_id: int, uid: str, lock: bool = True) -> HazardRow:
    if not isinstance(uid, str) or not uid or len(uid) > MAX_UID:
        raise NotFoundError(f"没有编号为 “{str(uid)[:40]}” 的隐患 / no hazard {str(uid)[:40]!r}")
    q = select(HazardRow).where(HazardRow.enterprise_id == ent_id, HazardRow.uid == uid)
    row = s.execute(q.with_for_update() if lock else q).scalars().first()
    if row is None:
        raise NotFoundError(f"没有编号为 “{uid}” 的隐患 / no hazard {uid!r}")
    return row


def plant_bounds(s: Session, ent_id: int) -> tuple[float, float, float, float] | None:
    """The plant's extent in lon/lat, from the map snapshot (None for a plant without geometry)."""
    row = s.execute(select(func.min(MapFeatureRow.minx), func.min(MapFeatureRow.miny), func.max(MapFeatureRow.maxx),
                           func.max(MapFeatureRow.maxy)).where(MapFeatureRow.enterprise_id == ent_id,
                                                               MapFeatureRow.minx.is_not(None))).first()
    if row is None or row[0] is None:
        return None
    (x0, x1), (y0, y1) = _TO_LONLAT.transform([row[0], row[2]], [row[1], row[3]])
    return (x0, y0, x1, y1)


def _check_references(s: Session, ent_id: int, h: Hazard, step: Step, cache: dict | None = None) -> None:
    """What only the store can check: the unit, its event and control exist; the place is near the plant
    (`cache` keeps the plant's extent across the rows of one import)."""
    if "location" in step.changed:
        if cache is None or "bounds" not in cache:
            found = plant_bounds(s, ent_id)
            if cache is not None:
                cache["bounds"] = found
        model.check_near(h.location, cache["bounds"] if cache is not None else found)
    if not {"unit_code", "risk_event_code", "control_index"} & set(step.changed) or h.unit_code is None:
        return
    row = current_unit_row(s, ent_id, h.unit_code, lock=False)
    if row is None:
        raise HazardInputError(f"没有编号为 “{h.unit_code}” 的评估单元 / no assessment unit {h.unit_code!r}")
    if h.risk_event_code is None:
        if h.control_index is not None:
            raise HazardInputError("注明管控措施时需注明风险事件 / a control measure needs its risk event")
        return
    unit = unit_of(s, row)
    event = find_event(unit.events, h.risk_event_code)
    if event is None:
        raise HazardInputError(f"单元 “{h.unit_code}” 没有风险事件 “{h.risk_event_code}”（事件编号或 #序号）/ unit "
                               f"{h.unit_code!r} has no risk event {h.risk_event_code!r} (its id, or #n)")
    if h.control_index is not None and h.control_index >= len(event.controls):
        raise HazardInputError(f"风险事件 “{event.name}” 只有 {len(event.controls)} 条管控措施（序号从 0 起）/ the "
                               f"event has {len(event.controls)} control measures (counted from 0)")


def find_event(events, ref: str):
    """The event a hazard names: by its id, or by its position "#n" (1-based) in the unit."""
    for event in events:
        if event.id is not None and event.id == ref:
            return event
    if ref.startswith("#") and ref[1:].isdigit() and 1 <= int(ref[1:]) <= len(events):
        return events[int(ref[1:]) - 1]
    return None


def _conflict(h: Hazard) -> EditConflict:
    return EditConflict(f"该隐患已被他人处理（当前版本 {h.version}，{STATE_LABELS[h.state][0]}）/ "
                        f"the hazard was changed by someone else (now version {h.version}, {STATE_LABELS[h.state][1]})",
                        current={"id": h.id, "edit_tag": h.version, "hazard": hazard_dict(h)})


def write(store: Store, enterprise: str, hazard_id: str | None, action: str, who: Actor,
          values: dict[str, Any] | None = None, *, reason: str | None = None, if_match: int | None = None,
          require_match: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Apply one transition (a new hazard when `hazard_id` is None) in one transaction; the hazard after it.

    `if_match`: the version the caller read (412 when it is no longer current); `require_match` makes it
    compulsory for an existing hazard (HTTP asks for it; 428 without)."""
    now = now or clock.now()
    if hazard_id is not None and if_match is None and require_match:
        raise PreconditionRequired("处理隐患需要 If-Match 头（先读取隐患获得 ETag）/ If-Match is required: read the "
                                   "hazard first to get its ETag")
    with store.transaction(enterprise, create=False) as w:
        w.track()
        after, change_id, raised = _apply(w, hazard_id, action, who, values, reason, if_match, now)
    return {"hazard": hazard_dict(after, now), "change_id": change_id, "data_version": w.data_version,
            "flags_raised": raised}


def _apply(w: Writing, hazard_id: str | None, action: str, who: Actor, values: dict[str, Any] | None,
           reason: str | None, if_match: int | None, now: datetime, *, change_id: int | None = None,
           cache: dict | None = None, anonymous: bool = False) -> tuple[Hazard, int, list[dict]]:
    """One transition inside the transaction `w`: every check before the first row is written. An import gives
    its one audit row (`change_id`) and a `cache` shared by its rows."""
    s = w.session
    row = _locked(s, w.enterprise_id, hazard_id) if hazard_id is not None else None
    before = hazard_of(row) if row is not None else None
    if before is not None and if_match is not None and before.version != if_match:
        raise _conflict(before)
    after, step = workflow.apply(before, action, who, values, reason=reason, now=now)
    if anonymous:
        after = replace(after, anonymous=True)
    _check_references(s, w.enterprise_id, after, step, cache)
    if change_id is None:
        change_id = record_change(w, f"hazard.{action}", collection="hazards", items=[after.id],
                                  author=Author(who.name, who.account_id), reason=step.reason,
                                  detail={"from": step.from_state, "to": after.state.value, "version": after.version,
                                          "fields": sorted(step.changed), **({"anonymous": True} if anonymous
                                                                             else {})})
    values_now = _row_values(after) | {"enterprise_id": w.enterprise_id, "updated_at": now}
    if row is None:
        row = HazardRow(**values_now)
        s.add(row)
    else:
        for key, value in values_now.items():
            setattr(row, key, value)
    s.flush()
    s.add(HazardEventRow(enterprise_id=w.enterprise_id, hazard_id=row.id, at=now, author=who.name,
                         author_id=who.account_id, action=action,
                         from_state=step.from_state.value if step.from_state else None,
                         to_state=after.state.value, reason=step.reason, changed=_changed_json(step),
                         version=after.version, change_id=change_id))
    return after, change_id, _consequences(w, before, after)


def report_many(store: Store, enterprise: str, who: Actor, rows: list[dict[str, Any]], *, reason: str | None = None,
                sheet: str = "隐患台账", first_row: int = 2, now: datetime | None = None) -> dict[str, Any]:
    """Register many hazards (a ledger's rows) in one transaction: every row checked, LedgerError listing each bad
    row (nothing written) or all of them stored."""
    now = now or clock.now()
    problems, made = [], []
    with store.transaction(enterprise, create=False) as w:
        w.track()
        change_id = record_change(w, "hazard.import", collection="hazards", author=Author(who.name, who.account_id),
                                  reason=reason, detail={"rows": len(rows)})
        cache: dict = {}
        for number, values in enumerate(rows, start=first_row):
            try:
                after, _, _ = _apply(w, None, "report", who, values, reason, None, now, change_id=change_id,
                                     cache=cache)
            except RiskmapError as exc:
                problems.append({"sheet": sheet, "row": number, "column": None, "message": exc.message})
                continue
            made.append(after.id)
        w.session.get(ChangeRow, change_id).item_ids = made
        if problems:
            raise LedgerError(f"隐患台账有 {len(problems)} 行不能导入，未导入任何一行 / {len(problems)} rows of the "
                              f"hazard ledger cannot be imported: nothing was imported", details=problems)
    return {"imported": len(made), "ids": made, "data_version": w.data_version}


def _consequences(w: Writing, before: Hazard | None, after: Hazard) -> list[dict]:
    """Acceptance (or 即查即改) raises the unit's re-assessment flag; nothing changes a risk level."""
    was_done = before is not None and before.state in DONE_STATES
    if was_done or after.state not in DONE_STATES or after.unit_code is None:
        return []
    if current_unit_row(w.session, w.enterprise_id, after.unit_code, lock=False) is None:
        return []
    what = f"{after.name[:60]}（{after.id[:8]}）"
    return raise_flags(w, {(after.unit_code, FLAG_REASON): (reason_text(FLAG_REASON, what),
                                                           {"hazard_id": after.id, "level": after.level})})


def report(store: Store, enterprise: str, who: Actor, values: dict[str, Any], *, reason: str | None = None,
           on_spot: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Register a new hazard (or one fixed on the spot, 即查即改, with its evidence in `values["note"]`)."""
    return write(store, enterprise, None, "fix_on_spot" if on_spot else "report", who, values, reason=reason,
                 now=now)


def report_anonymous(store: Store, enterprise: str, address: str | None, values: dict[str, Any], *,
                     per_hour: int, per_day: int, now: datetime | None = None) -> dict[str, Any]:
    """A report from someone not signed in (the phone page): registered "reported" and marked anonymous, so that
    nothing published shows it until a manager confirms it. Rate-limited in the database (every host counts the
    same rows): at most `per_hour` from one address an hour and `per_day` for the enterprise a day, else
    TooManyReports (429) and nothing written. The writing transaction holds the enterprise's data-version row,
    so two hosts cannot both count under the limit and both write."""
    now = now or clock.now()
    address = (address or "unknown")[:64]
    who = Actor(ANONYMOUS, None, frozenset({"hazard_report"}))
    with store.transaction(enterprise, create=False) as w:
        w.track()
        s = w.session
        _within_limits(s, w.enterprise_id, address, per_hour, per_day, now)
        after, change_id, _ = _apply(w, None, "report", who, values, None, None, now, anonymous=True)
        row_id = s.execute(select(HazardRow.id).where(HazardRow.uid == after.id)).scalar_one()
        s.add(HazardReportRow(enterprise_id=w.enterprise_id, address=address, at=now, hazard_id=row_id))
    return {"hazard": hazard_dict(after, now), "change_id": change_id, "data_version": w.data_version,
            "flags_raised": []}


def _within_limits(s: Session, ent_id: int, address: str, per_hour: int, per_day: int, now: datetime) -> None:
    """Raise TooManyReports when this address (or the whole enterprise) has used its anonymous reports."""
    if per_hour <= 0 or per_day <= 0:
        raise TooManyReports("本系统未开放匿名上报，请登录后上报 / anonymous reports are switched off here: sign in to "
                             "report")
    from_here = s.execute(select(func.count(HazardReportRow.id)).where(
        HazardReportRow.address == address, HazardReportRow.at > now - RATE_WINDOW)).scalar_one()
    if from_here >= per_hour:
        exc = TooManyReports(f"本网络一小时内已匿名上报 {from_here} 条（上限 {per_hour} 条），请稍后再试或登录后上报 / "
                             f"{from_here} anonymous reports from this address in the last hour (the limit is "
                             f"{per_hour}): try again later, or sign in to report")
        exc.headers = {"Retry-After": str(int(RATE_WINDOW.total_seconds()))}
        raise exc
    today = s.execute(select(func.count(HazardReportRow.id)).where(
        HazardReportRow.enterprise_id == ent_id, HazardReportRow.at > now - DAY)).scalar_one()
    if today >= per_day:
        exc = TooManyReports(f"今天的匿名上报已达上限（{per_day} 条），请登录后上报 / the enterprise has had {per_day} "
                             "anonymous reports in a day (the limit): sign in to report")
        exc.headers = {"Retry-After": str(int(DAY.total_seconds()))}
        raise exc


# ---------------------------------------------------------------------------------------------- reading


def get(store: Store, enterprise: str, hazard_id: str, now: datetime | None = None, *,
        withheld: bool = False) -> dict[str, Any]:
    """One hazard with its timeline (oldest first) and its photos; an anonymous report not yet confirmed only with
    `withheld` (a manager asks), else 404 as if it did not exist."""
    with store.session() as s:
        ent_id = enterprise_id(s, enterprise, create=False)
        row = _visible(_locked(s, ent_id, hazard_id, lock=False), withheld)
        steps = s.execute(select(HazardEventRow).where(HazardEventRow.hazard_id == row.id)
                          .order_by(HazardEventRow.id)).scalars().all()
        pics = s.execute(select(HazardPhotoRow).where(HazardPhotoRow.hazard_id == row.id)
                         .order_by(HazardPhotoRow.id)).scalars().all()
        out = hazard_dict(hazard_of(row), now)
        out["timeline"] = [_step_dict(r) for r in steps]
        out["photos"] = [_photo_dict(r) for r in pics]
    return out


def _visible(row: HazardRow, withheld: bool) -> HazardRow:
    """The row, unless it is a withheld anonymous report and the caller may not see those (404 then)."""
    if not withheld and row.anonymous and row.state in WITHHELD_STATES:
        raise NotFoundError(f"没有编号为 “{row.uid}” 的隐患 / no hazard {row.uid!r}")
    return row


def _ended_by(s: Session, ent_id: int, at: datetime):
    """Hazard ids whose loop ended (accepted, closed, rejected) at or before `at`."""
    return select(HazardEventRow.hazard_id).where(HazardEventRow.enterprise_id == ent_id,
                                                  HazardEventRow.at <= at, HazardEventRow.to_state.in_(ENDING))


def _filtered(s: Session, ent_id: int, columns, *, state: str | list[str] | None, level: int | None,
              department: str | None, overdue: bool | None, at: datetime | None, unit_id: str | None,
              now: datetime, withheld: bool | None = False):
    """The SELECT of an enterprise's hazards with the filters as SQL (overdue too: open and the deadline's day
    ended in Beijing), newest first. `withheld`: False leaves out the anonymous reports not yet confirmed (what
    readers see), True keeps only those (a manager's queue), None keeps all."""
    states = [state] if isinstance(state, str) else list(state or [])
    for name in states:
        if name not in {s.value for s in State}:
            raise HazardInputError(f"没有状态 “{str(name)[:40]}”，可用：{', '.join(s.value for s in State)} / no state "
                                   f"{str(name)[:40]!r}")
    if level is not None and not reference.has_code("dangerLevel", level):
        raise HazardInputError("隐患等级应为 0（一般）或 1（重大）/ the level must be 0 (general) or 1 (major)")
    q = select(*columns).where(HazardRow.enterprise_id == ent_id)
    if withheld is not None:
        hidden = and_(HazardRow.anonymous == true(), HazardRow.state.in_(WITHHELD_STATES))
        q = q.where(hidden if withheld else not_(hidden))
    if states:
        q = q.where(HazardRow.state.in_(states))
    if level is not None:
        q = q.where(HazardRow.level == level)
    if department is not None:
        q = q.where(HazardRow.department == department)
    if unit_id is not None:
        q = q.where(HazardRow.unit_code == unit_id)
    if at is not None:
        q = q.where(HazardRow.registered_at <= at, HazardRow.id.not_in(_ended_by(s, ent_id, at)))
    if overdue is not None:
        late = and_(HazardRow.state.in_([x.value for x in model.OPEN_STATES]),
                    HazardRow.deadline < clock.local_date(now))
        q = q.where(late if overdue else not_(late) | HazardRow.deadline.is_(None))
    return q.order_by(HazardRow.registered_at.desc(), HazardRow.id.desc())


def records(store: Store, enterprise: str, *, state: str | list[str] | None = None, level: int | None = None,
            department: str | None = None, overdue: bool | None = None, at: datetime | None = None,
            unit_id: str | None = None, limit: int | None = None, offset: int = 0,
            now: datetime | None = None, withheld: bool | None = False) -> list[Hazard]:
    """The enterprise's hazards (newest first), filtered: states, level (0/1), department, overdue now, unit, and
    `at` ("open at that moment": registered by then and not yet accepted, closed or rejected); a page of them
    with `limit` and `offset`. Anonymous reports not yet confirmed only with `withheld` True (only them) or
    None (all)."""
    now = now or clock.now()
    with store.session() as s:
        ent_id = enterprise_id(s, enterprise, create=False)
        q = _filtered(s, ent_id, [HazardRow], state=state, level=level, department=department, overdue=overdue,
                      at=at, unit_id=unit_id, now=now, withheld=withheld)
        if limit is not None:
            q = q.limit(limit).offset(offset)
        return [hazard_of(r) for r in s.execute(q).scalars().all()]


def listing(store: Store, enterprise: str, now: datetime | None = None, **filters: Any) -> list[dict[str, Any]]:
    """`records` as dicts (what the list route and command answer)."""
    now = now or clock.now()
    return [hazard_dict(h, now) for h in records(store, enterprise, now=now, **filters)]


def statistics(store: Store, enterprise: str, date_from: date | None = None, date_to: date | None = None,
               now: datetime | None = None) -> dict[str, Any]:
    """The published hazards' statistics (riskmap.hazards.statistics) as JSON, with the enterprise's name."""
    from riskmap.hazards import statistics as stats

    now = now or clock.now()
    stats.check_range(date_from, date_to)
    found = records(store, enterprise, now=now)
    return {"enterprise": enterprise, **stats.compute(found, now, date_from, date_to).as_dict()}


def failed_controls(store: Store, enterprise: str) -> list[dict[str, Any]]:
    """The control measures marked failed by an open hazard from source 管控措施失效 (until it is accepted)."""
    out = []
    for h in records(store, enterprise, state=[s.value for s in model.OPEN_STATES]):
        if h.source == reference.SOURCE_CONTROL_FAILED and h.unit_code is not None:
            out.append({"unit_id": h.unit_code, "risk_event": h.risk_event_code, "control_index": h.control_index,
                        "hazard_id": h.id, "hazard_name": h.name, "level": h.level, "state": h.state.value})
    return out


def open_major_hazards(store: Store, enterprise: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """The open major hazards (for a unit's popup, its card and the board: filter by `unit_id`)."""
    now = now or clock.now()
    return [hazard_dict(h, now) for h in records(store, enterprise, state=[s.value for s in model.OPEN_STATES],
                                                 level=model.MAJOR, now=now)]


def unit_points(s: Session, ent_id: int, codes: set[str]) -> dict[str, Any]:
    """Where the map draws units (its snapshot, EPSG:3857) as lon/lat points inside them."""
    if not codes:
        return {}
    rows = s.execute(select(MapFeatureRow.key, MapFeatureRow.geometry).where(
        MapFeatureRow.enterprise_id == ent_id, MapFeatureRow.layer == "units", MapFeatureRow.key.in_(sorted(codes)),
        MapFeatureRow.geometry.is_not(None))).all()
    out = {}
    for key, geom in rows:
        point = shapely.point_on_surface(geom)
        out[key] = shapely.Point(*_TO_LONLAT.transform(point.x, point.y))
    return out


def unit_locations(store: Store, enterprise: str, codes: set[str]) -> dict[str, Any]:
    """A lon/lat point inside each unit as the map draws it (units the map does not draw are left out)."""
    with store.session() as s:
        return unit_points(s, enterprise_id(s, enterprise, create=False), set(codes))


def hazards_frame(store: Store, enterprise: str, *, at: datetime | None = None, now: datetime | None = None,
                  state: str | list[str] | None = None, level: int | None = None, department: str | None = None,
                  overdue: bool | None = None, unit_id: str | None = None,
                  changed_since: int | None = None) -> gpd.GeoDataFrame:
    """The hazards as a GeoDataFrame in EPSG:4326 (for the map layer and exports): id, name, state, level,
    danger_state, overdue, department, unit_id, deadline, source, registered_at (UTC), by_unit, row, version
    (the ETag of /api/hazards and of the OGC items); placed by
    their location, else a point inside their unit as the map draws it (`by_unit`; hazards with neither have no
    geometry). Reads only these columns.

    `attrs["mark"]` is the enterprise's last hazard event seen. With `changed_since` (an earlier mark) only the
    hazards with an event after it are read, and `attrs["changed"]` lists every hazard changed since (those the
    filters leave out too), so that a reader can patch what it holds: every hazard write records an event while
    holding the enterprise's data-version row, so one enterprise's events commit in the order of their ids."""
    now = now or clock.now()
    # the geometry as WKB, decoded below in one vectorised call (per row it cost more than the query)
    columns = [HazardRow.id, HazardRow.uid, HazardRow.name, HazardRow.state, HazardRow.level, HazardRow.department,
               HazardRow.unit_code, HazardRow.deadline, wkb_of(store.dialect, HazardRow.geometry).label("wkb"),
               HazardRow.source, HazardRow.registered_at, HazardRow.version]
    changed: list[str] | None = None
    with store.session() as s:
        ent_id = enterprise_id(s, enterprise, create=False)
        mark = s.execute(select(func.max(HazardEventRow.id)).where(
            HazardEventRow.enterprise_id == ent_id)).scalar() or 0
        q = _filtered(s, ent_id, columns, state=state, level=level, department=department, overdue=overdue, at=at,
                      unit_id=unit_id, now=now)
        if changed_since is not None:
            touched = select(HazardEventRow.hazard_id).where(HazardEventRow.enterprise_id == ent_id,
                                                             HazardEventRow.id > changed_since)
            changed = list(s.execute(select(HazardRow.uid).where(HazardRow.id.in_(touched))).scalars())
            q = q.where(HazardRow.id.in_(touched))
        rows = s.execute(q).all()
        points = unit_points(s, ent_id, {r.unit_code for r in rows if r.wkb is None and r.unit_code})
    today = clock.local_date(now)
    open_states = {x.value for x in model.OPEN_STATES}
    national = {x.value: Hazard(id="", name="", state=x).danger_state() for x in State}
    geoms = from_wkb([r.wkb for r in rows])
    by_unit = shapely.is_missing(geoms)
    for i in np.flatnonzero(by_unit):
        geoms[i] = points.get(rows[i].unit_code)
    data = {"id": [r.uid for r in rows], "name": [r.name for r in rows], "state": [r.state for r in rows],
            "level": [r.level for r in rows], "danger_state": [national[r.state] for r in rows],
            "overdue": [r.state in open_states and r.deadline is not None and today > r.deadline for r in rows],
            "department": [r.department for r in rows], "unit_id": [r.unit_code for r in rows],
            "deadline": [r.deadline.isoformat() if r.deadline else None for r in rows],
            "source": [r.source for r in rows],
            "registered_at": [r.registered_at for r in rows], "by_unit": by_unit,
            "row": np.array([r.id for r in rows], dtype=np.int64),
            "version": np.array([r.version for r in rows], dtype=np.int64)}
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")
    frame.attrs.update({"mark": int(mark), "changed": changed})
    return frame


# ---------------------------------------------------------------------------------------------- photos


def add_photo(store: Store, enterprise: str, hazard_id: str, data: bytes, *, stage: str, who: Actor, folder: Path,
              max_bytes: int, max_pixels: int, now: datetime | None = None) -> dict[str, Any]:
    """Check a photo, keep its bytes in `folder` and its row (with its EXIF location) in the same step."""
    if stage not in photos.STAGES:
        raise HazardInputError(f"照片阶段应为 {' 或 '.join(photos.STAGES)} / the stage must be before or after")
    info = photos.check(data, max_bytes=max_bytes, max_pixels=max_pixels)
    digest = hashlib.sha256(data).hexdigest()
    now = now or clock.now()
    written: Path | None = None
    try:
        with store.transaction(enterprise, create=False) as w:
            w.refresh_map = False           # a photo changes nothing the map draws
            s = w.session
            row = _locked(s, w.enterprise_id, hazard_id)
            h = hazard_of(row)
            relative = Path(str(w.enterprise_id)) / h.id / f"{digest[:32]}.{photos.EXTENSIONS[info.media_type]}"
            written = _save(folder, relative, data)
            change_id = record_change(w, "hazard.photo", collection="hazards", items=[h.id],
                                      author=Author(who.name, who.account_id), reason=None,
                                      detail={"stage": stage, "sha256": digest, "size": len(data)})
            step = HazardEventRow(enterprise_id=w.enterprise_id, hazard_id=row.id, at=now, author=who.name,
                                  author_id=who.account_id, action="photo", from_state=h.state.value,
                                  to_state=h.state.value, reason=None,
                                  changed={"photo": [None, {"stage": stage, "sha256": digest}]},
                                  version=h.version, change_id=change_id)
            s.add(step)
            s.flush()
            pic = HazardPhotoRow(enterprise_id=w.enterprise_id, hazard_id=row.id, stage=stage,
                                 media_type=info.media_type, width=info.width, height=info.height, size=len(data),
                                 sha256=digest, path=relative.as_posix(), gps=info.gps, taken_at=info.taken_at,
                                 uploaded_at=utcnow(), uploaded_by=who.name, uploaded_by_id=who.account_id,
                                 event_id=step.id)
            s.add(pic)
            s.flush()
            out = _photo_dict(pic)
    except BaseException:
        if written is not None and not _still_used(store, written, folder):
            written.unlink(missing_ok=True)
        raise
    return out


def _save(folder: Path, relative: Path, data: bytes) -> Path:
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():                 # the same bytes again: one file
        return target
    temp = target.with_suffix(target.suffix + f".{os.getpid()}.part")
    temp.write_bytes(data)
    temp.replace(target)
    return target


def _still_used(store: Store, path: Path, folder: Path) -> bool:
    relative = path.relative_to(folder).as_posix()
    with store.session() as s:
        return s.execute(select(HazardPhotoRow.id).where(HazardPhotoRow.path == relative)).first() is not None


def photo_file(store: Store, enterprise: str, hazard_id: str, photo_id: int, folder: Path, *,
               withheld: bool = False) -> tuple[bytes, str]:
    """A photo's picture without EXIF (bytes, media type); 404 for a photo of another hazard or enterprise, or of
    a withheld anonymous report unless `withheld`."""
    with store.session() as s:
        ent_id = enterprise_id(s, enterprise, create=False)
        row = _visible(_locked(s, ent_id, hazard_id, lock=False), withheld)
        pic = s.execute(select(HazardPhotoRow).where(HazardPhotoRow.id == photo_id,
                                                     HazardPhotoRow.hazard_id == row.id)).scalars().first()
        if pic is None:
            raise NotFoundError(f"该隐患没有编号为 {photo_id} 的照片 / the hazard has no photo {photo_id}")
        relative, media_type = pic.path, pic.media_type
    path = folder / relative
    if not path.is_file():
        raise NotFoundError("照片文件不在媒体目录中 / the photo's file is missing from the media folder")
    return photos.stripped(path.read_bytes()), media_type

