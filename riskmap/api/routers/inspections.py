"""Inspections over HTTP: tasks (generate from the ledger, list, edit), their occurrences in a window, shutdowns,
QR checkpoints (list, issue, reissue; GET /c/{token} resolves a scanned plate), check records and the national
export. The room riskmap.inspections does the work; the handlers check input and shape the answers.

Reads need "read"; planning (generate, edit a task, shutdowns, checkpoints) needs "ledger"; saving a check needs
"inspect". A checkpoint's token travels in the path (/c/<token>), never in a query string; only its hash is stored,
so the token is in the answer of the request that issued it and nowhere else.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
from starlette.concurrency import run_in_threadpool

from riskmap.api.deps import resolve_tenant
from riskmap.api.fields import Text
from riskmap.api.permissions import principal_of, require
from riskmap.api.requests import if_match_of, photo_upload, reason_of
from riskmap.api.routers import checkin
from riskmap.clock import LOCAL_ZONE
from riskmap.clock import now as clock_now
from riskmap.errors import InputError, RiskmapError
from riskmap.hazards.workflow import Actor
from riskmap.inspections import store as ins
from riskmap.inspections.occurrences import STATES, Occurrence, Shutdown
from riskmap.inspections.records import CHECK_STATUS, CheckRecord
from riskmap.inspections.tasks import Task, is_assigned
from riskmap.people import Principal
from riskmap.store import accounts
from riskmap.store import scope as data_scope
from riskmap.store.history import parse_moment

MAX_ID = 200
ENTERPRISE = Query(None, max_length=MAX_ID, description="企业名称 / enterprise")
MOMENT = Query(None, max_length=40, description="ISO 8601 时刻（无时区为北京时间）/ a moment (Beijing without offset)")
_ERRORS = {404: {"description": "企业或对象不存在 / no such enterprise or item"},
           422: {"description": "输入有误 / invalid input"}}
_WRITE_ERRORS = {**_ERRORS, 401: {"description": "需要登录或令牌 / sign-in or a token is required"},
                 403: {"description": "无此权限 / not allowed for this account"}}


# ---------------------------------------------------------------------------------------------- answers


class AssigneeOut(BaseModel):
    """Who checks, with the national workType and taskNum."""

    kind: str = Field(..., description="post | department | person | role")
    value: str | None
    work_type: int = Field(..., description="workType 0 日常, 1 主要负责人, 2 技术负责人, 3 操作负责人")
    task_num: int | None = Field(None, description="taskNum（包保任务序号）")


class TaskOut(BaseModel):
    """One inspection task; `row_version` is its ETag for edits."""

    id: int
    key: str
    unit_id: str
    title: str
    items: list[str]
    cadence: dict[str, Any]
    cadence_label: str
    national: dict[str, Any] = Field(..., description="国家任务字段 / the national task fields")
    assignee: AssigneeOut
    starts_on: date
    event_id: str | None
    control_index: int | None
    control: str | None
    control_class: str | None
    tier: str | None
    fid: str | None
    active: bool
    row_version: int


class TaskList(BaseModel):
    """GET /api/inspections/tasks."""

    enterprise: str
    count: int
    items: list[TaskOut]


class Generated(BaseModel):
    """What generating tasks from the ledger did."""

    enterprise: str
    created: int
    kept: int
    retired: int
    restored: int
    updated: int = Field(..., description="管控措施的内容随台账更新的任务 / tasks whose control measure text followed "
                                          "the ledger")
    tasks: int


class OccurrenceOut(BaseModel):
    """A due window of a task and its state (due, done, missed, suspended, upcoming)."""

    task_id: int | None
    unit_id: str
    title: str
    start: datetime
    end: datetime
    state: str
    state_zh: str
    record_id: int | None
    late: bool
    shutdown_id: int | None


class Occurrences(BaseModel):
    """GET /api/inspections/occurrences: the windows of [start, end) in Beijing time."""

    enterprise: str
    start: datetime
    end: datetime
    counts: dict[str, int]
    items: list[OccurrenceOut]


class ShutdownOut(BaseModel):
    """A 停用/检修 record."""

    id: int | None
    unit_id: str
    kind: str
    starts_at: datetime
    ends_at: datetime | None
    reason: str


class ShutdownList(BaseModel):
    """GET /api/inspections/shutdowns."""

    enterprise: str
    items: list[ShutdownOut]


class CheckpointOut(BaseModel):
    """A checkpoint; `token` and `path` only in the answer that issued it (only the hash is stored)."""

    id: int
    unit_id: str
    issued_at: datetime
    issued_by: str | None
    retired_at: datetime | None = None
    unit_name: str | None = None
    token: str | None = None
    path: str | None = None


class CheckpointList(BaseModel):
    """GET /api/inspections/checkpoints (no tokens)."""

    enterprise: str
    items: list[CheckpointOut]


class DueHere(BaseModel):
    """A check due at a checkpoint now, with its checklist."""

    task: TaskOut
    occurrence: OccurrenceOut


class CheckpointView(BaseModel):
    """GET /c/{token}: the unit of a scanned plate and the checks due there now."""

    enterprise: str
    unit_id: str
    unit_name: str | None
    checkpoint_id: int
    due: list[DueHere]


class ItemOut(BaseModel):
    """The answer to one checklist item."""

    item: str
    result: str
    note: str | None


class RecordOut(BaseModel):
    """A saved check record (never edited; a correction names the record it corrects)."""

    id: int
    task_id: int
    window_start: datetime
    window_end: datetime
    checked_at: datetime
    recorded_at: datetime | None
    person: str
    account_id: int | None
    device: str | None
    items: list[ItemOut]
    check_status: int = Field(..., description="checkStatus 0 正常, 1 发现隐患, 2 未检查, 3 其他")
    check_status_zh: str
    late: bool
    note: str | None
    corrects: int | None


class RecordList(BaseModel):
    """GET /api/inspections/records, newest first."""

    enterprise: str
    count: int
    items: list[RecordOut]


class RecordSaved(BaseModel):
    """POST /api/inspections/records: the record, a pre-filled hidden-hazard draft per failed item and the hazards
    reported for them in the record's own transaction (none without the permission "hazard_report")."""

    enterprise: str
    record: RecordOut
    hazard_drafts: list[dict[str, Any]]
    hazards: list[str] = Field(default_factory=list, description="为不合格项上报的隐患编号 / the hazards reported")


