"""The inspection room's storage: tasks, shutdowns, QR checkpoints and check records, on SQLite and PostgreSQL.

Every write is one transaction of the enterprise (`Store.transaction`: the data version is bumped and an audit row
written in it; the map snapshot is left alone, since nothing here changes units or the layout). Records are only
appended; a task is edited with its row version as ETag; a checkpoint keeps only the SHA-256 of its token, which is
enough to resolve a scanned code (hash it, look it up) and gives nobody a working code from a copy of the database.
The token travels in the URL's path (/c/<token>), never a query string. The Store is the first argument of each
function (store.transaction, store.session, store.units): this module never imports riskmap.store.repository.

Failed items → hidden hazards: ONE transaction. `record_check` lends its open transaction to the hazards store's
public `report_many` (`_Within`), so the record and the hazards of its failed items (reported, source 1 日常排查,
unit, event, control measure, place and record id filled in) commit together or not at all: no check that found
something is saved without its hazards, and no hazard names a record that does not exist. Two transactions would
leave either a record whose hazards are lost when the second fails, or need a compensation that append-only
records cannot have.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from riskmap.clock import LOCAL_ZONE, local_date
from riskmap.domain import UnitKind
from riskmap.errors import (
    AlreadyExistsError,
    EditConflict,
    InputError,
    LedgerError,
    NotFoundError,
    PreconditionRequired,
)
from riskmap.hazards import photos
from riskmap.hazards.workflow import Actor
from riskmap.inspections.cadence import Cadence
from riskmap.inspections.coverage import COVERAGE, unit_coverage
from riskmap.inspections.errors import (
    AlreadyCheckedError,
    CalendarError,
    CheckpointError,
    NoTaskError,
    NotAssignedError,
    RecordError,
)
from riskmap.inspections.occurrences import (
    STATES,
    Occurrence,
    Shutdown,
    no_gc,
    occurrences,
    shutdowns_by_unit,
    window_of_check,
)
from riskmap.inspections.records import (
    CHECK_STATUS,
    CheckRecord,
    ItemResult,
    answers_of,
    check_status,
    clean_device,
    clean_note,
    hazard_drafts,
    hazard_reports,
)
from riskmap.inspections.tasks import Assignee, Task, edited, generate_tasks, is_assigned
from riskmap.store import hazards as hazard_store
from riskmap.store.audit import record_change
from riskmap.store.ledgers import current_unit_row
from riskmap.store.rows import CHUNK_ROWS, Writing, clean_enterprise_name, enterprise_id, insert_chunk, required_text
from riskmap.store.schema import (
    ChangeRow,
    DataVersionRow,
    EnterpriseRow,
    HazardRow,
    InspectionCheckpointRow,
    InspectionPhotoRow,
    InspectionRecordRow,
    InspectionShutdownRow,
    InspectionTaskRow,
)
from riskmap.store.types import utcnow

if TYPE_CHECKING:
    from riskmap.store.repository import Store

TOKEN_PREFIX = "rmc_"
TOKEN_PATTERN = re.compile(r"rmc_[A-Za-z0-9_-]{32}")
CHECKPOINT_KINDS = (UnitKind.POST, UnitKind.EQUIPMENT)
MAX_RECORDS = 10_000


@dataclass(frozen=True)
class Inspector:
    """Who saves a check: name (the record's person), account, and what assignment is judged by."""

    name: str
    account_id: int | None = None
    post: str | None = None
    department: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------------------------------------- tasks


def _cadence_of(stored: dict) -> Cadence:
    """A stored cadence, parsed once per distinct form (a plant's 100,000 tasks have a handful; Cadence is frozen)."""
    try:
        return _parsed_cadence(tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in stored.items()))
    except TypeError:                      # a value that cannot be a key (not a form riskmap stores): parse it
        return Cadence.parse(stored)


@lru_cache(maxsize=1024)
def _parsed_cadence(key: tuple) -> Cadence:
    return Cadence.parse({k: list(v) if isinstance(v, tuple) else v for k, v in key})


def _task_of(row: Any) -> Task:
    """A task of its row (an InspectionTaskRow, or a plain row of its columns: the same names)."""
    return Task(key=row.key, unit_code=row.unit_code, title=row.title, items=list(row.items),
                cadence=_cadence_of(row.cadence), assignee=Assignee(**row.assignee),
                starts_on=row.starts_on,
                event_code=row.event_code, control_index=row.control_index, control_text=row.control_text,
                control_class=row.control_class, tier=row.tier, fid=row.fid, active=bool(row.active), id=row.id,
                row_version=row.row_version)


def _task_values(task: Task) -> dict:
    return {"key": task.key, "unit_code": task.unit_code, "event_code": task.event_code,
            "control_index": task.control_index, "control_text": task.control_text,
            "control_class": task.control_class, "tier": task.tier, "fid": task.fid, "title": task.title,
            "items": list(task.items), "cadence": task.cadence.to_dict(),
            "assignee": {"kind": task.assignee.kind, "value": task.assignee.value,
                         "work_type": task.assignee.work_type, "task_num": task.assignee.task_num},
            "starts_on": task.starts_on, "active": task.active}


def _writing(store: Store, name: str):
    return store.transaction(name, create=False)


def generate(store: Store, name: str, *, starts_on: date | None = None, author: str | None = None,
             reason: str | None = None) -> dict:
    """Tasks for every control measure of the current ledger: new keys created, existing tasks left as edited
    (only their record of the control measure, SOURCE_FIELDS, follows the ledger: "updated"), tasks whose control is
    gone retired (inactive, kept with their records), retired ones whose control is back made active again.
    Returns the counts."""
    units = store.units(name)
    if not units:
        raise InputError("企业还没有风险台账，无法生成排查任务 / the enterprise has no ledger yet: no tasks to "
                         "generate")
    made = generate_tasks(units, starts_on=starts_on or local_date(utcnow()))
    wanted = {t.key: t for t in made}
    counts = {"created": 0, "kept": 0, "retired": 0, "restored": 0, "updated": 0}
    with _writing(store, name) as w:
        w.refresh_map = False
        s, now = w.session, utcnow()
        existing = {r.key: r for r in s.execute(select(InspectionTaskRow).where(
            InspectionTaskRow.enterprise_id == w.enterprise_id)).scalars()}
        for key, task in wanted.items():
            row = existing.get(key)
            if row is None:
                s.add(InspectionTaskRow(enterprise_id=w.enterprise_id, **_task_values(task), row_version=1,
                                        created_at=now, updated_at=now, updated_by=_name(author)))
                counts["created"] += 1
            else:
                source, restored = _refresh_source(row, task), not row.active
                row.active = True
                counts["restored" if restored else "kept"] += 1
                if source or restored:
                    row.row_version, row.updated_at = row.row_version + 1, now
                counts["updated"] += bool(source)
        for key, row in existing.items():
            if key not in wanted and row.active:
                row.active, row.row_version, row.updated_at = False, row.row_version + 1, now
                counts["retired"] += 1
        s.flush()
        record_change(w, "inspection.generate", collection="inspection_tasks", author=author, reason=reason,
                      detail=counts)
    counts["tasks"] = counts["created"] + counts["kept"] + counts["restored"]
    return counts


