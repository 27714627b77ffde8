"""Organisations over HTTP: an enterprise's profile (read; written by its administrator), the parks, the GB/T 2260
divisions (reference data), and the supervision records (挂牌督办) a regulator writes on major hazards of the
enterprises in its scope.

`GET /api/orgs` answers the organisations of the signed-in account's scope (riskmap.store.orgs.readable_enterprise_ids,
the one answer): a regulator's enterprises and parks, an enterprise account's own enterprise, every one for the
service's machine account; no ?enterprise= is needed (nobody signed in, while reading is open: the enterprise the
request names, as any read).

Adding and moving enterprises, parks and regulators is the service operator's work: `riskmap org …`, or over
HTTP with an operator's account (riskmap.api.routers.admin, permission "administer"); no enterprise account has a
right over other enterprises, and a regulator's accounts read and write only supervision records
(../shared/HAZARDS.md §6). An operator's account reads no enterprise's data: /api/orgs answers it no enterprise.

riskmap.store.orgs does the work; the handlers check input and shape answers.
"""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from riskmap.api.deps import Tenant, get_tenant, resolve_tenant
from riskmap.api.permissions import across_enterprises, principal_of, require
from riskmap.errors import ForbiddenError
from riskmap.orgs import divisions
from riskmap.people import Principal
from riskmap.store import orgs
from riskmap.store import scope as data_scope

_ERRORS = {401: {"description": "需要登录或令牌 / sign-in or a token is required"},
           403: {"description": "无权操作 / not allowed"},
           404: {"description": "企业、园区或记录不存在 / no such enterprise, park or record"},
           422: {"description": "输入有误 / invalid input"}}


class ProfileOut(BaseModel):
    """An enterprise's profile (fields null when it has none yet)."""

    name: str
    credit_code: str | None = Field(None, description="统一社会信用代码 / unified social credit code")
    hazchem_code: str | None = Field(None, description="危险化学品登记编号 / hazardous-chemicals registration code")
    industry: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    division_code: str | None = Field(None, description="行政区划代码（GB/T 2260）/ division code")
    division: str | None = None
    park: str | None = None


class ProfileIn(BaseModel):
    """An enterprise's profile as its administrator writes it."""

    model_config = ConfigDict(extra="forbid")

    division_code: str = Field(..., min_length=6, max_length=6, pattern=r"^\d{6}$",
                               description="行政区划代码（GB/T 2260）/ division code")
    credit_code: str | None = Field(None, max_length=18)
    hazchem_code: str | None = Field(None, max_length=9)
    industry: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=500)
    lon: float | None = Field(None, ge=73, le=136)
    lat: float | None = Field(None, ge=3, le=54)
    park: str | None = Field(None, max_length=200)


class ParkOut(BaseModel):
    """A chemical park."""

    id: int
    name: str
    division_code: str
    division: str


class DivisionOut(BaseModel):
    """A GB/T 2260 division."""

    code: str
    name: str
    level: str
    parent: str | None = None


class SupervisionOut(BaseModel):
    """A supervision record (挂牌督办) of a major hazard."""

    id: int
    enterprise: str
    hazard_id: int
    hazard_uid: str
    hazard_name: str
    regulator: str
    level: str = Field(..., description="督办级别 province | city | county")
    document_number: str = Field(..., description="督办文号 / document number")
    deadline: date = Field(..., description="整改期限 / deadline")
    status: str = Field(..., description="listed（挂牌督办中）| lifted（已摘牌）")
    status_zh: str
    note: str | None = None
    created_at: datetime
    created_by: str | None = None
    updated_at: datetime


class SupervisionIn(BaseModel):
    """A new supervision record of a major open hazard of the enterprise."""

    model_config = ConfigDict(extra="forbid")

    hazard_id: int = Field(..., ge=1, le=2**31 - 1, description="隐患编号 / the hazard's id")
    level: str = Field(..., max_length=16, description="督办级别 province | city | county")
    document_number: str = Field(..., min_length=1, max_length=100, description="督办文号 / document number")
    deadline: date = Field(..., description="整改期限 / deadline")
    note: str | None = Field(None, max_length=2000)