class PhotoOut(BaseModel):
    """A photo of one answered item; the picture itself (without EXIF) is at `url`. `hazard_id`: the hidden hazard
    the failed item opened, which has the same photo as its "before" photo."""

    id: int
    record_id: int
    item: int = Field(..., description="检查项序号（从 1 起）/ the checklist item, from 1")
    media_type: str
    width: int
    height: int
    size: int
    sha256: str
    gps: dict[str, float] | None = Field(None, description="照片 EXIF 中的位置 / the EXIF location")
    taken_at: str | None
    uploaded_at: datetime
    uploaded_by: str | None
    hazard_id: str | None
    url: str


class PhotoList(BaseModel):
    """GET /api/inspections/records/{id}/photos."""

    enterprise: str
    record_id: int
    items: list[PhotoOut]


class NationalExport(BaseModel):
    """The national 隐患排查任务, 隐患排查记录 and 停用/检修记录 rows (canonical; per-platform adapters add more)."""

    enterprise: str
    tasks: list[dict[str, Any]]
    records: list[dict[str, Any]]
    stops: list[dict[str, Any]]


# ---------------------------------------------------------------------------------------------- requests


class GenerateIn(BaseModel):
    """Generate tasks from the current ledger's control measures; `starts_on` defaults to today (Beijing)."""

    model_config = ConfigDict(extra="forbid")

    starts_on: date | None = None