# What a task records of the control measure it checks: refreshed from the ledger on every generation; what a person
# edits (title, items, cadence, who, start) is never touched by it.
SOURCE_FIELDS = ("event_code", "control_text", "control_class", "tier", "fid")


def _refresh_source(row: InspectionTaskRow, task: Task) -> list[str]:
    """Bring the task's record of its control measure up to the ledger's; the fields that changed."""
    changed = [f for f in SOURCE_FIELDS if getattr(row, f) != getattr(task, f)]
    for f in changed:
        setattr(row, f, getattr(task, f))
    return changed


def tasks(store: Store, name: str, *, unit_id: str | None = None, active_only: bool = True) -> list[Task]:
    """The enterprise's tasks (of one unit), in id order. Read as plain rows of the columns, not ORM objects: the
    coverage of a 100,000-task plant reads them all, and the ORM's bookkeeping would be a third of that time."""
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        q = select(*InspectionTaskRow.__table__.columns).where(InspectionTaskRow.enterprise_id == ent_id)
        if unit_id is not None:
            q = q.where(InspectionTaskRow.unit_code == str(unit_id))
        if active_only:
            q = q.where(InspectionTaskRow.active.is_(True))
        return [_task_of(r) for r in s.execute(q.order_by(InspectionTaskRow.id))]


# What a task of the schedule reader leaves unread (coverage needs its windows, not who checks what).
_UNREAD = Assignee()


def _schedule(s: Session, ent_id: int) -> list[Task]:
    """The active tasks of the enterprise with only what their windows need (id, key, unit, cadence, first day):
    title, items and assignee are left empty. The cadence is read as JSON text and parsed once per distinct text.
    Why: the whole plant's coverage reads every task, and decoding three JSON columns and two timestamps of 100,000
    rows was half of its time."""
    r = InspectionTaskRow
    rows = s.execute(select(r.id, r.key, r.unit_code, r.starts_on, cast(r.cadence, Text)).where(
        r.enterprise_id == ent_id, r.active.is_(True)).order_by(r.id))
    return [Task(key=key, unit_code=code, title="", items=[], cadence=_cadence_text(text), assignee=_UNREAD,
                 starts_on=starts_on, active=True, id=tid) for tid, key, code, starts_on, text in rows]


@lru_cache(maxsize=1024)
def _cadence_text(text: str) -> Cadence:
    from riskmap.store.types import loads

    return _cadence_of(loads(text))


def _task_row(s: Session, ent_id: int, task_id: Any, lock: bool = False) -> InspectionTaskRow:
    number = int(task_id) if str(task_id).isdigit() and len(str(task_id)) < 12 else None
    q = select(InspectionTaskRow).where(InspectionTaskRow.enterprise_id == ent_id, InspectionTaskRow.id == number)
    if lock and s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    row = None if number is None else s.execute(q).scalar_one_or_none()
    if row is None:
        raise NoTaskError(f"没有编号为 {str(task_id)[:40]} 的排查任务 / no inspection task {str(task_id)[:40]!r}")
    return row


def task(store: Store, name: str, task_id: Any) -> Task:
    """One task by id (NoTaskError: 404)."""
    with store.session() as s:
        return _task_of(_task_row(s, enterprise_id(s, name, create=False), task_id))


def edit_task(store: Store, name: str, task_id: Any, changes: dict[str, Any], *, if_match: Any,
              author: str | None = None, reason: str | None = None) -> Task:
    """Change one task (title, items, cadence, who, fid, active, starts_on) if it is still the version read
    (`if_match`: its row version; PreconditionRequired without it, EditConflict when stale)."""
    if if_match is None:
        raise PreconditionRequired()
    with _writing(store, name) as w:
        w.refresh_map = False
        row = _task_row(w.session, w.enterprise_id, task_id, lock=True)
        if str(if_match).strip().strip('"').removeprefix("W/").strip('"') != str(row.row_version):
            raise EditConflict(f"任务已被他人修改（当前版本 {row.row_version}）/ the task was changed meanwhile "
                               f"(current version {row.row_version})", current={"edit_tag": row.row_version})
        new = edited(_task_of(row), changes)
        for key, value in _task_values(new).items():
            setattr(row, key, value)
        row.row_version, row.updated_at, row.updated_by = row.row_version + 1, utcnow(), _name(author)
        w.session.flush()
        record_change(w, "inspection.task.edit", collection="inspection_tasks", items=[str(row.id)], author=author,
                      reason=reason, detail={"fields": sorted(changes)})
        return _task_of(row)


def reassign(store: Store, name: str, *, kind: str, assignee: Assignee, author: str | None = None) -> int:
    """Give every active routine task now assigned by `kind` (post, department …) to `assignee` in one
    transaction (e.g. the demo's post checks to the inspector role); the number changed."""
    assignee.check()
    with _writing(store, name) as w:
        w.refresh_map = False
        changed = []
        for row in w.session.execute(select(InspectionTaskRow).where(
                InspectionTaskRow.enterprise_id == w.enterprise_id, InspectionTaskRow.active.is_(True))).scalars():
            if row.assignee.get("kind") == kind and not row.assignee.get("work_type"):
                row.assignee = {"kind": assignee.kind, "value": assignee.value, "work_type": assignee.work_type,
                                "task_num": assignee.task_num}
                row.row_version, row.updated_at, row.updated_by = row.row_version + 1, utcnow(), _name(author)
                changed.append(str(row.id))
        w.session.flush()
        record_change(w, "inspection.task.reassign", collection="inspection_tasks", items=changed, author=author,
                      detail={"from": kind, "to": assignee.kind, "value": assignee.value})
        return len(changed)


# ---------------------------------------------------------------------------------------------- shutdowns


def _shutdown_of(row: InspectionShutdownRow) -> Shutdown:
    return Shutdown(unit_code=row.unit_code, starts_at=row.starts_at, ends_at=row.ends_at, reason=row.reason,
                    kind=row.kind, id=row.id)


