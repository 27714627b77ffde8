"""Hazard statistics over HTTP: `/api/hazards/statistics` (JSON) and `/hazards/statistics` (the page), with the
`from`/`to` filter on the registration date (Beijing). The figures are riskmap.hazards.statistics' (published
hazards only: anonymous reports awaiting confirmation are not counted), read by riskmap.store.hazards.statistics;
the page is riskmap.render.hazardstats'. Registered ahead of the hazards router, whose /api/hazards/{hazard_id}
would otherwise take the path.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from riskmap import clock
from riskmap.api.deps import resolve_tenant
from riskmap.errors import InputError
from riskmap.store import hazards as store_hazards

ENTERPRISE = Query(None, max_length=200, description="企业名称 / enterprise")
FROM = Query(None, alias="from", max_length=40,
             description="登记日期起（含，北京时间，YYYY-MM-DD 或 ISO 8601 时刻）/ registered on or after (a Beijing "
                         "date, or an ISO 8601 moment)")
TO = Query(None, alias="to", max_length=40,
           description="登记日期止（含，北京时间，YYYY-MM-DD 或 ISO 8601 时刻）/ registered on or before (a Beijing "
                       "date, or an ISO 8601 moment)")
BAD = {404: {"description": "企业不存在 / no such enterprise"},
       422: {"description": "日期有误（或止早于起）/ a bad date, or a range that ends before it starts"}}


class StateCount(BaseModel):
    """Hazards in one state."""

    key: str
    label: str
    count: int


class GroupCount(BaseModel):
    """One row of a breakdown: all, open, overdue, major and accepted hazards of the group."""

    key: str = Field(..., description="代码或名称（空：未填写）/ the code or name ('' when not given)")
    label: str
    total: int
    open: int
    overdue: int
    major: int
    done: int


class MonthCount(BaseModel):
    """One Beijing month: registered (of them major), accepted (of them after the deadline)."""

    month: str = Field(..., description="YYYY-MM（北京时间）")
    registered: int
    major: int
    accepted: int
    accepted_late: int


class HazardStatistics(BaseModel):
    """GET /api/hazards/statistics: the published hazards' figures (open and overdue as of `as_of`) and breakdowns;
    rejected reports are counted in `rejected` only."""

    enterprise: str
    from_: str | None = Field(None, alias="from")
    to: str | None
    as_of: str
    total: int
    open: int
    overdue: int
    major_open: int
    major_overdue: int
    done: int
    done_on_time: int
    on_time_rate: float | None = Field(None, description="按期验收率（0–1）/ share accepted by the deadline")
    rejected: int
    by_state: list[StateCount]
    by_level: list[GroupCount]
    by_source: list[GroupCount]
    by_type: list[GroupCount]
    by_department: list[GroupCount]
    by_responsible: list[GroupCount]
    by_month: list[MonthCount]


def _day(text: str | None) -> date | None:
    """A Beijing date from a date or an ISO 8601 moment, with the moments' rules (riskmap.store.history.
    parse_moment: 422 before 1990 or in the future); a bare date may be today."""
    from riskmap.store.history import parse_moment

    if text is None:
        return None
    raw = text.strip()
    if len(raw) == 10 and raw[4:5] == "-" and raw[7:8] == "-" and raw.isascii():
        try:
            found = date.fromisoformat(raw)
        except ValueError:
            found = None
        if found is not None:
            if found < clock.EARLIEST.date():
                raise InputError(f"日期 {raw} 早于 1990 年 / the date {raw} is before 1990")
            if found > clock.today():
                raise InputError(f"日期 {raw} 在未来 / the date {raw} is in the future")
            return found
    return clock.local_date(parse_moment(raw))


def _days(date_from: str | None, date_to: str | None) -> tuple[date | None, date | None]:
    """The range's Beijing dates."""
    return _day(date_from), _day(date_to)


def make_router() -> APIRouter:
    """The statistics routes (see the module docstring)."""
    router = APIRouter(tags=["hazards"])

    @router.get("/api/hazards/statistics", response_model=HazardStatistics, response_model_by_alias=True,
                summary="隐患统计 / hazard statistics", responses=BAD)
    def hazard_statistics(request: Request, enterprise: str | None = ENTERPRISE, date_from: str | None = FROM,
                          date_to: str | None = TO) -> dict:
        tenant = resolve_tenant(request.app, enterprise)
        return store_hazards.statistics(tenant.store, tenant.name, *_days(date_from, date_to))

    @router.get("/hazards/statistics", response_class=HTMLResponse, summary="隐患统计页 / the hazard statistics page",
                responses={200: {"content": {"text/html": {}}, "description": "统计页 / the page"}, **BAD})
    def hazard_statistics_page(request: Request, enterprise: str | None = ENTERPRISE,
                               date_from: str | None = FROM, date_to: str | None = TO,
                               lang: str = Query("zh", pattern="^(zh|en)$", description="zh 或 en")) -> HTMLResponse:
        from riskmap.api.routers.static import app_url
        from riskmap.render.hazardstats import statistics_page

        tenant = resolve_tenant(request.app, enterprise)
        found = store_hazards.statistics(tenant.store, tenant.name, *_days(date_from, date_to))
        return HTMLResponse(statistics_page(found, lang, app_url("favicon.svg")),
                            headers={"Cache-Control": "no-cache"})

    return router