class AssigneeIn(BaseModel):
    """Who checks."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["post", "department", "person", "role"]
    value: Text | None = Field(None, max_length=200)
    work_type: StrictInt = Field(0, ge=0, le=3)
    task_num: StrictInt | None = Field(None, ge=1, le=10)


class TaskPatch(BaseModel):
    """What to change in a task; only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(None, max_length=200)
    items: list[Text] | None = Field(None, max_length=50)
    cadence: dict[str, Any] | None = None
    assignee: AssigneeIn | None = None
    fid: Text | None = Field(None, max_length=MAX_ID)
    active: StrictBool | None = None
    starts_on: date | None = None


class ShutdownIn(BaseModel):
    """A 停用/检修 of a unit (moments without an offset are Beijing time)."""

    model_config = ConfigDict(extra="forbid")

    unit_id: Text = Field(..., min_length=1, max_length=MAX_ID)
    kind: Literal["maintenance", "shutdown"] = "maintenance"
    starts_at: datetime
    ends_at: datetime | None = None
    reason: Text = Field(..., min_length=1, max_length=500)


class IssueIn(BaseModel):
    """Issue checkpoints: the units named (default: every post and piece of equipment without one); `reissue`
    replaces a unit's current code (its old plate stops working)."""

    model_config = ConfigDict(extra="forbid")

    unit_ids: list[Text] | None = Field(None, max_length=10000)
    reissue: StrictBool = False


class AnswerIn(BaseModel):
    """The answer to one item, by its text or 1-based number."""

    model_config = ConfigDict(extra="forbid")

    item: Text | StrictInt
    result: Literal["pass", "fail", "na"]
    note: Text | None = Field(None, max_length=1000)


class RecordIn(BaseModel):
    """A check of one task: the answers; when (default now; a window already ended is saved as late); the window
    (default the one open then); the device; `corrects` names the record this one corrects; `checkpoint` the token
    of the plate scanned."""

    model_config = ConfigDict(extra="forbid")

    task_id: StrictInt
    answers: list[AnswerIn] = Field(..., max_length=50)
    checked_at: datetime | None = None
    window_start: datetime | None = None
    device: Text | None = Field(None, max_length=200)
    note: Text | None = Field(None, max_length=1000)
    other: StrictBool = False
    corrects: StrictInt | None = None
    checkpoint: Text | None = Field(None, max_length=64)


# ---------------------------------------------------------------------------------------------- photos

PHOTO_FORM = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "PNG 或 JPEG 照片"}}}}}}


# ---------------------------------------------------------------------------------------------- shaping


def _aware(moment: datetime | None) -> datetime | None:
    """A moment as given: without an offset it is Beijing time."""
    if moment is None:
        return None
    return moment.replace(tzinfo=LOCAL_ZONE) if moment.tzinfo is None else moment


def _query_moment(text: str | None, what: str) -> datetime | None:
    """A moment of a query parameter (riskmap.store.history.parse_moment: Beijing time without an offset)."""
    if text is None:
        return None
    try:
        return parse_moment(text)
    except InputError as exc:
        raise InputError(f"参数 {what}：{exc.message}") from None


def task_out(task: Task) -> TaskOut:
    """A task as the API answers it."""
    a = task.assignee
    return TaskOut(id=task.id, key=task.key, unit_id=task.unit_code, title=task.title, items=task.items,
                   cadence=task.cadence.to_dict(), cadence_label=task.cadence.label,
                   national=task.cadence.national() | {"workType": a.work_type, "taskNum": a.task_num},
                   assignee=AssigneeOut(kind=a.kind, value=a.value, work_type=a.work_type, task_num=a.task_num),
                   starts_on=task.starts_on, event_id=task.event_code, control_index=task.control_index,
                   control=task.control_text, control_class=task.control_class, tier=task.tier, fid=task.fid,
                   active=task.active, row_version=task.row_version)