def add_shutdown(store: Store, name: str, shutdown: Shutdown, *, author: str | None = None) -> Shutdown:
    """Record a 停用/检修 of a current unit; its tasks are suspended for that time."""
    shutdown.check()
    if store.unit_record(name, shutdown.unit_code) is None:
        raise NotFoundError(f"没有编号为 {shutdown.unit_code[:60]} 的单元 / no unit {shutdown.unit_code[:60]!r}")
    with _writing(store, name) as w:
        w.refresh_map = False
        row = InspectionShutdownRow(enterprise_id=w.enterprise_id, unit_code=shutdown.unit_code, kind=shutdown.kind,
                                    starts_at=shutdown.starts_at, ends_at=shutdown.ends_at,
                                    reason=shutdown.reason.strip(), created_at=utcnow(), created_by=_name(author))
        w.session.add(row)
        w.session.flush()
        record_change(w, "inspection.shutdown", collection="inspection_shutdowns", items=[shutdown.unit_code],
                      author=author, reason=shutdown.reason, detail={"id": row.id, "kind": row.kind})
        return _shutdown_of(row)


def shutdowns(store: Store, name: str, *, unit_id: str | None = None) -> list[Shutdown]:
    """Every shutdown of the enterprise (of one unit), oldest first."""
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        q = select(InspectionShutdownRow).where(InspectionShutdownRow.enterprise_id == ent_id)
        if unit_id is not None:
            q = q.where(InspectionShutdownRow.unit_code == str(unit_id))
        return [_shutdown_of(r) for r in s.execute(q.order_by(InspectionShutdownRow.id)).scalars()]


# ---------------------------------------------------------------------------------------------- checkpoints


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _checkpoint_info(row: InspectionCheckpointRow) -> dict:
    return {"id": row.id, "unit_id": row.unit_code, "issued_at": row.issued_at, "issued_by": row.issued_by,
            "retired_at": row.retired_at}


def checkpoints(store: Store, name: str, *, current_only: bool = True) -> list[dict]:
    """The checkpoints (never their tokens: only the hash is kept)."""
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        q = select(InspectionCheckpointRow).where(InspectionCheckpointRow.enterprise_id == ent_id)
        if current_only:
            q = q.where(InspectionCheckpointRow.retired_at.is_(None))
        return [_checkpoint_info(r) for r in s.execute(q.order_by(InspectionCheckpointRow.unit_code,
                                                                  InspectionCheckpointRow.id)).scalars()]


def issue_checkpoints(store: Store, name: str, unit_ids: Sequence[str] | None = None, *, reissue: bool = False,
                      author: str | None = None) -> list[dict]:
    """Tokens for units: the named ones, or every post and piece of equipment without one. `reissue` retires a
    unit's current token first (its plate stops working). Each token is returned once, with its path /c/<token>."""
    units = {u.id: u for u in store.units(name)}
    if unit_ids is None:
        wanted = [u.id for u in units.values() if u.kind in CHECKPOINT_KINDS]
    else:
        wanted = list(dict.fromkeys(str(c) for c in unit_ids))
        unknown = [c for c in wanted if c not in units]
        if unknown:
            raise NotFoundError(f"没有这些单元：{'、'.join(unknown[:5])} / no such units: {', '.join(unknown[:5])}")
    out = []
    with _writing(store, name) as w:
        w.refresh_map = False
        s, now = w.session, utcnow()
        current = {r.unit_code: r for r in s.execute(select(InspectionCheckpointRow).where(
            InspectionCheckpointRow.enterprise_id == w.enterprise_id,
            InspectionCheckpointRow.retired_at.is_(None))).scalars()}
        for code in wanted:
            if code in current:
                if not reissue:
                    continue
                current[code].retired_at = now
            token = TOKEN_PREFIX + secrets.token_urlsafe(24)
            row = InspectionCheckpointRow(enterprise_id=w.enterprise_id, unit_code=code, token_hash=_hash(token),
                                          issued_at=now, issued_by=_name(author), retired_at=None)
            s.add(row)
            s.flush()
            out.append({**_checkpoint_info(row), "token": token, "path": f"/c/{token}",
                        "unit_name": units[code].name})
        record_change(w, "inspection.checkpoints", collection="inspection_checkpoints",
                      items=[o["unit_id"] for o in out], author=author, detail={"reissue": reissue, "count": len(out)})
    return out