class StatusIn(BaseModel):
    """Lift a supervision record (or list it again)."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(..., max_length=16, description="listed | lifted")
    note: str | None = Field(None, max_length=2000)


class RegulatorOut(BaseModel):
    """A regulator: of a division (level province, city, county) or of a park (level park)."""

    id: int
    name: str
    level: str
    division_code: str | None = None
    division: str | None = None
    park: str | None = None


class EnterpriseOut(ProfileOut):
    """An enterprise of the scope with its profile and data version."""

    id: int
    data_version: int


class InScope(BaseModel):
    """GET /api/orgs: the organisations the signed-in account may read."""

    account: str = Field(..., description="regulator | enterprise | operator | service | anonymous（未登录，读取开放"
                                          "时：所请求的企业 / nobody signed in while reading is open: the enterprise "
                                          "asked for）")
    regulator: RegulatorOut | None = None
    enterprises: list[EnterpriseOut]
    parks: list[ParkOut]


def _regulator_of(who: Principal | None) -> str:
    if who is None or who.regulator is None:
        raise ForbiddenError("只有监管账户可以挂牌督办 / only a regulator's account puts hazards under supervision")
    return who.regulator


def make_router() -> APIRouter:
    """/api/orgs and /api/supervisions."""
    router = APIRouter(tags=["organisations"], responses=_ERRORS)

    @router.get("/api/orgs", summary="账户可见的组织：监管机构的辖区企业和园区，企业账户的本企业 / the organisations "
                "in the account's scope: a regulator's enterprises and parks, an enterprise account's own",
                response_model=InScope)
    @across_enterprises
    def in_scope(request: Request) -> dict:
        who = principal_of(request)
        store = request.app.state.store()
        if who is None:                     # reading open, nobody signed in: the request's enterprise, as any read
            tenant = resolve_tenant(request.app, request.query_params.get("enterprise"))
            ids = frozenset({int(store.enterprise(tenant.name, create=False).id)})
            return {"account": "anonymous", **orgs.organisations_in_scope(store, None, ids)}
        with data_scope.service():          # which enterprises the account may read is read across them
            ids = orgs.readable_enterprise_ids(store, who.account_id)
        data_scope.narrow(data_scope.ALL if ids is None else ids)     # and only those are read (PostGIS: enforced)
        found = orgs.organisations_in_scope(store, who.account_id, ids)
        kind = ("regulator" if who.regulator is not None else "enterprise" if who.enterprise is not None
                else "operator" if who.operator else "service")
        return {"account": kind, **found}

    @router.get("/api/orgs/profile", summary="企业档案 / the enterprise's profile", response_model=ProfileOut)
    def get_profile(tenant: Tenant = Depends(get_tenant)) -> dict:
        return orgs.profile(tenant.store, tenant.name)

    @router.put("/api/orgs/profile", summary="修改企业档案 / write the enterprise's profile", response_model=ProfileOut)
    async def put_profile(body: ProfileIn = Body(...), tenant: Tenant = Depends(get_tenant),
                          who: Principal = Depends(require("settings"))) -> dict:
        return await run_in_threadpool(lambda: orgs.set_profile(
            tenant.store, tenant.name, by=who.author if who else None, **body.model_dump()))

    @router.get("/api/orgs/parks", summary="化工园区 / the chemical parks", response_model=list[ParkOut])
    def list_parks(request: Request) -> list[dict]:
        return orgs.list_parks(request.app.state.store())

    @router.get("/api/orgs/divisions", summary="行政区划（GB/T 2260）/ the divisions (GB/T 2260)",
                response_model=list[DivisionOut])
    def list_divisions(parent: str | None = Query(None, min_length=6, max_length=6, pattern=r"^\d{6}$",
                                                  description="上级区划代码（空：各省）/ the division above "
                                                              "(none: the provinces)")) -> list[dict]:
        if parent is not None:
            divisions.division(parent)
        return [d.__dict__ for d in divisions.children(parent)]

    @router.get("/api/supervisions", summary="企业的挂牌督办记录 / the enterprise's supervision records",
                response_model=list[SupervisionOut])
    def list_supervisions(tenant: Tenant = Depends(get_tenant)) -> list[dict]:
        ent = tenant.store.enterprise(tenant.name, create=False)
        return orgs.supervisions(tenant.store, frozenset({int(ent.id)}))

    @router.post("/api/supervisions", summary="挂牌督办重大隐患 / put a major hazard under supervision",
                 response_model=SupervisionOut, status_code=201)
    async def add_supervision(body: SupervisionIn = Body(...), tenant: Tenant = Depends(get_tenant),
                              who: Principal = Depends(require("supervise"))) -> dict:
        regulator = _regulator_of(who)
        return await run_in_threadpool(lambda: orgs.add_supervision(
            tenant.store, regulator, tenant.name, body.hazard_id, by=who.author, level=body.level,
            document_number=body.document_number, deadline=body.deadline, note=body.note))

    @router.post("/api/supervisions/{supervision_id}/status", summary="摘牌或重新挂牌 / lift or list again",
                 response_model=SupervisionOut)
    async def set_status(body: StatusIn = Body(...), tenant: Tenant = Depends(get_tenant),
                         who: Principal = Depends(require("supervise")),
                         supervision_id: int = Path(..., ge=1, le=2**31 - 1)) -> dict:
        regulator = _regulator_of(who)
        return await run_in_threadpool(lambda: orgs.set_supervision_status(
            tenant.store, regulator, tenant.name, supervision_id, body.status, by=who.author, note=body.note))

    return router