def _occurrence_out(o: Occurrence, tasks: dict[int, Task]) -> OccurrenceOut:
    return OccurrenceOut(task_id=o.task_id, unit_id=o.unit_code, title=tasks[o.task_id].title, start=o.start,
                         end=o.end, state=o.state, state_zh=STATES[o.state][0], record_id=o.record_id, late=o.late,
                         shutdown_id=o.shutdown_id)


def record_out(r: CheckRecord) -> RecordOut:
    """A record as the API answers it."""
    return RecordOut(id=r.id, task_id=r.task_id, window_start=r.window_start, window_end=r.window_end,
                     checked_at=r.checked_at, recorded_at=r.recorded_at, person=r.person, account_id=r.account_id,
                     device=r.device, items=[ItemOut(item=i.item, result=i.result, note=i.note) for i in r.items],
                     check_status=r.status, check_status_zh=CHECK_STATUS[r.status][0], late=r.late, note=r.note,
                     corrects=r.corrects)


def _shutdown_out(sd: Shutdown) -> ShutdownOut:
    return ShutdownOut(id=sd.id, unit_id=sd.unit_code, kind=sd.kind, starts_at=sd.starts_at, ends_at=sd.ends_at,
                       reason=sd.reason)


def _inspector(store, who: Principal) -> ins.Inspector:
    info = accounts.get_account(store, who.enterprise, who.account_id)
    return ins.Inspector(name=who.name, account_id=who.account_id, post=info.get("post"),
                         department=info.get("department"), roles=tuple(who.roles))


def _checkin_page(request: Request, t, token: str, info: dict) -> Response:
    """The phone's check-in page of a scanned plate: /login first (and back), then the checks due here now that
    are the signed-in person's."""
    try:
        who = principal_of(request)
    except RiskmapError:          # a session that expired or was signed out: sign in again
        who = None
    if who is None or who.enterprise != t.name:
        return checkin.login_redirect(token)
    now = clock_now()
    found, tasks = ins.due(t.store, t.name, now, now + timedelta(seconds=1), now=now, unit_id=info["unit_id"])
    inspector = _inspector(t.store, who)
    mine = [(tasks[o.task_id], o) for o in found if o.state == "due" and is_assigned(
        tasks[o.task_id], name=inspector.name, post=inspector.post, department=inspector.department,
        roles=inspector.roles)]
    unit = t.store.unit_record(t.name, info["unit_id"])
    return checkin.checkin_page(enterprise=t.name, token=token, unit_id=info["unit_id"],
                                unit_name=unit[0].name if unit else None, person=who.name, mine=mine,
                                others=sum(o.state == "due" for o in found) - len(mine),
                                can_inspect="inspect" in who.permissions)