def resolve_checkpoint(store: Store, token: str, *, enterprise: str | None = None) -> tuple[str, dict]:
    """(enterprise name, checkpoint info) of a scanned token; CheckpointError (404) for a malformed or unknown token,
    one that was reissued, or one of another enterprise than `enterprise`."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise CheckpointError("二维码无效 / this code is not a riskmap checkpoint")
    with store.session() as s:
        row = s.execute(select(InspectionCheckpointRow).where(
            InspectionCheckpointRow.token_hash == _hash(token))).scalar_one_or_none()
        if row is None:
            raise CheckpointError("二维码无效或不存在 / unknown checkpoint code")
        owner = s.get(EnterpriseRow, row.enterprise_id).name
        if enterprise is not None and enterprise != owner:
            raise CheckpointError("该二维码属于其他企业 / this checkpoint belongs to another enterprise")
        if row.retired_at is not None:
            raise CheckpointError("该二维码已重新签发，旧标牌已失效，请使用新标牌 / this code was reissued: the old "
                                  "plate no longer works, use the new one")
        return owner, _checkpoint_info(row)


# ---------------------------------------------------------------------------------------------- occurrences


def due(store: Store, name: str, start: datetime, end: datetime, *, now: datetime | None = None,
        unit_id: str | None = None, person: Inspector | None = None,
        schedule_only: bool = False) -> tuple[list[Occurrence], dict[int, Task]]:
    """The occurrences of [start, end) and their states at `now` (of one unit, or of the tasks a person may
    check), with the tasks by id (with `schedule_only`, of the whole plant, the tasks as `_schedule` reads them:
    without title, items and assignee)."""
    now = now or utcnow()
    if end <= start or end - start > timedelta(days=400):
        raise InputError("时间范围应为正且不超过 400 天 / a range is positive and at most 400 days")
    if schedule_only:
        if unit_id is not None or person is not None:
            raise ValueError("schedule_only reads the whole plant's tasks")
        with store.session() as s:
            chosen = _schedule(s, enterprise_id(s, name, create=False))
    else:
        chosen = tasks(store, name, unit_id=unit_id)
    if person is not None:
        chosen = [t for t in chosen if is_assigned(t, name=person.name, post=person.post,
                                                   department=person.department, roles=person.roles)]
    by_id = {t.id: t for t in chosen}
    stops = shutdowns(store, name)
    by_unit = shutdowns_by_unit(stops, _lineage(store, name, unit_id) if stops else ())
    done: dict = {}
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        rows = s.execute(select(InspectionRecordRow.id, InspectionRecordRow.task_id, InspectionRecordRow.window_start,
                                InspectionRecordRow.late).where(
            InspectionRecordRow.enterprise_id == ent_id, InspectionRecordRow.window_end > start,
            InspectionRecordRow.window_start < end).order_by(InspectionRecordRow.id))
        for rid, tid, wstart, late in rows:
            if tid in by_id:
                done[(tid, wstart)] = (rid, bool(late))    # the newest (a correction) wins
    return occurrences(chosen, start, end, now=now, done=done, shutdowns=by_unit), by_id


def _lineage(store: Store, name: str, unit_id: str | None) -> list:
    """The units whose shutdowns matter: one unit and its ancestors (a scan), or the whole tree."""
    if unit_id is None:
        return store.units(name)
    out, code = [], unit_id
    while code is not None and len(out) < 64:
        found = store.unit_record(name, code)
        if found is None:
            break
        out.append(found[0])
        code = found[0].parent_id
    return out


def window_range(which: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """today / week / month as [start, end) in Beijing time around `now`."""
    day = local_date(now or utcnow())
    if which == "today":
        first, last = day, day + timedelta(days=1)
    elif which == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    elif which == "month":
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
    else:
        raise InputError(f"范围应为 today、week 或 month，而不是 {str(which)[:20]!r} / window is today, week or month")
    return (datetime.combine(first, datetime.min.time(), LOCAL_ZONE),
            datetime.combine(last, datetime.min.time(), LOCAL_ZONE))


@dataclass(frozen=True)
class CoverageState:
    """The coverage of a whole plant in a window at a moment: each unit's state, the units with a checkpoint, the
    moment until which the states hold if nothing is written (the first window boundary after `now`: a window
    opening or closing turns "upcoming" into "due" or "due" into "missed"), and the data version and last audit row
    they were computed at (what `updated` starts from)."""

    states: dict[str, str]
    plates: set[str]
    valid_until: datetime | None
    data_version: int
    last_change: int
    complete: bool = True        # False: some units may be behind (only the checks since were applied; see `updated`)


# Writes that change coverage only through the check records they append (and hazards, which coverage ignores),
# and the checkpoints issued (the plates drawn: read again, a small query).
CHECKS_ONLY = ("inspection.record", "inspection.photo", "inspection.checkpoints")


def coverage_state(store: Store, name: str, window: str, *, now: datetime | None = None) -> CoverageState:
    """The whole plant's coverage (see CoverageState), computed from every task, record, shutdown and checkpoint."""
    now = now or utcnow()
    with store.session() as s:       # read first: a write after this is seen by `updated`, never lost
        ent_id = enterprise_id(s, name, create=False)
        version, last_change = _version_mark(s, ent_id)
    start, end = window_range(window, now)
    found, _ = due(store, name, start, end, now=now, schedule_only=True)
    with store.session() as s:
        plates = _plates(s, ent_id)
    with no_gc():                    # millions of windows for a month: no collector passes over them meanwhile
        return CoverageState(unit_coverage(found), plates, _valid_until(found, now), version, last_change)


# The stores a worker process opened, by URL (riskmap.render.tilecache computes large plants' coverage there).
_WORKER_STORES: dict[str, Any] = {}


def coverage_state_of(url: str, name: str, window: str, now: datetime, scope_ids: frozenset[int]) -> CoverageState:
    """coverage_state in a process of its own (a worker of the tile service): the store at `url` opened once per
    process without migrating, the reads scoped to `scope_ids` (row security on PostGIS, as the request's)."""
    from riskmap.store import scope
    from riskmap.store.engine import create_store_engine
    from riskmap.store.repository import Store

    store = _WORKER_STORES.get(url)
    if store is None:
        store = _WORKER_STORES[url] = Store(create_store_engine(url, create=False))
    with scope.scoped(scope_ids):
        return coverage_state(store, name, window, now=now)


def worker_ready() -> bool:
    """Nothing: submitted to a new worker process so that its start (the imports) is paid ahead of its first job."""
    return True


def _plates(s: Session, ent_id: int) -> set[str]:
    """The units that have a current checkpoint."""
    return set(s.execute(select(InspectionCheckpointRow.unit_code).where(
        InspectionCheckpointRow.enterprise_id == ent_id, InspectionCheckpointRow.retired_at.is_(None))).scalars())


def _version_mark(s: Session, ent_id: int) -> tuple[int, int]:
    version = s.execute(select(DataVersionRow.version).where(DataVersionRow.enterprise_id == ent_id)
                        ).scalar_one_or_none() or 0
    last = s.execute(select(func.max(ChangeRow.id)).where(ChangeRow.enterprise_id == ent_id)).scalar_one() or 0
    return int(version), int(last)


def _valid_until(found: Sequence[Occurrence], now: datetime) -> datetime | None:
    """The first moment after `now` at which a window of `found` opens or closes (None: none does)."""
    first = None
    for o in found:                  # one pass, no list (a month of a large plant's windows is millions)
        state = o.state
        at = o.end if state == "due" else o.start if state == "upcoming" else None
        if at is not None and at > now and (first is None or at < first):
            first = at
    return first


def updated(store: Store, name: str, window: str, before: CoverageState, *,
            now: datetime | None = None, partial: bool = False) -> CoverageState | None:
    """`before` brought up to the current data version by recomputing only the units whose checks were saved since
    (the audit trail names each write: when every write since is a check, a photo, a hazard or checkpoints issued,
    only those records' units and the plates can have changed); None when something else was written (a task, a
    shutdown, the ledger,
    the layout …), when the audit trail does not account for every version in between, or when a window boundary
    has passed since (`before.valid_until`): then the whole plant is computed again (coverage_state).

    With `partial`, never None: the units of the checks saved since are recomputed all the same, and the state is
    marked incomplete (`complete` False) when the whole plant is due for a new computation; what a map serves while
    that runs, so that a check just saved shows at once. When no unit's state moved, the result shares `before`'s
    states (the same dict: a tile drawn from them still holds).

    Why: a check saved must show on the map at once (issue 14: ≤ 300 ms), and recomputing the windows of every task
    of a 100,000-unit plant for one check costs seconds."""
    now = now or utcnow()
    passed = before.valid_until is not None and now >= before.valid_until
    if passed and not partial:
        return None
    complete = before.complete and not passed
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        version, last_change = _version_mark(s, ent_id)
        if version == before.data_version and last_change == before.last_change:
            return before if complete == before.complete else replace(before, complete=complete)
        rows = s.execute(select(ChangeRow.data_version, ChangeRow.action, ChangeRow.item_ids).where(
            ChangeRow.enterprise_id == ent_id, ChangeRow.id > before.last_change,
            ChangeRow.id <= last_change)).all()
        versions = {r.data_version for r in rows}
        if versions != set(range(before.data_version + 1, version + 1)) or \
                any(r.action not in CHECKS_ONLY and not r.action.startswith("hazard.") for r in rows):
            if not partial:
                return None
            complete = False
        record_ids = sorted({int(i) for r in rows if r.action == "inspection.record" for i in r.item_ids
                             if str(i).isdigit()})
        codes: set[str] = set()
        for at in range(0, len(record_ids), CHUNK_ROWS):
            codes.update(s.execute(select(InspectionTaskRow.unit_code).join(
                InspectionRecordRow, InspectionRecordRow.task_id == InspectionTaskRow.id).where(
                InspectionRecordRow.enterprise_id == ent_id,
                InspectionRecordRow.id.in_(record_ids[at:at + CHUNK_ROWS]))).scalars())
        plates = before.plates
        if any(r.action == "inspection.checkpoints" for r in rows):
            plates = _plates(s, ent_id)
    states = before.states
    if codes:
        start, end = window_range(window, now)
        fresh = unit_states(store, name, sorted(codes), start, end, now=now)
        if any(fresh.get(code) != states.get(code) for code in codes):
            states = dict(states)
            for code in codes:
                if code in fresh:
                    states[code] = fresh[code]
                else:
                    states.pop(code, None)
    return CoverageState(states, plates if plates != before.plates else before.plates, before.valid_until, version,
                         last_change, complete)


def unit_states(store: Store, name: str, codes: Sequence[str], start: datetime, end: datetime, *,
                now: datetime) -> dict[str, str]:
    """The coverage states of a few units in [start, end) at `now` (their tasks, records and shutdowns only)."""
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        chosen = _tasks_of_units(s, ent_id, codes)
        by_id = {t.id: t for t in chosen}
        done: dict = {}
        r = InspectionRecordRow
        ids = sorted(by_id)
        for at in range(0, len(ids), CHUNK_ROWS):
            for rid, tid, wstart, late in s.execute(select(r.id, r.task_id, r.window_start, r.late).where(
                    r.enterprise_id == ent_id, r.task_id.in_(ids[at:at + CHUNK_ROWS]), r.window_end > start,
                    r.window_start < end).order_by(r.id)):
                done[(tid, wstart)] = (rid, bool(late))
    stops = shutdowns(store, name) if chosen else []
    by_unit = shutdowns_by_unit(stops, [u for c in codes for u in _lineage(store, name, c)] if stops else ())
    return unit_coverage(occurrences(chosen, start, end, now=now, done=done, shutdowns=by_unit))


def coverage(store: Store, name: str, window: str, *, now: datetime | None = None) -> tuple[dict[str, str], set[str]]:
    """What the coverage map shows for `window` (today, week, month) at `now`: each unit's state
    (riskmap.inspections.coverage) and the units that have a current checkpoint (drawn as points)."""
    found = coverage_state(store, name, window, now=now)
    return found.states, found.plates


def _tasks_of_units(s: Session, ent_id: int, codes: Sequence[str]) -> list[Task]:
    """The active tasks of these units (read in chunks of the IN list)."""
    out: list[Task] = []
    codes = sorted(set(codes))
    for at in range(0, len(codes), CHUNK_ROWS):
        out += [_task_of(r) for r in s.execute(select(InspectionTaskRow).where(
            InspectionTaskRow.enterprise_id == ent_id, InspectionTaskRow.active.is_(True),
            InspectionTaskRow.unit_code.in_(codes[at:at + CHUNK_ROWS])).order_by(InspectionTaskRow.id)).scalars()]
    return out


NEXT_DUE_HORIZONS = (timedelta(days=40), timedelta(days=400))


def _next_windows(chosen: Sequence[Task], now: datetime, first_end: datetime, done: dict,
                  by_unit: dict) -> dict[str, Occurrence]:
    """Each unit's next window still to check from `now`: the one open now that ends first, else the next to open;
    looked for up to the window's end, then 40 and 400 days ahead (as far as the working-day calendar goes)."""
    out: dict[str, Occurrence] = {}
    left = list(chosen)
    for until in (first_end, *(now + h for h in NEXT_DUE_HORIZONS)):
        if not left:
            break
        try:
            found = occurrences(left, now, until, now=now, done=done, shutdowns=by_unit)
        except CalendarError:
            break
        for o in found:
            if o.state not in ("due", "upcoming"):
                continue
            best = out.get(o.unit_code)
            rank = (o.state != "due", o.end if o.state == "due" else o.start)
            if best is None or rank < (best.state != "due", best.end if best.state == "due" else best.start):
                out[o.unit_code] = o
        left = [t for t in left if t.unit_code not in out]
    return out