def _near(text: str | None):
    """`near=lon,lat` (the phone's position), or None; InputError for anything else."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        lon = lat = float("nan")
    if len(parts) != 2 or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError("near 应为 经度,纬度 / near is lon,lat")
    return (lon, lat)


def _short_title(title: str, unit_name: str) -> str:
    """A task's title under its unit's heading: without the "unit name：" it starts with (said once, above)."""
    short = title.removeprefix(f"{unit_name}：").removeprefix(f"{unit_name}:").strip()
    return short or title


def _today_page(request: Request, enterprise: str | None, near: str | None) -> Response:
    """Today's checks of the signed-in person, in walking order (riskmap.inspections.route)."""
    from riskmap.inspections.route import route_order
    from riskmap.store.hazards import unit_locations

    t = resolve_tenant(request.app, enterprise)
    try:
        who = principal_of(request)
    except RiskmapError:
        who = None
    if who is None or who.enterprise != t.name:
        return RedirectResponse("/login?next=/inspections/today", status_code=303,
                                headers={"Cache-Control": "no-store"})
    start = _near(near)
    inspector = _inspector(t.store, who)
    first, last = ins.window_range("today")
    now = clock_now()
    found, tasks = ins.due(t.store, t.name, first, last, now=now, person=inspector)
    codes = {o.unit_code for o in found}
    places = {k: (p.x, p.y) for k, p in unit_locations(t.store, t.name, codes).items()}
    names = {u.id: u.name for u in t.store.units(t.name) if u.id in codes}
    start_from = "我的位置 / where I stand" if start is not None else ""
    if start is None:
        mine = [r for r in ins.records(t.store, t.name, since=first, limit=200)
                if r.account_id == who.account_id and tasks.get(r.task_id) is not None]
        if mine and tasks[mine[0].task_id].unit_code in places:
            code = tasks[mine[0].task_id].unit_code
            start, start_from = places[code], f"上次排查 / last check: {names.get(code, code)}"
    def by_unit(chosen) -> dict[str, list]:
        out: dict[str, list] = {}
        for o in chosen:
            out.setdefault(o.unit_code, []).append(o)
        return out

    def stop(code: str, found_here: list, metres=None) -> dict:
        """One place to walk to: the unit, the metres from the stop before, its checks (the soonest to close
        first)."""
        return {"unit_id": code, "unit_name": names.get(code, code), "metres": metres,
                "checks": [{"title": _short_title(tasks[o.task_id].title, names.get(code, code)),
                            "start": o.start.astimezone(LOCAL_ZONE),
                            "end": o.end.astimezone(LOCAL_ZONE)}
                           for o in sorted(found_here, key=lambda o: (o.end, o.start))]}

    open_now = by_unit(o for o in found if o.state == "due")
    ordered = route_order([(code, places.get(code)) for code in open_now], start)
    stops = [stop(code, open_now[code], metres) for code, metres in ordered]
    if not start_from and stops:
        start_from = f"第一站 / the first stop: {stops[0]['unit_name']}"
    upcoming = by_unit(sorted((o for o in found if o.state == "upcoming"), key=lambda o: o.start))
    later = [stop(code, found_here) for code, found_here in upcoming.items()]
    return checkin.today_page(enterprise=t.name, person=who.name, stops=stops, later=later,
                              done=sum(o.state == "done" for o in found),
                              missed=sum(o.state == "missed" for o in found), start_from=start_from or "—")


# ---------------------------------------------------------------------------------------------- routes