def unit_checks(store: Store, name: str, unit_ids: Sequence[str], window: str = "today", *,
                now: datetime | None = None) -> dict[str, dict]:
    """What a click on a unit of the coverage layer shows, for each of `unit_ids` that has a task or a checkpoint:
    its coverage state in `window` (riskmap.inspections.coverage), the counts of its windows by state, the last
    check of any of its tasks (when, who, checkStatus, late), the next window still to check from `now` (the one
    open now first, else the next to open; its task and window) and its current checkpoint. Units without either
    are left out. Reads only these units' tasks, records and shutdowns (a click, not the whole plant)."""
    now = now or utcnow()
    start, end = window_range(window, now)
    codes = list(dict.fromkeys(str(c) for c in unit_ids))[:200]
    if not codes:
        return {}
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        chosen = _tasks_of_units(s, ent_id, codes)
        by_id = {t.id: t for t in chosen}
        plates = {}
        for cid, code, issued in s.execute(select(
                InspectionCheckpointRow.id, InspectionCheckpointRow.unit_code, InspectionCheckpointRow.issued_at).where(
                InspectionCheckpointRow.enterprise_id == ent_id, InspectionCheckpointRow.retired_at.is_(None),
                InspectionCheckpointRow.unit_code.in_(codes))):
            plates[code] = {"id": cid, "issued_at": issued}
        done: dict = {}
        last: dict[str, Any] = {}
        r = InspectionRecordRow
        if by_id:
            for row in s.execute(select(r.id, r.task_id, r.window_start, r.window_end, r.checked_at, r.person,
                                        r.status, r.late).where(
                    r.enterprise_id == ent_id, r.task_id.in_(sorted(by_id))).order_by(r.id)):
                if row.window_end > start:
                    done[(row.task_id, row.window_start)] = (row.id, bool(row.late))
                code = by_id[row.task_id].unit_code
                if code not in last or (row.checked_at, row.id) >= (last[code].checked_at, last[code].id):
                    last[code] = row
    stops = shutdowns(store, name) if chosen else []
    by_unit = shutdowns_by_unit(stops, [u for c in codes for u in _lineage(store, name, c)] if stops else ())
    found = occurrences(chosen, start, end, now=now, done=done, shutdowns=by_unit)
    states = unit_coverage(found)
    ahead = _next_windows(chosen, now, max(end, now + timedelta(seconds=1)), done, by_unit)
    out: dict[str, dict] = {}
    for code in codes:
        mine = [t for t in chosen if t.unit_code == code]
        if not mine and code not in plates:
            continue
        state = states.get(code, "none")
        counts: dict[str, int] = {}
        for o in found:
            if o.unit_code == code:
                counts[o.state] = counts.get(o.state, 0) + 1
        nxt = ahead.get(code)
        rec = last.get(code)
        out[code] = {
            "unit_id": code, "window": window, "coverage": state, "coverage_zh": COVERAGE[state][0],
            "coverage_en": COVERAGE[state][1], "counts": counts, "tasks": len(mine),
            "last_check": None if rec is None else {
                "record_id": rec.id, "task_id": rec.task_id, "task": by_id[rec.task_id].title,
                "checked_at": rec.checked_at.astimezone(LOCAL_ZONE).isoformat(), "person": rec.person,
                "check_status": rec.status, "check_status_zh": CHECK_STATUS[rec.status][0],
                "check_status_en": CHECK_STATUS[rec.status][1], "late": bool(rec.late)},
            "next_due": None if nxt is None else {
                "task_id": nxt.task_id, "task": by_id[nxt.task_id].title,
                "cadence": by_id[nxt.task_id].cadence.label, "state": nxt.state,
                "state_zh": STATES[nxt.state][0], "state_en": STATES[nxt.state][1],
                "start": nxt.start.astimezone(LOCAL_ZONE).isoformat(),
                "end": nxt.end.astimezone(LOCAL_ZONE).isoformat()},
            "checkpoint": None if code not in plates else {
                "id": plates[code]["id"],
                "issued_at": plates[code]["issued_at"].astimezone(LOCAL_ZONE).isoformat()},
        }
    return out


# ---------------------------------------------------------------------------------------------- records


def _record_of(row: InspectionRecordRow) -> CheckRecord:
    return CheckRecord(task_id=row.task_id, window_start=row.window_start, window_end=row.window_end,
                       checked_at=row.checked_at, person=row.person,
                       items=tuple(ItemResult(**i) for i in row.items), status=row.status, late=bool(row.late),
                       device=row.device, note=row.note, corrects=row.corrects_id, account_id=row.account_id,
                       id=row.id, recorded_at=row.recorded_at, extra={"checkpoint_id": row.checkpoint_id})


def record_check(store: Store, name: str, task_id: Any, answers: Sequence[dict], *, inspector: Inspector,
                 checked_at: datetime | None = None, window_start: datetime | None = None,
                 device: str | None = None, note: str | None = None, other: bool = False,
                 corrects: int | None = None, checkpoint_token: str | None = None, check_assignment: bool = True,
                 reporter: Actor | None = None, now: datetime | None = None) -> tuple[CheckRecord, list[dict]]:
    """Save one check (late ones are kept and marked late); returns it and the hazard drafts of its failed items.

    With `reporter` (who saves, with their permissions) each failed item is also reported as a hidden hazard
    (riskmap.store.hazards.report_many) IN THE SAME TRANSACTION as the record: both commit or neither does, so a
    check that found something is never stored without its hazards (nor a hazard pointing to a record that was
    not saved). Each draft then carries the id of the hazard made (`hazard_id`); without the permission
    "hazard_report" no hazard is made and the drafts are returned alone (the form opens pre-filled).

    Refused, with nothing written: a task of another enterprise or retired, an inspector not assigned, a second
    check of a window (unless `corrects` names the record it corrects), answers that do not fit the checklist, a
    checkpoint token that is not this task's unit's current one."""
    now = now or utcnow()
    checked_at = checked_at or now
    person = required_text(inspector.name, 200, "排查人", "inspector")
    device, note = clean_device(device), clean_note(note)
    checkpoint_id = None
    if checkpoint_token is not None:
        _owner, info = resolve_checkpoint(store, checkpoint_token, enterprise=store.enterprise(name,
                                                                                             create=False).name)
        checkpoint_id = info["id"]
    with _writing(store, name) as w:
        w.refresh_map = False
        s = w.session
        task_row = _task_row(s, w.enterprise_id, task_id, lock=True)
        the_task = _task_of(task_row)
        if not the_task.active:
            raise NoTaskError("该排查任务已停用 / this inspection task is retired")
        if checkpoint_id is not None and info["unit_id"] != the_task.unit_code:
            raise CheckpointError("二维码不属于该任务的单元 / the checkpoint is not this task's unit")
        if check_assignment and not is_assigned(the_task, name=person, post=inspector.post,
                                                department=inspector.department, roles=inspector.roles):
            raise NotAssignedError(f"{person} 不是该任务的执行人（{the_task.assignee.value}）/ {person} is not "
                                   f"assigned to this task ({the_task.assignee.value})")
        items = answers_of(the_task, answers)
        status = check_status(items, other=other, note=note)
        previous = None
        if corrects is not None:
            previous = s.get(InspectionRecordRow, int(corrects)) if str(corrects).isdigit() else None
            if previous is None or previous.enterprise_id != w.enterprise_id or previous.task_id != task_row.id:
                raise NotFoundError("要更正的记录不存在或不属于该任务 / the record to correct is not of this task")
            window_start = previous.window_start
        win, late = window_of_check(the_task, checked_at, now=now, window_start=window_start)
        if previous is None:
            taken = s.execute(select(InspectionRecordRow.id).where(
                InspectionRecordRow.enterprise_id == w.enterprise_id, InspectionRecordRow.task_id == task_row.id,
                InspectionRecordRow.window_start == win.start).limit(1)).scalar_one_or_none()
            if taken is not None:
                raise AlreadyCheckedError(f"该窗口已有排查记录（{taken}）；更正请指明被更正的记录 / this window was "
                                          f"checked already (record {taken}); a correction names the record it "
                                          "corrects")
        row = InspectionRecordRow(
            enterprise_id=w.enterprise_id, task_id=task_row.id, window_start=win.start, window_end=win.end,
            checked_at=checked_at, recorded_at=now, person=person, account_id=inspector.account_id, device=device,
            items=[{"item": i.item, "result": i.result, "note": i.note} for i in items], status=status, late=late,
            note=note, corrects_id=None if previous is None else previous.id, checkpoint_id=checkpoint_id)
        s.add(row)
        s.flush()
        record_change(w, "inspection.record", collection="inspection_records", items=[str(row.id)],
                      author=person, detail={"task": task_row.id, "status": status, "late": late})
        record = _record_of(row)
        unit = current_unit_row(s, w.enterprise_id, the_task.unit_code, lock=False)
        unit_name = unit.name if unit is not None else None
        drafts = hazard_drafts(the_task, record, unit_name=unit_name)
        if drafts and reporter is not None and "hazard_report" in reporter.permissions:
            try:
                made = hazard_store.report_many(_Within(w), name, reporter, hazard_reports(
                    the_task, record, unit_name=unit_name), reason=f"排查记录 {record.id} / check record {record.id}",
                    sheet="排查记录", first_row=1)
            except LedgerError as exc:     # the record goes with its hazards: nothing of either is kept
                first = (exc.details or [{}])[0].get("message", "")
                raise RecordError(f"不合格项无法登记为隐患，排查记录未保存（先按台账重新生成任务）：{first} / a failed "
                                  "item cannot be reported as a hazard: the check was not saved (regenerate the "
                                  "tasks from the ledger)", details=exc.details) from None
            for draft, hazard_id in zip(drafts, made["ids"], strict=True):
                draft["hazard_id"] = hazard_id
    return record, drafts


class _Within:
    """Lends an open writing transaction to a store function that opens its own (`transaction`), so that what it
    writes commits with the caller's rows or not at all (riskmap.store.hazards.report_many: its checks, rows,
    timeline and audit row, inside the check record's transaction)."""

    def __init__(self, w: Writing) -> None:
        self._w = w

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The caller's session (what a store function reads with while it writes through `transaction`)."""
        yield self._w.session

    @contextmanager
    def transaction(self, enterprise_name: str, create: bool = True) -> Iterator[Writing]:
        """The caller's transaction (it must be of the same enterprise)."""
        if clean_enterprise_name(enterprise_name) != self._w.enterprise_name:
            raise InputError("不能跨企业写入 / a write cannot span two enterprises")
        yield self._w


# ---------------------------------------------------------------------------------------------- photos


def _photo_info(row: InspectionPhotoRow) -> dict:
    return {"id": row.id, "record_id": row.record_id, "item": row.item, "media_type": row.media_type,
            "width": row.width, "height": row.height, "size": row.size, "sha256": row.sha256, "gps": row.gps,
            "taken_at": row.taken_at, "uploaded_at": row.uploaded_at, "uploaded_by": row.uploaded_by,
            "hazard_id": row.hazard_id,
            "url": f"/api/inspections/records/{row.record_id}/photos/{row.item}"}


def _record_row(s: Session, ent_id: int, record_id: Any) -> InspectionRecordRow:
    number = int(record_id) if str(record_id).isdigit() and len(str(record_id)) < 12 else None
    row = None if number is None else s.get(InspectionRecordRow, number)
    if row is None or row.enterprise_id != ent_id:
        raise NotFoundError(f"没有编号为 {str(record_id)[:40]} 的排查记录 / no check record {str(record_id)[:40]!r}")
    return row


def _item_number(row: InspectionRecordRow, item: Any) -> int:
    if not str(item).isdigit() or not 1 <= int(str(item)[:6]) <= len(row.items):
        raise RecordError(f"检查项应为 1–{len(row.items)} / the item is 1 to {len(row.items)}")
    return int(item)


def _hazard_of_item(s: Session, ent_id: int, row: InspectionRecordRow, item: int) -> str | None:
    """The hidden hazard a failed item opened: record_check reports one per failed item, in the checklist's order,
    each naming the record (check_record_id), so the n-th failed item's is the record's n-th hazard."""
    failed = [n for n, answer in enumerate(row.items, start=1) if answer.get("result") == "fail"]
    if item not in failed:
        return None
    made = list(s.execute(select(HazardRow.uid).where(HazardRow.enterprise_id == ent_id,
                                                      HazardRow.check_record_id == str(row.id))
                          .order_by(HazardRow.id)).scalars())
    at = failed.index(item)
    return made[at] if len(made) == len(failed) else None


def add_photo(store: Store, name: str, record_id: Any, item: Any, data: bytes, *, who: Actor, folder: Path,
              max_bytes: int, max_pixels: int) -> dict:
    """A photo of one answered item of a check record (PNG or JPEG, the hazards' caps and checks:
    riskmap.hazards.photos), kept in `folder` with its EXIF location as data; one per item (AlreadyExistsError,
    409, for a second). Only the account that saved the check adds its photos (NotAssignedError, 403). The photo of
    a failed item also goes to the hidden hazard that item opened (its "before" photo, riskmap.store.hazards
    .add_photo) IN THE SAME TRANSACTION: both are kept or neither is."""
    info = photos.check(data, max_bytes=max_bytes, max_pixels=max_pixels)
    digest = hashlib.sha256(data).hexdigest()
    written: Path | None = None
    try:
        with _writing(store, name) as w:
            w.refresh_map = False
            s = w.session
            row = _record_row(s, w.enterprise_id, record_id)
            number = _item_number(row, item)
            if row.account_id is not None and row.account_id != who.account_id:
                raise NotAssignedError("只有保存该排查记录的人可以补充照片 / only the inspector who saved the check "
                                       "adds its photos")
            taken = s.execute(select(InspectionPhotoRow.id).where(InspectionPhotoRow.record_id == row.id,
                                                                  InspectionPhotoRow.item == number)).first()
            if taken is not None:
                raise AlreadyExistsError(f"检查项 {number} 已有照片 / item {number} has a photo already")
            relative = (Path("inspections") / str(w.enterprise_id) / str(row.id)
                        / f"{number}-{digest[:32]}.{photos.EXTENSIONS[info.media_type]}")
            written = _save(folder, relative, data)
            hazard_id = _hazard_of_item(s, w.enterprise_id, row, number)
            pic = InspectionPhotoRow(enterprise_id=w.enterprise_id, record_id=row.id, item=number,
                                     media_type=info.media_type, width=info.width, height=info.height,
                                     size=len(data), sha256=digest, path=relative.as_posix(), gps=info.gps,
                                     taken_at=info.taken_at, uploaded_at=utcnow(), uploaded_by=_name(who.name),
                                     uploaded_by_id=who.account_id, hazard_id=hazard_id)
            s.add(pic)
            s.flush()
            record_change(w, "inspection.photo", collection="inspection_records", items=[str(row.id)],
                          author=who.name, detail={"item": number, "sha256": digest, "hazard": hazard_id})
            if hazard_id is not None:
                hazard_store.add_photo(_Within(w), name, hazard_id, data, stage="before", who=who, folder=folder,
                                       max_bytes=max_bytes, max_pixels=max_pixels)
            return _photo_info(pic)
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)
        raise