def make_router() -> APIRouter:
    """The inspection routes: /api/inspections/… and /c/{token}."""
    router = APIRouter(tags=["inspections"])
    api = "/api/inspections"

    @router.get(f"{api}/tasks", response_model=TaskList, responses=_ERRORS,
                summary="排查任务 / inspection tasks")
    def list_tasks(request: Request, enterprise: str | None = ENTERPRISE,
                   unit: str | None = Query(None, min_length=1, max_length=MAX_ID, description="单元编号 / unit id"),
                   all_: bool = Query(False, alias="all", description="含已停用任务 / include retired tasks")):
        t = resolve_tenant(request.app, enterprise)
        found = ins.tasks(t.store, t.name, unit_id=unit, active_only=not all_)
        return TaskList(enterprise=t.name, count=len(found), items=[task_out(x) for x in found])

    @router.post(f"{api}/generate", response_model=Generated, responses=_WRITE_ERRORS,
                 summary="按规则从台账的管控措施生成排查任务 / generate tasks from the ledger's control measures")
    def generate(request: Request, body: GenerateIn = Body(GenerateIn()), enterprise: str | None = ENTERPRISE,
                 who: Principal = Depends(require("ledger"))):
        t = resolve_tenant(request.app, enterprise)
        counts = ins.generate(t.store, t.name, starts_on=body.starts_on, author=who.author,
                              reason=reason_of(request))
        return Generated(enterprise=t.name, **counts)

    @router.get(f"{api}/tasks/{{task_id}}", response_model=TaskOut, responses=_ERRORS,
                summary="一个排查任务（ETag 为其版本）/ one task (its ETag is its row version)")
    def get_task(request: Request, response: Response, task_id: str, enterprise: str | None = ENTERPRISE):
        t = resolve_tenant(request.app, enterprise)
        found = ins.task(t.store, t.name, task_id)
        response.headers["ETag"] = f'"{found.row_version}"'
        return task_out(found)

    @router.patch(f"{api}/tasks/{{task_id}}", response_model=TaskOut,
                  responses={**_WRITE_ERRORS, 412: {"description": "任务已被他人修改 / changed meanwhile"},
                             428: {"description": "需要 If-Match / If-Match required"}},
                  summary="修改一个排查任务（需 If-Match）/ edit one task (If-Match required)")
    def patch_task(request: Request, response: Response, task_id: str, body: TaskPatch,
                   enterprise: str | None = ENTERPRISE, who: Principal = Depends(require("ledger"))):
        t = resolve_tenant(request.app, enterprise)
        changes = body.model_dump(exclude_unset=True)
        if not changes:
            raise InputError("没有要修改的字段 / nothing to change")
        if any(v is None for k, v in changes.items() if k != "fid"):
            raise InputError("只有 fid 可以置空 / only fid may be set to null")
        changed = ins.edit_task(t.store, t.name, task_id, changes, if_match=if_match_of(request),
                                author=who.author, reason=reason_of(request))
        response.headers["ETag"] = f'"{changed.row_version}"'
        return task_out(changed)

    @router.get(f"{api}/occurrences", response_model=Occurrences, responses=_ERRORS,
                summary="某时段的排查窗口及状态（按单元或人员）/ the due windows of today, this week or this month")
    def list_occurrences(request: Request, enterprise: str | None = ENTERPRISE,
                         window: Literal["today", "week", "month"] = Query("today"),
                         unit: str | None = Query(None, min_length=1, max_length=MAX_ID),
                         person: str | None = Query(None, min_length=1, max_length=64,
                                                    description="账户登录名：其应做的排查 / an account's login")):
        t = resolve_tenant(request.app, enterprise)
        start, end = ins.window_range(window)
        inspector = None
        if person is not None:
            info = accounts.get_account(t.store, t.name, person)
            inspector = ins.Inspector(info["name"], info["id"], info.get("post"), info.get("department"),
                                      tuple(info["roles"]))
        found, tasks = ins.due(t.store, t.name, start, end, unit_id=unit, person=inspector)
        counts = {s: 0 for s in STATES}
        for o in found:
            counts[o.state] += 1
        return Occurrences(enterprise=t.name, start=start, end=end, counts=counts,
                           items=[_occurrence_out(o, tasks) for o in found])

    @router.get(f"{api}/shutdowns", response_model=ShutdownList, responses=_ERRORS,
                summary="停用/检修记录 / shutdown and maintenance records")
    def list_shutdowns(request: Request, enterprise: str | None = ENTERPRISE):
        t = resolve_tenant(request.app, enterprise)
        return ShutdownList(enterprise=t.name, items=[_shutdown_out(s) for s in ins.shutdowns(t.store, t.name)])

    @router.post(f"{api}/shutdowns", response_model=ShutdownOut, status_code=201, responses=_WRITE_ERRORS,
                 summary="记录停用/检修（其间排查任务暂停）/ record a shutdown (its tasks are suspended)")
    def add_shutdown(request: Request, body: ShutdownIn, enterprise: str | None = ENTERPRISE,
                     who: Principal = Depends(require("ledger"))):
        t = resolve_tenant(request.app, enterprise)
        made = ins.add_shutdown(t.store, t.name, Shutdown(body.unit_id.strip(), _aware(body.starts_at),
                                                          _aware(body.ends_at), body.reason, kind=body.kind),
                                author=who.author)
        return _shutdown_out(made)

    @router.get(f"{api}/checkpoints", response_model=CheckpointList, responses=_ERRORS,
                summary="巡检点（不含令牌）/ checkpoints (without their codes)")
    def list_checkpoints(request: Request, enterprise: str | None = ENTERPRISE):
        t = resolve_tenant(request.app, enterprise)
        return CheckpointList(enterprise=t.name, items=[CheckpointOut(**c) for c in ins.checkpoints(t.store, t.name)])

    @router.post(f"{api}/checkpoints", response_model=CheckpointList, status_code=201, responses=_WRITE_ERRORS,
                 summary="签发或重新签发巡检点二维码（令牌只显示一次）/ issue or reissue checkpoint codes (shown once)")
    def issue_checkpoints(request: Request, body: IssueIn = Body(IssueIn()), enterprise: str | None = ENTERPRISE,
                          who: Principal = Depends(require("ledger"))):
        t = resolve_tenant(request.app, enterprise)
        made = ins.issue_checkpoints(t.store, t.name, body.unit_ids, reissue=body.reissue, author=who.author)
        return CheckpointList(enterprise=t.name, items=[CheckpointOut(**c) for c in made])

    @router.get("/c/{token}", response_model=CheckpointView,
                responses={**_ERRORS, 200: {"content": {"text/html": {}}, "description":
                           "JSON，或浏览器（Accept: text/html）的签到页 / JSON, or the check-in page for a browser"},
                           303: {"description": "浏览器未登录：转到 /login / a browser not signed in: to /login"}},
                summary="扫码：巡检点的单元及此刻应做的排查 / a scanned checkpoint: its unit and the checks due now")
    def scan(request: Request, token: str, enterprise: str | None = ENTERPRISE):
        page = checkin.wants_html(request.headers.get("accept"))
        with data_scope.service():      # whose plate it is: the service's own look-up (riskmap.store.scope)
            owner, info = ins.resolve_checkpoint(request.app.state.store(), token, enterprise=enterprise)
        t = resolve_tenant(request.app, owner)
        if page:
            return _checkin_page(request, t, token, info)
        now = clock_now()
        found, tasks = ins.due(t.store, t.name, now, now + timedelta(seconds=1), now=now,
                               unit_id=info["unit_id"])
        unit = t.store.unit_record(t.name, info["unit_id"])
        return CheckpointView(enterprise=t.name, unit_id=info["unit_id"], unit_name=unit[0].name if unit else None,
                              checkpoint_id=info["id"],
                              due=[DueHere(task=task_out(tasks[o.task_id]), occurrence=_occurrence_out(o, tasks))
                                   for o in found])

    @router.get("/inspections/today", response_class=HTMLResponse,
                responses={303: {"description": "未登录：转到 /login / not signed in: to /login"},
                           422: {"description": "near 有误 / bad near"}},
                summary="今天我的排查（手机页，按路线近的在前）/ today's checks of the signed-in inspector, nearest "
                        "next (a phone page)")
    def today(request: Request, enterprise: str | None = ENTERPRISE,
              near: str | None = Query(None, max_length=60, description="经度,纬度：当前位置 / lon,lat where you "
                                                                        "stand")):
        return _today_page(request, enterprise, near)

    @router.post(f"{api}/records", response_model=RecordSaved, status_code=201,
                 responses={**_WRITE_ERRORS, 409: {"description": "该窗口已有记录 / this window was checked"}},
                 summary="保存一次排查记录 / save a check")
    def save_record(request: Request, body: RecordIn, enterprise: str | None = ENTERPRISE,
                    who: Principal = Depends(require("inspect"))):
        t = resolve_tenant(request.app, enterprise)
        record, drafts = ins.record_check(
            t.store, t.name, body.task_id, [a.model_dump() for a in body.answers],
            inspector=_inspector(t.store, who), checked_at=_aware(body.checked_at),
            window_start=_aware(body.window_start), device=body.device, note=body.note, other=body.other,
            corrects=body.corrects, checkpoint_token=body.checkpoint,
            reporter=Actor(who.name, who.account_id, who.permissions))
        return RecordSaved(enterprise=t.name, record=record_out(record), hazard_drafts=drafts,
                           hazards=[d["hazard_id"] for d in drafts if "hazard_id" in d])

    @router.get(f"{api}/records", response_model=RecordList, responses=_ERRORS,
                summary="排查记录，新的在前 / check records, newest first")
    def list_records(request: Request, enterprise: str | None = ENTERPRISE,
                     task: str | None = Query(None, max_length=20), since: str | None = MOMENT,
                     until: str | None = MOMENT, limit: int = Query(200, ge=1, le=5000)):
        t = resolve_tenant(request.app, enterprise)
        found = ins.records(t.store, t.name, task_id=task, since=_query_moment(since, "since"),
                            until=_query_moment(until, "until"), limit=limit)
        return RecordList(enterprise=t.name, count=len(found), items=[record_out(r) for r in found])

    photo_routes(router, api)

    @router.get(f"{api}/export", response_model=NationalExport, responses=_ERRORS,
                summary="国家接口格式的任务、记录和停用/检修记录 / national tasks, records and shutdowns")
    def export(request: Request, enterprise: str | None = ENTERPRISE, since: str | None = MOMENT):
        t = resolve_tenant(request.app, enterprise)
        return NationalExport(enterprise=t.name, **ins.national_export(t.store, t.name,
                                                                       since=_query_moment(since, "since")))

    return router