def _save(folder: Path, relative: Path, data: bytes) -> Path:
    """Write the bytes atomically (a temporary file renamed); a file already there is this very photo."""
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        temp = target.with_suffix(target.suffix + f".{secrets.token_hex(4)}.part")
        temp.write_bytes(data)
        temp.replace(target)
    return target


def record_photos(store: Store, name: str, record_id: Any) -> list[dict]:
    """The photos of a check record, by item."""
    with store.session() as s:
        row = _record_row(s, enterprise_id(s, name, create=False), record_id)
        return [_photo_info(p) for p in s.execute(select(InspectionPhotoRow).where(
            InspectionPhotoRow.record_id == row.id).order_by(InspectionPhotoRow.item)).scalars()]


def photo_file(store: Store, name: str, record_id: Any, item: Any, folder: Path) -> tuple[bytes, str]:
    """An item's photo without EXIF (bytes, media type); NotFoundError for a record of another enterprise, an item
    without a photo, or a file missing from the media folder."""
    with store.session() as s:
        row = _record_row(s, enterprise_id(s, name, create=False), record_id)
        number = _item_number(row, item)
        pic = s.execute(select(InspectionPhotoRow).where(InspectionPhotoRow.record_id == row.id,
                                                         InspectionPhotoRow.item == number)).scalars().first()
        if pic is None:
            raise NotFoundError(f"检查项 {number} 没有照片 / item {number} has no photo")
        relative, media_type = pic.path, pic.media_type
    path = folder / relative
    if not path.is_file():
        raise NotFoundError("照片文件不在媒体目录中 / the photo's file is missing from the media folder")
    return photos.stripped(path.read_bytes()), media_type


def import_records(store: Store, name: str, made: Sequence[CheckRecord], *, author: str | None = None) -> int:
    """Append many records made elsewhere (the demo's history, a migration from another system) in one transaction;
    each names a task of this enterprise and a window none of the others (nor a stored record) answers."""
    with _writing(store, name) as w:
        w.refresh_map = False
        s = w.session
        ids = set(s.execute(select(InspectionTaskRow.id).where(
            InspectionTaskRow.enterprise_id == w.enterprise_id)).scalars())
        taken = {(tid, start) for tid, start in s.execute(select(
            InspectionRecordRow.task_id, InspectionRecordRow.window_start).where(
            InspectionRecordRow.enterprise_id == w.enterprise_id))}
        now, rows = utcnow(), []
        for r in made:
            if r.task_id not in ids:
                raise NoTaskError(f"没有编号为 {r.task_id} 的排查任务 / no inspection task {r.task_id}")
            if (r.task_id, r.window_start) in taken:
                raise AlreadyCheckedError(f"任务 {r.task_id} 的该窗口已有记录 / task {r.task_id}: window checked "
                                          "already")
            taken.add((r.task_id, r.window_start))
            rows.append({    # UTC: PostgreSQL's COPY bypasses the column type (and ignores an offset)
                "enterprise_id": w.enterprise_id, "task_id": r.task_id, "window_start": r.window_start.astimezone(UTC),
                "window_end": r.window_end.astimezone(UTC), "checked_at": r.checked_at.astimezone(UTC),
                "recorded_at": (r.recorded_at or now).astimezone(UTC),
                "person": r.person, "account_id": r.account_id, "device": r.device,
                "items": [{"item": i.item, "result": i.result, "note": i.note} for i in r.items],
                "status": r.status, "late": r.late, "note": r.note, "corrects_id": None, "checkpoint_id": None})
        for at in range(0, len(rows), CHUNK_ROWS):
            insert_chunk(s, InspectionRecordRow, rows[at:at + CHUNK_ROWS], returning=False)
        record_change(w, "inspection.import", collection="inspection_records", author=author,
                      detail={"count": len(made)})
    return len(made)


def records(store: Store, name: str, *, task_id: Any = None, since: datetime | None = None,
            until: datetime | None = None, limit: int = 1000) -> list[CheckRecord]:
    """Check records, newest first (at most `limit`, MAX_RECORDS)."""
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        q = select(InspectionRecordRow).where(InspectionRecordRow.enterprise_id == ent_id)
        if task_id is not None:
            q = q.where(InspectionRecordRow.task_id == _task_row(s, ent_id, task_id).id)
        if since is not None:
            q = q.where(InspectionRecordRow.checked_at >= since)
        if until is not None:
            q = q.where(InspectionRecordRow.checked_at < until)
        q = q.order_by(InspectionRecordRow.checked_at.desc(), InspectionRecordRow.id.desc())
        return [_record_of(r) for r in s.execute(q.limit(max(1, min(limit, MAX_RECORDS)))).scalars()]


def national_export(store: Store, name: str, *, since: datetime | None = None) -> dict:
    """The national 隐患排查任务, 隐患排查记录 and 停用/检修记录 rows (canonical form; per-platform adapters and the
    common columns belong to the exchange)."""
    all_tasks = {t.id: t for t in tasks(store, name, active_only=False)}
    recs = records(store, name, since=since, limit=MAX_RECORDS)
    stops = shutdowns(store, name)
    return {
        "tasks": [t.national(name) for t in all_tasks.values()],
        "records": [r.national(name, all_tasks[r.task_id]) for r in reversed(recs)],
        "stops": [{"riskUnitId": sd.unit_code,
                   "stopStartTime": sd.starts_at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M:%S"),
                   "stopEndTime": None if sd.ends_at is None else
                   sd.ends_at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M:%S"),
                   "stopReason": sd.reason} for sd in stops],
    }


def _name(author: Any) -> str | None:
    return None if author is None else str(author)[:200]