def photo_routes(router: APIRouter, api: str) -> None:
    """The photos of check records: upload one per item (permission "inspect"), list them, get one without EXIF."""

    @router.post(f"{api}/records/{{record_id}}/photos/{{item}}", response_model=PhotoOut, status_code=201,
                 responses={**_WRITE_ERRORS, 409: {"description": "该检查项已有照片 / the item has a photo"},
                            413: {"description": "照片过大 / too large"},
                            415: {"description": "需要 multipart/form-data / multipart required"}},
                 openapi_extra={"requestBody": PHOTO_FORM},
                 summary="上传一个检查项的照片（PNG/JPEG；不合格项的照片同时加入其隐患）/ upload an item's photo "
                         "(a failed item's also goes to its hazard)")
    async def upload_photo(request: Request, record_id: str, item: str, enterprise: str | None = ENTERPRISE,
                           who: Principal = Depends(require("inspect"))):
        settings = request.app.state.settings
        data = await photo_upload(request, settings.max_photo_bytes)
        t = resolve_tenant(request.app, enterprise)
        made = await run_in_threadpool(
            ins.add_photo, t.store, t.name, record_id, item, data, who=Actor(who.name, who.account_id,
                                                                             who.permissions),
            folder=settings.media_folder(), max_bytes=settings.max_photo_bytes, max_pixels=settings.max_photo_pixels)
        return JSONResponse(PhotoOut(**made).model_dump(mode="json"), status_code=201)

    @router.get(f"{api}/records/{{record_id}}/photos", response_model=PhotoList, responses=_ERRORS,
                summary="一条排查记录的照片 / the photos of a check record")
    def list_photos(request: Request, record_id: str, enterprise: str | None = ENTERPRISE):
        t = resolve_tenant(request.app, enterprise)
        found = ins.record_photos(t.store, t.name, record_id)
        number = int(record_id)            # record_photos answered: it is a record's id
        return PhotoList(enterprise=t.name, record_id=number, items=[PhotoOut(**p) for p in found])

    @router.get(f"{api}/records/{{record_id}}/photos/{{item}}", response_class=Response,
                responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, **_ERRORS},
                summary="检查项的照片（不含 EXIF）/ an item's photo (without EXIF)")
    def get_photo(request: Request, record_id: str, item: str, enterprise: str | None = ENTERPRISE) -> Response:
        t = resolve_tenant(request.app, enterprise)
        data, media_type = ins.photo_file(t.store, t.name, record_id, item, request.app.state.settings.media_folder())
        return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600",
                                                               "Content-Disposition": "inline"})
